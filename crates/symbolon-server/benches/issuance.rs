//! Issuance throughput over the real edge: CSRs certified per second over
//! HTTPS with mutual TLS (the station's key in a soft token signs each
//! handshake) on keep-alive connections, beside the same requests over
//! plain HTTP to the same service with the same caller (its credential
//! attached to the connection, as the TLS layer would), so the ratio is the
//! cost of TLS; then new full mTLS handshakes per second. Bounded: a fixed
//! set of distinct CSRs, loopback only. `scripts/bench` runs it beside
//! `openssl s_time`/`s_server` and `openssl x509 -req` on the same CSRs
//! (written to `$SYMBOLON_BENCH_CSR_DIR` when set). With
//! `$SYMBOLON_BENCH_URLS` (comma-separated service URLs),
//! `$SYMBOLON_BENCH_CA_CERT` and `$SYMBOLON_BENCH_CREDENTIAL` (a station
//! credential token) it loads running `symbolon serve` processes instead,
//! round robin, from a light client (`shared/light_client.rs`): the
//! scale-out and both-cores figures. `$SYMBOLON_BENCH_CA_ALGORITHM`
//! (`rsa-3072` by default; `p256`, `p384`, `ed25519`) names the CA key's
//! algorithm, so an EC CA is measured beside the RSA one in one run. EST's
//! `simpleenroll` (docs/est.md) is measured in the same run, interleaved
//! with the JSON API over the same connection kind and caller; so are
//! CMP's `p10cr` and ACME's whole orders (docs/acme.md: new-order, the
//! http-01 challenge answered on loopback, polls, finalize, download), the
//! latter reported with the requests each certificate took.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "issuance/acme.rs"]
mod acme;
#[path = "shared/acme_key.rs"]
mod acme_key;
#[path = "shared/light_client.rs"]
mod light_client;
#[path = "shared/mod.rs"]
mod shared;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use symbolon::access::Role;
use symbolon::ca::CaPolicy;
use symbolon::keys::{
    EcSigningInput, HashAlgorithm, KeyAlgorithm, MessageDigest, SignRequest, SignatureScheme,
};
use symbolon::pem;
use symbolon::token::{SlotName, Token};
use symbolon_client::{Credential, PinnedRoots, ServiceClient};
use symbolon_server::tls::{server_config, ServerKey, ServiceNames};
use symbolon_server::{edge, CaService, DataDir};
use symbolon_store::Registry;
use x509_cert::der::Decode as _;

use shared::{load, timed, CLIENTS};

const REQUESTS: usize = 400;
/// Connections of the light client against running services: enough that
/// requests queue at the service's cores, not at its database's commits.
const REMOTE_CLIENTS: usize = 32;
/// Rounds the paths alternate in.
const ROUNDS: usize = 4;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    // `$SYMBOLON_BENCH_REQUESTS` lengthens a run against running services
    // (the both-cores figure, with cheap P-256 subjects) for a steadier rate.
    let remote = std::env::var_os("SYMBOLON_BENCH_URLS").is_some();
    let n = match std::env::var("SYMBOLON_BENCH_REQUESTS") {
        _ if quick => 8,
        Ok(n) if remote => n.parse().unwrap(),
        _ => REQUESTS,
    };
    // Run in process, four paths take n each; a remote run takes n, and one
    // more per client to open its connection with.
    let count = if remote { n + REMOTE_CLIENTS } else { 4 * n };
    let csrs = shared::make_csrs(count, shared::subject_algorithm("rsa-2048"));
    if let Some(out) = std::env::var_os("SYMBOLON_BENCH_CSR_DIR") {
        std::fs::create_dir_all(&out).unwrap();
        for (i, (c, _)) in csrs.iter().enumerate() {
            std::fs::write(std::path::Path::new(&out).join(format!("{i:04}.csr")), c).unwrap();
        }
    }

    if let Ok(urls) = std::env::var("SYMBOLON_BENCH_URLS") {
        let roots =
            PinnedRoots::from_pem_file(std::env::var("SYMBOLON_BENCH_CA_CERT").unwrap().as_ref())
                .unwrap();
        let spec = std::env::var("SYMBOLON_BENCH_CREDENTIAL").unwrap();
        let token = symbolon_token::open::TokenSpec::parse(&spec, None)
            .unwrap()
            .open()
            .unwrap();
        let slot = SlotName::new(symbolon_client::DEFAULT_CREDENTIAL_SLOT).unwrap();
        let credential = Credential::open(Arc::from(token), &slot).unwrap();
        let urls: Vec<&str> = urls.split(',').collect();
        let config =
            Arc::new(symbolon_client::client::tls_config(&roots, Some(&credential)).unwrap());
        let body = |(csr, identity): &(String, String)| {
            serde_json::to_vec(&serde_json::json!({ "csr": csr, "identity": identity })).unwrap()
        };
        let bodies: Vec<Vec<u8>> = csrs[..n].iter().map(body).collect();
        let warm: Vec<Vec<u8>> = csrs[n..n + REMOTE_CLIENTS].iter().map(body).collect();
        let measured = light_client::load(&urls, &config, "/v1/certify", &warm, &bodies);
        let load = measured
            .load_cores
            .map_or(String::new(), |c| format!("; the load took {c:.2} core"));
        println!(
            "issuance over HTTPS (mTLS, keep-alive): {:.0} certificates/s ({n} requests, {REMOTE_CLIENTS} clients, {} service processes{load})",
            measured.rate,
            urls.len()
        );
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    let algorithm: KeyAlgorithm = std::env::var("SYMBOLON_BENCH_CA_ALGORITHM")
        .unwrap_or_else(|_| "rsa-3072".into())
        .parse()
        .unwrap();
    data.init("CN=bench CA", algorithm, CaPolicy::default(), None)
        .unwrap();
    let ca = data.open().unwrap();

    // The CA token's raw rate: one core, sign a digest (or, Ed25519, a
    // message) as the CA key does, as often as it can for two seconds.
    let slot = SlotName::new(&ca.config.slot).unwrap();
    let hash = match algorithm {
        KeyAlgorithm::Ec(c) => c.natural_hash(),
        KeyAlgorithm::Rsa(_) => Some(HashAlgorithm::Sha256),
    };
    let digest = MessageDigest::of(hash.unwrap_or(HashAlgorithm::Sha256), b"bench");
    let request = match (algorithm, hash) {
        (KeyAlgorithm::Rsa(_), _) => SignRequest::Rsa(SignatureScheme::Pkcs1Sha256, &digest),
        (_, Some(_)) => SignRequest::Ec(EcSigningInput::Digest(&digest)),
        (_, None) => SignRequest::Ec(EcSigningInput::Message(b"bench")),
    };
    let start = Instant::now();
    let mut raw = 0u32;
    while start.elapsed() < Duration::from_secs(if quick { 0 } else { 2 }) || raw == 0 {
        ca.token.sign_request(&slot, request).unwrap();
        raw += 1;
    }
    let raw_rate = f64::from(raw) / start.elapsed().as_secs_f64();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = data.database_url();
    let thumbprint = Arc::new(std::sync::Mutex::new(String::new()));
    let (service, tls, credential, peer, cmp) = rt.block_on(async {
        let registry = Registry::open(&url).await.unwrap();
        let port = acme::responder(Arc::clone(&thumbprint)).await;
        let service = Arc::new(CaService::new(ca, registry).unwrap().with_acme_validation(
            symbolon_server::acme_validate::AcmeValidation {
                http_port: port,
                tls_port: 1,
                resolve_to: Some(std::net::Ipv4Addr::LOCALHOST.into()),
            },
        ));
        let tls = server_config(&service, &ServerKey::Own(ServiceNames::loopback()))
            .await
            .unwrap();
        let shared::Station {
            token,
            slot,
            credential,
            certificate,
            peer,
        } = shared::station(&service).await;
        // CMP's requests, signed by the station's credential before the
        // clock starts (the client's signature is not the service's cost).
        let station = x509_cert::Certificate::from_der(&certificate).unwrap();
        let ca_name = symbolon::x509::parse_certificate(&service.chain()[0])
            .unwrap()
            .tbs_certificate()
            .subject()
            .clone();
        let cmp = csrs[3 * n..]
            .iter()
            .map(|(csr, _)| {
                let (_, der) = pem::decode(csr.as_bytes(), &["CERTIFICATE REQUEST"]).unwrap();
                cmp_p10cr(&station, &ca_name, &der, token.as_ref(), &slot)
            })
            .collect::<Vec<_>>();
        (service, tls, credential, peer, cmp)
    });
    let app = shared::app(&service);
    let roots = PinnedRoots::from_der(service.chain().to_vec());

    // HTTPS, mutual TLS, the real listener.
    let tls_listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let tls_addr = tls_listener.local_addr().unwrap();
    rt.spawn(edge::serve(
        tls_listener,
        app.clone(),
        Some(Arc::clone(&tls.config)),
        std::future::pending(),
    ));
    // Plain HTTP, the same caller attached to every connection.
    let plain_listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let plain_addr = plain_listener.local_addr().unwrap();
    rt.spawn(shared::serve_plain_as(plain_listener, app, peer));

    let https = ServiceClient::new(
        &format!("https://{tls_addr}"),
        Some(&roots),
        Some(&credential),
    )
    .unwrap();
    let http = ServiceClient::new(&format!("http://{plain_addr}"), None, None).unwrap();
    // ACME: one account bound by an officer's key, its clients anonymous
    // over HTTPS (one connection each, kept alive), its CSRs made now.
    let acme_base = format!("https://{tls_addr}/acme/client");
    let acme_tls = symbolon_client::client::tls_config(&roots, None).unwrap();
    let acme_clients: Vec<acme::Client> = (0..CLIENTS)
        .map(|_| acme::Client::new(acme_tls.clone()))
        .collect();
    let mut account = acme::Account::new();
    let officer = symbolon_store::Actor {
        role: Role::Admin,
        name: "bench-admin".parse().unwrap(),
        credential: "0a0b".parse().unwrap(),
    };
    let eab = rt
        .block_on(service.acme_issue_eab(&"bench-station".parse().unwrap(), None, &officer))
        .unwrap();
    let hmac = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(eab.key.reveal().as_bytes())
            .unwrap()
    };
    account.register(&acme_clients[0], &acme_base, &eab.kid, &hmac);
    *thumbprint.lock().unwrap() = account.thumbprint();
    let acme_csrs: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let name = format!("a{i}.bench.test");
            let csr = acme::csr(&name);
            (name, csr)
        })
        .collect();
    let acme_requests = AtomicUsize::new(0);
    // Alternate rounds so no path runs on a warmer (or fuller) registry
    // than another: each round certifies a quarter of each path's CSRs.
    let issued = |rt: &tokio::runtime::Runtime| {
        rt.block_on(service.registry().audit_entries(0, 1_000_000))
            .unwrap()
            .iter()
            .filter(|e| e.kind == "certificate-issued")
            .count()
    };
    let before = issued(&rt);
    let rounds = if quick { 2 } else { ROUNDS };
    let mut rates = [0.0f64; 5];
    for r in 0..rounds {
        let part = |base: usize| base + r * n / rounds..base + (r + 1) * n / rounds;
        rates[0] += load(std::slice::from_ref(&http), &csrs[part(0)]);
        rates[1] += load(std::slice::from_ref(&https), &csrs[part(n)]);
        rates[2] += load_est(&https, &csrs[part(2 * n)]);
        rates[3] += load_cmp(&https, &cmp[part(0)]);
        rates[4] += acme::load(
            &acme_clients,
            &account,
            &acme_base,
            &acme_csrs[part(0)],
            &acme_requests,
        );
    }
    // A CMP refusal is a 200 too: count what was issued.
    assert_eq!(issued(&rt), before + 5 * n, "every request certified");
    let [plain_rate, tls_rate, est_rate, cmp_rate, acme_rate] = rates.map(|r| r / rounds as f64);
    println!("issuance over plain HTTP: {plain_rate:.0} certificates/s ({n} requests, {CLIENTS} clients, keep-alive, one process, SQLite)");
    println!("issuance over HTTPS (mTLS, keep-alive): {tls_rate:.0} certificates/s");
    println!("ratio https/http: {:.2}", tls_rate / plain_rate);
    println!(
        "issuance over EST simpleenroll (HTTPS, mTLS, keep-alive): {est_rate:.0} certificates/s"
    );
    println!("ratio EST / JSON API: {:.2}", est_rate / tls_rate);
    println!(
        "issuance over CMP p10cr (HTTPS, keep-alive, signed by the station's credential, implicit confirmation): {cmp_rate:.0} certificates/s"
    );
    println!("ratio CMP / JSON API: {:.2}", cmp_rate / tls_rate);
    println!(
        "issuance over ACME (HTTPS, keep-alive, whole orders: new-order, http-01, polls, finalize, download): {acme_rate:.0} certificates/s"
    );
    println!(
        "ACME requests per certificate: {:.1} (the JSON API, EST and CMP take one)",
        acme_requests.load(Ordering::Relaxed) as f64 / n as f64
    );
    println!("ratio ACME / JSON API: {:.2}", acme_rate / tls_rate);
    println!("CA token raw sign rate ({algorithm}, one core): {raw_rate:.0} signatures/s");
    // One CA signature per certificate (the response is the delegated
    // signer's): issuance against the CA key's own rate.
    println!(
        "ratio issuance over HTTPS / CA raw sign rate: {:.2}",
        tls_rate / raw_rate
    );

    // Full handshakes only: no session resumption (as `s_time -new`).
    let mut config = symbolon_client::client::tls_config(&roots, Some(&credential)).unwrap();
    config.resumption = rustls::client::Resumption::disabled();
    let config = Arc::new(config);
    let seconds = if quick { 0.2 } else { 3.0 };
    let rate = handshakes(tls_addr, &config, seconds);
    println!("new mTLS handshakes (RSA-3072 server and client keys, soft tokens, + GET /v1/health): {rate:.0}/s (one client)");
}

/// Full handshakes (and one small request each) for `seconds`, from one
/// client thread as `openssl s_time` is; returns handshakes per second.
fn handshakes(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, seconds: f64) -> f64 {
    let done = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..1 {
            s.spawn(|| {
                while start.elapsed().as_secs_f64() < seconds || done.load(Ordering::Relaxed) == 0 {
                    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
                    let conn = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
                    let tcp = std::net::TcpStream::connect(addr).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    tls.write_all(
                        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    )
                    .unwrap();
                    let mut out = Vec::new();
                    let _ = tls.read_to_end(&mut out);
                    assert!(
                        out.starts_with(b"HTTP/1.1 200"),
                        "{}",
                        String::from_utf8_lossy(&out)
                    );
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Posts every CSR once to EST's `simpleenroll` (base64 DER) over
/// `client`; returns certificates per second.
fn load_est(client: &ServiceClient, csrs: &[(String, String)]) -> f64 {
    use base64::Engine as _;
    let bodies: Vec<Vec<u8>> = csrs
        .iter()
        .map(|(csr, _)| {
            let (_, der) = pem::decode(csr.as_bytes(), &["CERTIFICATE REQUEST"]).unwrap();
            base64::engine::general_purpose::STANDARD
                .encode(der)
                .into_bytes()
        })
        .collect();
    timed(bodies.len(), |i| {
        let a = client
            .raw(
                "POST",
                "/.well-known/est/simpleenroll",
                &[("content-type", "application/pkcs10")],
                bodies[i].clone(),
            )
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
    })
}

/// A `p10cr` for `csr` from the station whose certificate is `station`,
/// signed with its key in `token` (RSA, PKCS#1 v1.5 with SHA-256), asking
/// for implicit confirmation.
fn cmp_p10cr(
    station: &x509_cert::Certificate,
    ca: &symbolon::x509::Name,
    csr: &[u8],
    token: &(dyn Token + Send + Sync),
    slot: &SlotName,
) -> Vec<u8> {
    let mut m =
        symbolon::cmp::Message::p10cr(station.tbs_certificate().subject(), ca, csr).unwrap();
    m.implicit_confirm().unwrap();
    m.protect_with_signature(
        x509_cert::spki::AlgorithmIdentifierOwned {
            oid: x509_cert::der::oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            parameters: Some(x509_cert::der::asn1::Null.into()),
        },
        station,
        &[],
        |m| {
            let digest = MessageDigest::of(HashAlgorithm::Sha256, m);
            token.sign_request(
                slot,
                SignRequest::Rsa(SignatureScheme::Pkcs1Sha256, &digest),
            )
        },
    )
    .unwrap()
}

/// Posts every CMP message once to `/.well-known/cmp` over `client`;
/// returns certificates per second.
fn load_cmp(client: &ServiceClient, messages: &[Vec<u8>]) -> f64 {
    timed(messages.len(), |i| {
        let a = client
            .raw(
                "POST",
                "/.well-known/cmp",
                &[("content-type", "application/pkixcmp")],
                messages[i].clone(),
            )
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
    })
}
