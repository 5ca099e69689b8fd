//! Elliptic-curve private keys for token slots (docs/ec-keys.md): ECDSA on
//! P-256 and P-384, Ed25519, and key agreement (ECDH on P-256 and P-384,
//! X25519) for content decryption. Generated, held and used through
//! aws-lc-rs; the PKCS#8 encoding stays inside the crate (sealing, escrow),
//! zeroised on drop.

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsBigEndian, AsDer, Curve25519SeedBin, PublicKeyX509Der};
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _,
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
};
use zeroize::Zeroizing;

use super::{EcCurve, EcPublicKey, KeyError, MessageDigest};

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    X25519(agreement::PrivateKey),
}

/// An EC private key. No `Debug`, `Clone` or `Serialize`.
pub struct EcPrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Pair,
    public: EcPublicKey,
}

/// What an EC key signs: ECDSA signs a digest made with its curve's hash
/// (SHA-256 on P-256, SHA-384 on P-384), Ed25519 the message itself
/// (PureEdDSA hashes inside, RFC 8032).
#[derive(Debug, Clone, Copy)]
pub enum EcSigningInput<'a> {
    /// A digest, for ECDSA.
    Digest(&'a MessageDigest),
    /// The message, for Ed25519.
    Message(&'a [u8]),
}

impl EcSigningInput<'_> {
    /// Whether this input fits a key on `curve`: a digest of the curve's
    /// own hash for ECDSA, a message for Ed25519. Every signer of EC keys
    /// (the soft token, a PKCS#11 device) refuses the rest the same way.
    pub fn check_for(&self, curve: EcCurve) -> Result<(), KeyError> {
        if !curve.can_sign() {
            return Err(KeyError::Unsupported {
                kind: "operation for this key",
                name: format!("signing with an {} key", curve.standard_name()),
                supported: "X25519 keys only agree on keys (content decryption); sign with p256, p384 or ed25519",
            });
        }
        match (curve.natural_hash(), self) {
            (Some(h), Self::Digest(d)) if d.algorithm() == h => Ok(()),
            (None, Self::Message(_)) => Ok(()),
            (Some(_), Self::Digest(d)) => Err(KeyError::Unsupported {
                kind: "hash for this curve",
                name: format!("{curve} with {}", d.algorithm().name()),
                supported: "ecdsa-sha256 on p256, ecdsa-sha384 on p384",
            }),
            (Some(_), Self::Message(_)) => Err(KeyError::Unsupported {
                kind: "signature input",
                name: "a message for an ECDSA key".into(),
                supported: "ECDSA keys sign digests (ecdsa-sha256, ecdsa-sha384)",
            }),
            (None, Self::Digest(_)) => Err(KeyError::Unsupported {
                kind: "signature input",
                name: "a digest for an Ed25519 key".into(),
                supported: "Ed25519 keys sign the message itself (scheme ed25519)",
            }),
        }
    }
}

fn ecdsa_algorithm(curve: EcCurve) -> Option<&'static EcdsaSigningAlgorithm> {
    match curve {
        EcCurve::P256 => Some(&ECDSA_P256_SHA256_ASN1_SIGNING),
        EcCurve::P384 => Some(&ECDSA_P384_SHA384_ASN1_SIGNING),
        EcCurve::Ed25519 | EcCurve::X25519 => None,
    }
}

/// The PKCS#8 `PrivateKeyInfo` of an X25519 key (RFC 8410 §7: the
/// `CurvePrivateKey` OCTET STRING inside the `privateKey` OCTET STRING),
/// which aws-lc-rs does not write.
fn x25519_pkcs8(seed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use der::Encode;
    let mut inner = Zeroizing::new(vec![0x04, 0x20]);
    inner.extend_from_slice(seed);
    let info = pkcs8::PrivateKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: const_oid::db::rfc8410::ID_X_25519,
            parameters: None,
        },
        private_key: der::asn1::OctetStringRef::new(&inner)
            .map_err(|_| KeyError::Internal("X25519 PKCS#8 encoding"))?,
        public_key: None,
    };
    info.to_der()
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Internal("X25519 PKCS#8 encoding"))
}

/// The 32-byte private value inside an X25519 PKCS#8.
fn x25519_seed(pkcs8: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    use der::Decode;
    let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8)
        .map_err(|e| malformed(format!("not PKCS#8 DER: {e}")))?;
    if info.algorithm.parameters.is_some() {
        return Err(malformed(
            "X25519 keys carry no algorithm parameters (RFC 8410 §3)",
        ));
    }
    match info.private_key.as_bytes() {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => {
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(rest);
            Ok(seed)
        }
        _ => Err(malformed(
            "an X25519 private key is an OCTET STRING of 32 bytes (RFC 8410 §7)",
        )),
    }
}

fn malformed(reason: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        kind: "EC private key",
        reason: reason.into(),
    }
}

/// Why aws-lc would not load a PKCS#8 key on `curve`.
/// The SubjectPublicKeyInfo DER of an aws-lc public key.
pub(super) fn spki_der_of(
    key: &impl AsDer<PublicKeyX509Der<'static>>,
) -> Result<Vec<u8>, KeyError> {
    Ok(key
        .as_der()
        .map_err(|_| KeyError::Internal("SPKI encoding"))?
        .as_ref()
        .to_vec())
}

fn rejected(curve: EcCurve, e: aws_lc_rs::error::KeyRejected) -> KeyError {
    KeyError::Malformed {
        kind: "EC private key",
        reason: format!(
            "not a valid {} PKCS#8 key ({e}): a private value out of range, or an embedded public key that is not the private key's, is refused",
            curve.standard_name()
        ),
    }
}

impl EcPrivateKey {
    /// Generates a key on `curve` and runs the pairwise consistency test.
    pub fn generate(curve: EcCurve) -> Result<Self, KeyError> {
        crate::self_test::ensure()?;
        let pkcs8 = match ecdsa_algorithm(curve) {
            Some(alg) => {
                let pair = EcdsaKeyPair::generate(alg).map_err(|_| KeyError::Generation)?;
                let doc = pair.to_pkcs8v1().map_err(|_| KeyError::Generation)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            None if curve == EcCurve::X25519 => {
                let key = agreement::PrivateKey::generate(&agreement::X25519)
                    .map_err(|_| KeyError::Generation)?;
                let seed: Curve25519SeedBin<'_> =
                    key.as_be_bytes().map_err(|_| KeyError::Generation)?;
                x25519_pkcs8(seed.as_ref())?
            }
            None => {
                let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Generation)?;
                let doc = pair.to_pkcs8().map_err(|_| KeyError::Generation)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
        };
        let key = Self::from_pkcs8_der(pkcs8)?;
        key.pairwise_consistency_test()?;
        Ok(key)
    }

    /// Parses an unencrypted PKCS#8 holding a P-256, P-384, Ed25519 or
    /// X25519 key (RFC 5915 inside RFC 5208, or RFC 8410). Does not run the
    /// pairwise test.
    pub(crate) fn from_pkcs8_der(pkcs8: Zeroizing<Vec<u8>>) -> Result<Self, KeyError> {
        crate::self_test::ensure()?;
        let curve = pkcs8_curve(&pkcs8)?;
        if curve == EcCurve::X25519 {
            let seed = x25519_seed(&pkcs8)?;
            let key = agreement::PrivateKey::from_private_key(&agreement::X25519, seed.as_ref())
                .map_err(|e| rejected(curve, e))?;
            let point = key
                .compute_public_key()
                .map_err(|_| KeyError::Internal("X25519 public key"))?;
            let public = EcPublicKey::from_point(curve, point.as_ref())?;
            return Ok(Self {
                pkcs8,
                pair: Pair::X25519(key),
                public,
            });
        }
        let (pair, spki) = match ecdsa_algorithm(curve) {
            Some(alg) => {
                let pair = EcdsaKeyPair::from_pkcs8(alg, &pkcs8).map_err(|e| rejected(curve, e))?;
                let spki = spki_der_of(pair.public_key())?;
                (Pair::Ecdsa(pair), spki)
            }
            None => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                    .map_err(|e| rejected(curve, e))?;
                let spki = spki_der_of(pair.public_key())?;
                (Pair::Ed25519(pair), spki)
            }
        };
        let public = EcPublicKey::from_spki_der(&spki)?;
        Ok(Self {
            pkcs8,
            pair,
            public,
        })
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8, as `openssl genpkey` writes it)
    /// and tests it pairwise.
    pub fn import_pem(text: &[u8]) -> Result<Self, KeyError> {
        let (_, der) = crate::pem::decode_secret(text, &["PRIVATE KEY"])
            .map_err(|e| malformed(e.to_string()))?;
        let key = Self::from_pkcs8_der(der)?;
        key.pairwise_consistency_test()?;
        Ok(key)
    }

    /// The curve.
    pub fn curve(&self) -> EcCurve {
        self.public.curve()
    }

    /// The public half.
    pub fn public_key(&self) -> &EcPublicKey {
        &self.public
    }

    /// Signs: ECDSA over a digest of the curve's hash (a DER
    /// `Ecdsa-Sig-Value`, as OpenSSL writes it), Ed25519 over a message.
    pub fn sign(&self, input: EcSigningInput<'_>) -> Result<Vec<u8>, KeyError> {
        crate::self_test::ensure()?;
        input.check_for(self.curve())?;
        match (&self.pair, input) {
            (Pair::Ecdsa(pair), EcSigningInput::Digest(d)) => pair
                .sign_digest(&d.to_aws()?)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Internal("ECDSA signing")),
            (Pair::Ed25519(pair), EcSigningInput::Message(m)) => Ok(pair.sign(m).as_ref().to_vec()),
            // check_for refused every other pairing.
            _ => Err(KeyError::Internal("EC signing input")),
        }
    }

    /// Diffie-Hellman with `peer` (ECDH on P-256/P-384, X25519): the shared
    /// secret, the x-coordinate (SEC 1 §3.3.1) or the 32-byte u-coordinate
    /// (RFC 7748 §6.1). `peer` was validated when it was parsed (on the
    /// curve, not of small order), so the secret is never the identity's.
    pub fn agree(&self, peer: &EcPublicKey) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        crate::self_test::ensure()?;
        let curve = self.curve();
        if !curve.can_agree() {
            return Err(KeyError::Unsupported {
                kind: "operation for this key",
                name: format!("key agreement with an {} key", curve.standard_name()),
                supported: "key agreement with p256, p384 or x25519 keys",
            });
        }
        if peer.curve() != curve {
            return Err(KeyError::UnsupportedKey(format!(
                "an {} peer key for an {} key: both must be on one curve",
                peer.curve().standard_name(),
                curve.standard_name()
            )));
        }
        let (alg, ecdh_key);
        let key = match (&self.pair, curve) {
            (Pair::X25519(k), _) => {
                alg = &agreement::X25519;
                k
            }
            (_, c) => {
                alg = if c == EcCurve::P384 {
                    &agreement::ECDH_P384
                } else {
                    &agreement::ECDH_P256
                };
                ecdh_key = agreement::PrivateKey::from_private_key_der(alg, &self.pkcs8)
                    .map_err(|e| rejected(curve, e))?;
                &ecdh_key
            }
        };
        agreement::agree(
            key,
            agreement::UnparsedPublicKey::new(alg, peer.point()),
            KeyError::DecryptionFailed,
            |secret| Ok(Zeroizing::new(secret.to_vec())),
        )
    }

    /// Signs a fresh random value and verifies it with the public key, or
    /// for an X25519 key agrees with a fresh key both ways and compares
    /// (FIPS 140-3 pairwise consistency test): on every generated, accepted
    /// or recovered key.
    pub fn pairwise_consistency_test(&self) -> Result<(), KeyError> {
        if !self.curve().can_sign() {
            let other = Self::from_pkcs8_der({
                let key = agreement::PrivateKey::generate(&agreement::X25519)
                    .map_err(|_| KeyError::Generation)?;
                let seed: Curve25519SeedBin<'_> =
                    key.as_be_bytes().map_err(|_| KeyError::Generation)?;
                x25519_pkcs8(seed.as_ref())?
            })?;
            let ours = self
                .agree(other.public_key())
                .map_err(|_| KeyError::PairwiseConsistency)?;
            let theirs = other
                .agree(self.public_key())
                .map_err(|_| KeyError::PairwiseConsistency)?;
            use subtle::ConstantTimeEq;
            return if bool::from(ours.as_slice().ct_eq(theirs.as_slice())) {
                Ok(())
            } else {
                Err(KeyError::PairwiseConsistency)
            };
        }
        let mut challenge = Zeroizing::new([0u8; 32]);
        super::random_bytes(challenge.as_mut())?;
        let (sig, hash) = match self.curve().natural_hash() {
            Some(h) => {
                let d = MessageDigest::of(h, challenge.as_ref());
                (self.sign(EcSigningInput::Digest(&d)), Some(h))
            }
            None => (self.sign(EcSigningInput::Message(challenge.as_ref())), None),
        };
        let sig = sig.map_err(|_| KeyError::PairwiseConsistency)?;
        self.public
            .verify(hash, challenge.as_ref(), &sig)
            .map_err(|_| KeyError::PairwiseConsistency)
    }

    /// The PKCS#8 encoding, for sealing into token state and for escrow.
    /// Crate-private.
    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Signs with an ECDSA key pair's own RNG path (for tests of the DER
    /// form against OpenSSL, which hashes itself).
    #[cfg(test)]
    fn sign_message_ecdsa(&self, message: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ecdsa(p) => p
                .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
            Pair::Ed25519(p) => p.sign(message).as_ref().to_vec(),
            Pair::X25519(_) => unreachable!("X25519 keys do not sign"),
        }
    }
}

/// The curve a PKCS#8 `PrivateKeyInfo` names, refusing others.
fn pkcs8_curve(pkcs8: &[u8]) -> Result<EcCurve, KeyError> {
    use der::Decode;
    let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8)
        .map_err(|e| malformed(format!("not PKCS#8 DER: {e}")))?;
    let oid = info.algorithm.oid;
    if oid == const_oid::db::rfc8410::ID_ED_25519 {
        return Ok(EcCurve::Ed25519);
    }
    if oid == const_oid::db::rfc8410::ID_X_25519 {
        return Ok(EcCurve::X25519);
    }
    if oid != const_oid::db::rfc5912::ID_EC_PUBLIC_KEY {
        return Err(KeyError::UnsupportedKey(format!(
            "private key algorithm {oid}; supported EC keys: p256, p384, ed25519, x25519"
        )));
    }
    let named = info
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok())
        .ok_or_else(|| {
            KeyError::UnsupportedKey(
                "an EC private key without a named curve (explicit parameters are not accepted)"
                    .into(),
            )
        })?;
    match named {
        const_oid::db::rfc5912::SECP_256_R_1 => Ok(EcCurve::P256),
        const_oid::db::rfc5912::SECP_384_R_1 => Ok(EcCurve::P384),
        other => Err(KeyError::UnsupportedKey(format!(
            "curve {other}; supported: p256, p384, ed25519, x25519"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::HashAlgorithm;

    #[test]
    fn each_curve_generates_signs_and_reads_back() {
        for curve in EcCurve::SIGNING {
            let key = EcPrivateKey::generate(curve).unwrap();
            assert_eq!(key.curve(), curve);
            let again =
                EcPrivateKey::from_pkcs8_der(Zeroizing::new(key.pkcs8_der().to_vec())).unwrap();
            assert_eq!(again.public_key(), key.public_key());
            match curve.natural_hash() {
                Some(h) => {
                    let d = MessageDigest::of(h, b"m");
                    let sig = key.sign(EcSigningInput::Digest(&d)).unwrap();
                    key.public_key().verify(Some(h), b"m", &sig).unwrap();
                    assert!(key.sign(EcSigningInput::Message(b"m")).is_err());
                    let other = if h == HashAlgorithm::Sha256 {
                        HashAlgorithm::Sha384
                    } else {
                        HashAlgorithm::Sha256
                    };
                    assert!(matches!(
                        key.sign(EcSigningInput::Digest(&MessageDigest::of(other, b"m"))),
                        Err(KeyError::Unsupported { .. })
                    ));
                    let s2 = key.sign_message_ecdsa(b"x");
                    key.public_key().verify(Some(h), b"x", &s2).unwrap();
                }
                None => {
                    let sig = key.sign(EcSigningInput::Message(b"m")).unwrap();
                    key.public_key().verify(None, b"m", &sig).unwrap();
                    let d = MessageDigest::of(HashAlgorithm::Sha256, b"m");
                    assert!(key.sign(EcSigningInput::Digest(&d)).is_err());
                }
            }
        }
    }
}
