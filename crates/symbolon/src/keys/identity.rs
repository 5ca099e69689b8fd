//! ECDSA P-256 identity keys: a token's device identity (attestation) and an
//! issuer's authorisation key. P-256 because every PKCS#11 device and HSM
//! offers it and its keys are generated in microseconds.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, ParsedPublicKey, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use zeroize::Zeroizing;

use super::{Fingerprint, KeyError};
use crate::pem;

/// An identity key pair. No `Debug`, `Clone` or `Serialize`.
pub struct IdentityKeyPair {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: EcdsaKeyPair,
    public: IdentityPublicKey,
}

impl IdentityKeyPair {
    /// A new key pair, tested pairwise before it is returned.
    pub fn generate() -> Result<Self, KeyError> {
        crate::self_test::ensure()?;
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| KeyError::Generation)?;
        let doc = pair.to_pkcs8v1().map_err(|_| KeyError::Generation)?;
        let key = Self::from_pkcs8_der(Zeroizing::new(doc.as_ref().to_vec()))?;
        key.pairwise_consistency_test()?;
        Ok(key)
    }

    pub(crate) fn from_pkcs8_der(pkcs8: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        crate::self_test::ensure()?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8).map_err(|e| {
                KeyError::Malformed {
                    kind: "P-256 private key",
                    reason: e.to_string(),
                }
            })?;
        let spki = super::ec_private::spki_der_of(pair.public_key())?;
        Ok(Self {
            pkcs8,
            pair,
            public: IdentityPublicKey { spki },
        })
    }

    /// Signs `message` (ECDSA P-256 SHA-256, ASN.1 DER signature).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        crate::self_test::ensure()?;
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| KeyError::Internal("ECDSA signing"))
    }

    /// The public half.
    pub fn public_key(&self) -> &IdentityPublicKey {
        &self.public
    }

    fn pairwise_consistency_test(&self) -> Result<(), KeyError> {
        let mut challenge = [0u8; 32];
        super::random_bytes(&mut challenge)?;
        let sig = self.sign(&challenge)?;
        self.public
            .verify(&challenge, &sig)
            .map_err(|_| KeyError::PairwiseConsistency)
    }

    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }
}

/// The public half of an identity key, as SubjectPublicKeyInfo DER.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdentityPublicKey {
    spki: Vec<u8>,
}

impl std::fmt::Debug for IdentityPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdentityPublicKey({})", self.fingerprint())
    }
}

impl IdentityPublicKey {
    /// Parses a P-256 SubjectPublicKeyInfo DER, re-encoding it canonically.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        // aws-lc also takes a bare SEC1 point; identities travel as SPKI only.
        if der.first() != Some(&0x30) {
            return Err(KeyError::Malformed {
                kind: "P-256 public key",
                reason: "expected SubjectPublicKeyInfo DER".into(),
            });
        }
        ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).map_err(|e| KeyError::Malformed {
            kind: "P-256 public key",
            reason: e.to_string(),
        })?;
        Ok(Self { spki: der.to_vec() })
    }

    /// Parses PEM `PUBLIC KEY` or raw SPKI DER.
    pub fn from_pem_or_der(data: &[u8]) -> Result<Self, KeyError> {
        let der = pem::der_of(data, &["PUBLIC KEY"]).map_err(|e| KeyError::Malformed {
            kind: "P-256 public key",
            reason: e.to_string(),
        })?;
        Self::from_spki_der(&der)
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki)
    }

    /// SHA-256 of the SPKI.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_spki(&self.spki)
    }

    /// Verifies an ECDSA P-256 SHA-256 signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        crate::self_test::ensure()?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.spki)
            .verify(message, signature)
            .map_err(|_| KeyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_encodings() {
        let k = IdentityKeyPair::generate().unwrap();
        let sig = k.sign(b"hello").unwrap();
        k.public_key().verify(b"hello", &sig).unwrap();
        assert_eq!(
            k.public_key().verify(b"hellO", &sig),
            Err(KeyError::BadSignature)
        );
        let again = IdentityPublicKey::from_pem_or_der(k.public_key().to_pem().as_bytes()).unwrap();
        assert_eq!(&again, k.public_key());
        assert!(IdentityPublicKey::from_spki_der(b"\x30\x03\x02\x01\x00").is_err());
    }
}
