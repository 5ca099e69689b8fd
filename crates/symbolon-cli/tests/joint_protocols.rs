//! The fifth embodiment's protocols through the binary, with three and five
//! parties: the honest-generation check (FIG. 19), the reissue request form
//! and the reissue it permits (FIG. 20), rotation with re-encryption of the
//! token's backup (FIG. 21), and the service's mailbox. Each fault — a
//! wrong partial, a refusing party, a forged form, a reordered chain, a
//! party out of turn — fails clearly and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::joint::*;
use common::*;

fn read(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).unwrap()
}

fn sign(dir: &Path, file: &str, party: &str, partial: &str) -> Run {
    run(
        dir,
        &words![
            "joint chain-sign --in",
            file,
            "--party",
            party,
            "--partial-file",
            partial
        ],
    )
}

fn check_begin(dir: &Path, names: &[String], out: &str) {
    check_begin_in(dir, "u.tok", names, out);
}

/// Swaps two links of a chain file (a reordered chain).
fn swap_links(dir: &Path, from: &str, to: &str, a: usize, b: usize) {
    let mut v: serde_json::Value = serde_json::from_slice(&read(dir, from)).unwrap();
    v["links"].as_array_mut().unwrap().swap(a, b);
    std::fs::write(dir.join(to), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn fig19_every_party_checks_the_key_and_a_wrong_partial_is_named() {
    for parties in [3, 5] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let chain = joint_key(dir, parties, &[]);
        let names = roster(parties);
        check_begin(dir, &names, "check.json");
        let shown = sym!(dir, "--json joint chain-show --in check.json").json();
        assert_eq!(shown["state"], "awaiting");
        assert_eq!(shown["next"], "alice");

        // Out of turn: refused, the file untouched.
        let before = read(dir, "check.json");
        let r = sign(dir, "check.json", &names[1], &chain[1]);
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(r.stderr.contains("alice signs next"), "{}", r.stderr);
        assert_eq!(read(dir, "check.json"), before);

        // A party with a wrong partial is named before anything is added.
        sym!(dir, "joint new-partial --out wrong.partial");
        ok(
            dir,
            &words![
                "joint chain-sign --in check.json --party alice --partial-file",
                &chain[0]
            ],
        );
        let before = read(dir, "check.json");
        let r = sign(dir, "check.json", &names[1], "wrong.partial");
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "it is not the partial the token holds for {}",
                names[1]
            )),
            "{}",
            r.stderr
        );
        assert_eq!(read(dir, "check.json"), before);

        for (name, partial) in names.iter().zip(&chain).skip(1) {
            let r = sign(dir, "check.json", name, partial);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        let v = sym!(dir, "--json joint chain-verify --in check.json --message-out check.msg --signature-out check.sig")
        .json();
        assert_eq!(v["state"], "complete");
        assert_eq!(v["signed_by"].as_array().unwrap().len(), parties);
        // The complete chain is the token's own signature over the message.
        sym!(
            dir,
            "token sign --token u.tok --slot j --in check.msg --out token.sig"
        );
        assert_eq!(read(dir, "check.sig"), read(dir, "token.sig"));
        if have_openssl() {
            openssl(
                dir,
                &words!["dgst -sha256 -verify j.pem -signature check.sig check.msg"],
            );
        }
        // Signing again after completion is refused.
        let r = sign(dir, "check.json", &names[0], &chain[0]);
        assert_eq!(r.code, 5, "{}", r.stderr);

        // A reordered chain fails clearly.
        swap_links(dir, "check.json", "reordered.json", 1, 2);
        sym_fails!(
            dir,
            "joint chain-verify --in reordered.json",
            4,
            "out of order"
        );
        // A link taken from elsewhere (here: another party's value under
        // this party's name) is a wrong partial, named.
        let mut v: serde_json::Value = serde_json::from_slice(&read(dir, "check.json")).unwrap();
        let other = v["links"][2]["value"].clone();
        v["links"][1]["value"] = other;
        std::fs::write(dir.join("relabelled.json"), v.to_string()).unwrap();
        sym_fails!(
            dir,
            "joint chain-verify --in relabelled.json",
            4,
            &format!("{}'s partial is not the one the token holds", names[1])
        );
        // Views altered in transit: the token's signature over them fails.
        let mut v: serde_json::Value = serde_json::from_slice(&read(dir, "check.json")).unwrap();
        v["views"]["prefixes"][0] = v["views"]["prefixes"][1].clone();
        std::fs::write(dir.join("views.json"), v.to_string()).unwrap();
        sym_fails!(
            dir,
            "joint chain-verify --in views.json",
            4,
            "not signed by the joint key"
        );
        // Garbage is refused as a chain file.
        std::fs::write(dir.join("junk.json"), b"{\"format\":\"x\"}").unwrap();
        sym_fails!(
            dir,
            "joint chain-show --in junk.json",
            3,
            "not a joint chain file"
        );
    }
}

#[test]
fn fig20_a_form_signed_by_every_party_permits_the_reissue() {
    for parties in [3, 5] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let chain = joint_key(dir, parties, &[]);
        let names = roster(parties);
        std::fs::write(dir.join("doc"), b"signed before the loss").unwrap();
        sym!(
            dir,
            "token sign --token u.tok --slot j --in doc --out old.sig"
        );
        sym!(dir, "token init --token new.tok");

        // A party refuses: the chain ends, and the form permits nothing.
        new_form(dir, &names, "new.tok", "refused.json");
        ok(
            dir,
            &words![
                "joint chain-sign --in refused.json --party alice --partial-file",
                &chain[0]
            ],
        );
        ok(
            dir,
            &words![
                "joint chain-refuse --in refused.json --party",
                &names[1],
                "--reason",
                ["the user still owes us"]
            ],
        );
        let r = sign(dir, "refused.json", &names[2], &chain[2]);
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(r.stderr.contains("refused"), "{}", r.stderr);
        sym_fails!(
            dir,
            "joint reissue-begin --token new.tok --slot j --permission refused.json",
            5,
            "the user still owes us"
        );

        // An incomplete form permits nothing either.
        new_form(dir, &names, "new.tok", "partial.json");
        ok(
            dir,
            &words![
                "joint chain-sign --in partial.json --party alice --partial-file",
                &chain[0]
            ],
        );
        sym_fails!(
            dir,
            "joint reissue-begin --token new.tok --slot j --permission partial.json",
            3,
            "not signed by every party"
        );

        // The last party's link is checked with e before it is added: with
        // a wrong partial earlier in the chain, nothing completes.
        new_form(dir, &names, "new.tok", "wrong.json");
        sym!(dir, "joint new-partial --out wrong.partial");
        sym!(
            dir,
            "joint chain-sign --in wrong.json --party alice --partial-file wrong.partial"
        );
        for (name, partial) in names.iter().zip(&chain).skip(1).take(parties - 2) {
            ok(
                dir,
                &words![
                    "joint chain-sign --in wrong.json --party",
                    name,
                    "--partial-file",
                    partial
                ],
            );
        }
        let before = read(dir, "wrong.json");
        let r = sign(dir, "wrong.json", &names[parties - 1], &chain[parties - 1]);
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(
            r.stderr.contains("a partial in the chain is wrong"),
            "{}",
            r.stderr
        );
        assert_eq!(read(dir, "wrong.json"), before);

        // The real thing.
        signed_form(dir, &chain, &names, "new.tok", "form.json");
        sym!(
            dir,
            "joint chain-verify --in form.json --message-out form.msg --signature-out form.sig"
        );
        if have_openssl() {
            openssl(
                dir,
                &words!["dgst -sha256 -verify j.pem -signature form.sig form.msg"],
            );
        }
        // A forged form: the reason changed after every party signed.
        let mut v: serde_json::Value = serde_json::from_slice(&read(dir, "form.json")).unwrap();
        v["form"]["reason"] = "lost; also please add a second token".into();
        std::fs::write(dir.join("forged.json"), v.to_string()).unwrap();
        sym_fails!(
            dir,
            "joint chain-verify --in forged.json",
            4,
            "the form was altered"
        );
        sym_fails!(
            dir,
            "joint reissue-begin --token new.tok --slot j --permission forged.json",
            4,
            "the form was altered"
        );
        // A reordered chain.
        swap_links(dir, "form.json", "reordered.json", 0, 1);
        sym_fails!(
            dir,
            "joint reissue-begin --token new.tok --slot j --permission reordered.json",
            4,
            "out of order"
        );
        // The form names new.tok: another token cannot use it.
        sym!(dir, "token init --token other.tok");
        sym_fails!(
            dir,
            "joint reissue-begin --token other.tok --slot j --permission form.json",
            3,
            "permits a reissue into token"
        );
        let info = sym!(dir, "--json token info --token new.tok").json();
        assert!(info["slots"].as_array().unwrap().is_empty());

        // Permitted: every party re-enters its partial, the token recovers
        // the primes, and the old signature's key is the new token's key.
        sym!(
            dir,
            "joint reissue-begin --token new.tok --slot j --permission form.json"
        );
        for p in &chain {
            ok(
                dir,
                &words![
                    "joint reissue-enter --token new.tok --slot j --partial-file",
                    p
                ],
            );
        }
        fails(
            dir,
            &words![
                "joint reissue-enter --token new.tok --slot j --partial-file",
                &chain[0]
            ],
            3,
            "partials are in",
        );
        sym!(dir, "joint reissue-finish --token new.tok --slot j");
        sym!(
            dir,
            "token sign --token new.tok --slot j --in doc --out new.sig"
        );
        assert_eq!(read(dir, "new.sig"), read(dir, "old.sig"));
        // The reissued token can run the honest-generation check too: it
        // holds the partials it recovered the key from.
        check_begin_in(dir, "new.tok", &names, "check.json");
        for (name, partial) in names.iter().zip(&chain) {
            ok(
                dir,
                &words![
                    "joint chain-sign --in check.json --party",
                    name,
                    "--partial-file",
                    partial
                ],
            );
        }
        sym!(dir, "joint chain-verify --in check.json");
    }
}

fn check_begin_in(dir: &Path, token: &str, names: &[String], out: &str) {
    ok(
        dir,
        &argv_with(
            &format!("joint check-begin --token {token} --slot j --parties"),
            &[&names.join(","), "--out", out],
        ),
    );
}

fn enter(dir: &Path, index: usize, old: &str, new: Option<&str>) -> Run {
    let i = index.to_string();
    let mut args = vec![
        "joint",
        "rotate-enter",
        "--token",
        "u.tok",
        "--slot",
        "j",
        "--party-index",
        &i,
        "--partial-file",
        old,
    ];
    if let Some(n) = new {
        args.extend(["--new-partial-file", n]);
    }
    run(dir, &args)
}

#[test]
fn fig21_rotation_checks_old_partials_reencrypts_the_backup_and_releases_d0_new_once() {
    for parties in [3, 5] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let chain = joint_key(dir, parties, &[]);
        std::fs::write(dir.join("card.info"), b"CardInfo: 1200 points, 3 licences").unwrap();
        sym!(
            dir,
            "token put-object --token u.tok --name card --in card.info"
        );
        sym!(
            dir,
            "token backup --token u.tok --slot j --out backup.sealed"
        );

        // Not before d0 is out? It is (joint_key released it). Begin.
        sym!(dir, "joint rotate-begin --token u.tok --slot j");
        // Re-sealing waits for every party.
        sym_fails!(
            dir,
            "joint rotate-reseal --token u.tok --slot j --in backup.sealed --out backup.new",
            3,
            "waits for parties"
        );
        // A wrong old partial is named (steps 701–702); nothing changes.
        sym!(dir, "joint new-partial --out wrong.partial");
        for i in 1..parties {
            ok(
                dir,
                &words!["joint new-partial --out", &format!("new{i}.partial")],
            );
        }
        let r = enter(dir, 1, "wrong.partial", Some("new1.partial"));
        assert_eq!(r.code, 4, "{}", r.stderr);
        assert!(
            r.stderr.contains("party 1 is not the one this token holds"),
            "{}",
            r.stderr
        );
        // The user enters no new partial; every other party must.
        let r = enter(dir, 0, &chain[0], Some("new1.partial"));
        assert_eq!(r.code, 3, "{}", r.stderr);
        let r = enter(dir, 1, &chain[1], None);
        assert_eq!(r.code, 3, "{}", r.stderr);

        assert_eq!(enter(dir, 0, &chain[0], None).code, 0);
        for (i, old) in chain.iter().enumerate().skip(1) {
            let r = enter(dir, i, old, Some(&format!("new{i}.partial")));
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        let r = enter(dir, 1, &chain[1], Some("new1.partial"));
        assert_eq!(r.code, 3, "entered twice: {}", r.stderr);

        // Step 704: the backup is re-wrapped to the new key inside the token.
        sym!(
            dir,
            "joint rotate-reseal --token u.tok --slot j --in backup.sealed --out backup.new"
        );
        sym!(
            dir,
            "joint rotate-commit --token u.tok --slot j --out j.new.pem"
        );
        assert_ne!(read(dir, "j.new.pem"), read(dir, "j.pem"));
        // The old backup no longer opens (its key is gone); the new one does.
        sym_fails!(
            dir,
            "token restore --token u.tok --slot j --in backup.sealed",
            4,
            ""
        );
        sym!(dir, "token restore --token u.tok --slot j --in backup.new");
        sym!(
            dir,
            "token get-object --token u.tok --name card --out card.back"
        );
        assert_eq!(read(dir, "card.back"), read(dir, "card.info"));

        // d0_NEW leaves once (step 705).
        let to = age_identity(dir, "new.agekey");
        sym!(
            dir,
            "joint output-d0 --token u.tok --slot j --to {to} --out d0new.age"
        );
        let other = age_identity(dir, "other.agekey");
        fails(
            dir,
            &words![
                "joint output-d0 --token u.tok --slot j --to",
                &other,
                "--out",
                "x.age"
            ],
            5,
            "released already",
        );
        sym!(
            dir,
            "joint reveal-d0 --identity new.agekey --in d0new.age --out d0new.partial"
        );

        // The new partials chain-sign to the new key's signature, which
        // OpenSSL verifies; the old partials do not.
        std::fs::rename(dir.join("j.pem"), dir.join("j.old.pem")).unwrap();
        std::fs::copy(dir.join("j.new.pem"), dir.join("j.pem")).unwrap();
        let mut fresh = vec!["d0new.partial".to_string()];
        fresh.extend((1..parties).map(|i| format!("new{i}.partial.corrected")));
        std::fs::write(dir.join("doc"), b"after rotation").unwrap();
        let last = chain_sign(dir, &fresh, "doc");
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
        if have_openssl() {
            openssl(
                dir,
                &words!["dgst -sha256 -verify j.pem -signature doc.sig doc"],
            );
        }
        let last = chain_sign(dir, &chain, "doc");
        fails(
            dir,
            &words!["joint verify --key j.pem --in", &last, "--message", "doc"],
            4,
            "",
        );
        // And the check runs on the new key with the new partials.
        let names = roster(parties);
        check_begin(dir, &names, "check.json");
        for (name, partial) in names.iter().zip(&fresh) {
            ok(
                dir,
                &words![
                    "joint chain-sign --in check.json --party",
                    name,
                    "--partial-file",
                    partial
                ],
            );
        }
        sym!(dir, "joint chain-verify --in check.json");
    }
}

#[test]
fn the_mailbox_carries_a_form_and_takes_only_extensions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sym!(dir, "ca init --data ca --algorithm rsa-2048");
    local_station_vets(dir, "ca");
    let chain = joint_key(dir, 3, &[]);
    let names = roster(3);
    sym!(dir, "token init --token new.tok");
    new_form(dir, &names, "new.tok", "form.json");
    let id = sym!(dir, "joint mailbox-post --ca local:ca --in form.json")
        .text()
        .trim()
        .to_string();
    assert_eq!(id.len(), 32);
    // Posting it twice is refused.
    sym_fails!(
        dir,
        "joint mailbox-post --ca local:ca --in form.json",
        5,
        "exists already"
    );
    for (name, partial) in names.iter().zip(&chain) {
        sym!(
            dir,
            "joint mailbox-get --ca local:ca --id {id} --out mine.json"
        );
        ok(
            dir,
            &words![
                "joint chain-sign --in mine.json --party",
                name,
                "--partial-file",
                partial
            ],
        );
        // A stale or altered upload is refused: here the form's reason changed.
        let mut v: serde_json::Value = serde_json::from_slice(&read(dir, "mine.json")).unwrap();
        v["form"]["reason"] = "something else".into();
        std::fs::write(dir.join("altered.json"), v.to_string()).unwrap();
        sym_fails!(
            dir,
            "joint mailbox-put --ca local:ca --id {id} --in altered.json",
            3,
            "does not extend the stored file"
        );
        sym!(
            dir,
            "joint mailbox-put --ca local:ca --id {id} --in mine.json"
        );
        // The same upload again extends nothing.
        sym_fails!(
            dir,
            "joint mailbox-put --ca local:ca --id {id} --in mine.json",
            3,
            "does not extend"
        );
    }
    let v = sym!(
        dir,
        "--json joint mailbox-get --ca local:ca --id {id} --out final.json"
    )
    .json();
    assert_eq!(v["state"], "complete");
    sym!(
        dir,
        "joint reissue-begin --token new.tok --slot j --permission final.json"
    );
    sym_fails!(
        dir,
        "joint mailbox-get --ca local:ca --id 00000000000000000000000000000000 --out x.json",
        3,
        "not found"
    );
    sym!(dir, "audit verify --data ca");
}

#[test]
fn check_and_rotation_run_through_the_token_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let chain = joint_key(dir, 3, &[]);
    let names = roster(3);
    sym!(
        dir,
        "token backup --token u.tok --slot j --out backup.sealed"
    );
    let agent = Agent::start(dir, "u.tok", "u.sock");
    let sock = agent.socket.to_str().unwrap().to_string();
    let t = ["--agent", sock.as_str(), "--slot", "j"];
    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(t.iter().map(|s| s.to_string()));
        v
    };
    let go = |args: Vec<String>| ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let names_arg = names.join(",");
    go(with(&words![
        "joint check-begin --parties",
        &names_arg,
        "--out check.json"
    ]));
    for (name, partial) in names.iter().zip(&chain) {
        ok(
            dir,
            &words![
                "joint chain-sign --in check.json --party",
                name,
                "--partial-file",
                partial
            ],
        );
    }
    sym!(dir, "joint chain-verify --in check.json");

    go(with(&["joint", "rotate-begin"]));
    go(with(&words![
        "joint rotate-enter --party-index 0 --partial-file",
        &chain[0]
    ]));
    sym!(dir, "joint new-partial --out n1.partial");
    sym!(dir, "joint new-partial --out n2.partial");
    let wrong = with(&words![
        "joint rotate-enter --party-index 2 --partial-file",
        &chain[1],
        "--new-partial-file n2.partial"
    ]);
    let r = run(dir, &wrong.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("party 2"), "{}", r.stderr);
    go(with(&words![
        "joint rotate-enter --party-index 1 --partial-file",
        &chain[1],
        "--new-partial-file n1.partial"
    ]));
    go(with(&words![
        "joint rotate-enter --party-index 2 --partial-file",
        &chain[2],
        "--new-partial-file n2.partial"
    ]));
    go(with(&words![
        "joint rotate-reseal --in backup.sealed --out backup.new"
    ]));
    go(with(&["joint", "rotate-commit", "--out", "new.pem"]));
    let to = age_identity(dir, "n.agekey");
    go(with(&words!["joint output-d0 --to", &to, "--out d0n.age"]));
    go(with(&["token", "restore", "--in", "backup.new"]));
    drop(agent);
}
