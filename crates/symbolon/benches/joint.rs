//! Joint-key arithmetic beside plain RSA: generating a joint key (primes,
//! λ(n), e and two partials corrected, d0, the composed key) against
//! aws-lc's key generation; one partial signature x^{d_i} mod n with a
//! full-length partial (aws-lc's constant-time exponentiation, and the
//! crypto-bigint one it replaced) against a full CRT signature (aws-lc); prime recovery from e·d0·d1·d2 − 1; a party's step
//! in a chain file and the check of a complete one (FIG. 19/20).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, Odd, RandomMod};
use symbolon::joint::arith::{
    carmichael, complement, compose, coprime_from, fit, generate_primes, modulus, params, pow_mod,
    recover_factors, to_be, Secret, MIN_E,
};
use symbolon::joint::{ChainMessage, PartyName, ReissueForm};
use symbolon::keys::{HashAlgorithm, MessageDigest, RsaAlgorithm, RsaPrivateKey, SignatureScheme};
use symbolon::token::{SlotName, TokenSerial};

struct Joint {
    p: Secret,
    q: Secret,
    n: BoxedUint,
    e: BoxedUint,
    exps: Vec<BoxedUint>,
}

fn joint(bits: u32) -> Joint {
    let (p, q) = generate_primes(bits).unwrap();
    let n = modulus(&p, &q, bits);
    let l = carmichael(&p, &q, bits).unwrap();
    let e = coprime_from(&BoxedUint::from(MIN_E), &l, bits).unwrap();
    let nz = NonZero::new(n.clone()).unwrap();
    let partials: Vec<BoxedUint> = (0..2)
        .map(|_| {
            coprime_from(&BoxedUint::random_mod(&mut rand_core::OsRng, &nz), &l, bits).unwrap()
        })
        .collect();
    let d0 = complement(&e, &partials.iter().collect::<Vec<_>>(), &l, bits).unwrap();
    let mut exps = vec![d0.expose_secret().clone()];
    exps.extend(partials);
    Joint { p, q, n, e, exps }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("joint");
    g.sample_size(10);
    for (bits, alg) in [
        (2048u32, RsaAlgorithm::Rsa2048),
        (3072, RsaAlgorithm::Rsa3072),
    ] {
        g.bench_with_input(
            BenchmarkId::new("generate-joint-3-parties", bits),
            &bits,
            |b, &bits| {
                b.iter(|| {
                    let j = joint(bits);
                    compose(&j.p, &j.q, &j.e, &j.exps.iter().collect::<Vec<_>>(), bits).ok()
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("generate-plain", bits), &bits, |b, _| {
            b.iter(|| RsaPrivateKey::generate(alg).unwrap())
        });
    }
    let bits = 2048;
    let j = joint(bits);
    let p = params(&j.n).unwrap();
    let x = fit(&BoxedUint::from(123_456_789u64), bits);
    g.sample_size(50);
    g.bench_function("partial-sign/2048", |b| {
        b.iter(|| pow_mod(&x, &j.exps[1], &p).unwrap())
    });
    // The same with crypto-bigint (what partial signatures used before).
    let monty = BoxedMontyParams::new(Odd::new(j.n.clone()).unwrap());
    g.bench_function("partial-sign-crypto-bigint/2048", |b| {
        b.iter(|| {
            BoxedMontyForm::new(x.clone(), monty.clone())
                .pow(&j.exps[1])
                .retrieve()
        })
    });
    let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let digest = MessageDigest::of(HashAlgorithm::Sha256, b"bench");
    g.bench_function("crt-sign/2048", |b| {
        b.iter(|| {
            key.sign_digest(SignatureScheme::Pkcs1Sha256, &digest)
                .unwrap()
        })
    });
    let wide = bits * 5;
    let mut k = fit(&j.e, wide);
    for d in &j.exps {
        k = fit(&fit(&k, wide).mul(&fit(d, wide)), wide);
    }
    let k = k.wrapping_sub(&fit(&BoxedUint::one(), wide));
    g.sample_size(10);
    g.bench_function("prime-recovery/2048", |b| {
        b.iter(|| recover_factors(&j.n, &k, bits).ok())
    });

    // The reissue form (FIG. 20) with three parties: the last party's step
    // (its partial, then the whole chain checked with e) and the check of
    // a complete file that every party and the new token run.
    let composed = compose(&j.p, &j.q, &j.e, &j.exps.iter().collect::<Vec<_>>(), bits).unwrap();
    let names: Vec<PartyName> = ["alice", "issuer", "provider"]
        .iter()
        .map(|n| PartyName::new(n).unwrap())
        .collect();
    let mut form = ChainMessage::new_reissue(
        composed.public_key(),
        names.clone(),
        ReissueForm {
            reason: "card destroyed".into(),
            token: TokenSerial::from_bytes([1; 16]),
            slot: SlotName::new("joint").unwrap(),
            requested_at: 0,
        },
    )
    .unwrap();
    let partials: Vec<Vec<u8>> = j.exps.iter().map(to_be).collect();
    form.sign(&names[0], &partials[0]).unwrap();
    form.sign(&names[1], &partials[1]).unwrap();
    g.sample_size(30);
    g.bench_function("chain-sign-last/2048", |b| {
        b.iter(|| {
            let mut f = form.clone();
            f.sign(&names[2], &partials[2]).unwrap();
            f
        })
    });
    form.sign(&names[2], &partials[2]).unwrap();
    g.bench_function("chain-verify/2048", |b| b.iter(|| form.status().unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
