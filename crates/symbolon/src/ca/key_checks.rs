//! Key checks at the CA (docs/design.md §2.7, docs/weak-keys.md,
//! docs/ec-keys.md): for RSA, the key policy of CA/B Forum BR §6.1.5–6.1.6
//! (sizes 2048/3072/4096, e odd and at least 65537) and every weak-key class
//! of [`crate::keys::weak`], at the effort the CA's policy names; for EC, the
//! curve the policy allows for the role (the point itself was validated
//! when the key was read: [`crate::keys::EcPublicKey`]).

use super::{CaError, CaPolicy};
use crate::keys::weak::{check_public_key, Effort};
use crate::keys::{PublicKey, RsaPublicKey};
use crate::x509::CertificateRole;

/// Every prime below 2^TRIAL_BOUND_BITS is tried as a factor (the CA/B
/// Forum asks for 752).
pub const SMALL_PRIME_BOUND: u32 = 1 << crate::keys::weak::TRIAL_BOUND_BITS;

/// Refuses a key the CA must not certify, at the standard effort.
pub fn check_key(key: &RsaPublicKey) -> Result<(), CaError> {
    check_key_with(key, Effort::Standard)
}

/// Refuses a key the CA must not certify, at `effort`.
pub fn check_key_with(key: &RsaPublicKey, effort: Effort) -> Result<(), CaError> {
    check_public_key(key, effort).map_err(CaError::WeakKey)
}

/// Refuses a key the CA must not certify for `role` under `policy`.
pub fn check_subject_key(
    key: &PublicKey,
    role: CertificateRole,
    policy: &CaPolicy,
) -> Result<(), CaError> {
    match key {
        PublicKey::Rsa(k) => check_key_with(k, policy.weak_key_effort),
        PublicKey::Ec(k) => {
            let allowed = policy.curves_for(role);
            if allowed.contains(&k.curve()) {
                return Ok(());
            }
            Err(CaError::UnsupportedKey(format!(
                "this CA does not certify {} keys for {role} certificates; allowed for {role}: {}",
                k.curve().standard_name(),
                if allowed.is_empty() {
                    "RSA only".to_string()
                } else {
                    let names: Vec<&str> = allowed.iter().map(|c| c.name()).collect();
                    format!("RSA, {}", names.join(", "))
                }
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use num_bigint::BigUint;

    use super::*;
    use crate::keys::weak::WeakClass;

    fn key(n: &BigUint, e: u32) -> RsaPublicKey {
        use pkcs1::der::Encode;
        let e = BigUint::from(e).to_bytes_be();
        let n = n.to_bytes_be();
        let der = pkcs1::RsaPublicKey {
            modulus: pkcs1::UintRef::new(&n).unwrap(),
            public_exponent: pkcs1::UintRef::new(&e).unwrap(),
        }
        .to_der()
        .unwrap();
        RsaPublicKey::from_der(&der).unwrap()
    }

    fn class(r: Result<(), CaError>) -> Option<WeakClass> {
        match r {
            Err(CaError::WeakKey(w)) => Some(w.class),
            _ => None,
        }
    }

    #[test]
    fn every_prime_below_the_bound_and_the_policy() {
        // A 2048-bit multiple of p for primes around the CA/B Forum's 752
        // and up to the trial bound.
        let top = BigUint::from(1u32) << 2047;
        for p in [3u32, 751, 757, 65_537, 1_048_573] {
            let r: BigUint = &top % p;
            let r = r.to_u32_digits().first().copied().unwrap_or(0);
            let mut n = &top + (p - r);
            if (&n % 2u32) == BigUint::ZERO {
                n += p;
            }
            assert_eq!((&n % p), BigUint::ZERO);
            let r = check_key(&key(&n, 65537));
            assert_eq!(class(r.clone()), Some(WeakClass::SmallFactor), "{p}: {r:?}");
            // The smallest prime factor is named (it may be below p).
            assert!(r.unwrap_err().to_string().contains("divisible by"));
        }
        // 2^2048 − 1 = (2^1024 − 1)(2^1024 + 1) is divisible by 3.
        let all_ones = (BigUint::from(1u32) << 2048) - 1u32;
        assert_eq!(
            class(check_key(&key(&all_ones, 65537))),
            Some(WeakClass::SmallFactor)
        );
        let good =
            crate::keys::RsaPrivateKey::generate(crate::keys::RsaAlgorithm::Rsa2048).unwrap();
        check_key(good.public_key()).unwrap();
        let n = BigUint::from_bytes_be(good.public_key().modulus());
        assert_eq!(class(check_key(&key(&n, 3))), Some(WeakClass::Exponent));
        let small = crate::keys::test_primes::prime(512) * crate::keys::test_primes::prime(512);
        assert_eq!(class(check_key(&key(&small, 65537))), Some(WeakClass::Size));
        assert_eq!(SMALL_PRIME_BOUND, 1 << 20);
    }
}
