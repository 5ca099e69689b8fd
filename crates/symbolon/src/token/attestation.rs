//! Key attestation: the device identity key's signed word that a slot's key
//! was generated on this token (or written by a named issuer) and cannot be
//! exported. The CA uses it in place of a station's word for keys a token
//! made itself (fourth embodiment).
//!
//! JSON on disk (`symbolon-attestation-v2`); the signature covers the
//! canonical binary encoding of the statement.

use crate::Code;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{KeyOrigin, SlotName, TokenSerial};
use crate::encoding::Writer;
use crate::keys::{Fingerprint, IdentityPublicKey, PublicKey};

const DOMAIN: &str = "symbolon/attestation/v2";
const FORMAT: &str = "symbolon-attestation-v2";
/// Longest verifier nonce accepted.
pub const MAX_NONCE_LEN: usize = 64;

/// What the device states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationStatement {
    /// The token.
    pub token: TokenSerial,
    /// The device identity key that signs.
    pub device_key: IdentityPublicKey,
    /// The slot.
    pub slot: SlotName,
    /// The slot's public key.
    pub public_key: PublicKey,
    /// Where the key came from.
    pub origin: KeyOrigin,
    /// Always false: no symbolon token can export a slot key.
    pub exportable: bool,
    /// What the claims above rest on.
    pub evidence: AttestationEvidence,
    /// The verifier's freshness nonce (may be empty).
    pub nonce: Vec<u8>,
}

/// What an attestation's origin and non-exportability rest on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AttestationEvidence {
    /// A symbolon soft token: the key lives only in its sealed state, and the
    /// token has no operation that returns it.
    SoftToken,
    /// A PKCS#11 device that cannot attest natively: the key object's
    /// attributes as the device reported them, signed by the device identity
    /// key held on the same device.
    Pkcs11 {
        /// Manufacturer, model and serial number of the device.
        device: String,
        /// `CKA_LOCAL`: generated on the device.
        local: bool,
        /// `CKA_NEVER_EXTRACTABLE`.
        never_extractable: bool,
        /// `CKA_ALWAYS_SENSITIVE`.
        always_sensitive: bool,
        /// `CKA_SENSITIVE`.
        sensitive: bool,
        /// `CKA_EXTRACTABLE`.
        extractable: bool,
    },
}

impl AttestationStatement {
    /// The exact bytes the device signs.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut w = Writer::with_domain(DOMAIN);
        w.bytes(self.token.as_bytes());
        w.bytes(self.device_key.spki_der());
        w.str(self.slot.as_str());
        w.bytes(self.public_key.spki_der());
        match self.origin {
            KeyOrigin::Generated => w.u8(1),
            KeyOrigin::Issuer { issuer } => {
                w.u8(2);
                w.bytes(issuer.as_bytes());
            }
            KeyOrigin::Joint => w.u8(3),
        }
        w.bool(self.exportable);
        match &self.evidence {
            AttestationEvidence::SoftToken => w.u8(1),
            AttestationEvidence::Pkcs11 {
                device,
                local,
                never_extractable,
                always_sensitive,
                sensitive,
                extractable,
            } => {
                w.u8(2);
                w.str(device);
                for flag in [
                    local,
                    never_extractable,
                    always_sensitive,
                    sensitive,
                    extractable,
                ] {
                    w.bool(*flag);
                }
            }
        }
        w.bytes(&self.nonce);
        w.into_bytes().to_vec()
    }
}

/// A signed attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The statement.
    pub statement: AttestationStatement,
    /// ECDSA P-256 SHA-256 by the device key over the statement.
    pub signature: Vec<u8>,
}

/// Why an attestation was not accepted.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationError {
    /// The file is not an attestation.
    #[error("not a valid attestation: {0}")]
    Malformed(String),
    /// Signed by another device than the one expected.
    #[error("the attestation is signed by device key {found}, not the expected {expected}")]
    WrongDevice {
        /// Expected device key.
        expected: Fingerprint,
        /// Device key in the statement.
        found: Fingerprint,
    },
    /// The device's signature does not verify.
    #[error("the device signature over the attestation does not verify")]
    BadSignature,
    /// The statement claims the key is exportable.
    #[error("the attestation does not state that the key is non-exportable")]
    Exportable,
    /// It attests another key.
    #[error("the attestation is for key {found}, not the expected {expected}")]
    WrongKey {
        /// Expected key.
        expected: Fingerprint,
        /// Key in the statement.
        found: Fingerprint,
    },
    /// The nonce is not the verifier's.
    #[error("the attestation's nonce is not the one the verifier supplied (stale or replayed)")]
    WrongNonce,
}

impl AttestationError {
    /// A stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Malformed(_) => Code::InvalidInput,
            Self::WrongDevice { .. } => Code::WrongDevice,
            Self::BadSignature => Code::BadSignature,
            Self::Exportable => Code::Exportable,
            Self::WrongKey { .. } => Code::WrongKey,
            Self::WrongNonce => Code::WrongNonce,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestationFile {
    format: String,
    token: TokenSerial,
    device_key: String,
    slot: SlotName,
    public_key: String,
    origin: KeyOrigin,
    exportable: bool,
    evidence: AttestationEvidence,
    nonce: String,
    signature: String,
}

impl Attestation {
    /// Verifies the device's signature and that the statement is about the
    /// expected device, key and nonce; returns the verified statement.
    pub fn verify(
        &self,
        device_key: &IdentityPublicKey,
        public_key: Option<&PublicKey>,
        nonce: Option<&[u8]>,
    ) -> Result<&AttestationStatement, AttestationError> {
        let s = &self.statement;
        if &s.device_key != device_key {
            return Err(AttestationError::WrongDevice {
                expected: device_key.fingerprint(),
                found: s.device_key.fingerprint(),
            });
        }
        device_key
            .verify(&s.to_be_signed(), &self.signature)
            .map_err(|_| AttestationError::BadSignature)?;
        if s.exportable {
            return Err(AttestationError::Exportable);
        }
        if let Some(pk) = public_key {
            if pk != &s.public_key {
                return Err(AttestationError::WrongKey {
                    expected: pk.fingerprint(),
                    found: s.public_key.fingerprint(),
                });
            }
        }
        if let Some(n) = nonce {
            if aws_lc_rs::constant_time::verify_slices_are_equal(n, &s.nonce).is_err() {
                return Err(AttestationError::WrongNonce);
            }
        }
        Ok(s)
    }

    /// The JSON file form.
    pub fn to_json(&self) -> Result<String, crate::token::TokenError> {
        let s = &self.statement;
        let file = AttestationFile {
            format: FORMAT.into(),
            token: s.token,
            device_key: B64.encode(s.device_key.spki_der()),
            slot: s.slot.clone(),
            public_key: B64.encode(s.public_key.spki_der()),
            origin: s.origin,
            exportable: s.exportable,
            evidence: s.evidence.clone(),
            nonce: hex::encode(&s.nonce),
            signature: B64.encode(&self.signature),
        };
        serde_json::to_string_pretty(&file)
            .map_err(|e| crate::token::TokenError::Internal(format!("attestation: {e}")))
    }

    /// Parses the JSON file form (structure only; see [`Attestation::verify`]).
    pub fn from_json(text: &str) -> Result<Self, AttestationError> {
        let bad = |m: String| AttestationError::Malformed(m);
        let f: AttestationFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if f.format != FORMAT {
            return Err(bad(format!("format {:?}, expected {FORMAT:?}", f.format)));
        }
        let b64 = |field: &str, v: &str| B64.decode(v).map_err(|e| bad(format!("{field}: {e}")));
        let nonce = hex::decode(&f.nonce).map_err(|e| bad(format!("nonce: {e}")))?;
        if nonce.len() > MAX_NONCE_LEN {
            return Err(bad(format!("nonce longer than {MAX_NONCE_LEN} bytes")));
        }
        Ok(Self {
            statement: AttestationStatement {
                token: f.token,
                device_key: IdentityPublicKey::from_spki_der(&b64("device_key", &f.device_key)?)
                    .map_err(|e| bad(e.to_string()))?,
                slot: f.slot,
                public_key: PublicKey::from_spki_der(&b64("public_key", &f.public_key)?)
                    .map_err(|e| bad(e.to_string()))?,
                origin: f.origin,
                exportable: f.exportable,
                evidence: f.evidence,
                nonce,
            },
            signature: b64("signature", &f.signature)?,
        })
    }
}
