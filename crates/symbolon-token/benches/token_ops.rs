//! Token operation rates: RSA-2048 and RSA-3072 signing and OAEP decryption,
//! EC signing (P-256, P-384, Ed25519), HPKE opening (P-256, P-384: what
//! the recovery enclave does per share) and EC key generation, in process
//! and through the token agent. `scripts/bench` runs these beside `openssl
//! speed` and prints the ratios.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use symbolon::keys::{
    EcCurve, EcPrivateKey, EcSigningInput, HashAlgorithm, KeyAlgorithm, MessageDigest,
    RsaAlgorithm, SignatureScheme,
};
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon_token::agent::{bind, serve, AgentClient};

fn token_with(alg: RsaAlgorithm) -> (SoftToken<MemoryStore>, SlotName) {
    let mut t = SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
    let slot = SlotName::new("bench").unwrap();
    t.generate(&slot, alg).unwrap();
    (t, slot)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for alg in [RsaAlgorithm::Rsa2048, RsaAlgorithm::Rsa3072] {
        let digest = MessageDigest::of(HashAlgorithm::Sha256, b"benchmark message");
        let (local, slot) = token_with(alg);
        let ct = local
            .public_key(&slot)
            .unwrap()
            .encrypt_oaep(&[7u8; 32])
            .unwrap();

        let sock = dir.path().join(format!("{}.sock", alg.name()));
        let listener = bind(&sock).unwrap();
        let (served, _) = token_with(alg);
        let served_pk = served.public_key(&slot).unwrap();
        std::thread::spawn(move || serve(listener, served));
        let agent = AgentClient::connect(&sock).unwrap();
        let agent_ct = served_pk.encrypt_oaep(&[7u8; 32]).unwrap();

        let mut g = c.benchmark_group(format!("token/{}", alg.name()));
        g.bench_function("sign/in-process", |b| {
            b.iter(|| {
                local
                    .sign(&slot, SignatureScheme::Pkcs1Sha256, &digest)
                    .unwrap()
            })
        });
        g.bench_function("sign/agent", |b| {
            b.iter(|| {
                agent
                    .sign(&slot, SignatureScheme::Pkcs1Sha256, &digest)
                    .unwrap()
            })
        });
        g.bench_function("decrypt/in-process", |b| {
            b.iter(|| local.decrypt(&slot, &ct).unwrap())
        });
        g.bench_function("decrypt/agent", |b| {
            b.iter(|| agent.decrypt(&slot, &agent_ct).unwrap())
        });
        g.bench_function("public-key/agent", |b| {
            b.iter(|| agent.public_key(&slot).unwrap())
        });
        g.finish();
    }
}

fn bench_ec(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for curve in EcCurve::SIGNING {
        let slot = SlotName::new("bench").unwrap();
        let make = || {
            let mut t =
                SoftToken::create(MemoryStore::default(), SealingKey::generate().unwrap()).unwrap();
            t.generate_key(&slot, KeyAlgorithm::Ec(curve)).unwrap();
            t
        };
        let local = make();
        let sock = dir.path().join(format!("{}.sock", curve.name()));
        let listener = bind(&sock).unwrap();
        let served = make();
        std::thread::spawn(move || serve(listener, served));
        let agent = AgentClient::connect(&sock).unwrap();
        // What `openssl speed` signs: a digest for ECDSA, 64 bytes for Ed25519.
        let digest = curve
            .natural_hash()
            .map(|h| MessageDigest::of(h, b"benchmark message"));
        let message = [0x5au8; 64];
        let input = || match &digest {
            Some(d) => EcSigningInput::Digest(d),
            None => EcSigningInput::Message(&message),
        };
        let mut g = c.benchmark_group(format!("token/{}", curve.name()));
        g.bench_function("sign/in-process", |b| {
            b.iter(|| local.sign_ec(&slot, input()).unwrap())
        });
        g.bench_function("sign/agent", |b| {
            b.iter(|| agent.sign_ec(&slot, input()).unwrap())
        });
        if curve.can_agree() {
            // A 100-byte share file sealed to each token's key.
            let info = symbolon::escrow::enclave_share::share_info(
                &symbolon::escrow::RecoveryId::random().unwrap(),
                &symbolon::escrow::ArbitratorId::new("bench").unwrap(),
            );
            let sealed_to = |t: &dyn Token| {
                let symbolon::keys::PublicKey::Ec(k) = t.slot_public_key(&slot).unwrap() else {
                    unreachable!()
                };
                symbolon::keys::hpke::seal(&k, &info, &[7u8; 100]).unwrap()
            };
            let (local_ct, agent_ct) = (sealed_to(&local), sealed_to(&agent));
            g.bench_function("open-hpke/in-process", |b| {
                b.iter(|| local.open_hpke(&slot, &info, &local_ct).unwrap())
            });
            g.bench_function("open-hpke/agent", |b| {
                b.iter(|| agent.open_hpke(&slot, &info, &agent_ct).unwrap())
            });
        }
        // Key generation with its pairwise test, as a token runs it.
        g.bench_function("generate/in-process", |b| {
            b.iter(|| EcPrivateKey::generate(curve).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench, bench_ec);
criterion_main!(benches);
