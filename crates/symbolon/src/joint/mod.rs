//! Joint key generation, the fifth embodiment (FIG. 17–21): an RSA key whose
//! secret exponent no party knows, made from partial exponents d1 … d_{k−1}
//! that the issuer and other parties enter into the token, completed by the
//! token's own d0, so that e·d0·d1·…·d_{k−1} ≡ 1 (mod λ(n)).
//!
//! [`arith`] holds the arithmetic: prime generation, λ(n), the patent's
//! coprime correction of e and the partials, d0, partial signatures, and
//! prime-factor recovery from a multiple of λ(n). `slot` is the token's
//! joint slot (FIG. 18: init by the issuer, partials contributed, finish,
//! d0's one release). The verification, reissue and rotation protocols
//! (FIG. 19–21) build on these (issue 5, in progress; see the session note).

pub mod arith;
mod slot;

pub use slot::open_d0;
pub(crate) use slot::JointSlot;

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
    /// An arithmetic step that cannot fail on valid input failed.
    #[error("internal arithmetic failure: {0}")]
    Internal(String),
}

impl JointError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::Inconsistent(_) => "inconsistent_partials",
            Self::AlreadyReleased => "already_released",
            Self::Internal(_) => "internal",
        }
    }
}
