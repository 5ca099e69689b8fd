//! Every class, with moduli built the way the weakness arises, and good
//! moduli that must pass.

use crypto_bigint::BoxedUint;
use num_bigint::BigUint;
use num_traits::One;

use super::*;
use crate::keys::test_primes::{next_prime, prime};

fn class(n: &BigUint) -> Option<WeakClass> {
    check_modulus(&n.to_bytes_be()).err().map(|w| w.class)
}

fn good(bits: u32) -> BigUint {
    prime(bits / 2) * prime(bits / 2)
}

#[test]
fn good_moduli_pass() {
    for bits in [2048, 2048, 3072, 4096] {
        let n = good(bits);
        assert_eq!(check_modulus(&n.to_bytes_be()), Ok(()), "{n:x}");
    }
}

#[test]
fn small_factors_of_every_size() {
    // 16 bits, 31337, just under 2^20: trial division, exactly, at either effort.
    for (p, found) in [
        (65521u64, "65521"),
        (31337, "31337"),
        (1_048_573, "1048573"),
    ] {
        let n = BigUint::from(p) * prime(2048 - 64 - 1) * prime(64);
        let e = check_modulus(&n.to_bytes_be()).unwrap_err();
        assert_eq!(e.class, WeakClass::SmallFactor);
        assert!(
            e.detail.contains(found) && e.detail.contains("trial"),
            "{e}"
        );
    }
    // 22 bits: past trial division; the deep effort's rho finds it.
    let p = next_prime(BigUint::from(3u32 << 20));
    let n = &p * prime(2020);
    assert_eq!(check_modulus(&n.to_bytes_be()), Ok(()));
    let e = check_modulus_deep(&n.to_bytes_be()).unwrap_err();
    assert_eq!(e.class, WeakClass::SmallFactor);
    assert!(
        e.detail.contains("rho") && e.detail.contains(&p.to_string()),
        "{e}"
    );
}

#[test]
fn the_deep_effort_finds_32_bit_factors() {
    // 2^31 − 1 (a Mersenne prime), and random 32-bit primes.
    let mut factors = vec![BigUint::from((1u64 << 31) - 1)];
    factors.extend((0..3).map(|_| prime(32)));
    for p in factors {
        let n = &p * prime(2048 - 32);
        let e = check_modulus_deep(&n.to_bytes_be()).unwrap_err();
        assert_eq!(e.class, WeakClass::SmallFactor);
        assert!(e.detail.contains(&p.to_string()), "{e}");
    }
}

#[test]
fn primes_and_prime_powers() {
    let p = prime(2048);
    assert_eq!(class(&p), Some(WeakClass::PrimeModulus));
    let q = prime(1024);
    assert_eq!(class(&(&q * &q)), Some(WeakClass::PrimePower));
    let r = prime(683);
    let e = check_modulus(&(&r * &r * &r).to_bytes_be()).unwrap_err();
    assert_eq!(e.class, WeakClass::PrimePower);
    assert!(
        e.detail.contains("3-th power") || e.detail.contains("cube") || e.detail.contains("3"),
        "{e}"
    );
}

#[test]
fn close_primes_fall_to_fermat() {
    // The first step, and one some hundreds of steps out: q = p + d with
    // d just under what 1000 steps reach.
    for shift in [100u32, 515] {
        let p = prime(1024);
        let q = next_prime(&p + (BigUint::one() << shift));
        let n = &p * &q;
        let e = check_modulus(&n.to_bytes_be()).unwrap_err();
        assert_eq!(e.class, WeakClass::Fermat, "{shift}: {e}");
    }
    // Far apart: fine.
    let p = prime(1024);
    let q = next_prime(&p + (BigUint::one() << 600));
    assert_eq!(class(&(&p * &q)), None);
}

/// A ROCA-style prime: k·M + 65537^a mod M, M = 167#, as the paper
/// describes (the library used larger primorials; detection needs 167#).
fn roca_prime(bits: u32) -> BigUint {
    let m: BigUint = [
        2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
        89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ]
    .iter()
    .fold(BigUint::one(), |m, &p| m * p);
    let mut a_bytes = [0u8; 8];
    crate::keys::random_bytes(&mut a_bytes).unwrap();
    let a = BigUint::from(u64::from_be_bytes(a_bytes) % 2_454_106_387_091_158_800);
    let residue = BigUint::from(65537u32).modpow(&a, &m);
    loop {
        // k random, with its top bit set so that p has `bits` bits.
        let k_bits = bits - m.bits() as u32;
        let mut k_bytes = vec![0u8; (k_bits as usize).div_ceil(8)];
        crate::keys::random_bytes(&mut k_bytes).unwrap();
        let k = (BigUint::from_bytes_be(&k_bytes) % (BigUint::one() << (k_bits - 1)))
            | (BigUint::one() << (k_bits - 1));
        let candidate = &k * &m + &residue;
        if candidate.bits() == u64::from(bits) {
            let b =
                BoxedUint::from_be_slice(&candidate.to_bytes_be(), bits.div_ceil(64) * 64).unwrap();
            if crypto_primes::is_prime(&b) {
                return candidate;
            }
        }
    }
}

#[test]
fn roca_structured_keys_are_found() {
    let n = roca_prime(1024) * roca_prime(1024);
    let e = check_modulus(&n.to_bytes_be()).unwrap_err();
    assert_eq!(e.class, WeakClass::Roca, "{e}");
}

/// A prime of `bits` bits whose value is sparse: 2^(bits−1) plus a few
/// small coefficients at multiples of 2^width (then the next prime).
fn sparse_prime(bits: u32, width: u32) -> BigUint {
    let mut x = BigUint::one() << (bits - 1);
    let mut seed = [0u8; 16];
    crate::keys::random_bytes(&mut seed).unwrap();
    for (i, s) in seed.iter().enumerate() {
        let at = width * (i as u32 + 1);
        if at + 8 < bits - 1 {
            x += BigUint::from(*s & 0x0f) << at;
        }
    }
    next_prime(x)
}

#[test]
fn patterned_biased_repeated_and_backdoored_moduli() {
    let n = sparse_prime(1024, 128) * sparse_prime(1024, 128);
    let e = check_modulus(&n.to_bytes_be()).unwrap_err();
    assert_eq!(e.class, WeakClass::Patterned, "{e}");

    // A "vanity" modulus: the top half all ones, the rest as the primes
    // make it (q is chosen so that n starts with the pattern).
    let p = prime(1024);
    let target = (BigUint::one() << 2048) - (BigUint::one() << 1100);
    let q = next_prime(&target / &p);
    let n = &p * &q;
    let e = check_modulus(&n.to_bytes_be()).unwrap_err();
    assert!(
        e.class == WeakClass::Biased || e.class == WeakClass::RepeatedBytes,
        "{e}"
    );

    // Sixteen equal bytes in the middle of an otherwise random modulus.
    let p = prime(1024);
    let mut t = good(2048).to_bytes_be();
    t[100..116].fill(0x5a);
    let q = next_prime(BigUint::from_bytes_be(&t) / &p);
    let n = &p * &q;
    assert!(n
        .to_bytes_be()
        .windows(16)
        .any(|w| w.iter().all(|&b| b == 0x5a)));
    assert_eq!(class(&n), Some(WeakClass::RepeatedBytes));
}

#[test]
fn the_xz_fingerprint() {
    // With the zero byte DER puts in front (the top bit is set), a is read
    // from bytes[0..3], b from bytes[3..7], c from bytes[7..15] (little
    // endian): b = 0 and c = 2 make a·b + c = 2.
    let mut bytes = good(2048).to_bytes_be();
    bytes[0] |= 0x80;
    bytes[3..15].fill(0);
    bytes[7] = 2;
    let n = BigUint::from_bytes_be(&bytes);
    let e = patterns::check(&n).unwrap_err();
    assert_eq!(e.class, WeakClass::XzBackdoor, "{e}");
}
