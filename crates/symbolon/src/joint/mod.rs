//! Joint key generation, the fifth embodiment (FIG. 17–21): an RSA key whose
//! secret exponent no party knows, made from partial exponents d1 … d_{k−1}
//! that the issuer and other parties enter into the token, completed by the
//! token's own d0, so that e·d0·d1·…·d_{k−1} ≡ 1 (mod λ(n)).
//!
//! [`arith`] holds the arithmetic: prime generation, λ(n), the patent's
//! coprime correction of e and the partials, d0, partial signatures, and
//! prime-factor recovery from a multiple of λ(n). `slot` is the token's
//! joint slot (FIG. 18: init by the issuer, partials contributed, finish,
//! d0's one release, rotation). [`chain`] holds the protocols' message
//! files: the honest-generation check (FIG. 19) and the reissue request
//! form (FIG. 20). [`chained`] is the parties' side: a new partial, the
//! corrected partial, one link of a chained signature, and the check of a
//! complete chain with e.

pub mod arith;
pub mod chain;
pub mod chained;
mod slot;

pub use chain::{ChainId, ChainMessage, ChainStatus, PartyName, Purpose, ReissueForm, Roster};
pub use chained::{corrected_partial, new_partial, partial_sign, verify_chained};
pub use slot::open_d0;
pub(crate) use slot::JointSlot;

use crate::Code;
use zeroize::Zeroizing;

use crate::keys::RsaPublicKey;

/// One step of a rotation (FIG. 21), as the token takes it. No `Debug`:
/// it carries partials.
pub enum RotateStep {
    /// Fresh primes and e from this starting value (step 703's material).
    Begin {
        /// e′, at least 65537.
        e_start: u64,
    },
    /// A party's old partial (checked against the token's) and, except for
    /// party 0 (the user), its new partial (steps 700–702).
    Enter {
        /// 0 = d0's holder, then in the order the partials first entered.
        party: u32,
        /// The old partial, as the party signs with.
        old: Zeroizing<Vec<u8>>,
        /// The new partial d′_NEW.
        new: Option<Zeroizing<Vec<u8>>>,
    },
    /// The new key replaces the old (steps 703, 705–706).
    Commit,
}

/// What a rotation step did.
#[derive(Debug, Clone)]
pub enum RotateOutcome {
    /// The rotation began; this will be the new public key.
    Begun {
        /// (n_NEW, e_NEW).
        public: RsaPublicKey,
    },
    /// A party's partials were accepted.
    Entered {
        /// The offset δ the party adds to its new partial to sign with it.
        offset: Option<u64>,
        /// Parties still to enter.
        waiting: Vec<u32>,
    },
    /// The new key is in the slot; d0_NEW waits for its one release.
    Committed {
        /// (n_NEW, e_NEW).
        public: RsaPublicKey,
    },
}

use thiserror::Error;

/// Why a joint-key step failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JointError {
    /// Malformed input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The values do not fit together (a wrong partial).
    #[error("{0}")]
    Inconsistent(String),
    /// d0 was released already (it leaves the token once).
    #[error("d0 was released already; it leaves the token once, to one recipient")]
    AlreadyReleased,
    /// A chain message file is malformed.
    #[error("joint chain file: {0}")]
    Chain(String),
    /// A chain's links are not in roster order.
    #[error("{0}")]
    OutOfOrder(String),
    /// A party's partial is wrong; `party` names it.
    #[error("{detail}")]
    WrongPartial {
        /// The party.
        party: String,
        /// What was found.
        detail: String,
    },
    /// A chain, or the token's signature in it, does not verify with e.
    #[error("{0}")]
    DoesNotVerify(String),
    /// Someone else signs next.
    #[error("{0}")]
    NotYourTurn(String),
    /// A party refused.
    #[error("{party} refused: {reason}")]
    Refused {
        /// The party.
        party: String,
        /// Its reason.
        reason: String,
    },
    /// An arithmetic step that cannot fail on valid input failed.
    #[error("internal arithmetic failure: {0}")]
    Internal(String),
}

impl JointError {
    /// A stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidInput(_) => Code::InvalidInput,
            Self::Inconsistent(_) => Code::InconsistentPartials,
            Self::AlreadyReleased => Code::AlreadyReleased,
            Self::Chain(_) => Code::InvalidChain,
            Self::OutOfOrder(_) => Code::ChainOutOfOrder,
            Self::WrongPartial { .. } => Code::WrongPartial,
            Self::DoesNotVerify(_) => Code::ChainDoesNotVerify,
            Self::NotYourTurn(_) => Code::NotYourTurn,
            Self::Refused { .. } => Code::Refused,
            Self::Internal(_) => Code::Internal,
        }
    }
}
