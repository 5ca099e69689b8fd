//! Escrow split and recovery for FIG. 9-shaped policies of 5, 20, 100 and
//! 1000 arbitrators: seq(user, all(card, any(⌈p/2⌉, providers…), any(⌈m/2⌉,
//! managers…)), recorder). Split = the station's deposit (VSS, AES-GCM, an
//! age envelope per arbitrator); recover = the enclave's check of a minimal
//! ordered approval chain, the shares' opening under the enclave's P-256
//! key (HPKE), combination, decryption and the consistency test; at 100
//! arbitrators also with shares under an RSA-3072 enclave key
//! (`recover-rsa-oaep`, the earlier releases' scheme) beside it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use symbolon::escrow::{
    enclave_share, recover, Approval, ArbitratorId, ArbitratorIdentity, EscrowDeposit, EscrowError,
    Policy, RecoveryId, RecoveryRequest,
};
use symbolon::keys::hpke::{self, Kem};
use symbolon::keys::{
    EcCurve, EcPrivateKey, Fingerprint, KeyError, PublicKey, RsaAlgorithm, RsaPrivateKey,
};
use symbolon::token::{SlotName, TokenSerial};

fn policy(n: usize) -> (Policy, Vec<String>) {
    let rest = n - 3;
    let (p, m) = (rest / 2, rest - rest / 2);
    let providers: Vec<String> = (0..p).map(|i| format!("provider-{i}")).collect();
    let managers: Vec<String> = (0..m).map(|i| format!("manager-{i}")).collect();
    let text = format!(
        "seq(user, all(card, any({}, {}), any({}, {})), recorder)",
        p.div_ceil(2),
        providers.join(", "),
        m.div_ceil(2),
        managers.join(", ")
    );
    let mut order = vec!["user".to_string()];
    order.push("card".into());
    order.extend(providers.iter().take(p.div_ceil(2)).cloned());
    order.extend(managers.iter().take(m.div_ceil(2)).cloned());
    order.push("recorder".into());
    (Policy::parse(&text).unwrap(), order)
}

fn bench(c: &mut Criterion) {
    let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let enclave = EcPrivateKey::generate(EcCurve::P256).unwrap();
    let enclave_public = PublicKey::Ec(enclave.public_key().clone());
    let legacy = RsaPrivateKey::generate(RsaAlgorithm::Rsa3072).unwrap();
    let legacy_public = PublicKey::Rsa(legacy.public_key().clone());
    let mut g = c.benchmark_group("escrow");
    g.sample_size(10);
    for n in [5usize, 20, 100, 1000] {
        let (policy, order) = policy(n);
        let ids: Vec<ArbitratorIdentity> = policy
            .arbitrators()
            .into_iter()
            .map(|a| ArbitratorIdentity::generate(a.clone()).unwrap())
            .collect();
        let publics: Vec<_> = ids.iter().map(ArbitratorIdentity::public).collect();
        let bound = Fingerprint::from_bytes([1; 32]);
        g.bench_with_input(BenchmarkId::new("split", n), &n, |b, _| {
            b.iter(|| {
                EscrowDeposit::create(
                    &key,
                    &policy,
                    &publics,
                    TokenSerial::from_bytes([1; 16]),
                    bound,
                )
                .unwrap()
            })
        });
        let (deposit, envelopes) = EscrowDeposit::create(
            &key,
            &policy,
            &publics,
            TokenSerial::from_bytes([1; 16]),
            bound,
        )
        .unwrap();
        let envelopes: BTreeMap<ArbitratorId, Vec<u8>> = envelopes
            .into_iter()
            .map(|e| (e.arbitrator, e.envelope))
            .collect();
        let request = RecoveryRequest {
            id: RecoveryId::random().unwrap(),
            escrow: deposit.id,
            key: deposit.fingerprint(),
            reason: "bench".into(),
            target: TokenSerial::from_bytes([1; 16]),
            target_device: bound,
            slot: SlotName::new("k").unwrap(),
            rebind: false,
            created_at: 0,
            requester: "st".into(),
        };
        let chain_to = |enclave: &PublicKey| {
            let mut chain: Vec<Approval> = Vec::new();
            for name in &order {
                let me = ids.iter().find(|i| i.id().as_str() == name).unwrap();
                let previous = chain
                    .last()
                    .map(Approval::hash)
                    .unwrap_or_else(|| request.hash());
                chain.push(
                    me.approve(&request, &deposit, &envelopes[me.id()], enclave, previous)
                        .unwrap(),
                );
            }
            chain
        };
        let chain = chain_to(&enclave_public);
        let keys: BTreeMap<_, _> = publics
            .iter()
            .map(|p| (p.id.clone(), p.approval_key.clone()))
            .collect();
        g.bench_with_input(BenchmarkId::new("recover", n), &n, |b, _| {
            b.iter(|| {
                recover(&request, &chain, &deposit, &keys, |info, share| {
                    let part = enclave_share::hpke_part(share, Kem::P256)
                        .ok_or_else(|| EscrowError::Internal("not HPKE".into()))?;
                    hpke::open::<KeyError>(enclave.public_key(), info, part, |e| enclave.agree(e))
                        .map_err(|e| EscrowError::Internal(e.to_string()))
                })
                .map(|k| k.public_key().fingerprint())
                .unwrap()
            })
        });
        if n == 100 {
            let chain = chain_to(&legacy_public);
            g.bench_with_input(BenchmarkId::new("recover-rsa-oaep", n), &n, |b, _| {
                b.iter(|| {
                    recover(&request, &chain, &deposit, &keys, |_, ct| {
                        legacy
                            .decrypt_oaep(ct)
                            .map_err(|e| EscrowError::Internal(e.to_string()))
                    })
                    .map(|k| k.public_key().fingerprint())
                    .unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
