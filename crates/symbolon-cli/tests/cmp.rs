//! CMP (RFC 4210/9480, Lightweight CMP RFC 9483; docs/cmp.md) as `openssl
//! cmp` speaks it: first contact by MAC with a registration's single-use
//! secret, confirmation, key update signed by the first certificate,
//! revocation by its holder, `genm` for the CA certificates, p10cr; and the
//! attacks: a second use of the secret, a wrong secret, an altered
//! message, a weak or reused key, another subscriber's certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

#[track_caller]
fn succeeds(o: &Output) {
    peer_succeeded(o, "openssl cmp");
}

fn peers() -> bool {
    let ok = have_openssl();
    if !ok && std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the CMP tests need openssl");
    }
    ok
}

/// `openssl cmp` against the service, the CA trusted for TLS and for
/// signed answers; `args` add the command and its options.
fn cmp(dir: &Path, server: &Server, path: &str, args: &[&str]) -> Output {
    let address = server.url.trim_start_matches("https://");
    Command::new("openssl")
        .arg("cmp")
        .args([
            "-server",
            address,
            "-path",
            path,
            "-tls_used",
            "-tls_trusted",
        ])
        .arg(&server.ca_cert)
        .arg("-trusted")
        .arg(&server.ca_cert)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The command failed, and said `needle` (a failInfo name or the reason).
#[track_caller]
fn refused(o: &Output, needle: &str) {
    let t = output_text(o);
    assert!(!o.status.success(), "openssl cmp succeeded: {t}");
    assert!(t.contains(needle), "expected {needle:?} in: {t}");
}

fn ec_key(dir: &Path, name: &str) -> String {
    let file = format!("{name}.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &file,
        ],
    );
    file
}

/// `ra register … --enrollment-code` as `officer`: (registration ID, code).
fn registration(
    dir: &Path,
    server: &Server,
    officer: &str,
    identity: &str,
    san: &str,
) -> (String, String) {
    let v = ok(
        dir,
        &[
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
            "badge 88 checked in person",
            "--enrollment-code",
            "--roles",
            "client",
            "--san",
            san,
        ],
    )
    .json();
    (
        v["id"].as_str().unwrap().to_string(),
        v["code"].as_str().unwrap().to_string(),
    )
}

fn serial_of(dir: &Path, cert: &str) -> String {
    let out = String::from_utf8(openssl(dir, &["x509", "-in", cert, "-noout", "-serial"])).unwrap();
    out.trim().trim_start_matches("serial=").to_lowercase()
}

/// `openssl cmp -cmd ir` with a secret: the common options, plus `extra`.
fn ir(
    dir: &Path,
    server: &Server,
    id: &str,
    secret: &str,
    key: &str,
    subj: &str,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "-cmd",
        "ir",
        "-ref",
        id,
        "-secret",
        secret,
        "-newkey",
        key,
        "-subject",
        subj,
        "-recipient",
        "/CN=symbolon",
        "-certout",
        "unused.pem",
    ];
    args.extend_from_slice(extra);
    cmp(dir, server, ".well-known/cmp", &args)
}

#[test]
fn a_device_enrolls_by_mac_updates_its_key_and_revokes_it() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let officer = credential(dir, &server, "registration-officer", "officer-1");
    let (id, code) = registration(
        dir,
        &server,
        &officer,
        "CN=meter-12.example.net",
        "dns:meter-12.example.net",
    );
    let secret = format!("pass:{code}");
    let key = ec_key(dir, "meter");

    // ir, MAC-protected with the single-use secret; the answer MAC-protected
    // too, with the chain in caPubs; certConf; pkiConf.
    let o = ir(
        dir,
        &server,
        &id,
        &secret,
        &key,
        "/CN=meter-12.example.net",
        &[
            "-sans",
            "meter-12.example.net",
            "-certout",
            "meter.pem",
            "-cacertsout",
            "capubs.pem",
        ],
    );
    succeeds(&o);
    assert!(
        output_text(&o).contains("received IP") && output_text(&o).contains("received PKICONF"),
        "{}",
        output_text(&o)
    );
    openssl_verify(dir, &server, "meter.pem");
    pkilint(dir, "meter.pem");
    let printed = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "meter.pem", "-noout", "-text"],
    ))
    .unwrap();
    assert!(printed.contains("DNS:meter-12.example.net"), "{printed}");
    let pinned = std::fs::read_to_string(&server.ca_cert).unwrap();
    let capubs = std::fs::read_to_string(dir.join("capubs.pem")).unwrap();
    assert!(
        pinned.contains(capubs.lines().nth(1).unwrap()),
        "caPubs holds the CA"
    );
    let first = serial_of(dir, "meter.pem");
    let issued = audit_of_kind(&server, "certificate-issued");
    let detail = opened(issued.last().unwrap());
    assert_eq!(detail["protocol"], "cmp", "{detail}");

    // The secret enrolls once: a second ir is refused, and so is the same
    // request replayed.
    let key2 = ec_key(dir, "meter2");
    let o = ir(
        dir,
        &server,
        &id,
        &secret,
        &key2,
        "/CN=meter-12.example.net",
        &[],
    );
    refused(&o, "notAuthorized");
    refused(&o, "used already");

    // kur signed by the first certificate: a new certificate for the same
    // subject and names; the first is superseded, so it cannot update or
    // sign again.
    let kur = |cert: &str, key: &str, newkey: &str, out: &str| {
        cmp(
            dir,
            &server,
            ".well-known/cmp",
            &[
                "-cmd", "kur", "-cert", cert, "-key", key, "-newkey", newkey, "-certout", out,
            ],
        )
    };
    succeeds(&kur("meter.pem", &key, &key2, "meter-2.pem"));
    openssl_verify(dir, &server, "meter-2.pem");
    pkilint(dir, "meter-2.pem");
    let printed = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "meter-2.pem", "-noout", "-text"],
    ))
    .unwrap();
    assert!(
        printed.contains("DNS:meter-12.example.net")
            && printed.contains("CN = meter-12.example.net"),
        "{printed}"
    );
    let second = serial_of(dir, "meter-2.pem");
    assert_ne!(first, second);
    let key3 = ec_key(dir, "meter3");
    refused(&kur("meter.pem", &key, &key3, "x.pem"), "certRevoked");
    // The same key twice is refused (a key is certified once, ever).
    refused(
        &kur("meter-2.pem", &key2, &key2, "x.pem"),
        "badCertTemplate",
    );

    // rr signed by the certificate it names; then it is revoked for good.
    let rr = |cert: &str, key: &str, old: &str| {
        cmp(
            dir,
            &server,
            ".well-known/cmp",
            &[
                "-cmd",
                "rr",
                "-cert",
                cert,
                "-key",
                key,
                "-oldcert",
                old,
                "-revreason",
                "1",
            ],
        )
    };
    // Another certificate than the signer's: refused.
    let (id_b, code_b) = registration(
        dir,
        &server,
        &officer,
        "CN=meter-13.example.net",
        "dns:meter-13.example.net",
    );
    let key_b = ec_key(dir, "meter-b");
    succeeds(&ir(
        dir,
        &server,
        &id_b,
        &format!("pass:{code_b}"),
        &key_b,
        "/CN=meter-13.example.net",
        &["-certout", "b.pem", "-implicit_confirm"],
    ));
    refused(&rr("meter-2.pem", &key2, "b.pem"), "badCertId");
    succeeds(&rr("meter-2.pem", &key2, "meter-2.pem"));
    refused(&rr("meter-2.pem", &key2, "meter-2.pem"), "certRevoked");
    refused(&kur("meter-2.pem", &key2, &key3, "x.pem"), "certRevoked");
    let revoked = audit_of_kind(&server, "certificate-revoked");
    assert!(
        revoked.iter().any(|e| opened(e)["serial"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref()
            == Some(second.as_str())),
        "{second}: {:?}",
        revoked
            .iter()
            .map(|e| opened(e)["serial"].clone())
            .collect::<Vec<_>>()
    );

    // genm: the CA certificates, to anyone.
    let o = cmp(
        dir,
        &server,
        ".well-known/cmp",
        &[
            "-cmd",
            "genm",
            "-unprotected_requests",
            "-ref",
            "anyone",
            "-recipient",
            "/CN=x",
        ],
    );
    succeeds(&o);
    assert!(
        output_text(&o).contains("id-it-caCerts"),
        "{}",
        output_text(&o)
    );

    // p10cr: an OpenSSL PKCS#10 request, under a profile path.
    let (id_c, code_c) = registration(
        dir,
        &server,
        &officer,
        "CN=meter-14.example.net",
        "dns:meter-14.example.net",
    );
    let key_c = ec_key(dir, "meter-c");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key_c,
            "-subj",
            "/CN=meter-14.example.net",
            "-addext",
            "subjectAltName=DNS:meter-14.example.net",
            "-out",
            "c.csr",
        ],
    );
    let o = cmp(
        dir,
        &server,
        ".well-known/cmp/p/client",
        &[
            "-cmd",
            "p10cr",
            "-csr",
            "c.csr",
            "-ref",
            &id_c,
            "-secret",
            &format!("pass:{code_c}"),
            "-recipient",
            "/CN=symbolon",
            "-certout",
            "c.pem",
        ],
    );
    succeeds(&o);
    openssl_verify(dir, &server, "c.pem");
    let o = cmp(
        dir,
        &server,
        ".well-known/cmp/p/nothing",
        &[
            "-cmd",
            "genm",
            "-unprotected_requests",
            "-ref",
            "anyone",
            "-recipient",
            "/CN=x",
        ],
    );
    refused(&o, "404");

    ok(
        dir,
        &["audit", "verify", "--data", server.data.to_str().unwrap()],
    );
}

#[test]
fn wrong_protection_weak_and_reused_keys_are_refused_and_spend_nothing() {
    if !peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let server = Server::start(dir, "data");
    let officer = credential(dir, &server, "registration-officer", "officer-1");
    let (id, code) = registration(
        dir,
        &server,
        &officer,
        "CN=pump-3.example.net",
        "dns:pump-3.example.net",
    );
    let secret = format!("pass:{code}");
    let subj = "/CN=pump-3.example.net";
    let key = ec_key(dir, "pump");
    let issued = || audit_of_kind(&server, "certificate-issued").len();
    let before = issued();

    // A wrong secret, another registration's reference, no protection.
    refused(
        &ir(
            dir,
            &server,
            &id,
            "pass:0000-0000-0000-0000-0000-0000-0000-0000",
            &key,
            subj,
            &[],
        ),
        "badMessageCheck",
    );
    refused(
        &ir(
            dir,
            &server,
            "r-not-a-registration",
            &secret,
            &key,
            subj,
            &[],
        ),
        "badMessageCheck",
    );
    let o = cmp(
        dir,
        &server,
        ".well-known/cmp",
        &[
            "-cmd",
            "ir",
            "-unprotected_requests",
            "-ref",
            &id,
            "-newkey",
            &key,
            "-subject",
            subj,
            "-recipient",
            "/CN=x",
            "-certout",
            "unused.pem",
        ],
    );
    refused(&o, "badMessageCheck");

    // A message altered after it was protected: one byte of the subject.
    let o = ir(
        dir,
        &server,
        &id,
        &secret,
        &key,
        subj,
        &["-reqout", "req.der", "-path", ".well-known/cmp/p/nothing"],
    );
    assert!(!o.status.success());
    let mut der = std::fs::read(dir.join("req.der")).unwrap();
    let at = der.windows(6).position(|w| w == b"pump-3").unwrap();
    der[at] = b'P';
    std::fs::write(dir.join("altered.der"), &der).unwrap();
    let o = cmp(
        dir,
        &server,
        ".well-known/cmp",
        &[
            "-reqin",
            "altered.der",
            "-ref",
            &id,
            "-secret",
            &secret,
            "-recipient",
            "/CN=x",
            "-newkey",
            &key,
            "-subject",
            subj,
            "-cmd",
            "ir",
            "-certout",
            "unused.pem",
        ],
    );
    refused(&o, "badMessageCheck");

    // A weak key (RSA-1024), another subject than the registration's, a
    // key certified before: refused with the reason, the secret unspent.
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "weak.key",
        ],
    );
    let o = ir(dir, &server, &id, &secret, "weak.key", subj, &[]);
    refused(&o, "badCertTemplate");
    let o = ir(
        dir,
        &server,
        &id,
        &secret,
        &key,
        "/CN=someone-else.example.net",
        &[],
    );
    refused(&o, "notAuthorized");
    refused(&o, "was issued for CN=pump-3.example.net");
    // A proof of possession the key did not sign (raVerified, none).
    for popo in ["0", "-1"] {
        let o = ir(dir, &server, &id, &secret, &key, subj, &["-popo", popo]);
        refused(&o, "rejection");
        refused(&o, "proof of possession");
    }
    assert_eq!(issued(), before, "nothing issued");

    // With all that, the secret still enrolls, once.
    succeeds(&ir(
        dir,
        &server,
        &id,
        &secret,
        &key,
        subj,
        &["-certout", "pump.pem"],
    ));
    openssl_verify(dir, &server, "pump.pem");
    assert_eq!(issued(), before + 1);
    let (id2, code2) = registration(
        dir,
        &server,
        &officer,
        "CN=pump-4.example.net",
        "dns:pump-4.example.net",
    );
    let o = ir(
        dir,
        &server,
        &id2,
        &format!("pass:{code2}"),
        &key,
        "/CN=pump-4.example.net",
        &[],
    );
    refused(&o, "badCertTemplate");
    refused(&o, "certified at most once");

    // A certificate from another CA signing: not trusted.
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "foreign.key",
            "-subj",
            "/CN=foreign",
            "-out",
            "foreign.pem",
            "-days",
            "2",
        ],
    );
    let key5 = ec_key(dir, "pump5");
    let o = cmp(
        dir,
        &server,
        ".well-known/cmp",
        &[
            "-cmd",
            "kur",
            "-cert",
            "foreign.pem",
            "-key",
            "foreign.key",
            "-newkey",
            &key5,
            "-recipient",
            "/CN=x",
            "-certout",
            "unused.pem",
        ],
    );
    refused(&o, "signerNotTrusted");

    // A client that does not accept its certificate (here: it trusts only
    // another CA for it) says so in certConf; the certificate is revoked.
    let (id3, code3) = registration(
        dir,
        &server,
        &officer,
        "CN=pump-5.example.net",
        "dns:pump-5.example.net",
    );
    let key6 = ec_key(dir, "pump6");
    let revoked_before = audit_of_kind(&server, "certificate-revoked").len();
    let o = ir(
        dir,
        &server,
        &id3,
        &format!("pass:{code3}"),
        &key6,
        "/CN=pump-5.example.net",
        &["-out_trusted", "foreign.pem"],
    );
    assert!(!o.status.success(), "{}", output_text(&o));
    assert!(
        output_text(&o).contains("sending CERTCONF")
            && output_text(&o).contains("received PKICONF"),
        "{}",
        output_text(&o)
    );
    let revoked = audit_of_kind(&server, "certificate-revoked");
    assert_eq!(
        revoked.len(),
        revoked_before + 1,
        "the rejected certificate is revoked"
    );
    let last = opened(revoked.last().unwrap());
    assert_eq!(last["reason"], "cessationOfOperation", "{last}");
    assert_eq!(last["origin"], "subscriber", "{last}");
    // A subscriber's certificate is no credential: it cannot enroll
    // another subject with cr.
    let o = cmp(
        dir,
        &server,
        ".well-known/cmp",
        &[
            "-cmd",
            "cr",
            "-cert",
            "pump.pem",
            "-key",
            &key,
            "-newkey",
            &key5,
            "-subject",
            "/CN=pump-9.example.net",
            "-certout",
            "unused.pem",
        ],
    );
    refused(&o, "notAuthorized");
    assert_eq!(issued(), before + 2);

    // Each refusal is audited, with its code.
    let refusals = audit_of_kind(&server, "request-refused");
    let cmp_refusals: Vec<_> = refusals
        .iter()
        .map(opened)
        .filter(|d| {
            d["endpoint"]
                .as_str()
                .is_some_and(|p| p.starts_with("/.well-known/cmp"))
        })
        .collect();
    assert!(cmp_refusals.len() >= 9, "{cmp_refusals:?}");
    assert!(
        cmp_refusals
            .iter()
            .filter(|d| d["endpoint"] == "/.well-known/cmp")
            .all(|d| d["status"] == 200 && d["code"].is_string() && d["reason"].is_string()),
        "{cmp_refusals:?}"
    );
    assert!(cmp_refusals.iter().any(|d| d["reason"]
        .as_str()
        .unwrap()
        .contains("MAC does not verify")));
    ok(
        dir,
        &["audit", "verify", "--data", server.data.to_str().unwrap()],
    );
}

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Whether SoftHSM2, pkcs11-tool and libp11's OpenSSL engine are here.
fn pkcs11_peers() -> bool {
    let engines = Command::new("openssl")
        .args(["version", "-e"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let engine = engines
        .split('"')
        .nth(1)
        .is_some_and(|d| Path::new(d).join("pkcs11.so").exists());
    let ok = have_openssl()
        && engine
        && Path::new(SOFTHSM).exists()
        && Command::new("pkcs11-tool").arg("--help").output().is_ok();
    if !ok && std::env::var("SYMBOLON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the CMP PKCS#11 test needs SoftHSM2, OpenSC and libengine-pkcs11-openssl");
    }
    ok
}

/// pkcs11-tool on the device `dev` in `conf`.
fn pkcs11_tool(dir: &Path, conf: &Path, args: &[&str]) -> String {
    let out = succeeded(
        Command::new("pkcs11-tool")
            .env("SOFTHSM2_CONF", conf)
            .args([
                "--module",
                SOFTHSM,
                "--token-label",
                "dev",
                "--login",
                "--pin",
                "1234",
            ])
            .args(args)
            .current_dir(dir),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_key_in_a_pkcs11_device_is_enrolled_without_leaving_it() {
    if !peers() || !pkcs11_peers() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let conf = softhsm_conf(dir);
    succeeded(
        Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                "dev",
                "--pin",
                "1234",
                "--so-pin",
                "5678",
            ]),
    );
    pkcs11_tool(
        dir,
        &conf,
        &[
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--label",
            "device",
            "--id",
            "01",
        ],
    );
    let server = Server::start(dir, "data");
    let officer = credential(dir, &server, "registration-officer", "officer-1");
    let (id, code) = registration(
        dir,
        &server,
        &officer,
        "CN=sensor-5.example.net",
        "dns:sensor-5.example.net",
    );
    let address = server.url.trim_start_matches("https://");
    let out = Command::new("openssl")
        .env("SOFTHSM2_CONF", &conf)
        .env("PKCS11_MODULE_PATH", SOFTHSM)
        .args([
            "cmp",
            "-server",
            address,
            "-path",
            ".well-known/cmp",
            "-tls_used",
        ])
        .arg("-tls_trusted")
        .arg(&server.ca_cert)
        .args([
            "-cmd",
            "ir",
            "-ref",
            &id,
            "-secret",
            &format!("pass:{code}"),
        ])
        .args(["-engine", "pkcs11", "-keyform", "ENGINE"])
        .args([
            "-newkey",
            "pkcs11:token=dev;object=device;type=private;pin-value=1234",
        ])
        .args([
            "-subject",
            "/CN=sensor-5.example.net",
            "-recipient",
            "/CN=symbolon",
        ])
        .args(["-certout", "sensor.pem", "-implicit_confirm"])
        .current_dir(dir)
        .output()
        .unwrap();
    succeeds(&out);
    openssl_verify(dir, &server, "sensor.pem");
    pkilint(dir, "sensor.pem");

    // The certificate is for the device's key, which it cannot give out.
    let objects = pkcs11_tool(dir, &conf, &["--list-objects", "--type", "privkey"]);
    assert!(
        objects.contains("never extractable") && objects.contains("sensitive"),
        "{objects}"
    );
    pkcs11_tool(
        dir,
        &conf,
        &[
            "--read-object",
            "--type",
            "pubkey",
            "--id",
            "01",
            "-o",
            "device.pub.der",
        ],
    );
    let device = openssl(
        dir,
        &[
            "pkey",
            "-pubin",
            "-inform",
            "DER",
            "-in",
            "device.pub.der",
            "-pubout",
        ],
    );
    let certified = openssl(dir, &["x509", "-in", "sensor.pem", "-noout", "-pubkey"]);
    assert_eq!(
        device, certified,
        "the certificate certifies the device's key"
    );
}
