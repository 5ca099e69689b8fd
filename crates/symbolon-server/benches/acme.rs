//! ACME's cost per certificate (docs/acme.md): whole orders through the
//! service's router in process (the gate, the JWS checks, nonces from
//! `Replay-Nonce`), each name validated over http-01 against a responder
//! on loopback, finalized and downloaded; reported as certificates per
//! second and requests per certificate, beside the same kind of requests
//! certified by the service's `certify` (the JSON API's path without
//! HTTP) in the same run: their ratio is the protocol's overhead. P-256
//! subjects, so the weak-key checks of RSA do not dominate.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::body::Body;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use symbolon::access::Role;
use symbolon::ca::{CaPolicy, CertifyRequest, RequestForm};
use symbolon::keys::{EcCurve, EcPrivateKey, RsaAlgorithm};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon::vetting::NamePolicyText;
use symbolon::x509::{
    build_ec_csr_with_names, parse_identity, AltNames, CertificateRole, EcSigner,
};
use symbolon_server::acme_validate::AcmeValidation;
use symbolon_server::gate::Edge;
use symbolon_server::rate_limit::{Limit, RateLimiter};
use symbolon_server::{http::router, CaService, DataDir};
use symbolon_store::{acting_as, Actor, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt as _;

const CERTIFICATES: usize = 200;
/// Accounts ordering at once.
const CLIENTS: usize = 4;

/// The account's key and URL.
struct Account {
    pair: EcdsaKeyPair,
    kid: String,
}

/// One request through the router: (status, body, Replay-Nonce, Location).
async fn post(app: &axum::Router, url: &str, body: Value) -> (u16, Value, String, String) {
    let path = url.trim_start_matches("https://ca.bench");
    let req = axum::http::Request::post(path)
        .header("host", "ca.bench")
        .header("content-type", "application/jose+json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let (nonce, location) = (
        header(resp.headers(), "replay-nonce"),
        header(resp.headers(), "location"),
    );
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v, nonce, location)
}

fn header(h: &axum::http::HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn sign(pair: &EcdsaKeyPair, header: Value, payload: &str) -> Value {
    let p = URL_SAFE_NO_PAD.encode(header.to_string());
    let b = URL_SAFE_NO_PAD.encode(payload);
    let sig = pair
        .sign(&SystemRandom::new(), format!("{p}.{b}").as_bytes())
        .unwrap();
    json!({ "protected": p, "payload": b, "signature": URL_SAFE_NO_PAD.encode(sig.as_ref()) })
}

fn csr(name: &str) -> Vec<u8> {
    let key = EcPrivateKey::generate(EcCurve::P256).unwrap();
    let signer = EcSigner::new(key.public_key().clone()).unwrap();
    let alt = AltNames::parse_tagged([format!("dns:{name}").as_str()]).unwrap();
    build_ec_csr_with_names(
        &parse_identity(&format!("CN={name}")).unwrap(),
        &alt,
        &signer,
        |i| key.sign(i),
    )
    .unwrap()
}

/// A request body signed by the account, for `url`.
fn signed(a: &Account, nonce: &str, url: &str, payload: &str) -> Value {
    sign(
        &a.pair,
        json!({ "alg": "ES256", "nonce": nonce, "url": url, "kid": a.kid }),
        payload,
    )
}

/// One whole order for `name`; returns the requests it took.
async fn order(app: &axum::Router, a: &Account, nonce: &mut String, name: &str) -> usize {
    let base = "https://ca.bench/acme/client";
    let ids = json!({ "identifiers": [{ "type": "dns", "value": name }] }).to_string();
    let url = format!("{base}/new-order");
    let (s, o, n, loc) = post(app, &url, signed(a, nonce, &url, &ids)).await;
    assert_eq!(s, 201, "{o}");
    *nonce = n;
    let mut requests = 1;
    let authz = o["authorizations"][0].as_str().unwrap().to_string();
    let authz_id = authz.rsplit('/').next().unwrap().to_string();
    let url = format!("{base}/chall/{authz_id}/http-01");
    let (s, c, n, _) = post(app, &url, signed(a, nonce, &url, "{}")).await;
    assert_eq!(s, 200, "{c}");
    *nonce = n;
    requests += 1;
    loop {
        let (_, v, n, _) = post(app, &authz, signed(a, nonce, &authz, "")).await;
        requests += 1;
        *nonce = n;
        match v["status"].as_str() {
            Some("valid") => break,
            Some("pending") => tokio::time::sleep(Duration::from_millis(1)).await,
            other => panic!("authorization {other:?}: {v}"),
        }
    }
    let order_id = loc.rsplit('/').next().unwrap().to_string();
    let url = format!("{base}/order/{order_id}/finalize");
    let payload = json!({ "csr": URL_SAFE_NO_PAD.encode(csr(name)) }).to_string();
    let (s, v, n, _) = post(app, &url, signed(a, nonce, &url, &payload)).await;
    assert_eq!(s, 200, "{v}");
    *nonce = n;
    requests += 1;
    let cert = v["certificate"].as_str().unwrap().to_string();
    let (s, _, n, _) = post(app, &cert, signed(a, nonce, &cert, "")).await;
    assert_eq!(s, 200);
    *nonce = n;
    requests + 1
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 4 } else { CERTIFICATES };
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    data.init(
        "CN=bench CA",
        RsaAlgorithm::Rsa3072.into(),
        CaPolicy::default(),
        None,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The http-01 responder: every token answered for the one
        // account's thumbprint (set once the key exists).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let thumbprint: Arc<std::sync::Mutex<String>> = Arc::default();
        let shared = Arc::clone(&thumbprint);
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let got = s.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..got]).to_string();
                    let token = head.split_whitespace().nth(1).unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
                    let body = format!("{token}.{}", shared.lock().unwrap());
                    let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    let _ = s.write_all(reply.as_bytes()).await;
                });
            }
        });
        let registry = Registry::open(&data.database_url()).await.unwrap();
        let service = Arc::new(CaService::new(data.open().unwrap(), registry).unwrap().with_acme_validation(AcmeValidation {
            http_port: port,
            tls_port: 1,
            resolve_to: Some("127.0.0.1".parse().unwrap()),
        }));
        let mut token = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
        let public = token.generate(&SlotName::new("web").unwrap(), RsaAlgorithm::Rsa2048).unwrap();
        let issued = service
            .bootstrap_credential(Role::Station, &"web".parse().unwrap(), &public, symbolon_server::credentials::CREDENTIAL_VALIDITY)
            .await
            .unwrap();
        let admin = Actor { role: Role::Admin, name: "admin".parse().unwrap(), credential: "0a0b".parse().unwrap() };
        let station = Actor {
            role: Role::Station,
            name: "web".parse().unwrap(),
            credential: symbolon_store::CertificateSerial::from_bytes(
                <x509_cert::Certificate as x509_cert::der::Decode>::from_der(&issued.certificate)
                    .unwrap()
                    .tbs_certificate()
                    .serial_number()
                    .as_bytes(),
            ),
        };
        let policy = NamePolicyText { allow: vec!["dns:bench.test".into()], deny: Vec::new() };
        acting_as(admin.clone(), service.set_name_policy(&"web".parse().unwrap(), &policy)).await.unwrap();
        let limit = Limit { per_second: 1e9, burst: 1e9 };
        let app = router(Arc::new(Edge { service: Arc::clone(&service), limiter: RateLimiter::new(limit, limit) }));

        // One account, its orders made by several clients at once (a farm
        // of servers behind one account).
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let p = pair.public_key().as_ref().to_vec();
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..]) });
        *thumbprint.lock().unwrap() = symbolon::acme::Jwk::from_value(&jwk).unwrap().thumbprint();
        let eab = service.acme_issue_eab(&"web".parse().unwrap(), None, &admin).await.unwrap();
        let url = "https://ca.bench/acme/client/new-account";
        let hmac_key = URL_SAFE_NO_PAD.decode(eab.key.reveal().as_bytes()).unwrap();
        let bp = URL_SAFE_NO_PAD.encode(json!({ "alg": "HS256", "kid": eab.kid, "url": url }).to_string());
        let bb = URL_SAFE_NO_PAD.encode(jwk.to_string());
        let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &hmac_key), format!("{bp}.{bb}").as_bytes());
        let binding = json!({ "protected": bp, "payload": bb, "signature": URL_SAFE_NO_PAD.encode(tag.as_ref()) });
        let nonce = service.acme_nonce().unwrap();
        let header = json!({ "alg": "ES256", "nonce": nonce, "url": url, "jwk": jwk });
        let (s, _, _, kid) = post(&app, url, sign(&pair, header, &json!({ "externalAccountBinding": binding }).to_string())).await;
        assert_eq!(s, 201);
        let account = Arc::new(Account { pair, kid });

        let next = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let (app, account, next, requests, service) = (app.clone(), Arc::clone(&account), Arc::clone(&next), Arc::clone(&requests), Arc::clone(&service));
            tasks.push(tokio::spawn(async move {
                let mut nonce = service.acme_nonce().unwrap();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let r = order(&app, &account, &mut nonce, &format!("h{i}.bench.test")).await;
                    requests.fetch_add(r, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let acme_rate = n as f64 / start.elapsed().as_secs_f64();
        let per = requests.load(Ordering::Relaxed) as f64 / n as f64;

        // The same kind of requests through `certify`, as the JSON API's
        // handler calls it, same concurrency.
        let csrs: Vec<(String, Vec<u8>)> = (0..n).map(|i| (format!("c{i}.bench.test"), csr(&format!("c{i}.bench.test")))).collect();
        let csrs = Arc::new(csrs);
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let (service, csrs, next, station) = (Arc::clone(&service), Arc::clone(&csrs), Arc::clone(&next), station.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= csrs.len() {
                        return;
                    }
                    let (name, der) = &csrs[i];
                    let request = CertifyRequest {
                        identity: format!("CN={name}"),
                        csr: der.clone(),
                        form: RequestForm::Pkcs10,
                        role: CertificateRole::Client,
                        attestation: None,
                        domain_validated: false,
                    };
                    acting_as(station.clone(), service.certify(request, vec![0; 16], None, &station)).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let certify_rate = n as f64 / start.elapsed().as_secs_f64();
        println!("ACME whole orders (new-order, http-01 over loopback, polls, finalize, download; in process through the router, {CLIENTS} clients): {acme_rate:.0} certificates/s ({n} certificates)");
        println!("ACME requests per certificate: {per:.1} (one name each; the polls are the client's, a validation settles within a millisecond here)");
        println!("certify (the JSON API's service call, same CSRs' kind, {CLIENTS} clients): {certify_rate:.0} certificates/s");
        println!("ratio ACME / certify: {:.2}", acme_rate / certify_rate);
    });
}
