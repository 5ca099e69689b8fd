//! A modulus that is prime, or a perfect power (n = m^k, k ≥ 2: a square
//! of one prime among them). Both have a private exponent anyone can compute:
//! e⁻¹ modulo n − 1, or modulo φ(n) once the root is taken.

use num_bigint::BigUint;
use num_traits::Pow;

use super::{limb_bits, small_factors::TRIAL_BOUND_BITS, to_boxed, WeakClass, WeakKey};

pub(super) fn check(n: &BigUint) -> Result<(), WeakKey> {
    // Baillie–PSW (Miller–Rabin base 2 and a strong Lucas test): no
    // composite is known to pass it.
    if to_boxed(n, limb_bits(n)).is_some_and(|b| crypto_primes::is_prime(&b)) {
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
