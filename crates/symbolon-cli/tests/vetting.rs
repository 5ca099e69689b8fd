//! Who may be certified as whom (docs/vetting.md), through the binary and
//! the service: registrations by a registration officer (step 423), the
//! stations' name policies with RFC 5280 semantics (OpenSSL and pkilint
//! judge what is issued), expired, withdrawn and spent registrations, and
//! the attacks: the wrong role, another station's policy, malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// A CSR (PEM) for a new OpenSSL key `NAME.key`; `subj` in OpenSSL's
/// `/O=…/CN=…` form, `san` an OpenSSL subjectAltName value.
fn csr(dir: &Path, name: &str, subj: &str, san: Option<&str>) -> String {
    let key = format!("{name}.key");
    openssl_rsa_key(dir, &key, 2048);
    let ext = san.map(|s| format!("subjectAltName={s}"));
    let mut args = vec!["req", "-new", "-key", &key, "-subj", subj];
    if let Some(e) = &ext {
        args.extend(["-addext", e]);
    }
    String::from_utf8(openssl(dir, &args)).unwrap()
}

fn count(server: &Server, kind: &str) -> usize {
    audit_entries(server)
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}

fn last(server: &Server, kind: &str) -> Value {
    last_audit_detail(server, kind)
}

struct World {
    server: Server,
    station: symbolon_client::ServiceClient,
    officer: String,
}

fn world(dir: &Path) -> World {
    let server = Server::start(dir, "data");
    let st = credential(dir, &server, "station", "st-vet");
    let officer = credential(dir, &server, "registration-officer", "officer-1");
    World {
        station: server.client(Some(&dir.join(st))),
        server,
        officer,
    }
}

impl World {
    fn certify(&self, csr: &str, identity: &str, role: &str) -> (u16, Value) {
        request(
            &self.station,
            "POST",
            "/v1/certify",
            Some(&json!({ "csr": csr, "identity": identity, "role": role })),
        )
    }

    fn ra(&self, dir: &Path, args: &[&str]) -> Run {
        let mut all = vec![
            "ra",
            args[0],
            "--ca",
            &self.server.url,
            "--ca-cert",
            self.server.ca_cert.to_str().unwrap(),
            "--credential",
            &self.officer,
        ];
        all.extend_from_slice(&args[1..]);
        run(dir, &all)
    }

    fn register(&self, dir: &Path, identity: &str, roles: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "register",
            "--identity",
            identity,
            "--roles",
            roles,
            "--evidence",
            "passport X1234567, seen in person",
        ];
        args.extend_from_slice(extra);
        let r = self.ra(dir, &args);
        assert_eq!(r.code, 0, "ra register: {}", r.stderr);
        r.text().trim().to_string()
    }
}

#[test]
fn a_subject_is_certified_only_once_registered_and_once_per_use() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let w = world(dir);
    let identity = "CN=Alice Example,O=Example";
    let alice = csr(dir, "alice", "/O=Example/CN=Alice Example", None);

    // No registration, no policy: refused, named, audited, nothing issued.
    let issued = count(&w.server, "certificate-issued");
    let (s, v) = w.certify(&alice, identity, "email");
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["code"], "not_registered");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("CN=Alice Example,O=Example") && m.contains("email"),
        "{m}"
    );
    assert!(m.contains("station st-vet has no name policy"), "{m}");
    let refused = last(&w.server, "certification-refused");
    assert_eq!(refused["code"], "not_registered");
    assert_eq!(refused["by"]["name"], "st-vet");
    assert_eq!(count(&w.server, "certificate-issued"), issued);

    // The officer registers Alice (case and spacing do not matter).
    let id = w.register(
        dir,
        "cn=Alice Example, o=Example",
        "email,document-signing",
        &["--uses", "1"],
    );
    assert_eq!(id.len(), 32, "{id}");
    let reg = last(&w.server, "subscriber-registered");
    assert_eq!(reg["registration"], id.as_str());
    assert_eq!(reg["by"]["name"], "officer-1");
    assert!(reg["evidence_commitment"].is_string());
    assert!(
        !reg.to_string().contains("X1234567"),
        "the audit log keeps the evidence's digest only"
    );

    // Another role than registered: refused, saying what it is registered for.
    let (s, v) = w.certify(&alice, identity, "client");
    assert_eq!(s, 403);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("registered for document-signing, email only"),
        "{v}"
    );

    // The same subject now succeeds, once (ASCII case folds; the
    // certificate carries the vetted spelling).
    let shouting = csr(dir, "alice-caps", "/O=EXAMPLE/CN=ALICE EXAMPLE", None);
    let (s, v) = w.certify(&shouting, "CN=ALICE EXAMPLE,O=EXAMPLE", "email");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["authority"]["by"], "registration");
    assert_eq!(v["authority"]["registration"], id.as_str());
    std::fs::write(dir.join("alice.crt"), v["certificate"].as_str().unwrap()).unwrap();
    let text = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "alice.crt", "-noout", "-subject"],
    ))
    .unwrap();
    assert!(
        text.contains("CN = Alice Example") && text.contains("O = Example"),
        "{text}"
    );
    let issuedd = last(&w.server, "certificate-issued");
    assert_eq!(issuedd["authority"]["registration"], id.as_str());

    // A second use of a single-use registration: refused.
    let again = csr(dir, "alice2", "/O=Example/CN=Alice Example", None);
    let (s, v) = w.certify(&again, identity, "email");
    assert_eq!(s, 403);
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains(&format!("registration {id} is used up")), "{m}");

    // The officer sees it spent, with its certificate.
    let r = w.ra(dir, &["show", "--id", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.text();
    assert!(
        out.contains("spent") && out.contains("certificate ") && out.contains("passport X1234567"),
        "{out}"
    );
    let list = w.ra(dir, &["list", "--all"]);
    assert!(list.text().contains(&id), "{}", list.text());
    assert!(
        !w.ra(dir, &["list"]).text().contains(&id),
        "spent is not live"
    );
}

#[test]
fn expired_and_withdrawn_registrations_are_refused() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let w = world(dir);

    // Expired: live for one second; wait until the service says so.
    let id = w.register(dir, "CN=Bob,O=Example", "client", &["--valid", "1s"]);
    let mut state = String::new();
    for _ in 0..100 {
        let r = w.ra(dir, &["show", "--id", &id, "--json"]);
        state = serde_json::from_slice::<Value>(&r.stdout).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string();
        if state == "expired" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(state, "expired");
    let bob = csr(dir, "bob", "/O=Example/CN=Bob", None);
    let (s, v) = w.certify(&bob, "CN=Bob,O=Example", "client");
    assert_eq!(s, 403);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is expired"),
        "{v}"
    );

    // Withdrawn.
    let id = w.register(dir, "CN=Carol,O=Example", "client", &["--uses", "5"]);
    let r = w.ra(
        dir,
        &["withdraw", "--id", &id, "--reason", "left the company"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let carol = csr(dir, "carol", "/O=Example/CN=Carol", None);
    let (s, v) = w.certify(&carol, "CN=Carol,O=Example", "client");
    assert_eq!(s, 403);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is withdrawn"),
        "{v}"
    );
    let r = w.ra(dir, &["withdraw", "--id", &id, "--reason", "again"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("withdrawn already"), "{}", r.stderr);
    assert_eq!(
        last(&w.server, "registration-withdrawn")["reason"],
        "left the company"
    );
}

#[test]
fn name_policies_decide_every_name_with_rfc5280_semantics() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let w = world(dir);
    name_policy(
        dir,
        &w.server,
        "st-vet",
        &["dns:example.com", "ip:10.0.0.0/8", "email:example.com"],
        &["dns:secret.example.com"],
    );
    let cases: &[(&str, &str, Option<&str>, bool, &str)] = &[
        (
            "good",
            "/CN=www.example.com",
            Some("DNS:www.example.com,DNS:api.example.com,IP:10.1.2.3"),
            true,
            "",
        ),
        ("apex", "/CN=example.com", None, true, ""),
        (
            "mail",
            "/CN=mail.example.com",
            Some("email:ops@example.com"),
            true,
            "",
        ),
        (
            "lookalike",
            "/CN=www.badexample.com",
            None,
            false,
            "www.badexample.com",
        ),
        (
            "suffix",
            "/CN=example.com.evil.org",
            None,
            false,
            "example.com.evil.org",
        ),
        (
            "denied",
            "/CN=a.secret.example.com",
            None,
            false,
            "denied by the rule dns:secret.example.com",
        ),
        (
            "ip",
            "/CN=www.example.com",
            Some("DNS:www.example.com,IP:11.0.0.1"),
            false,
            "ip:11.0.0.1",
        ),
        (
            "onebad",
            "/CN=www.example.com",
            Some("DNS:www.example.com,DNS:www.badexample.com,DNS:api.example.com"),
            false,
            "dns:www.badexample.com",
        ),
        (
            "person",
            "/CN=Eve Example",
            None,
            false,
            "needs a registration",
        ),
        (
            "org",
            "/O=Example/CN=www.example.com",
            None,
            false,
            "carries O",
        ),
        (
            "uri",
            "/CN=www.example.com",
            Some("URI:https://www.example.com/"),
            false,
            "uniformResourceIdentifier",
        ),
    ];
    for (name, subj, san, allowed, needle) in cases {
        let identity = {
            let mut parts: Vec<&str> = subj.split('/').filter(|p| !p.is_empty()).collect();
            parts.reverse();
            parts.join(",")
        };
        let before = count(&w.server, "certificate-issued");
        let (s, v) = w.certify(&csr(dir, name, subj, *san), &identity, "client");
        if *allowed {
            assert_eq!(s, 200, "{name}: {v}");
            assert_eq!(v["authority"]["by"], "name-policy", "{name}");
            let file = format!("{name}.crt");
            std::fs::write(dir.join(&file), v["certificate"].as_str().unwrap()).unwrap();
            let sans = String::from_utf8(openssl(
                dir,
                &["x509", "-in", &file, "-noout", "-ext", "subjectAltName"],
            ))
            .unwrap();
            for want in san.unwrap_or("").split(',').filter(|s| !s.is_empty()) {
                let (kind, value) = want.split_once(':').unwrap();
                let shown = match kind {
                    "DNS" => format!("DNS:{value}"),
                    "IP" => format!("IP Address:{value}"),
                    _ => format!("email:{value}"),
                };
                assert!(
                    sans.contains(&shown),
                    "{name}: OpenSSL shows {sans}, not {shown}"
                );
            }
            pkilint(dir, &file);
        } else {
            assert!(s == 403 || s == 400, "{name}: {s} {v}");
            let m = v["error"]["message"].as_str().unwrap();
            assert!(m.contains(needle), "{name}: {m}");
            assert_eq!(
                count(&w.server, "certificate-issued"),
                before,
                "{name}: nothing issued"
            );
        }
    }

    // A registration vets alternative names the policy does not cover.
    let id = w.register(
        dir,
        "CN=Dave,O=Example",
        "email",
        &["--san", "email:dave@mail.other.org"],
    );
    let (s, v) = w.certify(
        &csr(
            dir,
            "dave",
            "/O=Example/CN=Dave",
            Some("email:dave@mail.other.org,email:ops@example.com"),
        ),
        "CN=Dave,O=Example",
        "email",
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["authority"]["registration"], id.as_str());
    let id2 = w.register(dir, "CN=Erin,O=Example", "email", &["--uses", "2"]);
    let (s, v) = w.certify(
        &csr(
            dir,
            "erin",
            "/O=Example/CN=Erin",
            Some("email:erin@elsewhere.org"),
        ),
        "CN=Erin,O=Example",
        "email",
    );
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["code"], "name_not_allowed");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("email:erin@elsewhere.org") && m.contains(&id2),
        "{m}"
    );
    assert_eq!(
        last(&w.server, "certification-refused")["code"],
        "name_not_allowed"
    );

    // A dn: rule covers the directory name, not the hosts, addresses and
    // wildcards a subject holds.
    name_policy(
        dir,
        &w.server,
        "st-vet",
        &["dn:O=Example,C=GB", "dns:example.com"],
        &[],
    );
    for (name, subj, allowed) in [
        ("dn-person", "/C=GB/O=Example/CN=Alice", true),
        ("dn-host", "/C=GB/O=Example/CN=www.example.com", true),
        ("dn-google", "/C=GB/O=Example/CN=mail.google.com", false),
        ("dn-wild", "/C=GB/O=Example/CN=*.example.com", false),
        (
            "dn-mail",
            "/C=GB/O=Example/emailAddress=ceo@evil.org",
            false,
        ),
    ] {
        let identity = {
            let mut parts: Vec<&str> = subj.split('/').filter(|p| !p.is_empty()).collect();
            parts.reverse();
            parts.join(",")
        };
        let (s, v) = w.certify(&csr(dir, name, subj, None), &identity, "client");
        assert_eq!(s == 200, allowed, "{name}: {s} {v}");
    }
    name_policy(
        dir,
        &w.server,
        "st-vet",
        &["dns:example.com"],
        &["dns:secret.example.com"],
    );

    // The station reads its own policy, not another's.
    let (s, v) = request(&w.station, "GET", "/v1/admin/name-policies/st-vet", None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["policy"]["deny"], json!(["dns:secret.example.com"]));
    let (s, _) = request(
        &w.station,
        "GET",
        "/v1/admin/name-policies/test-station",
        None,
    );
    assert_eq!(s, 403);
    assert_eq!(last(&w.server, "name-policy-set")["station"], "st-vet");
}

#[test]
fn only_officers_register_and_only_admins_set_policies() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let w = world(dir);
    // (Before this process opens the officer's token itself.)
    let r = w.ra(dir, &["show", "--id", "nothex"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("32 hex digits"), "{}", r.stderr);
    // A policy for a name no station holds: refused (it would wait for
    // whoever is granted that name).
    let admin = w.server.admin.to_str().unwrap().to_string();
    let r = run(
        dir,
        &words![
            "admin name-policy set --ca",
            &w.server.url,
            "--ca-cert",
            w.server.ca_cert.to_str().unwrap(),
            "--credential",
            &admin,
            "--station nobody-yet --allow dn:*"
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("is not a station"), "{}", r.stderr);
    // Wildcards are registered for no one.
    let r = w.ra(
        dir,
        &words!["register --identity CN=*.example.com --roles server --evidence e"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("wildcard"), "{}", r.stderr);
    let body = json!({ "identity": "CN=Mallory", "roles": ["email"], "evidence": "trust me" });
    let anonymous = w.server.client(None);
    let (s, v) = request(&anonymous, "POST", "/v1/ra/registrations", Some(&body));
    assert_eq!(s, 401, "{v}");
    // A station cannot vet its own subjects by registering them.
    let (s, v) = request(&w.station, "POST", "/v1/ra/registrations", Some(&body));
    assert_eq!(s, 403, "{v}");
    let officer = w.server.client(Some(&dir.join(&w.officer)));
    let (s, _) = request(
        &officer,
        "PUT",
        "/v1/admin/name-policies/st-vet",
        Some(&json!({ "allow": ["dn:*"] })),
    );
    assert_eq!(s, 403, "an officer does not set policies");
    let (s, _) = request(
        &w.station,
        "PUT",
        "/v1/admin/name-policies/st-vet",
        Some(&json!({ "allow": ["dn:*"] })),
    );
    assert_eq!(s, 403, "a station does not set its own policy");
    let refused = last(&w.server, "request-refused");
    assert_eq!(refused["by"]["name"], "st-vet");

    // Bad input: each refused with its reason, nothing registered.
    let before = count(&w.server, "subscriber-registered");
    for (body, code, needle) in [
        (
            json!({ "identity": "CN=x,2.5.4.999=y", "roles": ["email"], "evidence": "e" }),
            "invalid_input",
            "2.5.4.999 is not allowed",
        ),
        (
            json!({ "identity": "CN=x", "roles": ["root"], "evidence": "e" }),
            "invalid_input",
            "roles",
        ),
        (
            json!({ "identity": "CN=x", "roles": [], "evidence": "e" }),
            "invalid_input",
            "at least one",
        ),
        (
            json!({ "identity": "CN=x", "roles": ["email"], "evidence": " " }),
            "invalid_input",
            "evidence",
        ),
        (
            json!({ "identity": "CN=x", "roles": ["email"], "evidence": "x".repeat(1025) }),
            "field_too_long",
            "evidence",
        ),
        (
            json!({ "identity": "CN=x", "roles": ["email"], "evidence": "e", "uses": 0 }),
            "invalid_input",
            "uses",
        ),
        (
            json!({ "identity": "CN=x", "roles": ["email"], "evidence": "e", "valid": "2y" }),
            "invalid_input",
            "valid",
        ),
        (
            json!({ "identity": "CN=x", "roles": ["email"], "evidence": "e", "alt_names": ["uri:x"] }),
            "invalid_input",
            "alt_names",
        ),
        (
            json!({ "identity": "CN=x", "roles": ["email"], "evidence": "e", "extra": 1 }),
            "invalid_json",
            "unknown field",
        ),
    ] {
        let (s, v) = request(&officer, "POST", "/v1/ra/registrations", Some(&body));
        assert!((400..500).contains(&s), "{body}: {s} {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    assert_eq!(count(&w.server, "subscriber-registered"), before);
    let (s, v) = request(
        &w.server.client(Some(&w.server.admin)),
        "PUT",
        "/v1/admin/name-policies/st-vet",
        Some(&json!({ "allow": ["dns:badexample..com"] })),
    );
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dns:badexample..com"),
        "{v}"
    );
    let (s, _) = request(
        &officer,
        "GET",
        "/v1/ra/registrations/00000000000000000000000000000000",
        None,
    );
    assert_eq!(s, 404);
}

#[test]
fn devices_are_vouched_for_and_registered_under_one_serial() {
    if !have_openssl() {
        return;
    }
    let (d, server) = service_with_station();
    let dir = d.path();
    let r = ok(
        dir,
        &words!["--json token register --token t.tok --ca", &server.url],
    );
    let v = r.json();
    assert_eq!(v["evidence"]["kind"], "vouched");
    assert_eq!(v["evidence"]["by"], "test-station");
    let serial = v["token"].as_str().unwrap().to_string();

    // The same device key under another serial: refused, naming the first.
    sym!(
        dir,
        "token public-key --token t.tok --device --out device.pem"
    );
    let device = std::fs::read_to_string(dir.join("device.pem")).unwrap();
    let (s, v) = http(
        "POST",
        &format!("{}/v1/tokens", server.url),
        Some(&json!({ "serial": "00112233445566778899aabbccddeeff", "device_key": device })),
    );
    assert_eq!(s, 409, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains(&format!("registered as token {serial}")), "{m}");
    // An auditor may read the device's record; an anonymous caller may not
    // register one.
    let (s, _) = request(
        &server.client(None),
        "POST",
        "/v1/tokens",
        Some(&json!({ "serial": serial, "device_key": device })),
    );
    assert_eq!(s, 401);

    // A key made on the token and attested: the issuance says who vouched.
    let r = run(
        dir,
        &words!["issue --on-token --ca", &server.url, "--ca-cert root.pem --issuer st --token t.tok --slot tls --identity CN=alice.example --role server"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let issued = last(&server, "certificate-issued");
    assert_eq!(issued["device"]["kind"], "vouched");
    assert_eq!(issued["device"]["by"], "test-station");
    let r = ok(
        dir,
        &words!["--json token registration --token t.tok --ca", &server.url],
    );
    let v = r.json();
    assert_eq!(v["evidence"]["by"], "test-station");
    assert_eq!(v["certificates"].as_array().unwrap().len(), 1, "{v}");
}

#[test]
fn the_last_use_of_a_registration_goes_to_one_request_of_many_at_once() {
    if !have_openssl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let w = world(dir);
    let id = w.register(dir, "CN=Frank,O=Example", "client", &["--uses", "2"]);
    let csrs: Vec<String> = (0..8)
        .map(|i| csr(dir, &format!("frank{i}"), "/O=Example/CN=Frank", None))
        .collect();
    let before = count(&w.server, "certificate-issued");
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = csrs
            .iter()
            .map(|c| s.spawn(|| w.certify(c, "CN=Frank,O=Example", "client")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let issued = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(issued, 2, "{answers:?}");
    for (s, v) in answers.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*s, 403, "{v}");
        assert_eq!(v["error"]["code"], "not_registered", "{v}");
    }
    assert_eq!(count(&w.server, "certificate-issued"), before + 2);
    let r = w.ra(dir, &["show", "--id", &id, "--json"]);
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["used"], 2);
    assert_eq!(v["certificates"].as_array().unwrap().len(), 2);
}

#[test]
fn the_station_asks_for_alternative_names_its_policy_allows() {
    if !have_openssl() {
        return;
    }
    let (d, server) = service_with_station();
    let dir = d.path();
    let st = credential(dir, &server, "station", "st-cli");
    name_policy(
        dir,
        &server,
        "st-cli",
        &["dns:example.com", "ip:192.0.2.0/24"],
        &[],
    );
    let issue = |slot: &str, san: &[&str]| {
        let mut args = vec![
            "issue",
            "--credential",
            &st,
            "--ca",
            &server.url,
            "--ca-cert",
            "root.pem",
            "--issuer",
            "st",
            "--token",
            "t.tok",
            "--slot",
            slot,
            "--identity",
            "CN=web.example.com",
            "--role",
            "client",
            "--out",
        ];
        let out = format!("{slot}.crt");
        args.push(&out);
        for s in san {
            args.extend(["--san", s]);
        }
        run(dir, &args)
    };
    let r = issue("web", &["dns:web.example.com", "ip:192.0.2.7"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sans = String::from_utf8(openssl(
        dir,
        &["x509", "-in", "web.crt", "-noout", "-ext", "subjectAltName"],
    ))
    .unwrap();
    assert!(
        sans.contains("DNS:web.example.com") && sans.contains("IP Address:192.0.2.7"),
        "{sans}"
    );
    let r = issue("bad", &["dns:web.example.com", "dns:web.badexample.com"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("dns:web.badexample.com"), "{}", r.stderr);
    assert!(!dir.join("bad.crt").exists());
    let r = issue("uri", &["uri:https://web.example.com"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("--san"), "{}", r.stderr);
}
