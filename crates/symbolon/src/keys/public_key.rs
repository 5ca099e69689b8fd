//! Any public key a CA certifies: RSA or elliptic-curve, read from its
//! SubjectPublicKeyInfo by the algorithm it names.

use const_oid::db::rfc5912;
use der::Decode;

use super::{EcCurve, EcPublicKey, Fingerprint, HashAlgorithm, KeyError, RsaPublicKey};
use super::{MessageDigest, SignatureScheme};

/// A subject's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA.
    Rsa(RsaPublicKey),
    /// ECDSA (P-256, P-384) or Ed25519.
    Ec(EcPublicKey),
}

/// How a signature over a message is made: what a CSR's, certificate's or
/// CRL's `signatureAlgorithm` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with a SHA-2 hash.
    Rsa(SignatureScheme),
    /// ECDSA with a SHA-2 hash (on the key's curve).
    Ecdsa(HashAlgorithm),
    /// PureEdDSA on Ed25519.
    Ed25519,
}

impl SignatureAlgorithm {
    /// The algorithm an X.509 `AlgorithmIdentifier` names, checking its
    /// parameters: NULL for RSA (RFC 4055 §5), absent for ECDSA (RFC 5758
    /// §3.2) and Ed25519 (RFC 8410 §3).
    pub fn from_x509(
        oid: &const_oid::ObjectIdentifier,
        parameters: Option<&der::asn1::Any>,
    ) -> Result<Self, KeyError> {
        let unsupported = || KeyError::Unsupported {
            kind: "signature algorithm",
            name: oid.to_string(),
            supported: "sha256/384/512WithRSAEncryption, ecdsa-with-SHA256/384/512, Ed25519",
        };
        let (alg, wants_null) = match *oid {
            rfc5912::SHA_256_WITH_RSA_ENCRYPTION => (Self::Rsa(SignatureScheme::Pkcs1Sha256), true),
            rfc5912::SHA_384_WITH_RSA_ENCRYPTION => (Self::Rsa(SignatureScheme::Pkcs1Sha384), true),
            rfc5912::SHA_512_WITH_RSA_ENCRYPTION => (Self::Rsa(SignatureScheme::Pkcs1Sha512), true),
            rfc5912::ECDSA_WITH_SHA_256 => (Self::Ecdsa(HashAlgorithm::Sha256), false),
            rfc5912::ECDSA_WITH_SHA_384 => (Self::Ecdsa(HashAlgorithm::Sha384), false),
            rfc5912::ECDSA_WITH_SHA_512 => (Self::Ecdsa(HashAlgorithm::Sha512), false),
            const_oid::db::rfc8410::ID_ED_25519 => (Self::Ed25519, false),
            _ => return Err(unsupported()),
        };
        let ok = match parameters {
            // RFC 4055 §5: readers accept RSA's NULL absent as well.
            None => true,
            Some(p) => wants_null && der::Tagged::tag(p) == der::Tag::Null && p.value().is_empty(),
        };
        if !ok {
            return Err(KeyError::Malformed {
                kind: "signature algorithm",
                reason: format!(
                    "{oid}: parameters must be {}",
                    if wants_null { "NULL" } else { "absent" }
                ),
            });
        }
        Ok(alg)
    }

    /// The hash it signs with (None for Ed25519, which hashes inside).
    pub fn hash(self) -> Option<HashAlgorithm> {
        match self {
            Self::Rsa(s) => Some(s.hash()),
            Self::Ecdsa(h) => Some(h),
            Self::Ed25519 => None,
        }
    }
}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo DER: rsaEncryption, id-ecPublicKey
    /// with a named curve, or id-Ed25519.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let info =
            spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| KeyError::Malformed {
                kind: "public key",
                reason: format!("not SubjectPublicKeyInfo DER: {e}"),
            })?;
        if info.algorithm.oid == rfc5912::RSA_ENCRYPTION {
            return RsaPublicKey::from_der(der).map(Self::Rsa);
        }
        EcPublicKey::from_spki_der(der).map(Self::Ec)
    }

    /// Parses SPKI DER (RSA or EC, by its algorithm) or, when it is not
    /// an SPKI, PKCS#1 `RSAPublicKey` DER; each refusal (a weak RSA key, an
    /// invalid point) is the parser's that applies.
    pub fn from_spki_or_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        if spki::SubjectPublicKeyInfoRef::from_der(der).is_ok() {
            Self::from_spki_der(der)
        } else {
            RsaPublicKey::from_der(der).map(Self::Rsa)
        }
    }

    /// Parses PEM `PUBLIC KEY` or raw SPKI DER.
    pub fn from_pem_or_der(data: &[u8]) -> Result<Self, KeyError> {
        let der = crate::pem::der_of(data, &["PUBLIC KEY"]).map_err(|e| KeyError::Malformed {
            kind: "public key",
            reason: e.to_string(),
        })?;
        Self::from_spki_der(&der)
    }

    /// Canonical SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        match self {
            Self::Rsa(k) => k.spki_der(),
            Self::Ec(k) => k.spki_der(),
        }
    }

    /// SHA-256 of the canonical SPKI: the registry's key identity.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_spki(self.spki_der())
    }

    /// PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> String {
        crate::pem::encode("PUBLIC KEY", self.spki_der())
    }

    /// The RSA key, if it is one.
    pub fn as_rsa(&self) -> Option<&RsaPublicKey> {
        match self {
            Self::Rsa(k) => Some(k),
            Self::Ec(_) => None,
        }
    }

    /// The curve, if it is an EC key.
    pub fn curve(&self) -> Option<EcCurve> {
        match self {
            Self::Rsa(_) => None,
            Self::Ec(k) => Some(k.curve()),
        }
    }

    /// Its algorithm. An RSA key of a size outside the policy shows as
    /// `rsa-2048`: such keys are refused before they reach a slot.
    pub fn algorithm(&self) -> super::KeyAlgorithm {
        match self {
            Self::Rsa(k) => {
                super::KeyAlgorithm::Rsa(k.algorithm().unwrap_or(super::RsaAlgorithm::Rsa2048))
            }
            Self::Ec(k) => super::KeyAlgorithm::Ec(k.curve()),
        }
    }

    /// What it is, as users name it (`rsa-2048`, `p256`).
    pub fn kind(&self) -> String {
        match self {
            Self::Rsa(k) => format!("rsa-{}", k.bits()),
            Self::Ec(k) => k.curve().name().to_string(),
        }
    }

    /// Verifies `signature` over `message` made with `alg`; an algorithm
    /// that does not fit the key (ECDSA under an RSA key, ECDSA with an
    /// Ed25519 key) does not verify.
    pub fn verify(
        &self,
        alg: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), KeyError> {
        match (self, alg) {
            (Self::Rsa(k), SignatureAlgorithm::Rsa(scheme)) => k.verify(scheme, message, signature),
            (Self::Ec(k), SignatureAlgorithm::Ecdsa(h)) => k.verify(Some(h), message, signature),
            (Self::Ec(k), SignatureAlgorithm::Ed25519) => k.verify(None, message, signature),
            _ => Err(KeyError::BadSignature),
        }
    }

    /// The signature algorithm a key of this kind signs answers with:
    /// PKCS#1 v1.5 with SHA-256 for RSA, ECDSA with the curve's hash,
    /// Ed25519 (an X25519 key signs nothing: `None`).
    pub fn natural_signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        match self {
            Self::Rsa(_) => Some(SignatureAlgorithm::Rsa(super::SignatureScheme::Pkcs1Sha256)),
            Self::Ec(k) if !k.curve().can_sign() => None,
            Self::Ec(k) => Some(match k.curve().natural_hash() {
                Some(h) => SignatureAlgorithm::Ecdsa(h),
                None => SignatureAlgorithm::Ed25519,
            }),
        }
    }

    /// Verifies an RSA signature over a digest (the form token signatures
    /// take); EC keys verify messages only.
    pub fn verify_digest(
        &self,
        scheme: SignatureScheme,
        digest: &MessageDigest,
        signature: &[u8],
    ) -> Result<(), KeyError> {
        match self {
            Self::Rsa(k) => k.verify_digest(scheme, digest, signature),
            Self::Ec(_) => Err(KeyError::BadSignature),
        }
    }
}

impl From<RsaPublicKey> for PublicKey {
    fn from(k: RsaPublicKey) -> Self {
        Self::Rsa(k)
    }
}

impl From<&RsaPublicKey> for PublicKey {
    fn from(k: &RsaPublicKey) -> Self {
        Self::Rsa(k.clone())
    }
}

impl From<EcPublicKey> for PublicKey {
    fn from(k: EcPublicKey) -> Self {
        Self::Ec(k)
    }
}

impl PartialEq<RsaPublicKey> for PublicKey {
    fn eq(&self, other: &RsaPublicKey) -> bool {
        self.as_rsa() == Some(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{RsaAlgorithm, RsaPrivateKey};

    #[test]
    fn dispatch_by_algorithm() {
        let rsa = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let k = PublicKey::from_spki_der(rsa.public_key().spki_der()).unwrap();
        assert_eq!(k, *rsa.public_key());
        assert_eq!(k.kind(), "rsa-2048");
        assert_eq!(k.fingerprint(), rsa.public_key().fingerprint());
        let id = crate::keys::IdentityKeyPair::generate().unwrap();
        let ec = PublicKey::from_spki_der(id.public_key().spki_der()).unwrap();
        assert_eq!(ec.curve(), Some(EcCurve::P256));
        let s = id.sign(b"m").unwrap();
        ec.verify(SignatureAlgorithm::Ecdsa(HashAlgorithm::Sha256), b"m", &s)
            .unwrap();
        assert!(ec
            .verify(
                SignatureAlgorithm::Rsa(SignatureScheme::Pkcs1Sha256),
                b"m",
                &s
            )
            .is_err());
        assert!(PublicKey::from_spki_der(b"\x30\x00").is_err());
    }

    #[test]
    fn signature_algorithm_parameters() {
        let null = der::asn1::Any::null();
        assert_eq!(
            SignatureAlgorithm::from_x509(&rfc5912::ECDSA_WITH_SHA_256, None).unwrap(),
            SignatureAlgorithm::Ecdsa(HashAlgorithm::Sha256)
        );
        assert!(SignatureAlgorithm::from_x509(&rfc5912::ECDSA_WITH_SHA_256, Some(&null)).is_err());
        assert!(
            SignatureAlgorithm::from_x509(&rfc5912::SHA_256_WITH_RSA_ENCRYPTION, Some(&null))
                .is_ok()
        );
        assert!(matches!(
            SignatureAlgorithm::from_x509(&rfc5912::SHA_1_WITH_RSA_ENCRYPTION, Some(&null)),
            Err(KeyError::Unsupported { .. })
        ));
    }
}
