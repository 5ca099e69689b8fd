//! ACME (RFC 8555, tls-alpn-01 RFC 8737; docs/acme.md) as lego and certbot
//! speak it: an account bound by an officer's external account binding
//! key, certificates for names the station's name policy allows, proven
//! by http-01 and tls-alpn-01 on loopback (`--acme-resolve-to`), renewed
//! and revoked; a name outside the policy refused at order time; a
//! challenge nobody answers leaves the order invalid and nothing issued;
//! a binding key used twice refused; the chain verifies with OpenSSL and
//! pkilint is clean; `audit verify` holds at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

#[track_caller]
fn succeeds(o: &Output) {
    peer_succeeded(o, "the ACME client");
}

/// A port free now on loopback (the clients listen on it for the
/// challenges; the service is told to validate there).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A service whose ACME validations go to loopback on these ports, a
/// station `web` allowed `*.acme.test` (and `acme.test`), and the admin's
/// binding key for it: (server, http port, tls port, kid, hmac key).
struct Acme {
    server: Server,
    http_port: u16,
    tls_port: u16,
}

impl Acme {
    fn start(dir: &Path) -> Acme {
        let (http_port, tls_port) = (free_port(), free_port());
        let server = Server::start_with(
            dir,
            &[
                "--data",
                "d",
                "--acme-http-port",
                &http_port.to_string(),
                "--acme-tls-port",
                &tls_port.to_string(),
                "--acme-resolve-to",
                "127.0.0.1",
                "--anonymous-rate-limit",
                "1000",
            ],
        );
        credential(dir, &server, "station", "web");
        name_policy(
            dir,
            &server,
            "web",
            &["dns:acme.test"],
            &["dns:blocked.acme.test"],
        );
        Acme {
            server,
            http_port,
            tls_port,
        }
    }

    fn directory(&self) -> String {
        format!("{}/acme/server/directory", self.server.url)
    }

    /// A new binding key for station `web`: (kid, hmac key).
    fn eab(&self, dir: &Path) -> (String, String) {
        let v = ok(
            dir,
            &[
                "--json",
                "ra",
                "acme-eab",
                "--ca",
                &self.server.url,
                "--ca-cert",
                self.server.ca_cert.to_str().unwrap(),
                "--credential",
                self.server.admin.to_str().unwrap(),
                "--station",
                "web",
            ],
        )
        .json();
        (
            v["kid"].as_str().unwrap().to_string(),
            v["hmac_key"].as_str().unwrap().to_string(),
        )
    }

    /// The status of certificate `serial` as the registry has it.
    fn revoked(&self, serial: &str) -> bool {
        let (status, v) = http(
            "GET",
            &format!("{}/v1/certificates/{serial}", self.server.url),
            None,
        );
        assert_eq!(status, 200, "{v}");
        !v["revocation"].is_null()
    }
}

/// The serial (lower-case hex, as the registry writes it) of a PEM
/// certificate file.
fn serial_of(dir: &Path, cert: &str) -> String {
    let out = openssl(dir, &["x509", "-in", cert, "-noout", "-serial"]);
    String::from_utf8(out)
        .unwrap()
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}

fn lego(dir: &Path, acme: &Acme, kid: &str, key: &str, args: &[&str]) -> Output {
    lego_as(dir, acme, ("lego", "ops@acme.test"), (kid, key), args)
}

/// lego with its own account directory and email: (path, email).
fn lego_as(
    dir: &Path,
    acme: &Acme,
    (path, email): (&str, &str),
    (kid, key): (&str, &str),
    args: &[&str],
) -> Output {
    Command::new("lego")
        .args(["--path", path, "--server", &acme.directory()])
        .args(["--accept-tos", "--email", email])
        .args(["--eab", "--kid", kid, "--hmac", key])
        .args(args)
        .env("LEGO_CA_CERTIFICATES", &acme.server.ca_cert)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn lego_obtains_renews_and_revokes_over_http01_and_tls_alpn01() {
    if !have_peer("lego", "lego", &["--version"]) || !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let acme = Acme::start(d);
    let (kid, key) = acme.eab(d);
    let http = format!(":{}", acme.http_port);
    let tls = format!(":{}", acme.tls_port);

    // http-01, two names.
    let o = lego(
        d,
        &acme,
        &kid,
        &key,
        &[
            "--domains",
            "www.acme.test",
            "--domains",
            "acme.test",
            "--http",
            "--http.port",
            &http,
            "run",
        ],
    );
    succeeds(&o);
    let cert = "lego/certificates/www.acme.test.crt";
    openssl_verify(d, &acme.server, cert);
    pkilint(d, cert);
    let shown = String::from_utf8(openssl(
        d,
        &[
            "x509",
            "-in",
            cert,
            "-noout",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
    ))
    .unwrap();
    assert!(
        shown.contains("DNS:www.acme.test") && shown.contains("DNS:acme.test"),
        "{shown}"
    );
    assert!(shown.contains("TLS Web Server Authentication"), "{shown}");
    let first = serial_of(d, cert);
    let issued = last_audit_detail(&acme.server, "certificate-issued");
    assert_eq!(issued["protocol"], "acme");
    assert_eq!(issued["authority"]["by"], "acme");
    assert_eq!(issued["authority"]["station"], "web");
    assert_eq!(issued["serial"], first);

    // Renewed over tls-alpn-01: a new key, a new certificate.
    let o = lego(
        d,
        &acme,
        &kid,
        &key,
        &[
            "--domains",
            "www.acme.test",
            "--domains",
            "acme.test",
            "--tls",
            "--tls.port",
            &tls,
            "renew",
            "--days",
            "400",
            "--no-random-sleep",
        ],
    );
    succeeds(&o);
    openssl_verify(d, &acme.server, cert);
    let second = serial_of(d, cert);
    assert_ne!(first, second);

    // Revoked by the account that ordered it.
    let o = lego(
        d,
        &acme,
        &kid,
        &key,
        &["--domains", "www.acme.test", "revoke"],
    );
    succeeds(&o);
    assert!(acme.revoked(&second));
    assert!(!acme.revoked(&first));

    // A name outside the station's policy: refused when ordered.
    let o = lego(
        d,
        &acme,
        &kid,
        &key,
        &[
            "--domains",
            "blocked.acme.test",
            "--http",
            "--http.port",
            &http,
            "run",
        ],
    );
    assert!(!o.status.success());
    assert!(
        output_text(&o).contains("rejectedIdentifier"),
        "{}",
        output_text(&o)
    );
    let o = lego(
        d,
        &acme,
        &kid,
        &key,
        &[
            "--domains",
            "www.example.org",
            "--http",
            "--http.port",
            &http,
            "run",
        ],
    );
    assert!(
        output_text(&o).contains("rejectedIdentifier"),
        "{}",
        output_text(&o)
    );

    // A challenge answered where the service does not look: the
    // validation fails, the order is invalid, nothing is issued.
    let before = audit_of_kind(&acme.server, "certificate-issued").len();
    let elsewhere = format!(":{}", free_port());
    let o = lego(
        d,
        &acme,
        &kid,
        &key,
        &[
            "--domains",
            "lost.acme.test",
            "--http",
            "--http.port",
            &elsewhere,
            "run",
        ],
    );
    assert!(!o.status.success());
    assert!(
        output_text(&o).contains("urn:ietf:params:acme:error:connection"),
        "{}",
        output_text(&o)
    );
    assert_eq!(
        audit_of_kind(&acme.server, "certificate-issued").len(),
        before
    );

    // The binding key bound lego's account; another account cannot use it.
    let run = [
        "--domains",
        "www.acme.test",
        "--http",
        "--http.port",
        &http,
        "run",
    ];
    let other = lego_as(d, &acme, ("lego2", "other@acme.test"), (&kid, &key), &run);
    assert!(!other.status.success());
    assert!(
        output_text(&other).contains("was used already"),
        "{}",
        output_text(&other)
    );
    // A key nobody issued.
    let forged = lego_as(
        d,
        &acme,
        ("lego3", "x@acme.test"),
        ("not-a-kid", &key),
        &run,
    );
    assert!(
        output_text(&forged).contains("not a binding key an officer issued"),
        "{}",
        output_text(&forged)
    );

    let accounts = audit_of_kind(&acme.server, "acme-account-created");
    assert_eq!(accounts.len(), 1);
    assert_eq!(opened(&accounts[0])["station"], "web");
    let refused = audit_of_kind(&acme.server, "request-refused");
    assert!(
        refused.iter().any(|e| {
            let reason = opened(e)["reason"].as_str().unwrap_or_default().to_string();
            reason.contains("rejectedIdentifier") && reason.contains("signed by account")
        }),
        "the refused order is audited, with the account that signed it"
    );
    drop(acme);
    ok(d, &["audit", "verify", "--data", "d"]);
}

fn certbot(dir: &Path, acme: &Acme, args: &[&str]) -> Output {
    Command::new("certbot")
        .args([
            "--config-dir",
            "cb/config",
            "--work-dir",
            "cb/work",
            "--logs-dir",
            "cb/logs",
        ])
        .args(["--non-interactive", "--server", &acme.directory()])
        .args(args)
        .env("REQUESTS_CA_BUNDLE", &acme.server.ca_cert)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn certbot_obtains_renews_and_revokes_over_http01() {
    if !have_peer("certbot", "certbot", &["--version"]) || !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let acme = Acme::start(d);
    let (kid, key) = acme.eab(d);
    let port = acme.http_port.to_string();

    let o = certbot(
        d,
        &acme,
        &[
            "certonly",
            "--standalone",
            "--http-01-port",
            &port,
            "--agree-tos",
            "-m",
            "ops@acme.test",
            "--eab-kid",
            &kid,
            "--eab-hmac-key",
            &key,
            "-d",
            "cb.acme.test",
        ],
    );
    succeeds(&o);
    let live = "cb/config/live/cb.acme.test";
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&acme.server.ca_cert)
        .args([
            "-untrusted",
            &format!("{live}/chain.pem"),
            &format!("{live}/cert.pem"),
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    pkilint(d, &format!("{live}/cert.pem"));
    let first = serial_of(d, &format!("{live}/cert.pem"));

    let o = certbot(
        d,
        &acme,
        &[
            "renew",
            "--force-renewal",
            "--no-random-sleep-on-renew",
            "--http-01-port",
            &port,
        ],
    );
    succeeds(&o);
    let second = serial_of(d, &format!("{live}/cert.pem"));
    assert_ne!(first, second);

    let o = certbot(
        d,
        &acme,
        &[
            "revoke",
            "--cert-path",
            &format!("{live}/cert.pem"),
            "--reason",
            "keycompromise",
            "--no-delete-after-revoke",
        ],
    );
    succeeds(&o);
    assert!(acme.revoked(&second));
    let revoked = last_audit_detail(&acme.server, "certificate-revoked");
    assert_eq!(revoked["origin"], "acme-account");
    assert_eq!(revoked["reason"], "keyCompromise");

    // Outside the policy: refused at order time. (certbot 2.1 on Python
    // 3.11 then trips over its own error display; its log has the answer.)
    let o = certbot(
        d,
        &acme,
        &[
            "certonly",
            "--standalone",
            "--http-01-port",
            &port,
            "-d",
            "www.example.org",
        ],
    );
    assert!(!o.status.success());
    let log = std::fs::read_to_string(d.join("cb/logs/letsencrypt.log")).unwrap();
    assert!(log.contains("rejectedIdentifier"), "{}", output_text(&o));
    drop(acme);
    ok(d, &["audit", "verify", "--data", "d"]);
}
