//! Revocation (docs/revocation.md): RFC 5280 reasons, the CRL the CA signs,
//! the OCSP responder's requests and responses, a subscriber's own signed
//! revocation, and the old key's authorisation of a renewal. Pure: the registry keeps who is revoked, the service
//! signs inside the CA's token.

pub mod crl;
pub mod ocsp;
mod reason;
pub mod renewal;
pub mod self_request;

pub use crl::{build_crl, read_crl, CrlParams, CrlSummary, DeltaOf, RemovedEntry, RevokedEntry};
pub use reason::RevocationReason;
pub use renewal::RenewalAuthorization;
pub use self_request::SelfRevocation;

use thiserror::Error;

use crate::x509::X509Error;
use crate::Code;

/// Why a revocation operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationError {
    /// A value the caller gave that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// Input that does not parse.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// A signature that does not verify.
    #[error("the {0} signature does not verify")]
    BadSignature(&'static str),
    /// A signed statement too far from now.
    #[error("the statement was signed at {signed_at}, the CA's clock says {now}: sign it again now (at most 5 minutes apart)")]
    Stale {
        /// When it says it was signed.
        signed_at: i64,
        /// The CA's clock.
        now: i64,
    },
    /// Encoding failed.
    #[error("cannot encode {what}: {reason}")]
    Encoding {
        /// What was being built.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Signing failed.
    #[error(transparent)]
    X509(#[from] X509Error),
}

impl RevocationError {
    /// The stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid(_) => Code::InvalidInput,
            Self::Malformed { .. } => Code::InvalidRequest,
            Self::BadSignature(_) => Code::BadSignature,
            Self::Stale { .. } => Code::ReplayedCommand,
            Self::Encoding { .. } | Self::X509(_) => Code::Internal,
        }
    }
}
