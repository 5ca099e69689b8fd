//! The recovery enclave's keys, vouched for by the CA: the issuing CA key
//! signs the enclave's key (P-256, which arbitrators seal shares to with
//! HPKE; RSA-3072 in earlier releases: [`super::enclave_share`]) and its
//! issuer key (which signs the command writing a recovered key into a
//! token). An arbitrator checks the statement against the CA root it pins
//! before a share leaves its hands, so no one between it and the service can
//! substitute a key of their own.
//!
//! Signed bytes: canonical("symbolon recovery enclave v1", enclave SPKI,
//! issuer SPKI), by the issuing CA key in its natural algorithm.

use std::time::SystemTime;

use super::EscrowError;
use crate::encoding::Writer;
use crate::keys::{IdentityPublicKey, PublicKey, SignRequest};
use crate::x509::{certificate_public_key, verify_path, CaSigner};

const DOMAIN: &str = "symbolon recovery enclave v1";

/// The CA's word on the enclave's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnclaveStatement {
    /// The key shares are sealed to (its SPKI says which scheme).
    pub enclave_key: PublicKey,
    /// The key that signs recovered keys into tokens.
    pub issuer_key: IdentityPublicKey,
    /// Issuing CA first, root last (DER).
    pub chain: Vec<Vec<u8>>,
    /// By the issuing CA key.
    pub signature: Vec<u8>,
}

fn to_be_signed(enclave_key: &PublicKey, issuer_key: &IdentityPublicKey) -> Vec<u8> {
    let mut w = Writer::with_domain(DOMAIN);
    w.bytes(enclave_key.spki_der());
    w.bytes(issuer_key.spki_der());
    w.into_bytes().to_vec()
}

impl EnclaveStatement {
    /// Signs through `sign` (the CA token).
    pub fn sign<E: std::fmt::Display>(
        enclave_key: PublicKey,
        issuer_key: IdentityPublicKey,
        chain: Vec<Vec<u8>>,
        signer: &CaSigner,
        sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
    ) -> Result<Self, EscrowError> {
        let signature = signer
            .sign_message(&to_be_signed(&enclave_key, &issuer_key), sign)
            .map_err(|e| EscrowError::Internal(e.to_string()))?;
        Ok(Self {
            enclave_key,
            issuer_key,
            chain,
            signature,
        })
    }

    /// Checks the statement against the pinned CA `root` (DER) at `now`.
    pub fn verify(&self, root: &[u8], now: SystemTime) -> Result<(), EscrowError> {
        let bad = |m: String| {
            EscrowError::InvalidInput(format!(
                "the enclave's keys are not vouched for by the pinned CA: {m}"
            ))
        };
        let issuing = self.chain.first().ok_or_else(|| bad("no chain".into()))?;
        let cert =
            verify_path(issuing, &self.chain[1..], root, now).map_err(|e| bad(e.to_string()))?;
        // The CA key's natural algorithm: RSA PKCS#1 v1.5 with SHA-256,
        // ECDSA with its curve's hash, or Ed25519.
        let key = certificate_public_key(&cert).map_err(|e| bad(e.to_string()))?;
        let algorithm = key
            .natural_signature_algorithm()
            .ok_or_else(|| bad("the CA key cannot sign".into()))?;
        key.verify(
            algorithm,
            &to_be_signed(&self.enclave_key, &self.issuer_key),
            &self.signature,
        )
        .map_err(|_| bad("the signature does not verify".into()))
    }
}
