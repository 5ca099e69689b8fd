//! Names of the algorithms symbolon offers, parsed from the CLI spellings of
//! docs/design.md §4 (`rsa-2048`, `pkcs1-sha256`, ...).

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::{digest, signature};
use serde::{Deserialize, Serialize};

use super::KeyError;

/// An RSA key size for a slot. Only the sizes the CA/Browser Forum Baseline
/// Requirements name; e is always 65537 for generated keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RsaAlgorithm {
    /// RSA with a 2048-bit modulus.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    #[serde(rename = "rsa-4096")]
    Rsa4096,
}

impl RsaAlgorithm {
    /// The modulus size in bits.
    pub fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }

    /// The algorithm for a modulus of `bits`, if it is one symbolon accepts.
    pub fn from_bits(bits: usize) -> Option<Self> {
        match bits {
            2048 => Some(Self::Rsa2048),
            3072 => Some(Self::Rsa3072),
            4096 => Some(Self::Rsa4096),
            _ => None,
        }
    }

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa-2048",
            Self::Rsa3072 => "rsa-3072",
            Self::Rsa4096 => "rsa-4096",
        }
    }

    pub(crate) fn key_size(self) -> aws_lc_rs::rsa::KeySize {
        match self {
            Self::Rsa2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
            Self::Rsa3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
            Self::Rsa4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
        }
    }
}

impl fmt::Display for RsaAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RsaAlgorithm {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        [Self::Rsa2048, Self::Rsa3072, Self::Rsa4096]
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| KeyError::Unsupported {
                kind: "algorithm",
                name: s.to_string(),
                supported: "rsa-2048, rsa-3072, rsa-4096",
            })
    }
}

/// The algorithm of a token slot's key: RSA of a size, or an elliptic curve
/// (docs/ec-keys.md). Written as its CLI name (`rsa-2048`, `p256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA.
    Rsa(RsaAlgorithm),
    /// ECDSA on P-256/P-384, Ed25519, or X25519 (key agreement only).
    Ec(super::EcCurve),
}

impl KeyAlgorithm {
    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa(a) => a.name(),
            Self::Ec(c) => c.name(),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        if let Ok(a) = s.parse::<RsaAlgorithm>() {
            return Ok(Self::Rsa(a));
        }
        s.parse::<super::EcCurve>()
            .map(Self::Ec)
            .map_err(|_| KeyError::Unsupported {
                kind: "key algorithm",
                name: s.to_string(),
                supported: "rsa-2048, rsa-3072, rsa-4096, p256, p384, ed25519, x25519",
            })
    }
}

impl From<RsaAlgorithm> for KeyAlgorithm {
    fn from(a: RsaAlgorithm) -> Self {
        Self::Rsa(a)
    }
}

impl Serialize for KeyAlgorithm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for KeyAlgorithm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A SHA-2 hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The lower-case name (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        self.aws().output_len()
    }

    pub(crate) fn aws(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }
}

impl FromStr for HashAlgorithm {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(Self::Sha256),
            "sha384" => Ok(Self::Sha384),
            "sha512" => Ok(Self::Sha512),
            _ => Err(KeyError::Unsupported {
                kind: "hash",
                name: s.to_string(),
                supported: "sha256, sha384, sha512",
            }),
        }
    }
}

/// An RSA signature scheme: padding and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "pkcs1-sha256")]
    Pkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    #[serde(rename = "pkcs1-sha384")]
    Pkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    #[serde(rename = "pkcs1-sha512")]
    Pkcs1Sha512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt.
    #[serde(rename = "pss-sha256")]
    PssSha256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, 48-byte salt.
    #[serde(rename = "pss-sha384")]
    PssSha384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, 64-byte salt.
    #[serde(rename = "pss-sha512")]
    PssSha512,
}

impl SignatureScheme {
    /// Every scheme, in CLI order.
    pub const ALL: [Self; 6] = [
        Self::Pkcs1Sha256,
        Self::Pkcs1Sha384,
        Self::Pkcs1Sha512,
        Self::PssSha256,
        Self::PssSha384,
        Self::PssSha512,
    ];

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pkcs1Sha256 => "pkcs1-sha256",
            Self::Pkcs1Sha384 => "pkcs1-sha384",
            Self::Pkcs1Sha512 => "pkcs1-sha512",
            Self::PssSha256 => "pss-sha256",
            Self::PssSha384 => "pss-sha384",
            Self::PssSha512 => "pss-sha512",
        }
    }

    /// The hash the scheme signs.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Self::Pkcs1Sha256 | Self::PssSha256 => HashAlgorithm::Sha256,
            Self::Pkcs1Sha384 | Self::PssSha384 => HashAlgorithm::Sha384,
            Self::Pkcs1Sha512 | Self::PssSha512 => HashAlgorithm::Sha512,
        }
    }

    /// Whether the scheme is randomised (PSS).
    pub fn is_pss(self) -> bool {
        matches!(self, Self::PssSha256 | Self::PssSha384 | Self::PssSha512)
    }

    pub(crate) fn signing(self) -> &'static signature::RsaSignatureEncoding {
        match self {
            Self::Pkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
            Self::Pkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
            Self::Pkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
            Self::PssSha256 => &signature::RSA_PSS_SHA256,
            Self::PssSha384 => &signature::RSA_PSS_SHA384,
            Self::PssSha512 => &signature::RSA_PSS_SHA512,
        }
    }

    pub(crate) fn verification(self) -> &'static signature::RsaParameters {
        match self {
            Self::Pkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Pkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::Pkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::PssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::PssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::PssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignatureScheme {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| KeyError::Unsupported {
                kind: "signature scheme",
                name: s.to_string(),
                supported:
                    "pkcs1-sha256, pkcs1-sha384, pkcs1-sha512, pss-sha256, pss-sha384, pss-sha512",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in SignatureScheme::ALL {
            assert_eq!(s.name().parse::<SignatureScheme>().unwrap(), s);
        }
        for a in [
            RsaAlgorithm::Rsa2048,
            RsaAlgorithm::Rsa3072,
            RsaAlgorithm::Rsa4096,
        ] {
            assert_eq!(a.name().parse::<RsaAlgorithm>().unwrap(), a);
            assert_eq!(RsaAlgorithm::from_bits(a.bits()), Some(a));
        }
        assert!("rsa-1024".parse::<RsaAlgorithm>().is_err());
        assert!("pkcs1-sha1".parse::<SignatureScheme>().is_err());
    }
}
