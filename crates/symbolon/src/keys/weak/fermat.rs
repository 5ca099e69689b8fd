//! Fermat's method: n = a² − b² = (a − b)(a + b), tried for a from ⌈√n⌉
//! upwards. Step k succeeds when (p + q)/2 − √n ≤ k, that is roughly when
//! |p − q| < √(8k)·n^(1/4): primes that share their top half. The CA/Browser
//! Forum's Baseline Requirements ask for 100 steps; this takes 1000, most of
//! them rejected by residues modulo small numbers before any square root.
//!
//! (The |p − q| > 2^(bits/2 − 100) rule of FIPS 186-5 that symbolon applies
//! to the keys it makes cannot be checked from n: Fermat would need about
//! 2^(bits/2 − 203) steps to see a violation.)

use num_bigint::BigUint;
use num_traits::{ToPrimitive, Zero};

use super::{WeakClass, WeakKey};

/// How many values of a are tried.
pub(super) const STEPS: u64 = 1000;

/// Squares modulo 64·63·65·11 = 2,882,880 are tested through these four
/// moduli: a non-square is rejected by one of them with probability > 99 %.
const FILTERS: [u64; 4] = [64, 63, 65, 11];

fn maybe_square(residues: &[u64; 4]) -> bool {
    residues.iter().zip(FILTERS).all(|(&r, m)| {
        // r is a square modulo m iff some x < m has x² ≡ r; m ≤ 65.
        (0..m).any(|x| x * x % m == r)
    })
}

fn residues(x: &BigUint) -> [u64; 4] {
    FILTERS.map(|m| (x % m).to_u64().unwrap_or(0))
}

/// The factors when a perfect square test passes.
fn exact_root(x: &BigUint) -> Option<BigUint> {
    let r = x.sqrt();
    (&r * &r == *x).then_some(r)
}

pub(super) fn check(n: &BigUint) -> Result<(), WeakKey> {
    let mut a = n.sqrt();
    if &a * &a < *n {
        a += 1u32;
    }
    // b² = a² − n, kept incrementally: (a + 1)² − n = b² + 2a + 1.
    let mut b2 = &a * &a - n;
    let mut r = residues(&b2);
    let mut ra = residues(&a);
    for step in 1..=STEPS {
        if maybe_square(&r) {
            if let Some(b) = exact_root(&b2) {
                let q = &a - &b;
                if !b.is_zero() && q > BigUint::from(1u32) {
                    let diff_bits = (&b * 2u32).bits();
                    return Err(WeakKey::new(
                        WeakClass::Fermat,
                        format!(
                            "its primes are so close (|p − q| is a {diff_bits}-bit number) that Fermat's method factors the modulus in {step} step{}",
                            if step == 1 { "" } else { "s" }
                        ),
                    ));
                }
            }
        }
        b2 += &a * 2u32 + 1u32;
        a += 1u32;
        for i in 0..4 {
            r[i] = (r[i] + 2 * ra[i] + 1) % FILTERS[i];
            ra[i] = (ra[i] + 1) % FILTERS[i];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_residue_filter_never_rejects_a_square() {
        for x in 0u64..5000 {
            assert!(maybe_square(&residues(&BigUint::from(x * x))), "{x}");
        }
        let rejected = (0u64..100_000)
            .filter(|&x| !maybe_square(&residues(&BigUint::from(x))))
            .count();
        assert!(rejected > 95_000, "{rejected}");
    }
}
