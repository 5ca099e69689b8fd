//! The issuer side of authorised writes: an issuer identity (the station's
//! signing key that tokens are initialised to trust) and the commands it signs
//! to write a certificate or a wrapped key into one token.
//!
//! The identity is sealed at rest like a token, in the same format with its
//! own magic, so an issuer file can never be mistaken for a token.

use zeroize::Zeroizing;

use crate::keys::{
    wrap, IdentityKeyPair, IdentityPublicKey, PrivateKeyRef, PublicKey, RsaPublicKey,
};
use crate::token::{
    open_sealed, seal, IssuerAction, IssuerCommand, OpenFailure, SealedKind, SealingKey,
    SignedCommand, SlotName, TokenError, TokenSerial,
};

/// What an issuer must know of a token to address a command to it, all of it
/// public: from `token info` and the token's transport key.
#[derive(Debug, Clone)]
pub struct TokenTarget {
    /// The token's serial.
    pub serial: TokenSerial,
    /// The sequence number its next command must carry.
    pub sequence: u64,
    /// Its transport key.
    pub transport_key: RsaPublicKey,
}

impl TokenTarget {
    /// `token`'s serial, next command sequence and transport key, read
    /// from the token itself.
    pub fn of(token: &dyn crate::token::Token) -> Result<Self, TokenError> {
        let info = token.info()?;
        Ok(Self {
            serial: info.serial,
            sequence: info.command_sequence,
            transport_key: token.transport_key()?,
        })
    }
}

/// An issuer identity. No `Debug`, `Clone` or `Serialize`.
pub struct IssuerIdentity {
    id: TokenSerial,
    key: IdentityKeyPair,
}

impl IssuerIdentity {
    /// A new identity with a fresh key.
    pub fn generate() -> Result<Self, TokenError> {
        Ok(Self {
            id: TokenSerial::random()?,
            key: IdentityKeyPair::generate()?,
        })
    }

    /// The sealed form, for the caller to store.
    pub fn seal(&self, key: &SealingKey) -> Result<Vec<u8>, TokenError> {
        seal(SealedKind::Issuer, self.id, 1, self.key.pkcs8_der(), key)
    }

    /// Opens a sealed identity.
    pub fn open(data: &[u8], key: &SealingKey) -> Result<Self, TokenError> {
        match open_sealed(SealedKind::Issuer, data, key) {
            Ok((header, pkcs8)) => Ok(Self {
                id: header.serial,
                key: IdentityKeyPair::from_pkcs8_der(Zeroizing::new(pkcs8.to_vec()))?,
            }),
            Err(OpenFailure::Refuse(e)) => Err(e),
            Err(OpenFailure::Tampered(h)) => Err(TokenError::Tampered {
                serial: Some(h.serial),
            }),
        }
    }

    /// The identity's public key, which tokens add with `trust-issuer`.
    pub fn public_key(&self) -> &IdentityPublicKey {
        self.key.public_key()
    }

    /// Signs a statement other than a token command (a licence); the caller
    /// starts `message` with its own domain label.
    pub(crate) fn sign_statement(&self, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        Ok(self.key.sign(message)?)
    }

    /// Signs a command writing `certificate` (DER) into `slot`.
    pub fn authorize_certificate(
        &self,
        target: &TokenTarget,
        slot: &SlotName,
        certificate: Vec<u8>,
    ) -> Result<SignedCommand, TokenError> {
        IssuerCommand {
            token: target.serial,
            sequence: target.sequence,
            slot: slot.clone(),
            action: IssuerAction::WriteCertificate { certificate },
        }
        .sign(&self.key)
    }

    /// Wraps `key` to the target's transport key and signs a command
    /// accepting it into `slot`.
    pub fn authorize_key<'a>(
        &self,
        target: &TokenTarget,
        slot: &SlotName,
        key: impl Into<PrivateKeyRef<'a>>,
    ) -> Result<SignedCommand, TokenError> {
        let key = key.into();
        let public_key = key.public_key();
        // The station writes no key the CA would refuse: a published test
        // key included (docs/weak-keys.md). An EC key's point was validated
        // when it was read.
        if let PublicKey::Rsa(rsa) = &public_key {
            crate::keys::weak::check_public_key(rsa, crate::keys::weak::Effort::Standard)
                .map_err(crate::keys::KeyError::Weak)?;
        }
        IssuerCommand {
            token: target.serial,
            sequence: target.sequence,
            slot: slot.clone(),
            action: IssuerAction::AcceptKey {
                public_key,
                wrapped: wrap::wrap(key, &target.transport_key)?,
            },
        }
        .sign(&self.key)
    }
}
