//! The CA's delegated response signer (docs/revocation.md): the key that
//! signs certification responses over the station's nonce, so each
//! certificate costs the CA key one signature. An ECDSA P-256 key in the
//! CA's token (slot `response-signer`, made once and kept across restarts,
//! as the OCSP responder's key is; a P-256 signature costs tens of
//! microseconds), certified by the CA for response signing only, for a
//! week, renewed with two days left and at every start; each certificate
//! is in the audit log. Its compromise lets no one mint a certificate: the
//! station still checks that the certificate in the response is the CA's,
//! for the key it made.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use symbolon::ca::CaError;
use symbolon::keys::{
    EcCurve, EcPublicKey, EcSigningInput, HashAlgorithm, KeyAlgorithm, MessageDigest, PublicKey,
};
use symbolon::token::{SlotName, Token, TokenError};
use symbolon::x509::Delegation;
use symbolon::Code;

use crate::service::now;
use crate::{CaService, ServiceError};

/// How long a response signer certificate is valid.
pub const SIGNER_VALIDITY: Duration = Duration::from_secs(7 * 86_400);
/// It is certified again when less than this is left.
pub const SIGNER_RENEW_BEFORE: Duration = Duration::from_secs(2 * 86_400);
/// The CA token's slot that holds the response signer's key.
pub const SIGNER_SLOT: &str = "response-signer";

/// The signer: its slot and public key, and its current certificate (DER,
/// end).
pub struct ResponseSigner {
    slot: SlotName,
    current: RwLock<Option<(Arc<Vec<u8>>, i64)>>,
    renewing: tokio::sync::Mutex<()>,
    public: EcPublicKey,
}

impl ResponseSigner {
    /// The signer's key in the CA token, made there the first time (while
    /// the service starts, before the token is shared); not yet certified.
    pub(crate) fn prepare(token: &mut (dyn Token + Send + Sync)) -> Result<Self, ServiceError> {
        let slot = SlotName::new(SIGNER_SLOT)?;
        let algorithm = KeyAlgorithm::Ec(EcCurve::P256);
        // By code, not variant: through a token agent errors arrive as
        // `TokenError::Remote` with the same codes.
        let public = match token.slot_public_key(&slot) {
            Ok(k) => k,
            Err(e) if e.code() == Code::SlotNotFound => {
                match token.generate_key(&slot, algorithm) {
                    Ok(k) => k,
                    Err(e) if e.code() == Code::SlotOccupied => token.slot_public_key(&slot)?,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let PublicKey::Ec(public) = public else {
            return Err(ServiceError::Setup(format!(
                "the CA token's slot {SIGNER_SLOT:?} holds an RSA key; the response signer is P-256"
            )));
        };
        if public.curve() != EcCurve::P256 {
            return Err(ServiceError::Setup(format!(
                "the CA token's slot {SIGNER_SLOT:?} holds a {} key; the response signer is P-256",
                public.curve()
            )));
        }
        Ok(Self {
            slot,
            current: RwLock::new(None),
            renewing: tokio::sync::Mutex::new(()),
            public,
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

/// Signs `message` with the response signer's key in `token`: ECDSA P-256
/// over its SHA-256 digest, DER, as stations verify it.
pub(crate) fn sign_response(
    token: &(dyn Token + Send + Sync),
    slot: &SlotName,
    message: &[u8],
) -> Result<Vec<u8>, TokenError> {
    let digest = MessageDigest::of(HashAlgorithm::Sha256, message);
    token.sign_ec(slot, EcSigningInput::Digest(&digest))
}

impl CaService {
    /// The response signer's slot and current certificate, certified first
    /// when there is none yet or it is close to its end (once, whoever asks
    /// first).
    pub(crate) async fn response_signer(&self) -> Result<(SlotName, Arc<Vec<u8>>), ServiceError> {
        let signer = &self.response_signer;
        if let Some(der) = signer.usable()? {
            return Ok((signer.slot.clone(), der));
        }
        let _one = signer.renewing.lock().await;
        if let Some(der) = signer.usable()? {
            return Ok((signer.slot.clone(), der));
        }
        let issued = self
            .certify_delegate(
                Delegation::ResponseSigning,
                signer.public.spki_der().to_vec(),
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
        Ok((signer.slot.clone(), der))
    }
}
