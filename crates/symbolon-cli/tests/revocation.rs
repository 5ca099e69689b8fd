//! Revocation end to end (docs/revocation.md): `symbolon revoke` as an
//! officer, as the subscriber inside its token and for a whole device;
//! holds and their release; OpenSSL's OCSP client and CRL checks,
//! pkilint's CRL and OCSP linters and pyca/cryptography as the judges; the
//! attacks (anonymous, the wrong role, another subscriber's key, replays,
//! malformed OCSP); and a SIGKILL during a burst of revocations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

const PUBLIC_URL: &str = "https://ca.example.test:8443";

/// `symbolon WORDS… --ca URL --ca-cert root.pem EXTRA…`.
fn sym(dir: &Path, server: &Server, words: &str, extra: &[&str]) -> Run {
    let mut args: Vec<&str> = words.split_whitespace().collect();
    args.extend(["--ca", &server.url, "--ca-cert", "root.pem"]);
    args.extend_from_slice(extra);
    run(dir, &args)
}

/// Issues a certificate for `CN=name` into slot `slot` of `t.tok` through
/// the station; returns its serial (lower-case hex) and writes it to
/// `slot.pem`.
fn issue(dir: &Path, server: &Server, slot: &str, name: &str) -> String {
    issue_with(dir, server, "rsa-2048", slot, name)
}

/// [`issue`] with a key of `algorithm`, made by the station.
fn issue_with(dir: &Path, server: &Server, algorithm: &str, slot: &str, name: &str) -> String {
    let r = sym(
        dir,
        server,
        "issue --issuer st --token t.tok --json",
        &words![
            "--algorithm",
            algorithm,
            "--slot",
            slot,
            "--identity",
            &format!("CN={name}"),
            "--role client"
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pem = format!("{slot}.pem");
    ok(
        dir,
        &argv_with(
            &format!("token certificate --token t.tok --slot {slot} --out"),
            &[&pem],
        ),
    );
    r.json()["serial"].as_str().unwrap().to_string()
}

fn started(dir: &Path) -> Server {
    let server = Server::start_with(dir, &["--data", "data", "--public-url", PUBLIC_URL]);
    station_and_token(dir, &server);
    server
}

/// `openssl ocsp` against the service for `cert` (or `-serial`), with a
/// nonce; the response checked against the root; returns its text.
fn ocsp(dir: &Path, server: &Server, what: &[&str]) -> String {
    let url = format!("{}/v1/ocsp", server.url);
    let mut args = vec![
        "ocsp", "-issuer", "root.pem", "-url", &url, "-CAfile", "root.pem",
    ];
    args.extend_from_slice(what);
    args.extend(["-respout", "ocsp.der"]);
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(!text.contains("WARNING"), "nonce not echoed? {text}");
    text
}

fn crl(dir: &Path, server: &Server) -> String {
    ok(
        dir,
        &words![
            "crl fetch --pem --out crl.pem --ca",
            &server.url,
            "--ca-cert",
            "root.pem"
        ],
    );
    String::from_utf8(openssl(dir, &["crl", "-in", "crl.pem", "-noout", "-text"])).unwrap()
}

fn verify_with_crl(dir: &Path, cert: &str) -> bool {
    verify_against(dir, &["crl.pem"], cert)
}

/// `openssl verify -crl_check` of `cert` against the CRL files `crls`; with
/// more than one (a full CRL and a delta), `-use_deltas`.
fn verify_against(dir: &Path, crls: &[&str], cert: &str) -> bool {
    let mut args = vec!["verify", "-crl_check", "-CAfile", "root.pem"];
    if crls.len() > 1 {
        args.push("-use_deltas");
    }
    for crl in crls {
        args.extend(["-CRLfile", crl]);
    }
    args.push(cert);
    Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success()
}

/// `--serial S` as the credential `admin`.
fn as_admin<'a>(serial: &'a str, admin: &'a str) -> [&'a str; 4] {
    ["--serial", serial, "--credential", admin]
}

fn peers() -> bool {
    have_openssl() && have_peer("curl", "curl", &["--version"])
}

fn lint(program: &str, args: &[&str], file: &str, dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .current_dir(dir)
        .output();
    match out {
        Ok(o) => assert!(
            o.status.success() && o.stdout.iter().all(u8::is_ascii_whitespace),
            "{program} finds problems in {file}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            assert!(
                std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() != Ok("1"),
                "{program} is required: {e}"
            );
        }
    }
}

fn pyca_loads(dir: &Path) {
    if !have_pyca() {
        return;
    }
    succeeded(
        Command::new("python3")
            .args([
                "-c",
                "from cryptography import x509\nfrom cryptography.x509 import ocsp\n\
             c = x509.load_pem_x509_crl(open('crl.pem','rb').read())\n\
             r = ocsp.load_der_ocsp_response(open('ocsp.der','rb').read())\n\
             print(len(list(c)), r.certificate_status, r.revocation_reason)",
            ])
            .current_dir(dir),
    );
}

#[test]
fn openssl_sees_good_then_revoked_and_the_crl_agrees() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let officer = credential(dir, &server, "registration-officer", "officer-r");
    let alice = issue(dir, &server, "alice", "Alice");
    let bob = issue(dir, &server, "bob", "Bob");

    // The certificate says where its status is.
    let text = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "alice.pem", "-noout", "-text"],
    ))
    .unwrap();
    assert!(text.contains(&format!("URI:{PUBLIC_URL}/v1/crl")), "{text}");
    assert!(
        text.contains(&format!("OCSP - URI:{PUBLIC_URL}/v1/ocsp")),
        "{text}"
    );
    assert!(text.contains(&format!(
        "CA Issuers - URI:{PUBLIC_URL}/v1/ca/certificate.der"
    )));
    pkilint(dir, "alice.pem");

    let good = ocsp(dir, &server, &["-cert", "alice.pem"]);
    assert!(good.contains("alice.pem: good"), "{good}");
    lint(
        "lint_ocsp_response",
        &["lint", "-s", "WARNING"],
        "ocsp.der",
        dir,
    );
    // A serial this CA never issued.
    let unknown = ocsp(
        dir,
        &server,
        &["-serial", "0x4000000000000000000000000000abcd"],
    );
    assert!(unknown.contains(": unknown"), "{unknown}");

    // Revoked by an officer: OCSP says so at once, with the reason.
    let r = sym(
        dir,
        &server,
        "revoke --reason keyCompromise",
        &words![
            "--serial",
            &alice,
            "--credential",
            &officer,
            "--invalid-since",
            &now().to_string()
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let revoked = ocsp(dir, &server, &["-cert", "alice.pem"]);
    assert!(revoked.contains("alice.pem: revoked"), "{revoked}");
    assert!(revoked.contains("Reason: keyCompromise"), "{revoked}");
    let bob_text = ocsp(dir, &server, &["-cert", "bob.pem"]);
    assert!(bob_text.contains("bob.pem: good"), "{bob_text}");

    // The CRL lists it (reason, invalidity date), and only it.
    let list = crl(dir, &server);
    assert!(list.contains(&alice.to_uppercase()), "{list}");
    assert!(!list.contains(&bob.to_uppercase()), "{list}");
    assert!(
        list.contains("Key Compromise") && list.contains("Invalidity Date"),
        "{list}"
    );
    assert!(list.contains("X509v3 CRL Number") && list.contains("Authority Key Identifier"));
    assert!(!verify_with_crl(dir, "alice.pem"));
    assert!(verify_with_crl(dir, "bob.pem"));
    lint(
        "lint_crl",
        &["lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING"],
        "crl.pem",
        dir,
    );
    pyca_loads(dir);

    // Auditors list by status; the certificate's record says it too.
    let auditor = credential(dir, &server, "auditor", "auditor-r");
    let r = sym(
        dir,
        &server,
        "--json certificates list --status revoked",
        &["--credential", &auditor],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: Vec<String> = r.json()["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, vec![alice.clone()]);
    let (_, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{alice}", server.url),
        None,
    );
    assert_eq!(rec["status"], "revoked", "{rec}");
    assert_eq!(rec["revocation"]["reason"], "keyCompromise", "{rec}");
    let entry = last_audit_detail(&server, "certificate-revoked");
    assert_eq!(entry["serial"], alice.as_str());
    assert_eq!(entry["origin"], "operator");
    assert!(audit_entries(&server)
        .iter()
        .any(|e| e["kind"] == "crl-issued"));
    sym!(dir, "audit verify --data data");
}

#[test]
fn malformed_and_foreign_ocsp_requests_get_ocsp_errors() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    issue(dir, &server, "alice", "Alice");
    openssl(
        dir,
        &words!["ocsp -issuer root.pem -cert alice.pem -reqout req.der"],
    );
    let mut req = std::fs::read(dir.join("req.der")).unwrap();
    let curl = |body: &str, path: &str| -> Vec<u8> {
        let url = format!("{}{path}", server.url);
        let mut args = vec!["-s", "--cacert", "root.pem", "-o", "-"];
        if !body.is_empty() {
            args.extend([
                "-H",
                "Content-Type: application/ocsp-request",
                "--data-binary",
                body,
            ]);
        }
        args.push(&url);
        let out = Command::new("curl")
            .args(&args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    // OpenSSL prints an error status and exits non-zero: both are read.
    let status = |resp: &[u8]| -> String {
        std::fs::write(dir.join("resp.der"), resp).unwrap();
        let out = Command::new("openssl")
            .args(["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"])
            .current_dir(dir)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    // The request as OpenSSL made it, by POST and by GET (RFC 6960 A.1).
    assert!(status(&curl("@req.der", "/v1/ocsp")).contains("Cert Status: good"));
    let b64 = base64_url(&req);
    assert!(status(&curl("", &format!("/v1/ocsp/{b64}"))).contains("Cert Status: good"));
    // Cut short: malformedRequest, unsigned.
    let n = req.len();
    std::fs::write(dir.join("cut.der"), &req[..n - 5]).unwrap();
    assert!(status(&curl("@cut.der", "/v1/ocsp")).contains("malformedrequest"));
    assert!(status(&curl("", "/v1/ocsp/not-base64!")).contains("malformedrequest"));
    // Another issuer's name hash: unauthorized.
    let at = find_at(&req, &[0x04, 0x14]).unwrap() + 2;
    req[at] ^= 0xff;
    std::fs::write(dir.join("foreign.der"), &req).unwrap();
    assert!(status(&curl("@foreign.der", "/v1/ocsp")).contains("unauthorized"));
    // Oversized: refused before it is read as OCSP.
    std::fs::write(dir.join("big.der"), vec![0x30; 70_000]).unwrap();
    assert!(status(&curl("@big.der", "/v1/ocsp")).contains("malformedrequest"));
}

fn find_at(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Base64 with `+`, `/` and `=` percent-encoded, as RFC 6960 A.1 has GET
/// requests written.
fn base64_url(der: &[u8]) -> String {
    let text = String::from_utf8(
        Command::new("openssl")
            .args(["base64", "-A"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(der)?;
                c.wait_with_output()
            })
            .unwrap()
            .stdout,
    )
    .unwrap();
    text.trim()
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[test]
fn holds_are_released_and_final_reasons_are_not() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let admin = server.admin.to_str().unwrap().to_string();
    let alice = issue(dir, &server, "alice", "Alice");

    let hold = sym(
        dir,
        &server,
        "revoke --reason certificateHold",
        &as_admin(&alice, &admin),
    );
    assert_eq!(hold.code, 0, "{}", hold.stderr);
    assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("Reason: certificateHold"));
    // On hold twice: refused.
    let again = sym(
        dir,
        &server,
        "revoke --reason certificateHold",
        &as_admin(&alice, &admin),
    );
    assert_eq!(again.code, 5, "{}", again.stderr);
    assert!(again.stderr.contains("revoked already"), "{}", again.stderr);
    // Released: good again, and off the CRL.
    let r = sym(
        dir,
        &server,
        "certificates release",
        &as_admin(&alice, &admin),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("alice.pem: good"));
    assert!(!crl(dir, &server).contains(&alice.to_uppercase()));
    // Released twice: not on hold.
    let r = sym(
        dir,
        &server,
        "certificates release",
        &as_admin(&alice, &admin),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("not on hold"), "{}", r.stderr);
    // Superseded is final: no release, no second revocation.
    let r = sym(
        dir,
        &server,
        "revoke --reason superseded",
        &as_admin(&alice, &admin),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = sym(
        dir,
        &server,
        "certificates release",
        &as_admin(&alice, &admin),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    let r = sym(
        dir,
        &server,
        "revoke --reason keyCompromise",
        &as_admin(&alice, &admin),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("Reason: superseded"));
    // Bad input: an unknown reason, a serial never issued, a future date.
    let r = sym(
        dir,
        &server,
        "revoke --reason removeFromCRL",
        &as_admin(&alice, &admin),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = sym(
        dir,
        &server,
        "revoke --reason superseded",
        &as_admin("40aa", &admin),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let bob = issue(dir, &server, "bob", "Bob");
    let r = sym(
        dir,
        &server,
        "revoke --reason keyCompromise --invalid-since 4000000000",
        &as_admin(&bob, &admin),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(ocsp(dir, &server, &["-cert", "bob.pem"]).contains("bob.pem: good"));
    sym!(dir, "audit verify --data data");
}

/// `cert` checked against the full CRL `full` and the delta CRL `delta`.
fn verify_with_delta(dir: &Path, full: &str, delta: &str, cert: &str) -> bool {
    verify_against(dir, &[full, delta], cert)
}

/// `crl fetch --delta`, written to `delta.pem`; its text.
fn delta_crl(dir: &Path, server: &Server) -> String {
    ok(
        dir,
        &words![
            "crl fetch --delta --pem --out delta.pem --ca",
            &server.url,
            "--ca-cert",
            "root.pem"
        ],
    );
    String::from_utf8(openssl(
        dir,
        &["crl", "-in", "delta.pem", "-noout", "-text"],
    ))
    .unwrap()
}

/// The number after `label` in `openssl crl -text` output.
fn number_after(text: &str, label: &str) -> u64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {text}"));
    text[at + label.len()..]
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("a number after {label} in {text}"))
}

#[test]
fn a_delta_crl_carries_the_changes_since_its_base_and_openssl_combines_them() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let admin = server.admin.to_str().unwrap().to_string();
    let alice = issue(dir, &server, "alice", "Alice");
    let bob = issue(dir, &server, "bob", "Bob");
    let _carol = issue(dir, &server, "carol", "Carol");

    // A relying party takes the full CRL once; it points at the deltas.
    let full = crl(dir, &server);
    std::fs::rename(dir.join("crl.pem"), dir.join("base.pem")).unwrap();
    assert!(full.contains("Freshest CRL"), "{full}");
    assert!(
        full.contains(&format!("URI:{PUBLIC_URL}/v1/crl/delta")),
        "{full}"
    );
    let base_number = number_after(&full, "X509v3 CRL Number:");

    // Nothing changed yet: an empty delta on a base it may combine with.
    let delta = delta_crl(dir, &server);
    assert!(delta.contains("Delta CRL Indicator: critical"), "{delta}");
    assert!(number_after(&delta, "Delta CRL Indicator: critical") <= base_number);
    assert!(
        number_after(&delta, "X509v3 CRL Number:") > base_number,
        "{delta}"
    );
    assert!(delta.contains("No Revoked Certificates"), "{delta}");

    // Alice on hold, Bob compromised: the delta has both, the old full CRL
    // neither, and OpenSSL with both refuses Bob and Alice, passes Carol.
    for (serial, reason) in [(&alice, "certificateHold"), (&bob, "keyCompromise")] {
        let r = sym(
            dir,
            &server,
            &format!("revoke --reason {reason}"),
            &as_admin(serial, &admin),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let delta = delta_crl(dir, &server);
    assert!(delta.contains(&alice.to_uppercase()), "{delta}");
    assert!(delta.contains(&bob.to_uppercase()), "{delta}");
    assert!(delta.contains("Certificate Hold") && delta.contains("Key Compromise"));
    assert!(verify_against(dir, &["base.pem"], "bob.pem"));
    assert!(!verify_with_delta(dir, "base.pem", "delta.pem", "bob.pem"));
    assert!(!verify_with_delta(
        dir,
        "base.pem",
        "delta.pem",
        "alice.pem"
    ));
    assert!(verify_with_delta(dir, "base.pem", "delta.pem", "carol.pem"));
    lint(
        "lint_crl",
        &["lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING"],
        "delta.pem",
        dir,
    );
    if have_pyca() {
        succeeded(
            Command::new("python3")
                .args([
                    "-c",
                    "from cryptography import x509\n\
                     c = x509.load_pem_x509_crl(open('delta.pem','rb').read())\n\
                     e = c.extensions.get_extension_for_class(x509.DeltaCRLIndicator)\n\
                     assert e.critical and len(list(c)) == 2, (e, list(c))",
                ])
                .current_dir(dir),
        );
    }

    // Alice released: the delta takes her off (removeFromCRL) and OpenSSL
    // passes her again with the same old full CRL.
    let r = sym(
        dir,
        &server,
        "certificates release",
        &as_admin(&alice, &admin),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let delta = delta_crl(dir, &server);
    assert!(delta.contains("Remove From CRL"), "{delta}");
    assert!(verify_with_delta(dir, "base.pem", "delta.pem", "alice.pem"));
    assert!(!verify_with_delta(dir, "base.pem", "delta.pem", "bob.pem"));
    // The full CRL, fetched now, agrees; full and delta CRLs share one
    // number sequence.
    let now_full = crl(dir, &server);
    assert!(!now_full.contains(&alice.to_uppercase()) && now_full.contains(&bob.to_uppercase()));
    let (full_n, delta_n) = (
        number_after(&now_full, "X509v3 CRL Number:"),
        number_after(&delta, "X509v3 CRL Number:"),
    );
    assert!(
        full_n > base_number && full_n != delta_n,
        "{full_n} {delta_n}"
    );
    // DER by default, as OpenSSL reads it.
    let r = sym(dir, &server, "crl fetch --delta --out delta.der", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // OpenSSL 3.0 would take a lone delta for a full CRL: the CLI says so.
    assert!(r.stderr.contains("never alone"), "{}", r.stderr);
    openssl(
        dir,
        &["crl", "-inform", "DER", "-in", "delta.der", "-noout"],
    );
    sym!(dir, "audit verify --data data");
}

#[test]
fn only_officers_admins_and_the_key_itself_revoke() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let alice = issue(dir, &server, "alice", "Alice");
    issue(dir, &server, "mallory", "Mallory");
    let path = format!("{}/v1/certificates/{alice}/revoke", server.url);
    let body = json!({ "reason": "keyCompromise" });

    // Anonymous, and a station (the wrong role): refused and audited.
    let anonymous = client_for(&server.url, &server.ca_cert, None);
    let (s, v) = request(
        &anonymous,
        "POST",
        &format!("/v1/certificates/{alice}/revoke"),
        Some(&body),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("unauthenticated")),
        "{v}"
    );
    let (s, v) = http("POST", &path, Some(&body));
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let refusals = audit_entries(&server)
        .iter()
        .filter(|e| e["kind"] == "request-refused")
        .count();
    assert!(refusals >= 2);

    // Another subscriber's key signing for Alice's certificate: refused.
    let r = sym(
        dir,
        &server,
        "revoke --token t.tok --slot mallory --reason keyCompromise",
        &["--serial", &alice],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("alice.pem: good"));
    // A hold is not the subscriber's to give.
    let r = sym(
        dir,
        &server,
        "revoke --token t.tok --slot alice --reason certificateHold",
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    // A statement signed long ago (replayed) is refused.
    let (s, v) = request(
        &anonymous,
        "POST",
        "/v1/revocations/self",
        Some(
            &json!({ "serial": alice, "reason": "keyCompromise", "signed_at": 1_700_000_000, "signature": "00" }),
        ),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("replayed_command")),
        "{v}"
    );

    // Alice's own key, inside her token, with no credential at all.
    let r = sym(
        dir,
        &server,
        "revoke --token t.tok --slot alice --reason keyCompromise",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("alice.pem: revoked"));
    assert_eq!(
        last_audit_detail(&server, "certificate-revoked")["origin"],
        "subscriber"
    );
    // And once only.
    let r = sym(
        dir,
        &server,
        "revoke --token t.tok --slot alice --reason keyCompromise",
        &[],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    sym!(dir, "audit verify --data data");
}

#[test]
fn a_tampered_device_loses_its_certificates() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let alice = issue(dir, &server, "alice", "Alice");
    let alice2 = issue(dir, &server, "alice-mail", "Alice Mail");
    let info = sym!(dir, "--json token info --token t.tok").json();
    let token = info["serial"].as_str().unwrap().to_string();
    // Another station did not serve this device: it may not report it.
    let other = credential(dir, &server, "station", "st-other");
    let r = sym(
        dir,
        &server,
        "revoke --tampered",
        &["--device", &token, "--credential", &other],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("vouched for or issued into"),
        "{}",
        r.stderr
    );
    assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("alice.pem: good"));
    // The station that issued into it reports it tampered with.
    let r = sym(
        dir,
        &server,
        "--json revoke --tampered",
        &["--device", &token],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["revoked"], 2, "{}", r.text());
    for slot in ["alice", "alice-mail"] {
        let text = ocsp(dir, &server, &["-cert", &format!("{slot}.pem")]);
        assert!(text.contains("Reason: keyCompromise"), "{text}");
    }
    let list = crl(dir, &server);
    assert!(list.contains(&alice.to_uppercase()) && list.contains(&alice2.to_uppercase()));
    let tampered = last_audit_detail(&server, "token-tampered");
    assert_eq!(tampered["token"], token.as_str());
    assert_eq!(
        last_audit_detail(&server, "certificate-revoked")["origin"],
        "token-tampered"
    );
    // Reported again: nothing left to revoke.
    let r = sym(
        dir,
        &server,
        "--json revoke --tampered",
        &["--device", &token],
    );
    assert_eq!(r.json()["revoked"], 0, "{}", r.text());
    // A device the CA does not know: not found for an admin; for a
    // station, a device it did not serve (existence is not disclosed).
    let unknown = "00112233445566778899aabbccddeeff";
    let admin = server.admin.to_str().unwrap().to_string();
    let r = sym(
        dir,
        &server,
        "revoke --tampered",
        &["--device", unknown, "--credential", &admin],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = sym(dir, &server, "revoke --tampered", &["--device", unknown]);
    assert_eq!(r.code, 5, "{}", r.stderr);
}

#[test]
fn revocations_answered_before_a_sigkill_are_in_the_next_crl_and_ocsp() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut server = started(dir);
    let officer = credential(dir, &server, "registration-officer", "officer-k");
    // Certificates to revoke, issued straight through the API.
    let station = server.client(Some(&server.station_http));
    let mut serials = Vec::new();
    for i in 0..24 {
        let csr = openssl_csr(dir, &format!("burst{i}"));
        let (s, v) = request(
            &station,
            "POST",
            "/v1/certify",
            Some(&json!({ "csr": csr, "identity": format!("CN=burst{i}"), "role": "client" })),
        );
        assert_eq!(s, 200, "{v}");
        serials.push(v["serial"].as_str().unwrap().to_string());
    }
    // Revoke them one after the other from a thread; kill the service once
    // a third are answered (however fast this machine answers).
    let client = server.client(Some(&dir.join(&officer)));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let burst = serials.clone();
    let worker = std::thread::spawn(move || {
        for serial in burst {
            let answer = client.post(
                &format!("/v1/certificates/{serial}/revoke"),
                &json!({ "reason": "cessationOfOperation" }),
            );
            match answer {
                Ok(a) if a.status == 200 => {
                    if tx.send(serial).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    });
    let mut answered = Vec::new();
    while answered.len() < serials.len() / 3 {
        answered.push(rx.recv().unwrap());
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    worker.join().unwrap();
    answered.extend(rx.try_iter());
    eprintln!(
        "{} of {} revocations answered before the kill",
        answered.len(),
        serials.len()
    );

    let server = Server::start_with(dir, &["--data", "data", "--public-url", PUBLIC_URL]);
    let list = crl(dir, &server);
    for serial in &answered {
        assert!(
            list.contains(&serial.to_uppercase()),
            "{serial} missing from the CRL"
        );
        let (_, rec) = http(
            "GET",
            &format!("{}/v1/certificates/{serial}", server.url),
            None,
        );
        assert_eq!(rec["status"], "revoked", "{rec}");
        let text = ocsp(dir, &server, &["-serial", &format!("0x{serial}")]);
        assert!(text.contains(": revoked"), "{text}");
    }
    sym!(dir, "audit verify --data data");
}

#[test]
fn expiring_certificates_are_listed_and_bad_filters_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let auditor = credential(dir, &server, "auditor", "auditor-e");
    issue(dir, &server, "alice", "Alice");
    // Issued for a year: within 400 days, not within 30.
    let r = sym(
        dir,
        &server,
        "--json certificates expiring --within 400d",
        &["--credential", &auditor],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let soon: Vec<Value> = r.json()["certificates"].as_array().unwrap().clone();
    assert!(soon.iter().any(|c| c["subject"] == "CN=Alice"), "{soon:?}");
    let r = sym(
        dir,
        &server,
        "--json certificates expiring --within 30d",
        &["--credential", &auditor],
    );
    assert!(r.json()["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["subject"] != "CN=Alice"));
    let r = sym(
        dir,
        &server,
        "certificates list --status lost",
        &["--credential", &auditor],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = sym(
        dir,
        &server,
        "certificates expiring --within soon",
        &["--credential", &auditor],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    // A station may not list.
    let (s, _) = http("GET", &format!("{}/v1/certificates", server.url), None);
    assert_eq!(s, 403);
}

#[test]
fn renewal_supersedes_the_old_certificate_once() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let alice = issue(dir, &server, "alice", "Alice");
    let bob = issue(dir, &server, "bob", "Bob");
    // The token attests the new key: the CA knows the device.
    let r = sym(dir, &server, "token register --token t.tok", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The new key is made in the token; the old key authorises it.
    let r = sym(
        dir,
        &server,
        "--json renew --issuer st --token t.tok --slot alice --new-slot alice-2",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["renews"], alice.as_str(), "{v}");
    let renewed = v["serial"].as_str().unwrap().to_string();
    sym!(
        dir,
        "token certificate --token t.tok --slot alice-2 --out alice-2.pem"
    );
    let verified = openssl(dir, &["verify", "-CAfile", "root.pem", "alice-2.pem"]);
    assert!(String::from_utf8_lossy(&verified).contains("OK"));
    let subject = |f: &str| {
        String::from_utf8(openssl(dir, &["x509", "-in", f, "-noout", "-subject"])).unwrap()
    };
    assert_eq!(subject("alice.pem"), subject("alice-2.pem"));
    let old_key = openssl(dir, &["x509", "-in", "alice.pem", "-noout", "-pubkey"]);
    let new_key = openssl(dir, &["x509", "-in", "alice-2.pem", "-noout", "-pubkey"]);
    assert_ne!(old_key, new_key, "a renewal certifies a new key");
    // The old certificate is superseded once the new one is in the token.
    assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("Reason: superseded"));
    assert!(ocsp(dir, &server, &["-cert", "alice-2.pem"]).contains("alice-2.pem: good"));
    let (_, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{renewed}", server.url),
        None,
    );
    assert_eq!(rec["status"], "good", "{rec}");
    assert_eq!(
        last_audit_detail(&server, "certificate-issued")["authority"]["renews"],
        alice.as_str()
    );

    // The old key cannot renew twice.
    let r = sym(
        dir,
        &server,
        "renew --issuer st --token t.tok --slot alice --new-slot alice-3",
        &[],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    // A renewal whose certificate could not be written (a station the token
    // does not trust) is revoked, and the old key renews again.
    new_issuer(dir, "evil");
    issue(dir, &server, "carol", "Carol");
    let r = sym(
        dir,
        &server,
        "renew --issuer evil --token t.tok --slot carol --new-slot carol-2",
        &[],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        last_audit_detail(&server, "certificate-revoked")["reason"],
        "cessationOfOperation"
    );
    assert!(ocsp(dir, &server, &["-cert", "carol.pem"]).contains("carol.pem: good"));
    let r = sym(
        dir,
        &server,
        "renew --issuer st --token t.tok --slot carol --new-slot carol-3",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(ocsp(dir, &server, &["-cert", "carol.pem"]).contains("Reason: superseded"));
    // A revoked certificate is not renewed.
    let admin = server.admin.to_str().unwrap().to_string();
    let r = sym(
        dir,
        &server,
        "revoke --reason keyCompromise",
        &["--serial", &bob, "--credential", &admin],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = sym(
        dir,
        &server,
        "renew --issuer st --token t.tok --slot bob --new-slot bob-2",
        &[],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("revoked already"), "{}", r.stderr);

    // An authorisation not signed by the old key; anonymous callers.
    openssl_rsa_key(dir, "mallory.key", 2048);
    let csr = String::from_utf8(openssl(
        dir,
        &["req", "-new", "-key", "mallory.key", "-subj", "/CN=Alice"],
    ))
    .unwrap();
    let body = json!({
        "csr": csr, "nonce": "AAAA", "old_serial": renewed,
        "signed_at": now(), "signature": "00",
    });
    let (s, v) = http("POST", &format!("{}/v1/renewals", server.url), Some(&body));
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("bad_signature")),
        "{v}"
    );
    let anonymous = client_for(&server.url, &server.ca_cert, None);
    let (s, _) = request(&anonymous, "POST", "/v1/renewals", Some(&body));
    assert_eq!(s, 401);
    // An operator credential is not renewed here (nor revoked): refused
    // before anything is certified.
    let pem = String::from_utf8(
        ok(
            dir,
            &words![
                "token get-object --token",
                server.admin.to_str().unwrap(),
                "--name",
                "operator.crt"
            ],
        )
        .stdout,
    )
    .unwrap();
    std::fs::write(dir.join("admin.pem"), pem).unwrap();
    let admin_serial = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "admin.pem", "-noout", "-serial"],
    ))
    .unwrap()
    .trim()
    .trim_start_matches("serial=")
    .to_ascii_lowercase();
    let mut as_credential = body.clone();
    as_credential["old_serial"] = admin_serial.into();
    let (s, v) = http(
        "POST",
        &format!("{}/v1/renewals", server.url),
        Some(&as_credential),
    );
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("operator credential"),
        "{v}"
    );
    let (_, rec) = http(
        "GET",
        &format!("{}/v1/certificates/{renewed}", server.url),
        None,
    );
    assert_eq!(rec["status"], "good", "{rec}");
    sym!(dir, "audit verify --data data");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn the_ocsp_cache_answers_each_certid_as_asked() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    issue(dir, &server, "alice", "Alice");
    // Without nonces (cacheable), SHA-1, SHA-512 and SHA-256 CertIDs, in
    // turn and again: each answer names the CertID it was asked with.
    for hash in ["-sha1", "-sha512", "-sha256", "-sha1", "-sha512"] {
        let text = ocsp(dir, &server, &[hash, "-cert", "alice.pem", "-no_nonce"]);
        assert!(text.contains("alice.pem: good"), "{hash}: {text}");
    }
    // A path that does not decode is answered in OCSP too.
    let url = format!("{}/v1/ocsp/%00%ff", server.url);
    let out = Command::new("curl")
        .args([
            "-s",
            "--cacert",
            "root.pem",
            "-o",
            "resp.der",
            "-w",
            "%{content_type}",
            &url,
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "application/ocsp-response"
    );
}

#[test]
fn credentials_are_revoked_as_credentials_and_published() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let officer = credential(dir, &server, "registration-officer", "officer-c");
    let gone = credential(dir, &server, "station", "st-gone");
    let cert = |token: &str| -> String {
        let pem = String::from_utf8(
            sym!(dir, "token get-object --token {token} --name operator.crt").stdout,
        )
        .unwrap();
        std::fs::write(dir.join("cred.pem"), &pem).unwrap();
        String::from_utf8(openssl(
            dir,
            &["x509", "-in", "cred.pem", "-noout", "-serial"],
        ))
        .unwrap()
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
    };
    // An officer cannot revoke the admin's credential through revocation.
    let admin_serial = cert(server.admin.to_str().unwrap());
    let r = sym(
        dir,
        &server,
        "revoke --reason keyCompromise",
        &["--serial", &admin_serial, "--credential", &officer],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("operator credential"), "{}", r.stderr);
    // An admin revoking a credential publishes it (privilegeWithdrawn).
    let gone_serial = cert(&gone);
    let admin = server.admin.to_str().unwrap().to_string();
    let r = sym(
        dir,
        &server,
        "admin revoke-credential",
        &["--serial", &gone_serial, "--credential", &admin],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = ocsp(dir, &server, &["-serial", &format!("0x{gone_serial}")]);
    assert!(text.contains(": revoked"), "{text}");
    assert!(crl(dir, &server).contains(&gone_serial.to_uppercase()));
}

#[test]
fn a_device_goes_on_hold_around_a_certificate_on_hold_already() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let admin = server.admin.to_str().unwrap().to_string();
    let alice = issue(dir, &server, "alice", "Alice");
    issue(dir, &server, "alice-mail", "Alice Mail");
    let token = sym!(dir, "--json token info --token t.tok").json()["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let r = sym(
        dir,
        &server,
        "revoke --reason certificateHold",
        &["--serial", &alice, "--credential", &admin],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = sym(
        dir,
        &server,
        "--json revoke --reason certificateHold",
        &["--device", &token, "--credential", &admin],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["revoked"], 1, "{}", r.text());
    assert!(ocsp(dir, &server, &["-cert", "alice-mail.pem"]).contains("Reason: certificateHold"));
    // Then for good: both, the hold made final.
    let r = sym(
        dir,
        &server,
        "--json revoke --reason keyCompromise",
        &["--device", &token, "--credential", &admin],
    );
    assert_eq!(r.json()["revoked"], 2, "{}", r.text());
    // A serial never issued is not found, not "not on hold"; a date
    // before the certificate is refused.
    let r = sym(
        dir,
        &server,
        "certificates release",
        &["--serial", "40aa", "--credential", &admin],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let bob = issue(dir, &server, "bob", "Bob");
    let r = sym(
        dir,
        &server,
        "revoke --reason keyCompromise --invalid-since=-99999999999",
        &["--serial", &bob, "--credential", &admin],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    // A statement dated at the edge of time is refused, not a crash.
    let anonymous = client_for(&server.url, &server.ca_cert, None);
    let (s, v) = request(
        &anonymous,
        "POST",
        "/v1/revocations/self",
        Some(
            &json!({ "serial": bob, "reason": "keyCompromise", "signed_at": i64::MIN, "signature": "00" }),
        ),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("replayed_command")),
        "{v}"
    );
}

#[test]
fn issuance_answers_are_signed_by_the_delegated_response_signer() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = started(dir);
    let csr = openssl_csr(dir, "delegated");
    let (s, v) = http(
        "POST",
        &format!("{}/v1/certify", server.url),
        Some(&json!({ "csr": csr, "identity": "CN=delegated", "role": "client" })),
    );
    assert_eq!(s, 200, "{v}");
    std::fs::write(dir.join("signer.pem"), v["signer"].as_str().unwrap()).unwrap();
    let text = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "signer.pem", "-noout", "-text"],
    ))
    .unwrap();
    assert!(
        text.contains("2.25.277312783338542069787237190320269170070"),
        "{text}"
    );
    assert!(
        text.contains("Digital Signature") && text.contains("CA:FALSE"),
        "{text}"
    );
    assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
    let verified = openssl(
        dir,
        &words!["verify -CAfile root.pem -purpose any signer.pem"],
    );
    assert!(String::from_utf8_lossy(&verified).contains("OK"));
    assert_eq!(
        audit_entries(&server)
            .iter()
            .filter(|e| e["kind"] == "response-signer-certified")
            .count(),
        1
    );
    // The station (`symbolon issue`) checks such answers end to end.
    issue(dir, &server, "alice", "Alice");
}

/// An EC CA key (`ca init --algorithm p384`, and Ed25519): the root, the
/// certificates it issues for RSA and EC keys, its CRL and the OCSP
/// answers of its (RSA) responder, and the TLS chain the service presents
/// are all verified by OpenSSL; pkilint judges the mixed chains' leaves;
/// a revocation shows in both; the audit log holds.
#[test]
fn an_ec_ca_key_signs_what_openssl_verifies() {
    if !peers() {
        return;
    }
    for (curve, signature) in [("p384", "ecdsa-with-SHA384"), ("ed25519", "ED25519")] {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        ok(
            dir,
            &argv_with(
                &format!("ca init --data data --algorithm {curve} --subject"),
                &["CN=EC Root"],
            ),
        );
        let server = started(dir);
        let root_text = String::from_utf8(openssl(
            dir,
            &["x509", "-in", "root.pem", "-noout", "-text"],
        ))
        .unwrap();
        assert!(root_text.contains(signature), "{curve}: {root_text}");
        let officer = credential(dir, &server, "registration-officer", "officer-ec");
        // An RSA key and a P-256 key, made by the station, under the EC CA.
        let alice = issue(dir, &server, "alice", "Alice");
        issue_with(dir, &server, "p256", "bob", "Bob");
        for cert in ["alice.pem", "bob.pem"] {
            let out = openssl(dir, &["verify", "-CAfile", "root.pem", cert]);
            assert!(
                String::from_utf8_lossy(&out).contains("OK"),
                "{curve} {cert}"
            );
            let text =
                String::from_utf8(openssl(dir, &["x509", "-in", cert, "-noout", "-text"])).unwrap();
            assert!(text.contains(signature), "{curve} {cert}: {text}");
            pkilint(dir, cert);
        }
        assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("alice.pem: good"));
        let r = sym(
            dir,
            &server,
            "revoke --reason keyCompromise",
            &["--serial", &alice, "--credential", &officer],
        );
        assert_eq!(r.code, 0, "{curve}: {}", r.stderr);
        assert!(ocsp(dir, &server, &["-cert", "alice.pem"]).contains("alice.pem: revoked"));
        assert!(ocsp(dir, &server, &["-cert", "bob.pem"]).contains("bob.pem: good"));
        // The CRL, signed by the EC key: `crl fetch` checked it, OpenSSL
        // checks it again and applies it.
        let text = crl(dir, &server);
        assert!(text.contains(signature), "{curve}: {text}");
        let out = Command::new("openssl")
            .args(["crl", "-in", "crl.pem", "-CAfile", "root.pem", "-noout"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("verify OK"),
            "{curve}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!verify_with_crl(dir, "alice.pem"), "{curve}");
        assert!(verify_with_crl(dir, "bob.pem"), "{curve}");
        sym!(dir, "audit verify --data data");
    }
}
