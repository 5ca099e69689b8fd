//! The log's entries as the tree holds them (docs/transparency.md §2): an
//! audit entry's canonical encoding — the same bytes its chain hash covers
//! — is the leaf, so the hash chain and the tree agree on every entry.

use super::commitment::{open, CommitmentError, Openings};
use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use super::merkle::{leaf_hash, Hash};
use crate::encoding::Writer;

/// The domain label every entry's encoding starts with.
pub const ENTRY_DOMAIN: &str = "symbolon/audit-entry/v1";

/// One audit entry, as `audit_log` stores it and the log serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// Position in the log, from 1; its leaf is `seq - 1`.
    pub seq: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// What kind of event.
    pub kind: String,
    /// Its details, JSON.
    pub detail: String,
    /// The previous entry's hash, hex (64 zeros before the first).
    #[serde(with = "hex_bytes")]
    pub prev_hash: Vec<u8>,
    /// This entry's chain hash, hex.
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
    /// The openings of its committed fields (not hashed; kept beside the
    /// log for those who may read them: auditors, an evidence bundle's
    /// holder). Absent from what the log serves as the entry itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openings: Option<Openings>,
}

/// `canonical(ENTRY_DOMAIN, seq, at, kind, detail, prev_hash)`: u32-length
/// prefixed strings and bytes, big-endian u64 integers.
pub fn encode(seq: i64, at: i64, kind: &str, detail: &str, prev_hash: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_domain(ENTRY_DOMAIN);
    w.u64(seq as u64);
    w.u64(at as u64);
    w.str(kind);
    w.str(detail);
    w.bytes(prev_hash);
    w.into_bytes().to_vec()
}

/// The chain hash of an entry: SHA-256 of its encoding.
pub fn chain_hash(seq: i64, at: i64, kind: &str, detail: &str, prev_hash: &[u8]) -> Hash {
    hashes(seq, at, kind, detail, prev_hash).0
}

/// An entry's chain hash and leaf hash, from one encoding (the audit
/// append needs both).
pub fn hashes(seq: i64, at: i64, kind: &str, detail: &str, prev_hash: &[u8]) -> (Hash, Hash) {
    let encoding = encode(seq, at, kind, detail, prev_hash);
    let d = digest::digest(&digest::SHA256, &encoding);
    let mut chain = [0u8; 32];
    chain.copy_from_slice(d.as_ref());
    (chain, leaf_hash(&encoding))
}

impl LogEntry {
    /// Its encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode(self.seq, self.at, &self.kind, &self.detail, &self.prev_hash)
    }

    /// Its leaf index in the tree.
    pub fn index(&self) -> Option<u64> {
        u64::try_from(self.seq).ok()?.checked_sub(1)
    }

    /// Its leaf hash: `SHA-256(0x00 ‖ encoding)`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }

    /// Its detail in the clear: each opening checked against its
    /// commitment and put in its place.
    pub fn opened_detail(&self) -> Result<serde_json::Value, CommitmentError> {
        match &self.openings {
            Some(o) => open(&self.detail, o),
            None => serde_json::from_str(&self.detail).map_err(|_| CommitmentError::NotAnObject),
        }
    }

    /// Whether the chain hash it carries is the one its contents give.
    pub fn hash_matches(&self) -> bool {
        let want = chain_hash(self.seq, self.at, &self.kind, &self.detail, &self.prev_hash);
        want.as_slice() == self.hash.as_slice()
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        // One spelling per hash: lower-case, as the log writes it.
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("hashes are lower-case hex"));
        }
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}
