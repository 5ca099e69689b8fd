//! CLI errors: what went wrong, what to do, and an exit code that means
//! something (listed in `symbolon --help`).

use symbolon::keys::KeyError;
use symbolon::token::{AttestationError, TokenError};
use symbolon::Code;

/// A failure as the user sees it.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl CliError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> Self {
        Self::new(Code::Io, format!("{what} {}: {e}", path.display()))
    }

    /// The process exit code for this error's code (one table, in
    /// `symbolon::code`).
    pub(crate) fn exit_code(&self) -> u8 {
        self.code.exit_class() as u8
    }
}

impl From<TokenError> for CliError {
    fn from(e: TokenError) -> Self {
        let hint = match &e {
            TokenError::UntrustedIssuer(_) => {
                Some("a token trusts only the issuers added by `token trust-issuer` before its first key")
            }
            TokenError::ReplayedCommand { .. } => {
                Some("ask the issuer for a new command made against the token's current `token info`")
            }
            TokenError::Tampered { .. } => Some("initialise a new token; this one can never be used again"),
            _ => None,
        };
        let mut err = Self::new(e.code(), e.to_string());
        err.hint = hint.map(str::to_string);
        err
    }
}

impl From<KeyError> for CliError {
    fn from(e: KeyError) -> Self {
        TokenError::Key(e).into()
    }
}

impl From<AttestationError> for CliError {
    fn from(e: AttestationError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<symbolon_server::ServiceError> for CliError {
    fn from(e: symbolon_server::ServiceError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<symbolon_store::StoreError> for CliError {
    fn from(e: symbolon_store::StoreError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<symbolon::x509::X509Error> for CliError {
    fn from(e: symbolon::x509::X509Error) -> Self {
        Self::new(Code::InvalidInput, e.to_string())
    }
}

impl From<symbolon::escrow::EscrowError> for CliError {
    fn from(e: symbolon::escrow::EscrowError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<symbolon::ca::CaError> for CliError {
    fn from(e: symbolon::ca::CaError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}
