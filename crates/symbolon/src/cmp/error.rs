//! Why a CMP message is refused, with the failure bit its answer carries.

use thiserror::Error;

use super::FailInfo;

/// Why a CMP message cannot be answered as asked.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CmpError {
    /// Not a DER PKIMessage, or a part of it malformed.
    #[error("not a CMP message this CA reads: {0}")]
    Malformed(String),
    /// Over [`super::MAX_MESSAGE`].
    #[error("the message is {0} bytes; at most {max} are accepted", max = super::MAX_MESSAGE)]
    TooLarge(usize),
    /// A protocol version other than 2 or 3.
    #[error("pvno {0}: this CA speaks CMP versions 2 and 3 (RFC 9480)")]
    UnsupportedVersion(i64),
    /// A header field the exchange needs is missing.
    #[error("the header has no {0} (RFC 9483 §3.1)")]
    MissingField(&'static str),
    /// An unprotected message, or one whose protection does not verify.
    #[error("{0}")]
    BadProtection(String),
    /// A protection algorithm (or its parameters) this CA does not accept.
    #[error("{0}")]
    BadAlgorithm(String),
    /// A body this CA does not serve.
    #[error("{0}")]
    UnsupportedBody(String),
}

impl CmpError {
    /// The PKIFailureInfo bit an error message says this with.
    pub fn fail_info(&self) -> FailInfo {
        match self {
            CmpError::Malformed(_) | CmpError::TooLarge(_) => FailInfo::BadDataFormat,
            CmpError::UnsupportedVersion(_) => FailInfo::UnsupportedVersion,
            CmpError::MissingField(_) | CmpError::UnsupportedBody(_) => FailInfo::BadRequest,
            CmpError::BadProtection(_) => FailInfo::BadMessageCheck,
            CmpError::BadAlgorithm(_) => FailInfo::BadAlg,
        }
    }
}
