//! Errors of token operations, each with a stable code for JSON and the agent.

use thiserror::Error;

use super::{SlotName, TokenSerial};
use crate::content::ContentError;
use crate::keys::{Fingerprint, KeyError};

/// Why a token operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The token detected tampering (or was told of it) and zeroised itself.
    #[error("token {} was tampered with and has been zeroised; it can never be used again", .serial.map(|s| s.to_string()).unwrap_or_else(|| "(serial unreadable)".into()))]
    Tampered {
        /// The token's serial, when it could still be read.
        serial: Option<TokenSerial>,
    },
    /// The sealing key does not open this token.
    #[error("the sealing key does not open token {serial} (wrong sealing key file, or the file header was altered)")]
    WrongSealingKey {
        /// The token's serial.
        serial: TokenSerial,
    },
    /// The file is not a symbolon token, or of a format this version does not read.
    #[error("not a usable symbolon token file: {0}")]
    NotAToken(String),
    /// No key in that slot.
    #[error("slot {0:?} holds no key")]
    SlotNotFound(SlotName),
    /// The slot already holds a key; keys are never overwritten.
    #[error("slot {0:?} already holds a key; keys are never replaced, choose another slot")]
    SlotOccupied(SlotName),
    /// No data object of that name.
    #[error("the token holds no data object {0:?}")]
    ObjectNotFound(SlotName),
    /// The slot holds a key but no certificate.
    #[error("slot {0:?} has no certificate yet")]
    NoCertificate(SlotName),
    /// The trust list was fixed when the first key entered the token.
    #[error("the token's trusted issuers were fixed when its first key was created; a new issuer needs a new token")]
    TrustFixed,
    /// The issuer is already trusted.
    #[error("issuer {0} is already trusted")]
    AlreadyTrusted(Fingerprint),
    /// A command signed by an issuer the token does not trust.
    #[error("issuer {0} is not trusted by this token")]
    UntrustedIssuer(Fingerprint),
    /// The issuer's signature over the command does not verify.
    #[error("the issuer's signature over the command does not verify")]
    BadAuthorization,
    /// The command names another token.
    #[error("the command is for token {expected}, this is token {actual}")]
    WrongToken {
        /// The serial named in the command.
        expected: TokenSerial,
        /// This token's serial.
        actual: TokenSerial,
    },
    /// The command's sequence number was used before, or is from the future.
    #[error("the command carries sequence {got} but the token expects {expected}: a replayed or out-of-order command")]
    ReplayedCommand {
        /// The sequence the token expects next.
        expected: u64,
        /// The sequence in the command.
        got: u64,
    },
    /// The certificate is not for the slot's key.
    #[error("the certificate's public key is not the key in slot {0:?}")]
    CertificateMismatch(SlotName),
    /// The certificate does not parse.
    #[error("not a valid X.509 certificate: {0}")]
    InvalidCertificate(String),
    /// Malformed input that is not a key or certificate.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A key-layer failure.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Sealed content that does not open.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// A joint-key step.
    #[error(transparent)]
    Joint(#[from] crate::joint::JointError),
    /// A hardware token (PKCS#11) refused or failed, with a stable code
    /// (`wrong_pin`, `pin_locked`, `token_not_found`, `module_not_found`,
    /// `unsupported`, `device_error`).
    #[error("{message}")]
    Device {
        /// The stable code.
        code: &'static str,
        /// What happened and what to do.
        message: String,
    },
    /// The storage behind the token failed; the state is unchanged.
    #[error("token storage failed: {0}")]
    Storage(String),
    /// An error reported by a remote token (agent), with its code.
    #[error("{message}")]
    Remote {
        /// The stable code the remote side gave.
        code: String,
        /// Its message.
        message: String,
    },
}

impl TokenError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            Self::Tampered { .. } => "token_tampered",
            Self::WrongSealingKey { .. } => "wrong_sealing_key",
            Self::NotAToken(_) => "not_a_token",
            Self::SlotNotFound(_) => "slot_not_found",
            Self::SlotOccupied(_) => "slot_occupied",
            Self::NoCertificate(_) => "no_certificate",
            Self::ObjectNotFound(_) => "not_found",
            Self::TrustFixed => "trust_fixed",
            Self::AlreadyTrusted(_) => "already_trusted",
            Self::UntrustedIssuer(_) => "untrusted_issuer",
            Self::BadAuthorization => "bad_authorization",
            Self::WrongToken { .. } => "wrong_token",
            Self::ReplayedCommand { .. } => "replayed_command",
            Self::CertificateMismatch(_) => "certificate_mismatch",
            Self::InvalidCertificate(_) => "invalid_certificate",
            Self::InvalidInput(_) => "invalid_input",
            Self::Key(k) => match k {
                KeyError::Malformed { .. } => "malformed_key",
                KeyError::Refused(_) => "key_refused",
                KeyError::Unsupported { .. } => "unsupported",
                KeyError::DigestLength { .. } | KeyError::DigestMismatch { .. } => "invalid_input",
                KeyError::BadSignature => "bad_signature",
                KeyError::DecryptionFailed => "decryption_failed",
                KeyError::SelfTest(_) => "self_test_failed",
                _ => "crypto_failure",
            },
            Self::Content(c) => c.code(),
            Self::Joint(j) => j.code(),
            Self::Device { code, .. } => code,
            Self::Storage(_) => "storage",
            Self::Remote { code, .. } => code,
        }
    }
}
