//! Errors of token operations, each with a stable code for JSON and the agent.

use crate::Code;
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
    /// An operation for another kind of key (RSA decryption on an EC slot).
    #[error("slot {slot:?} holds a {holds} key; {operation} needs {needs}")]
    WrongKeyType {
        /// The slot.
        slot: SlotName,
        /// What it holds.
        holds: crate::keys::KeyAlgorithm,
        /// The operation asked for.
        operation: &'static str,
        /// The kind of key it needs.
        needs: &'static str,
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
        code: Code,
        /// What happened and what to do.
        message: String,
    },
    /// The token cannot run this kind of operation at all.
    #[error("{0}")]
    Unsupported(String),
    /// A failure of this software that valid input cannot cause (e.g. a
    /// wire form that did not encode).
    #[error("internal failure: {0}")]
    Internal(String),
    /// The token agent's reply (or this side's request) breaks the agent
    /// protocol: a software fault, not the user's input.
    #[error("token agent protocol: {0}")]
    AgentProtocol(String),
    /// The storage behind the token failed; the state is unchanged.
    #[error("token storage failed: {0}")]
    Storage(String),
    /// An error reported by a remote token (agent), with its code.
    #[error("{message}")]
    Remote {
        /// The stable code the remote side gave.
        code: Code,
        /// Its message.
        message: String,
    },
}

impl TokenError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Tampered { .. } => Code::TokenTampered,
            Self::WrongSealingKey { .. } => Code::WrongSealingKey,
            Self::NotAToken(_) => Code::NotAToken,
            Self::SlotNotFound(_) => Code::SlotNotFound,
            Self::SlotOccupied(_) => Code::SlotOccupied,
            Self::NoCertificate(_) => Code::NoCertificate,
            Self::ObjectNotFound(_) => Code::NotFound,
            Self::TrustFixed => Code::TrustFixed,
            Self::AlreadyTrusted(_) => Code::AlreadyTrusted,
            Self::UntrustedIssuer(_) => Code::UntrustedIssuer,
            Self::BadAuthorization => Code::BadAuthorization,
            Self::WrongToken { .. } => Code::WrongToken,
            Self::ReplayedCommand { .. } => Code::ReplayedCommand,
            Self::CertificateMismatch(_) => Code::CertificateMismatch,
            Self::WrongKeyType { .. } => Code::Unsupported,
            Self::InvalidCertificate(_) => Code::InvalidCertificate,
            Self::InvalidInput(_) => Code::InvalidInput,
            Self::Unsupported(_) => Code::Unsupported,
            Self::Key(k) => match k {
                KeyError::Malformed { .. } => Code::MalformedKey,
                KeyError::Refused(_) => Code::KeyRefused,
                KeyError::Weak(_) => Code::WeakKey,
                KeyError::Unsupported { .. } => Code::Unsupported,
                KeyError::UnsupportedKey(_) => Code::UnsupportedKey,
                KeyError::DigestLength { .. } | KeyError::DigestMismatch { .. } => {
                    Code::InvalidInput
                }
                KeyError::BadSignature => Code::BadSignature,
                KeyError::DecryptionFailed => Code::DecryptionFailed,
                KeyError::SelfTest(_) => Code::SelfTestFailed,
                _ => Code::CryptoFailure,
            },
            Self::Content(c) => c.code(),
            Self::Joint(j) => j.code(),
            Self::Device { code, .. } => *code,
            Self::Storage(_) => Code::Storage,
            Self::AgentProtocol(_) => Code::AgentProtocol,
            Self::Internal(_) => Code::Internal,
            Self::Remote { code, .. } => *code,
        }
    }
}
