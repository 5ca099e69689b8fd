//! Joint keys through the binary (fifth embodiment): the issuer's init,
//! other parties' partials, the user's finish, d0 released once (also under
//! SIGKILL), chained partial signatures equal to the token's own signature
//! and verified by OpenSSL against the certificate the CA issued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::joint::*;
use common::*;

#[test]
fn three_and_five_parties_make_a_key_openssl_verifies() {
    if !have_openssl() {
        return;
    }
    for parties in [3, 5] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let chain = joint_key(dir, parties, &[]);
        std::fs::write(dir.join("contract"), b"we all agree").unwrap();
        let last = chain_sign(dir, &chain, "contract");
        ok(
            dir,
            &words![
                "joint verify --key j.pem --in",
                &last,
                "--message contract --signature-out chain.sig"
            ],
        );
        // The chain is the token's own signature, byte for byte, and OpenSSL verifies it.
        sym!(
            dir,
            "token sign --token u.tok --slot j --in contract --out token.sig"
        );
        assert_eq!(
            std::fs::read(dir.join("chain.sig")).unwrap(),
            std::fs::read(dir.join("token.sig")).unwrap()
        );
        openssl(
            dir,
            &words!["dgst -sha256 -verify j.pem -signature chain.sig contract"],
        );

        // A wrong partial anywhere in the chain is caught by the check with e.
        sym!(dir, "joint new-partial --bits 2048 --out wrong.partial");
        let mut bad = chain.clone();
        bad[parties / 2] = "wrong.partial".into();
        let last = chain_sign(dir, &bad, "contract");
        fails(
            dir,
            &words![
                "joint verify --key j.pem --in",
                &last,
                "--message",
                "contract"
            ],
            4,
            "partial in the chain is wrong",
        );
        // A chain missing a party does not verify either.
        let last = chain_sign(dir, &chain[1..], "contract");
        fails(
            dir,
            &words![
                "joint verify --key j.pem --in",
                &last,
                "--message",
                "contract"
            ],
            4,
            "",
        );
    }
}

#[test]
fn the_ca_certifies_a_joint_key_and_openssl_verifies_against_the_certificate() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "ca init --data ca --algorithm rsa-2048");
    local_station_vets(dir, "ca");
    sym!(dir, "ca certificate --data ca --out root.pem");
    new_issuer(dir, "st");
    // The token trusts the station before its first key; d0 is released
    // before the station certifies the joint key.
    let full = joint_key(dir, 3, &["st.pem"]);
    // The token attests the key as joint, not generated: nobody holds it
    // whole, but its share d0 could leave once (docs/joint-keys.md).
    sym!(
        dir,
        "token attest --token u.tok --slot j --nonce 00 --out j.att.json"
    );
    let attestation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("j.att.json")).unwrap()).unwrap();
    assert_eq!(attestation["origin"]["kind"], "joint", "{attestation}");
    assert_eq!(attestation["exportable"], false);
    // The joint key is certified like any key made in the token (attested:
    // the token registers its device key first).
    sym!(dir, "token register --token u.tok --ca local:ca");
    let issued = ok(dir, &words!["--json issue --on-token --ca local:ca --ca-cert root.pem --issuer st --token u.tok --slot j --identity", ["CN=Joint Alice"], "--out", "j.crt"],
    )
    .json();
    openssl(dir, &["verify", "-CAfile", "root.pem", "j.crt"]);
    fig19_check_through_the_mailbox(dir, &full);
    joint_key_evidence(dir, issued["fingerprint"].as_str().unwrap());
    openssl(dir, &words!["x509 -in j.crt -pubkey -noout -out cert.pub"]);
    std::fs::write(dir.join("doc"), b"certified joint signature").unwrap();
    let last = chain_sign(dir, &full, "doc");
    ok(
        dir,
        &words![
            "joint verify --key j.pem --in",
            &last,
            "--message",
            "doc",
            "--signature-out",
            "doc.sig"
        ],
    );
    openssl(
        dir,
        &words!["dgst -sha256 -verify cert.pub -signature doc.sig doc"],
    );

    // FIG. 20: the token is lost; a new one gets the same key back from the
    // parties' partials, and the old certificate verifies its signatures.
    sym!(dir, "token init --token new.tok");
    let names = roster(3);
    signed_form(dir, &full, &names, "new.tok", "form1.json");
    sym!(
        dir,
        "joint reissue-begin --token new.tok --slot j --permission form1.json"
    );
    sym!(dir, "joint new-partial --bits 2048 --out wrong.partial");
    for p in [&full[0], &full[1], &"wrong.partial".to_string()] {
        ok(
            dir,
            &words![
                "joint reissue-enter --token new.tok --slot j --partial-file",
                p
            ],
        );
    }
    sym_fails!(
        dir,
        "joint reissue-finish --token new.tok --slot j",
        4,
        "partial is wrong"
    );
    assert!(
        sym!(dir, "--json token info --token new.tok").json()["slots"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    sym!(dir, "token init --token new2.tok");
    signed_form(dir, &full, &names, "new2.tok", "form2.json");
    sym!(
        dir,
        "joint reissue-begin --token new2.tok --slot j --permission form2.json"
    );
    for p in &full {
        ok(
            dir,
            &words![
                "joint reissue-enter --token new2.tok --slot j --partial-file",
                p
            ],
        );
    }
    sym!(dir, "joint reissue-finish --token new2.tok --slot j");
    sym!(
        dir,
        "token sign --token new2.tok --slot j --in doc --out new.sig"
    );
    openssl(
        dir,
        &words!["dgst -sha256 -verify cert.pub -signature new.sig doc"],
    );
}

#[test]
fn d0_leaves_once_even_when_killed_mid_release() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "token init --token u.tok");
    sym!(dir, "joint new-partial --bits 2048 --out p1");
    sym!(dir, "joint init --token u.tok --slot j --partial-file p1");
    // Not finished: nothing to release. This run also tells how long the
    // command takes to start and open the token on this machine.
    let to = age_identity(dir, "user.agekey");
    let started = std::time::Instant::now();
    sym_fails!(
        dir,
        "joint output-d0 --token u.tok --slot j --to {to} --out x.age",
        3,
        "finish"
    );
    // Kills fall in [0, 4 × that): before the token opens, during the
    // release, and after it, whatever the machine's speed.
    let window = (started.elapsed().as_micros() as u64 * 4).max(1000);
    sym!(dir, "joint finish --token u.tok --slot j");
    // SIGKILL at random points of the release, 40 times: whatever lands is
    // one and the same ciphertext.
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut rng = 0x9e3779b97f4a7c15u64;
    for i in 0..40 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let out = format!("d0-{i}.age");
        let mut child = std::process::Command::new(bin())
            .args([
                "joint",
                "output-d0",
                "--token",
                "u.tok",
                "--slot",
                "j",
                "--to",
                &to,
                "--out",
                &out,
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng % window));
        let _ = child.kill();
        let _ = child.wait();
        if let Ok(c) = std::fs::read(dir.join(&out)) {
            if !c.is_empty() && child.try_wait().map(|s| s.is_some()).unwrap_or(true) {
                seen.push(c);
            }
        }
    }
    sym!(
        dir,
        "joint output-d0 --token u.tok --slot j --to {to} --out final.age"
    );
    let last = std::fs::read(dir.join("final.age")).unwrap();
    eprintln!(
        "40 kills in a {window} µs window: {} left a complete release behind",
        seen.iter().filter(|c| c.len() == last.len()).count()
    );
    for c in &seen {
        // A file may be cut by the kill; any complete one is the released one.
        if c.len() == last.len() {
            assert_eq!(c, &last, "d0 was released twice");
        }
    }
    // Another recipient is refused, whatever happened before.
    let other = age_identity(dir, "other.agekey");
    fails(
        dir,
        &words![
            "joint output-d0 --token u.tok --slot j --to",
            &other,
            "--out",
            "y.age"
        ],
        5,
        "once",
    );
    assert!(!dir.join("y.age").exists());
    sym!(
        dir,
        "joint reveal-d0 --identity user.agekey --in final.age --out d0"
    );
    sym_fails!(
        dir,
        "joint reveal-d0 --identity other.agekey --in final.age --out d0b",
        3,
        "does not open"
    );
}

#[test]
fn bad_joint_inputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "token init --token u.tok");
    std::fs::write(dir.join("short"), "0102").unwrap();
    std::fs::write(dir.join("nothex"), "zz").unwrap();
    sym_fails!(
        dir,
        "joint init --token u.tok --slot j --partial-file short",
        3,
        "128"
    );
    sym_fails!(
        dir,
        "joint init --token u.tok --slot j --partial-file nothex",
        3,
        "hex"
    );
    sym_fails!(
        dir,
        "joint contribute --token u.tok --slot j --partial-file short",
        3,
        ""
    );
    sym_fails!(
        dir,
        "joint finish --token u.tok --slot j",
        3,
        "holds no key"
    );
    sym!(dir, "token generate --token u.tok --slot k");
    // An ordinary key is named as such, not as an empty slot.
    sym_fails!(
        dir,
        "joint finish --token u.tok --slot k",
        3,
        "holds an ordinary key, not a joint key"
    );
    sym!(dir, "joint new-partial --bits 2048 --out p");
    sym_fails!(
        dir,
        "joint init --token u.tok --slot k --partial-file p",
        5,
        "already holds a key"
    );
}

#[test]
fn no_partial_or_key_appears_in_any_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "token init --token u.tok");
    sym!(dir, "joint new-partial --bits 2048 --out p1");
    sym!(dir, "joint new-partial --bits 2048 --out p2");
    for f in ["n1", "n2"] {
        ok(dir, &words!["joint new-partial --out", f]);
    }
    let to = age_identity(dir, "user.agekey");
    let to_new = age_identity(dir, "new.agekey");
    let j = ["--token", "u.tok", "--slot", "j"];
    let with = |args: &[&'static str]| -> Vec<&str> {
        let mut v = args.to_vec();
        v.extend(j);
        v
    };
    let steps: Vec<Vec<&str>> = vec![
        vec![
            "joint",
            "init",
            "--token",
            "u.tok",
            "--slot",
            "j",
            "--partial-file",
            "p1",
        ],
        vec![
            "joint",
            "contribute",
            "--token",
            "u.tok",
            "--slot",
            "j",
            "--partial-file",
            "p2",
        ],
        vec![
            "--json", "joint", "finish", "--token", "u.tok", "--slot", "j", "--out", "j.pem",
        ],
        vec![
            "joint",
            "output-d0",
            "--token",
            "u.tok",
            "--slot",
            "j",
            "--to",
            &to,
            "--out",
            "d0.age",
        ],
        vec![
            "joint",
            "reveal-d0",
            "--identity",
            "user.agekey",
            "--in",
            "d0.age",
            "--out",
            "d0",
        ],
        vec!["--json", "token", "info", "--token", "u.tok"],
        // FIG. 19: the check, every party signing, at trace level.
        with(&words!["joint check-begin --parties alice,p1,p2 --out check.json"]),
        vec![
            "joint",
            "chain-sign",
            "--in",
            "check.json",
            "--party",
            "alice",
            "--partial-file",
            "d0",
        ],
        vec![
            "joint",
            "chain-sign",
            "--in",
            "check.json",
            "--party",
            "p1",
            "--partial-file",
            "p1.corrected",
        ],
        vec![
            "joint",
            "chain-sign",
            "--in",
            "check.json",
            "--party",
            "p2",
            "--partial-file",
            "p2.corrected",
        ],
        vec!["--json", "joint", "chain-verify", "--in", "check.json"],
        // FIG. 21: rotation; the new partials and d0_NEW stay where they belong.
        with(&["joint", "rotate-begin"]),
        with(&words!["joint rotate-enter --party-index 0 --partial-file d0"]),
        with(&words!["joint rotate-enter --party-index 1 --partial-file p1.corrected --new-partial-file n1"]),
        with(&words!["--json joint rotate-enter --party-index 2 --partial-file p2.corrected --new-partial-file n2"]),
        with(&["--json", "joint", "rotate-commit", "--out", "jn.pem"]),
        vec![
            "joint",
            "output-d0",
            "--token",
            "u.tok",
            "--slot",
            "j",
            "--to",
            &to_new,
            "--out",
            "d0n.age",
        ],
        vec![
            "joint",
            "reveal-d0",
            "--identity",
            "new.agekey",
            "--in",
            "d0n.age",
            "--out",
            "d0n",
        ],
        vec!["--json", "token", "info", "--token", "u.tok"],
    ];
    let mut outputs = Vec::new();
    for args in &steps {
        let r = run_env(dir, args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        outputs.push(r);
    }
    let hex_of = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    let mut needles = Vec::new();
    let secrets = [
        "p1",
        "p2",
        "p1.corrected",
        "p2.corrected",
        "d0",
        "n1",
        "n2",
        "n1.corrected",
        "n2.corrected",
        "d0n",
    ];
    for f in secrets {
        let h = hex_of(f);
        add_encodings(&mut needles, f, &hex::decode(&h).unwrap());
    }
    for r in &outputs {
        scan("output", &r.stdout, &needles, true);
        scan("log", r.stderr.as_bytes(), &needles, true);
    }
    // Only the files that are meant to hold them do.
    for path in walk(dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if secrets.contains(&name.as_str())
            || name.ends_with(".agekey")
            || name.ends_with(".tok")
            || name.contains("sealing-key")
        {
            continue;
        }
        scan(&name, &std::fs::read(&path).unwrap(), &needles, true);
    }
}

/// FIG. 19 through the CA's mailbox: the check chain posted, each party
/// fetching, signing with its partial and putting it back, in turn.
fn fig19_check_through_the_mailbox(dir: &std::path::Path, partials: &[String]) {
    let names = roster(partials.len());
    ok(
        dir,
        &words![
            "joint check-begin --token u.tok --slot j --parties",
            &names.join(","),
            "--out",
            "check.json"
        ],
    );
    let id = sym!(dir, "joint mailbox-post --ca local:ca --in check.json")
        .text()
        .trim()
        .to_string();
    for (name, partial) in names.iter().zip(partials) {
        let mailbox = [
            "joint",
            "mailbox-get",
            "--ca",
            "local:ca",
            "--id",
            &id,
            "--out",
            "mine.json",
        ];
        ok(dir, &mailbox);
        ok(
            dir,
            &words![
                "joint chain-sign --in mine.json --party",
                name,
                "--partial-file",
                partial
            ],
        );
        sym!(
            dir,
            "joint mailbox-put --ca local:ca --id {id} --in mine.json"
        );
    }
}

/// The joint key's evidence bundle, from the data directory's CA as its
/// first admin, checked offline: the attested certificate and the FIG. 19
/// chain; a changed link is named.
fn joint_key_evidence(dir: &std::path::Path, key: &str) {
    let vkey = sym!(dir, "log key --ca local:ca").text();
    std::fs::write(dir.join("evidence-log.vkey"), vkey.trim()).unwrap();
    std::fs::copy(dir.join("root.pem"), dir.join("evidence-root.pem")).unwrap();
    sym!(dir, "evidence export --ca local:ca --credential ca/admin.token --key {key} --out j.evidence.json");
    let report = ok(dir, &evidence_verify_args("j.evidence.json")).json()["report"].clone();
    assert_eq!(
        report["certificates"][0]["subject"], "CN=Joint Alice",
        "{report}"
    );
    assert_eq!(
        report["attested_by"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    assert_eq!(report["joint_chains"][0][1], "check", "{report}");
    assert_eq!(report["joint_chains"][0][2], "complete", "{report}");
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("j.evidence.json")).unwrap()).unwrap();
    let mut chain: serde_json::Value =
        serde_json::from_str(bundle["joint_chains"][0].as_str().unwrap()).unwrap();
    let link = chain["links"][1]["value"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if link.starts_with('0') { "1" } else { "0" },
        &link[1..]
    );
    chain["links"][1]["value"] = flipped.into();
    bundle["joint_chains"][0] = chain.to_string().into();
    std::fs::write(dir.join("t.json"), bundle.to_string()).unwrap();
    let r = run(dir, &evidence_verify_args("t.json"));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("joint-key chain"), "{}", r.stderr);
}
