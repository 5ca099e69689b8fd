//! Elliptic-curve keys at the CA (docs/ec-keys.md), end to end against the
//! real service: OpenSSL's P-256, P-384 and Ed25519 requests certified by
//! the RSA CA and the mixed chains verified by OpenSSL and linted by
//! pkilint; keys that are not keys (a point off the curve), curves and
//! encodings the CA does not take (explicit parameters, secp256k1, P-521,
//! a curve the role does not allow) refused with their reason and nothing
//! issued; one point in its compressed and uncompressed forms is one key;
//! a subscriber revokes an EC certificate with a statement OpenSSL signed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use symbolon::keys::{EcCurve, PublicKey};

/// `openssl genpkey` with `args` into `out`, and a request for `CN=subj`.
fn ec_request(dir: &std::path::Path, out: &str, args: &[&str], subj: &str) -> String {
    let mut a = vec!["genpkey"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-out", out]);
    openssl(dir, &a);
    let csr = format!("{out}.csr");
    openssl(
        dir,
        &["req", "-new", "-key", out, "-subj", subj, "-out", &csr],
    );
    std::fs::read_to_string(dir.join(csr)).unwrap()
}

fn certify(server: &Server, body: Value) -> (u16, Value) {
    http("POST", &format!("{}/v1/certify", server.url), Some(&body))
}

fn certificate_count(server: &Server) -> usize {
    audit_entries(server)
        .iter()
        .filter(|e| e["kind"] == "certificate-issued")
        .count()
}

#[test]
fn openssl_ec_requests_are_certified_and_chains_verify() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    ok(
        dir,
        &words!["ca certificate --ca", &server.url, "--out", "root.pem"],
    );
    std::fs::copy(server.data.join("chain.pem"), dir.join("chain.pem")).unwrap();
    let root = symbolon::pem::decode(
        &std::fs::read(dir.join("root.pem")).unwrap(),
        &["CERTIFICATE"],
    )
    .unwrap()
    .1;
    let cases: [(&str, &[&str], &str, EcCurve); 4] = [
        (
            "p256.key",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "client",
            EcCurve::P256,
        ),
        (
            "p384.key",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "email",
            EcCurve::P384,
        ),
        (
            "ed25519.key",
            &["-algorithm", "ED25519"],
            "document-signing",
            EcCurve::Ed25519,
        ),
        (
            "purchase.key",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "purchase-signing",
            EcCurve::P384,
        ),
    ];
    for (key, args, role, curve) in cases {
        let csr = ec_request(dir, key, args, "/O=Example/CN=Bob EC");
        let nonce = [7u8; 16];
        let (s, v) = certify(
            &server,
            json!({ "csr": csr, "identity": "CN=Bob EC,O=Example", "role": role,
                    "nonce": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce) }),
        );
        assert_eq!(s, 200, "{key}: {v}");
        // The station's checks: signed response, nonce, chain to the
        // pinned root, and the certificate is for this very key.
        let public =
            PublicKey::from_pem_or_der(&openssl(dir, &["pkey", "-in", key, "-pubout"])).unwrap();
        assert_eq!(public.curve(), Some(curve));
        let response = symbolon::ca::CertifyResponse::from_json(&v).unwrap();
        response.verify(&root, &nonce, public.clone()).unwrap();
        let other =
            PublicKey::from_pem_or_der(&openssl(dir, &["pkey", "-in", "p256.key", "-pubout"]))
                .unwrap();
        if curve != EcCurve::P256 {
            assert!(response.verify(&root, &nonce, other).is_err());
        }
        let crt = format!("{key}.crt");
        std::fs::write(dir.join(&crt), v["certificate"].as_str().unwrap()).unwrap();
        let out = String::from_utf8_lossy(&openssl(
            dir,
            &words!["verify -CAfile root.pem -untrusted chain.pem", &crt],
        ))
        .into_owned();
        assert!(out.contains("OK"), "{out}");
        // pkilint's decoder refuses OID arcs over 32 bits, and the
        // purchase-signing EKU is a UUID OID (2.25.…): that profile is
        // judged by OpenSSL alone.
        if role != "purchase-signing" {
            pkilint(dir, &crt);
        }
        let text =
            String::from_utf8_lossy(&openssl(dir, &["x509", "-in", &crt, "-noout", "-text"]))
                .into_owned();
        assert!(!text.contains("Key Encipherment"), "{text}");
        assert!(text.contains("Digital Signature"), "{text}");
        match curve {
            EcCurve::Ed25519 => assert!(text.contains("ED25519"), "{text}"),
            _ => assert!(text.contains("id-ecPublicKey"), "{text}"),
        }
        // The certificate's key is the request's, byte for byte (OpenSSL's
        // view of both).
        let from_cert = openssl(dir, &["x509", "-in", &crt, "-noout", "-pubkey"]);
        assert_eq!(
            PublicKey::from_pem_or_der(&from_cert).unwrap(),
            public,
            "{key}"
        );
    }
    sym!(dir, "audit verify --data data");
}

#[test]
fn ec_keys_the_ca_does_not_take_are_refused_with_their_reason() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let explicit = {
        openssl(
            dir,
            &words!["genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit -out explicit.key"],
        );
        openssl(
            dir,
            &words!["req -new -key explicit.key -subj /CN=Bob -out explicit.csr"],
        );
        std::fs::read_to_string(dir.join("explicit.csr")).unwrap()
    };
    // The request's SPKI must really carry the curve's parameters.
    let dump = String::from_utf8_lossy(&openssl(
        dir,
        &["req", "-in", "explicit.csr", "-noout", "-text"],
    ))
    .into_owned();
    assert!(dump.contains("Field Type"), "{dump}");
    let k1 = ec_request(
        dir,
        "k1.key",
        &words!["-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1"],
        "/CN=Bob",
    );
    let p521 = ec_request(
        dir,
        "p521.key",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        "/CN=Bob",
    );
    let good = ec_request(
        dir,
        "good.key",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "/CN=Bob",
    );
    let ed = ec_request(dir, "ed.key", &["-algorithm", "ED25519"], "/CN=Bob");
    // A point off the curve: the last byte of y flipped inside the request
    // (the key is read, and refused, before its signature is checked).
    let off_curve = {
        let der = openssl(dir, &["req", "-in", "good.key.csr", "-outform", "DER"]);
        let spki = openssl(
            dir,
            &["pkey", "-in", "good.key", "-pubout", "-outform", "DER"],
        );
        let point = &spki[spki.len() - 65..];
        let at = der
            .windows(65)
            .position(|w| w == point)
            .expect("the point is in the request");
        let mut bad = der.clone();
        bad[at + 64] ^= 0x01;
        symbolon::pem::encode("CERTIFICATE REQUEST", &bad)
    };
    let before = certificate_count(&server);
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({ "csr": explicit, "identity": "CN=Bob" }),
            400,
            "unsupported_key",
            "explicit curve parameters",
        ),
        (
            json!({ "csr": k1, "identity": "CN=Bob" }),
            400,
            "unsupported_key",
            "secp256k1",
        ),
        (
            json!({ "csr": p521, "identity": "CN=Bob" }),
            400,
            "unsupported_key",
            "P-521",
        ),
        (
            json!({ "csr": off_curve, "identity": "CN=Bob" }),
            400,
            "weak_key",
            "not a point on P-256",
        ),
        // Ed25519 is not a TLS server key (BR §6.1.5); the refusal says so
        // before asking for an attestation.
        (
            json!({ "csr": ed, "identity": "CN=Bob", "role": "server" }),
            400,
            "unsupported_key",
            "allowed for server: RSA, p256, p384",
        ),
    ];
    for (body, status, code, needle) in cases {
        let (s, v) = certify(&server, body.clone());
        assert_eq!(
            (s, v["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
        // Audited by the review, with the code.
        let refused = last_audit_detail(&server, "certification-refused");
        assert_eq!(refused["code"], code, "{refused}");
    }
    assert_eq!(certificate_count(&server), before, "nothing was issued");
    // The weak-key refusal names its class.
    let (_, v) = certify(&server, json!({ "csr": off_curve, "identity": "CN=Bob" }));
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(invalid-point)"),
        "{v}"
    );
    // The good request is certified after all this.
    let (s, v) = certify(&server, json!({ "csr": good, "identity": "CN=Bob" }));
    assert_eq!(s, 200, "{v}");
    assert_eq!(certificate_count(&server), before + 1);
}

#[test]
fn one_point_compressed_or_not_is_one_key() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let plain = ec_request(
        dir,
        "k.key",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "/CN=Carol",
    );
    openssl(
        dir,
        &words!["ec -in k.key -conv_form compressed -out kc.key"],
    );
    openssl(
        dir,
        &words!["req -new -key kc.key -subj /CN=Carol -out kc.csr"],
    );
    let compressed = std::fs::read_to_string(dir.join("kc.csr")).unwrap();
    // OpenSSL really wrote the compressed point (33 bytes, 0x02/0x03).
    let spki = openssl(
        dir,
        &["pkey", "-in", "kc.key", "-pubout", "-outform", "DER"],
    );
    assert_eq!(spki.len(), 59, "a compressed P-256 SPKI");
    assert_ne!(
        spki,
        openssl(dir, &["pkey", "-in", "k.key", "-pubout", "-outform", "DER"])
    );
    let (s, v) = certify(
        &server,
        json!({ "csr": compressed, "identity": "CN=Carol" }),
    );
    assert_eq!(s, 200, "the compressed form is certified: {v}");
    // The certificate carries the canonical (uncompressed) SPKI.
    std::fs::write(dir.join("kc.crt"), v["certificate"].as_str().unwrap()).unwrap();
    let in_cert = openssl(dir, &["x509", "-in", "kc.crt", "-noout", "-pubkey"]);
    let uncompressed = openssl(dir, &["pkey", "-in", "k.key", "-pubout"]);
    assert_eq!(in_cert, uncompressed);
    let (s, v) = certify(&server, json!({ "csr": plain, "identity": "CN=Carol" }));
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap_or("")),
        (409, "duplicate_key"),
        "{v}"
    );
}

#[test]
fn a_subscriber_revokes_its_ec_certificate_with_an_openssl_signature() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let chain = std::fs::read(server.data.join("chain.pem")).unwrap();
    let issuing = symbolon::pem::decode(&chain, &["CERTIFICATE"]).unwrap().1;
    let ca = symbolon::x509::certificate_key(&symbolon::x509::parse_certificate(&issuing).unwrap())
        .unwrap()
        .fingerprint();
    for (key, args, digest) in [
        (
            "p384.key",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            Some("-sha384"),
        ),
        ("ed.key", &["-algorithm", "ED25519"][..], None),
    ] {
        let csr = ec_request(dir, key, args, "/CN=Dave");
        let (s, v) = certify(&server, json!({ "csr": csr, "identity": "CN=Dave" }));
        assert_eq!(s, 200, "{v}");
        let serial = v["serial"].as_str().unwrap().to_string();
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let statement = symbolon::revocation::self_request::statement(
            &ca,
            &serial,
            symbolon::revocation::RevocationReason::KeyCompromise,
            at,
        );
        std::fs::write(dir.join("statement"), &statement).unwrap();
        let sign = |key: &str| -> String {
            let mut a = vec![
                "pkeyutl",
                "-sign",
                "-inkey",
                key,
                "-rawin",
                "-in",
                "statement",
            ];
            if let Some(d) = digest {
                a.extend_from_slice(&["-digest", &d[1..]]);
            }
            hex::encode(openssl(dir, &a))
        };
        let body = |sig: String| json!({ "serial": serial, "reason": "keyCompromise", "signed_at": at, "signature": sig });
        // The serial as the statement names it, lower-case hex: an
        // upper-case spelling of it is refused (one event, one statement).
        let (s, v) = request(
            &server.client(None),
            "POST",
            "/v1/revocations/self",
            Some(
                &json!({ "serial": serial.to_ascii_uppercase(), "reason": "keyCompromise",
                          "signed_at": at, "signature": sign(key) }),
            ),
        );
        assert_eq!(s, 400, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("lower-case hex"),
            "{v}"
        );
        // Signed by another key of the same curve: refused.
        let imposter = format!("other-{key}");
        let mut a = vec!["genpkey"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-out", &imposter]);
        openssl(dir, &a);
        let anon = server.client(None);
        let (s, v) = request(
            &anon,
            "POST",
            "/v1/revocations/self",
            Some(&body(sign(&imposter))),
        );
        assert_eq!(s, 400, "{v}");
        let (s, v) = request(
            &anon,
            "POST",
            "/v1/revocations/self",
            Some(&body(sign(key))),
        );
        assert_eq!(s, 200, "{key}: {v}");
        assert_eq!(v["revoked"], true);
        let (_, v) = http(
            "GET",
            &format!("{}/v1/certificates/{serial}", server.url),
            None,
        );
        assert_eq!(v["status"], "revoked", "{v}");
    }
}

#[test]
fn the_policy_names_the_curves_each_role_takes() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Bad policies are refused and leave no CA behind.
    for (arg, needle) in [
        ("client", "expected ROLE=CURVE"),
        ("client=p521", "unsupported elliptic curve"),
        ("nobody=p256", "roles:"),
        ("server=x25519", "only agree on keys"),
        ("email=p256+x25519", "only agree on keys"),
    ] {
        fails(
            dir,
            &words!["ca init --data data --algorithm rsa-2048 --curves", arg],
            3,
            needle,
        );
        assert!(!dir.join("data").exists(), "{arg}");
    }
    sym_fails!(
        dir,
        "ca init --data data --curves client=p256 --curves client=p384",
        3,
        "named twice"
    );
    assert!(!dir.join("data").exists());
    sym_fails!(
        dir,
        "ca init --data data --validity-days 0",
        3,
        "at least 1"
    );
    assert!(!dir.join("data").exists());
    sym!(
        dir,
        "ca init --data data --algorithm rsa-2048 --curves client=p256 --curves email="
    );
    let server = Server::start(dir, "data");
    let p256 = ec_request(
        dir,
        "a.key",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "/CN=Erin",
    );
    let p384 = ec_request(
        dir,
        "b.key",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "/CN=Erin",
    );
    for (csr, role, expect) in [
        (&p384, "client", Some("allowed for client: RSA, p256")),
        (&p256, "email", Some("allowed for email: RSA only")),
        // document-signing is not named: the defaults.
        (&p384, "document-signing", None),
        (&p256, "client", None),
    ] {
        let (s, v) = certify(
            &server,
            json!({ "csr": csr, "identity": "CN=Erin", "role": role }),
        );
        match expect {
            Some(needle) => {
                assert_eq!(
                    (s, v["error"]["code"].as_str().unwrap()),
                    (400, "unsupported_key"),
                    "{v}"
                );
                assert!(
                    v["error"]["message"].as_str().unwrap().contains(needle),
                    "{v}"
                );
            }
            None => assert_eq!(s, 200, "{role}: {v}"),
        }
    }
}

/// `symbolon WORDS… --ca URL --ca-cert root.pem EXTRA…`.
fn sym(dir: &std::path::Path, server: &Server, words: &str, extra: &[&str]) -> Run {
    let mut args: Vec<&str> = words.split_whitespace().collect();
    args.extend(["--ca", &server.url, "--ca-cert", "root.pem"]);
    args.extend_from_slice(extra);
    run(dir, &args)
}

#[test]
fn ec_keys_made_in_a_token_are_issued_renewed_and_revoked() {
    if !have_openssl() {
        return;
    }
    let (d, server) = service_with_station();
    let dir = d.path();
    register_token(dir, &server, "t.tok");
    std::fs::copy(server.data.join("chain.pem"), dir.join("chain.pem")).unwrap();
    let issue = |slot: &str, alg: &str, role: &str, cn: &str| {
        sym(
            dir,
            &server,
            "issue --issuer st --token t.tok --on-token --json",
            &words![
                "--slot",
                slot,
                "--algorithm",
                alg,
                "--role",
                role,
                "--identity",
                cn,
                "--out",
                &format!("{slot}.crt")
            ],
        )
    };
    // A TLS server key made and attested in the token: ECDSA, so no
    // keyEncipherment; OpenSSL verifies the mixed chain, pkilint is clean.
    let r = issue("tls", "p256", "server", "CN=ec.example");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tls_serial = r.json()["serial"].as_str().unwrap().to_string();
    {
        let crt = "tls.crt".to_string();
        let out = openssl(
            dir,
            &words!["verify -CAfile root.pem -untrusted chain.pem", &crt],
        );
        assert!(String::from_utf8_lossy(&out).contains("OK"));
        pkilint(dir, &crt);
        let text =
            String::from_utf8_lossy(&openssl(dir, &["x509", "-in", &crt, "-noout", "-text"]))
                .into_owned();
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
        assert!(!text.contains("Key Encipherment"), "{text}");
        assert!(
            text.contains("prime256v1") || text.contains("P-256"),
            "{text}"
        );
    }
    let (_, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{tls_serial}", server.url),
        None,
    );
    assert!(rec["generated_on_token"].is_string(), "{rec}");
    // A key the token made for a refused attempt is certified as it is; an
    // --algorithm naming another kind is refused, and the key stays.
    sym!(
        dir,
        "token generate --token t.tok --slot left --algorithm rsa-2048"
    );
    let r = issue("left", "p384", "client", "CN=Rob");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("holds a rsa-2048 key"), "{}", r.stderr);
    // Ed25519 for a client; not for a server.
    let r = issue("ed", "ed25519", "client", "CN=Erin");
    assert_eq!(r.code, 0, "{}", r.stderr);
    pkilint(dir, "ed.crt");
    let r = issue("ed-tls", "ed25519", "server", "CN=ed.example");
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("allowed for server"), "{}", r.stderr);
    // A station-made EC key: reserved, certified, wrapped into the token
    // (its origin the station), wiped at the station.
    let r = sym(
        dir,
        &server,
        "--json issue --issuer st --token t.tok",
        &words!["--slot st-ec --algorithm p384 --identity CN=Frank"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let info = sym!(dir, "--json token info --token t.tok").json();
    let slot = info["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "st-ec")
        .unwrap()
        .clone();
    assert_eq!(slot["algorithm"], "p384", "{slot}");
    assert_eq!(slot["origin"]["kind"], "issuer", "{slot}");
    assert_eq!(slot["has_certificate"], true, "{slot}");

    // Renewal: the old EC key authorises the new one (same curve by
    // default, another on request).
    let r = sym(
        dir,
        &server,
        "--json renew --issuer st --token t.tok --slot tls --new-slot tls-2",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["renews"], tls_serial.as_str());
    let pk = sym!(dir, "token public-key --token t.tok --slot tls-2");
    assert_eq!(
        PublicKey::from_pem_or_der(&pk.stdout).unwrap().curve(),
        Some(EcCurve::P256)
    );
    let r = sym(
        dir,
        &server,
        "renew --issuer st --token t.tok --slot ed --new-slot ed-2 --algorithm p384",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The subscriber revokes with the EC key in its token.
    let r = sym(
        dir,
        &server,
        "--json revoke --token t.tok --slot ed-2 --reason keyCompromise",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let serial = r.json()["serial"].as_str().unwrap().to_string();
    let (_, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{serial}", server.url),
        None,
    );
    assert_eq!(rec["status"], "revoked", "{rec}");
    sym!(dir, "audit verify --data data");
}
