//! RSA private keys, held only inside a token (or, for the instant between
//! generation and wrapping, inside an issuer's protected process).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA256_MGF1SHA256};
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use zeroize::Zeroizing;

use super::rsa_public::check_digest;
use super::{
    random_bytes, HashAlgorithm, KeyError, MessageDigest, RsaAlgorithm, RsaPublicKey,
    SignatureScheme,
};
use crate::pem;

/// An RSA private key. No `Debug`, no `Clone`, no `Serialize`, and no method
/// that returns its bytes outside this crate; its PKCS#8 copy is zeroised on
/// drop and aws-lc clears its own big numbers when freed.
pub struct RsaPrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    signing: RsaKeyPair,
    decrypting: OaepPrivateDecryptingKey,
    public: RsaPublicKey,
}

impl RsaPrivateKey {
    /// Generates a key pair (e = 65537) and runs the pairwise consistency test
    /// before returning it.
    pub fn generate(algorithm: RsaAlgorithm) -> Result<Self, KeyError> {
        crate::self_test::ensure()?;
        let pair = RsaKeyPair::generate(algorithm.key_size()).map_err(|_| KeyError::Generation)?;
        let der = pair.as_der().map_err(|_| KeyError::Generation)?;
        let pkcs8 = Zeroizing::new(der.as_ref().to_vec());
        drop(der);
        let key = Self::from_pkcs8_der(pkcs8)?;
        key.pairwise_consistency_test()?;
        Ok(key)
    }

    /// Parses an unencrypted PKCS#8 `PrivateKeyInfo` holding an RSA key and
    /// checks it against the policy. Does not run the pairwise test.
    pub(crate) fn from_pkcs8_der(pkcs8: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        crate::self_test::ensure()?;
        let signing = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| KeyError::Malformed {
            kind: "RSA private key",
            reason: e.to_string(),
        })?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(&pkcs8)
            .ok()
            .and_then(|k| OaepPrivateDecryptingKey::new(k).ok())
            .ok_or(KeyError::Internal("RSA decryption key"))?;
        let public = RsaPublicKey::from_aws(signing.public_key())?;
        public.check_policy()?;
        Ok(Self {
            pkcs8,
            signing,
            decrypting,
            public,
        })
    }

    /// Reads a private key from PEM (`PRIVATE KEY` or `RSA PRIVATE KEY`) so an
    /// issuer can bring an externally made key into a token under its
    /// authorisation. The key is checked and tested pairwise.
    pub fn import_pem(text: &[u8]) -> Result<Self, KeyError> {
        let (label, der) =
            pem::decode_secret(text, &["PRIVATE KEY", "RSA PRIVATE KEY"]).map_err(|e| {
                KeyError::Malformed {
                    kind: "RSA private key",
                    reason: e.to_string(),
                }
            })?;
        let key = if label == "RSA PRIVATE KEY" {
            Self::from_pkcs1_der(&der)?
        } else {
            Self::from_pkcs8_der(der)?
        };
        key.pairwise_consistency_test()?;
        Ok(key)
    }

    /// From PKCS#1 `RSAPrivateKey` DER, through aws-lc, keeping every copy
    /// zeroising (a composed joint key enters this way).
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_der(der).map_err(|e| KeyError::Malformed {
            kind: "RSA private key",
            reason: e.to_string(),
        })?;
        let doc = pair
            .as_der()
            .map_err(|_| KeyError::Internal("PKCS#8 encoding"))?;
        Self::from_pkcs8_der(Zeroizing::new(doc.as_ref().to_vec()))
    }

    /// The public half.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    /// The key's size.
    pub fn algorithm(&self) -> RsaAlgorithm {
        // from_pkcs8_der refused every size without an RsaAlgorithm.
        self.public.algorithm().unwrap_or(RsaAlgorithm::Rsa2048)
    }

    /// Signs a digest with `scheme`.
    pub fn sign_digest(
        &self,
        scheme: SignatureScheme,
        digest: &MessageDigest,
    ) -> Result<Vec<u8>, KeyError> {
        crate::self_test::ensure()?;
        check_digest(scheme, digest)?;
        let mut sig = vec![0u8; self.signing.public_modulus_len()];
        self.signing
            .sign_digest(scheme.signing(), &digest.to_aws()?, &mut sig)
            .map_err(|_| KeyError::Internal("RSA signing"))?;
        Ok(sig)
    }

    /// Decrypts an RSAES-OAEP (SHA-256) ciphertext. Every failure is the same
    /// [`KeyError::DecryptionFailed`].
    pub fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        crate::self_test::ensure()?;
        let mut out = Zeroizing::new(vec![0u8; self.decrypting.min_output_size()]);
        let n = self
            .decrypting
            .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
            .map_err(|_| KeyError::DecryptionFailed)?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// The weak-key checks (docs/weak-keys.md; the published test keys are
    /// the issuer's and the CA's to refuse), then sign/verify and
    /// encrypt/decrypt a fresh random value (FIPS 140-3 pairwise consistency
    /// test): run on every generated, accepted, composed or recovered key,
    /// never on a key merely read back from a token's sealed state.
    pub fn pairwise_consistency_test(&self) -> Result<(), KeyError> {
        super::weak::check_generated_key(&self.public, super::weak::Effort::Standard)
            .map_err(KeyError::Weak)?;
        let mut challenge = Zeroizing::new([0u8; 32]);
        random_bytes(challenge.as_mut())?;
        let digest = MessageDigest::of(HashAlgorithm::Sha256, challenge.as_ref());
        for scheme in [SignatureScheme::Pkcs1Sha256, SignatureScheme::PssSha256] {
            let sig = self
                .sign_digest(scheme, &digest)
                .map_err(|_| KeyError::PairwiseConsistency)?;
            self.public
                .verify_digest(scheme, &digest, &sig)
                .map_err(|_| KeyError::PairwiseConsistency)?;
        }
        let ct = self
            .public
            .encrypt_oaep(challenge.as_ref())
            .map_err(|_| KeyError::PairwiseConsistency)?;
        let pt = self
            .decrypt_oaep(&ct)
            .map_err(|_| KeyError::PairwiseConsistency)?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(&pt, challenge.as_ref()).is_err() {
            return Err(KeyError::PairwiseConsistency);
        }
        Ok(())
    }

    /// The PKCS#8 encoding, for sealing into token state and for wrapping to a
    /// transport key. Crate-private: no caller outside can read it.
    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_decrypts() {
        let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        assert_eq!(key.public_key().bits(), 2048);
        assert_eq!(key.public_key().exponent(), &[1, 0, 1]);
        let d = MessageDigest::of(HashAlgorithm::Sha384, b"m");
        for scheme in [SignatureScheme::Pkcs1Sha384, SignatureScheme::PssSha384] {
            let sig = key.sign_digest(scheme, &d).unwrap();
            key.public_key().verify(scheme, b"m", &sig).unwrap();
            assert_eq!(
                key.public_key().verify(scheme, b"other", &sig),
                Err(KeyError::BadSignature)
            );
        }
        assert!(matches!(
            key.sign_digest(SignatureScheme::Pkcs1Sha256, &d),
            Err(KeyError::DigestMismatch { .. })
        ));
        let ct = key.public_key().encrypt_oaep(b"secret").unwrap();
        assert_eq!(key.decrypt_oaep(&ct).unwrap().as_slice(), b"secret");
        let mut bad = ct.clone();
        bad[10] ^= 1;
        assert_eq!(
            key.decrypt_oaep(&bad).map(|_| ()),
            Err(KeyError::DecryptionFailed)
        );
    }
}
