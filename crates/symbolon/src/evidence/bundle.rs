//! The evidence bundle's file format (docs/transparency.md §10): one JSON
//! file with a key's log entries, each with its inclusion proof against
//! one signed checkpoint, and the records those entries are about.

use serde::{Deserialize, Serialize};

use crate::keys::Fingerprint;
use crate::transparency::entry::LogEntry;
use crate::transparency::merkle::Hash;

/// The format tag.
pub const EVIDENCE_FORMAT: &str = "symbolon-evidence/1";

/// Most entries a bundle may carry (a key's history is a few dozen).
pub const MAX_ENTRIES: usize = 10_000;

/// Everything a third person needs to check a key's history offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    /// [`EVIDENCE_FORMAT`].
    pub format: String,
    /// The key, `sha256:…` of its SubjectPublicKeyInfo.
    pub key: Fingerprint,
    /// The signed checkpoint every proof leads to (with any witnesses'
    /// cosignatures).
    pub checkpoint: String,
    /// The log entries about the key, in log order, each proven.
    pub entries: Vec<ProvenEntry>,
    /// The issuing CA's chain, nearest first, DER base64 (the root may be
    /// last; the verifier pins its own copy).
    #[serde(with = "b64_list")]
    pub ca_chain: Vec<Vec<u8>>,
    /// The key's certificates, DER base64.
    #[serde(with = "b64_list")]
    pub certificates: Vec<Vec<u8>>,
    /// The attestations certificates were issued on.
    #[serde(default)]
    pub attestations: Vec<BundledAttestation>,
    /// The escrow deposits of the key (public records: policy, Feldman
    /// commitments, the encrypted key), base64.
    #[serde(default, with = "b64_list")]
    pub escrows: Vec<Vec<u8>>,
    /// The arbitrators the escrow policies name, with their approval keys.
    #[serde(default)]
    pub arbitrators: Vec<BundledArbitrator>,
    /// Recovery requests and their signed approval chains.
    #[serde(default)]
    pub recoveries: Vec<BundledRecovery>,
    /// Joint-key chain files about the key, as the mailbox holds them.
    #[serde(default)]
    pub joint_chains: Vec<String>,
}

/// A log entry (with the openings of its committed fields) and its
/// inclusion proof in the bundle's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEntry {
    /// The entry.
    pub entry: LogEntry,
    /// The RFC 9162 audit path, leaf side first, base64.
    #[serde(with = "crate::transparency::proof::b64_hashes")]
    pub proof: Vec<Hash>,
}

/// An attestation a certificate was issued on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledAttestation {
    /// The certificate's serial, hex.
    pub serial: String,
    /// The attestation file, as the CA kept it.
    pub attestation: String,
}

/// An arbitrator and the key that signs its decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledArbitrator {
    /// Its name.
    pub id: String,
    /// Its approval key's SubjectPublicKeyInfo, DER base64.
    #[serde(with = "b64")]
    pub approval_key: Vec<u8>,
}

/// A recovery request and its approval chain, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledRecovery {
    /// The request's canonical record, base64.
    #[serde(with = "b64")]
    pub request: Vec<u8>,
    /// Each link of its approval chain, in order, base64.
    #[serde(with = "b64_list")]
    pub approvals: Vec<Vec<u8>>,
}

mod b64 {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        B64.decode(String::deserialize(d)?)
            .map_err(serde::de::Error::custom)
    }
}

mod b64_list {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|b| B64.encode(b)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|s| B64.decode(s).map_err(serde::de::Error::custom))
            .collect()
    }
}
