//! The transparency log (docs/transparency.md): what lets a third person —
//! a court, an arbitrator, a subscriber — check one fact of the log with a
//! few hundred bytes and no database, and tell whether the CA shows
//! everyone the same log.
//!
//! - [`merkle`]: the RFC 9162 Merkle tree over the log's entries, kept as
//!   stored complete subtrees; tree heads, inclusion and consistency
//!   proofs and their verification.

pub mod merkle;
