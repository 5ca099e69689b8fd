//! The registry (the patent's public key storage units 114, 134 and 142):
//! every public key ever registered, the certificates issued for them, the
//! tokens and their device identity keys, and an append-only, hash-chained
//! audit log with the transparency log's Merkle tree over it.
//!
//! Invariants live in the database, not in memory, so they hold across many
//! processes: a public key's fingerprint is a primary key (a key is reserved,
//! certified or abandoned at most once, ever), and audit appends move a
//! one-row head with a compare-and-set, so the chain cannot fork.
//!
//! Every write names the authenticated caller it serves ([`actor`]); the
//! operator credentials the service accepts, and the enrollment codes that
//! make them, are rows here too.
//!
//! SQLite (a file in the data directory) is the embedded default; PostgreSQL
//! runs the same queries over its own migrations (`Backend`), through sqlx's
//! `Any` driver.

mod acme;
pub mod actor;
mod audit;
mod credentials;
mod deferred;
mod error;
mod log_refs;
mod log_tree;
mod records;
mod registry;
mod revocation;
mod tx_cache;
mod vetting;
mod writer;
mod writes;

pub use acme::{AccountKey, AcmeAccountRecord, AcmeAccountStatus, EabRecord, NewAcmeAccount};
pub use actor::{acting_as, Actor};
pub use audit::{AuditEntry, AuditKind, AuditVerification, BrokenLink, GENESIS_HASH};
pub use credentials::{CredentialRecord, CredentialState, Grant, NewCredential};
pub use error::StoreError;
pub use log_tree::{StoredCheckpoint, WitnessRecord, CATCH_UP_BATCH};
pub use records::{
    ArbitratorRecord, CertificateRecord, CertificateSerial, ClaimScope, KeyRecord, KeyState,
    ModulusRecord, RecoveryRecord, ReservationId, SharedKey, TokenRecord,
};
pub use registry::{Backend, DeliveryLinks, Registry};
pub use revocation::{
    CertificateListing, CertificateStatus, CrlBase, RevocationChanges, RevocationOrigin,
    RevocationRecord, Revoke, RevokedSet, StatusLookup, StoredCrl,
};
pub use symbolon::evidence::refs::LogRef;
pub use vetting::{
    ManufacturerRootRecord, NamePolicyRecord, NewRegistration, RegistrationRecord,
    RegistrationState, Vouch,
};
