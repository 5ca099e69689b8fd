//! The edge, tried as an outsider would (docs/access.md): every
//! state-changing endpoint refuses anonymous callers, the wrong role and
//! another party's objects, and audits each refusal; the attacks that worked
//! before authentication now fail and leave the legitimate flow working; TLS
//! as OpenSSL and curl see it; the HTTP hardening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use symbolon_client::ServiceClient;

/// The audit entries, as the test auditor reads them.
fn audit(server: &Server) -> Vec<Value> {
    let (s, v) = http("GET", &format!("{}/v1/audit?limit=1000", server.url), None);
    assert_eq!(s, 200, "{v}");
    v["entries"].as_array().unwrap().clone()
}

/// A refusal, and its audit entry: status, code, who.
#[track_caller]
fn refused(
    server: &Server,
    client: &ServiceClient,
    method: &str,
    path: &str,
    body: &Value,
    status: u16,
    code: &str,
) {
    let before = audit(server).len();
    let (s, v) = request(client, method, path, Some(body));
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap_or("")),
        (status, code),
        "{method} {path}: {v}"
    );
    let message = v["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty() && !message.contains("panicked"));
    let entries = audit(server);
    let added: Vec<&Value> = entries[before..]
        .iter()
        .filter(|e| e["kind"] == "request-refused")
        .collect();
    assert_eq!(added.len(), 1, "{method} {path}: one refusal entry");
    let d: Value = serde_json::from_str(added[0]["opened"].as_str().unwrap()).unwrap();
    assert_eq!(d["code"], code);
    assert_eq!(d["status"], status);
    assert!(d["input"]["sha256"].is_string());
}

#[test]
fn every_state_change_needs_the_right_caller_and_its_own_objects() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let anonymous = server.client(None);
    let station = server.client(Some(&server.station_http));
    let other = credential(dir, &server, "station", "other-station");
    let other = server.client(Some(&dir.join(other)));
    let mallory = credential(dir, &server, "arbitrator", "mallory");
    let mallory = server.client(Some(&dir.join(mallory)));
    let auditor = credential(dir, &server, "auditor", "aud");
    let auditor = server.client(Some(&dir.join(auditor)));

    // The rows: endpoint, a body, the anonymous answer, a wrong role.
    let key = openssl_public_key(dir, "k1");
    let rows: Vec<(&str, String, Value, &ServiceClient)> = vec![
        (
            "POST",
            "/v1/certify".into(),
            json!({ "csr": openssl_csr(dir, "c1"), "identity": "CN=c1" }),
            &mallory,
        ),
        (
            "POST",
            "/v1/reservations".into(),
            json!({ "public_key": key }),
            &auditor,
        ),
        (
            "POST",
            "/v1/tokens".into(),
            json!({ "serial": "00", "device_key": "x" }),
            &mallory,
        ),
        (
            "POST",
            "/v1/arbitrators".into(),
            json!({ "id": "x", "share_recipient": "x", "approval_key": "x" }),
            &station,
        ),
        (
            "POST",
            "/v1/escrows".into(),
            json!({ "record": "", "envelopes": {} }),
            &mallory,
        ),
        (
            "POST",
            "/v1/recovery".into(),
            json!({ "key": "x", "reason": "x", "target": "x", "slot": "x" }),
            &auditor,
        ),
        (
            "POST",
            "/v1/recovery/00/approvals".into(),
            json!({ "approval": "" }),
            &station,
        ),
        (
            "POST",
            "/v1/recovery/00/complete".into(),
            json!({ "sequence": 1 }),
            &mallory,
        ),
        (
            "POST",
            "/v1/reservations/00/abandon".into(),
            json!({ "reason": "x" }),
            &auditor,
        ),
        (
            "POST",
            "/v1/certificates/00/delivery".into(),
            json!({ "delivered": true }),
            &mallory,
        ),
        (
            "POST",
            "/v1/admin/grants".into(),
            json!({ "role": "station", "name": "x" }),
            &station,
        ),
        (
            "POST",
            "/v1/admin/credentials/00/revoke".into(),
            json!({}),
            &auditor,
        ),
        ("POST", "/v1/joint/messages".into(), json!({}), &auditor),
    ];
    for (method, path, body, wrong) in &rows {
        refused(
            &server,
            &anonymous,
            method,
            path,
            body,
            401,
            "unauthenticated",
        );
        if !std::ptr::eq(*wrong, &anonymous) {
            refused(&server, wrong, method, path, body, 403, "forbidden");
        }
    }
    // Reading the audit log and the credential list: auditors and admins.
    let (s, v) = request(&station, "GET", "/v1/audit", None);
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = request(&anonymous, "GET", "/v1/admin/credentials", None);
    assert_eq!(s, 401);
    let (s, v) = request(&auditor, "GET", "/v1/admin/credentials", None);
    assert_eq!(s, 200, "{v}");
    // What is public stays public.
    for path in [
        "/v1/health",
        "/v1/ca/certificate",
        "/v1/openapi.json",
        "/v1/recovery/enclave",
    ] {
        let (s, _) = request(&anonymous, "GET", path, None);
        assert_eq!(s, 200, "{path}");
    }

    // Reservations belong to their station (the squatting of a key by
    // someone else's reservation needs a station credential now, and what
    // it reserves only it can abandon or certify against).
    let (s, v) = request(
        &station,
        "POST",
        "/v1/reservations",
        Some(&json!({ "public_key": key })),
    );
    assert_eq!(s, 201, "{v}");
    let id = v["reservation"].as_str().unwrap().to_string();
    refused(
        &server,
        &other,
        "POST",
        &format!("/v1/reservations/{id}/abandon"),
        &json!({ "reason": "squat" }),
        403,
        "forbidden",
    );
    let (s, v) = request(
        &station,
        "POST",
        &format!("/v1/reservations/{id}/abandon"),
        Some(&json!({ "reason": "done" })),
    );
    assert_eq!(s, 200, "{v}");

    // A certificate's delivery is reported by its station, once.
    let (s, v) = request(
        &station,
        "POST",
        "/v1/certify",
        Some(&json!({ "csr": openssl_csr(dir, "c2"), "identity": "CN=c2" })),
    );
    assert_eq!(s, 200, "{v}");
    let serial = v["serial"].as_str().unwrap().to_string();
    let delivery = format!("/v1/certificates/{serial}/delivery");
    refused(
        &server,
        &other,
        "POST",
        &delivery,
        &json!({ "delivered": true }),
        403,
        "forbidden",
    );
    let (s, v) = request(
        &station,
        "POST",
        &delivery,
        Some(&json!({ "delivered": true })),
    );
    assert_eq!(s, 200, "{v}");
    refused(
        &server,
        &station,
        "POST",
        &delivery,
        &json!({ "delivered": false, "reason": "contradiction" }),
        409,
        "already_used",
    );
    let completed = audit(&server)
        .iter()
        .filter(|e| e["kind"] == "issuance-completed")
        .count();
    assert_eq!(completed, 1, "one delivery record, not three");

    // Every entry the service appended for a caller names it.
    for e in audit(&server) {
        let kind = e["kind"].as_str().unwrap();
        let detail: Value = serde_json::from_str(e["opened"].as_str().unwrap()).unwrap();
        if [
            "key-reserved",
            "certificate-issued",
            "issuance-completed",
            "reservation-abandoned",
        ]
        .contains(&kind)
            && detail["purpose"] != "service-tls"
        {
            assert_eq!(detail["by"]["role"], "station", "{e}");
        }
    }
    sym!(dir, "audit verify --data data");
}

#[test]
fn squatting_an_arbitrator_name_fails_and_the_real_one_registers() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    // Mallory makes an identity under the name the card company will use.
    let real = sym!(
        dir,
        "--json arbitrator init --arbitrator arb/card-company --name card-company"
    )
    .json();
    sym!(
        dir,
        "arbitrator init --arbitrator arb/mallory --name card-company"
    );
    // Mallory's identity is named card-company; her credential is hers.
    arbitrator_credential(dir, &server, "mallory", "arb/mallory");
    fails(
        dir,
        &words![
            "arbitrator register --arbitrator arb/mallory --ca",
            &server.url
        ],
        5,
        "bound to the arbitrator mallory",
    );
    // A station cannot register one either (the credential in the
    // environment is the test station's).
    sym!(dir, "arbitrator init --arbitrator arb/st --name x");
    fails(
        dir,
        &words!["arbitrator register --arbitrator arb/st --ca", &server.url],
        5,
        "is for arbitrator",
    );
    // A name holds one role: card-company cannot be granted as a station.
    arbitrator_credential(dir, &server, "card-company", "arb/card-company");
    let r = run(
        dir,
        &words![
            "admin grant --ca",
            &server.url,
            "--credential",
            server.admin.to_str().unwrap(),
            "--role station --name card-company"
        ],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("holds one role"), "{}", r.stderr);
    // The real one registers, and its share recipient is its own.
    ok(
        dir,
        &words![
            "arbitrator register --arbitrator arb/card-company --ca",
            &server.url
        ],
    );
    let (s, v) = http(
        "GET",
        &format!("{}/v1/arbitrators/card-company", server.url),
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(v["share_recipient"], real["share_recipient"]);
    sym!(dir, "audit verify --data data");
}

#[test]
fn credentials_are_single_use_codes_and_revocation_takes_effect() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let admin = server.admin.to_str().unwrap().to_string();
    let grant = |role: &str, name: &str| {
        ok(
            dir,
            &words![
                "--json admin grant --ca",
                &server.url,
                "--credential",
                &admin,
                "--role",
                role,
                "--name",
                name
            ],
        )
        .json()["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The in-process station's name is the service's own.
    let r = run(
        dir,
        &words![
            "admin grant --ca",
            &server.url,
            "--credential",
            &admin,
            "--role station --name local-station"
        ],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("the service's own"), "{}", r.stderr);
    let code = grant("station", "st-9");
    // The code is a bearer secret: the registry keeps only its digest.
    if !postgres_mode() {
        let plain = code.replace('-', "");
        for f in ["registry.db", "registry.db-wal"] {
            let bytes = std::fs::read(dir.join("data").join(f)).unwrap_or_default();
            assert!(!find(&bytes, plain.as_bytes()), "the code is in {f}");
            assert!(!find(&bytes, code.as_bytes()), "the code is in {f}");
        }
    }
    sym!(dir, "token init --token a.tok");
    sym!(dir, "token init --token b.tok");
    ok(
        dir,
        &words!["enroll --ca", &server.url, "--code", &code, "--token a.tok"],
    );
    // Used once; a guess is refused the same way; nothing is recorded.
    let before = audit(&server).len();
    fails(
        dir,
        &words!["enroll --ca", &server.url, "--code", &code, "--token b.tok"],
        5,
        "unknown, used or expired",
    );
    fails(
        dir,
        &words![
            "enroll --ca",
            &server.url,
            "--code 0000-0000-0000-0000-0000-0000-0000-0000 --token b.tok"
        ],
        5,
        "unknown, used or expired",
    );
    let after = audit(&server);
    assert!(after[before..]
        .iter()
        .all(|e| e["kind"] == "request-refused"));
    // The key stays in the token: the credential is the token.
    let info = sym!(dir, "--json token info --token a.tok").json();
    assert_eq!(info["slots"][0]["name"], "operator");
    let st9 = server.client(Some(&dir.join("a.tok")));
    let key = openssl_public_key(dir, "r1");
    let (s, v) = request(
        &st9,
        "POST",
        "/v1/reservations",
        Some(&json!({ "public_key": key })),
    );
    assert_eq!(s, 201, "{v}");
    // Listed, then revoked: refused from the next connection on.
    let list = ok(
        dir,
        &words![
            "--json admin list --ca",
            &server.url,
            "--credential",
            &admin
        ],
    )
    .json();
    let serial = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "st-9")
        .unwrap()["serial"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        dir,
        &words![
            "admin revoke-credential --ca",
            &server.url,
            "--credential",
            &admin,
            "--serial",
            &serial
        ],
    );
    let fresh = common::client_for(&server.url, &server.ca_cert, Some(&dir.join("a.tok")));
    let key = openssl_public_key(dir, "r2");
    let (s, v) = request(
        &fresh,
        "POST",
        "/v1/reservations",
        Some(&json!({ "public_key": key })),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "{v}"
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("revoked"));
    // The last admin cannot be revoked away.
    let admin_serial = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == "admin")
        .unwrap()["serial"]
        .as_str()
        .unwrap()
        .to_string();
    fails(
        dir,
        &words![
            "admin revoke-credential --ca",
            &server.url,
            "--credential",
            &admin,
            "--serial",
            &admin_serial
        ],
        5,
        "last active admin",
    );
    sym!(dir, "audit verify --data data");
}

#[test]
fn refusals_cannot_fill_the_registry() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let station = server.client(Some(&server.station_http));
    let anonymous = server.client(None);
    let detail_bytes = |server: &Server| -> usize {
        audit(server)
            .iter()
            .map(|e| e["detail"].as_str().unwrap().len() + e["kind"].as_str().unwrap().len())
            .sum()
    };
    let before = detail_bytes(&server);
    let huge = format!("CN={}", "A".repeat(63 * 1024));
    for i in 0..30 {
        let body = json!({ "csr": "x", "identity": huge });
        let who = if i % 2 == 0 { &station } else { &anonymous };
        let (s, _) = request(who, "POST", "/v1/certify", Some(&body));
        assert!(s == 400 || s == 401, "{s}");
    }
    let grown = detail_bytes(&server) - before;
    assert!(
        grown / 30 < 600,
        "a refused request added {} bytes to the log",
        grown / 30
    );
}

#[test]
fn browsers_cannot_post_and_half_sent_requests_are_dropped() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let station = server.client(Some(&server.station_http));
    let body = br#"{"public_key":"x"}"#.to_vec();

    // A cross-site form (text/plain), and JSON with a foreign Origin.
    let before = audit(&server).len();
    let a = station
        .raw(
            "POST",
            "/v1/reservations",
            &[
                ("content-type", "text/plain"),
                ("origin", "https://evil.example"),
            ],
            body.clone(),
        )
        .unwrap();
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let a = station
        .raw(
            "POST",
            "/v1/reservations",
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
            body,
        )
        .unwrap();
    assert_eq!(a.status, 403);
    // Two Content-Types (a JSON one first) are not JSON either.
    let a = station
        .raw(
            "POST",
            "/v1/reservations",
            &[
                ("content-type", "application/json"),
                ("content-type", "text/plain"),
            ],
            br#"{"public_key":"x"}"#.to_vec(),
        )
        .unwrap();
    assert_eq!(a.status, 415);
    assert_eq!(audit(&server).len() - before, 3, "every refusal audited");
    // HEAD is a GET; a path that does not parse is answered in the JSON
    // error format like everything else.
    let anonymous = server.client(None);
    assert_eq!(
        anonymous
            .raw("HEAD", "/v1/health", &[], Vec::new())
            .unwrap()
            .status,
        200
    );
    let a = station.get("/v1/escrows/%ff").unwrap();
    assert_eq!(a.status, 400);
    assert!(a.body["error"]["code"].is_string(), "{}", a.body);
    // An error never echoes an oversized input back.
    let a = station
        .post(
            "/v1/tokens",
            &json!({ "serial": "9".repeat(60_000), "device_key": "x" }),
        )
        .unwrap();
    assert_eq!(a.status, 400);
    assert!(
        a.body.to_string().len() < 2000,
        "{} bytes",
        a.body.to_string().len()
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let addr = server.url.trim_start_matches("https://").to_string();
    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    plain
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (got, _) = read_until_closed(&mut plain);
    assert!(
        !got.starts_with(b"HTTP/1.1"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );

    // Half a TLS handshake, half a request head, half a body: the service
    // closes or answers each within its timeouts (10 s each); the wait
    // allows for any machine's speed, and the three run at once.
    let ca = server.ca_cert.clone();
    let half_handshake = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(&[0x16, 0x03, 0x01]).unwrap();
            read_until_closed(&mut s)
        }
    });
    let half_head = std::thread::spawn({
        let (addr, ca) = (addr.clone(), ca.clone());
        move || {
            let mut s = tls(&addr, &ca);
            s.write_all(b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s.flush().unwrap();
            read_until_closed(&mut s)
        }
    });
    let half_body = std::thread::spawn({
        let (addr, ca) = (addr.clone(), ca.clone());
        move || {
            let mut s = tls(&addr, &ca);
            s.write_all(
                b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\":",
            )
            .unwrap();
            s.flush().unwrap();
            read_until_closed(&mut s)
        }
    });
    for (what, t) in [("handshake", half_handshake), ("head", half_head)] {
        let (got, took) = t.join().unwrap();
        assert!(
            took < Duration::from_secs(120),
            "half a {what} held for {took:?}"
        );
        assert!(!got.starts_with(b"HTTP/1.1 2"), "{what}");
    }
    let (got, took) = half_body.join().unwrap();
    assert!(took < Duration::from_secs(120));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
}

/// Reads until the peer closes (or two minutes pass); returns what came
/// and how long it took.
fn read_until_closed(s: &mut impl Read) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while start.elapsed() < Duration::from_secs(120) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (got, start.elapsed())
}

/// A TLS connection to the service, its CA pinned, no client certificate.
fn tls(addr: &str, ca: &Path) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn tls_as_openssl_and_curl_see_it() {
    if !have_openssl() || !have_peer("curl", "curl", &["--version"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let addr = server.url.trim_start_matches("https://").to_string();
    let ca = server.ca_cert.to_str().unwrap();
    let s_client = |extra: &[&str]| {
        let mut args = vec![
            "s_client",
            "-connect",
            &addr,
            "-verify_return_error",
            "-brief",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new("openssl")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let good = s_client(&["-CAfile", ca]);
    let text =
        String::from_utf8_lossy(&good.stderr).to_string() + &String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{text}");
    assert!(text.contains("Verification: OK"), "{text}");
    // No legacy protocol.
    let old = s_client(&["-CAfile", ca, "-tls1_1"]);
    assert!(!old.status.success());
    // Without the root the handshake is refused.
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let bad = s_client(&["-CAfile", empty.to_str().unwrap()]);
    assert!(!bad.status.success());
    // curl reads the CA certificate anonymously, with the root pinned only.
    let out = succeeded(std::process::Command::new("curl").args([
        "-sS",
        "--cacert",
        ca,
        &format!("{}/v1/ca/certificate", server.url),
    ]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["root"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    // Without it, curl refuses the service.
    let out = std::process::Command::new("curl")
        .args(["-sS", &format!("{}/v1/health", server.url)])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn plain_http_only_on_loopback_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let r = run(
        dir,
        &words!["serve --data data --insecure-http --listen 0.0.0.0:0"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to serve plain HTTP"),
        "{}",
        r.stderr
    );
    assert!(!dir.join("data").exists(), "nothing was created");
    let server = Server::start(dir, "data");
    drop(server);
    for f in std::fs::read_dir(dir.join("data")).unwrap() {
        let f = f.unwrap();
        let mode = f.metadata().unwrap().permissions().mode() & 0o777;
        let name = f.file_name().to_string_lossy().to_string();
        if name.starts_with("test-") {
            continue; // made by the tests' own CLI runs
        }
        assert_eq!(mode & 0o077, 0, "{name} is {mode:o}");
    }
    let mode = std::fs::metadata(dir.join("data"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn an_operator_certificate_from_another_ca_with_its_key_in_a_token() {
    if !have_openssl() || !have_peer("curl", "curl", &["--version"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // The server key in a soft token; a certificate for it from a CA of the
    // operator's own (OpenSSL), naming 127.0.0.1.
    sym!(dir, "token init --token tls.tok");
    sym!(
        dir,
        "token generate --token tls.tok --slot tls --algorithm rsa-3072"
    );
    sym!(
        dir,
        "token public-key --token tls.tok --slot tls --out tls.pub.pem"
    );
    openssl(
        dir,
        &words![
            "req -x509 -newkey rsa:2048 -nodes -days 2 -subj",
            ["/CN=operator CA"],
            "-keyout opca.key -out opca.crt"
        ],
    );
    std::fs::write(
        dir.join("tls.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &words!["x509 -new -force_pubkey tls.pub.pem -subj /CN=127.0.0.1 -CA opca.crt -CAkey opca.key -days 2 -extfile tls.ext -out tls.crt"],
    );
    let chain = std::fs::read_to_string(dir.join("tls.crt")).unwrap()
        + &std::fs::read_to_string(dir.join("opca.crt")).unwrap();
    std::fs::write(dir.join("tls-chain.pem"), chain).unwrap();

    // A certificate for another key is refused at start, saying why.
    let r = run(
        dir,
        &words!["serve --data other --listen 127.0.0.1:0 --tls-cert opca.crt --tls-key tls.tok"],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("another key"), "{}", r.stderr);

    let (child, url) = spawn_serve(
        dir,
        &words!["--data data --tls-cert tls-chain.pem --tls-key tls.tok"],
        &[],
    );
    let _server = Killed(child);
    // The operator's CA vouches for the service; the symbolon CA does not.
    let curl = |ca: &str| {
        std::process::Command::new("curl")
            .args(["-sS", "--cacert", ca, &format!("{url}/v1/health")])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    assert!(curl("opca.crt").status.success());
    assert!(!curl("data/chain.pem").status.success());
    // Credentials are still this CA's: the admin lists them, through
    // --tls-ca for the handshake and --ca-cert for everything signed.
    let list = sym!(dir, "--json --tls-ca opca.crt admin list --ca {url} --ca-cert data/chain.pem --credential data/admin.token")
    .json();
    assert_eq!(list["credentials"][0]["role"], "admin");
    let r = run(
        dir,
        &words![
            "admin list --ca",
            &url,
            "--ca-cert data/chain.pem --credential data/admin.token"
        ],
    );
    assert_eq!(
        r.code, 1,
        "the handshake fails without --tls-ca: {}",
        r.stderr
    );
}

#[test]
fn a_caller_over_its_rate_limit_is_told_when_to_retry() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // The service again, once the test credentials exist, with an
    // anonymous allowance of one request a hundred seconds (bursts of one):
    // whatever the machine's speed, the second request in a row is over it.
    let server = Server::start(dir, "data");
    let (ca_cert, station_http) = (server.ca_cert.clone(), server.station_http.clone());
    drop(server);
    let (child, url) = spawn_serve(
        dir,
        &["--data", "data", "--anonymous-rate-limit", "0.01"],
        &[],
    );
    let _limited = Killed(child);
    let anonymous = client_for(&url, &ca_cert, None);
    let answers: Vec<_> = (0..3)
        .map(|_| anonymous.get("/v1/health").unwrap())
        .collect();
    assert_eq!(answers[0].status, 200);
    let limited = &answers[1];
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.body["error"]["code"], "rate_limited");
    let wait: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(wait >= 1, "{wait}");
    // A credential has its own bucket.
    let station = client_for(&url, &ca_cert, Some(&station_http));
    assert_eq!(station.get("/v1/keys/00").unwrap().status, 400);
}
