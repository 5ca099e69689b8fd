//! X.509 errors.

use thiserror::Error;

use crate::keys::KeyError;

/// Why an X.509 operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum X509Error {
    /// Input that does not parse.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// A signature algorithm symbolon does not accept.
    #[error("unsupported signature algorithm {0}; accepted: sha256/384/512WithRSAEncryption")]
    UnsupportedAlgorithm(String),
    /// A signature that does not verify.
    #[error("the {0} signature does not verify")]
    BadSignature(&'static str),
    /// The signer failed (a token error, rendered).
    #[error("signing failed: {0}")]
    Signing(String),
    /// Building or encoding failed.
    #[error("cannot encode {what}: {reason}")]
    Encoding {
        /// What was being built.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A certification path that does not hold.
    #[error("the certification path does not verify: {0}")]
    Path(String),
    /// A key-layer failure.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl X509Error {
    pub(crate) fn malformed(what: &'static str) -> impl FnOnce(der::Error) -> X509Error {
        move |e| X509Error::Malformed {
            what,
            reason: e.to_string(),
        }
    }

    pub(crate) fn encoding<E: std::fmt::Display>(
        what: &'static str,
    ) -> impl FnOnce(E) -> X509Error {
        move |e| X509Error::Encoding {
            what,
            reason: e.to_string(),
        }
    }
}
