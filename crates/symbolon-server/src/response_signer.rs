//! The CA's delegated response signer (docs/revocation.md): the key that
//! signs certification responses over the station's nonce, so each
//! certificate costs the CA key one signature. A P-256 key made at every
//! start in this process's memory (tokens hold RSA keys only, and a P-256
//! signature costs a few microseconds), certified by the CA for response
//! signing only, for a week, renewed with two days left; each certificate
//! is in the audit log. Its compromise lets no one mint a certificate: the
//! station still checks that the certificate in the response is the CA's,
//! for the key it made.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use symbolon::ca::CaError;
use symbolon::keys::IdentityKeyPair;
use symbolon::x509::Delegation;

use crate::service::now;
use crate::{CaService, ServiceError};

/// How long a response signer certificate is valid.
pub const SIGNER_VALIDITY: Duration = Duration::from_secs(7 * 86_400);
/// It is certified again when less than this is left.
pub const SIGNER_RENEW_BEFORE: Duration = Duration::from_secs(2 * 86_400);

/// The signer: its key, and its current certificate (DER, end).
pub struct ResponseSigner {
    key: Arc<IdentityKeyPair>,
    current: RwLock<Option<(Arc<Vec<u8>>, i64)>>,
    renewing: tokio::sync::Mutex<()>,
}

impl ResponseSigner {
    /// A new key, not yet certified.
    pub(crate) fn new() -> Result<Self, ServiceError> {
        Ok(Self {
            key: Arc::new(
                IdentityKeyPair::generate().map_err(|e| ServiceError::Setup(e.to_string()))?,
            ),
            current: RwLock::new(None),
            renewing: tokio::sync::Mutex::new(()),
        })
    }

    fn usable(&self) -> Result<Option<Arc<Vec<u8>>>, ServiceError> {
        let current = self
            .current
            .read()
            .map_err(|_| CaError::Internal("the response signer's lock was poisoned".into()))?;
        Ok(current
            .as_ref()
            .filter(|(_, end)| end - now() >= SIGNER_RENEW_BEFORE.as_secs() as i64)
            .map(|(der, _)| Arc::clone(der)))
    }
}

impl CaService {
    /// The response signer's key and current certificate, certified first
    /// when there is none yet or it is close to its end (once, whoever asks
    /// first).
    pub(crate) async fn response_signer(
        &self,
    ) -> Result<(Arc<IdentityKeyPair>, Arc<Vec<u8>>), ServiceError> {
        let signer = &self.response_signer;
        if let Some(der) = signer.usable()? {
            return Ok((Arc::clone(&signer.key), der));
        }
        let _one = signer.renewing.lock().await;
        if let Some(der) = signer.usable()? {
            return Ok((Arc::clone(&signer.key), der));
        }
        let issued = self
            .certify_delegate(
                Delegation::ResponseSigning,
                signer.key.public_key().spki_der().to_vec(),
                SIGNER_VALIDITY,
            )
            .await?;
        let (der, end) = (issued.der, issued.not_after);
        let der = Arc::new(der);
        *signer
            .current
            .write()
            .map_err(|_| CaError::Internal("the response signer's lock was poisoned".into()))? =
            Some((Arc::clone(&der), end));
        Ok((Arc::clone(&signer.key), der))
    }
}
