//! Why the CA refused, each with a stable code for the JSON error body.

use crate::Code;
use thiserror::Error;

/// A refusal or failure of the CA.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaError {
    /// The request does not parse.
    #[error("invalid certification request: {0}")]
    InvalidRequest(String),
    /// The PKCS#10 signature does not verify: no proof of possession.
    #[error("the request's signature does not verify: no proof of possession of the key")]
    BadRequestSignature,
    /// The identity presented directly is not the one in the request (step 423).
    #[error("the identity presented ({presented}) is not the one in the request ({requested})")]
    IdentityMismatch {
        /// What the user presented.
        presented: String,
        /// What the request names.
        requested: String,
    },
    /// A key the policy refuses: its class and how it was found.
    #[error("{0}")]
    WeakKey(crate::keys::weak::WeakKey),
    /// A key of a type or curve the CA does not certify (for this role).
    #[error("{0}")]
    UnsupportedKey(String),
    /// The key was registered before (step 424).
    #[error("public key {0} was registered before; a key is certified at most once")]
    DuplicateKey(String),
    /// A role the CA does not issue, or only with attestation.
    #[error("role {role} requires a key attested by the subscriber's own token")]
    AttestationRequired {
        /// The role asked for.
        role: String,
    },
    /// The attestation did not check out.
    #[error("attestation refused: {0}")]
    BadAttestation(String),
    /// No live registration and no name policy covers the subject and role.
    #[error("{0}")]
    NotRegistered(String),
    /// A name in the request that neither the registration nor the
    /// station's name policy covers.
    #[error("{0}")]
    NameNotAllowed(String),
    /// The attesting device's evidence is not what the profile requires.
    #[error("{0}")]
    UntrustedDevice(String),
    /// The response's signature does not verify under the CA key.
    #[error("the CA's signature over the response does not verify (tampered on the way?)")]
    BadResponseSignature,
    /// The response answers another request.
    #[error("the response answers another request (its nonce differs): a replayed response")]
    ReplayedResponse,
    /// The response's certificate is not what was asked for.
    #[error("the certificate in the response does not match the request: {0}")]
    WrongCertificate(String),
    /// The CA itself failed.
    #[error("the CA failed: {0}")]
    Internal(String),
}

impl CaError {
    /// A stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidRequest(_) => Code::InvalidRequest,
            Self::BadRequestSignature => Code::BadCsrSignature,
            Self::IdentityMismatch { .. } => Code::IdentityMismatch,
            Self::WeakKey(_) => Code::WeakKey,
            Self::UnsupportedKey(_) => Code::UnsupportedKey,
            Self::DuplicateKey(_) => Code::DuplicateKey,
            Self::AttestationRequired { .. } => Code::AttestationRequired,
            Self::BadAttestation(_) => Code::BadAttestation,
            Self::UntrustedDevice(_) => Code::DeviceNotTrusted,
            Self::NotRegistered(_) => Code::NotRegistered,
            Self::NameNotAllowed(_) => Code::NameNotAllowed,
            Self::BadResponseSignature => Code::BadResponseSignature,
            Self::ReplayedResponse => Code::ReplayedResponse,
            Self::WrongCertificate(_) => Code::WrongCertificate,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// Whether the requester is at fault (4xx) rather than the CA (5xx).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Internal(_))
    }
}
