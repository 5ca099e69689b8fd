//! Revocation at the CA (docs/revocation.md): operators revoke, hold and
//! release; subscribers revoke their own certificates with a statement
//! signed by the certified key; a token reported tampered with, or replaced
//! in a recovery, has its certificates revoked at once. The CRL is signed
//! again after every change and before its next update; a CRL older than
//! the last change is never served. The delta CRL (RFC 5280 §5.2.4) lists
//! the changes since a full CRL old enough that every relying party holds
//! it or a newer one.

use std::sync::Arc;

use symbolon::ca::CaError;
use symbolon::revocation::{
    build_crl, CrlParams, DeltaOf, RevocationReason, RevokedEntry, SelfRevocation,
};
use symbolon::token::TokenSerial;
use symbolon::x509::{certificate_public_key, parse_certificate};
use symbolon_store::{
    Actor, CertificateSerial, CrlBase, RevocationOrigin, Revoke, StoreError, StoredCrl,
};

use crate::service::now;
use crate::{CaService, ServiceError};

/// The two kinds of CRL the service publishes.
#[derive(Debug, Clone, Copy)]
enum CrlKind {
    /// Every revocation in force.
    Full,
    /// The changes since a full CRL (RFC 5280 §5.2.4).
    Delta,
}

/// How long a CRL is valid (thisUpdate to nextUpdate).
pub const CRL_VALIDITY: i64 = 24 * 3600;
/// A CRL is signed again when less than this is left of it.
pub const CRL_REFRESH_BEFORE: i64 = 12 * 3600;

impl CaService {
    /// Revokes a certificate as an operator (admin or registration
    /// officer); `invalid_since`, when given, must not be in the future.
    pub async fn revoke(
        &self,
        serial: &CertificateSerial,
        reason: RevocationReason,
        invalid_since: Option<i64>,
    ) -> Result<(), ServiceError> {
        if let Some(t) = invalid_since {
            let not_before = self.registry.certificate(serial).await?.not_before;
            if t > now() || t < not_before {
                return Err(ServiceError::Invalid {
                    code: symbolon::Code::InvalidInput,
                    message: format!(
                        "invalid_since {t}: between the certificate's notBefore ({not_before}) and now"
                    ),
                });
            }
        }
        self.registry
            .revoke(Revoke {
                serial: serial.clone(),
                reason,
                invalid_since,
                origin: RevocationOrigin::Operator,
            })
            .await?;
        self.after_change(Some(serial)).await;
        Ok(())
    }

    /// Releases a certificate on hold.
    pub async fn release(&self, serial: &CertificateSerial) -> Result<(), ServiceError> {
        self.registry.release(serial).await?;
        self.after_change(Some(serial)).await;
        Ok(())
    }

    /// A subscriber revokes its own certificate: the statement must be
    /// signed by the key the certificate certifies, over this CA.
    pub async fn revoke_self(&self, statement: &SelfRevocation) -> Result<(), ServiceError> {
        let serial: CertificateSerial = statement.serial.parse()?;
        let record = self.registry.certificate(&serial).await?;
        let cert = parse_certificate(&record.der).map_err(|e| CaError::Internal(e.to_string()))?;
        let key = certificate_public_key(&cert).map_err(|e| CaError::Internal(e.to_string()))?;
        let ca = self.signer.public_key().fingerprint();
        statement
            .verify(&ca, &key, now())
            .map_err(|e| ServiceError::Invalid {
                code: e.code(),
                message: format!("self-revocation of {serial}: {e}"),
            })?;
        self.registry
            .revoke(Revoke {
                serial: serial.clone(),
                reason: statement.reason,
                invalid_since: None,
                origin: RevocationOrigin::Subscriber,
            })
            .await?;
        self.after_change(Some(&serial)).await;
        Ok(())
    }

    /// Revokes every certificate of a token: one reported tampered with
    /// (keyCompromise), or one a recovery replaced (the officer's reason).
    /// The token must be registered or have had a certificate delivered
    /// into it; a station acts only on devices it served. Returns how many
    /// were revoked.
    pub async fn revoke_token(
        &self,
        token: TokenSerial,
        reason: RevocationReason,
        tampered: bool,
        by: &Actor,
    ) -> Result<usize, ServiceError> {
        if by.role == symbolon::access::Role::Station
            && !self.registry.station_served(&token, &by.owner()).await?
        {
            return Err(ServiceError::forbidden(format!(
                "token {token}: a station reports only devices it vouched for or issued into"
            )));
        }
        // A device the station wrote into without registering it is known
        // by its certificates' deliveries only.
        let replaced = match self.registry.token(&token).await {
            Ok(record) => record.replaced_by.is_some(),
            Err(StoreError::NotFound(_)) => false,
            Err(e) => return Err(e.into()),
        };
        let origin = if tampered {
            RevocationOrigin::TokenTampered
        } else if replaced {
            RevocationOrigin::DeviceReplaced
        } else {
            RevocationOrigin::Operator
        };
        let n = self.registry.revoke_token(token, reason, origin).await?;
        self.after_change(None).await;
        Ok(n)
    }

    /// After a status change: the cached OCSP answer goes, the CRL is
    /// signed again. A failure to sign is logged: the revocation stands,
    /// and the next CRL request or maintenance run signs it (a CRL older
    /// than the last change is never served).
    pub(crate) async fn after_change(&self, serial: Option<&CertificateSerial>) {
        self.responder.changed(serial);
        if let Err(e) = self.crl().await {
            tracing::error!(error = %e, "cannot sign the CRL after a revocation");
        }
    }

    /// The current CRL (DER): the newest signed, unless a change came after
    /// it or its next update is near; then a new one is signed first.
    pub async fn crl(&self) -> Result<Vec<u8>, ServiceError> {
        if let Some(c) = self.fresh_crl().await? {
            return Ok(c.der);
        }
        self.current_or_signed(CrlKind::Full).await
    }

    /// The newest CRL of `kind` if it is current, else a new one signed.
    /// One signer at a time in this process. Another process may take the
    /// next number first (the registry refuses a number twice, or one below
    /// the highest): its CRL serves if it is current; if it was made from
    /// an older reading, another is signed with the number after.
    async fn current_or_signed(&self, kind: CrlKind) -> Result<Vec<u8>, ServiceError> {
        let _one = self.crl_lock.lock().await;
        for _ in 0..3 {
            let signed = match kind {
                CrlKind::Full => {
                    if let Some(c) = self.fresh_crl().await? {
                        return Ok(c.der);
                    }
                    self.sign_crl().await
                }
                CrlKind::Delta => {
                    let base = self.delta_base().await?;
                    if let Some(c) = self.fresh_delta(&base).await? {
                        return Ok(c.der);
                    }
                    self.sign_delta(base).await
                }
            };
            match signed {
                Ok(der) => return Ok(der),
                Err(ServiceError::Store(StoreError::AlreadyExists(_))) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(
            CaError::Internal("other processes kept taking the next CRL number; try again".into())
                .into(),
        )
    }

    /// Signs and records a full CRL of every revocation in force, numbered
    /// after the newest CRL of either kind.
    async fn sign_crl(&self) -> Result<Vec<u8>, ServiceError> {
        let number = self.registry.next_crl_number().await?;
        let set = self.registry.revoked_set().await?;
        let this_update = now();
        let params = CrlParams {
            number: u64::try_from(number).unwrap_or(1),
            this_update,
            next_update: this_update + CRL_VALIDITY,
            delta: None,
            freshest: self.status_urls.as_ref().map(|u| u.delta_crl.clone()),
        };
        self.sign_and_record(params, set.entries, set.covers_seq)
            .await
    }

    /// Signs a CRL inside the CA token and records it.
    async fn sign_and_record(
        &self,
        params: CrlParams,
        entries: Vec<RevokedEntry>,
        covers_seq: i64,
    ) -> Result<Vec<u8>, ServiceError> {
        let (token, slot, signer, issuer) = (
            Arc::clone(&self.token),
            self.slot.clone(),
            self.signer.clone(),
            self.issuer.clone(),
        );
        let count = (entries.len() + params.delta.as_ref().map_or(0, |d| d.removed.len())) as i64;
        let (number, this_update, next_update) =
            (params.number, params.this_update, params.next_update);
        let delta_of = params.delta.as_ref().map(|d| d.base);
        let der = self
            .cpu
            .signing
            .run(move || {
                build_crl(&issuer, &signer, &params, &entries, |r| {
                    token.sign_request(&slot, r)
                })
            })
            .await
            .map_err(|e| CaError::Internal(format!("CRL signing task: {e}")))?
            .map_err(|e| CaError::Internal(format!("CRL: {e}")))?;
        let as_i64 = |n: u64| i64::try_from(n).map_err(|_| CaError::Internal("CRL number".into()));
        let stored = StoredCrl {
            number: as_i64(number)?,
            this_update,
            next_update,
            covers_seq,
            entries: count,
            delta_of: delta_of.map(as_i64).transpose()?,
            der,
        };
        self.registry.record_crl(stored.clone()).await?;
        Ok(stored.der)
    }

    /// The newest CRL if it covers every change and has time left.
    async fn fresh_crl(&self) -> Result<Option<StoredCrl>, ServiceError> {
        let Some(latest) = self.registry.latest_crl().await? else {
            return Ok(None);
        };
        let head = self.registry.revocation_head().await?;
        let fresh = latest.covers_seq >= head && latest.next_update - now() > CRL_REFRESH_BEFORE;
        Ok(fresh.then_some(latest))
    }

    /// The current delta CRL (DER): every change since the newest full CRL
    /// a relying party may still hold (one signed a CRL lifetime ago or
    /// earlier; while the CA is younger, its first). Signed again, like the
    /// full CRL, when a change came after it, its next update is near, or
    /// its base moved on.
    pub async fn delta_crl(&self) -> Result<Vec<u8>, ServiceError> {
        // A base must exist: the first full CRL is signed on demand.
        if self.registry.latest_crl().await?.is_none() {
            self.crl().await?;
        }
        if let Some(c) = self.fresh_delta(&self.delta_base().await?).await? {
            return Ok(c.der);
        }
        self.current_or_signed(CrlKind::Delta).await
    }

    /// The base a delta CRL signed now is relative to.
    async fn delta_base(&self) -> Result<CrlBase, ServiceError> {
        Ok(self
            .registry
            .crl_base(now() - CRL_VALIDITY)
            .await?
            .ok_or_else(|| CaError::Internal("no full CRL to base a delta CRL on".into()))?)
    }

    /// The newest delta CRL if it is relative to `base`, covers every
    /// change and has time left.
    async fn fresh_delta(&self, base: &CrlBase) -> Result<Option<StoredCrl>, ServiceError> {
        let Some(latest) = self.registry.latest_delta_crl().await? else {
            return Ok(None);
        };
        let head = self.registry.revocation_head().await?;
        let fresh = latest.delta_of == Some(base.number)
            && latest.covers_seq >= head
            && latest.next_update - now() > CRL_REFRESH_BEFORE;
        Ok(fresh.then_some(latest))
    }

    /// Signs and records a delta CRL of the changes since `base`.
    async fn sign_delta(&self, base: CrlBase) -> Result<Vec<u8>, ServiceError> {
        let number = self.registry.next_crl_number().await?;
        let changes = self.registry.revocation_changes(base.covers_seq).await?;
        let this_update = now();
        let to_u64 = |n: i64| u64::try_from(n).map_err(|_| CaError::Internal("CRL number".into()));
        let params = CrlParams {
            number: to_u64(number)?,
            this_update,
            next_update: this_update + CRL_VALIDITY,
            delta: Some(DeltaOf {
                base: to_u64(base.number)?,
                removed: changes.removed,
            }),
            freshest: None,
        };
        self.sign_and_record(params, changes.entries, changes.covers_seq)
            .await
    }

    /// The service's periodic upkeep: a CRL before its next update, the
    /// OCSP responder's and the response signer's certificates before their
    /// end, cached OCSP answers before theirs.
    pub async fn maintain_status(&self) -> Result<(), ServiceError> {
        self.crl().await?;
        self.renew_responder_if_due().await?;
        self.response_signer().await?;
        self.refresh_ocsp_cache().await?;
        Ok(())
    }
}
