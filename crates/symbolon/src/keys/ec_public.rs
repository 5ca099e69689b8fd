//! Elliptic-curve public keys (ECDSA P-256, P-384 and Ed25519 for signing,
//! X25519 for key agreement): parsing a SubjectPublicKeyInfo strictly, the
//! checks a CA makes on such a key, and signature verification
//! (docs/ec-keys.md).
//!
//! Only named curves are read (RFC 5480 §2.1.1: `namedCurve`; explicit
//! parameters and `implicitCurve` are refused). The point is decoded and
//! validated (on the curve, not the identity, for Ed25519 canonical and not
//! of small order), then held in one canonical form: the uncompressed SEC1
//! point for ECDSA keys, so that the compressed and uncompressed encodings
//! of one point have one SPKI and one fingerprint, and are one key to the
//! registry's duplicate check.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use const_oid::db::{rfc5912, rfc8410};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode, Tag, Tagged};
use serde::{Deserialize, Serialize};

use super::weak::{WeakClass, WeakKey};
use super::{Fingerprint, HashAlgorithm, KeyError};
use crate::pem;

/// The elliptic curves symbolon certifies and holds keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EcCurve {
    /// NIST P-256 (secp256r1), ECDSA.
    P256,
    /// NIST P-384 (secp384r1), ECDSA.
    P384,
    /// Edwards25519, EdDSA (RFC 8032 PureEdDSA).
    Ed25519,
    /// Curve25519 in Montgomery form, key agreement only (RFC 7748): a
    /// content decryption key, never a signing or certified key.
    X25519,
}

impl EcCurve {
    /// The curves whose keys sign (and so can be certified), in CLI order.
    pub const SIGNING: [Self; 3] = [Self::P256, Self::P384, Self::Ed25519];

    /// The curves whose keys agree on keys (ECDH, X25519): the content
    /// decryption keys of HPKE sealing (docs/content-format.md §7).
    pub const AGREEMENT: [Self; 3] = [Self::P256, Self::P384, Self::X25519];

    /// The CLI spelling (`p256`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Ed25519 => "ed25519",
            Self::X25519 => "x25519",
        }
    }

    /// The name standards use (`P-256`).
    pub const fn standard_name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::Ed25519 => "Ed25519",
            Self::X25519 => "X25519",
        }
    }

    /// Whether keys on this curve sign with ECDSA (and a separate hash).
    pub const fn is_ecdsa(self) -> bool {
        matches!(self, Self::P256 | Self::P384)
    }

    /// Whether keys on this curve sign (everything but X25519).
    pub const fn can_sign(self) -> bool {
        !matches!(self, Self::X25519)
    }

    /// Whether keys on this curve agree on keys (ECDH on P-256 and
    /// P-384, X25519); Ed25519 keys only sign.
    pub const fn can_agree(self) -> bool {
        !matches!(self, Self::Ed25519)
    }

    /// The hash ECDSA on this curve pairs with (CA/B Forum BR §7.1.3.2.2),
    /// and the one `token sign` uses by default.
    pub const fn natural_hash(self) -> Option<HashAlgorithm> {
        match self {
            Self::P256 => Some(HashAlgorithm::Sha256),
            Self::P384 => Some(HashAlgorithm::Sha384),
            Self::Ed25519 | Self::X25519 => None,
        }
    }

    /// The length of a coordinate (a field element), in bytes: half a
    /// fixed-size ECDSA signature (r ‖ s).
    pub const fn field_len(self) -> usize {
        match self {
            Self::P256 | Self::Ed25519 | Self::X25519 => 32,
            Self::P384 => 48,
        }
    }

    fn ecdsa_verification(self, hash: HashAlgorithm) -> &'static dyn VerificationAlgorithm {
        match (self, hash) {
            (Self::P384, HashAlgorithm::Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
            (Self::P384, HashAlgorithm::Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
            (Self::P384, HashAlgorithm::Sha512) => &sig::ECDSA_P384_SHA512_ASN1,
            (_, HashAlgorithm::Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
            (_, HashAlgorithm::Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
            (_, HashAlgorithm::Sha512) => &sig::ECDSA_P256_SHA512_ASN1,
        }
    }
}

impl fmt::Display for EcCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EcCurve {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "p256" | "secp256r1" | "prime256v1" => Ok(Self::P256),
            "p384" | "secp384r1" => Ok(Self::P384),
            "ed25519" => Ok(Self::Ed25519),
            "x25519" => Ok(Self::X25519),
            _ => Err(KeyError::Unsupported {
                kind: "elliptic curve",
                name: s.to_string(),
                supported: "p256, p384, ed25519, x25519",
            }),
        }
    }
}

/// secp256k1 (SEC 2), named in refusals; const-oid's database lacks it.
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// An EC public key, held as its canonical SubjectPublicKeyInfo DER.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EcPublicKey {
    curve: EcCurve,
    /// The canonical point: uncompressed SEC1 (P-256, P-384) or the
    /// 32-byte encoding (Ed25519, X25519).
    point: Vec<u8>,
    spki: Vec<u8>,
}

impl fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcPublicKey")
            .field("curve", &self.curve)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

fn malformed(reason: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        kind: "EC public key",
        reason: reason.into(),
    }
}

fn invalid_point(reason: String) -> KeyError {
    KeyError::Weak(WeakKey::new(WeakClass::InvalidPoint, reason))
}

impl EcPublicKey {
    /// Parses a SubjectPublicKeyInfo DER holding an id-ecPublicKey (named
    /// curve P-256 or P-384), id-Ed25519 or id-X25519 key, validating its
    /// point. An X25519 key cannot sign: certification refuses it
    /// ([`EcPublicKey::require_signing`]).
    /// Refusals: [`KeyError::UnsupportedKey`] for other curves and for
    /// explicit parameters, [`KeyError::Weak`] (`invalid-point`) for a point
    /// that is not a usable public key, [`KeyError::Malformed`] otherwise.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| malformed(format!("not SubjectPublicKeyInfo DER: {e}")))?;
        let bits: BitStringRef<'_> = info.subject_public_key;
        let point = bits
            .as_bytes()
            .ok_or_else(|| malformed("the public key BIT STRING has unused bits"))?;
        let curve = curve_of(&info.algorithm.oid, info.algorithm.parameters.as_ref())?;
        Self::from_point(curve, point)
    }

    /// From a point's encoding on `curve`: SEC1 uncompressed or compressed
    /// for ECDSA curves (as PKCS#11's `CKA_EC_POINT` holds it, without the
    /// OCTET STRING), the 32-byte encoding for Ed25519.
    pub fn from_point(curve: EcCurve, point: &[u8]) -> Result<Self, KeyError> {
        let canonical = match curve {
            EcCurve::P256 => sec1_canonical::<p256::NistP256>(curve, point)?,
            EcCurve::P384 => sec1_canonical::<p384::NistP384>(curve, point)?,
            EcCurve::Ed25519 => ed25519_canonical(point)?,
            EcCurve::X25519 => x25519_canonical(point)?,
        };
        let spki = encode_spki(curve, &canonical)?;
        Ok(Self {
            curve,
            point: canonical,
            spki,
        })
    }

    /// Parses PEM `PUBLIC KEY` or raw SPKI DER.
    pub fn from_pem_or_der(data: &[u8]) -> Result<Self, KeyError> {
        Self::from_spki_der(
            &pem::der_of(data, &["PUBLIC KEY"]).map_err(|e| malformed(e.to_string()))?,
        )
    }

    /// The curve.
    pub fn curve(&self) -> EcCurve {
        self.curve
    }

    /// Refuses a key that cannot sign (X25519) where a signing key is
    /// needed: a CSR's proof of possession, a certificate, a reservation.
    pub fn require_signing(&self) -> Result<(), KeyError> {
        if self.curve.can_sign() {
            return Ok(());
        }
        Err(KeyError::UnsupportedKey(format!(
            "an {} key agrees on keys and cannot sign; certification needs a signing key (p256, p384, ed25519)",
            self.curve.standard_name()
        )))
    }

    /// The canonical point (uncompressed SEC1, or Ed25519's 32 bytes).
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    /// Canonical SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// PEM `PUBLIC KEY`.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki)
    }

    /// SHA-256 of the canonical SPKI.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_spki(&self.spki)
    }

    /// Verifies a signature over `message`: ECDSA with `hash` (the
    /// signature DER `Ecdsa-Sig-Value`, as OpenSSL writes it), or Ed25519
    /// (`hash` must be `None`: PureEdDSA hashes inside).
    pub fn verify(
        &self,
        hash: Option<HashAlgorithm>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), KeyError> {
        crate::self_test::ensure()?;
        let alg: &'static dyn VerificationAlgorithm = match (self.curve, hash) {
            (EcCurve::Ed25519, None) => &sig::ED25519,
            (c, Some(h)) if c.is_ecdsa() => c.ecdsa_verification(h),
            _ => return Err(KeyError::BadSignature),
        };
        UnparsedPublicKey::new(alg, &self.point)
            .verify(message, signature)
            .map_err(|_| KeyError::BadSignature)
    }
}

/// An OID in its one DER encoding: sub-identifiers padded with 0x80 bytes
/// decode to the same arcs but compare unequal to the named constants, and
/// would be refused as an unknown algorithm or curve (X.690 §8.19.2).
fn require_minimal(oid: &ObjectIdentifier, what: &str) -> Result<(), KeyError> {
    let minimal = ObjectIdentifier::new(&oid.to_string())
        .map_err(|_| malformed(format!("{what}: not a valid OBJECT IDENTIFIER")))?;
    if &minimal != oid {
        return Err(malformed(format!(
            "{what} {oid} is not DER-encoded (a sub-identifier has leading 0x80 bytes)"
        )));
    }
    Ok(())
}

/// The curve an SPKI's algorithm names, refusing what is not a named,
/// supported curve.
fn curve_of(oid: &ObjectIdentifier, params: Option<&AnyRef<'_>>) -> Result<EcCurve, KeyError> {
    let unsupported = |m: String| KeyError::UnsupportedKey(m);
    require_minimal(oid, "public key algorithm")?;
    if *oid == rfc8410::ID_ED_25519 {
        // RFC 8410 §3: the parameters MUST be absent.
        if params.is_some() {
            return Err(malformed(
                "Ed25519 keys carry no algorithm parameters (RFC 8410 §3)",
            ));
        }
        return Ok(EcCurve::Ed25519);
    }
    if *oid == rfc8410::ID_X_25519 {
        // RFC 8410 §3: the parameters MUST be absent.
        if params.is_some() {
            return Err(malformed(
                "X25519 keys carry no algorithm parameters (RFC 8410 §3)",
            ));
        }
        return Ok(EcCurve::X25519);
    }
    if *oid == rfc8410::ID_X_448 {
        return Err(unsupported(
            "X448 keys are not supported; supported: p256, p384, ed25519, x25519".into(),
        ));
    }
    if *oid == rfc8410::ID_ED_448 {
        return Err(unsupported(
            "Ed448 keys are not supported; supported: p256, p384, ed25519, x25519 (key agreement)"
                .into(),
        ));
    }
    if *oid != rfc5912::ID_EC_PUBLIC_KEY {
        return Err(unsupported(format!(
            "public key algorithm {oid} is not supported; supported: RSA, EC (p256, p384), ed25519"
        )));
    }
    let params = params.ok_or_else(|| {
        unsupported("an EC key without curve parameters (implicitCurve); only named curves are accepted (RFC 5480 §2.1.1)".into())
    })?;
    match params.tag() {
        Tag::ObjectIdentifier => {}
        Tag::Sequence => {
            return Err(unsupported(
                "an EC key with explicit curve parameters (specifiedCurve); only named curves are accepted (RFC 5480 §2.1.1), so a key cannot bring a curve of its own".into(),
            ))
        }
        Tag::Null => {
            return Err(unsupported(
                "an EC key with implicitCurve (NULL) parameters; only named curves are accepted (RFC 5480 §2.1.1)".into(),
            ))
        }
        other => return Err(malformed(format!("EC parameters of type {other}"))),
    }
    let named: ObjectIdentifier = params
        .decode_as()
        .map_err(|e| malformed(format!("namedCurve: {e}")))?;
    require_minimal(&named, "namedCurve")?;
    match named {
        rfc5912::SECP_256_R_1 => Ok(EcCurve::P256),
        rfc5912::SECP_384_R_1 => Ok(EcCurve::P384),
        rfc5912::SECP_521_R_1 => Err(unsupported(
            "curve P-521 (secp521r1) is not supported; supported: p256, p384, ed25519, x25519 (key agreement)".into(),
        )),
        SECP256K1 => Err(unsupported(
            "curve secp256k1 is not supported (not a curve X.509 relying parties accept); supported: p256, p384, ed25519, x25519 (key agreement)".into(),
        )),
        other => Err(unsupported(format!(
            "curve {other} is not supported; supported: p256, p384, ed25519, x25519 (key agreement)"
        ))),
    }
}

/// Decodes a SEC1 point on `C`, refusing what is not a valid public key,
/// and returns its uncompressed encoding.
fn sec1_canonical<C>(curve: EcCurve, point: &[u8]) -> Result<Vec<u8>, KeyError>
where
    C: p256::elliptic_curve::CurveArithmetic,
    p256::elliptic_curve::AffinePoint<C>: p256::elliptic_curve::sec1::FromEncodedPoint<C>
        + p256::elliptic_curve::sec1::ToEncodedPoint<C>,
    p256::elliptic_curve::FieldBytesSize<C>: p256::elliptic_curve::sec1::ModulusSize,
{
    let n = curve.field_len();
    match (point.first(), point.len()) {
        (Some(0x00), 1) => {
            return Err(invalid_point(format!(
                "the public key is the point at infinity (the identity) on {}: every signature would verify",
                curve.standard_name()
            )))
        }
        (Some(0x04), l) if l == 1 + 2 * n => {}
        (Some(0x02 | 0x03), l) if l == 1 + n => {}
        (Some(0x06 | 0x07), _) => {
            return Err(malformed(
                "a hybrid-form point (0x06/0x07); use the uncompressed or compressed form",
            ))
        }
        _ => {
            return Err(malformed(format!(
                "a {} point is {} bytes uncompressed (0x04…) or {} compressed (0x02/0x03…), got {} bytes",
                curve.standard_name(),
                1 + 2 * n,
                1 + n,
                point.len()
            )))
        }
    }
    // Decoding checks that the coordinates are below p and that the point
    // satisfies the curve equation (and, compressed, that x has a root).
    let key = p256::elliptic_curve::PublicKey::<C>::from_sec1_bytes(point).map_err(|_| {
        invalid_point(format!(
            "the public key is not a point on {} (coordinates out of range, or off the curve)",
            curve.standard_name()
        ))
    })?;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    Ok(key.to_encoded_point(false).as_bytes().to_vec())
}

/// Checks an Ed25519 public key's encoding: a point on the curve, in its
/// canonical encoding (y < p), not of small order (such a key lets a
/// signature verify for more than one message).
fn ed25519_canonical(point: &[u8]) -> Result<Vec<u8>, KeyError> {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let bytes: [u8; 32] = point
        .try_into()
        .map_err(|_| malformed(format!("an Ed25519 key is 32 bytes, got {}", point.len())))?;
    let decoded = CompressedEdwardsY(bytes).decompress().ok_or_else(|| {
        invalid_point("the Ed25519 public key is not a point on the curve".into())
    })?;
    if decoded.compress().to_bytes() != bytes {
        return Err(invalid_point(
            "the Ed25519 public key is not canonically encoded (y ≥ p, or x = 0 with the sign bit set)"
                .into(),
        ));
    }
    if decoded.is_small_order() {
        return Err(invalid_point(
            "the Ed25519 public key is a point of small order: it has no secret, and signatures under it prove nothing"
                .into(),
        ));
    }
    // A key with a torsion component (A + T, T of order 2, 4 or 8) shares
    // its secret with A: one secret would hold several certificates, and
    // cofactored verifiers take one key's signatures for the other's.
    if !decoded.is_torsion_free() {
        return Err(invalid_point(
            "the Ed25519 public key is not in the prime-order subgroup (it has a small-order component): it shares its secret with another key"
                .into(),
        ));
    }
    Ok(bytes.to_vec())
}

/// Checks an X25519 public key (RFC 7748 §5): 32 bytes, u canonical
/// (below p = 2^255 − 19, the top bit clear), not of small order (such a
/// key makes every shared secret zero or one of a handful of values, so
/// content sealed to it is sealed to no one).
fn x25519_canonical(point: &[u8]) -> Result<Vec<u8>, KeyError> {
    use curve25519_dalek::montgomery::MontgomeryPoint;
    use curve25519_dalek::scalar::Scalar;
    let bytes: [u8; 32] = point
        .try_into()
        .map_err(|_| malformed(format!("an X25519 key is 32 bytes, got {}", point.len())))?;
    // p − 1 = 2^255 − 20, little-endian: ec ff … ff 7f.
    let mut p_minus_one = [0xffu8; 32];
    p_minus_one[0] = 0xec;
    p_minus_one[31] = 0x7f;
    let above = bytes
        .iter()
        .rev()
        .zip(p_minus_one.iter().rev())
        .find(|(a, b)| a != b)
        .is_some_and(|(a, b)| a > b);
    if above {
        return Err(invalid_point(
            "the X25519 public key is not canonically encoded (u ≥ 2^255 − 19, or the top bit set)"
                .into(),
        ));
    }
    // Multiplying by the cofactor 8 sends exactly the points of small
    // order to the identity (u = 0 in this encoding).
    if (MontgomeryPoint(bytes) * Scalar::from(8u8)).0 == [0u8; 32] {
        return Err(invalid_point(
            "the X25519 public key is a point of small order: every shared secret with it is predictable"
                .into(),
        ));
    }
    Ok(bytes.to_vec())
}

/// The canonical SPKI of a point on `curve`.
fn encode_spki(curve: EcCurve, point: &[u8]) -> Result<Vec<u8>, KeyError> {
    let (oid, curve_oid) = match curve {
        EcCurve::P256 => (rfc5912::ID_EC_PUBLIC_KEY, Some(rfc5912::SECP_256_R_1)),
        EcCurve::P384 => (rfc5912::ID_EC_PUBLIC_KEY, Some(rfc5912::SECP_384_R_1)),
        EcCurve::Ed25519 => (rfc8410::ID_ED_25519, None),
        EcCurve::X25519 => (rfc8410::ID_X_25519, None),
    };
    let info = spki::SubjectPublicKeyInfo {
        algorithm: spki::AlgorithmIdentifier {
            oid,
            parameters: curve_oid,
        },
        subject_public_key: BitStringRef::from_bytes(point)
            .map_err(|_| KeyError::Internal("EC SPKI encoding"))?,
    };
    info.to_der()
        .map_err(|_| KeyError::Internal("EC SPKI encoding"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    fn p256_spki() -> (EcdsaKeyPair, Vec<u8>) {
        let pair = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let der = pair.public_key().as_der().unwrap().as_ref().to_vec();
        (pair, der)
    }

    #[test]
    fn p256_parse_verify_and_canonical_form() {
        let (pair, der) = p256_spki();
        let key = EcPublicKey::from_spki_der(&der).unwrap();
        assert_eq!(key.curve(), EcCurve::P256);
        assert_eq!(key.spki_der(), der.as_slice());
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let s = pair.sign(&rng, b"message").unwrap();
        key.verify(Some(HashAlgorithm::Sha256), b"message", s.as_ref())
            .unwrap();
        assert_eq!(
            key.verify(Some(HashAlgorithm::Sha256), b"messagE", s.as_ref()),
            Err(KeyError::BadSignature)
        );
        assert_eq!(
            key.verify(None, b"message", s.as_ref()),
            Err(KeyError::BadSignature)
        );
        // The compressed encoding of the same point is the same key.
        let point = key.point();
        let mut compressed = vec![0x02 | (point[64] & 1)];
        compressed.extend_from_slice(&point[1..33]);
        let again = EcPublicKey::from_point(EcCurve::P256, &compressed).unwrap();
        assert_eq!(again, key);
        assert_eq!(again.fingerprint(), key.fingerprint());
        let pem = key.to_pem();
        assert_eq!(EcPublicKey::from_pem_or_der(pem.as_bytes()).unwrap(), key);
    }

    #[test]
    fn points_that_are_not_keys_are_weak() {
        let (_, der) = p256_spki();
        let key = EcPublicKey::from_spki_der(&der).unwrap();
        let class = |r: Result<EcPublicKey, KeyError>| match r {
            Err(KeyError::Weak(w)) => Some(w.class),
            _ => None,
        };
        assert_eq!(
            class(EcPublicKey::from_point(EcCurve::P256, &[0])),
            Some(WeakClass::InvalidPoint)
        );
        let mut off = key.point().to_vec();
        off[64] ^= 1;
        assert_eq!(
            class(EcPublicKey::from_point(EcCurve::P256, &off)),
            Some(WeakClass::InvalidPoint)
        );
        // x = p (out of range).
        let mut big = vec![0x04];
        big.extend_from_slice(&[0xff; 64]);
        assert_eq!(
            class(EcPublicKey::from_point(EcCurve::P256, &big)),
            Some(WeakClass::InvalidPoint)
        );
        assert!(matches!(
            EcPublicKey::from_point(EcCurve::P256, &key.point()[..40]),
            Err(KeyError::Malformed { .. })
        ));
        // Ed25519: the identity (0, 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            class(EcPublicKey::from_point(EcCurve::Ed25519, &identity)),
            Some(WeakClass::InvalidPoint)
        );
        // A real key plus a point of order 8: the same secret, another key.
        let real = curve25519_dalek::edwards::CompressedEdwardsY(
            crate::keys::EcPrivateKey::generate(EcCurve::Ed25519)
                .unwrap()
                .public_key()
                .point()
                .try_into()
                .unwrap(),
        )
        .decompress()
        .unwrap();
        let t8 = curve25519_dalek::constants::EIGHT_TORSION[1];
        let mixed = (real + t8).compress().to_bytes();
        assert_eq!(
            class(EcPublicKey::from_point(EcCurve::Ed25519, &mixed)),
            Some(WeakClass::InvalidPoint)
        );
        // y = p + 1 ≡ 1: a non-canonical encoding of the identity.
        let mut noncanonical = [0xffu8; 32];
        noncanonical[0] = 0xee;
        noncanonical[31] = 0x7f;
        assert_eq!(
            class(EcPublicKey::from_point(EcCurve::Ed25519, &noncanonical)),
            Some(WeakClass::InvalidPoint)
        );
    }

    #[test]
    fn a_padded_curve_oid_is_malformed_not_another_curve() {
        let (_, der) = p256_spki();
        // namedCurve 06 08 2a 86 48 ce 3d 03 01 07 → 06 09 2a 80 86 48 …
        let at = der
            .windows(10)
            .position(|w| w == [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])
            .unwrap();
        let mut padded = der[..at].to_vec();
        padded.extend_from_slice(&[
            0x06, 0x09, 0x2a, 0x80, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
        ]);
        padded.extend_from_slice(&der[at + 10..]);
        // Outer lengths grow by one.
        padded[1] += 1;
        padded[3] += 1;
        match EcPublicKey::from_spki_der(&padded) {
            Err(KeyError::Malformed { reason, .. }) => {
                assert!(reason.contains("not DER-encoded"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ed25519_and_p384() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let ed = Ed25519KeyPair::generate().unwrap();
        let der = ed.public_key().as_der().unwrap().as_ref().to_vec();
        let key = EcPublicKey::from_spki_der(&der).unwrap();
        assert_eq!(key.curve(), EcCurve::Ed25519);
        assert_eq!(key.spki_der(), der.as_slice());
        let s = ed.sign(b"m");
        key.verify(None, b"m", s.as_ref()).unwrap();
        assert!(key
            .verify(Some(HashAlgorithm::Sha256), b"m", s.as_ref())
            .is_err());
        let p = EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap();
        let der = p.public_key().as_der().unwrap().as_ref().to_vec();
        let key = EcPublicKey::from_spki_der(&der).unwrap();
        assert_eq!(key.curve(), EcCurve::P384);
        let s = p.sign(&rng, b"m").unwrap();
        key.verify(Some(HashAlgorithm::Sha384), b"m", s.as_ref())
            .unwrap();
    }

    #[test]
    fn curve_names() {
        for c in EcCurve::SIGNING {
            assert_eq!(c.name().parse::<EcCurve>().unwrap(), c);
        }
        assert_eq!("P-256".parse::<EcCurve>().unwrap(), EcCurve::P256);
        assert!("secp256k1".parse::<EcCurve>().is_err());
    }

    proptest::proptest! {
        /// Any valid P-256 or P-384 point, sent compressed or uncompressed,
        /// is one key with one SPKI; arbitrary bytes never panic and,
        /// when accepted, re-parse to the same key.
        #[test]
        fn one_point_one_key(seed in proptest::array::uniform32(proptest::num::u8::ANY), junk in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            if let Ok(secret) = p256::SecretKey::from_slice(&seed) {
                let public = secret.public_key();
                let a = EcPublicKey::from_point(EcCurve::P256, public.to_encoded_point(false).as_bytes()).unwrap();
                let b = EcPublicKey::from_point(EcCurve::P256, public.to_encoded_point(true).as_bytes()).unwrap();
                proptest::prop_assert_eq!(&a, &b);
                proptest::prop_assert_eq!(EcPublicKey::from_spki_der(a.spki_der()).unwrap(), a);
            }
            let mut wide = [0u8; 48];
            wide[..32].copy_from_slice(&seed);
            if let Ok(secret) = p384::SecretKey::from_slice(&wide) {
                let public = secret.public_key();
                let a = EcPublicKey::from_point(EcCurve::P384, public.to_encoded_point(false).as_bytes()).unwrap();
                let b = EcPublicKey::from_point(EcCurve::P384, public.to_encoded_point(true).as_bytes()).unwrap();
                proptest::prop_assert_eq!(a, b);
            }
            for curve in EcCurve::SIGNING {
                if let Ok(k) = EcPublicKey::from_point(curve, &junk) {
                    proptest::prop_assert_eq!(EcPublicKey::from_spki_der(k.spki_der()).unwrap(), k);
                }
            }
        }
    }
}
