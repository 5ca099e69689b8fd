//! A caller's credential: an RSA key in a token slot (never exported) and
//! the certificate chain this CA issued for it, kept in the same token as a
//! data object named `<slot>.crt`, so the token is the whole credential.

use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use rustls::sign::CertifiedKey;
use symbolon::token::{SlotName, Token};
use symbolon_token::tls::{SharedToken, TokenSigningKey};

use crate::ClientError;

/// The slot a credential's key is in unless told otherwise.
pub const DEFAULT_CREDENTIAL_SLOT: &str = "operator";

/// The data object holding a slot's credential chain.
pub fn chain_object(slot: &SlotName) -> Result<SlotName, ClientError> {
    Ok(SlotName::new(&format!("{slot}.crt"))?)
}

/// A credential, opened.
#[derive(Debug, Clone)]
pub struct Credential {
    key: Arc<CertifiedKey>,
}

impl Credential {
    /// The credential in `slot` of `token`.
    pub fn open(token: SharedToken, slot: &SlotName) -> Result<Self, ClientError> {
        let public = token.public_key(slot).map_err(|e| {
            ClientError::Credential(format!(
                "no key in slot {slot} ({e}); make one with `symbolon enroll`"
            ))
        })?;
        let pem = token.object(&chain_object(slot)?).map_err(|e| {
            ClientError::Credential(format!(
                "no certificate for slot {slot} in the token ({e}); run `symbolon enroll`"
            ))
        })?;
        let roots = crate::PinnedRoots::from_pem(&pem)
            .map_err(|e| ClientError::Credential(format!("the stored certificate: {e}")))?;
        let chain: Vec<CertificateDer<'static>> = roots_ders(&roots);
        let signing = TokenSigningKey::new(token, slot.clone(), public);
        Ok(Self {
            key: Arc::new(CertifiedKey::new(chain, Arc::new(signing))),
        })
    }

    /// Stores a chain (PEM, leaf first) for `slot` in the token.
    pub fn install(token: &mut dyn Token, slot: &SlotName, pem: &str) -> Result<(), ClientError> {
        Ok(token.put_object(&chain_object(slot)?, pem.as_bytes())?)
    }
}

fn roots_ders(r: &crate::PinnedRoots) -> Vec<CertificateDer<'static>> {
    r.ders().iter().cloned().map(CertificateDer::from).collect()
}

/// Always offers the credential: the service decides what it may do.
#[derive(Debug)]
pub(crate) struct Offer(pub(crate) Arc<CertifiedKey>);

impl ResolvesClientCert for Offer {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0.key.choose_scheme(sigschemes)?;
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl Credential {
    pub(crate) fn certified(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.key)
    }
}
