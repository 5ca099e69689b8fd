//! RSA public keys: parsing any common encoding to one canonical SPKI,
//! verification, OAEP encryption, and the key-policy checks.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
use aws_lc_rs::signature::UnparsedPublicKey;

use super::{Fingerprint, KeyError, MessageDigest, RsaAlgorithm, SignatureScheme};
use crate::pem;

/// The smallest public exponent accepted (CA/B Forum BR §6.1.6).
pub const MIN_PUBLIC_EXPONENT: u64 = 65537;

/// An RSA public key, held in canonical SubjectPublicKeyInfo DER so that the
/// same key in another encoding (PKCS#1, leading zeros) compares equal.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    spki: Vec<u8>,
    pkcs1: Vec<u8>,
    modulus: Vec<u8>,
    modulus_bits: usize,
    exponent: Vec<u8>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.modulus_bits)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl RsaPublicKey {
    /// Parses SubjectPublicKeyInfo or PKCS#1 RSAPublicKey DER.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| {
            // aws-lc refuses some well-formed keys (an exponent over 33 bits,
            // an even one, an even modulus) as malformed; such a key breaks
            // the key policy, and says how.
            policy_refusal(der).unwrap_or(KeyError::Malformed {
                kind: "RSA public key",
                reason:
                    "not an RSA public key aws-lc can load (SubjectPublicKeyInfo or PKCS#1 DER)"
                        .into(),
            })
        })?;
        Self::from_aws(&key)
    }

    pub(crate) fn from_aws(key: &aws_lc_rs::rsa::PublicKey) -> Result<Self, KeyError> {
        let spki = key
            .as_der()
            .map_err(|_| KeyError::Internal("SPKI encoding"))?
            .as_ref()
            .to_vec();
        let modulus = key.modulus();
        let modulus = strip_zeros(modulus.big_endian_without_leading_zero());
        let exponent = strip_zeros(key.exponent().big_endian_without_leading_zero()).to_vec();
        Ok(Self {
            spki,
            pkcs1: key.as_ref().to_vec(),
            modulus_bits: bit_len(modulus),
            modulus: modulus.to_vec(),
            exponent,
        })
    }

    /// From the modulus and public exponent (big-endian), as a PKCS#11
    /// device reports them (`CKA_MODULUS`, `CKA_PUBLIC_EXPONENT`).
    pub fn from_components(modulus: &[u8], exponent: &[u8]) -> Result<Self, KeyError> {
        use pkcs1::der::Encode;
        let malformed = |reason: String| KeyError::Malformed {
            kind: "RSA public key",
            reason,
        };
        let der = pkcs1::RsaPublicKey {
            modulus: pkcs1::UintRef::new(strip_zeros(modulus))
                .map_err(|e| malformed(e.to_string()))?,
            public_exponent: pkcs1::UintRef::new(strip_zeros(exponent))
                .map_err(|e| malformed(e.to_string()))?,
        }
        .to_der()
        .map_err(|e| malformed(e.to_string()))?;
        Self::from_der(&der)
    }

    /// Parses PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1), or raw DER.
    pub fn from_pem_or_der(data: &[u8]) -> Result<Self, KeyError> {
        let der = pem::der_of(data, &["PUBLIC KEY", "RSA PUBLIC KEY"]).map_err(|e| {
            KeyError::Malformed {
                kind: "RSA public key",
                reason: e.to_string(),
            }
        })?;
        Self::from_der(&der)
    }

    /// Canonical SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// PKCS#1 RSAPublicKey DER.
    pub fn pkcs1_der(&self) -> &[u8] {
        &self.pkcs1
    }

    /// PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki)
    }

    /// SHA-256 of the canonical SPKI.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_spki(&self.spki)
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        self.modulus_bits
    }

    /// The modulus, big-endian without leading zeros.
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    /// The public exponent, big-endian without leading zeros.
    pub fn exponent(&self) -> &[u8] {
        &self.exponent
    }

    /// The key's algorithm if its size is one symbolon accepts.
    pub fn algorithm(&self) -> Option<RsaAlgorithm> {
        RsaAlgorithm::from_bits(self.modulus_bits)
    }

    /// Refuses keys outside the policy: sizes 2048/3072/4096, e odd and at
    /// least 65537.
    pub fn check_policy(&self) -> Result<RsaAlgorithm, KeyError> {
        let alg = self.algorithm().ok_or_else(|| {
            KeyError::Refused(format!(
                "a {}-bit modulus; only 2048, 3072 and 4096 bits are accepted",
                self.modulus_bits
            ))
        })?;
        let e_ok = match self.exponent.len() {
            0 => false,
            n if n > 8 => self.exponent[n - 1] & 1 == 1,
            _ => {
                let mut buf = [0u8; 8];
                buf[8 - self.exponent.len()..].copy_from_slice(&self.exponent);
                let e = u64::from_be_bytes(buf);
                e >= MIN_PUBLIC_EXPONENT && e % 2 == 1
            }
        };
        if bit_len(&self.exponent) > MAX_PUBLIC_EXPONENT_BITS {
            return Err(policy_refusal(&self.pkcs1)
                .unwrap_or(KeyError::Refused("the public exponent is too large".into())));
        }
        if !e_ok {
            return Err(KeyError::Refused(format!(
                "public exponent 0x{} must be odd and at least 65537",
                hex::encode(&self.exponent)
            )));
        }
        Ok(alg)
    }

    /// Verifies `signature` over `digest` under `scheme`.
    pub fn verify_digest(
        &self,
        scheme: SignatureScheme,
        digest: &MessageDigest,
        signature: &[u8],
    ) -> Result<(), KeyError> {
        crate::self_test::ensure()?;
        check_digest(scheme, digest)?;
        UnparsedPublicKey::new(scheme.verification(), &self.pkcs1)
            .verify_digest(&digest.to_aws()?, signature)
            .map_err(|_| KeyError::BadSignature)
    }

    /// Verifies `signature` over `message` under `scheme`.
    pub fn verify(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), KeyError> {
        self.verify_digest(
            scheme,
            &MessageDigest::of(scheme.hash(), message),
            signature,
        )
    }

    /// Encrypts `plaintext` with RSAES-OAEP (SHA-256, MGF1-SHA-256, no label).
    pub fn encrypt_oaep(&self, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        crate::self_test::ensure()?;
        let key = PublicEncryptingKey::from_der(&self.spki)
            .and_then(|k| OaepPublicEncryptingKey::new(k).map_err(Into::into))
            .map_err(|_| KeyError::Internal("OAEP public key"))?;
        if plaintext.len() > key.max_plaintext_size(&OAEP_SHA256_MGF1SHA256) {
            return Err(KeyError::Refused(format!(
                "{} bytes is too long for OAEP-SHA256 under a {}-bit key (at most {})",
                plaintext.len(),
                self.modulus_bits,
                key.max_plaintext_size(&OAEP_SHA256_MGF1SHA256)
            )));
        }
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key
            .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
            .map_err(|_| KeyError::Internal("OAEP encryption"))?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

pub(crate) fn check_digest(
    scheme: SignatureScheme,
    digest: &MessageDigest,
) -> Result<(), KeyError> {
    if digest.algorithm() != scheme.hash() {
        return Err(KeyError::DigestMismatch {
            scheme: scheme.name(),
            expected: scheme.hash().name(),
            got: digest.algorithm().name(),
        });
    }
    Ok(())
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(&top) => (be.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// The largest public exponent accepted, in bits: e < 2^32.
pub(crate) const MAX_PUBLIC_EXPONENT_BITS: usize = 32;

/// The modulus and exponent (big-endian, no leading zeros) of an RSA
/// public key in SPKI or PKCS#1 DER, read structurally: for keys aws-lc
/// will not load, so that a weak one is named and its modulus kept.
pub fn rsa_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use pkcs1::der::Decode;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der).ok();
    let pkcs1_der = match &spki {
        Some(s) => s.subject_public_key.as_bytes()?,
        None => der,
    };
    let key: pkcs1::RsaPublicKey<pkcs1::UintRef<'_>> =
        pkcs1::RsaPublicKey::from_der(pkcs1_der).ok()?;
    Some((
        strip_zeros(key.modulus.as_bytes()).to_vec(),
        strip_zeros(key.public_exponent.as_bytes()).to_vec(),
    ))
}

/// Why a well-formed RSA key that aws-lc refuses to load is weak: an even
/// modulus, an even or huge exponent, a size far outside the policy.
fn policy_refusal(der: &[u8]) -> Option<KeyError> {
    use super::weak::{WeakClass, WeakKey};
    let (n, e) = rsa_components(der)?;
    let e_bits = bit_len(&e);
    let weak = |class, detail: String| Some(KeyError::Weak(WeakKey::new(class, detail)));
    if e_bits > MAX_PUBLIC_EXPONENT_BITS {
        return weak(
            WeakClass::Exponent,
            format!(
                "a public exponent of {e_bits} bits: symbolon accepts odd 65537 ≤ e < 2^{MAX_PUBLIC_EXPONENT_BITS}; \
                 an exponent this large is the usual sign of a private exponent small enough for Wiener's attack"
            ),
        );
    }
    if e.last().is_none_or(|b| b & 1 == 0) {
        return weak(
            WeakClass::Exponent,
            "the public exponent is even (or zero): no RSA key has one".into(),
        );
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return weak(
            WeakClass::SmallFactor,
            "the modulus is even: divisible by 2".into(),
        );
    }
    let bits = bit_len(&n);
    if !matches!(bits, 2048 | 3072 | 4096) {
        return weak(
            WeakClass::Size,
            format!("a {bits}-bit modulus; only 2048, 3072 and 4096 bits are accepted"),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length() {
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0x01]), 1);
        assert_eq!(bit_len(&[]), 0);
    }
}
