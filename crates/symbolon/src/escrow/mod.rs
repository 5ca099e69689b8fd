//! Escrow and recovery, the third embodiment (FIG. 7–12) and its
//! modification for a destroyed device: a private key deposited under a
//! policy of arbitrators, recovered only when the policy holds over their
//! signed, ordered approvals, and only into the token it is bound to (or a
//! new one the approvals name).
//!
//! - [`policy`]: the policy language (`all`, `any(k, …)`, `seq`) and its
//!   evaluation over an ordered chain of approvals.
//! - [`sharing`]: Feldman verifiable secret sharing (vsss-rs, P-256) of the
//!   escrow key down the policy tree, with public commitments per node.
//! - [`deposit`]: the station's side: the key encrypted under a fresh escrow
//!   key, the key split over the policy, each share in an age envelope to
//!   its arbitrator.
//! - [`recovery`]: requests, signed approvals chained in order, and the
//!   enclave's check-and-combine.
//! - [`enclave_share`]: an approved share re-encrypted to the enclave
//!   (HPKE to its P-256 key).

mod arbitrator;
pub mod deposit;
mod enclave;
pub mod enclave_share;
mod error;
pub mod policy;
pub mod recovery;
pub mod sharing;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use arbitrator::ArbitratorIdentity;
pub use deposit::{EscrowDeposit, EscrowId, ShareEnvelope};
pub use enclave::EnclaveStatement;
pub use error::EscrowError;
pub use policy::{Policy, PolicyError, StatusNode};
pub use recovery::{recover, verify_chain, Approval, Decision, RecoveryId, RecoveryRequest};

pub use sharing::{Commitments, LeafShare};

use crate::keys::IdentityPublicKey;

/// An arbitrator's name: 1–64 of `a-z 0-9 . _ -`, starting with a letter
/// or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArbitratorId(String);

impl ArbitratorId {
    /// Checks and wraps a name.
    pub fn new(name: &str) -> Result<Self, EscrowError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && name.as_bytes()[0].is_ascii_alphanumeric();
        if ok && !matches!(name, "all" | "any" | "seq") {
            Ok(Self(name.to_string()))
        } else {
            Err(EscrowError::InvalidInput(format!(
                "{name:?} is not an arbitrator name (1–64 of a-z 0-9 . _ -, starting with a letter or digit; not all/any/seq)"
            )))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArbitratorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ArbitratorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for ArbitratorId {
    type Err = EscrowError;
    fn from_str(s: &str) -> Result<Self, EscrowError> {
        Self::new(s)
    }
}

impl Serialize for ArbitratorId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ArbitratorId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What the registry knows of an arbitrator: public parts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArbitratorPublic {
    /// The name.
    pub id: ArbitratorId,
    /// The age X25519 recipient shares are encrypted to (`age1…`).
    pub share_recipient: String,
    /// The key that signs approvals and refusals.
    pub approval_key: IdentityPublicKey,
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    h
}
