//! CLI errors: what went wrong, what to do, and an exit code that means
//! something (listed in `symbolon --help`).

use symbolon::keys::KeyError;
use symbolon::token::{AttestationError, TokenError};

/// A failure as the user sees it.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl CliError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn io(what: &str, path: &std::path::Path, e: std::io::Error) -> Self {
        Self::new("io", format!("{what} {}: {e}", path.display()))
    }

    /// The process exit code for this error's code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self.code.as_str() {
            "invalid_input"
            | "malformed_key"
            | "invalid_certificate"
            | "not_a_token"
            | "unsupported"
            | "invalid_request"
            | "slot_not_found"
            | "no_certificate"
            | "not_found"
            | "invalid_json"
            | "invalid_body"
            | "payload_too_large"
            | "module_not_found"
            | "token_not_found"
            | "unknown_arbitrator"
            | "invalid_chain" => 3,
            "bad_signature"
            | "decryption_failed"
            | "wrong_device"
            | "wrong_key"
            | "wrong_nonce"
            | "exportable"
            | "bad_authorization"
            | "audit_broken"
            | "bad_csr_signature"
            | "bad_attestation"
            | "bad_response_signature"
            | "replayed_response"
            | "wrong_certificate"
            | "content_altered"
            | "wrong_recipient"
            | "forged_approval"
            | "replayed_approval"
            | "broken_chain"
            | "bad_share"
            | "escrow_damaged"
            | "inconsistent_partials"
            | "chain_out_of_order"
            | "wrong_partial"
            | "chain_does_not_verify" => 4,
            "untrusted_issuer"
            | "replayed_command"
            | "wrong_token"
            | "trust_fixed"
            | "already_trusted"
            | "slot_occupied"
            | "key_refused"
            | "certificate_mismatch"
            | "wrong_sealing_key"
            | "not_confirmed"
            | "duplicate_key"
            | "identity_mismatch"
            | "weak_key"
            | "attestation_required"
            | "reservation_closed"
            | "order_refused"
            | "order_replayed"
            | "licence_refused"
            | "already_used"
            | "wrong_pin"
            | "pin_locked"
            | "policy_not_satisfied"
            | "already_released"
            | "wrong_target"
            | "already_decided"
            | "already_exists"
            | "chain_moved"
            | "not_your_turn"
            | "refused" => 5,
            "token_tampered" => 6,
            _ => 1,
        }
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
        Self::new("invalid_input", e.to_string())
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
