//! EC keys in tokens (docs/ec-keys.md) through the binary: generated in a
//! soft token and through the token agent, signatures verified by OpenSSL
//! with the exported public key (`openssl dgst -verify` for ECDSA,
//! `openssl pkeyutl -verify -rawin` for Ed25519), the schemes that do not
//! fit a slot's key refused with what it holds, and nothing written by a
//! refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

fn require_openssl() -> bool {
    if have_openssl() {
        return true;
    }
    if std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("openssl is required");
    }
    false
}

/// Signs `msg` with slot `slot` of the token `spec` (`--token F` or
/// `--agent S`), verifies with OpenSSL using the slot's exported key.
fn sign_and_verify(dir: &std::path::Path, spec: &[&str], slot: &str, curve: &str, msg: &str) {
    let sig = format!("{slot}-{msg}.sig");
    let pubkey = format!("{slot}.pub");
    let mut a = vec!["token", "public-key"];
    a.extend_from_slice(spec);
    a.extend_from_slice(&["--slot", slot, "--out", &pubkey]);
    ok(dir, &a);
    let mut a = vec!["token", "sign"];
    a.extend_from_slice(spec);
    a.extend_from_slice(&["--slot", slot, "--in", msg, "--out", &sig, "--json"]);
    let v = ok(dir, &a).json();
    let scheme = match curve {
        "p256" => "ecdsa-sha256",
        "p384" => "ecdsa-sha384",
        _ => "ed25519",
    };
    assert_eq!(v["scheme"], scheme, "the slot's own scheme by default");
    let out = match curve {
        "ed25519" => openssl(
            dir,
            &words![
                "pkeyutl -verify -pubin -inkey",
                &pubkey,
                "-rawin -in",
                msg,
                "-sigfile",
                &sig
            ],
        ),
        _ => openssl(
            dir,
            &[
                "dgst",
                if curve == "p256" {
                    "-sha256"
                } else {
                    "-sha384"
                },
                "-verify",
                &pubkey,
                "-signature",
                &sig,
                msg,
            ],
        ),
    };
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("Verified OK") || out.contains("Signature Verified Successfully"),
        "{out}"
    );
    // OpenSSL refuses the signature over another message.
    std::fs::write(dir.join("other.txt"), b"not the message").unwrap();
    let r = match curve {
        "ed25519" => std::process::Command::new("openssl")
            .args([
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                &pubkey,
                "-rawin",
                "-in",
                "other.txt",
                "-sigfile",
                &sig,
            ])
            .current_dir(dir)
            .output()
            .unwrap(),
        _ => std::process::Command::new("openssl")
            .args([
                "dgst",
                if curve == "p256" {
                    "-sha256"
                } else {
                    "-sha384"
                },
                "-verify",
                &pubkey,
                "-signature",
                &sig,
                "other.txt",
            ])
            .current_dir(dir)
            .output()
            .unwrap(),
    };
    assert!(!r.status.success());
}

#[test]
fn soft_token_ec_keys_sign_what_openssl_verifies() {
    if !require_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    sym!(dir, "token init --token t.tok");
    std::fs::write(dir.join("msg.txt"), b"a message to sign\n").unwrap();
    for curve in ["p256", "p384", "ed25519"] {
        let v = sym!(
            dir,
            "token generate --token t.tok --slot {curve} --algorithm {curve} --json"
        )
        .json();
        assert_eq!(v["algorithm"], curve);
        sign_and_verify(dir, &["--token", "t.tok"], curve, curve, "msg.txt");
    }
    let info = sym!(dir, "token info --token t.tok --json").json();
    let algs: Vec<&str> = info["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["ed25519", "p256", "p384"]);

    // Schemes that do not fit the slot's key: refused, saying what it holds;
    // the token file is unchanged.
    let before = std::fs::read(dir.join("t.tok")).unwrap();
    for (slot, extra, needle) in [
        (
            "p256",
            &["--scheme", "pkcs1-sha256"][..],
            "holds a p256 key",
        ),
        (
            "p256",
            &["--scheme", "ecdsa-sha384"][..],
            "ecdsa-sha256 on p256",
        ),
        (
            "ed25519",
            &["--scheme", "ecdsa-sha256"][..],
            "sign the message itself",
        ),
        (
            "p384",
            &["--scheme", "ed25519"][..],
            "ECDSA keys sign digests",
        ),
        (
            "p256",
            &["--scheme", "rot13"][..],
            "unsupported signature scheme",
        ),
        (
            "ed25519",
            &["--scheme", "ed25519", "--digest", "00"][..],
            "Ed25519 signs the message itself",
        ),
    ] {
        let mut a = vec![
            "token", "sign", "--token", "t.tok", "--slot", slot, "--in", "msg.txt",
        ];
        a.extend_from_slice(extra);
        if extra.contains(&"--digest") {
            a.retain(|x| *x != "--in" && *x != "msg.txt");
        }
        fails(dir, &a, 3, needle);
    }
    sym_fails!(
        dir,
        "token decrypt --token t.tok --slot p256 --in msg.txt",
        3,
        "RSA-OAEP decryption needs an RSA key"
    );
    sym_fails!(
        dir,
        "token generate --token t.tok --slot x --algorithm p521",
        3,
        "unsupported key algorithm"
    );
    assert_eq!(std::fs::read(dir.join("t.tok")).unwrap(), before);
}

#[test]
fn the_agent_carries_ec_keys() {
    if !require_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    sym!(dir, "token init --token t.tok");
    std::fs::write(dir.join("msg.txt"), vec![0x5au8; 100_000]).unwrap();
    let _agent = Agent::start(dir, "t.tok", "agent.sock");
    let spec = ["--agent", "agent.sock"];
    for curve in ["p256", "p384", "ed25519"] {
        let mut a = vec!["token", "generate"];
        a.extend_from_slice(&spec);
        a.extend_from_slice(&["--slot", curve, "--algorithm", curve]);
        ok(dir, &a);
        sign_and_verify(dir, &spec, curve, curve, "msg.txt");
    }
    let r = run(
        dir,
        &words!["token sign --agent agent.sock --slot p384 --scheme pss-sha256 --in msg.txt"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("holds a p384 key"), "{}", r.stderr);
    // An X25519 decryption key made behind the agent: content sealed to it
    // (HPKE) opens through the agent, and only there.
    sym!(
        dir,
        "token generate --agent agent.sock --slot x --algorithm x25519"
    );
    sym!(
        dir,
        "token public-key --agent agent.sock --slot x --out x.pem"
    );
    sym!(dir, "seal --to x.pem msg.txt msg.sealed");
    sym!(dir, "unseal --agent agent.sock --slot x msg.sealed msg.out");
    assert_eq!(
        std::fs::read(dir.join("msg.out")).unwrap(),
        std::fs::read(dir.join("msg.txt")).unwrap()
    );
    let r = run(
        dir,
        &words!["unseal --agent agent.sock --slot p256 msg.sealed other.out"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(!dir.join("other.out").exists());
}

#[test]
fn rsa_only_embodiments_say_so_for_ec_algorithms() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    sym!(dir, "token init --token t.tok");
    std::fs::write(dir.join("d.partial"), "01\n").unwrap();
    let before = std::fs::read(dir.join("t.tok")).unwrap();
    sym_fails!(
        dir,
        "joint init --token t.tok --slot j --algorithm p256 --partial-file d.partial",
        3,
        "fifth embodiment"
    );
    assert_eq!(std::fs::read(dir.join("t.tok")).unwrap(), before);
    // A CA key may be EC (tests/revocation.rs), but it must sign.
    sym_fails!(
        dir,
        "ca init --data ca --algorithm x25519",
        3,
        "a CA key must sign"
    );
    assert!(!dir.join("ca").exists());
}
