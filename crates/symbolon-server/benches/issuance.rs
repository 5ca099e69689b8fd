//! Issuance throughput: CSRs certified per second over HTTP on loopback, by
//! the real service (registry on SQLite, CA key in its soft token), beside
//! the CA token's raw signing rate. Bounded: a fixed set of distinct CSRs,
//! loopback only. `scripts/bench` runs it and `openssl x509 -req` on the same
//! CSRs (written to `$SYMBOLON_BENCH_CSR_DIR` when set). With
//! `$SYMBOLON_BENCH_URLS` (comma-separated service URLs) it loads running
//! `symbolon serve` processes instead, round robin: the scale-out figures.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use symbolon::ca::CaPolicy;
use symbolon::keys::{HashAlgorithm, MessageDigest, RsaAlgorithm, RsaPrivateKey, SignatureScheme};
use symbolon::pem;
use symbolon::token::SlotName;
use symbolon::x509::{build_csr, parse_identity, RsaSigner};
use symbolon_server::{http::router, CaService, DataDir};
use symbolon_store::Registry;

const REQUESTS: usize = 400;
const CLIENTS: usize = 16;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 8 } else { REQUESTS };
    let csrs = make_csrs(n);
    if let Some(out) = std::env::var_os("SYMBOLON_BENCH_CSR_DIR") {
        std::fs::create_dir_all(&out).unwrap();
        for (i, (c, _)) in csrs.iter().enumerate() {
            std::fs::write(std::path::Path::new(&out).join(format!("{i:04}.csr")), c).unwrap();
        }
    }

    if let Ok(urls) = std::env::var("SYMBOLON_BENCH_URLS") {
        let endpoints: Vec<String> = urls.split(',').map(|u| format!("{u}/v1/certify")).collect();
        let rate = load(&endpoints, &csrs);
        println!(
            "issuance over HTTP: {rate:.0} certificates/s ({n} requests, {CLIENTS} clients, {} service processes)",
            endpoints.len()
        );
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    data.init(
        "CN=bench CA",
        RsaAlgorithm::Rsa3072,
        CaPolicy::default(),
        None,
    )
    .unwrap();
    let ca = data.open().unwrap();

    // The CA token's raw rate: one core, sign a digest, as often as it can for two seconds.
    let slot = SlotName::new(&ca.config.slot).unwrap();
    let digest = MessageDigest::of(HashAlgorithm::Sha256, b"bench");
    let start = Instant::now();
    let mut raw = 0u32;
    while start.elapsed() < Duration::from_secs(if quick { 0 } else { 2 }) || raw == 0 {
        ca.token
            .sign(&slot, SignatureScheme::Pkcs1Sha256, &digest)
            .unwrap();
        raw += 1;
    }
    let raw_rate = f64::from(raw) / start.elapsed().as_secs_f64();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = data.database_url();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let registry = Registry::open(&url).await.unwrap();
        let service = Arc::new(CaService::new(ca, registry).unwrap());
        axum::serve(listener, router(service)).await.unwrap();
    });
    let rate = load(&[format!("http://{addr}/v1/certify")], &csrs);
    println!("issuance over HTTP: {rate:.0} certificates/s ({n} requests, {CLIENTS} clients, one process, SQLite, 2 CA signatures each)");
    println!("CA token raw sign rate (RSA-3072, one core): {raw_rate:.0} signatures/s");
    println!("ratio: {:.2}", rate / raw_rate);
}

/// Distinct keys and CSRs, made before any clock starts.
fn make_csrs(n: usize) -> Vec<(String, String)> {
    std::thread::scope(|s| {
        let per = n.div_ceil(2);
        let handles: Vec<_> = (0..2)
            .map(|t| {
                s.spawn(move || {
                    (0..per)
                        .map(|i| {
                            let k = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
                            let signer = RsaSigner::new(
                                k.public_key().clone(),
                                SignatureScheme::Pkcs1Sha256,
                            )
                            .unwrap();
                            let identity = format!("CN=user {t}-{i}");
                            let name = parse_identity(&identity).unwrap();
                            let csr =
                                build_csr(&name, &signer, |s, d| k.sign_digest(s, d)).unwrap();
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

/// Posts every CSR once, from CLIENTS threads, round robin over `endpoints`;
/// returns certificates per second.
fn load(endpoints: &[String], csrs: &[(String, String)]) -> f64 {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((csr, identity)) = csrs.get(i) else {
                        break;
                    };
                    let resp = agent
                        .post(&endpoints[i % endpoints.len()])
                        .send_json(json!({ "csr": csr, "identity": identity }))
                        .unwrap();
                    assert_eq!(resp.status().as_u16(), 200);
                }
            });
        }
    });
    csrs.len() as f64 / start.elapsed().as_secs_f64()
}
