//! ACME account keys as JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037):
//! RSA (2048 to 8192 bits), P-256, P-384 and Ed25519, each in one canonical
//! encoding (no leading zero octets, coordinates at full length), so one key
//! has one thumbprint (RFC 7638) and is one account.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::problem::{Problem, ProblemType};

/// Smallest RSA account key.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA account key.
pub const MAX_RSA_BITS: usize = 8192;

/// An account key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jwk {
    /// RSA: modulus and exponent, big-endian, as given (base64url).
    Rsa {
        /// `n`.
        n: String,
        /// `e`.
        e: String,
    },
    /// A NIST curve point.
    Ec {
        /// The curve.
        curve: EcCurve,
        /// `x`.
        x: String,
        /// `y`.
        y: String,
    },
    /// An Ed25519 key.
    Ed25519 {
        /// `x`.
        x: String,
    },
}

/// The NIST curves account keys may be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    /// P-256, for ES256.
    P256,
    /// P-384, for ES384.
    P384,
}

impl EcCurve {
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    fn size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

/// The JWS signature algorithms account keys sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl JwsAlgorithm {
    /// The `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm `alg` names; MAC algorithms and `none` are refused
    /// (RFC 8555 §6.2).
    pub fn parse(alg: &str) -> Result<Self, Problem> {
        match alg {
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            "ES384" => Ok(Self::Es384),
            "EdDSA" => Ok(Self::EdDsa),
            other => Err(Problem::new(
                ProblemType::BadSignatureAlgorithm,
                format!(
                    "JWS algorithm {:?} is not accepted; sign with RS256, ES256, ES384 or EdDSA",
                    other.chars().take(20).collect::<String>()
                ),
            )),
        }
    }
}

fn member<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a str, Problem> {
    m.get(name).and_then(Value::as_str).ok_or_else(|| {
        Problem::new(
            ProblemType::BadPublicKey,
            format!("the JWK has no {name:?} string"),
        )
    })
}

fn decode(name: &str, value: &str) -> Result<Vec<u8>, Problem> {
    URL_SAFE_NO_PAD.decode(value).map_err(|_| {
        Problem::new(
            ProblemType::BadPublicKey,
            format!("the JWK's {name:?} is not base64url without padding"),
        )
    })
}

fn bad_key(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::BadPublicKey, detail)
}

impl Jwk {
    /// Reads a JWK object, checking the key is one accounts may have.
    pub fn from_value(v: &Value) -> Result<Self, Problem> {
        let m = v
            .as_object()
            .ok_or_else(|| bad_key("the JWK is not a JSON object"))?;
        // A public key only: a client that sends its private half has
        // lost it.
        if ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
            .iter()
            .any(|private| m.contains_key(*private))
        {
            return Err(bad_key(
                "the JWK carries private key material; send the public key only",
            ));
        }
        match member(m, "kty")? {
            "RSA" => {
                let (n, e) = (member(m, "n")?, member(m, "e")?);
                let (nb, eb) = (decode("n", n)?, decode("e", e)?);
                if nb.first() == Some(&0) || eb.first() == Some(&0) {
                    return Err(bad_key("the RSA key's n or e has a leading zero octet"));
                }
                let bits = nb.len() * 8 - nb.first().map_or(8, |b| b.leading_zeros() as usize);
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                    return Err(bad_key(format!(
                        "the RSA key has {bits} bits; account keys have {MIN_RSA_BITS} to {MAX_RSA_BITS}"
                    )));
                }
                let exponent = eb
                    .iter()
                    .fold(0u64, |a, b| a.saturating_mul(256) | u64::from(*b));
                if eb.len() > 4 || exponent < 3 || exponent % 2 == 0 {
                    return Err(bad_key(
                        "the RSA key's exponent is not an odd number from 3 to 2^32",
                    ));
                }
                Ok(Self::Rsa {
                    n: n.to_string(),
                    e: e.to_string(),
                })
            }
            "EC" => {
                let curve = match member(m, "crv")? {
                    "P-256" => EcCurve::P256,
                    "P-384" => EcCurve::P384,
                    other => {
                        return Err(bad_key(format!(
                            "curve {:?} is not accepted; use P-256 or P-384",
                            other.chars().take(20).collect::<String>()
                        )))
                    }
                };
                let (x, y) = (member(m, "x")?, member(m, "y")?);
                let (xb, yb) = (decode("x", x)?, decode("y", y)?);
                if xb.len() != curve.size() || yb.len() != curve.size() {
                    return Err(bad_key(format!(
                        "{} coordinates are {} octets",
                        curve.name(),
                        curve.size()
                    )));
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&xb);
                point.extend_from_slice(&yb);
                let on_curve = match curve {
                    EcCurve::P256 => p256::PublicKey::from_sec1_bytes(&point).is_ok(),
                    EcCurve::P384 => p384::PublicKey::from_sec1_bytes(&point).is_ok(),
                };
                if !on_curve {
                    return Err(bad_key(format!("the point is not on {}", curve.name())));
                }
                Ok(Self::Ec {
                    curve,
                    x: x.to_string(),
                    y: y.to_string(),
                })
            }
            "OKP" => {
                if member(m, "crv")? != "Ed25519" {
                    return Err(bad_key("OKP keys are accepted on Ed25519 only"));
                }
                let x = member(m, "x")?;
                if decode("x", x)?.len() != 32 {
                    return Err(bad_key("an Ed25519 key is 32 octets"));
                }
                Ok(Self::Ed25519 { x: x.to_string() })
            }
            other => Err(bad_key(format!(
                "key type {:?} is not accepted; use RSA, EC or OKP (Ed25519)",
                other.chars().take(20).collect::<String>()
            ))),
        }
    }

    /// The JWK of a certificate's SubjectPublicKeyInfo (DER), to compare
    /// with a request signed by that key (revocation, RFC 8555 §7.6).
    pub fn from_spki(spki: &[u8]) -> Result<Self, Problem> {
        use der::Decode;
        let info = spki::SubjectPublicKeyInfoRef::from_der(spki)
            .map_err(|e| bad_key(format!("the certificate's key does not parse: {e}")))?;
        let bits = info.subject_public_key.raw_bytes();
        let oid = info.algorithm.oid;
        let enc = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        if oid == const_oid::db::rfc5912::RSA_ENCRYPTION {
            let (n, e) = crate::keys::rsa_components(spki)
                .ok_or_else(|| bad_key("the certificate's RSA key does not parse"))?;
            return Ok(Self::Rsa {
                n: enc(&n),
                e: enc(&e),
            });
        }
        if oid == const_oid::db::rfc5912::ID_EC_PUBLIC_KEY {
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
            let curve = match curve {
                Some(c) if c == const_oid::db::rfc5912::SECP_256_R_1 => EcCurve::P256,
                Some(c) if c == const_oid::db::rfc5912::SECP_384_R_1 => EcCurve::P384,
                _ => {
                    return Err(bad_key(
                        "the certificate's key is on a curve accounts do not use",
                    ))
                }
            };
            let n = curve.size();
            if bits.len() != 1 + 2 * n || bits[0] != 4 {
                return Err(bad_key(
                    "the certificate's EC key is not an uncompressed point",
                ));
            }
            return Ok(Self::Ec {
                curve,
                x: enc(&bits[1..=n]),
                y: enc(&bits[1 + n..]),
            });
        }
        if oid == const_oid::db::rfc8410::ID_ED_25519 && bits.len() == 32 {
            return Ok(Self::Ed25519 { x: enc(bits) });
        }
        Err(bad_key(
            "the certificate's key is of a type accounts do not use",
        ))
    }

    /// The key's SubjectPublicKeyInfo, DER (its fingerprint is the one the
    /// registry keeps for certified keys).
    pub fn spki_der(&self) -> Result<Vec<u8>, Problem> {
        use der::asn1::{AnyRef, BitString, ObjectIdentifier};
        use der::Encode;
        use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
        let fail = |e: der::Error| bad_key(format!("the key does not encode: {e}"));
        let (oid, parameters, key): (ObjectIdentifier, Option<der::Any>, Vec<u8>) = match self {
            Self::Rsa { n, e } => {
                let (n, e) = (decode("n", n)?, decode("e", e)?);
                let key = pkcs1::RsaPublicKey {
                    modulus: pkcs1::UintRef::new(&n).map_err(fail)?,
                    public_exponent: pkcs1::UintRef::new(&e).map_err(fail)?,
                }
                .to_der()
                .map_err(fail)?;
                (
                    const_oid::db::rfc5912::RSA_ENCRYPTION,
                    Some(AnyRef::NULL.into()),
                    key,
                )
            }
            Self::Ec { curve, x, y } => {
                let mut point = vec![4u8];
                point.extend_from_slice(&decode("x", x)?);
                point.extend_from_slice(&decode("y", y)?);
                let named = match curve {
                    EcCurve::P256 => const_oid::db::rfc5912::SECP_256_R_1,
                    EcCurve::P384 => const_oid::db::rfc5912::SECP_384_R_1,
                };
                (
                    const_oid::db::rfc5912::ID_EC_PUBLIC_KEY,
                    Some(der::Any::encode_from(&named).map_err(fail)?),
                    point,
                )
            }
            Self::Ed25519 { x } => (const_oid::db::rfc8410::ID_ED_25519, None, decode("x", x)?),
        };
        SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned { oid, parameters },
            subject_public_key: BitString::from_bytes(&key).map_err(fail)?,
        }
        .to_der()
        .map_err(fail)
    }

    /// Reads a JWK from its JSON text.
    pub fn from_json(text: &str) -> Result<Self, Problem> {
        let v: Value =
            serde_json::from_str(text).map_err(|_| bad_key("the stored JWK is not JSON"))?;
        Self::from_value(&v)
    }

    /// The key as a JSON object with its required members only, in
    /// lexicographic order: RFC 7638 §3's input, and what the service
    /// stores.
    pub fn canonical_json(&self) -> String {
        // serde_json's map keeps keys sorted, which is the order RFC 7638 asks.
        let v = match self {
            Self::Rsa { n, e } => serde_json::json!({ "e": e, "kty": "RSA", "n": n }),
            Self::Ec { curve, x, y } => {
                serde_json::json!({ "crv": curve.name(), "kty": "EC", "x": x, "y": y })
            }
            Self::Ed25519 { x } => serde_json::json!({ "crv": "Ed25519", "kty": "OKP", "x": x }),
        };
        v.to_string()
    }

    /// The RFC 7638 thumbprint, base64url of SHA-256.
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(
            &digest::SHA256,
            self.canonical_json().as_bytes(),
        ))
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> JwsAlgorithm {
        match self {
            Self::Rsa { .. } => JwsAlgorithm::Rs256,
            Self::Ec {
                curve: EcCurve::P256,
                ..
            } => JwsAlgorithm::Es256,
            Self::Ec {
                curve: EcCurve::P384,
                ..
            } => JwsAlgorithm::Es384,
            Self::Ed25519 { .. } => JwsAlgorithm::EdDsa,
        }
    }

    /// Checks `signature` over `message` under `alg`, which must be this
    /// key's algorithm.
    pub fn verify(&self, alg: JwsAlgorithm, message: &[u8], sig: &[u8]) -> Result<(), Problem> {
        if alg != self.algorithm() {
            return Err(Problem::new(
                ProblemType::BadSignatureAlgorithm,
                format!(
                    "a {} signature from a key that signs with {}",
                    alg.name(),
                    self.algorithm().name()
                ),
            ));
        }
        let bad = |_| Problem::new(ProblemType::Malformed, "the JWS signature does not verify");
        match self {
            Self::Rsa { n, e } => {
                let (n, e) = (decode("n", n)?, decode("e", e)?);
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                    .map_err(bad)
            }
            Self::Ec { curve, x, y } => {
                let mut point = vec![4u8];
                point.extend_from_slice(&decode("x", x)?);
                point.extend_from_slice(&decode("y", y)?);
                let algorithm = match curve {
                    EcCurve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                    EcCurve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                };
                UnparsedPublicKey::new(algorithm, &point)
                    .verify(message, sig)
                    .map_err(bad)
            }
            Self::Ed25519 { x } => UnparsedPublicKey::new(&signature::ED25519, decode("x", x)?)
                .verify(message, sig)
                .map_err(bad),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1's example key and thumbprint.
        let v: Value = serde_json::from_str(r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        let k = Jwk::from_value(&v).unwrap();
        assert_eq!(
            k.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(k.algorithm(), JwsAlgorithm::Rs256);
    }

    #[test]
    fn keys_outside_the_accepted_set_are_refused() {
        let refused = |j: &str| Jwk::from_value(&serde_json::from_str(j).unwrap()).unwrap_err();
        assert!(refused(r#"{"kty":"oct","k":"AAAA"}"#).is(ProblemType::BadPublicKey));
        // 512-bit modulus.
        let small = URL_SAFE_NO_PAD.encode([0xc3u8; 64]);
        assert!(
            refused(&format!(r#"{{"kty":"RSA","n":"{small}","e":"AQAB"}}"#))
                .detail
                .contains("512 bits")
        );
        let padded = URL_SAFE_NO_PAD.encode([0u8, 1, 2]);
        assert!(
            refused(&format!(r#"{{"kty":"RSA","n":"{padded}","e":"AQAB"}}"#))
                .detail
                .contains("leading zero")
        );
        // Not on the curve.
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        assert!(refused(&format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}"}}"#
        ))
        .detail
        .contains("not on P-256"));
        assert!(refused(r#"{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}"#)
            .detail
            .contains("P-521"));
        assert!(JwsAlgorithm::parse("HS256").is_err());
        assert!(JwsAlgorithm::parse("none").is_err());
    }

    #[test]
    fn a_p256_signature_verifies_and_a_changed_one_does_not() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        });
        let k = Jwk::from_value(&jwk).unwrap();
        let sig = pair.sign(&rng, b"message").unwrap();
        k.verify(JwsAlgorithm::Es256, b"message", sig.as_ref())
            .unwrap();
        assert!(k
            .verify(JwsAlgorithm::Es256, b"massage", sig.as_ref())
            .is_err());
        assert!(k
            .verify(JwsAlgorithm::Rs256, b"message", sig.as_ref())
            .unwrap_err()
            .is(ProblemType::BadSignatureAlgorithm));
        // One key, one thumbprint, whatever order the members came in.
        let again = Jwk::from_json(&k.canonical_json()).unwrap();
        assert_eq!(again.thumbprint(), k.thumbprint());
        // Its SPKI is the one aws-lc would write, and reads back to it.
        let spki = k.spki_der().unwrap();
        assert_eq!(Jwk::from_spki(&spki).unwrap(), k);
        let mut private = jwk.clone();
        private["d"] = Value::String("AAAA".into());
        assert!(Jwk::from_value(&private)
            .unwrap_err()
            .detail
            .contains("private"));
    }
}
