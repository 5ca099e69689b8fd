//! A modulus that is prime, or a perfect power (n = m^k, k ≥ 2: a square
//! of one prime among them). Both have a private exponent anyone can compute:
//! e⁻¹ modulo n − 1, or modulo φ(n) once the root is taken.

use num_bigint::BigUint;
use num_traits::{One, Pow};
use symbolon_bn::{Bn, Modulus};

use super::{limb_bits, small_factors::TRIAL_BOUND_BITS, to_boxed, WeakClass, WeakKey};

pub(super) fn check(n: &BigUint) -> Result<(), WeakKey> {
    // Baillie–PSW (Miller–Rabin base 2 and a strong Lucas test): no
    // composite is known to pass it. Its first half alone settles every
    // real modulus (a Miller–Rabin witness proves compositeness), and runs
    // on aws-lc's exponentiation at about a quarter of crypto-primes' cost;
    // only a modulus that passes it goes on to the whole test.
    if !witnessed_composite(n)
        && to_boxed(n, limb_bits(n)).is_some_and(|b| crypto_primes::is_prime(&b))
    {
        return Err(WeakKey::new(
            WeakClass::PrimeModulus,
            "the modulus is itself prime, so the private exponent is e⁻¹ mod (n − 1)",
        ));
    }
    // Trial division left no factor below 2^TRIAL_BOUND_BITS, so a k-th root
    // is at least that large: k ≤ bits / TRIAL_BOUND_BITS. A composite k's
    // power is also a prime k's, so prime k suffice.
    let max_k = (n.bits() / u64::from(TRIAL_BOUND_BITS)).max(2) as u32;
    for k in (2..=max_k).filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0)) {
        let root = n.nth_root(k);
        if Pow::pow(&root, k) == *n {
            return Err(WeakKey::new(
                WeakClass::PrimePower,
                format!(
                    "the modulus is the {} of a {}-bit number",
                    if k == 2 {
                        "square".to_string()
                    } else {
                        format!("{k}-th power")
                    },
                    root.bits()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether 2 is a Miller–Rabin witness that odd `n` > 3 is composite: a
/// proof when true; false says only "maybe prime". n is public, so the
/// variable-time steps (the squarings' comparisons) leak nothing. Any
/// failure of the arithmetic answers false, sending n to the whole test.
fn witnessed_composite(n: &BigUint) -> bool {
    if n.bits() < 3 || !n.bit(0) {
        return false;
    }
    let n_minus_1 = n - 1u32;
    let s = n_minus_1.trailing_zeros().unwrap_or(0);
    let d = &n_minus_1 >> s;
    let len = n.bits().div_ceil(8) as usize;
    let to_bn = |x: &BigUint| Bn::from_be(&x.to_bytes_be());
    let from_bn = |x: &Bn| x.to_be_padded(len).map(|b| BigUint::from_bytes_be(&b));
    let run = || -> Result<bool, symbolon_bn::BnError> {
        let m = Modulus::new(to_bn(n)?)?;
        let two = Bn::from_u64(2)?;
        let mut x = from_bn(&m.pow(&two, &to_bn(&d)?)?)?;
        if x.is_one() || x == n_minus_1 {
            return Ok(false);
        }
        for _ in 1..s {
            x = (&x * &x) % n;
            if x == n_minus_1 {
                return Ok(false);
            }
        }
        Ok(true)
    };
    run().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_witnesses_composites_and_never_a_prime() {
        // Primes are never "witnessed composite", small or 1024-bit.
        for p in [5u64, 7, 65537, 2_147_483_647] {
            assert!(!witnessed_composite(&BigUint::from(p)), "{p}");
        }
        // A random 1024-bit prime, and the product of two.
        let (p, q) = (
            crate::keys::test_primes::prime(1024),
            crate::keys::test_primes::prime(1024),
        );
        assert!(!witnessed_composite(&p));
        assert!(witnessed_composite(&(&p * &q)));
        // An RSA modulus is witnessed: 61·53, and a product of two primes.
        assert!(witnessed_composite(&BigUint::from(61u64 * 53)));
        assert!(witnessed_composite(
            &(BigUint::from(2_147_483_647u64) * 65537u32)
        ));
        // 2047 = 23·89 is a strong pseudoprime to base 2: not witnessed, so
        // the whole Baillie–PSW test decides (and finds it composite).
        assert!(!witnessed_composite(&BigUint::from(2047u32)));
        assert!(check(&BigUint::from(2047u32)).is_ok());
        // Even numbers and those too small are left to the whole test.
        assert!(!witnessed_composite(&BigUint::from(1024u32)));
        assert!(!witnessed_composite(&BigUint::from(3u32)));
    }
}
