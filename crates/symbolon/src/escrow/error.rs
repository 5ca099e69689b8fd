//! Errors of escrow and recovery, each with a stable code and, where a party
//! is at fault, its name.

use crate::Code;
use thiserror::Error;

/// Why an escrow or recovery step failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EscrowError {
    /// Malformed input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A policy names an arbitrator the registry does not know.
    #[error("arbitrator {0} is not registered")]
    UnknownArbitrator(String),
    /// An approval whose signature does not verify under its arbitrator's key.
    #[error("the approval at position {position} claims to be from {arbitrator} but its signature does not verify (forged)")]
    ForgedApproval {
        /// Position in the chain, from 1.
        position: usize,
        /// The arbitrator named.
        arbitrator: String,
    },
    /// An approval made for another request.
    #[error("the approval by {arbitrator} was made for another recovery request (replayed)")]
    ReplayedApproval {
        /// The arbitrator.
        arbitrator: String,
    },
    /// The chain of approvals is not linked in order.
    #[error("the approval chain is broken at position {position}: approvals were reordered, removed or inserted")]
    BrokenChain {
        /// Position in the chain, from 1.
        position: usize,
    },
    /// An arbitrator approved or refused twice.
    #[error("{0} has already decided on this request")]
    AlreadyDecided(String),
    /// An approval given before its turn under a `seq`: it would count for
    /// nothing and use up the arbitrator's one decision.
    #[error("not your turn: {arbitrator} cannot approve yet ({waiting_for})")]
    NotYourTurn {
        /// Who tried to approve.
        arbitrator: String,
        /// Who may act now (comma-separated), or what the request waits for.
        waiting_for: String,
    },
    /// A share that fails its check, blamed on the arbitrator who sent it.
    #[error("the share sent by {arbitrator} is bad: {reason}")]
    BadShare {
        /// The arbitrator.
        arbitrator: String,
        /// Why.
        reason: String,
    },
    /// The approvals given do not satisfy the policy.
    #[error("the policy does not hold over the approvals given (in their order): {0}")]
    PolicyNotSatisfied(String),
    /// The escrowed blob does not decrypt or the key it holds is not the
    /// registered one.
    #[error("the escrowed key is damaged or not the registered key: {0}")]
    EscrowDamaged(String),
    /// The target token is neither the bound one nor an approved new one.
    #[error("token {target} is not the token the key is bound to, and the approved request did not rebind it")]
    WrongTarget {
        /// The target's serial.
        target: String,
    },
    /// A cryptographic operation that cannot fail on valid input failed.
    #[error("internal cryptographic failure: {0}")]
    Internal(String),
}

impl EscrowError {
    /// A stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidInput(_) => Code::InvalidInput,
            Self::UnknownArbitrator(_) => Code::UnknownArbitrator,
            Self::ForgedApproval { .. } => Code::ForgedApproval,
            Self::ReplayedApproval { .. } => Code::ReplayedApproval,
            Self::BrokenChain { .. } => Code::BrokenChain,
            Self::AlreadyDecided(_) => Code::AlreadyDecided,
            Self::NotYourTurn { .. } => Code::NotYourTurn,
            Self::BadShare { .. } => Code::BadShare,
            Self::PolicyNotSatisfied(_) => Code::PolicyNotSatisfied,
            Self::EscrowDamaged(_) => Code::EscrowDamaged,
            Self::WrongTarget { .. } => Code::WrongTarget,
            Self::Internal(_) => Code::Internal,
        }
    }
}
