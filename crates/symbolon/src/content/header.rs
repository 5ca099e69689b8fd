//! The sealed content header: who the content is for, which content it is,
//! and its key wrapped to the recipient (docs/content-format.md §2).

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ContentError;
use crate::keys::Fingerprint;

/// The first 16 bytes of every sealed content stream.
pub const MAGIC: &[u8; 16] = b"symbolon-content";
/// The format version of content sealed to an RSA key (RSA-OAEP).
pub const VERSION: u8 = 1;
/// The format version of content sealed to an EC or X25519 key (HPKE,
/// docs/content-format.md §7).
pub const VERSION_HPKE: u8 = 2;
/// Smallest and largest chunk sizes, as powers of two (1 KiB … 16 MiB).
pub const CHUNK_LOG2_RANGE: std::ops::RangeInclusive<u8> = 10..=24;
/// The default chunk size (64 KiB).
pub const DEFAULT_CHUNK_LOG2: u8 = 16;
/// The AES-GCM tag after every chunk.
pub const TAG_LEN: usize = 16;
/// The header MAC (HMAC-SHA-256).
pub const MAC_LEN: usize = 32;
/// The per-file salt.
pub const SALT_LEN: usize = 32;
/// Wrapped keys in version 1: RSA-OAEP under a 2048 … 4096-bit key.
const WRAPPED_RANGE: std::ops::RangeInclusive<usize> = 256..=512;
/// Bytes before the wrapped key.
const FIXED_LEN: usize = 16 + 1 + 1 + 32 + 16 + SALT_LEN + 2;

/// Names a piece of content: 16 bytes, shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentId([u8; 16]);

impl ContentId {
    /// A fresh random id.
    pub fn random() -> Result<Self, ContentError> {
        let mut b = [0u8; 16];
        aws_lc_rs::rand::fill(&mut b).map_err(|_| ContentError::Internal("random"))?;
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

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({self})")
    }
}

impl FromStr for ContentId {
    type Err = ContentError;
    fn from_str(s: &str) -> Result<Self, ContentError> {
        let bytes = hex::decode(s.trim())
            .ok()
            .and_then(|v| <[u8; 16]>::try_from(v).ok())
            .ok_or_else(|| {
                ContentError::InvalidInput(format!("content id {s:?} is not 32 hexadecimal digits"))
            })?;
        Ok(Self(bytes))
    }
}

impl Serialize for ContentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A parsed header. Every field is authenticated by [`ContentHeader::mac`]
/// under a key derived from the content key, so a reader learns whether the
/// header is intact only once it holds that key (inside the token).
#[derive(Clone, PartialEq, Eq)]
pub struct ContentHeader {
    version: u8,
    chunk_log2: u8,
    recipient: Fingerprint,
    content_id: ContentId,
    salt: [u8; SALT_LEN],
    wrapped_key: Vec<u8>,
    mac: [u8; MAC_LEN],
}

impl fmt::Debug for ContentHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentHeader")
            .field("chunk_size", &self.chunk_size())
            .field("recipient", &self.recipient)
            .field("content_id", &self.content_id)
            .finish_non_exhaustive()
    }
}

impl ContentHeader {
    pub(crate) fn new(
        version: u8,
        chunk_log2: u8,
        recipient: Fingerprint,
        content_id: ContentId,
        salt: [u8; SALT_LEN],
        wrapped_key: Vec<u8>,
    ) -> Result<Self, ContentError> {
        if !CHUNK_LOG2_RANGE.contains(&chunk_log2) {
            return Err(ContentError::InvalidInput(format!(
                "chunk size 2^{chunk_log2} is outside 1 KiB … 16 MiB"
            )));
        }
        match version {
            VERSION if WRAPPED_RANGE.contains(&wrapped_key.len()) => {}
            VERSION => {
                return Err(ContentError::InvalidInput(
                    "the recipient key must be RSA 2048 … 4096 bits".into(),
                ))
            }
            VERSION_HPKE if super::wrap::hpke_kem(&wrapped_key).is_some() => {}
            VERSION_HPKE => {
                let id = wrapped_key
                    .get(..2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]));
                return Err(ContentError::InvalidInput(
                    match id.and_then(crate::keys::hpke::Kem::from_id) {
                        Some(kem) => format!(
                            "a {}-byte wrapped key does not fit its KEM 0x{:04x} ({}: {} bytes)",
                            wrapped_key.len(),
                            kem.id(),
                            kem.curve().standard_name(),
                            2 + kem.sealed_len(super::key::CONTENT_KEY_LEN)
                        ),
                        None => format!(
                            "the wrapped key names HPKE KEM {}, not one of 0x0010 (P-256), 0x0011 (P-384), 0x0020 (X25519)",
                            id.map_or("(none)".into(), |i| format!("0x{i:04x}"))
                        ),
                    },
                ));
            }
            other => {
                return Err(ContentError::InvalidInput(format!(
                    "format version {other} is not one this build writes"
                )))
            }
        }
        Ok(Self {
            version,
            chunk_log2,
            recipient,
            content_id,
            salt,
            wrapped_key,
            mac: [0; MAC_LEN],
        })
    }

    pub(crate) fn set_mac(&mut self, mac: [u8; MAC_LEN]) {
        self.mac = mac;
    }

    /// The format version: [`VERSION`] (RSA-OAEP) or [`VERSION_HPKE`].
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Plaintext bytes per chunk (every chunk but the last is this long).
    pub fn chunk_size(&self) -> usize {
        1 << self.chunk_log2
    }

    /// The fingerprint of the key the content key is wrapped to.
    pub fn recipient(&self) -> &Fingerprint {
        &self.recipient
    }

    /// Which content this is.
    pub fn content_id(&self) -> ContentId {
        self.content_id
    }

    /// The per-file salt of the key derivation.
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// The content key wrapped to the recipient: RSA-OAEP-SHA-256
    /// (version 1), or the HPKE KEM id, `enc` and ciphertext (version 2).
    pub fn wrapped_key(&self) -> &[u8] {
        &self.wrapped_key
    }

    /// The header MAC.
    pub fn mac(&self) -> &[u8; MAC_LEN] {
        &self.mac
    }

    /// The bytes the MAC covers: everything before it.
    pub fn authenticated_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + self.wrapped_key.len());
        out.extend_from_slice(MAGIC);
        out.push(self.version);
        out.push(self.chunk_log2);
        out.extend_from_slice(self.recipient.as_bytes());
        out.extend_from_slice(self.content_id.as_bytes());
        out.extend_from_slice(&self.salt);
        // WRAPPED_RANGE keeps the length within u16.
        out.extend_from_slice(&(self.wrapped_key.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.wrapped_key);
        out
    }

    /// The whole encoded header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.authenticated_bytes();
        out.extend_from_slice(&self.mac);
        out
    }

    /// Reads a header from the start of a stream, leaving the stream at the
    /// first chunk.
    pub fn read_from(input: &mut impl Read) -> Result<Self, ContentError> {
        let mut fixed = [0u8; FIXED_LEN];
        read_exact(input, &mut fixed, "header")?;
        if &fixed[..16] != MAGIC {
            return Err(ContentError::NotSealed(
                "the stream does not start with the sealed content magic".into(),
            ));
        }
        let version = fixed[16];
        if version != VERSION && version != VERSION_HPKE {
            return Err(ContentError::NotSealed(format!(
                "format version {version} is not one this build reads (it reads {VERSION} and {VERSION_HPKE})"
            )));
        }
        let chunk_log2 = fixed[17];
        let mut at = 18;
        let mut take = |out: &mut [u8]| {
            out.copy_from_slice(&fixed[at..at + out.len()]);
            at += out.len();
        };
        let (mut recipient, mut content_id) = ([0u8; 32], [0u8; 16]);
        let (mut salt, mut wrapped_len) = ([0u8; SALT_LEN], [0u8; 2]);
        take(&mut recipient);
        take(&mut content_id);
        take(&mut salt);
        take(&mut wrapped_len);
        let (recipient, content_id) = (Fingerprint::from_bytes(recipient), ContentId(content_id));
        let wrapped_len = u16::from_be_bytes(wrapped_len) as usize;
        // Both versions' wrapped keys fit: 82 … 147 bytes (HPKE), 256 … 512 (RSA).
        if version == VERSION && !WRAPPED_RANGE.contains(&wrapped_len) {
            return Err(ContentError::NotSealed(format!(
                "wrapped key length {wrapped_len} is not that of an RSA 2048 … 4096-bit key"
            )));
        }
        if version == VERSION_HPKE && !(82..=147).contains(&wrapped_len) {
            return Err(ContentError::NotSealed(format!(
                "wrapped key length {wrapped_len} is not that of an HPKE-wrapped key (82 … 147 bytes)"
            )));
        }
        let mut wrapped_key = vec![0u8; wrapped_len];
        read_exact(input, &mut wrapped_key, "header")?;
        let mut mac = [0u8; MAC_LEN];
        read_exact(input, &mut mac, "header")?;
        let mut header = Self::new(
            version,
            chunk_log2,
            recipient,
            content_id,
            salt,
            wrapped_key,
        )
        .map_err(|e| ContentError::NotSealed(e.to_string()))?;
        header.mac = mac;
        Ok(header)
    }
}

/// `read_exact` with a clear error for a stream that ends early.
pub(crate) fn read_exact(
    input: &mut impl Read,
    buf: &mut [u8],
    what: &str,
) -> Result<(), ContentError> {
    input.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ContentError::NotSealed(format!("the stream ends inside the {what}"))
        } else {
            ContentError::Io(format!("cannot read the sealed content: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ContentHeader {
        let mut h = ContentHeader::new(
            VERSION,
            16,
            Fingerprint::from_bytes([7; 32]),
            ContentId([9; 16]),
            [3; SALT_LEN],
            vec![5; 384],
        )
        .unwrap();
        h.set_mac([1; MAC_LEN]);
        h
    }

    #[test]
    fn round_trip() {
        let h = header();
        let bytes = h.to_bytes();
        assert_eq!(bytes.len(), FIXED_LEN + 384 + MAC_LEN);
        let back = ContentHeader::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.chunk_size(), 65536);
    }

    #[test]
    fn refusals() {
        let good = header().to_bytes();
        let mut bad = good.clone();
        bad[0] ^= 1;
        assert!(matches!(
            ContentHeader::read_from(&mut bad.as_slice()),
            Err(ContentError::NotSealed(_))
        ));
        let mut bad = good.clone();
        bad[16] = 2;
        assert!(ContentHeader::read_from(&mut bad.as_slice()).is_err());
        let mut bad = good.clone();
        bad[17] = 40;
        assert!(ContentHeader::read_from(&mut bad.as_slice()).is_err());
        for cut in 0..good.len() {
            assert!(
                ContentHeader::read_from(&mut &good[..cut]).is_err(),
                "{cut}"
            );
        }
    }

    #[test]
    fn content_ids() {
        let id: ContentId = "000102030405060708090a0b0c0d0e0f".parse().unwrap();
        assert_eq!(id.to_string(), "000102030405060708090a0b0c0d0e0f");
        assert!("00".parse::<ContentId>().is_err());
        assert!("zz".repeat(16).parse::<ContentId>().is_err());
    }
}
