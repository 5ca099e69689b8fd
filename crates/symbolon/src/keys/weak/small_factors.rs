//! Small prime factors, in two stages.
//!
//! 1. **Every prime below 2^20** (82,025 of them, the CA/Browser Forum's
//!    752 and badkeys' 65,537 included): one gcd of n with their product
//!    (1.5 Mbit, made once per process), which costs about as much as one
//!    RSA public operation. Exact.
//! 2. **Pollard–Brent rho**, at the deep effort only (random start and
//!    constant, so no modulus can be built to dodge it), over Montgomery
//!    arithmetic, with a budget of [`DEEP_RHO_STEPS`] steps: it finds a
//!    factor p after about √(πp/2) steps, so the budget finds a 32-bit
//!    factor but for a chance of about 10^-6, and larger ones with falling
//!    odds. It costs seconds per good RSA-2048 key, which is why
//!    certification does not run it by default (docs/weak-keys.md).

use std::sync::OnceLock;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};

use super::{limb_bits, to_boxed, WeakClass, WeakKey};

/// Trial division covers every prime below 2^TRIAL_BOUND_BITS.
pub const TRIAL_BOUND_BITS: u32 = 20;

/// Rho's budget at the deep effort, in steps (one squaring and one
/// multiplication modulo n each). Brent's variant spends 2r steps on the
/// stage that compares against a point fixed r steps back, so it sees a
/// cycle of length λ after a tail μ once r passes both: within about
/// 4·max(λ, μ) steps. λ + μ is about √(πp/2) for a factor p (about 82,000
/// for p = 2^32) and its tail falls like exp(−t²/2p): with 2^20 steps a
/// 32-bit factor escapes with probability about 10^-6 (2^19 would let
/// about one in thirty through, too many for a check or a test).
pub(super) const DEEP_RHO_STEPS: u64 = 1 << 20;

/// Every prime below 2^TRIAL_BOUND_BITS (sieve of Eratosthenes).
fn primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let limit = 1usize << TRIAL_BOUND_BITS;
        let mut composite = vec![false; limit];
        let mut out = Vec::with_capacity(83_000);
        for i in 2..limit {
            if !composite[i] {
                out.push(i as u32);
                let mut j = i * i;
                while j < limit {
                    composite[j] = true;
                    j += i;
                }
            }
        }
        out
    })
}

/// The product of [`primes`], by a product tree (balanced, so the big
/// multiplications are few).
fn primes_product() -> &'static BigUint {
    static PRODUCT: OnceLock<BigUint> = OnceLock::new();
    PRODUCT.get_or_init(|| {
        let mut level: Vec<BigUint> = primes()
            .chunks(2)
            .map(|c| c.iter().fold(BigUint::one(), |a, &p| a * p))
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|c| c.iter().fold(BigUint::one(), |a, b| a * b))
                .collect();
        }
        level.pop().unwrap_or_else(BigUint::one)
    })
}

/// The smallest prime below 2^TRIAL_BOUND_BITS dividing n, if any.
pub(super) fn smallest_trial_factor(n: &BigUint) -> Option<u32> {
    let g = (primes_product() % n).gcd(n);
    if g.is_one() {
        return None;
    }
    // g is the product of the small primes dividing n (each once).
    primes().iter().copied().find(|&p| (&g % p).is_zero())
}

/// n without its prime factors below 2^TRIAL_BOUND_BITS (big-endian), or
/// None when what is left is below 2^64: what a refused modulus contributes
/// to the shared-prime checks (its small primes are public and shared by
/// many broken keys; only a large remaining factor can betray another key).
pub fn without_small_factors(modulus: &[u8]) -> Option<Vec<u8>> {
    let mut n = BigUint::from_bytes_be(modulus);
    if n.is_zero() {
        return None;
    }
    let mut g = (primes_product() % &n).gcd(&n);
    while !g.is_one() {
        n /= &g;
        g = g.gcd(&n);
    }
    (n.bits() > 64).then(|| n.to_bytes_be())
}

pub(super) fn trial(n: &BigUint) -> Result<(), WeakKey> {
    match smallest_trial_factor(n) {
        Some(p) => Err(WeakKey::new(
            WeakClass::SmallFactor,
            format!("the modulus is divisible by {p} (trial division)"),
        )),
        None => Ok(()),
    }
}

fn from_boxed(x: &BoxedUint) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes())
}

/// A random integer below n (n ≥ 2^16 here).
fn random_below(n: &BigUint) -> BigUint {
    let mut bytes = vec![0u8; n.to_bytes_be().len() + 8];
    // The RNG failing leaves zeros: rho then starts from a fixed point,
    // which is slower to dodge but still correct.
    if crate::keys::random_bytes(&mut bytes).is_err() {
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    }
    BigUint::from_bytes_be(&bytes) % n
}

/// Pollard–Brent rho on n (odd, no factor below 2^TRIAL_BOUND_BITS): a
/// nontrivial factor found within `steps`, if any.
pub(super) fn rho_factor(n: &BigUint, steps: u64) -> Option<BigUint> {
    let bits = limb_bits(n);
    let modulus = Odd::new(to_boxed(n, bits)?).into_option()?;
    let params = BoxedMontyParams::new_vartime(modulus);
    let form = |x: &BigUint| to_boxed(x, bits).map(|b| BoxedMontyForm::new(b, params.clone()));
    let c = form(&(random_below(n) | BigUint::one()))?;
    let mut y = form(&random_below(n))?;
    // gcds are taken every BATCH steps over the product of the differences.
    const BATCH: u64 = 128;
    let gcd_of = |q: &BoxedMontyForm| {
        // Montgomery form multiplies by R, which is prime to n.
        from_boxed(q.as_montgomery()).gcd(n)
    };
    let mut q = form(&BigUint::one())?;
    let mut r: u64 = 1;
    let mut done: u64 = 0;
    loop {
        let x = y.clone();
        for _ in 0..r {
            y = y.square() + &c;
        }
        done += r;
        let mut k = 0;
        while k < r {
            let saved = y.clone();
            let m = BATCH.min(r - k);
            for _ in 0..m {
                y = y.square() + &c;
                q = q.mul(&(&x - &y));
            }
            done += m;
            k += m;
            let g = gcd_of(&q);
            if !g.is_one() {
                if g != *n {
                    return Some(g);
                }
                // Several cycles closed in one batch: step through it again.
                let mut ys = saved;
                for _ in 0..m {
                    ys = ys.square() + &c;
                    let g = from_boxed((&x - &ys).as_montgomery()).gcd(n);
                    if !g.is_one() {
                        return (g != *n).then_some(g);
                    }
                }
                return None;
            }
            if done >= steps {
                return None;
            }
        }
        r *= 2;
    }
}

pub(super) fn rho(n: &BigUint, steps: u64) -> Result<(), WeakKey> {
    match rho_factor(n, steps) {
        Some(f) => {
            let other = n / &f;
            let small = f.min(other);
            let shown = small
                .to_u64()
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("a {}-bit number", small.bits()));
            Err(WeakKey::new(
                WeakClass::SmallFactor,
                format!("the modulus is divisible by {shown} (Pollard's rho)"),
            ))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sieve_and_its_product() {
        let p = primes();
        assert_eq!(p.len(), 82_025);
        assert_eq!(&p[..6], &[2, 3, 5, 7, 11, 13]);
        assert_eq!(*p.last().unwrap(), 1_048_573);
        let product = primes_product();
        assert!(product.bits() > 1_400_000 && product.bits() < 1_600_000);
        assert!((product % 1_048_573u32).is_zero());
        assert!(!(product % 1_048_583u32).is_zero()); // the next prime
    }
}
