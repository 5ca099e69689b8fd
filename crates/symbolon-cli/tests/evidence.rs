//! Evidence bundles end to end (docs/transparency.md §10): a key's history
//! fetched by an auditor and checked offline with nothing but the bundle,
//! the CA root and the log key — an attested, revoked key and a vetted one
//! here (the escrowed and recovered key of FIG. 9 in `escrow_cli`, the
//! joint key of FIG. 19 in `joint_cli`); every tampering refused with the
//! part named; who may fetch a bundle; committed fields in the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

fn read(dir: &Path, file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap()
}

/// `evidence verify` on `bundle` (written to a scratch file); the run.
fn verify(dir: &Path, bundle: &Value) -> Run {
    std::fs::write(dir.join("t.json"), serde_json::to_vec(bundle).unwrap()).unwrap();
    run(dir, &evidence_verify_args("t.json"))
}

/// The base64 text with one byte of what it encodes changed.
fn flip_b64(text: &str, at: usize) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD;
    let mut bytes = b.decode(text).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    b.encode(bytes)
}

fn index_of(bundle: &Value, kind: &str) -> usize {
    bundle["entries"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| e["entry"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry in the bundle"))
}

#[test]
fn a_key_s_history_checks_offline_and_every_tampering_is_named() {
    if !have_openssl() {
        return;
    }
    let (d, server) = service_with_station();
    let dir = d.path();
    register_token(dir, &server, "t.tok");
    // A key generated and attested inside the token, certified, revoked.
    let issued = ok(
        dir,
        &words!["--json issue --ca", &server.url, "--ca-cert root.pem --issuer st --token t.tok --slot tls --identity CN=alice.example --role server --on-token"],
    )
    .json();
    let key = issued["fingerprint"].as_str().unwrap().to_string();
    let serial = issued["serial"].as_str().unwrap().to_string();
    let officer = credential(dir, &server, "registration-officer", "officer-1");
    ok(
        dir,
        &argv_with(
            &format!("revoke --serial {serial} --reason keyCompromise --ca"),
            &words![&server.url, "--ca-cert root.pem --credential", &officer],
        ),
    );
    let token = sym!(dir, "--json token info --token t.tok").json()["serial"]
        .as_str()
        .unwrap()
        .to_string();

    let report = evidence_checked(dir, &server, &key, "alice.json");
    assert_eq!(report["key"], key.as_str());
    assert_eq!(
        report["certificates"],
        json!([{ "serial": serial, "subject": "CN=alice.example", "status": "revoked (keyCompromise)" }])
    );
    assert_eq!(report["attested_by"], json!([token]));
    let text = sym!(
        dir,
        "evidence verify alice.json --root evidence-root.pem --log-key evidence-log.vkey"
    )
    .text();
    assert!(text.contains("revoked (keyCompromise)"), "{text}");
    assert!(
        text.contains(&format!("generated inside token {token}")),
        "{text}"
    );
    let bundle = read(dir, "alice.json");
    let kinds: Vec<&str> = bundle["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"]["kind"].as_str().unwrap())
        .collect();
    for k in [
        "token-registered",
        "certificate-issued",
        "issuance-completed",
        "certificate-revoked",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }

    // The subscriber's name is in the tree only as a commitment: the log's
    // own view of the entry does not carry it; the bundle opens it.
    let issuance = &bundle["entries"][index_of(&bundle, "certificate-issued")]["entry"];
    assert!(!issuance["detail"]
        .as_str()
        .unwrap()
        .contains("alice.example"));
    assert!(issuance["openings"]["subject"]["value"]
        .as_str()
        .unwrap()
        .contains("alice.example"));
    let seq = issuance["seq"].as_i64().unwrap();
    let auditor = credential(dir, &server, "auditor", "evidence-auditor");
    let logged = ok(
        dir,
        &words![
            "log entry --ca",
            &server.url,
            "--ca-cert root.pem --credential",
            &auditor,
            "--entry",
            &seq.to_string()
        ],
    )
    .text();
    assert!(!logged.contains("alice.example"), "{logged}");
    assert!(!logged.contains("openings"), "{logged}");

    // A second key, of a subscriber a registration officer vetted.
    let vet = credential(dir, &server, "station", "st-vet");
    let register = ok(
        dir,
        &words![
            "ra register --ca",
            &server.url,
            "--ca-cert root.pem --credential",
            &officer,
            "--identity CN=bob --roles email --evidence",
            ["passport X1234567"]
        ],
    );
    assert_eq!(register.code, 0);
    let csr = openssl_csr(dir, "bob");
    let station = server.client(Some(&dir.join(vet)));
    let (s, v) = request(
        &station,
        "POST",
        "/v1/certify",
        Some(&json!({ "csr": csr, "identity": "CN=bob", "role": "email" })),
    );
    assert_eq!(s, 200, "{v}");
    let bob = last_audit_detail(&server, "certificate-issued")["key"]
        .as_str()
        .unwrap()
        .to_string();
    let report = evidence_checked(dir, &server, &bob, "bob.json");
    assert_eq!(report["vetted"][0][0], "officer-1", "{report}");
    assert_eq!(report["certificates"][0]["status"], "good");
    let bob_bundle = read(dir, "bob.json");
    assert!(
        !bob_bundle.to_string().contains("X1234567"),
        "the vetting evidence text stays out of the bundle"
    );

    // A third key in Alice's token: its delivery entry names her token too.
    let carol = ok(
        dir,
        &words!["--json issue --ca", &server.url, "--ca-cert root.pem --issuer st --token t.tok --slot tls2 --identity CN=carol.example --role server --on-token"],
    )
    .json();
    let carol = carol["fingerprint"].as_str().unwrap().to_string();
    evidence_checked(dir, &server, &carol, "carol.json");
    let carol_bundle = read(dir, "carol.json");
    // Bob's and Carol's entries with their proofs in a tree that holds them
    // (Alice's bundle fetched again), to slip into her bundle.
    evidence_checked(dir, &server, &key, "alice2.json");
    let alice2 = read(dir, "alice2.json");
    std::fs::write(dir.join("cp.txt"), alice2["checkpoint"].as_str().unwrap()).unwrap();
    let prove = |entry: &Value| {
        let seq = entry["seq"].to_string();
        let proof = ok(
            dir,
            &words![
                "log inclusion-proof --ca",
                &server.url,
                "--ca-cert root.pem --entry",
                &seq,
                "--checkpoint cp.txt"
            ],
        )
        .json();
        json!({ "entry": entry, "proof": proof["hashes"] })
    };
    let slipped =
        prove(&bob_bundle["entries"][index_of(&bob_bundle, "certificate-issued")]["entry"]);
    let same_token =
        prove(&carol_bundle["entries"][index_of(&carol_bundle, "issuance-completed")]["entry"]);
    let slip = move |alice2: &Value, extra: &Value| {
        let mut b = alice2.clone();
        let list = b["entries"].as_array_mut().unwrap();
        list.push(extra.clone());
        list.sort_by_key(|e| e["entry"]["seq"].as_i64().unwrap());
        b
    };
    let revoked = index_of(&bundle, "certificate-revoked");

    // Tampering: each part, changed, is refused (exit 4) and named.
    let good = bundle.clone();
    let cert = index_of(&good, "certificate-issued");
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "an edited entry",
            Box::new(move |b: &mut Value| {
                let d = b["entries"][cert]["entry"]["detail"]
                    .as_str()
                    .unwrap()
                    .replace("server", "client");
                b["entries"][cert]["entry"]["detail"] = d.into();
            }),
            "(certificate-issued): it does not match its hash",
        ),
        (
            "a proof hash changed",
            Box::new(move |b: &mut Value| {
                let h = b["entries"][cert]["proof"][0].as_str().unwrap().to_string();
                b["entries"][cert]["proof"][0] = flip_b64(&h, 3).into();
            }),
            "inclusion proof does not verify",
        ),
        (
            "an opening that names someone else",
            Box::new(move |b: &mut Value| {
                b["entries"][cert]["entry"]["openings"]["subject"]["value"] =
                    "\"CN=mallory.example\"".into();
            }),
            "\\\"subject\\\" does not match its commitment",
        ),
        (
            "the checkpoint's root",
            Box::new(|b: &mut Value| {
                let c = b["checkpoint"].as_str().unwrap();
                let mut lines: Vec<String> = c.split('\n').map(String::from).collect();
                lines[2] = flip_b64(&lines[2], 0);
                b["checkpoint"] = lines.join("\n").into();
            }),
            "the checkpoint:",
        ),
        (
            "a byte of the certificate",
            Box::new(|b: &mut Value| {
                let c = b["certificates"][0].as_str().unwrap().to_string();
                b["certificates"][0] = flip_b64(&c, 400).into();
            }),
            "certificate",
        ),
        (
            "the attestation",
            Box::new(|b: &mut Value| {
                let a = b["attestations"][0]["attestation"]
                    .as_str()
                    .unwrap()
                    .replace("\"slot\": \"tls\"", "\"slot\": \"tlz\"");
                b["attestations"][0]["attestation"] = a.into();
            }),
            "the attestation of certificate",
        ),
        (
            "the issuance entry left out",
            Box::new(move |b: &mut Value| {
                b["entries"].as_array_mut().unwrap().remove(cert);
            }),
            "no certificate-issued entry",
        ),
        (
            "another key's entry slipped in",
            Box::new({
                let alice2 = alice2.clone();
                move |b: &mut Value| *b = slip(&alice2, &slipped)
            }),
            "is about nothing of this key's",
        ),
        (
            "another key's entry naming the same token",
            Box::new(move |b: &mut Value| *b = slip(&alice2, &same_token)),
            "(issuance-completed): it is about nothing of this key's",
        ),
        (
            "an opening withheld",
            Box::new(move |b: &mut Value| {
                let o = b["entries"][revoked]["entry"]["openings"].as_object_mut().unwrap();
                o.remove("reason");
            }),
            "(certificate-revoked): its field \\\"reason\\\" is committed but the bundle does not open it",
        ),
        (
            "a certificate twice",
            Box::new(|b: &mut Value| {
                let c = b["certificates"][0].clone();
                b["certificates"].as_array_mut().unwrap().push(c);
            }),
            "it is in the bundle twice",
        ),
        (
            "entries out of order",
            Box::new(|b: &mut Value| {
                b["entries"].as_array_mut().unwrap().reverse();
            }),
            "entries must be in log order",
        ),
        (
            "the revocation removed by cutting the bundle's checkpoint back",
            Box::new(|b: &mut Value| {
                let c = b["checkpoint"].as_str().unwrap();
                let mut lines: Vec<String> = c.split('\n').map(String::from).collect();
                let size: u64 = lines[1].parse().unwrap();
                lines[1] = (size - 1).to_string();
                b["checkpoint"] = lines.join("\n").into();
            }),
            "the checkpoint:",
        ),
    ];
    for (what, edit, needle) in cases {
        let mut b = good.clone();
        edit(&mut b);
        let r = verify(dir, &b);
        assert_eq!(r.code, 4, "{what}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("\"evidence_failed\""),
            "{what}: {}",
            r.stderr
        );
    }
    // Another CA's root, another log's key, and a file that is no bundle.
    std::fs::write(dir.join("t.json"), serde_json::to_vec(&good).unwrap()).unwrap();
    sym!(dir, "ca init --data other");
    let r = run(
        dir,
        &words!["evidence verify t.json --root other/ca.crt --log-key evidence-log.vkey"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("certificate {serial}")),
        "{}",
        r.stderr
    );
    let wrong_key =
        "symbolon-log/0000000000000000+00000000+AaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA";
    let r = run(
        dir,
        &words![
            "evidence verify t.json --root evidence-root.pem --log-key",
            wrong_key
        ],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    std::fs::write(dir.join("junk.json"), b"{\"format\": 1}").unwrap();
    let r = run(dir, &evidence_verify_args("junk.json"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("not an evidence bundle"), "{}", r.stderr);
    let mut extra = good.clone();
    extra["entries"][0]["entry"]["note"] = "added".into();
    let r = verify(dir, &extra);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("unknown field"), "{}", r.stderr);
    // A bundle of several megabytes (a long history) is read whole.
    let mut big = serde_json::to_vec(&good).unwrap();
    big.extend(std::iter::repeat_n(b' ', 3 << 20));
    std::fs::write(dir.join("big.json"), big).unwrap();
    ok(dir, &evidence_verify_args("big.json"));

    // Nothing in the log names a subscriber in the clear: not the vetting
    // evidence (not even as a bare digest, which a list of passport
    // numbers would open), not a name policy's names.
    let digest = symbolon::evidence::sha256_hex(b"passport X1234567");
    for e in audit_entries(&server) {
        let detail = e["detail"].as_str().unwrap();
        for secret in ["alice.example", "CN=bob", "X1234567", digest.as_str()] {
            assert!(!detail.contains(secret), "{secret} in {e}");
        }
        if e["kind"] == "name-policy-set" {
            assert!(detail.contains("\"allow\":{\"commitment\""), "{e}");
        }
    }
}

#[test]
fn bundles_are_for_auditors_admins_and_officers_and_bad_keys_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let station = server.client(Some(&server.station_http));
    let anonymous = server.client(None);
    let auditor = credential(dir, &server, "auditor", "aud");
    let auditor = server.client(Some(&dir.join(auditor)));
    let unknown = format!("sha256:{}", "ab".repeat(32));
    let path = format!("/v1/keys/{unknown}/evidence");
    let (s, v) = request(&anonymous, "GET", &path, None);
    assert_eq!(s, 401, "{v}");
    let (s, v) = request(&station, "GET", &path, None);
    assert_eq!(s, 403, "{v}");
    let (s, v) = request(&auditor, "GET", &path, None);
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    let (s, v) = request(&auditor, "GET", "/v1/keys/sha256:zz/evidence", None);
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{v}"
    );
}
