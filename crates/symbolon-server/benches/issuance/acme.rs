//! ACME's part of the issuance bench (docs/acme.md): whole orders over
//! HTTPS keep-alive, as certbot and lego make them (new-order, the http-01
//! challenge, the authorization polled until valid, finalize, download),
//! the nonce of each answer used by the next request; the http-01 answers
//! served on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use symbolon::keys::{EcCurve, EcPrivateKey};
use symbolon::x509::{build_ec_csr_with_names, parse_identity, AltNames, EcSigner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::acme_key::{eab_binding, AcmeKey};

/// The http-01 responder: every token answered for the thumbprint set
/// (the bench's one account); returns its port.
pub(crate) async fn responder(thumbprint: Arc<Mutex<String>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let thumbprint = Arc::clone(&thumbprint);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let got = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..got]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or_default();
                let token = path.rsplit('/').next().unwrap_or_default();
                let body = format!("{token}.{}", thumbprint.lock().unwrap());
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

/// The bench's ACME account: its key, its URL once made.
pub(crate) struct Account {
    key: AcmeKey,
    kid: String,
}

impl Account {
    pub(crate) fn new() -> Account {
        Account {
            key: AcmeKey::new(),
            kid: String::new(),
        }
    }

    pub(crate) fn thumbprint(&self) -> String {
        self.key.thumbprint()
    }

    fn sign(&self, header: Value, payload: &str) -> Vec<u8> {
        self.key.sign(header, payload).to_string().into_bytes()
    }

    /// Makes the account with the binding `kid`/`hmac` at `base`.
    pub(crate) fn register(&mut self, client: &Client, base: &str, kid: &str, hmac: &[u8]) {
        let url = format!("{base}/new-account");
        let binding = eab_binding(kid, hmac, &url, &self.key.jwk);
        let nonce = client.nonce(base);
        let body = self.sign(
            json!({ "alg": "ES256", "nonce": nonce, "url": url, "jwk": self.key.jwk }),
            &json!({ "externalAccountBinding": binding }).to_string(),
        );
        let r = client.post(&url, body);
        assert_eq!(r.status, 201, "{}", r.body);
        self.kid = r.location;
    }
}

/// An HTTPS client keeping its connection alive (reqwest, the service's
/// CA pinned; anonymous, as ACME clients are).
pub(crate) struct Client(reqwest::blocking::Client);

/// An answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) nonce: String,
    pub(crate) location: String,
}

impl Client {
    pub(crate) fn new(config: rustls::ClientConfig) -> Client {
        Client(
            reqwest::blocking::Client::builder()
                .use_preconfigured_tls(config)
                .build()
                .unwrap(),
        )
    }

    fn nonce(&self, base: &str) -> String {
        let r = self.0.head(format!("{base}/new-nonce")).send().unwrap();
        r.headers()["replay-nonce"].to_str().unwrap().to_string()
    }

    fn post(&self, url: &str, body: Vec<u8>) -> Answer {
        let r = self
            .0
            .post(url)
            .header("content-type", "application/jose+json")
            .body(body)
            .send()
            .unwrap();
        let header = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (status, nonce, location) = (
            r.status().as_u16(),
            header("replay-nonce"),
            header("location"),
        );
        let body = r.json().unwrap_or(Value::Null);
        Answer {
            status,
            body,
            nonce,
            location,
        }
    }
}

/// A CSR (DER) for a fresh P-256 key naming `name` (made before any
/// clock starts, as the other paths' are).
pub(crate) fn csr(name: &str) -> Vec<u8> {
    let key = EcPrivateKey::generate(EcCurve::P256).unwrap();
    let signer = EcSigner::new(key.public_key().clone()).unwrap();
    let alt = AltNames::parse_tagged([format!("dns:{name}").as_str()]).unwrap();
    let subject = parse_identity(&format!("CN={name}")).unwrap();
    build_ec_csr_with_names(&subject, &alt, &signer, |i| key.sign(i)).unwrap()
}

/// One whole order for `name` with `csr`; returns the requests it took.
fn order(
    client: &Client,
    a: &Account,
    base: &str,
    nonce: &mut String,
    name: &str,
    csr: &[u8],
) -> usize {
    let mut requests = 0;
    let mut post = |url: &str, payload: &str| {
        let body = a.sign(
            json!({ "alg": "ES256", "nonce": nonce.clone(), "url": url, "kid": a.kid }),
            payload,
        );
        let r = client.post(url, body);
        requests += 1;
        nonce.clone_from(&r.nonce);
        r
    };
    let ids = json!({ "identifiers": [{ "type": "dns", "value": name }] }).to_string();
    let o = post(&format!("{base}/new-order"), &ids);
    assert_eq!(o.status, 201, "{}", o.body);
    let authz = o.body["authorizations"][0].as_str().unwrap().to_string();
    let authz_id = authz.rsplit('/').next().unwrap().to_string();
    let c = post(&format!("{base}/chall/{authz_id}/http-01"), "{}");
    assert_eq!(c.status, 200, "{}", c.body);
    loop {
        let v = post(&authz, "");
        match v.body["status"].as_str() {
            Some("valid") => break,
            Some("pending") => std::thread::sleep(Duration::from_millis(1)),
            other => panic!("authorization {other:?}: {}", v.body),
        }
    }
    let finalize = o.body["finalize"].as_str().unwrap().to_string();
    let f = post(
        &finalize,
        &json!({ "csr": URL_SAFE_NO_PAD.encode(csr) }).to_string(),
    );
    assert_eq!(f.status, 200, "{}", f.body);
    let cert = f.body["certificate"].as_str().unwrap().to_string();
    let d = post(&cert, "");
    assert_eq!(d.status, 200);
    requests
}

/// Every name in `csrs` ordered once by `clients` threads sharing the
/// account (a farm behind one account); returns certificates per second
/// and the requests they took.
pub(crate) fn load(
    clients: &[Client],
    a: &Account,
    base: &str,
    csrs: &[(String, Vec<u8>)],
    requests: &AtomicUsize,
) -> f64 {
    let next = AtomicUsize::new(0);
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for client in clients {
            s.spawn(|| {
                let mut nonce = client.nonce(base);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= csrs.len() {
                        break;
                    }
                    let (name, csr) = &csrs[i];
                    let r = order(client, a, base, &mut nonce, name, csr);
                    requests.fetch_add(r, Ordering::Relaxed);
                }
            });
        }
    });
    csrs.len() as f64 / start.elapsed().as_secs_f64()
}
