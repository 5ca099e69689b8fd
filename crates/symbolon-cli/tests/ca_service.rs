//! The certification service end to end: `symbolon serve`, the station
//! (`symbolon issue`), OpenSSL and pkilint as the independent judges, and
//! every refusal path over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn issue(dir: &std::path::Path, ca: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "issue",
        "--ca",
        ca,
        "--ca-cert",
        "root.pem",
        "--issuer",
        "st",
        "--token",
        "t.tok",
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn last_audit(server: &Server) -> Value {
    let (_, v) = http("GET", &format!("{}/v1/audit?limit=1000", server.url), None);
    v["entries"].as_array().unwrap().last().unwrap().clone()
}

/// The last audit entry of `kind`.
fn last_of_kind(server: &Server, kind: &str) -> Value {
    let (_, v) = http("GET", &format!("{}/v1/audit?limit=1000", server.url), None);
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry"))
        .clone()
}

#[test]
fn issuance_end_to_end_verifies_with_openssl() {
    if !have_openssl() {
        return;
    }
    let (d, server) = service_with_station();
    let dir = d.path();

    // Embodiments 1 and 2: the station generates, the token receives.
    let r = issue(
        dir,
        &server.url,
        &words![
            "--slot mail --identity",
            ["CN=Alice Example,O=Example"],
            "--role email --csr-out mail.csr --out mail.crt --json"
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["generated_on_token"], false);
    std::fs::write(
        dir.join("chain.pem"),
        std::fs::read(dir.join("data/chain.pem")).unwrap(),
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&openssl(
        dir,
        &words!["verify -CAfile root.pem -untrusted chain.pem mail.crt"]
    ))
    .contains("OK"));
    openssl(dir, &["req", "-in", "mail.csr", "-verify", "-noout"]);
    for cert in ["mail.crt", "root.pem"] {
        openssl(dir, &["x509", "-in", cert, "-noout", "-text"]);
        pkilint(dir, cert);
    }
    let text = String::from_utf8_lossy(&openssl(
        dir,
        &["x509", "-in", "mail.crt", "-noout", "-text"],
    ))
    .into_owned();
    assert!(
        text.contains("E-mail Protection")
            && text.contains("Non Repudiation")
            && text.contains("CA:FALSE"),
        "{text}"
    );
    // The token holds the key and the certificate; its signatures verify against the certificate.
    assert_eq!(
        sym!(dir, "token certificate --token t.tok --slot mail").stdout,
        std::fs::read(dir.join("mail.crt")).unwrap()
    );
    std::fs::write(dir.join("m"), b"I agree").unwrap();
    sym!(
        dir,
        "token sign --token t.tok --slot mail --in m --out m.sig"
    );
    std::fs::write(
        dir.join("mail.pub"),
        openssl(dir, &["x509", "-in", "mail.crt", "-pubkey", "-noout"]),
    )
    .unwrap();
    openssl(
        dir,
        &words!["dgst -sha256 -verify mail.pub -signature m.sig m"],
    );
    let info = sym!(dir, "--json token info --token t.tok").json();
    assert_eq!(info["slots"][0]["origin"]["kind"], "issuer");

    // The registry knows it.
    let serial = v["serial"].as_str().unwrap();
    let (status, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{serial}", server.url),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(rec["profile"], "email");
    let fp = v["fingerprint"].as_str().unwrap();
    let (_, key) = http("GET", &format!("{}/v1/keys/{fp}", server.url), None);
    assert_eq!(key["state"], "certified");
    assert_eq!(last_audit(&server)["kind"], "issuance-completed");

    // Embodiment 4: the token generates and attests; a server certificate needs that.
    let r = issue(
        dir,
        &server.url,
        &words!["--slot tls --identity CN=alice.example --role server --on-token"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("not registered"), "{}", r.stderr);
    register_token(dir, &server, "t.tok");
    let r = issue(
        dir,
        &server.url,
        &words![
            "--slot tls --identity CN=alice.example --role server --on-token --out tls.crt --json"
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    openssl(dir, &["verify", "-CAfile", "root.pem", "tls.crt"]);
    pkilint(dir, "tls.crt");
    let serial = r.json()["serial"].as_str().unwrap().to_string();
    let (_, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{serial}", server.url),
        None,
    );
    assert_eq!(rec["generated_on_token"], info["serial"]);
    // Without attestation a server role is refused.
    let r = issue(
        dir,
        &server.url,
        &words!["--slot tls2 --identity CN=alice.example --role server"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("attested"), "{}", r.stderr);
    // The refusal abandoned the reservation: the key can never come back.
    assert_eq!(last_audit(&server)["kind"], "reservation-abandoned");

    sym!(dir, "audit verify --data data");
}

/// A PKCS#10 request made by OpenSSL for `key`, subject `subj`.
fn openssl_csr(dir: &std::path::Path, key: &str, subj: &str, out: &str) -> String {
    openssl(
        dir,
        &["req", "-new", "-key", key, "-subj", subj, "-out", out],
    );
    std::fs::read_to_string(dir.join(out)).unwrap()
}

#[test]
fn every_refusal_is_clear_and_writes_only_its_audit_entry() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let url = format!("{}/v1/certify", server.url);
    openssl(
        dir,
        &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.key"],
    );
    let csr = openssl_csr(dir, "k.key", "/CN=Bob", "k.csr");

    let refusals: Vec<(Value, u16, &str)> = {
        openssl(
            dir,
            &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out small.key"],
        );
        openssl(
            dir,
            &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 -out e3.key"],
        );
        // A huge public exponent: well formed, refused as a weak key (the
        // usual sign of a Wiener-range private exponent), not as malformed.
        openssl(
            dir,
            &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:0x10000000000000001 -out hugee.key"],
        );
        let hugee = openssl_csr(dir, "hugee.key", "/CN=Bob", "hugee.csr");
        let small = openssl_csr(dir, "small.key", "/CN=Bob", "small.csr");
        let e3 = openssl_csr(dir, "e3.key", "/CN=Bob", "e3.csr");
        openssl(
            dir,
            &words!["req -new -key k.key -subj /CN=Bob -sha1 -out sha1.csr"],
        );
        let sha1 = std::fs::read_to_string(dir.join("sha1.csr")).unwrap();
        // A signature that does not verify: flip a byte inside the signature.
        let der = openssl(dir, &["req", "-in", "k.csr", "-outform", "DER"]);
        let mut bad = der.clone();
        let n = bad.len();
        bad[n - 10] ^= 0x01;
        let bad_pem = symbolon::pem::encode("CERTIFICATE REQUEST", &bad);
        vec![
            (
                json!({ "csr": "not pem", "identity": "CN=Bob" }),
                400,
                "invalid_request",
            ),
            (
                json!({ "csr": symbolon::pem::encode("CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x00"), "identity": "CN=Bob" }),
                400,
                "invalid_request",
            ),
            (
                json!({ "csr": bad_pem, "identity": "CN=Bob" }),
                400,
                "bad_csr_signature",
            ),
            (
                json!({ "csr": csr, "identity": "CN=Mallory" }),
                400,
                "identity_mismatch",
            ),
            (
                json!({ "csr": csr, "identity": "not a name" }),
                400,
                "invalid_request",
            ),
            (
                json!({ "csr": small, "identity": "CN=Bob" }),
                400,
                "weak_key",
            ),
            (json!({ "csr": e3, "identity": "CN=Bob" }), 400, "weak_key"),
            (
                json!({ "csr": hugee, "identity": "CN=Bob" }),
                400,
                "weak_key",
            ),
            (
                json!({ "csr": sha1, "identity": "CN=Bob" }),
                400,
                "invalid_request",
            ),
            (
                json!({ "csr": csr, "identity": "CN=Bob", "role": "server" }),
                400,
                "attestation_required",
            ),
            (
                json!({ "csr": csr, "identity": "CN=Bob", "role": "root" }),
                400,
                "invalid_request",
            ),
            (
                json!({ "csr": csr, "identity": "CN=Bob", "attestation": { "format": "nope" } }),
                400,
                "bad_attestation",
            ),
            (
                json!({ "csr": csr, "identity": "CN=Bob", "surprise": 1 }),
                400,
                "invalid_json",
            ),
            (
                json!({ "csr": csr, "identity": "CN=Bob", "reservation": "00112233445566778899aabbccddeeff" }),
                404,
                "not_found",
            ),
        ]
    };
    for (body, status, code) in refusals {
        let before = http("GET", &format!("{}/v1/audit?limit=1000", server.url), None).1["entries"]
            .as_array()
            .unwrap()
            .len();
        let (s, v) = http("POST", &url, Some(&body));
        assert_eq!(
            (s, v["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}: {v}"
        );
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        let entries = http("GET", &format!("{}/v1/audit?limit=1000", server.url), None).1
            ["entries"]
            .as_array()
            .unwrap()
            .clone();
        // Every refusal is recorded once at the edge (caller, code, a
        // digest of the input); review refusals also by the review.
        let added = &entries[before..];
        assert!(
            (1..=2).contains(&added.len()),
            "{body}: {} entries",
            added.len()
        );
        let edge = added.last().unwrap();
        assert_eq!(edge["kind"], "request-refused", "{edge}");
        let detail: serde_json::Value =
            serde_json::from_str(edge["opened"].as_str().unwrap()).unwrap();
        assert_eq!(detail["code"], code);
        assert_eq!(detail["by"]["role"], "station");
        assert_eq!(
            detail["input"]["bytes"].as_u64().unwrap() as usize,
            body.to_string().len()
        );
        if added.len() == 2 {
            assert_eq!(added[0]["kind"], "certification-refused");
        }
    }
    // A weak key's refusal names its class: a 1024-bit modulus is a size.
    let small_csr = std::fs::read_to_string(dir.join("small.csr")).unwrap();
    let (_, v) = http(
        "POST",
        &url,
        Some(&json!({ "csr": small_csr, "identity": "CN=Bob" })),
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("(size)"),
        "{v}"
    );
    // Nothing was certified.
    let fp = {
        let pk = openssl(dir, &["pkey", "-in", "k.key", "-pubout"]);
        symbolon::keys::RsaPublicKey::from_pem_or_der(&pk)
            .unwrap()
            .fingerprint()
    };
    assert_eq!(
        http("GET", &format!("{}/v1/keys/{fp}", server.url), None).0,
        404
    );

    // Reservations: an unknown one is not found, a closed one is closed,
    // and a weak key is never reserved (refused and audited).
    let abandon = |id: &str| {
        http(
            "POST",
            &format!("{}/v1/reservations/{id}/abandon", server.url),
            Some(&json!({ "reason": "station failed" })),
        )
    };
    let (s, v) = abandon("00112233445566778899aabbccddeeff");
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap()),
        (404, "not_found"),
        "{v}"
    );
    let reserve = |key: &str| {
        let pem = String::from_utf8(openssl(dir, &["pkey", "-in", key, "-pubout"])).unwrap();
        http(
            "POST",
            &format!("{}/v1/reservations", server.url),
            Some(&json!({ "public_key": pem })),
        )
    };
    let (s, v) = reserve("k.key");
    assert_eq!(s, 201, "{v}");
    let id = v["reservation"].as_str().unwrap().to_string();
    assert_eq!(abandon(&id).0, 200);
    let (s, v) = abandon(&id);
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap()),
        (409, "reservation_closed"),
        "{v}"
    );
    for weak in ["e3.key", "small.key", "hugee.key"] {
        let (s, v) = reserve(weak);
        assert_eq!(
            (s, v["error"]["code"].as_str().unwrap()),
            (400, "weak_key"),
            "{weak}: {v}"
        );
    }
    // The same key as PKCS#1 (`RSA PUBLIC KEY`) is refused the same way.
    let pkcs1 =
        String::from_utf8(openssl(dir, &["rsa", "-in", "e3.key", "-RSAPublicKey_out"])).unwrap();
    let (s, v) = http(
        "POST",
        &format!("{}/v1/reservations", server.url),
        Some(&json!({ "public_key": pkcs1 })),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap()),
        (400, "weak_key"),
        "PKCS#1: {v}"
    );

    // Oversized and malformed bodies, unknown endpoints.
    let huge = json!({ "csr": "A".repeat(100_000), "identity": "CN=Bob" });
    let (s, v) = http("POST", &url, Some(&huge));
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap()),
        (413, "payload_too_large")
    );
    assert_eq!(
        http("GET", &format!("{}/v1/nothing", server.url), None).0,
        404
    );
    assert_eq!(
        http("GET", &format!("{}/v1/certificates/zz", server.url), None).0,
        404
    );
    assert_eq!(
        http("GET", &format!("{}/v1/keys/nonsense", server.url), None).0,
        400
    );

    // The CLI says the same.
    ok(
        dir,
        &words!["ca certificate --ca", &server.url, "--out", "root.pem"],
    );
    sym!(dir, "issuer init --issuer st");
    sym!(dir, "token init --token t.tok");
    let r = issue(dir, &server.url, &["--slot", "s", "--identity", "CN=Bob"]);
    assert_eq!(
        r.code, 5,
        "the token does not trust the station: {}",
        r.stderr
    );
    assert!(r.stderr.contains("not trusted"), "{}", r.stderr);
    let r = issue(
        dir,
        "https://127.0.0.1:9",
        &["--slot", "s", "--identity", "CN=Bob"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot reach the service"),
        "{}",
        r.stderr
    );

    sym!(dir, "audit verify --data data");
}

#[test]
fn one_key_one_certificate_under_a_race() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    openssl(
        dir,
        &words!["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k.key"],
    );
    let csr = openssl_csr(dir, "k.key", "/CN=Carol", "k.csr");
    let body = json!({ "csr": csr, "identity": "CN=Carol" });
    let url = format!("{}/v1/certify", server.url);
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|_| s.spawn(|| http("POST", &url, Some(&body))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let issued = results.iter().filter(|(s, _)| *s == 200).count();
    let dup = results
        .iter()
        .filter(|(s, v)| *s == 409 && v["error"]["code"] == "duplicate_key")
        .count();
    assert_eq!((issued, dup), (1, 23), "{results:?}");
    // The same key in another encoding of the request, later: still refused.
    openssl(
        dir,
        &words!["req -new -key k.key -subj /CN=Carol -sha512 -out k2.csr"],
    );
    let (s, v) = http(
        "POST",
        &url,
        Some(
            &json!({ "csr": std::fs::read_to_string(dir.join("k2.csr")).unwrap(), "identity": "CN=Carol" }),
        ),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap()),
        (409, "duplicate_key")
    );
    sym!(dir, "audit verify --data data");
}

#[test]
fn the_service_stops_gracefully_and_keeps_its_state() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut server = Server::start(dir, "data");
    let (s, v) = http("GET", &format!("{}/v1/health", server.url), None);
    assert_eq!((s, v["status"].as_str().unwrap()), (200, "ok"));
    let (_, doc) = http("GET", &format!("{}/v1/openapi.json", server.url), None);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/certify"]["post"].is_object());
    let root = http("GET", &format!("{}/v1/ca/certificate", server.url), None).1["root"]
        .as_str()
        .unwrap()
        .to_string();
    let pid = rustix::process::Pid::from_raw(server.child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(server.child.wait().unwrap().success());
    // A second start reuses the CA.
    let again = Server::start(dir, "data");
    assert_eq!(
        http("GET", &format!("{}/v1/ca/certificate", again.url), None).1["root"]
            .as_str()
            .unwrap(),
        root
    );
    assert_eq!(sym!(dir, "ca certificate --data data").text(), root);
}

/// What the man in the middle does to `/v1/certify` answers.
#[derive(Clone, Copy, PartialEq)]
enum Meddle {
    FlipSignature,
    ReplayFirst,
}

/// A TLS certificate and key for 127.0.0.1 from OpenSSL (the proxy's,
/// under a root of its own): `proxy.crt`, `proxy.key`.
fn proxy_identity(dir: &std::path::Path) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    openssl(
        dir,
        &words!["req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=proxy -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth -keyout proxy.key -out proxy.crt"],
    );
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("proxy.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("proxy.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// A one-request-per-connection HTTPS relay in front of the CA that
/// meddles with certification responses: an attacker that holds a TLS
/// certificate the station accepts (a TLS-terminating proxy, a mis-issued
/// certificate) and a station credential of its own. Only the signatures
/// on the answers stand between it and the token.
fn start_proxy(
    upstream: String,
    mode: Meddle,
    tls: std::sync::Arc<rustls::ServerConfig>,
) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut first: Option<String> = None;
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let conn = rustls::ServerConnection::new(std::sync::Arc::clone(&tls)).unwrap();
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            let mut reader = BufReader::new(&mut stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            drop(reader);
            let mut parts = request_line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap().to_string(),
                parts.next().unwrap().to_string(),
            );
            let url = format!("{upstream}{path}");
            let (status, mut value) = if method == "GET" {
                http("GET", &url, None)
            } else {
                http("POST", &url, Some(&serde_json::from_slice(&body).unwrap()))
            };
            if path == "/v1/certify" && status == 200 {
                match mode {
                    Meddle::FlipSignature => {
                        use base64::Engine;
                        let b64 = base64::engine::general_purpose::STANDARD;
                        let mut sig = b64.decode(value["signature"].as_str().unwrap()).unwrap();
                        sig[7] ^= 0x20;
                        value["signature"] = b64.encode(sig).into();
                    }
                    Meddle::ReplayFirst => match &first {
                        Some(old) => value = serde_json::from_str(old).unwrap(),
                        None => first = Some(value.to_string()),
                    },
                }
            }
            let text = value.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.flush();
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    });
    format!("https://{addr}")
}

#[test]
fn tampered_and_replayed_responses_are_refused_by_the_station() {
    let (d, server) = service_with_station();
    let dir = d.path();
    let slots = |dir: &std::path::Path| {
        sym!(dir, "--json token info --token t.tok").json()["slots"]
            .as_array()
            .unwrap()
            .len()
    };

    let tls = proxy_identity(dir);
    // The station accepts the proxy's TLS certificate (--tls-ca) but checks
    // every answer against the CA it pins (--ca-cert).
    let via = |proxy: &str, extra: &[&str]| {
        let mut args = vec!["--tls-ca", "proxy.crt"];
        args.extend_from_slice(extra);
        issue(dir, proxy, &args)
    };
    // Without --tls-ca the proxy's certificate is refused at the handshake.
    let proxy = start_proxy(server.url.clone(), Meddle::FlipSignature, tls.clone());
    let r = issue(dir, &proxy, &["--slot", "a", "--identity", "CN=Dave"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);
    assert_eq!(slots(dir), 0);
    let r = via(&proxy, &["--slot", "a", "--identity", "CN=Dave"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    assert_eq!(slots(dir), 0, "nothing may reach the token");
    // The station reports the failure (its attempt to give up the
    // reservation the CA already used is refused, and audited, after it).
    let last = last_of_kind(&server, "issuance-completed");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("\"delivered\":false"),
        "{last}"
    );

    let proxy = start_proxy(server.url.clone(), Meddle::ReplayFirst, tls);
    let r = via(&proxy, &["--slot", "b", "--identity", "CN=Dave"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = via(&proxy, &["--slot", "c", "--identity", "CN=Dave"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("replayed"), "{}", r.stderr);
    assert_eq!(slots(dir), 1, "only the honest issuance reached the token");

    // A root the station does not trust: every response is refused.
    ok(
        dir,
        &words!["ca init --data other --subject", ["CN=Other CA"]],
    );
    sym!(dir, "ca certificate --data other --out other.pem");
    let chain = server.ca_cert.to_str().unwrap();
    let r = run(
        dir,
        &words![
            "--tls-ca",
            chain,
            "issue --ca",
            &server.url,
            "--ca-cert other.pem --issuer st --token t.tok --slot d --identity CN=Dave"
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("not the pinned one"), "{}", r.stderr);
    assert_eq!(slots(dir), 1);
    sym!(dir, "audit verify --data data");
}

#[test]
fn the_station_key_appears_nowhere_but_in_the_token() {
    let (d, server) = service_with_station();
    let dir = d.path();
    let mut cmd = Command::new(bin());
    service_env(dir, &mut cmd);
    let out = succeeded(
        cmd.args([
            "issue",
            "--ca",
            &server.url,
            "--ca-cert",
            "root.pem",
            "--issuer",
            "st",
            "--token",
            "t.tok",
            "--slot",
            "k",
            "--identity",
            "CN=Erin",
            "--json",
        ])
        .current_dir(dir)
        .env("SYMBOLON_LOG", "trace"),
    );
    let mut outputs = out.stdout.clone();
    outputs.extend_from_slice(&out.stderr);
    let (_, audit) = http("GET", &format!("{}/v1/audit?limit=1000", server.url), None);
    outputs.extend_from_slice(audit.to_string().as_bytes());
    drop(server);

    // Whatever the key's bytes were, every private-key encoding starts with
    // one of these shapes; none may appear in the clear anywhere.
    for (what, pat) in STRUCTURES {
        assert!(!find(&outputs, pat), "the station's output holds a {what}");
    }
    let mut scanned = 0;
    for path in walk(dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("sealing-key") {
            continue; // sealing keys are what they are; the token's files are sealed under them
        }
        let data = std::fs::read(&path).unwrap();
        for (what, pat) in STRUCTURES {
            assert!(!find(&data, pat), "{} holds a {what}", path.display());
        }
        scanned += 1;
    }
    assert!(scanned >= 8, "only {scanned} files scanned");
}

#[test]
fn a_subordinate_ca_under_an_external_root_and_a_local_station() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    use_test_database(dir);
    // The external parent: a root made by OpenSSL.
    openssl(
        dir,
        &words!["req -x509 -newkey rsa:3072 -nodes -keyout parent.key -subj", ["/CN=External Root"], "-days 30 -out parent.crt -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign"],
    );
    ok(
        dir,
        &words![
            "ca init --data data --subject",
            ["CN=Issuing CA,O=Example"],
            "--parent-csr",
            "issuing.csr"
        ],
    );
    openssl(dir, &["req", "-in", "issuing.csr", "-verify", "-noout"]);
    sym_fails!(
        dir,
        "serve --data data --listen 127.0.0.1:0",
        1,
        "no certificate yet"
    );
    std::fs::write(dir.join("ext.cnf"), "basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n").unwrap();
    parent_signs(dir, "ext.cnf", "issuing.crt");
    // Wrong inputs first: a leaf-like certificate, a chain that does not link.
    std::fs::write(
        dir.join("leafext.cnf"),
        "basicConstraints=critical,CA:false\n",
    )
    .unwrap();
    parent_signs(dir, "leafext.cnf", "notca.crt");
    sym_fails!(
        dir,
        "ca import-cert --data data --in notca.crt --chain parent.crt",
        1,
        "not a CA certificate"
    );
    openssl(
        dir,
        &words!["req -x509 -newkey rsa:2048 -nodes -keyout o.key -subj /CN=Other -days 3 -out other.crt"],
    );
    sym_fails!(
        dir,
        "ca import-cert --data data --in issuing.crt --chain other.crt",
        1,
        "does not link"
    );
    sym!(
        dir,
        "ca import-cert --data data --in issuing.crt --chain parent.crt"
    );

    // A station using the CA in its own process (--ca local:DIR), trusting the external root.
    local_station_vets(dir, "data");
    station_trusted_by_token(dir);
    let r = run(
        dir,
        &words!["issue --ca local:data --ca-cert parent.crt --issuer st --token t.tok --slot k --identity CN=Frank --out frank.crt"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = openssl(
        dir,
        &words!["verify -CAfile parent.crt -untrusted data/chain.pem frank.crt"],
    );
    assert!(String::from_utf8_lossy(&out).contains("OK"));
    pkilint(dir, "frank.crt");
    sym!(dir, "audit verify --data data");
}

/// The external parent (OpenSSL) signs the issuing CA's request with `extfile`.
fn parent_signs(dir: &std::path::Path, extfile: &str, out: &str) {
    openssl(
        dir,
        &words!["x509 -req -in issuing.csr -CA parent.crt -CAkey parent.key -CAcreateserial -days 30 -extfile", extfile, "-out", out],
    );
}
