//! ACME's errors (RFC 8555 §6.7): a problem document (RFC 7807) whose
//! `type` is one of the `urn:ietf:params:acme:error:` names, with the HTTP
//! status each implies.

use std::fmt;

use serde::Serialize;

/// The ACME error types this service answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// The CSR is unacceptable (names, key).
    BadCsr,
    /// The nonce is missing, used or unknown; the client retries.
    BadNonce,
    /// The JWS key is not one the service accepts.
    BadPublicKey,
    /// The revocation reason is not allowed.
    BadRevocationReason,
    /// The JWS algorithm is not one the service accepts.
    BadSignatureAlgorithm,
    /// The certificate is revoked already.
    AlreadyRevoked,
    /// The validation server could not be reached.
    Connection,
    /// The request needs an account that does not exist.
    AccountDoesNotExist,
    /// An account needs external account binding (RFC 8555 §7.3.4).
    ExternalAccountRequired,
    /// The validation answer was not the key authorization.
    IncorrectResponse,
    /// The request does not parse or does not fit.
    Malformed,
    /// Finalize before every authorization is valid.
    OrderNotReady,
    /// Too many requests.
    RateLimited,
    /// The identifier is not one this account may have certified.
    RejectedIdentifier,
    /// Something failed on the service's side.
    ServerInternal,
    /// The TLS handshake of a tls-alpn-01 validation failed.
    Tls,
    /// The account is not allowed to do this.
    Unauthorized,
    /// An identifier type this service does not certify.
    UnsupportedIdentifier,
}

impl ProblemType {
    /// The URN's last part.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BadCsr => "badCSR",
            Self::BadNonce => "badNonce",
            Self::BadPublicKey => "badPublicKey",
            Self::BadRevocationReason => "badRevocationReason",
            Self::BadSignatureAlgorithm => "badSignatureAlgorithm",
            Self::AlreadyRevoked => "alreadyRevoked",
            Self::Connection => "connection",
            Self::AccountDoesNotExist => "accountDoesNotExist",
            Self::ExternalAccountRequired => "externalAccountRequired",
            Self::IncorrectResponse => "incorrectResponse",
            Self::Malformed => "malformed",
            Self::OrderNotReady => "orderNotReady",
            Self::RateLimited => "rateLimited",
            Self::RejectedIdentifier => "rejectedIdentifier",
            Self::ServerInternal => "serverInternal",
            Self::Tls => "tls",
            Self::Unauthorized => "unauthorized",
            Self::UnsupportedIdentifier => "unsupportedIdentifier",
        }
    }

    /// The HTTP status it is sent with.
    pub const fn status(self) -> u16 {
        match self {
            Self::Unauthorized | Self::OrderNotReady => 403,
            Self::RateLimited => 429,
            Self::ServerInternal => 500,
            _ => 400,
        }
    }
}

/// A problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `urn:ietf:params:acme:error:…`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, for a person.
    pub detail: String,
    /// The HTTP status.
    pub status: u16,
}

impl Problem {
    /// A problem of `kind` saying `detail`.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:ietf:params:acme:error:{}", kind.name()),
            detail: detail.into(),
            status: kind.status(),
        }
    }

    /// Whether this is a problem of `kind`.
    pub fn is(&self, kind: ProblemType) -> bool {
        self.kind.rsplit(':').next() == Some(kind.name())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.kind.rsplit(':').next().unwrap_or_default(),
            self.detail
        )
    }
}

impl std::error::Error for Problem {}

/// A `malformed` problem.
pub fn malformed(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::Malformed, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_their_urn_and_status() {
        let p = Problem::new(ProblemType::BadNonce, "used");
        assert_eq!(p.kind, "urn:ietf:params:acme:error:badNonce");
        assert_eq!(p.status, 400);
        assert!(p.is(ProblemType::BadNonce));
        assert!(!p.is(ProblemType::Malformed));
        assert_eq!(Problem::new(ProblemType::Unauthorized, "x").status, 403);
        assert_eq!(p.to_string(), "badNonce: used");
    }
}
