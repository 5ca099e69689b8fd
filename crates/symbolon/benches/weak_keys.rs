//! The weak-key checks (docs/weak-keys.md): the full check of one good
//! RSA-2048 key at each effort; the shared-prime query of one key against
//! registries of 10^3, 10^4 and 10^5 moduli (SYMBOLON_BENCH_MODULI, comma
//! separated, for other sizes such as 1000000); Bernstein's batch gcd over
//! 10^3 and 10^4 moduli (SYMBOLON_BENCH_BATCH). Moduli for the registry are
//! random odd 2048-bit numbers: the cost of the products and remainders is
//! the same as for real moduli, and making a million keys would take hours.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use symbolon::keys::shared_primes::{batch_gcd_flags, PrimeIndex};
use symbolon::keys::weak::{check_public_key, Effort};
use symbolon::keys::{random_bytes, Fingerprint, RsaAlgorithm, RsaPrivateKey};

fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn random_modulus() -> Vec<u8> {
    let mut m = vec![0u8; 256];
    random_bytes(&mut m).unwrap();
    m[0] |= 0xc0;
    m[255] |= 1;
    m
}

fn bench(c: &mut Criterion) {
    let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
    let public = key.public_key().clone();

    let mut g = c.benchmark_group("weak_keys/check_rsa2048");
    g.sample_size(20);
    g.bench_function("standard", |b| {
        b.iter(|| check_public_key(&public, Effort::Standard).unwrap())
    });
    g.sample_size(10);
    g.bench_function("deep", |b| {
        b.iter(|| check_public_key(&public, Effort::Deep).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("weak_keys/shared_prime_query");
    g.sample_size(10);
    for n in sizes("SYMBOLON_BENCH_MODULI", &[1000, 10_000, 100_000]) {
        let mut index = PrimeIndex::new();
        for i in 0..n {
            let mut fp = [0u8; 32];
            fp[..8].copy_from_slice(&(i as u64).to_be_bytes());
            index.insert(Fingerprint::from_bytes(fp), &random_modulus());
        }
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            let own = public.fingerprint();
            b.iter(|| assert!(index.shared_with(public.modulus(), &own).is_empty()))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("weak_keys/batch_gcd");
    g.sample_size(10);
    for n in sizes("SYMBOLON_BENCH_BATCH", &[1000, 10_000]) {
        let moduli: Vec<Vec<u8>> = (0..n).map(|_| random_modulus()).collect();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| batch_gcd_flags(&moduli, |_| {}))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
