//! Joint key generation, the fifth embodiment (FIG. 17–21): an RSA key whose
//! secret exponent no party knows, made from partial exponents d1 … d_{k−1}
//! that the issuer and other parties enter into the token, completed by the
//! token's own d0, so that e·d0·d1·…·d_{k−1} ≡ 1 (mod λ(n)).
//!
//! This module holds the arithmetic ([`arith`]): prime generation, λ(n), the
//! patent's coprime correction of e and the partials, d0, partial signatures,
//! and prime-factor recovery from a multiple of λ(n). The token's joint slot,
//! its one-time output of d0 and the verification, reissue and rotation
//! protocols build on it (issue 5, in progress; see the session note).

pub mod arith;

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
    /// An arithmetic step that cannot fail on valid input failed.
    #[error("internal arithmetic failure: {0}")]
    Internal(String),
}
