//! A PKIMessage's protection (RFC 4210 §5.1.3): a password-based MAC
//! (`PasswordBasedMac`, RFC 4211 §4.4; parameters bounded per RFC 9481
//! §6.1.1) from a shared secret, or a signature by the sender's key. Both
//! cover `ProtectedPart ::= SEQUENCE { header, body }` as the sender
//! encoded it.

use aws_lc_rs::{digest, hmac, rand};
use const_oid::db::rfc5912;
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use super::CmpError;
use crate::keys::SignatureAlgorithm;

/// `id-PasswordBasedMac` (RFC 4211 §4.4).
pub const ID_PASSWORD_BASED_MAC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113533.7.66.13");
/// `hmac-sha1` (RFC 2104 via RFC 9481 §6.2.1): OpenSSL's default PBM MAC.
const HMAC_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.8.1.2");
const HMAC_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
const HMAC_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.10");
const HMAC_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.11");

/// Fewest iterations of the one-way function accepted (OpenSSL's default
/// is 500).
pub const MIN_ITERATIONS: u32 = 100;
/// Most iterations accepted: a caller picks the count, so it bounds the
/// CPU an unauthenticated message can cost (10,000 SHA-256 blocks, well
/// under a millisecond).
pub const MAX_ITERATIONS: u32 = 10_000;
/// Salt lengths accepted, bytes.
const SALT: std::ops::RangeInclusive<usize> = 8..=64;

/// `PBMParameter ::= SEQUENCE { salt, owf, iterationCount, mac }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct PbmParams {
    /// `salt`.
    pub salt: OctetString,
    /// `owf`: the one-way function (SHA-2).
    pub owf: AlgorithmIdentifierOwned,
    /// `iterationCount`.
    pub iteration_count: u32,
    /// `mac`: HMAC with SHA-1 or SHA-2.
    pub mac: AlgorithmIdentifierOwned,
}

/// How a request is protected.
#[derive(Debug, Clone)]
pub enum RequestProtection {
    /// A password-based MAC: `senderKID` names the shared secret.
    Mac {
        /// `senderKID`.
        reference: Vec<u8>,
        /// The MAC's parameters.
        params: PbmParams,
    },
    /// A signature by the key of the first certificate in `extraCerts`.
    Signature(SignatureAlgorithm),
}

impl PbmParams {
    /// Reads and bounds the parameters of a `protectionAlg`.
    pub fn from_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<Self, CmpError> {
        let params = alg
            .parameters
            .as_ref()
            .ok_or_else(|| CmpError::BadAlgorithm("PasswordBasedMac without parameters".into()))?;
        let p = PbmParams::from_der(
            &params
                .to_der()
                .map_err(|e| CmpError::Malformed(e.to_string()))?,
        )
        .map_err(|e| CmpError::Malformed(format!("PBMParameter: {e}")))?;
        p.owf_algorithm()?;
        p.mac_algorithm()?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&p.iteration_count) {
            return Err(CmpError::BadAlgorithm(format!(
                "PasswordBasedMac iterationCount {}: between {MIN_ITERATIONS} and {MAX_ITERATIONS} are accepted",
                p.iteration_count
            )));
        }
        if !SALT.contains(&p.salt.as_bytes().len()) {
            return Err(CmpError::BadAlgorithm(format!(
                "PasswordBasedMac salt of {} bytes: 8 to 64 are accepted",
                p.salt.as_bytes().len()
            )));
        }
        Ok(p)
    }

    /// The same functions and count with a fresh salt, for the answer.
    pub fn with_fresh_salt(&self) -> Result<Self, CmpError> {
        let mut salt = [0u8; 16];
        rand::fill(&mut salt).map_err(|_| CmpError::BadProtection("no randomness".into()))?;
        Ok(Self {
            salt: OctetString::new(salt.to_vec())
                .map_err(|e| CmpError::Malformed(e.to_string()))?,
            ..self.clone()
        })
    }

    /// As the `protectionAlg` of an answer.
    pub fn algorithm(&self) -> Result<AlgorithmIdentifierOwned, CmpError> {
        Ok(AlgorithmIdentifierOwned {
            oid: ID_PASSWORD_BASED_MAC,
            parameters: Some(
                der::asn1::Any::encode_from(self)
                    .map_err(|e| CmpError::Malformed(e.to_string()))?,
            ),
        })
    }

    fn owf_algorithm(&self) -> Result<&'static digest::Algorithm, CmpError> {
        match self.owf.oid {
            rfc5912::ID_SHA_256 => Ok(&digest::SHA256),
            rfc5912::ID_SHA_384 => Ok(&digest::SHA384),
            rfc5912::ID_SHA_512 => Ok(&digest::SHA512),
            other => Err(CmpError::BadAlgorithm(format!(
                "PasswordBasedMac one-way function {other}: SHA-256, SHA-384 or SHA-512 are accepted"
            ))),
        }
    }

    fn mac_algorithm(&self) -> Result<hmac::Algorithm, CmpError> {
        match self.mac.oid {
            HMAC_SHA1 => Ok(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            HMAC_SHA256 => Ok(hmac::HMAC_SHA256),
            HMAC_SHA384 => Ok(hmac::HMAC_SHA384),
            HMAC_SHA512 => Ok(hmac::HMAC_SHA512),
            other => Err(CmpError::BadAlgorithm(format!(
                "PasswordBasedMac MAC {other}: HMAC with SHA-1, SHA-256, SHA-384 or SHA-512 is accepted"
            ))),
        }
    }

    /// The MAC key: the one-way function over secret ‖ salt, then over its
    /// own output, `iterationCount` times in all (RFC 4211 §4.4).
    fn key(&self, secret: &[u8]) -> Result<hmac::Key, CmpError> {
        let owf = self.owf_algorithm()?;
        let mut ctx = digest::Context::new(owf);
        ctx.update(secret);
        ctx.update(self.salt.as_bytes());
        let mut base = Zeroizing::new(ctx.finish().as_ref().to_vec());
        for _ in 1..self.iteration_count {
            *base = digest::digest(owf, &base).as_ref().to_vec();
        }
        Ok(hmac::Key::new(self.mac_algorithm()?, &base))
    }

    /// The MAC of `protected_part` under `secret`.
    pub fn mac(&self, secret: &[u8], protected_part: &[u8]) -> Result<Vec<u8>, CmpError> {
        Ok(hmac::sign(&self.key(secret)?, protected_part)
            .as_ref()
            .to_vec())
    }

    /// Checks `tag` over `protected_part` (constant time).
    pub fn verify(&self, secret: &[u8], protected_part: &[u8], tag: &[u8]) -> Result<(), CmpError> {
        hmac::verify(&self.key(secret)?, protected_part, tag).map_err(|_| {
            CmpError::BadProtection(
                "the MAC does not verify: a wrong secret or reference, or an altered message"
                    .into(),
            )
        })
    }
}

/// The protection a request's `protectionAlg` names.
pub(crate) fn request_protection(
    alg: &AlgorithmIdentifierOwned,
    reference: Option<&[u8]>,
) -> Result<RequestProtection, CmpError> {
    if alg.oid == ID_PASSWORD_BASED_MAC {
        let reference = reference
            .filter(|r| !r.is_empty())
            .ok_or(CmpError::MissingField(
                "senderKID: a MAC-protected message names its secret's reference there",
            ))?;
        return Ok(RequestProtection::Mac {
            reference: reference.to_vec(),
            params: PbmParams::from_algorithm(alg)?,
        });
    }
    SignatureAlgorithm::from_x509(&alg.oid, alg.parameters.as_ref())
        .map(RequestProtection::Signature)
        .map_err(|e| {
            CmpError::BadAlgorithm(format!(
                "protectionAlg: {e}; or PasswordBasedMac with a shared secret"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(iterations: u32) -> PbmParams {
        PbmParams {
            salt: OctetString::new(vec![7u8; 16]).unwrap(),
            owf: AlgorithmIdentifierOwned {
                oid: rfc5912::ID_SHA_256,
                parameters: None,
            },
            iteration_count: iterations,
            mac: AlgorithmIdentifierOwned {
                oid: HMAC_SHA1,
                parameters: None,
            },
        }
    }

    #[test]
    fn the_key_iterates_the_one_way_function() {
        // Computed independently: SHA-256 over secret‖salt, 500 times in all.
        let p = params(500);
        let mut base = {
            let mut c = digest::Context::new(&digest::SHA256);
            c.update(b"secret");
            c.update(&[7u8; 16]);
            c.finish().as_ref().to_vec()
        };
        for _ in 1..500 {
            base = digest::digest(&digest::SHA256, &base).as_ref().to_vec();
        }
        let want = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &base),
            b"part",
        );
        assert_eq!(p.mac(b"secret", b"part").unwrap(), want.as_ref());
        p.verify(b"secret", b"part", want.as_ref()).unwrap();
        assert!(p.verify(b"secreT", b"part", want.as_ref()).is_err());
        assert!(p.verify(b"secret", b"parT", want.as_ref()).is_err());
    }

    #[test]
    fn parameters_out_of_bounds_are_refused() {
        for (p, what) in [
            (params(MAX_ITERATIONS + 1), "iterationCount"),
            (params(MIN_ITERATIONS - 1), "iterationCount"),
            (
                PbmParams {
                    owf: AlgorithmIdentifierOwned {
                        oid: ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                        parameters: None,
                    },
                    ..params(500)
                },
                "one-way function",
            ),
            (
                PbmParams {
                    salt: OctetString::new(vec![1u8; 4]).unwrap(),
                    ..params(500)
                },
                "salt",
            ),
        ] {
            let alg = p.algorithm().unwrap();
            let e = PbmParams::from_algorithm(&alg).unwrap_err();
            assert!(
                matches!(e, CmpError::BadAlgorithm(ref m) if m.contains(what)),
                "{e}"
            );
        }
        let ok = params(500).algorithm().unwrap();
        assert_eq!(PbmParams::from_algorithm(&ok).unwrap(), params(500));
        assert!(matches!(
            request_protection(&ok, None),
            Err(CmpError::MissingField(_))
        ));
    }
}
