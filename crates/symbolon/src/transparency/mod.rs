//! The transparency log (docs/transparency.md): what lets a third person —
//! a court, an arbitrator, a subscriber — check one fact of the log with a
//! few hundred bytes and no database, and tell whether the CA shows
//! everyone the same log.
//!
//! - [`merkle`]: the RFC 9162 Merkle tree over the log's entries, kept as
//!   stored complete subtrees; tree heads, inclusion and consistency
//!   proofs and their verification.
//! - [`note`]: C2SP signed notes and their Ed25519 verifier keys.
//! - [`entry`]: an audit entry as the tree holds it (its leaf encoding).
//! - [`checkpoint`]: C2SP checkpoints, the signed tree heads.
//! - [`commitment`]: salted commitments of the entries' personal fields.
//! - [`proof`]: the proof files a verifier is handed, and the whole offline
//!   checks of an entry's inclusion and of two checkpoints' consistency.

pub mod checkpoint;
pub mod commitment;
pub mod entry;
pub mod merkle;
pub mod note;
pub mod proof;
