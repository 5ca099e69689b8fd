//! Primes for tests that build weak and good moduli.

use crypto_bigint::BoxedUint;
use num_bigint::BigUint;

/// A random prime of exactly `bits` bits.
pub(crate) fn prime(bits: u32) -> BigUint {
    let p: BoxedUint = crypto_primes::generate_prime_with_rng(&mut rand_core::OsRng, bits);
    BigUint::from_bytes_be(&p.to_be_bytes())
}

/// The next prime at or after x.
pub(crate) fn next_prime(mut x: BigUint) -> BigUint {
    if (&x % 2u32) == BigUint::ZERO {
        x += 1u32;
    }
    loop {
        let bits = (x.bits() as u32).div_ceil(64) * 64;
        let b = BoxedUint::from_be_slice(&x.to_bytes_be(), bits).unwrap_or_else(|_| unreachable!());
        if crypto_primes::is_prime(&b) {
            return x;
        }
        x += 2u32;
    }
}

/// p·q, big-endian.
pub(crate) fn product(p: &BigUint, q: &BigUint) -> Vec<u8> {
    (p * q).to_bytes_be()
}
