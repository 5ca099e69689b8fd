//! Registry errors.

use symbolon::keys::Fingerprint;
use symbolon::Code;
use thiserror::Error;

/// Why a registry operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The public key was registered before: it can never be used again.
    #[error("public key {0} was registered before; a key is certified at most once, ever")]
    DuplicateKey(Fingerprint),
    /// No such record.
    #[error("{0} not found")]
    NotFound(String),
    /// A reservation that does not exist or is no longer open.
    #[error("reservation {0} is closed: it was used or abandoned")]
    ReservationClosed(String),
    /// A name or record that exists already.
    #[error("{0} exists already")]
    AlreadyExists(String),
    /// Another write took the chain position this one expected.
    #[error("another approval was added to request {0} first; read its status and sign again")]
    ChainMoved(String),
    /// A record changed since the writer read it (compare-and-swap).
    #[error("{0} changed since it was read; fetch it again and redo the step")]
    Stale(String),
    /// A one-shot event that already happened.
    #[error("{scope} {id} was already used; it can be used once only")]
    AlreadyClaimed {
        /// What kind of event.
        scope: &'static str,
        /// Its id, hex.
        id: String,
    },
    /// An enrollment code that is unknown, used or expired (one message for
    /// all three: a guesser learns nothing).
    #[error("this enrollment code is unknown, used or expired; ask an admin for a new one (`symbolon admin grant`)")]
    BadEnrollmentCode,
    /// Revoking the last active admin credential: nobody could grant again.
    #[error("this is the last active admin credential; grant another admin first")]
    LastAdmin,
    /// A registration that stopped being live between the review and the
    /// issuance's write (used up, withdrawn or expired).
    #[error("registration {0} was used up, withdrawn or expired while the request was reviewed; nothing was issued")]
    RegistrationSpent(String),
    /// A certificate revoked for good, or on hold already.
    #[error("certificate {serial} is revoked already ({reason}); revocation other than certificateHold is final")]
    AlreadyRevoked {
        /// The certificate.
        serial: String,
        /// Its reason on record.
        reason: String,
    },
    /// A certificate the revocation endpoints do not revoke (an operator
    /// credential, the service's own TLS certificate).
    #[error("{0}")]
    NotRevocable(String),
    /// Releasing a certificate that is not on hold.
    #[error("certificate {0} is not on hold; only certificateHold can be released")]
    NotOnHold(String),
    /// The database was written by a newer symbolon.
    #[error("the database schema is newer than this symbolon knows ({0}); upgrade symbolon")]
    SchemaTooNew(String),
    /// A stored value does not decode.
    #[error("registry data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database {context}: {source}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

impl StoreError {
    pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { context, source }
    }

    /// A stable code for JSON errors.
    pub fn code(&self) -> Code {
        match self {
            Self::DuplicateKey(_) => Code::DuplicateKey,
            Self::NotFound(_) => Code::NotFound,
            Self::ReservationClosed(_) => Code::ReservationClosed,
            Self::AlreadyClaimed { .. } => Code::AlreadyUsed,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::ChainMoved(_) | Self::Stale(_) => Code::ChainMoved,
            Self::SchemaTooNew(_) => Code::SchemaTooNew,
            Self::AlreadyRevoked { .. } => Code::AlreadyRevoked,
            Self::NotOnHold(_) => Code::NotOnHold,
            Self::NotRevocable(_) => Code::Refused,
            Self::BadEnrollmentCode => Code::Unauthenticated,
            Self::LastAdmin => Code::Forbidden,
            Self::RegistrationSpent(_) => Code::NotRegistered,
            Self::Corrupt(_) => Code::Corrupt,
            Self::Database { .. } => Code::Database,
        }
    }
}
