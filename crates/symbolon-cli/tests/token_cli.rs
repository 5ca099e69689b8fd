//! The token through the real binary, in process and through the agent, with
//! OpenSSL as the independent peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

const SCHEMES: [(&str, &str, &str); 6] = [
    ("pkcs1-sha256", "-sha256", ""),
    ("pkcs1-sha384", "-sha384", ""),
    ("pkcs1-sha512", "-sha512", ""),
    ("pss-sha256", "-sha256", "32"),
    ("pss-sha384", "-sha384", "48"),
    ("pss-sha512", "-sha512", "64"),
];

fn interop(dir: &std::path::Path, token: &[&str]) {
    std::fs::write(dir.join("msg"), b"the quick brown fox\n").unwrap();
    for (scheme, md, salt) in SCHEMES {
        let mut args = vec!["token", "sign"];
        args.extend_from_slice(token);
        args.extend_from_slice(&words![
            "--slot sig --scheme",
            scheme,
            "--in msg --out msg.sig"
        ]);
        ok(dir, &args);
        let mut v = vec!["dgst", md, "-verify", "sig.pub", "-signature", "msg.sig"];
        let saltopt = format!("rsa_pss_saltlen:{salt}");
        if !salt.is_empty() {
            v.extend_from_slice(&["-sigopt", "rsa_padding_mode:pss", "-sigopt", &saltopt]);
        }
        v.push("msg");
        assert!(
            String::from_utf8_lossy(&openssl(dir, &v)).contains("Verified OK"),
            "{scheme}"
        );
    }
    // A digest computed by OpenSSL, signed by the token.
    let digest = openssl(dir, &["dgst", "-sha384", "-binary", "msg"]);
    let mut args = vec!["token", "sign"];
    args.extend_from_slice(token);
    let hex = hex::encode(&digest);
    args.extend_from_slice(&words![
        "--slot sig --scheme pkcs1-sha384 --digest",
        &hex,
        "--out d.sig"
    ]);
    ok(dir, &args);
    openssl(
        dir,
        &words!["dgst -sha384 -verify sig.pub -signature d.sig msg"],
    );
    // OAEP-SHA256 by OpenSSL, decrypted inside the token.
    std::fs::write(dir.join("secret"), b"thirty-two bytes of key material").unwrap();
    openssl(
        dir,
        &words!["pkeyutl -encrypt -pubin -inkey sig.pub -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in secret -out secret.enc"],
    );
    let mut args = vec!["token", "decrypt"];
    args.extend_from_slice(token);
    args.extend_from_slice(&["--slot", "sig", "--in", "secret.enc"]);
    assert_eq!(ok(dir, &args).stdout, b"thirty-two bytes of key material");
}

/// aws-lc is built without its CPU-jitter sampler (docs/design.md §6): the
/// binary seeds its DRBG from getrandom and the CPU's RNG. A build that lost
/// `.cargo/config.toml`'s setting carries the sampler again and fails here.
#[test]
fn the_binary_seeds_aws_lc_without_the_jitter_sampler() {
    // grep -F: a byte search through a debug binary of some 300 MB.
    let has = |needle: &str| {
        let found = std::process::Command::new("grep")
            .args(["-q", "-F", "-a", needle, bin()])
            .status()
            .unwrap();
        assert!(matches!(found.code(), Some(0 | 1)), "grep failed: {found}");
        found.success()
    };
    assert!(
        has("CTR_DRBG_generate"),
        "symbols stripped: nothing to judge"
    );
    assert!(
        !has("jent_entropy_init"),
        "aws-lc built with jitter entropy"
    );
}

#[test]
fn openssl_verifies_token_signatures_and_encrypts_to_it() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    token_with_key(d.path());
    interop(d.path(), &["--token", "t.tok"]);
    let _agent = Agent::start(d.path(), "t.tok", "a.sock");
    interop(d.path(), &["--agent", "a.sock"]);
    interop(d.path(), &["--token", "agent:a.sock"]);
}

#[test]
fn agent_results_equal_in_process_results() {
    let d = dir_with_key();
    let dir = d.path();
    std::fs::write(dir.join("m"), b"deterministic").unwrap();
    let local = sym!(dir, "token sign --token t.tok --slot sig --in m").stdout;
    let local_info = sym!(dir, "--json token info --token t.tok").json();
    let _agent = Agent::start(dir, "t.tok", "a.sock");
    let remote = sym!(dir, "token sign --agent a.sock --slot sig --in m").stdout;
    assert_eq!(
        local, remote,
        "PKCS#1 v1.5 is deterministic: same key, same bytes"
    );
    assert_eq!(
        local_info,
        sym!(dir, "--json token info --agent a.sock").json()
    );
    // The same refusal, the same message and exit code.
    let a = sym_fails!(
        dir,
        "token public-key --agent a.sock --slot nope",
        3,
        "holds no key"
    );
    assert!(a.stderr.contains("slot \"nope\" holds no key"));
    // While the agent serves, no other process opens the token file.
    sym_fails!(
        dir,
        "token info --token t.tok",
        1,
        "in use by another process"
    );
}

#[test]
fn issuer_writes_certificate_and_key_once() {
    if !have_openssl() {
        return;
    }
    let d = dir_with_key();
    let dir = d.path();
    certificate_for(dir, "sig.pub", "sig.crt");
    sym!(
        dir,
        "issuer write-certificate --issuer st --token t.tok --slot sig --in sig.crt --out cmd.json"
    );
    sym!(
        dir,
        "token write-certificate --token t.tok --authorization cmd.json"
    );
    sym_fails!(
        dir,
        "token write-certificate --token t.tok --authorization cmd.json",
        5,
        "replayed"
    );
    let pem = sym!(dir, "token certificate --token t.tok --slot sig").stdout;
    std::fs::write(dir.join("back.crt"), &pem).unwrap();
    assert_eq!(
        openssl(dir, &["x509", "-in", "back.crt", "-outform", "DER"]),
        openssl(dir, &["x509", "-in", "sig.crt", "-outform", "DER"])
    );
    // The certificate's key verifies the token's signatures.
    std::fs::write(dir.join("m"), b"m").unwrap();
    sym!(
        dir,
        "token sign --token t.tok --slot sig --in m --out m.sig"
    );
    let certkey = openssl(dir, &["x509", "-in", "back.crt", "-pubkey", "-noout"]);
    std::fs::write(dir.join("cert.pub"), certkey).unwrap();
    openssl(
        dir,
        &words!["dgst -sha256 -verify cert.pub -signature m.sig m"],
    );

    // A key made by OpenSSL, written in by the issuer; the token holds the same key.
    openssl(
        dir,
        &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out imp.key"],
    );
    let r = sym!(
        dir,
        "--json issuer accept-key --issuer st --token t.tok --slot imp --key imp.key"
    );
    assert_eq!(r.json()["slot"], "imp");
    let expected = openssl(
        dir,
        &["pkey", "-in", "imp.key", "-pubout", "-outform", "DER"],
    );
    sym!(
        dir,
        "token public-key --token t.tok --slot imp --out imp.pub"
    );
    assert_eq!(
        openssl(
            dir,
            &["pkey", "-pubin", "-in", "imp.pub", "-outform", "DER"]
        ),
        expected
    );
    let info = sym!(dir, "--json token info --token t.tok").json();
    let imp = info["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "imp")
        .unwrap();
    assert_eq!(imp["origin"]["kind"], "issuer");
    assert_eq!(imp["algorithm"], "rsa-3072");
    assert_eq!(info["command_sequence"], 2);
    // A key in PKCS#1 PEM works too.
    openssl(dir, &["genrsa", "-traditional", "-out", "pk1.key", "2048"]);
    sym!(
        dir,
        "issuer accept-key --issuer st --token t.tok --slot pk1 --key pk1.key"
    );
}

#[test]
fn attestation_is_checked_by_the_verifier() {
    let d = dir_with_key();
    let dir = d.path();
    sym!(dir, "token public-key --token t.tok --device --out dev.pem");
    sym!(
        dir,
        "token attest --token t.tok --slot sig --nonce c0ffee --out att.json"
    );
    let v = sym!(dir, "--json attestation verify --in att.json --device-key dev.pem --public-key sig.pub --nonce c0ffee")
    .json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["origin"]["kind"], "generated");
    assert_eq!(v["exportable"], false);
    sym_fails!(
        dir,
        "attestation verify --in att.json --device-key dev.pem --nonce c0ffef",
        4,
        "nonce"
    );
    // Another token's device key.
    sym!(dir, "token init --token u.tok");
    sym!(
        dir,
        "token public-key --token u.tok --device --out udev.pem"
    );
    sym_fails!(
        dir,
        "attestation verify --in att.json --device-key udev.pem",
        4,
        "signed by device key"
    );
    // An edited statement.
    let text = std::fs::read_to_string(dir.join("att.json")).unwrap();
    std::fs::write(
        dir.join("forged.json"),
        text.replace("\"slot\": \"sig\"", "\"slot\": \"other\""),
    )
    .unwrap();
    sym_fails!(
        dir,
        "attestation verify --in forged.json --device-key dev.pem",
        4,
        "does not verify"
    );
    std::fs::write(
        dir.join("exp.json"),
        text.replace("\"exportable\": false", "\"exportable\": true"),
    )
    .unwrap();
    sym_fails!(
        dir,
        "attestation verify --in exp.json --device-key dev.pem",
        4,
        "does not verify"
    );
    sym_fails!(
        dir,
        "attestation verify --in st.pem --device-key dev.pem",
        3,
        "not a valid attestation"
    );
}

#[test]
fn json_output_and_trust_life_cycle() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let init = sym!(dir, "--json token init --token n.tok").json();
    assert_eq!(init["serial"].as_str().unwrap().len(), 32);
    let info = sym!(dir, "--json token info --token n.tok").json();
    assert_eq!(info["status"], "new");
    assert_eq!(info["slots"].as_array().unwrap().len(), 0);
    new_issuer(dir, "i1");
    sym!(dir, "token trust-issuer --token n.tok --issuer-key i1.pem");
    sym_fails!(
        dir,
        "token trust-issuer --token n.tok --issuer-key i1.pem",
        5,
        "already trusted"
    );
    let g = sym!(
        dir,
        "--json token generate --token n.tok --slot a --algorithm rsa-3072"
    )
    .json();
    assert_eq!(g["algorithm"], "rsa-3072");
    assert!(g["public_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    new_issuer(dir, "i2");
    sym_fails!(
        dir,
        "token trust-issuer --token n.tok --issuer-key i2.pem",
        5,
        "fixed"
    );
    let info = sym!(dir, "--json token info --token n.tok").json();
    assert_eq!(info["status"], "active");
    assert_eq!(info["trusted_issuers"].as_array().unwrap().len(), 1);
    let sig = sym!(dir, "--json token sign --token n.tok --slot a").json();
    assert_eq!(sig["scheme"], "pkcs1-sha256");
    let err = run(dir, &words!["--json token sign --token n.tok --slot zz"]);
    let body: serde_json::Value = serde_json::from_str(err.stderr.trim()).unwrap();
    assert_eq!(body["error"]["code"], "slot_not_found");
    assert_eq!(err.code, 3);
}

#[test]
fn tamper_kills_the_token_for_good() {
    let d = dir_with_key();
    let dir = d.path();
    sym_fails!(dir, "token tamper --token t.tok", 5, "--yes");
    sym!(dir, "token info --token t.tok");
    sym!(dir, "token tamper --token t.tok --yes");
    assert!(
        !dir.join("t.tok.sealing-key").exists(),
        "the sealing key is destroyed"
    );
    assert_eq!(
        std::fs::metadata(dir.join("t.tok")).unwrap().len(),
        63,
        "only the tombstone header is left"
    );
    for args in [
        vec!["token", "info", "--token", "t.tok"],
        vec!["token", "sign", "--token", "t.tok", "--slot", "sig"],
        vec!["token", "generate", "--token", "t.tok", "--slot", "new"],
    ] {
        fails(dir, &args, 6, "was tampered with");
    }
    sym_fails!(dir, "token init --token t.tok", 1, "never overwrites");
    // Through the agent: tamper kills it there too.
    sym!(dir, "token init --token v.tok");
    sym!(dir, "token generate --token v.tok --slot k");
    let _agent = Agent::start(dir, "v.tok", "v.sock");
    sym!(dir, "token tamper --agent v.sock --yes");
    sym_fails!(dir, "token info --agent v.sock", 6, "was tampered with");
    assert!(!dir.join("v.tok.sealing-key").exists());
}
