//! ACME attacked from outside (docs/acme.md), at the service's own API:
//! an account without a binding, with a forged one, with one used
//! already; a request replayed, signed for another URL, signed by another
//! key under an account's kid, with a jwk where a kid belongs; names
//! outside the policy, wildcards, IP addresses; another account's order,
//! certificate and revocation; finalize before validation, with a CSR for
//! other names or another subject; a wrong challenge answer; key rollover
//! and deactivation. Each refusal is the right problem type, and nothing
//! is issued by it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use symbolon::access::Role;
use symbolon::acme::{ProblemType, Status};
use symbolon::ca::CaPolicy;
use symbolon::keys::{EcCurve, EcPrivateKey, RsaAlgorithm};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon::vetting::NamePolicyText;
use symbolon::x509::{
    build_ec_csr_with_names, parse_identity, AltNames, CertificateRole, EcSigner,
};
use symbolon_server::acme::{AcmeBody, AcmeContext, AcmeError, AcmeReply};
use symbolon_server::acme_validate::AcmeValidation;
use symbolon_server::{CaService, DataDir};
use symbolon_store::{acting_as, Actor, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../benches/shared/acme_key.rs"]
mod acme_key;
use acme_key::{eab_binding, AcmeKey as Key};

/// A CSR for `key` itself, for `name`.
fn csr_of(key: &Key, name: &str) -> Vec<u8> {
    let pem = symbolon::pem::encode("PRIVATE KEY", &key.pkcs8);
    let key = EcPrivateKey::import_pem(pem.as_bytes()).unwrap();
    let signer = EcSigner::new(key.public_key().clone()).unwrap();
    let alt = AltNames::parse_tagged([format!("dns:{name}").as_str()]).unwrap();
    build_ec_csr_with_names(&Default::default(), &alt, &signer, |input| key.sign(input)).unwrap()
}

struct Acme {
    service: Arc<CaService>,
    ctx: AcmeContext,
    rt: tokio::runtime::Runtime,
    /// What the http-01 responder answers: `None` the right key
    /// authorization for its account's thumbprint, or this text.
    answer: Arc<Mutex<(String, Option<String>)>>,
    _dir: tempfile::TempDir,
}

fn problem(r: Result<AcmeReply, AcmeError>) -> AcmeError {
    match r {
        Ok(reply) => panic!("accepted: {reply:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn refused(r: Result<AcmeReply, AcmeError>, kind: ProblemType, needle: &str) {
    let e = problem(r);
    assert!(e.problem.is(kind), "expected {kind:?}, got {}", e.problem);
    assert!(
        e.problem.detail.contains(needle),
        "expected {needle:?} in {}",
        e.problem
    );
}

fn json_of(r: &AcmeReply) -> &Value {
    match &r.body {
        AcmeBody::Json(v) => v,
        other => panic!("not JSON: {other:?}"),
    }
}

impl Acme {
    fn start() -> Acme {
        Self::start_with_hosts(&[])
    }

    /// The same, ACME answering under `hosts` only.
    fn start_with_hosts(hosts: &[&str]) -> Acme {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("data"));
        data.init(
            "CN=acme test CA",
            RsaAlgorithm::Rsa2048.into(),
            CaPolicy::default(),
            None,
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let answer = Arc::new(Mutex::new((String::new(), None::<String>)));
        let service = rt.block_on(async {
            // The http-01 responder: answers every challenge path with the
            // key authorization of the thumbprint set, or a text set.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let shared = Arc::clone(&answer);
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = listener.accept().await else { return };
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 4096];
                        let n = s.read(&mut buf).await.unwrap_or(0);
                        let head = String::from_utf8_lossy(&buf[..n]).to_string();
                        let token = head
                            .split_whitespace()
                            .nth(1)
                            .and_then(|p| p.strip_prefix("/.well-known/acme-challenge/"))
                            .unwrap_or_default()
                            .to_string();
                        let body = {
                            let a = shared.lock().unwrap();
                            a.1.clone().unwrap_or_else(|| format!("{token}.{}", a.0))
                        };
                        let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                        let _ = s.write_all(reply.as_bytes()).await;
                    });
                }
            });
            let registry = Registry::open(&data.database_url()).await.unwrap();
            let service = Arc::new(
                CaService::new(data.open().unwrap(), registry).unwrap().with_acme_validation(AcmeValidation {
                    http_port: port,
                    tls_port: 1,
                    resolve_to: Some("127.0.0.1".parse().unwrap()),
                })
                .with_acme_hosts(hosts.iter().map(|h| h.to_string())),
            );
            let mut token = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
            let public = token.generate(&SlotName::new("web").unwrap(), RsaAlgorithm::Rsa2048).unwrap();
            service
                .bootstrap_credential(
                    Role::Station,
                    &"web".parse().unwrap(),
                    &public,
                    symbolon_server::credentials::CREDENTIAL_VALIDITY,
                )
                .await
                .unwrap();
            let policy = NamePolicyText {
                allow: vec!["dns:acme.test".into()],
                deny: vec!["dns:blocked.acme.test".into()],
            };
            acting_as(admin(), service.set_name_policy(&"web".parse().unwrap(), &policy))
                .await
                .unwrap();
            service
        });
        Acme {
            service,
            ctx: AcmeContext {
                base: "https://ca.test/acme/server".into(),
                role: CertificateRole::Server,
            },
            rt,
            answer,
            _dir: dir,
        }
    }

    /// A request body signed by `key`, as account `kid` or with its jwk.
    fn body(&self, key: &Key, kid: Option<&str>, url: &str, payload: &str) -> Vec<u8> {
        let nonce = self.service.acme_nonce().unwrap();
        let mut header = json!({ "alg": "ES256", "nonce": nonce, "url": url });
        match kid {
            Some(k) => header["kid"] = json!(k),
            None => header["jwk"] = key.jwk.clone(),
        }
        key.sign(header, payload).to_string().into_bytes()
    }

    fn eab(&self) -> (String, Vec<u8>) {
        let issued = self
            .rt
            .block_on(
                self.service
                    .acme_issue_eab(&"web".parse().unwrap(), None, &admin()),
            )
            .unwrap();
        let key = URL_SAFE_NO_PAD
            .decode(issued.key.reveal().as_bytes())
            .unwrap();
        (issued.kid, key)
    }

    /// A new account for `key` under a fresh binding: its kid URL.
    fn account(&self, key: &Key) -> String {
        let (kid, hmac) = self.eab();
        let url = self.ctx.url("new-account");
        let payload = json!({ "termsOfServiceAgreed": true, "externalAccountBinding": eab_binding(&kid, &hmac, &url, &key.jwk) });
        let r = self
            .rt
            .block_on(
                self.service
                    .acme_new_account(&self.ctx, &self.body(key, None, &url, &payload.to_string())),
            )
            .unwrap();
        assert_eq!(r.status, 201);
        r.location.unwrap()
    }

    fn order(&self, key: &Key, kid: &str, names: &[&str]) -> Result<AcmeReply, AcmeError> {
        let ids: Vec<Value> = names
            .iter()
            .map(|n| json!({ "type": "dns", "value": n }))
            .collect();
        let url = self.ctx.url("new-order");
        self.rt.block_on(self.service.acme_new_order(
            &self.ctx,
            &self.body(
                key,
                Some(kid),
                &url,
                &json!({ "identifiers": ids }).to_string(),
            ),
        ))
    }

    fn id_of(url: &str) -> String {
        url.rsplit('/').next().unwrap().to_string()
    }

    /// Has every authorization of `order` validated by http-01 and waits
    /// (as a client polls) until each is settled: their statuses.
    fn validate(&self, key: &Key, kid: &str, order: &Value) -> Vec<Status> {
        self.answer.lock().unwrap().0 = key.thumbprint();
        let mut out = Vec::new();
        for a in order["authorizations"].as_array().unwrap() {
            let authz = Self::id_of(a.as_str().unwrap());
            let url = self.ctx.url(&format!("chall/{authz}/http-01"));
            self.rt
                .block_on(self.service.acme_challenge(
                    &self.ctx,
                    &authz,
                    "http-01",
                    &self.body(key, Some(kid), &url, "{}"),
                ))
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let url = self.ctx.url(&format!("authz/{authz}"));
                let r = self
                    .rt
                    .block_on(self.service.acme_authorization(
                        &self.ctx,
                        &authz,
                        &self.body(key, Some(kid), &url, ""),
                    ))
                    .unwrap();
                let status = json_of(&r)["status"].as_str().unwrap().to_string();
                if status != "pending" {
                    out.push(match status.as_str() {
                        "valid" => Status::Valid,
                        "invalid" => Status::Invalid,
                        other => panic!("authorization {other}"),
                    });
                    break;
                }
                assert!(Instant::now() < deadline, "validation never settled");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        out
    }

    fn finalize(
        &self,
        key: &Key,
        kid: &str,
        order: &str,
        csr: &[u8],
    ) -> Result<AcmeReply, AcmeError> {
        let url = self.ctx.url(&format!("order/{order}/finalize"));
        let payload = json!({ "csr": URL_SAFE_NO_PAD.encode(csr) }).to_string();
        self.rt.block_on(self.service.acme_finalize(
            &self.ctx,
            order,
            &self.body(key, Some(kid), &url, &payload),
        ))
    }

    fn issued_count(&self) -> usize {
        self.rt
            .block_on(self.service.registry().audit_entries(0, 100_000))
            .unwrap()
            .iter()
            .filter(|e| e.kind == "certificate-issued")
            .count()
    }
}

fn admin() -> Actor {
    Actor {
        role: Role::Admin,
        name: "admin".parse().unwrap(),
        credential: "0a0b".parse().unwrap(),
    }
}

/// A CSR for a fresh P-256 key: `subject` (may be empty) and DNS names.
fn csr(subject: &str, names: &[&str]) -> Vec<u8> {
    let key = EcPrivateKey::generate(EcCurve::P256).unwrap();
    let signer = EcSigner::new(key.public_key().clone()).unwrap();
    let alt = AltNames::parse_tagged(
        names
            .iter()
            .map(|n| format!("dns:{n}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    )
    .unwrap();
    let subject = if subject.is_empty() {
        Default::default()
    } else {
        parse_identity(subject).unwrap()
    };
    build_ec_csr_with_names(&subject, &alt, &signer, |input| key.sign(input)).unwrap()
}

#[test]
fn accounts_need_a_binding_an_officer_issued_used_once() {
    let acme = Acme::start();
    let key = Key::new();
    let url = acme.ctx.url("new-account");
    let send = |body: Vec<u8>| {
        acme.rt
            .block_on(acme.service.acme_new_account(&acme.ctx, &body))
    };

    refused(
        send(acme.body(&key, None, &url, "{}")),
        ProblemType::ExternalAccountRequired,
        "binding",
    );
    let (kid, hmac) = acme.eab();
    // A MAC under another key, a binding made for another URL, a binding
    // of another account key, a kid nobody issued.
    let forged = json!({ "externalAccountBinding": eab_binding(&kid, b"not the key at all, 32 bytes....", &url, &key.jwk) });
    refused(
        send(acme.body(&key, None, &url, &forged.to_string())),
        ProblemType::Unauthorized,
        "MAC does not verify",
    );
    let elsewhere = json!({ "externalAccountBinding": eab_binding(&kid, &hmac, "https://ca.test/acme/client/new-account", &key.jwk) });
    refused(
        send(acme.body(&key, None, &url, &elsewhere.to_string())),
        ProblemType::Unauthorized,
        "another URL",
    );
    let other = Key::new();
    let theirs = json!({ "externalAccountBinding": eab_binding(&kid, &hmac, &url, &other.jwk) });
    refused(
        send(acme.body(&key, None, &url, &theirs.to_string())),
        ProblemType::Unauthorized,
        "another key",
    );
    let unknown = json!({ "externalAccountBinding": eab_binding("nobody", &hmac, &url, &key.jwk) });
    refused(
        send(acme.body(&key, None, &url, &unknown.to_string())),
        ProblemType::Unauthorized,
        "not a binding key",
    );

    let good = json!({ "externalAccountBinding": eab_binding(&kid, &hmac, &url, &key.jwk), "contact": ["mailto:ops@acme.test"] });
    let body = acme.body(&key, None, &url, &good.to_string());
    let r = send(body.clone()).unwrap();
    assert_eq!(r.status, 201);
    let account = r.location.clone().unwrap();
    // The same request again: its nonce was spent.
    refused(send(body), ProblemType::BadNonce, "nonce");
    // The same key again: its account, not a new one.
    let again = send(acme.body(&key, None, &url, "{}")).unwrap();
    assert_eq!(
        (again.status, again.location.as_deref()),
        (200, Some(account.as_str()))
    );
    // The binding once more, for another key: used.
    let reuse = json!({ "externalAccountBinding": eab_binding(&kid, &hmac, &url, &other.jwk) });
    refused(
        send(acme.body(&other, None, &url, &reuse.to_string())),
        ProblemType::Unauthorized,
        "used already",
    );
    refused(
        send(acme.body(
            &other,
            None,
            &url,
            &json!({ "onlyReturnExisting": true }).to_string(),
        )),
        ProblemType::AccountDoesNotExist,
        "no account",
    );
    let bad_contact = json!({ "externalAccountBinding": eab_binding(&acme.eab().0, &hmac, &url, &other.jwk), "contact": ["tel:+1555"] });
    let e = problem(send(acme.body(
        &other,
        None,
        &url,
        &bad_contact.to_string(),
    )));
    assert!(e.problem.kind.ends_with("invalidContact"), "{}", e.problem);
    for injected in [
        "mailto:a@acme.test\r\nBcc:x@evil.example",
        "mailto:a@b@acme.test",
        "mailto:a@acme.test;x@evil.example",
        "mailto:a%0d@acme.test",
    ] {
        let c = json!({ "externalAccountBinding": eab_binding(&acme.eab().0, &hmac, &url, &other.jwk), "contact": [injected] });
        let e = problem(send(acme.body(&other, None, &url, &c.to_string())));
        assert!(
            e.problem.kind.ends_with("invalidContact"),
            "{injected:?}: {}",
            e.problem
        );
    }
}

#[test]
fn requests_are_bound_to_their_url_key_and_account() {
    let acme = Acme::start();
    let (a, b) = (Key::new(), Key::new());
    let kid_a = acme.account(&a);
    let kid_b = acme.account(&b);
    let id_a = Acme::id_of(&kid_a);
    let url_a = acme.ctx.url(&format!("account/{id_a}"));
    let read = |body: Vec<u8>| {
        acme.rt
            .block_on(acme.service.acme_account(&acme.ctx, &id_a, &body))
    };

    read(acme.body(&a, Some(&kid_a), &url_a, "")).unwrap();
    // Signed for another URL; signed by B under A's kid; B reading A;
    // a jwk where an account must sign.
    refused(
        read(acme.body(&a, Some(&kid_a), &acme.ctx.url("new-order"), "")),
        ProblemType::Unauthorized,
        "signed for",
    );
    refused(
        read(acme.body(&b, Some(&kid_a), &url_a, "")),
        ProblemType::Malformed,
        "does not verify",
    );
    refused(
        read(acme.body(&b, Some(&kid_b), &url_a, "")),
        ProblemType::Unauthorized,
        "only itself",
    );
    refused(
        read(acme.body(&a, None, &url_a, "")),
        ProblemType::Malformed,
        "kid",
    );
    refused(
        read(acme.body(
            &a,
            Some("https://ca.test/acme/server/account/nobody"),
            &url_a,
            "",
        )),
        ProblemType::AccountDoesNotExist,
        "nobody",
    );

    // Orders: outside the policy, denied, wildcard, IP; B cannot see A's.
    refused(
        acme.order(&a, &kid_a, &["www.example.org"]),
        ProblemType::RejectedIdentifier,
        "outside the name policy",
    );
    refused(
        acme.order(&a, &kid_a, &["blocked.acme.test"]),
        ProblemType::RejectedIdentifier,
        "outside",
    );
    refused(
        acme.order(&a, &kid_a, &["*.acme.test"]),
        ProblemType::RejectedIdentifier,
        "wildcard",
    );
    let ids = json!({ "identifiers": [{ "type": "ip", "value": "127.0.0.1" }] }).to_string();
    refused(
        acme.rt.block_on(acme.service.acme_new_order(
            &acme.ctx,
            &acme.body(&a, Some(&kid_a), &acme.ctx.url("new-order"), &ids),
        )),
        ProblemType::UnsupportedIdentifier,
        "DNS names only",
    );
    let order = acme.order(&a, &kid_a, &["www.acme.test"]).unwrap();
    let order_id = Acme::id_of(order.location.as_ref().unwrap());
    let url = acme.ctx.url(&format!("order/{order_id}"));
    refused(
        acme.rt.block_on(acme.service.acme_order(
            &acme.ctx,
            &order_id,
            &acme.body(&b, Some(&kid_b), &url, ""),
        )),
        ProblemType::Malformed,
        "no such order",
    );
    // Finalize before any challenge passed.
    refused(
        acme.finalize(&a, &kid_a, &order_id, &csr("", &["www.acme.test"])),
        ProblemType::OrderNotReady,
        "not ready",
    );
    let authz = Acme::id_of(json_of(&order)["authorizations"][0].as_str().unwrap());
    let chall = acme.ctx.url(&format!("chall/{authz}/http-01"));
    refused(
        acme.rt.block_on(acme.service.acme_challenge(
            &acme.ctx,
            &authz,
            "http-01",
            &acme.body(&b, Some(&kid_b), &chall, "{}"),
        )),
        ProblemType::Malformed,
        "no such authorization",
    );

    // Deactivated: A signs nothing more.
    let r = read(acme.body(
        &a,
        Some(&kid_a),
        &url_a,
        &json!({ "status": "deactivated" }).to_string(),
    ))
    .unwrap();
    assert_eq!(json_of(&r)["status"], "deactivated");
    refused(
        read(acme.body(&a, Some(&kid_a), &url_a, "")),
        ProblemType::Unauthorized,
        "deactivated",
    );
}

#[test]
fn only_validated_names_are_issued_and_only_their_account_revokes() {
    let acme = Acme::start();
    let (a, b) = (Key::new(), Key::new());
    let kid_a = acme.account(&a);
    let kid_b = acme.account(&b);

    // A wrong answer: the authorization and the order are invalid.
    *acme.answer.lock().unwrap() = (String::new(), Some("not.the-answer".into()));
    let order = acme.order(&a, &kid_a, &["bad.acme.test"]).unwrap();
    let answer = Arc::clone(&acme.answer);
    let states = {
        // validate() sets the thumbprint; the wrong text stays.
        let v = acme.validate(&a, &kid_a, json_of(&order));
        answer.lock().unwrap().1 = None;
        v
    };
    assert_eq!(states, [Status::Invalid]);
    let order_id = Acme::id_of(order.location.as_ref().unwrap());
    let url = acme.ctx.url(&format!("order/{order_id}"));
    let seen = acme
        .rt
        .block_on(acme.service.acme_order(
            &acme.ctx,
            &order_id,
            &acme.body(&a, Some(&kid_a), &url, ""),
        ))
        .unwrap();
    assert_eq!(json_of(&seen)["status"], "invalid");

    // The CSR must name exactly the order's names, under an empty subject
    // or one CN among them. Each failed finalize ends its order.
    let before = acme.issued_count();
    for (subject, names, needle) in [
        (
            "",
            vec!["ok.acme.test", "more.acme.test"],
            "the order's validated names",
        ),
        (
            "CN=ok.acme.test,O=Evil Corp",
            vec!["ok.acme.test"],
            "one CN",
        ),
        ("CN=other.acme.test", vec!["ok.acme.test"], "one CN"),
    ] {
        let order = acme.order(&a, &kid_a, &["ok.acme.test"]).unwrap();
        assert_eq!(acme.validate(&a, &kid_a, json_of(&order)), [Status::Valid]);
        let id = Acme::id_of(order.location.as_ref().unwrap());
        refused(
            acme.finalize(&a, &kid_a, &id, &csr(subject, &names)),
            ProblemType::BadCsr,
            needle,
        );
    }
    assert_eq!(
        acme.issued_count(),
        before,
        "nothing issued by a refused finalize"
    );

    // The real thing.
    let order = acme.order(&a, &kid_a, &["ok.acme.test"]).unwrap();
    assert_eq!(acme.validate(&a, &kid_a, json_of(&order)), [Status::Valid]);
    let id = Acme::id_of(order.location.as_ref().unwrap());
    let done = acme
        .finalize(&a, &kid_a, &id, &csr("", &["ok.acme.test"]))
        .unwrap();
    assert_eq!(json_of(&done)["status"], "valid");
    let cert_url = json_of(&done)["certificate"].as_str().unwrap().to_string();
    let serial = Acme::id_of(&cert_url);
    let get = |key: &Key, kid: &str| {
        acme.rt.block_on(acme.service.acme_certificate(
            &acme.ctx,
            &serial,
            &acme.body(key, Some(kid), &cert_url, ""),
        ))
    };
    let chain = get(&a, &kid_a).unwrap();
    let AcmeBody::Pem(pem) = &chain.body else {
        panic!("a PEM chain")
    };
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
    refused(get(&b, &kid_b), ProblemType::Unauthorized, "did not order");
    // Finalizing twice does not issue twice.
    refused(
        acme.finalize(&a, &kid_a, &id, &csr("", &["ok.acme.test"])),
        ProblemType::OrderNotReady,
        "valid",
    );

    // Revocation: B may not; a reason a subscriber cannot give; A may, once.
    let leaf = &pem[..pem.find("-----END CERTIFICATE-----").unwrap() + 25];
    let der = symbolon::pem::decode(leaf.as_bytes(), &["CERTIFICATE"])
        .unwrap()
        .1;
    let revoke = |key: &Key, kid: &str, reason: u64| {
        let url = acme.ctx.url("revoke-cert");
        let payload =
            json!({ "certificate": URL_SAFE_NO_PAD.encode(&der), "reason": reason }).to_string();
        acme.rt.block_on(
            acme.service
                .acme_revoke(&acme.ctx, &acme.body(key, Some(kid), &url, &payload)),
        )
    };
    refused(
        revoke(&b, &kid_b, 0),
        ProblemType::Unauthorized,
        "did not order",
    );
    refused(
        revoke(&a, &kid_a, 6),
        ProblemType::BadRevocationReason,
        "0, 1, 3, 4 or 5",
    );
    revoke(&a, &kid_a, 1).unwrap();
    refused(
        revoke(&a, &kid_a, 1),
        ProblemType::AlreadyRevoked,
        "revoked already",
    );
}

#[test]
fn a_key_rollover_needs_both_keys_and_moves_the_account() {
    let acme = Acme::start();
    let (old, new, other) = (Key::new(), Key::new(), Key::new());
    let kid = acme.account(&old);
    let kid_other = acme.account(&other);
    let url = acme.ctx.url("key-change");
    let change = |outer: &Key, inner: &Key, old_jwk: &Value, account: &str| {
        let inner_jws = inner.sign(
            json!({ "alg": "ES256", "jwk": inner.jwk, "url": url }),
            &json!({ "account": account, "oldKey": old_jwk }).to_string(),
        );
        acme.rt.block_on(acme.service.acme_key_change(
            &acme.ctx,
            &acme.body(outer, Some(&kid), &url, &inner_jws.to_string()),
        ))
    };
    // The inner JWS signed by the old key, naming itself as the new one.
    refused(
        change(&old, &old, &new.jwk, &kid),
        ProblemType::Unauthorized,
        "oldKey",
    );
    // Another account's key as the new one: 409 with that account.
    let taken = change(&old, &other, &old.jwk, &kid).unwrap();
    assert_eq!(taken.status, 409);
    assert_eq!(taken.location.as_deref(), Some(kid_other.as_str()));
    // Naming another account.
    refused(
        change(&old, &new, &old.jwk, &kid_other),
        ProblemType::Unauthorized,
        "another account",
    );
    let moved = change(&old, &new, &old.jwk, &kid).unwrap();
    assert_eq!(moved.status, 200);
    let id = Acme::id_of(&kid);
    let acct = acme.ctx.url(&format!("account/{id}"));
    let read = |key: &Key| {
        acme.rt.block_on(acme.service.acme_account(
            &acme.ctx,
            &id,
            &acme.body(key, Some(&kid), &acct, ""),
        ))
    };
    refused(read(&old), ProblemType::Malformed, "does not verify");
    read(&new).unwrap();
}

#[test]
fn account_keys_and_certificate_keys_stay_apart_and_accounts_at_their_provisioner() {
    let acme = Acme::start();
    let a = Key::new();
    let kid = acme.account(&a);
    // A certificate for the account's own key: refused.
    let order = acme.order(&a, &kid, &["own.acme.test"]).unwrap();
    assert_eq!(acme.validate(&a, &kid, json_of(&order)), [Status::Valid]);
    let id = Acme::id_of(order.location.as_ref().unwrap());
    refused(
        acme.finalize(&a, &kid, &id, &csr_of(&a, "own.acme.test")),
        ProblemType::BadCsr,
        "account's key",
    );
    // A key certified: it makes no account, and no account moves to it.
    let certified = Key::new();
    let order = acme.order(&a, &kid, &["own.acme.test"]).unwrap();
    assert_eq!(acme.validate(&a, &kid, json_of(&order)), [Status::Valid]);
    let id = Acme::id_of(order.location.as_ref().unwrap());
    acme.finalize(&a, &kid, &id, &csr_of(&certified, "own.acme.test"))
        .unwrap();
    let (eab, hmac) = acme.eab();
    let url = acme.ctx.url("new-account");
    let payload =
        json!({ "externalAccountBinding": eab_binding(&eab, &hmac, &url, &certified.jwk) })
            .to_string();
    refused(
        acme.rt.block_on(
            acme.service
                .acme_new_account(&acme.ctx, &acme.body(&certified, None, &url, &payload)),
        ),
        ProblemType::BadPublicKey,
        "certified",
    );
    let change = acme.ctx.url("key-change");
    let inner = certified.sign(
        json!({ "alg": "ES256", "jwk": certified.jwk, "url": change }),
        &json!({ "account": kid, "oldKey": a.jwk }).to_string(),
    );
    refused(
        acme.rt.block_on(acme.service.acme_key_change(
            &acme.ctx,
            &acme.body(&a, Some(&kid), &change, &inner.to_string()),
        )),
        ProblemType::BadPublicKey,
        "certified",
    );
    // The server provisioner's account orders nothing at the client one.
    let client = AcmeContext {
        base: "https://ca.test/acme/client".into(),
        role: CertificateRole::Client,
    };
    let client_kid = kid.replace("/acme/server/", "/acme/client/");
    let url = client.url("new-order");
    let ids = json!({ "identifiers": [{ "type": "dns", "value": "cl.acme.test" }] }).to_string();
    refused(
        acme.rt.block_on(
            acme.service
                .acme_new_order(&client, &acme.body(&a, Some(&client_kid), &url, &ids)),
        ),
        ProblemType::AccountDoesNotExist,
        "provisioner",
    );
    let url = client.url("new-account");
    refused(
        acme.rt.block_on(
            acme.service
                .acme_new_account(&client, &acme.body(&a, None, &url, "{}")),
        ),
        ProblemType::Unauthorized,
        "provisioner server",
    );
}

#[test]
fn the_edge_answers_acme_only_under_its_names_and_in_problem_documents() {
    use symbolon_server::gate::Edge;
    use symbolon_server::rate_limit::{Limit, RateLimiter};
    use tower::ServiceExt as _;
    let acme = Acme::start_with_hosts(&["ca.test"]);
    let limit = Limit {
        per_second: 1e6,
        burst: 1e6,
    };
    let app = symbolon_server::http::router(Arc::new(Edge {
        service: Arc::clone(&acme.service),
        limiter: RateLimiter::new(limit, limit),
    }));
    let send = |method: &str, path: &str, host: &str, content_type: &str| {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .header("content-type", content_type)
            .body(axum::body::Body::from("{}"))
            .unwrap();
        acme.rt.block_on(async {
            let r = app.clone().oneshot(req).await.unwrap();
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
            (
                status,
                headers,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        })
    };
    let (status, _, dir) = send(
        "GET",
        "/acme/server/directory",
        "ca.test:8443",
        "application/json",
    );
    assert_eq!(status, 200);
    assert_eq!(
        dir["newNonce"],
        "https://ca.test:8443/acme/server/new-nonce"
    );
    // A stranger's name: no URL of its is ever signed into an answer.
    let (status, headers, body) = send(
        "GET",
        "/acme/server/directory",
        "evil.example",
        "application/json",
    );
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(
        body["detail"].as_str().unwrap().contains("ca.test"),
        "{body}"
    );
    // The gate's refusals, in ACME's terms and with a nonce.
    let (status, headers, body) = send(
        "POST",
        "/acme/server/new-order",
        "ca.test",
        "application/json",
    );
    assert_eq!(status, 415);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(headers.contains_key("replay-nonce"));
    assert_eq!(body["type"], "urn:ietf:params:acme:error:malformed");
    // Hosts that are not a host and a port.
    for host in [
        "[::1]evil.example",
        "ca.test:",
        "ca.test:99999",
        "ca.test:8443:1",
    ] {
        let (status, _, body) = send("GET", "/acme/server/directory", host, "application/json");
        assert_eq!(status, 400, "{host}: {body}");
    }
    // A wrong provisioner.
    let (status, _, body) = send(
        "GET",
        "/acme/email/directory",
        "ca.test",
        "application/json",
    );
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("provisioner"),
        "{body}"
    );
}

#[test]
fn a_key_is_an_account_key_or_a_certificate_key_even_when_both_race() {
    let acme = Acme::start();
    for _ in 0..4 {
        let a = Key::new();
        let kid = acme.account(&a);
        let target = Key::new();
        let order = acme.order(&a, &kid, &["race.acme.test"]).unwrap();
        assert_eq!(acme.validate(&a, &kid, json_of(&order)), [Status::Valid]);
        let id = Acme::id_of(order.location.as_ref().unwrap());
        let change = acme.ctx.url("key-change");
        let inner = target.sign(
            json!({ "alg": "ES256", "jwk": target.jwk, "url": change }),
            &json!({ "account": kid, "oldKey": a.jwk }).to_string(),
        );
        let change_body = acme.body(&a, Some(&kid), &change, &inner.to_string());
        let finalize = acme.ctx.url(&format!("order/{id}/finalize"));
        let csr =
            json!({ "csr": URL_SAFE_NO_PAD.encode(csr_of(&target, "race.acme.test")) }).to_string();
        let finalize_body = acme.body(&a, Some(&kid), &finalize, &csr);
        let (s1, s2) = (Arc::clone(&acme.service), Arc::clone(&acme.service));
        let (ctx1, ctx2) = (acme.ctx.clone(), acme.ctx.clone());
        let id2 = id.clone();
        let (changed, issued) = acme.rt.block_on(async move {
            let c =
                tokio::spawn(async move { s1.acme_key_change(&ctx1, &change_body).await.is_ok() });
            let f =
                tokio::spawn(
                    async move { s2.acme_finalize(&ctx2, &id2, &finalize_body).await.is_ok() },
                );
            (c.await.unwrap(), f.await.unwrap())
        });
        assert!(
            !(changed && issued),
            "the key became both an account's and a certificate's"
        );
        assert!(changed || issued, "one of the two goes through");
    }
}
