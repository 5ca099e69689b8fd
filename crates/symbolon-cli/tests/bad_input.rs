//! Every bad input gives a clear error and a meaningful exit code, and
//! changes nothing: the token directory is byte-for-byte the same afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;

/// Runs a failing command and checks nothing in `dir` changed.
fn refused(dir: &Path, args: &[&str], code: i32, needle: &str) {
    let before = snapshot(dir);
    fails(dir, args, code, needle);
    let after = snapshot(dir);
    assert_eq!(
        before.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        after.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        "{args:?} created or removed files"
    );
    for ((p, a), (_, b)) in before.iter().zip(&after) {
        assert!(a == b, "{args:?} changed {}", p.display());
    }
}

#[test]
fn bad_arguments_change_nothing() {
    let d = dir_with_key();
    let dir = d.path();
    std::fs::write(dir.join("junk"), b"\x00\x01 not a thing \xff").unwrap();
    std::fs::write(
        dir.join("bad.pem"),
        b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let t = ["--token", "t.tok"];
    let long_nonce = "00".repeat(65);
    let with = |extra: &[&'static str]| -> Vec<&str> { extra.to_vec() };
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            with(&["token", "sign", "--slot", "nope"]),
            3,
            "holds no key",
        ),
        (
            with(&["token", "sign", "--slot", "sig", "--scheme", "pkcs1-sha1"]),
            3,
            "unsupported signature scheme",
        ),
        (
            with(&["token", "sign", "--slot", "sig", "--digest", "zz"]),
            3,
            "not valid hex",
        ),
        (
            with(&["token", "sign", "--slot", "sig", "--digest", "abcd"]),
            3,
            "digest is 32 bytes",
        ),
        (
            with(&words!["token sign --slot sig --scheme pss-sha512 --digest 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"]),
            3,
            "digest is 64 bytes",
        ),
        (
            with(&["token", "sign", "--slot", "../etc", "--in", "junk"]),
            3,
            "not a valid slot name",
        ),
        (
            with(&words!["token generate --slot x --algorithm rsa-1024"]),
            3,
            "unsupported key algorithm",
        ),
        (
            with(&["token", "generate", "--slot", "a b"]),
            3,
            "not a valid slot name",
        ),
        (
            with(&["token", "generate", "--slot", "sig"]),
            5,
            "already holds a key",
        ),
        (
            with(&["token", "decrypt", "--slot", "sig", "--in", "junk"]),
            4,
            "decryption failed",
        ),
        (
            with(&["token", "public-key", "--slot", "nope"]),
            3,
            "holds no key",
        ),
        (
            with(&["token", "certificate", "--slot", "sig"]),
            3,
            "no certificate",
        ),
        (
            with(&["token", "trust-issuer", "--issuer-key", "bad.pem"]),
            3,
            "not a valid P-256 public key",
        ),
        (
            with(&["token", "trust-issuer", "--issuer-key", "sig.pub"]),
            3,
            "P-256",
        ),
        (
            with(&["token", "trust-issuer", "--issuer-key", "junk"]),
            3,
            "P-256",
        ),
        (
            with(&["token", "write-certificate", "--authorization", "junk"]),
            3,
            "not UTF-8",
        ),
        (
            with(&["token", "accept-key", "--authorization", "sig.pub"]),
            3,
            "issuer command",
        ),
        (
            with(&["token", "attest", "--slot", "sig", "--nonce", "xyz"]),
            3,
            "not valid hex",
        ),
        (
            vec![
                "token",
                "attest",
                "--slot",
                "sig",
                "--nonce",
                long_nonce.as_str(),
            ],
            3,
            "at most 64",
        ),
        (with(&["token", "tamper"]), 5, "--yes"),
    ];
    for (mut args, code, needle) in cases {
        args.splice(2..2, t);
        refused(dir, &args, code, needle);
    }
    // Usage errors are clap's exit code 2.
    refused(dir, &["token", "sign", "--token", "t.tok"], 2, "--slot");
    refused(dir, &["token", "frobnicate"], 2, "unrecognized subcommand");
    // Asked for JSON, a usage error is the same JSON error body as any
    // other failure, still exit 2; help stays help.
    let r = run(dir, &["--json", "token", "generate", "--bogus"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let body: serde_json::Value = serde_json::from_str(r.stderr.trim()).unwrap();
    assert_eq!(body["error"]["code"], "usage", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--bogus"),
        "{body}"
    );
    let help = sym!(dir, "--json token --help");
    assert!(help.text().contains("Usage:"), "{}", help.text());
}

#[test]
fn bad_issuer_commands_change_nothing() {
    if !have_openssl() {
        return;
    }
    let d = dir_with_key();
    let dir = d.path();
    certificate_for(dir, "sig.pub", "sig.crt");
    sym!(dir, "issuer write-certificate --issuer st --token t.tok --slot sig --in sig.crt --out good.json");
    let good = std::fs::read_to_string(dir.join("good.json")).unwrap();
    let cmd: serde_json::Value = serde_json::from_str(&good).unwrap();

    // Signature altered.
    let mut forged = cmd.clone();
    let sig = forged["signature"].as_str().unwrap().to_string();
    let mut raw = base64_decode(&sig);
    let n = raw.len();
    raw[n - 3] ^= 1;
    forged["signature"] = base64_encode(&raw).into();
    std::fs::write(dir.join("forged.json"), forged.to_string()).unwrap();
    refused(
        dir,
        &words!["token write-certificate --token t.tok --authorization forged.json"],
        4,
        "does not verify",
    );

    // The command's content altered under the old signature.
    let mut moved = cmd.clone();
    moved["slot"] = "elsewhere".into();
    std::fs::write(dir.join("moved.json"), moved.to_string()).unwrap();
    refused(
        dir,
        &words!["token write-certificate --token t.tok --authorization moved.json"],
        4,
        "does not verify",
    );

    // An untrusted issuer.
    sym!(dir, "issuer init --issuer rogue");
    sym!(dir, "issuer write-certificate --issuer rogue --token t.tok --slot sig --in sig.crt --out rogue.json");
    refused(
        dir,
        &words!["token write-certificate --token t.tok --authorization rogue.json"],
        5,
        "not trusted",
    );

    // A command for another token.
    sym!(dir, "token init --token u.tok");
    sym!(dir, "token trust-issuer --token u.tok --issuer-key st.pem");
    sym!(dir, "token generate --token u.tok --slot sig");
    refused(
        dir,
        &words!["token write-certificate --token u.tok --authorization good.json"],
        5,
        "is for token",
    );

    // A certificate for another key.
    openssl(
        dir,
        &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out o.key"],
    );
    openssl(dir, &["pkey", "-in", "o.key", "-pubout", "-out", "o.pub"]);
    certificate_for(dir, "o.pub", "o.crt");
    refused(
        dir,
        &words!["issuer write-certificate --issuer st --token t.tok --slot sig --in o.crt"],
        5,
        "is not the key in slot",
    );
    refused(
        dir,
        &words!["issuer write-certificate --issuer st --token t.tok --slot sig --in junk_missing"],
        1,
        "cannot read",
    );
    std::fs::write(
        dir.join("junk.crt"),
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    refused(
        dir,
        &words!["issuer write-certificate --issuer st --token t.tok --slot sig --in junk.crt"],
        3,
        "certificate",
    );

    // Keys: an occupied slot, a weak key, a file that is not a key.
    openssl(
        dir,
        &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out weak.key"],
    );
    refused(
        dir,
        &words!["issuer accept-key --issuer st --token t.tok --slot sig --key o.key"],
        5,
        "already holds a key",
    );
    refused(
        dir,
        &words!["issuer accept-key --issuer st --token t.tok --slot w --key weak.key"],
        3,
        "RSA private key",
    );
    refused(
        dir,
        &words!["issuer accept-key --issuer st --token t.tok --slot w --key o.pub"],
        3,
        "PRIVATE KEY",
    );
    openssl(
        dir,
        &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 -out e3.key"],
    );
    refused(
        dir,
        &words!["issuer accept-key --issuer st --token t.tok --slot w --key e3.key"],
        5,
        "at least 65537",
    );

    // The good command still works after all that: nothing moved the sequence.
    sym!(
        dir,
        "token write-certificate --token t.tok --authorization good.json"
    );
}

#[test]
fn bad_token_files_and_keys_are_reported_and_left_alone() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    sym!(dir, "token init --token a.tok");
    sym!(dir, "token init --token b.tok");
    // Swapped sealing key: told apart from tampering; nothing is destroyed.
    refused(
        dir,
        &words!["token info --token a.tok --sealing-key b.tok.sealing-key"],
        5,
        "sealing key does not open",
    );
    // Not a token at all.
    std::fs::write(
        dir.join("x.tok"),
        b"hello world, this is not a token file at all",
    )
    .unwrap();
    std::fs::copy(dir.join("a.tok.sealing-key"), dir.join("x.tok.sealing-key")).unwrap();
    std::fs::set_permissions(
        dir.join("x.tok.sealing-key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(dir.join("x.tok.lock"), b"").unwrap();
    refused(
        dir,
        &["token", "info", "--token", "x.tok"],
        3,
        "not a usable symbolon token",
    );
    // A sealing key readable by others is refused.
    std::fs::set_permissions(
        dir.join("b.tok.sealing-key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    refused(dir, &["token", "info", "--token", "b.tok"], 1, "chmod 600");
    std::fs::set_permissions(
        dir.join("b.tok.sealing-key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // Missing pieces.
    sym_fails!(dir, "token info --token missing.tok", 1, "no token at");
    refused(
        dir,
        &["token", "init", "--token", "a.tok"],
        1,
        "never overwrites",
    );
    refused(
        dir,
        &["token", "info", "--agent", "nobody.sock"],
        1,
        "no token agent answers",
    );
    refused(
        dir,
        &["token", "info", "--token", "pkcs11:token=x"],
        3,
        "PKCS#11",
    );
    refused(
        dir,
        &["issuer", "public-key", "--issuer", "nowhere"],
        1,
        "issuer init",
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn bad_content_inputs_change_nothing() {
    let d = dir_with_key();
    let dir = d.path();
    std::fs::write(dir.join("junk"), b"\x00\x01 not a thing \xff").unwrap();
    refused(
        dir,
        &words!["content owner init --owner owner --ca-cert junk"],
        3,
        "--ca-cert",
    );
    sym!(dir, "ca init --data ca --algorithm rsa-2048");
    sym!(dir, "ca certificate --data ca --out root.pem");
    sym!(dir, "content owner init --owner owner --ca-cert root.pem");
    sym!(
        dir,
        "token public-key --token t.tok --slot sig --out sig.pem"
    );
    sym!(dir, "seal --to sig.pem junk sealed");
    let zero_serial = "00".repeat(16);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![
                "content",
                "owner",
                "init",
                "--owner",
                "owner",
                "--ca-cert",
                "root.pem",
            ],
            3,
            "already holds",
        ),
        (
            vec![
                "content",
                "owner",
                "init",
                "--owner",
                "o2",
                "--ca-cert",
                "junk",
            ],
            3,
            "--ca-cert",
        ),
        (
            vec![
                "content",
                "license",
                "--owner",
                "owner",
                "--order",
                "junk",
                "--content",
                "sealed",
            ],
            3,
            "not a purchase order",
        ),
        (
            argv("content owner public-key --owner nowhere"),
            1,
            "owner.json",
        ),
        (
            vec![
                "content",
                "order",
                "--token",
                "t.tok",
                "--slot",
                "sig",
                "--content-id",
                "00",
                "--price",
                "1 EUR",
                "--licence-slot",
                "c",
            ],
            3,
            "content id",
        ),
        (
            vec![
                "content",
                "order",
                "--token",
                "t.tok",
                "--slot",
                "sig",
                "--content-id",
                "00112233445566778899aabbccddeeff",
                "--price",
                "12",
                "--licence-slot",
                "c",
            ],
            3,
            "price",
        ),
        (
            vec![
                "content",
                "order",
                "--token",
                "t.tok",
                "--slot",
                "sig",
                "--content-id",
                "00112233445566778899aabbccddeeff",
                "--price",
                "1 EUR",
                "--licence-slot",
                "c",
            ],
            3,
            "no certificate",
        ),
        (
            vec![
                "unseal",
                "--token",
                "t.tok",
                "--slot",
                "sig",
                "--licence",
                "junk",
                "sealed",
                "out",
            ],
            3,
            "not a licence",
        ),
        (
            vec!["unseal", "--token", "t.tok", "--slot", "sig", "junk", "out"],
            3,
            "not symbolon sealed content",
        ),
        (
            vec![
                "unseal", "--token", "t.tok", "--slot", "nope", "sealed", "out",
            ],
            3,
            "holds no key",
        ),
        (vec!["seal", "--to", "junk", "junk", "out"], 3, ""),
        (
            vec![
                "seal",
                "--to",
                "sig.pem",
                "--chunk-size",
                "512",
                "junk",
                "out",
            ],
            3,
            "power of two",
        ),
        (
            vec!["content", "inspect", "junk"],
            3,
            "not symbolon sealed content",
        ),
        (
            vec![
                "content",
                "owner",
                "provision",
                "--owner",
                "owner",
                "--token",
                "t.tok",
                "--slot",
                "c",
            ],
            5,
            "does not trust",
        ),
        (
            vec![
                "content",
                "owner",
                "public-key",
                "--owner",
                "owner",
                "--token-serial",
                &zero_serial,
                "--slot",
                "c",
            ],
            3,
            "provisioned no decryption key",
        ),
    ];
    for (args, code, needle) in cases {
        refused(dir, &args, code, needle);
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    sym!(dir, "token init --token t.tok");
    // `symbolon … | head -c 0`: the reader is gone before the command
    // starts (a socket pair whose other end is closed: writes fail EPIPE).
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(theirs);
    let out = std::process::Command::new(bin())
        .args(["--json", "token", "info", "--token", "t.tok"])
        .current_dir(dir)
        .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(ours)))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
