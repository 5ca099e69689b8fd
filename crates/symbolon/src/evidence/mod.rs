//! Evidence bundles (docs/transparency.md §10): everything a third person —
//! a court, an arbitrator, the subscriber — needs to reconstruct one key's
//! history and check it offline against a pinned CA root and the log key.
//! The patent's promise to "identify who committed the illegal act from a
//! third person's viewpoint", one key at a time.
//!
//! - [`bundle`]: the file format.
//! - [`refs`]: the objects a log entry names (how a key's entries are found
//!   and how the verifier knows each is about the key).
//! - [`verify`](mod@verify): the offline check.

pub mod bundle;
pub mod refs;
pub mod verify;

pub use bundle::{
    BundledArbitrator, BundledAttestation, BundledRecovery, EvidenceBundle, ProvenEntry,
    EVIDENCE_FORMAT,
};
pub use verify::{verify, CertificateFinding, EvidenceError, EvidenceReport, RecoveryFinding};

/// How an entry binds a record it names (an attestation, a deposit): the
/// record's SHA-256, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}
