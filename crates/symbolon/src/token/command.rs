//! Issuer commands: the only way a certificate or a key is written into a
//! token from outside (the patent's "authorised issuer" writing the
//! certificate region, and the station writing the key it generated).
//!
//! A command names the token (serial), the slot, the action, and the token's
//! current command sequence number; the issuer signs its canonical encoding
//! with its identity key. The token accepts it only if the issuer is on its
//! trust list, the signature verifies, the serial is its own and the sequence
//! is exactly the next one, so a command can be used once, on one token.
//!
//! On disk and on the wire it is JSON (`symbolon-issuer-command-v1`); the
//! signature covers the canonical binary encoding, never the JSON text.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{SlotName, TokenError, TokenSerial};
use crate::encoding::Writer;
use crate::keys::wrap::WrappedKey;
use crate::keys::{IdentityKeyPair, IdentityPublicKey, PublicKey};

const DOMAIN: &str = "symbolon/issuer-command/v1";
const FORMAT: &str = "symbolon-issuer-command-v1";

/// What the issuer asks the token to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerAction {
    /// Write this DER certificate into the slot's certificate region.
    WriteCertificate {
        /// The certificate, DER.
        certificate: Vec<u8>,
    },
    /// Accept this wrapped private key into the (empty) slot.
    AcceptKey {
        /// The key's public half, as the issuer states it.
        public_key: PublicKey,
        /// The private key wrapped to the token's transport key.
        wrapped: WrappedKey,
    },
}

/// A command before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerCommand {
    /// The token it is for.
    pub token: TokenSerial,
    /// The token's command sequence number it is valid for.
    pub sequence: u64,
    /// The slot.
    pub slot: SlotName,
    /// The action.
    pub action: IssuerAction,
}

impl IssuerCommand {
    /// The exact bytes the issuer signs.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(DOMAIN);
        w.bytes(self.token.as_bytes());
        w.u64(self.sequence);
        w.str(self.slot.as_str());
        match &self.action {
            IssuerAction::WriteCertificate { certificate } => {
                w.u8(1);
                w.bytes(certificate);
            }
            IssuerAction::AcceptKey {
                public_key,
                wrapped,
            } => {
                w.u8(2);
                w.bytes(public_key.spki_der());
                w.bytes(wrapped.as_bytes());
            }
        }
        w.into_bytes().to_vec()
    }

    /// Signs the command with an issuer identity.
    pub fn sign(self, issuer: &IdentityKeyPair) -> Result<SignedCommand, TokenError> {
        let signature = issuer.sign(&self.to_be_signed())?;
        Ok(SignedCommand {
            command: self,
            issuer: issuer.public_key().clone(),
            signature,
        })
    }
}

/// A command with the issuer's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCommand {
    /// The command.
    pub command: IssuerCommand,
    /// The issuer's identity key.
    pub issuer: IdentityPublicKey,
    /// ECDSA P-256 SHA-256 over [`IssuerCommand::to_be_signed`].
    pub signature: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandFile {
    format: String,
    token: TokenSerial,
    sequence: u64,
    slot: SlotName,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    certificate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    public_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    wrapped_key: Option<String>,
    issuer: String,
    signature: String,
}

impl SignedCommand {
    /// What every token checks before obeying: the issuer is one it
    /// trusts, the signature verifies, and the command names this token
    /// (`serial`) and its next sequence number (so it works once).
    pub fn check(
        &self,
        serial: TokenSerial,
        sequence: u64,
        trusted: &[IdentityPublicKey],
    ) -> Result<(), TokenError> {
        if !trusted.contains(&self.issuer) {
            return Err(TokenError::UntrustedIssuer(self.issuer.fingerprint()));
        }
        self.issuer
            .verify(&self.command.to_be_signed(), &self.signature)
            .map_err(|_| TokenError::BadAuthorization)?;
        if self.command.token != serial {
            return Err(TokenError::WrongToken {
                expected: self.command.token,
                actual: serial,
            });
        }
        if self.command.sequence != sequence {
            return Err(TokenError::ReplayedCommand {
                expected: sequence,
                got: self.command.sequence,
            });
        }
        Ok(())
    }

    /// The JSON file form.
    pub fn to_json(&self) -> Result<String, TokenError> {
        let c = &self.command;
        let (action, certificate, public_key, wrapped_key) = match &c.action {
            IssuerAction::WriteCertificate { certificate } => (
                "write-certificate",
                Some(B64.encode(certificate)),
                None,
                None,
            ),
            IssuerAction::AcceptKey {
                public_key,
                wrapped,
            } => (
                "accept-key",
                None,
                Some(B64.encode(public_key.spki_der())),
                Some(B64.encode(wrapped.as_bytes())),
            ),
        };
        let file = CommandFile {
            format: FORMAT.into(),
            token: c.token,
            sequence: c.sequence,
            slot: c.slot.clone(),
            action: action.into(),
            certificate,
            public_key,
            wrapped_key,
            issuer: B64.encode(self.issuer.spki_der()),
            signature: B64.encode(&self.signature),
        };
        serde_json::to_string_pretty(&file)
            .map_err(|e| TokenError::Internal(format!("issuer command: {e}")))
    }

    /// Parses the JSON file form. Structure only: the token checks trust,
    /// signature and sequence.
    pub fn from_json(text: &str) -> Result<Self, TokenError> {
        let bad = |m: String| TokenError::InvalidInput(format!("issuer command: {m}"));
        let f: CommandFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if f.format != FORMAT {
            return Err(bad(format!("format {:?}, expected {FORMAT:?}", f.format)));
        }
        let b64 = |field: &str, v: Option<String>| -> Result<Vec<u8>, TokenError> {
            let v = v.ok_or_else(|| bad(format!("missing field {field}")))?;
            B64.decode(v).map_err(|e| bad(format!("{field}: {e}")))
        };
        let action = match f.action.as_str() {
            "write-certificate" => IssuerAction::WriteCertificate {
                certificate: b64("certificate", f.certificate)?,
            },
            "accept-key" => IssuerAction::AcceptKey {
                public_key: PublicKey::from_spki_der(&b64("public_key", f.public_key)?)?,
                wrapped: WrappedKey::from_bytes(b64("wrapped_key", f.wrapped_key)?),
            },
            other => return Err(bad(format!("unknown action {other:?}"))),
        };
        Ok(Self {
            command: IssuerCommand {
                token: f.token,
                sequence: f.sequence,
                slot: f.slot,
                action,
            },
            issuer: IdentityPublicKey::from_spki_der(&b64("issuer", Some(f.issuer))?)?,
            signature: b64("signature", Some(f.signature))?,
        })
    }
}
