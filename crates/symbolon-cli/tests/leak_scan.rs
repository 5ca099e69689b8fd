//! No secret ever leaks: tokens and agents are driven through every command,
//! including failing ones, with the most verbose logging, and every output,
//! error, log line and file written is scanned for the secret key's bytes
//! (p, q, d, the CRT values, the PKCS#1 and PKCS#8 DER) in raw, hex and
//! base64, for the sealing key, and for the shape of any private key
//! structure at all (which catches keys generated inside the token, whose
//! bytes the test cannot know).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use der::Decode;

#[test]
fn no_secret_in_any_output_log_or_file() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // The key the test knows, made outside and kept outside the scanned directory.
    let outside = tempfile::tempdir().unwrap();
    openssl(
        outside.path(),
        &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out known.key"],
    );
    let pkcs1 = openssl(
        outside.path(),
        &["rsa", "-in", "known.key", "-traditional", "-outform", "DER"],
    );
    let pkcs8 = openssl(
        outside.path(),
        &["pkey", "-in", "known.key", "-outform", "DER"],
    );
    let k = pkcs1::RsaPrivateKeyRef::from_der(&pkcs1).unwrap();
    let mut needles = Vec::new();
    for (what, v) in [
        ("p", k.prime1.as_bytes()),
        ("q", k.prime2.as_bytes()),
        ("d", k.private_exponent.as_bytes()),
        ("dp", k.exponent1.as_bytes()),
        ("dq", k.exponent2.as_bytes()),
        ("qinv", k.coefficient.as_bytes()),
        ("PKCS#1 DER", &pkcs1[..]),
        ("PKCS#8 DER", &pkcs8[..]),
    ] {
        add_encodings(&mut needles, what, v);
    }

    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    let record = |outputs: &mut Vec<(String, Vec<u8>)>, label: String, r: Run| {
        let mut all = r.stdout.clone();
        all.extend_from_slice(r.stderr.as_bytes());
        outputs.push((label, all));
    };

    token_with_key(dir);
    let token_seal = sealing_key_bytes(&dir.join("t.tok.sealing-key"));
    let key_outside = outside.path().join("known.key");
    let key_arg = key_outside.to_str().unwrap();
    record(
        &mut outputs,
        "accept-key".into(),
        ok(
            dir,
            &words![
                "issuer accept-key --issuer st --token t.tok --slot known --key",
                key_arg
            ],
        ),
    );
    sym!(
        dir,
        "token public-key --token t.tok --slot known --out known.pub"
    );
    certificate_for(dir, "known.pub", "known.crt");
    std::fs::remove_file(dir.join("ca.key")).unwrap(); // a key of the test's own, not the token's
    record(
        &mut outputs,
        "write-certificate".into(),
        sym!(
            dir,
            "issuer write-certificate --issuer st --token t.tok --slot known --in known.crt"
        ),
    );
    std::fs::write(dir.join("m"), b"message").unwrap();
    openssl(
        dir,
        &words!["pkeyutl -encrypt -pubin -inkey known.pub -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in m -out m.enc"],
    );

    let agent = Agent::start(dir, "t.tok", "a.sock");
    let through_agent: Vec<Vec<&str>> = vec![
        vec!["token", "info"],
        vec!["--json", "token", "info"],
        vec!["token", "public-key", "--slot", "known"],
        vec!["token", "public-key", "--device"],
        vec!["token", "public-key", "--transport"],
        vec!["token", "certificate", "--slot", "known"],
        vec![
            "--json",
            "token",
            "sign",
            "--slot",
            "known",
            "--scheme",
            "pss-sha512",
            "--in",
            "m",
        ],
        vec![
            "token", "sign", "--slot", "known", "--in", "m", "--out", "m.sig",
        ],
        vec!["token", "sign", "--slot", "sig", "--in", "m"],
        vec!["token", "decrypt", "--slot", "known", "--in", "m.enc"],
        vec![
            "--json", "token", "decrypt", "--slot", "known", "--in", "m.enc",
        ],
        vec!["token", "attest", "--slot", "known", "--out", "known.att"],
        vec!["token", "decrypt", "--slot", "known", "--in", "m"],
        vec!["token", "sign", "--slot", "nope", "--in", "m"],
        vec!["token", "generate", "--slot", "known"],
        vec![
            "token",
            "generate",
            "--slot",
            "gen2",
            "--algorithm",
            "rsa-3072",
        ],
    ];
    for mut args in through_agent {
        let at = if args[0] == "--json" { 3 } else { 2 };
        args.splice(at..at, ["--agent", "a.sock"]);
        let r = run_env(dir, &args);
        record(&mut outputs, format!("agent {args:?}"), r);
    }
    drop(agent);
    let agent_log = std::fs::read(dir.join("a.sock.log")).unwrap();
    outputs.push(("agent log".into(), agent_log));
    for args in [
        vec!["token", "info", "--token", "t.tok"],
        vec!["--json", "token", "info", "--token", "t.tok"],
        vec!["token", "public-key", "--token", "t.tok", "--slot", "known"],
        vec!["token", "public-key", "--token", "t.tok", "--transport"],
        vec![
            "token",
            "certificate",
            "--token",
            "t.tok",
            "--slot",
            "known",
        ],
        vec![
            "--json", "token", "generate", "--token", "t.tok", "--slot", "gen3",
        ],
        vec!["token", "generate", "--token", "t.tok", "--slot", "known"],
        vec![
            "token",
            "trust-issuer",
            "--token",
            "t.tok",
            "--issuer-key",
            "st.pem",
        ],
        vec![
            "token",
            "sign",
            "--token",
            "t.tok",
            "--slot",
            "known",
            "--scheme",
            "pkcs1-sha512",
            "--in",
            "m",
        ],
        vec![
            "token", "decrypt", "--token", "t.tok", "--slot", "known", "--in", "m",
        ],
        vec![
            "--json", "token", "sign", "--token", "t.tok", "--slot", "known", "--in", "m",
        ],
        vec![
            "token", "decrypt", "--token", "t.tok", "--slot", "known", "--in", "m.enc",
        ],
        vec!["token", "attest", "--token", "t.tok", "--slot", "gen2"],
        vec!["token", "tamper", "--token", "t.tok", "--yes"],
        vec!["token", "info", "--token", "t.tok"],
    ] {
        let r = run_env(dir, &args);
        record(&mut outputs, format!("in-process {args:?}"), r);
    }

    // The sealing keys of the token and the issuer must appear nowhere but in
    // their own files (the token's was destroyed by tamper).
    let mut seal_needles = Vec::new();
    add_encodings(
        &mut seal_needles,
        "issuer sealing key",
        &sealing_key_bytes(&dir.join("st/issuer.sealing-key")),
    );
    add_encodings(&mut seal_needles, "token sealing key", &token_seal);

    for (label, data) in &outputs {
        scan(label, data, &needles, true);
        scan(label, data, &seal_needles, false);
    }
    let mut files = 0;
    for path in walk(dir) {
        let data = std::fs::read(&path).unwrap();
        let label = path.display().to_string();
        scan(&label, &data, &needles, false);
        if !path.ends_with("st/issuer.sealing-key") {
            // Every other file: no sealing key, no private key structure.
            scan(&label, &data, &seal_needles, true);
        }
        files += 1;
    }
    assert!(files >= 10, "only {files} files scanned");
    assert!(
        outputs.len() >= 20,
        "only {} outputs scanned",
        outputs.len()
    );
}

/// The same for EC keys (docs/ec-keys.md): a P-256 and an Ed25519 key made
/// by OpenSSL enter the token by `issuer accept-key`, sign in process and
/// through the agent, are attested; the token is then tampered. Neither
/// private scalar nor PKCS#8 appears in any output, log or file.
#[test]
fn no_ec_secret_in_any_output_log_or_file() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let outside = tempfile::tempdir().unwrap();
    let mut needles = Vec::new();
    for (name, args) in [
        (
            "p256.key",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
        ),
        ("ed25519.key", &["-algorithm", "ED25519"][..]),
    ] {
        let mut a = vec!["genpkey"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-out", name]);
        openssl(outside.path(), &a);
        let pkcs8 = openssl(
            outside.path(),
            &words!["pkcs8 -topk8 -nocrypt -in", name, "-outform DER"],
        );
        let text = String::from_utf8(openssl(
            outside.path(),
            &["pkey", "-in", name, "-noout", "-text"],
        ))
        .unwrap();
        // The private value as OpenSSL prints it ("priv:"), 32 bytes.
        let printed: String = text
            .split("priv:")
            .nth(1)
            .unwrap()
            .split("pub:")
            .next()
            .unwrap()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect();
        let mut scalar = hex::decode(&printed).unwrap();
        while scalar.len() > 32 && scalar[0] == 0 {
            scalar.remove(0);
        }
        while scalar.len() < 32 {
            scalar.insert(0, 0);
        }
        assert!(
            find(&pkcs8, &scalar),
            "{name}: the printed value is the key's"
        );
        add_encodings(&mut needles, &format!("{name} private value"), &scalar);
        add_encodings(&mut needles, &format!("{name} PKCS#8 DER"), &pkcs8);
    }

    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();
    token_with_key(dir);
    for (slot, name) in [("p256", "p256.key"), ("ed", "ed25519.key")] {
        let key = outside.path().join(name);
        let r = run_env(
            dir,
            &argv_with(
                &format!("issuer accept-key --issuer st --token t.tok --slot {slot} --key"),
                &[key.to_str().unwrap()],
            ),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        outputs.push((
            format!("accept-key {slot}"),
            [r.stdout, r.stderr.into_bytes()].concat(),
        ));
    }
    std::fs::write(dir.join("m"), b"a message").unwrap();
    {
        let _agent = Agent::start(dir, "t.tok", "agent.sock");
        for args in [
            vec![
                "token",
                "sign",
                "--agent",
                "agent.sock",
                "--slot",
                "p256",
                "--in",
                "m",
            ],
            vec![
                "token",
                "sign",
                "--agent",
                "agent.sock",
                "--slot",
                "ed",
                "--in",
                "m",
            ],
            vec!["--json", "token", "info", "--agent", "agent.sock"],
            vec![
                "token",
                "generate",
                "--agent",
                "agent.sock",
                "--slot",
                "p384",
                "--algorithm",
                "p384",
            ],
        ] {
            let r = run_env(dir, &args);
            outputs.push((
                format!("agent {args:?}"),
                [r.stdout, r.stderr.into_bytes()].concat(),
            ));
        }
    }
    for args in [
        vec![
            "token", "sign", "--token", "t.tok", "--slot", "p256", "--in", "m",
        ],
        vec![
            "--json", "token", "sign", "--token", "t.tok", "--slot", "ed", "--in", "m",
        ],
        vec![
            "token",
            "sign",
            "--token",
            "t.tok",
            "--slot",
            "ed",
            "--scheme",
            "ecdsa-sha256",
            "--in",
            "m",
        ],
        vec![
            "token", "decrypt", "--token", "t.tok", "--slot", "p256", "--in", "m",
        ],
        vec!["token", "attest", "--token", "t.tok", "--slot", "p256"],
        vec!["token", "public-key", "--token", "t.tok", "--slot", "ed"],
        vec!["token", "tamper", "--token", "t.tok", "--yes"],
    ] {
        let r = run_env(dir, &args);
        outputs.push((
            format!("in-process {args:?}"),
            [r.stdout, r.stderr.into_bytes()].concat(),
        ));
    }
    for (label, data) in &outputs {
        scan(label, data, &needles, true);
    }
    let mut files = 0;
    for path in walk(dir) {
        let data = std::fs::read(&path).unwrap();
        scan(&path.display().to_string(), &data, &needles, false);
        files += 1;
    }
    assert!(files >= 5, "only {files} files scanned");
}
