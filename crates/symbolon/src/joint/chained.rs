//! The parties' side of a joint key (FIG. 18–19): a fresh partial
//! exponent, the corrected partial a party signs with, one party's link of
//! a chained signature, and the check of a complete chain with e. The
//! token's side is `slot`; the message files are [`super::chain`].
//!
//! A partial is secret: every value derived from it lives in zeroising
//! memory, and the exponentiation is crypto-bigint's constant-time one
//! (its time depends on the exponent's length, never its bits).

use crypto_bigint::BoxedUint;
use zeroize::Zeroizing;

use super::arith::{fit, from_be, params, pow_mod, pow_public, to_be, to_be_len};
use super::JointError;
use crate::keys::RsaPublicKey;

/// The modulus lengths a partial may be made for.
pub const PARTIAL_BITS: std::ops::RangeInclusive<u32> = 1024..=8192;

/// A fresh partial exponent for a key of `bits`: `bits` random bits, the
/// top one set (so every party's partial has the modulus's length).
pub fn new_partial(bits: u32) -> Result<Zeroizing<Vec<u8>>, JointError> {
    if !PARTIAL_BITS.contains(&bits) || bits % 8 != 0 {
        return Err(JointError::InvalidInput(format!(
            "a partial is made for a modulus of 1024 to 8192 bits, a multiple of 8 (asked: {bits})"
        )));
    }
    let mut p = Zeroizing::new(vec![0u8; bits as usize / 8]);
    crate::keys::random_bytes(&mut p).map_err(|e| JointError::Internal(e.to_string()))?;
    p[0] |= 0x80;
    Ok(p)
}

/// The partial a party signs with: d′ + δ, where δ is the offset the
/// token answered when the partial entered it (the patent's coprime
/// correction). Big-endian, as long as it needs to be.
pub fn corrected_partial(partial: &[u8], offset: u64) -> Result<Zeroizing<Vec<u8>>, JointError> {
    let bits = (partial.len() as u32 * 8).max(64) + 64;
    let d = Zeroizing::new(from_be(partial, bits)?);
    let sum = Zeroizing::new(d.wrapping_add(&fit(&BoxedUint::from(offset), bits)));
    Ok(Zeroizing::new(to_be(&sum)))
}

/// One party's link: x^d mod n for the value `x` (big-endian, below n) and
/// the party's partial `d` as it signs with it. The result is as long as n.
pub fn partial_sign(key: &RsaPublicKey, x: &[u8], partial: &[u8]) -> Result<Vec<u8>, JointError> {
    let bits = key.bits() as u32;
    let n = from_be(key.modulus(), bits)?;
    let x = from_be(x, bits)?;
    if x >= n {
        return Err(JointError::InvalidInput(
            "the value to sign is not below n".into(),
        ));
    }
    let d = Zeroizing::new(from_be(partial, bits.max(partial.len() as u32 * 8))?);
    Ok(to_be_len(
        &pow_mod(&x, &d, &params(&n)?)?,
        key.modulus().len(),
    ))
}

/// Whether a complete chain `signature` verifies with e: s^e mod n equals
/// `expected` (the encoded message, big-endian).
pub fn verify_chained(
    key: &RsaPublicKey,
    signature: &[u8],
    expected: &[u8],
) -> Result<bool, JointError> {
    let bits = key.bits() as u32;
    let n = from_be(key.modulus(), bits)?;
    let s = from_be(signature, bits)?;
    let e = from_be(key.exponent(), bits)?;
    let got = pow_public(&s, &e, &params(&n)?);
    Ok(fit(&got, bits) == from_be(expected, bits)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::joint::arith::emsa_pkcs1_sha256;

    #[test]
    fn partials_have_the_modulus_length_and_odd_sizes_are_refused() {
        let p = new_partial(2048).unwrap();
        assert_eq!(p.len(), 256);
        assert!(p[0] & 0x80 != 0);
        for bad in [512, 1023, 1028, 16384] {
            assert!(new_partial(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn e_beyond_32_bits_is_refused_where_it_enters() {
        use crate::joint::arith::{check_e_start, MAX_E_START};
        assert!(check_e_start(65537).is_ok());
        assert!(check_e_start(MAX_E_START).is_ok());
        for bad in [MAX_E_START + 1, 1 << 32, u64::MAX] {
            assert!(check_e_start(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_correction_adds_the_offset() {
        let c = corrected_partial(&[0x01, 0xff], 1).unwrap();
        assert_eq!(&c[c.len() - 2..], &[0x02, 0x00]);
    }

    #[test]
    fn a_two_party_chain_verifies_with_e_and_half_a_chain_does_not() {
        use crate::joint::arith::{carmichael, complement, coprime_from, generate_primes, modulus};
        let bits = 2048;
        let (p, q) = generate_primes(bits).unwrap();
        let n = modulus(&p, &q, bits);
        let l = carmichael(&p, &q, bits).unwrap();
        let e = coprime_from(&BoxedUint::from(65537u64), &l, bits).unwrap();
        let start = from_be(&new_partial(bits).unwrap(), bits).unwrap();
        let d1 = coprime_from(&start, &l, bits).unwrap();
        let d0 = complement(&e, &[&d1], &l, bits).unwrap();
        let key = RsaPublicKey::from_components(&to_be_len(&n, 256), &to_be(&e)).unwrap();
        let x = emsa_pkcs1_sha256(b"message", 256).unwrap();
        let s0 = partial_sign(&key, &x, &to_be(&d0.0)).unwrap();
        let s1 = partial_sign(&key, &s0, &to_be(&d1)).unwrap();
        assert!(verify_chained(&key, &s1, &x).unwrap());
        assert!(!verify_chained(&key, &s0, &x).unwrap());
        assert!(partial_sign(&key, key.modulus(), &to_be(&d1)).is_err());
    }
}
