//! EST (RFC 7030; docs/est.md) as clients no one here wrote speak it: curl
//! posts OpenSSL requests, `openssl pkcs7` opens the answers, `openssl
//! verify` and pkilint judge the certificates. First contact with a
//! registration's single-use enrollment code, re-enrollment with the
//! current certificate over TLS, a station's credential, and the attacks:
//! a second use of a code, no or a wrong authentication, another subject,
//! weak and duplicate keys, malformed bodies, the wrong media type.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::*;
use serde_json::Value;

const B64: base64::engine::general_purpose::GeneralPurpose =
    base64::engine::general_purpose::STANDARD;

fn peers() -> bool {
    let ok = have_openssl() && have_peer("curl", "curl", &["--version"]);
    if !ok && std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the EST tests need openssl and curl");
    }
    ok
}

/// What curl got: status, headers (lower-cased names), body.
struct Got {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
    fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
    /// The request was refused with this status and code.
    #[track_caller]
    fn refused(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.message()
        );
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// The service's answer was a refusal with this status and code.
#[track_caller]
fn refused(a: &symbolon_client::client::Answer, status: u16, code: &str) {
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        a.body
    );
}

/// curl against the service, the CA pinned; `extra` adds options.
fn curl(dir: &Path, server: &Server, path: &str, extra: &[&str]) -> Got {
    let headers = dir.join("curl-headers.txt");
    let body = dir.join("curl-body.bin");
    let url = format!("{}{path}", server.url);
    let out = Command::new("curl")
        .args(["-s", "-S", "--cacert"])
        .arg(&server.ca_cert)
        .arg("-D")
        .arg(&headers)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(extra)
        .arg(&url)
        .current_dir(dir)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Got {
        status,
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// POSTs the base64 request in `csr_file` to `path`, with `auth` options.
fn post(dir: &Path, server: &Server, path: &str, csr_file: &str, auth: &[&str]) -> Got {
    let data = format!("@{csr_file}");
    let mut args = vec![
        "-H",
        "Content-Type: application/pkcs10",
        "--data-binary",
        &data,
    ];
    args.extend_from_slice(auth);
    curl(dir, server, path, &args)
}

/// An EC P-256 key `NAME.key` and its request `NAME.csr.b64` (base64 DER,
/// as EST sends it) for `subj`, with `san` as subjectAltName.
fn ec_request(dir: &Path, name: &str, subj: &str, san: &str) -> String {
    let key = format!("{name}.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
    );
    request_for(dir, name, &key, subj, san)
}

/// The request `NAME.csr.b64` for the key in `key`.
fn request_for(dir: &Path, name: &str, key: &str, subj: &str, san: &str) -> String {
    let ext = format!("subjectAltName={san}");
    let der = openssl(
        dir,
        &[
            "req", "-new", "-key", key, "-subj", subj, "-addext", &ext, "-outform", "DER",
        ],
    );
    let file = format!("{name}.csr.b64");
    std::fs::write(dir.join(&file), B64.encode(der)).unwrap();
    file
}

/// The certificates of a base64 certs-only answer, PEM, written to `out`.
fn certs_of(dir: &Path, got: &Got, out: &str) -> String {
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    let ct = got.header("content-type").unwrap();
    assert!(
        ct.starts_with("application/pkcs7-mime") && ct.contains("smime-type=certs-only"),
        "{ct}"
    );
    let text: String = String::from_utf8(got.body.clone())
        .unwrap()
        .split_whitespace()
        .collect();
    let p7 = format!("{out}.p7");
    let printed = format!("{out}.printed");
    std::fs::write(dir.join(&p7), B64.decode(text).unwrap()).unwrap();
    openssl(
        dir,
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            &p7,
            "-print_certs",
            "-out",
            &printed,
        ],
    );
    // The first certificate alone, as plain PEM (pkilint reads no more).
    openssl(dir, &["x509", "-in", &printed, "-out", out]);
    std::fs::read_to_string(dir.join(&printed)).unwrap()
}

fn text_of(dir: &Path, cert: &str) -> String {
    String::from_utf8(openssl(dir, &["x509", "-in", cert, "-noout", "-text"])).unwrap()
}

/// `ra register … --enrollment-code` as `officer`: the code.
fn code_for(dir: &Path, server: &Server, officer: &str, identity: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "--json",
        "ra",
        "register",
        "--ca",
        &server.url,
        "--ca-cert",
        server.ca_cert.to_str().unwrap(),
        "--credential",
        officer,
        "--identity",
        identity,
        "--evidence",
        "serial R7-0042 checked against the delivery note",
        "--enrollment-code",
    ];
    args.extend_from_slice(extra);
    let v = ok(dir, &args).json();
    assert_eq!(v["enrollment_code"], true, "the record says it has a code");
    v["code"].as_str().unwrap().to_string()
}

#[test]
fn a_device_enrolls_with_a_code_and_reenrolls_with_its_certificate() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let officer = credential(dir, &server, "registration-officer", "officer-1");

    // cacerts and csrattrs: anyone, base64 DER that OpenSSL reads.
    let ca = certs_of(
        dir,
        &curl(dir, &server, "/.well-known/est/cacerts", &[]),
        "ca.pem",
    );
    let pinned = std::fs::read_to_string(&server.ca_cert).unwrap();
    assert!(pinned.contains(ca.lines().find(|l| l.starts_with("MII")).unwrap()));
    let attrs = curl(dir, &server, "/.well-known/est/csrattrs", &[]);
    assert_eq!(attrs.status, 200);
    assert_eq!(
        attrs.header("content-type").as_deref(),
        Some("application/csrattrs")
    );
    let text: String = String::from_utf8(attrs.body.clone())
        .unwrap()
        .split_whitespace()
        .collect();
    std::fs::write(dir.join("attrs.der"), B64.decode(text).unwrap()).unwrap();
    let parsed = String::from_utf8(openssl(
        dir,
        &["asn1parse", "-inform", "DER", "-in", "attrs.der"],
    ))
    .unwrap();
    assert!(
        parsed.contains("id-ecPublicKey")
            && parsed.contains("prime256v1")
            && parsed.contains("ED25519"),
        "{parsed}"
    );
    // Per role: a server key is never Ed25519 (docs/ec-keys.md).
    let attrs = curl(dir, &server, "/.well-known/est/server/csrattrs", &[]);
    let text: String = String::from_utf8(attrs.body.clone())
        .unwrap()
        .split_whitespace()
        .collect();
    std::fs::write(dir.join("server-attrs.der"), B64.decode(text).unwrap()).unwrap();
    let parsed = String::from_utf8(openssl(
        dir,
        &["asn1parse", "-inform", "DER", "-in", "server-attrs.der"],
    ))
    .unwrap();
    assert!(
        parsed.contains("prime256v1") && !parsed.contains("ED25519"),
        "{parsed}"
    );
    // The answer decodes with the system's base64 as RFC 7030 clients do.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl -s --cacert {} {}/.well-known/est/cacerts | base64 -d | openssl pkcs7 -inform DER -print_certs",
            server.ca_cert.display(),
            server.url
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("BEGIN CERTIFICATE")
    );
    assert_eq!(
        curl(dir, &server, "/.well-known/est/nothing/cacerts", &[]).status,
        404
    );

    // The officer vets the router and hands its installer a code.
    let identity = "CN=router-7.example.net";
    let subj = "/CN=router-7.example.net";
    let san = "DNS:router-7.example.net";
    let code = code_for(
        dir,
        &server,
        &officer,
        identity,
        &["--roles", "client", "--san", "dns:router-7.example.net"],
    );
    let basic = format!("device:{code}");
    let issued_before = audit_of_kind(&server, "certificate-issued").len();

    // Without any authentication: 401 with a Basic challenge, nothing issued.
    let first = ec_request(dir, "r7", subj, san);
    let got = post(dir, &server, "/.well-known/est/simpleenroll", &first, &[]);
    assert_eq!(got.status, 401);
    assert!(got.header("www-authenticate").unwrap().starts_with("Basic"));
    // A wrong code, a malformed one: refused, nothing issued.
    let wrong = format!("device:{}", "0123-4567-89ab-cdef-0123-4567-89ab-cdef");
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &first,
        &["--user", &wrong],
    );
    got.refused(403, "not_registered");
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &first,
        &["--user", "device:1234"],
    );
    assert_eq!(got.status, 401, "{}", got.message());
    // Two Authorization headers: refused, whichever comes first.
    let bearer = format!("Authorization: Bearer {code}");
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &first,
        &[
            "-H",
            &bearer,
            "-H",
            "Authorization: Bearer 0123-4567-89ab-cdef-0123-4567-89ab-cdef",
        ],
    );
    got.refused(400, "invalid_request");
    // The wrong media type, a body that is not a request.
    let got = curl(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &[
            "--user",
            &basic,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{first}"),
        ],
    );
    got.refused(415, "unsupported_media_type");
    std::fs::write(dir.join("junk.b64"), "not a request at all").unwrap();
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        "junk.b64",
        &["--user", &basic],
    );
    got.refused(400, "invalid_request");
    // Another subject than the code's: refused, the code not spent.
    let other = ec_request(
        dir,
        "other",
        "/CN=router-8.example.net",
        "DNS:router-8.example.net",
    );
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &other,
        &["--user", &basic],
    );
    got.refused(403, "not_registered");
    assert!(got.message().contains("router-7"), "{}", got.message());
    // A weak key: refused by the same review as /v1/certify.
    openssl_rsa_key(dir, "weak.key", 1024);
    let weak = request_for(dir, "weak", "weak.key", subj, san);
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &weak,
        &["--user", &basic],
    );
    got.refused(400, "weak_key");
    assert_eq!(
        audit_of_kind(&server, "certificate-issued").len(),
        issued_before,
        "nothing issued"
    );

    // The code, as the Basic password: the certificate, once.
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &first,
        &["--user", &basic],
    );
    let leaf = certs_of(dir, &got, "r7.pem");
    assert_eq!(leaf.matches("BEGIN CERTIFICATE").count(), 1);
    openssl_verify(dir, &server, "r7.pem");
    pkilint(dir, "r7.pem");
    let t = text_of(dir, "r7.pem");
    assert!(
        t.contains("TLS Web Client Authentication") && t.contains("DNS:router-7.example.net"),
        "{t}"
    );
    let first_serial = got.header("x-symbolon-serial").unwrap();
    let detail = last_audit_detail(&server, "certificate-issued");
    assert_eq!(detail["protocol"], "est");
    assert_eq!(detail["authority"]["by"], "registration");
    // A second use of the code, even with a new key: refused.
    let again = ec_request(dir, "r7b", subj, san);
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &again,
        &["--user", &basic],
    );
    got.refused(403, "not_registered");
    assert!(got.message().contains("used already"), "{}", got.message());

    // A device that also presents its own certificate (not a credential)
    // still enrolls with a code: the certificate is no credential.
    let code9 = code_for(
        dir,
        &server,
        &officer,
        "CN=router-9.example.net",
        &["--roles", "client"],
    );
    let r9 = ec_request(
        dir,
        "r9",
        "/CN=router-9.example.net",
        "DNS:router-9.example.net",
    );
    let user9 = format!("d:{code9}");
    let got = post(
        dir,
        &server,
        "/.well-known/est/simpleenroll",
        &r9,
        &["--cert", "r7.pem", "--key", "r7.key", "--user", &user9],
    );
    certs_of(dir, &got, "r9.pem");

    // Re-enrollment: the current certificate authenticates over TLS.
    let tls = ["--cert", "r7.pem", "--key", "r7.key"];
    let got = post(dir, &server, "/.well-known/est/simplereenroll", &again, &[]);
    assert_eq!(got.status, 401, "without a client certificate");
    let moved = ec_request(
        dir,
        "moved",
        "/CN=elsewhere.example.net",
        "DNS:router-7.example.net",
    );
    let got = post(
        dir,
        &server,
        "/.well-known/est/simplereenroll",
        &moved,
        &tls,
    );
    got.refused(400, "identity_mismatch");
    // A request that leaves out one of the certificate's names.
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "nosan.key",
        ],
    );
    let der = openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "nosan.key",
            "-subj",
            subj,
            "-outform",
            "DER",
        ],
    );
    std::fs::write(dir.join("nosan.csr.b64"), B64.encode(der)).unwrap();
    let got = post(
        dir,
        &server,
        "/.well-known/est/simplereenroll",
        "nosan.csr.b64",
        &tls,
    );
    got.refused(403, "name_not_allowed");
    let got = post(
        dir,
        &server,
        "/.well-known/est/server/simplereenroll",
        &again,
        &tls,
    );
    assert_eq!(
        got.status, 400,
        "a label that is not the certificate's role"
    );
    let same_key = request_for(dir, "same", "r7.key", subj, san);
    let got = post(
        dir,
        &server,
        "/.well-known/est/simplereenroll",
        &same_key,
        &tls,
    );
    got.refused(409, "duplicate_key");
    let got = post(
        dir,
        &server,
        "/.well-known/est/simplereenroll",
        &again,
        &tls,
    );
    let renewed = certs_of(dir, &got, "r7b.pem");
    assert_ne!(renewed, leaf);
    openssl_verify(dir, &server, "r7b.pem");
    let second_serial = got.header("x-symbolon-serial").unwrap();
    assert_ne!(first_serial, second_serial);
    // The answer lost and the same request sent again: the same certificate.
    let got = post(
        dir,
        &server,
        "/.well-known/est/simplereenroll",
        &again,
        &tls,
    );
    assert_eq!(got.header("x-symbolon-serial").unwrap(), second_serial);
    // Another new key on the old certificate: it was re-enrolled already.
    let third = ec_request(dir, "r7c", subj, san);
    let got = post(
        dir,
        &server,
        "/.well-known/est/simplereenroll",
        &third,
        &tls,
    );
    assert_eq!(got.status, 409, "{}", got.message());
    // The new certificate re-enrolls in turn.
    let got = post(
        dir,
        &server,
        "/.well-known/est/simplereenroll",
        &third,
        &["--cert", "r7b.pem", "--key", "r7b.key"],
    );
    certs_of(dir, &got, "r7c.pem");
    openssl_verify(dir, &server, "r7c.pem");
    sym!(dir, "audit verify --data data");
}

#[test]
fn a_station_enrolls_devices_under_its_name_policy() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let station = server.client(Some(&server.station_http));
    let est = |client: &symbolon_client::ServiceClient, path: &str, file: &str| {
        let body = std::fs::read(dir.join(file)).unwrap();
        client
            .raw(
                "POST",
                path,
                &[("content-type", "application/pkcs10")],
                body,
            )
            .unwrap()
    };

    // The tests' station may name any host. A server key must be attested
    // by the subscriber's token (the CA's policy), which EST cannot carry:
    // refused, named; a client certificate is issued.
    let req = ec_request(
        dir,
        "web",
        "/CN=web-1.devices.example",
        "DNS:web-1.devices.example",
    );
    let a = est(&station, "/.well-known/est/server/simpleenroll", &req);
    refused(&a, 400, "attestation_required");
    let a = est(&station, "/.well-known/est/simpleenroll", &req);
    assert_eq!(a.status, 200, "{}", a.body);
    let got = Got {
        status: 200,
        headers: "content-type: application/pkcs7-mime; smime-type=certs-only\n".into(),
        body: a.body.as_str().unwrap().as_bytes().to_vec(),
    };
    certs_of(dir, &got, "web.pem");
    openssl_verify(dir, &server, "web.pem");
    pkilint(dir, "web.pem");
    assert!(text_of(dir, "web.pem").contains("TLS Web Client Authentication"));
    let detail = last_audit_detail(&server, "certificate-issued");
    assert_eq!(
        (
            detail["protocol"].as_str(),
            detail["authority"]["by"].as_str()
        ),
        (Some("est"), Some("name-policy"))
    );
    // The same key again: refused, as everywhere.
    let a = est(&station, "/.well-known/est/client/simpleenroll", &req);
    refused(&a, 409, "duplicate_key");

    // A station without a name policy or registration: refused, named.
    let bare = credential(dir, &server, "station", "st-bare");
    let bare = server.client(Some(&dir.join(bare)));
    let req2 = ec_request(
        dir,
        "web2",
        "/CN=web-2.devices.example",
        "DNS:web-2.devices.example",
    );
    let a = est(&bare, "/.well-known/est/simpleenroll", &req2);
    refused(&a, 403, "not_registered");
    // An admin's credential is not a station's.
    let admin = server.client(Some(&server.admin));
    let a = est(&admin, "/.well-known/est/simpleenroll", &req2);
    refused(&a, 403, "forbidden");
    // A station credential cannot re-enroll itself over EST.
    let a = est(&station, "/.well-known/est/simplereenroll", &req2);
    assert_ne!(a.status, 200, "{}", a.body);
    // Every refusal audited.
    let refused = audit_entries(&server)
        .iter()
        .filter(|e| e["kind"] == "request-refused")
        .filter(|e| {
            e["opened"]
                .as_str()
                .unwrap_or("")
                .contains("/.well-known/est/")
        })
        .count();
    assert!(refused >= 4, "{refused}");
}

#[test]
fn one_code_raced_from_two_devices_issues_once() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let officer = credential(dir, &server, "registration-officer", "officer-1");
    let code = code_for(
        dir,
        &server,
        &officer,
        "CN=cam-3.example.net",
        &["--roles", "client"],
    );
    let basic = format!("cam:{code}");
    let a = ec_request(dir, "a", "/CN=cam-3.example.net", "DNS:cam-3.example.net");
    let b = ec_request(dir, "b", "/CN=cam-3.example.net", "DNS:cam-3.example.net");
    let da = dir.join("da");
    let db = dir.join("db");
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    std::fs::copy(dir.join(&a), da.join(&a)).unwrap();
    std::fs::copy(dir.join(&b), db.join(&b)).unwrap();
    // The SAN repeats the subject's host name, which the registration vets.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let ta = s.spawn(|| {
            post(
                &da,
                &server,
                "/.well-known/est/simpleenroll",
                &a,
                &["--user", &basic],
            )
            .status
        });
        let tb = s.spawn(|| {
            post(
                &db,
                &server,
                "/.well-known/est/simpleenroll",
                &b,
                &["--user", &basic],
            )
            .status
        });
        vec![ta.join().unwrap(), tb.join().unwrap()]
    });
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![200, 403], "{statuses:?}");
    let issued_est = audit_entries(&server)
        .iter()
        .filter(|e| e["kind"] == "certificate-issued")
        .filter(|e| {
            e["opened"]
                .as_str()
                .unwrap_or("")
                .contains("\"protocol\":\"est\"")
        })
        .count();
    assert_eq!(issued_est, 1);
}
