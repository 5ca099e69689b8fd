//! The client side of symbolon's edge (docs/access.md): HTTPS to the
//! service with its CA pinned ([`trust`]), the caller's credential (a key in
//! a token and the certificate this CA issued for it) signing the TLS
//! handshake inside the token ([`credential`]), JSON requests over it
//! ([`client`]), and the issuance station's workflow over those
//! ([`station`]).

pub mod client;
pub mod credential;
pub mod station;
pub mod trust;

pub use client::{Answer, ServiceClient};
pub use credential::{Credential, DEFAULT_CREDENTIAL_SLOT};
pub use station::{Enrollment, Issued, Station, StationError};
pub use trust::PinnedRoots;

use symbolon::Code;
use thiserror::Error;

/// Why a client could not be set up or a request not made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The pinned CA certificate file is missing or unreadable.
    #[error("the CA certificate to pin: {0}")]
    Trust(String),
    /// The credential's token or certificate is missing or unusable.
    #[error("the credential: {0}")]
    Credential(String),
    /// The token failed.
    #[error(transparent)]
    Token(#[from] symbolon::token::TokenError),
    /// The service could not be reached (connection, TLS, timeout).
    #[error("cannot reach the service at {url}: {reason}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why, as the transport says.
        reason: String,
    },
    /// The service refused, with its error code and message.
    #[error("the CA refused: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The service's code (`unrecognised` for one this version does
        /// not know; its name is then in the message).
        code: Code,
        /// The service's message.
        message: String,
        /// The `Retry-After` header, if any.
        retry_after: Option<String>,
    },
    /// The service answered with something that is not JSON.
    #[error("the service answered {status} with a body that is not JSON: {reason}")]
    NotJson {
        /// The HTTP status.
        status: u16,
        /// Why.
        reason: String,
    },
}

impl ClientError {
    /// A stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Trust(_) | Self::Credential(_) => Code::InvalidInput,
            Self::Token(e) => e.code(),
            Self::Unreachable { .. } => Code::CaUnreachable,
            Self::Refused { code, .. } => *code,
            Self::NotJson { .. } => Code::BadResponse,
        }
    }
}
