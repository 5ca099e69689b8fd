//! Certificate status at the CA (docs/revocation.md): OCSP answers per
//! second from the responder's cache (no signature: a registry read and a
//! lookup) and signed fresh (a request with a nonce), beside the raw
//! signing rate of the responder's key in the CA token; and the time to
//! build and sign a CRL of 10^5 revoked certificates (synthetic entries,
//! the CA's RSA-3072 key). `scripts/bench` prints these beside the others.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use symbolon::access::Role;
use symbolon::ca::CaPolicy;
use symbolon::keys::{HashAlgorithm, MessageDigest, RsaAlgorithm, RsaPrivateKey, SignatureScheme};
use symbolon::revocation::ocsp::build_request;
use symbolon::revocation::{
    build_crl, CrlParams, DeltaOf, RemovedEntry, RevocationReason, RevokedEntry,
};
use symbolon::token::{SlotName, Token};
use symbolon::x509::{parse_certificate, CaSigner};
use symbolon_server::{CaService, DataDir};
use symbolon_store::Registry;

const CERTIFICATES: usize = 16;

/// Runs `f` for `seconds` (at least once); its rate per second.
fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed().as_secs_f64() < seconds || n == 0 {
        f();
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run briefly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let seconds = if quick { 0.05 } else { 2.0 };
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
    let url = data.database_url();
    let service = rt.block_on(async {
        let registry = Registry::open(&url).await.unwrap();
        Arc::new(CaService::new(data.open().unwrap(), registry).unwrap())
    });
    // Certificates to ask about (credentials: issued and recorded like any).
    let issuer = parse_certificate(&service.chain()[0]).unwrap();
    let mut serials = Vec::new();
    for i in 0..CERTIFICATES {
        let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let issued = rt
            .block_on(service.bootstrap_credential(
                Role::Auditor,
                &format!("bench-{i}").parse().unwrap(),
                key.public_key(),
                symbolon_server::credentials::CREDENTIAL_VALIDITY,
            ))
            .unwrap();
        let cert = parse_certificate(&issued.certificate).unwrap();
        serials.push(cert.tbs_certificate().serial_number().as_bytes().to_vec());
    }
    let plain: Vec<Vec<u8>> = serials
        .iter()
        .map(|s| build_request(&issuer, s, None).unwrap())
        .collect();
    // Warm: the responder's certificate exists and every answer is cached.
    for r in &plain {
        rt.block_on(service.ocsp(r)).unwrap();
    }
    let mut i = 0usize;
    let cached = rate(seconds, || {
        rt.block_on(service.ocsp(&plain[i % plain.len()])).unwrap();
        i += 1;
    });
    let mut nonce = 0u64;
    let fresh = rate(seconds, || {
        nonce += 1;
        let req = build_request(&issuer, &serials[0], Some(&nonce.to_be_bytes())).unwrap();
        rt.block_on(service.ocsp(&req)).unwrap();
    });
    // The responder key's raw rate: an RSA-2048 key in a soft token, as in
    // the CA's (which this process holds locked).
    let mut token = symbolon::token::SoftToken::create(
        symbolon::token::MemoryStore::default(),
        symbolon::token::SealingKey::generate().unwrap(),
    )
    .unwrap();
    let slot = SlotName::new(symbolon_server::ocsp::RESPONDER_SLOT).unwrap();
    token.generate(&slot, RsaAlgorithm::Rsa2048).unwrap();
    let digest = MessageDigest::of(HashAlgorithm::Sha256, b"bench");
    let raw = rate(seconds, || {
        token
            .sign(&slot, SignatureScheme::Pkcs1Sha256, &digest)
            .unwrap();
    });
    println!("OCSP from the cache: {cached:.0} answers/s (one caller; no signature, no registry read while nothing is revoked)");
    println!("OCSP signed per request (nonce): {fresh:.0} answers/s");
    println!("responder key raw sign rate (RSA-2048, CA token): {raw:.0} signatures/s");
    println!("ratio cached/raw signing: {:.1}", cached / raw);

    // A CRL of 10^5 entries (10^3 in a quick run), signed by an RSA-3072 key.
    let entries = if quick { 1_000 } else { 100_000 };
    let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa3072).unwrap();
    let signer = CaSigner::new(key.public_key().clone().into()).unwrap();
    let list: Vec<RevokedEntry> = (0..entries as u64)
        .map(|n| {
            let mut serial = vec![0x40];
            serial.extend_from_slice(&n.to_be_bytes());
            serial.extend_from_slice(&[0x5a; 7]);
            RevokedEntry {
                serial,
                revoked_at: 1_800_000_000 + n as i64,
                reason: RevocationReason::ALL[(n % 8) as usize],
                invalid_since: (n % 3 == 0).then_some(1_799_000_000),
            }
        })
        .collect();
    let params = CrlParams {
        number: 1,
        this_update: 1_800_000_000,
        next_update: 1_800_086_400,
        delta: None,
        freshest: Some("https://ca.example/v1/crl/delta".into()),
    };
    let start = Instant::now();
    let crl = build_crl(&issuer, &signer, &params, &list, |r| key.sign_request(r)).unwrap();
    let took = start.elapsed();
    println!(
        "CRL of {entries} entries: built and signed in {:.0} ms ({} KiB)",
        took.as_secs_f64() * 1e3,
        crl.len() / 1024
    );

    // A delta CRL of 1 % of that: the day's changes against a full CRL a
    // relying party already holds (a tenth of them released holds).
    let changed = entries / 100;
    let delta = CrlParams {
        number: 2,
        delta: Some(DeltaOf {
            base: 1,
            removed: list[..changed / 10]
                .iter()
                .map(|e| RemovedEntry {
                    serial: e.serial.clone(),
                    revoked_at: e.revoked_at,
                })
                .collect(),
        }),
        freshest: None,
        ..params
    };
    let start = Instant::now();
    let der = build_crl(
        &issuer,
        &signer,
        &delta,
        &list[changed / 10..changed],
        |r| key.sign_request(r),
    )
    .unwrap();
    println!(
        "delta CRL of {changed} changes: built and signed in {:.1} ms ({} KiB, {:.1} % of the full CRL)",
        start.elapsed().as_secs_f64() * 1e3,
        der.len() / 1024,
        100.0 * der.len() as f64 / crl.len() as f64
    );
}
