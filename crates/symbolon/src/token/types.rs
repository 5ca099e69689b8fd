//! Identifiers and descriptions of a token and its slots.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::TokenError;
use crate::keys::{Fingerprint, KeyAlgorithm};

/// A token's serial: 128 random bits fixed at initialisation, shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenSerial([u8; 16]);

impl TokenSerial {
    /// A fresh random serial.
    pub fn random() -> Result<Self, TokenError> {
        let mut b = [0u8; 16];
        crate::keys::random_bytes(&mut b)?;
        Ok(Self(b))
    }

    /// From raw bytes.
    pub fn from_bytes(b: [u8; 16]) -> Self {
        Self(b)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for TokenSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for TokenSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSerial({self})")
    }
}

impl FromStr for TokenSerial {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, TokenError> {
        let mut b = [0u8; 16];
        hex::decode_to_slice(s, &mut b).map_err(|_| {
            TokenError::InvalidInput(format!("{s:?} is not a token serial (32 hex digits)"))
        })?;
        Ok(Self(b))
    }
}

impl Serialize for TokenSerial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenSerial {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A slot's name: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, not starting
/// with `.` or `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SlotName(String);

impl SlotName {
    /// Validates a slot name.
    pub fn new(name: &str) -> Result<Self, TokenError> {
        let ok_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        let ok_start = !name.starts_with(['.', '-']);
        if name.is_empty() || name.len() > 64 || !ok_chars || !ok_start {
            return Err(TokenError::InvalidInput(format!(
                "{name:?} is not a valid slot name: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'"
            )));
        }
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SlotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SlotName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for SlotName {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, TokenError> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for SlotName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Where a slot's key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KeyOrigin {
    /// Generated inside this token (fourth embodiment).
    Generated,
    /// Written in by a trusted issuer (first and second embodiments).
    Issuer {
        /// The issuer's identity key fingerprint.
        issuer: Fingerprint,
    },
    /// Composed inside this token from its own primes and the parties'
    /// partial exponents (fifth embodiment): no one ever holds the whole
    /// private exponent, but the token's own share d0 may leave it once,
    /// sealed to its user (`joint output-d0`).
    Joint,
}

impl KeyOrigin {
    /// Whether the key was made inside the token and never held whole
    /// anywhere else: generated there, or composed there as a joint key.
    /// What an attested certification requires (an issuer's key was
    /// generated outside).
    pub fn made_in_token(&self) -> bool {
        matches!(self, Self::Generated | Self::Joint)
    }
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generated => f.write_str("generated on this token"),
            Self::Issuer { issuer } => write!(f, "written by issuer {issuer}"),
            Self::Joint => f.write_str(
                "composed on this token with the parties' partial exponents (its own share may be released once, sealed)",
            ),
        }
    }
}

/// The token's life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenStatus {
    /// Initialised, no key yet: issuers may still be added to the trust list.
    New,
    /// Holds at least one key; the trust list is fixed for good.
    Active,
}

/// One slot as the outside sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfo {
    /// Slot name.
    pub name: SlotName,
    /// Key algorithm.
    pub algorithm: KeyAlgorithm,
    /// Public key fingerprint.
    pub fingerprint: Fingerprint,
    /// Where the key came from.
    pub origin: KeyOrigin,
    /// Whether a certificate was written.
    pub has_certificate: bool,
}

/// What a token tells anyone who asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The serial.
    pub serial: TokenSerial,
    /// Life-cycle state.
    pub status: TokenStatus,
    /// Device identity key fingerprint.
    pub device_key: Fingerprint,
    /// Transport key fingerprint.
    pub transport_key: Fingerprint,
    /// Issuers trusted to write certificates and keys.
    pub trusted_issuers: Vec<Fingerprint>,
    /// The sequence number the next issuer command must carry.
    pub command_sequence: u64,
    /// The slots, by name.
    pub slots: Vec<SlotInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names() {
        for ok in ["a", "signing", "user.enc-1", "A_9"] {
            SlotName::new(ok).unwrap();
        }
        for bad in ["", "-x", ".x", "a/b", "a b", "ü", &"x".repeat(65)] {
            assert!(SlotName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serial_round_trip() {
        let s = TokenSerial::random().unwrap();
        assert_eq!(s.to_string().parse::<TokenSerial>().unwrap(), s);
        assert!("xyz".parse::<TokenSerial>().is_err());
    }
}
