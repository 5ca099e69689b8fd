//! What the service benches share: an in-process service's bench station
//! (its credential in a soft token, certified), the plain-HTTP listener that
//! attributes every connection to it, distinct CSRs made before any clock
//! starts, and the timed load of `CLIENTS` threads.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use symbolon::access::Role;
use symbolon::keys::{EcPrivateKey, KeyAlgorithm, RsaAlgorithm, RsaPrivateKey, SignatureScheme};
use symbolon::pem;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon::x509::{
    build_csr, build_ec_csr_with_names, parse_identity, AltNames, EcSigner, RsaSigner,
};
use symbolon_client::{Credential, ServiceClient};
use symbolon_server::edge::{Connection, PeerCertificate};
use symbolon_server::gate::Edge;
use symbolon_server::http::router;
use symbolon_server::rate_limit::{Limit, RateLimiter};
use symbolon_server::CaService;
use tower::ServiceExt as _;

/// Client threads per load, each on its own keep-alive connection.
pub const CLIENTS: usize = 16;

/// The bench's station: its RSA-3072 key in a soft token (in memory) and
/// the credential the CA gave it.
pub struct Station {
    pub token: Arc<dyn Token + Send + Sync>,
    pub slot: SlotName,
    pub credential: Credential,
    /// Its certificate, DER.
    pub certificate: Vec<u8>,
    /// The same, as the edge presents a TLS client certificate.
    pub peer: Arc<PeerCertificate>,
}

/// Certifies a station named `bench-station` at `service`; it vets its own
/// subjects (any DN, any DNS name: docs/vetting.md).
pub async fn station(service: &CaService) -> Station {
    let slot = SlotName::new(symbolon_client::DEFAULT_CREDENTIAL_SLOT).unwrap();
    let mut token =
        SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
    let public = token.generate(&slot, RsaAlgorithm::Rsa3072).unwrap();
    let issued = service
        .bootstrap_credential(
            Role::Station,
            &"bench-station".parse().unwrap(),
            &public,
            symbolon_server::credentials::CREDENTIAL_VALIDITY,
        )
        .await
        .unwrap();
    let mut chain = pem::encode("CERTIFICATE", &issued.certificate);
    for c in service.chain() {
        chain.push_str(&pem::encode("CERTIFICATE", c));
    }
    Credential::install(&mut token, &slot, &chain).unwrap();
    let token: Arc<dyn Token + Send + Sync> = Arc::new(token);
    let credential = Credential::open(Arc::clone(&token), &slot).unwrap();
    service
        .registry()
        .set_name_policy(
            "bench-station",
            symbolon::vetting::NamePolicyText {
                // DNS names too: ACME's orders are for hosts.
                allow: vec!["dn:*".into(), "dns:*".into()],
                deny: Vec::new(),
            },
        )
        .await
        .unwrap();
    let peer = Arc::new(PeerCertificate::from_der(&issued.certificate).unwrap());
    Station {
        token,
        slot,
        credential,
        certificate: issued.certificate,
        peer,
    }
}

/// The service's router behind a gate that never limits: the bench is the
/// only caller.
pub fn app(service: &Arc<CaService>) -> axum::Router {
    let many = Limit {
        per_second: 1e9,
        burst: 1e9,
    };
    router(Arc::new(Edge {
        service: Arc::clone(service),
        limiter: RateLimiter::new(many, many),
    }))
}

/// Serves `app` over plain HTTP with every connection attributed to `peer`:
/// the baseline without TLS, everything else the same.
pub async fn serve_plain_as(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    peer: Arc<PeerCertificate>,
) {
    loop {
        let (stream, address) = listener.accept().await.unwrap();
        let _ = stream.set_nodelay(true);
        let (app, peer) = (app.clone(), Arc::clone(&peer));
        tokio::spawn(async move {
            let conn = Connection {
                address,
                peer: Some(peer),
            };
            let svc = tower::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(conn.clone());
                app.clone().oneshot(req)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(
                    hyper_util::rt::TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(svc),
                )
                .await;
        });
    }
}

/// The subject keys' algorithm: `$SYMBOLON_BENCH_SUBJECT_ALGORITHM`
/// (`rsa-2048`, `p256`, `p384`, `ed25519`), else `default`.
pub fn subject_algorithm(default: &str) -> KeyAlgorithm {
    std::env::var("SYMBOLON_BENCH_SUBJECT_ALGORITHM")
        .unwrap_or_else(|_| default.into())
        .parse()
        .unwrap()
}

/// Distinct keys and CSRs (`CN=user t-i`), made on both cores before any
/// clock starts.
pub fn make_csrs(n: usize, subject: KeyAlgorithm) -> Vec<(String, String)> {
    std::thread::scope(|s| {
        let per = n.div_ceil(2);
        let handles: Vec<_> = (0..2)
            .map(|t| {
                s.spawn(move || {
                    (0..per)
                        .map(|i| {
                            let identity = format!("CN=user {t}-{i}");
                            let name = parse_identity(&identity).unwrap();
                            let csr = match subject {
                                KeyAlgorithm::Rsa(size) => {
                                    let k = RsaPrivateKey::generate(size).unwrap();
                                    let signer = RsaSigner::new(
                                        k.public_key().clone(),
                                        SignatureScheme::Pkcs1Sha256,
                                    )
                                    .unwrap();
                                    build_csr(&name, &signer, |s, d| k.sign_digest(s, d)).unwrap()
                                }
                                KeyAlgorithm::Ec(curve) => {
                                    let k = EcPrivateKey::generate(curve).unwrap();
                                    let signer = EcSigner::new(k.public_key().clone()).unwrap();
                                    build_ec_csr_with_names(
                                        &name,
                                        &AltNames::default(),
                                        &signer,
                                        |input| k.sign(input),
                                    )
                                    .unwrap()
                                }
                            };
                            (pem::encode("CERTIFICATE REQUEST", &csr), identity)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .take(n)
            .collect()
    })
}

/// Runs `request(i)` for every i < n from CLIENTS threads; returns
/// requests per second.
pub fn timed(n: usize, request: impl Fn(usize) + Sync) -> f64 {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                request(i);
            });
        }
    });
    n as f64 / start.elapsed().as_secs_f64()
}

/// Posts every CSR once, round robin over `clients` (each keeps its
/// connections alive); returns certificates per second.
pub fn load(clients: &[ServiceClient], csrs: &[(String, String)]) -> f64 {
    timed(csrs.len(), |i| {
        let (csr, identity) = &csrs[i];
        let a = clients[i % clients.len()]
            .post("/v1/certify", &json!({ "csr": csr, "identity": identity }))
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
    })
}
