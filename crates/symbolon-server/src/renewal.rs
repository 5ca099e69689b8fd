//! Renewal with a new key (docs/revocation.md): a station relays a request
//! signed by a new key in the subscriber's token, with the old key's
//! authorisation; the CA certifies it under the old certificate's subject,
//! names and role (the old certificate is the vetting), once per old
//! certificate, and supersedes the old one when the new one is delivered.

use symbolon::ca::{CaError, CertifyRequest};
use symbolon::revocation::RenewalAuthorization;
use symbolon::token::Attestation;
use symbolon::x509::{certificate_public_key, parse_certificate, AltNames, CertificateRole};
use symbolon_store::{CertificateSerial, StoreError};

use crate::service::{now, Certified, IssueLinks};
use crate::vetting::Authority;
use crate::{CaService, ServiceError};

/// What a station sends to renew.
#[derive(Debug, Clone)]
pub struct RenewalRequest {
    /// The request, signed by the new key, DER.
    pub csr: Vec<u8>,
    /// Its form (CRMF for CMP's `kur`).
    pub form: symbolon::ca::RequestForm,
    /// The token's attestation of the new key, when it made it.
    pub attestation: Option<Attestation>,
    /// The nonce the response is bound to.
    pub nonce: Vec<u8>,
    /// What proves the old key's holder asks.
    pub authorization: RenewalProof,
    /// The answer is the delivery (EST): recorded with the issuance, the
    /// old certificate superseded at once.
    pub delivered_with_answer: bool,
}

/// What proves that the holder of the old certificate's key asks for the
/// renewal.
#[derive(Debug, Clone)]
pub enum RenewalProof {
    /// A statement the old key signed inside its token, relayed by a
    /// station (`POST /v1/renewals`).
    Signed(RenewalAuthorization),
    /// The old certificate's key authenticated the request itself: the
    /// TLS handshake it signed (EST `simplereenroll`, docs/est.md) or the
    /// CMP message it protected (`kur`, docs/cmp.md).
    CurrentCertificate(CertificateSerial),
}

impl RenewalProof {
    fn old_serial(&self) -> Result<CertificateSerial, ServiceError> {
        match self {
            RenewalProof::Signed(a) => Ok(a.old_serial.parse()?),
            RenewalProof::CurrentCertificate(serial) => Ok(serial.clone()),
        }
    }
}

fn refused(code: symbolon::Code, message: String) -> ServiceError {
    ServiceError::Invalid { code, message }
}

impl CaService {
    /// Renews a certificate with a new key (see the module doc). Refused:
    /// an old certificate revoked, on hold, expired or renewed already; an
    /// authorisation not signed by the old key over this CA and the new
    /// key; a request for other names than the old certificate's.
    pub async fn renew(&self, request: RenewalRequest) -> Result<Certified, ServiceError> {
        let old = request.authorization.old_serial()?;
        let record = self.registry.certificate(&old).await?;
        self.registry.ordinary_certificate(&old).await?;
        match self.registry.status(&old).await? {
            Some(s) if s.revocation.as_ref().is_some_and(|r| r.in_force()) => {
                return Err(StoreError::AlreadyRevoked {
                    serial: old.to_string(),
                    reason: s.revocation.map(|r| r.reason.to_string()).unwrap_or_default(),
                }
                .into())
            }
            Some(s) if s.not_after <= now() => {
                return Err(refused(
                    symbolon::Code::Refused,
                    format!("certificate {old} has expired: an expired certificate is not renewed; register the subscriber again"),
                ))
            }
            _ => {}
        }
        let earlier = self.registry.renewed_by(&old).await?;
        let old_cert =
            parse_certificate(&record.der).map_err(|e| CaError::Internal(e.to_string()))?;
        let old_key =
            certificate_public_key(&old_cert).map_err(|e| CaError::Internal(e.to_string()))?;
        let role: CertificateRole = record
            .profile
            .parse()
            .map_err(|e: symbolon::x509::X509Error| CaError::Internal(e.to_string()))?;
        let old_names =
            AltNames::of_certificate(&old_cert).map_err(|e| CaError::Internal(e.to_string()))?;
        let subject = old_cert.tbs_certificate().subject().clone();
        let approved = self
            .review(CertifyRequest {
                csr: request.csr,
                form: request.form,
                identity: symbolon::x509::identity_text(&subject),
                role,
                attestation: request.attestation,
                domain_validated: false,
            })
            .await?;
        let new_key = approved.public_key.fingerprint();
        if let Some(extra) = approved
            .alt_names
            .tagged()
            .into_iter()
            .find(|n| !old_names.tagged().contains(n))
        {
            let e = CaError::NameNotAllowed(format!(
                "{extra}: a renewal certifies the old certificate's names only"
            ));
            self.refused(&e, Some(new_key)).await;
            return Err(e.into());
        }
        // EST's re-enrollment asks for exactly the certificate's names
        // (RFC 7030 §4.2.2): one left out is refused, not dropped.
        if matches!(request.authorization, RenewalProof::CurrentCertificate(_)) {
            if let Some(missing) = old_names
                .tagged()
                .into_iter()
                .find(|n| !approved.alt_names.tagged().contains(n))
            {
                let e = CaError::NameNotAllowed(format!(
                    "{missing}: a re-enrollment asks for every name of the certificate it replaces"
                ));
                self.refused(&e, Some(new_key)).await;
                return Err(e.into());
            }
        }
        if let RenewalProof::Signed(authorization) = &request.authorization {
            let ca = self.signer.public_key().fingerprint();
            if let Err(e) = authorization.verify(&ca, &old_key, &new_key, now()) {
                let code = e.code();
                let message = format!("renewal of {old}: {e}");
                self.refused(&CaError::InvalidRequest(message.clone()), Some(new_key))
                    .await;
                return Err(refused(code, message));
            }
        }
        if let Some(earlier) = earlier {
            return self
                .renewed_before(&old, &earlier, approved, request.nonce)
                .await;
        }
        self.issue_approved(
            approved,
            subject,
            request.nonce,
            Authority::Renewal {
                renews: old.clone(),
            },
            IssueLinks {
                reservation: None,
                renews: Some(old),
                delivered_with_answer: request.delivered_with_answer,
            },
        )
        .await
    }
}

impl CaService {
    /// A renewal of `old` that `earlier` answered before: the same request
    /// again (the same new key; its answer or delivery report was lost) gets
    /// the same certificate, answered over the new nonce, while no delivery
    /// was reported; an earlier renewal revoked before it was settled frees
    /// the old certificate (the registry clears it when the new one is
    /// recorded); anything else is refused.
    async fn renewed_before(
        &self,
        old: &CertificateSerial,
        earlier: &CertificateSerial,
        approved: symbolon::ca::Approved,
        nonce: Vec<u8>,
    ) -> Result<Certified, ServiceError> {
        let record = self.registry.certificate(earlier).await?;
        let revoked = self
            .registry
            .status(earlier)
            .await?
            .and_then(|s| s.revocation)
            .is_some_and(|r| r.in_force());
        if revoked {
            let subject = parse_certificate(&record.der)
                .map_err(|e| CaError::Internal(e.to_string()))?
                .tbs_certificate()
                .subject()
                .clone();
            return self
                .issue_approved(
                    approved,
                    subject,
                    nonce,
                    Authority::Renewal {
                        renews: old.clone(),
                    },
                    IssueLinks {
                        reservation: None,
                        renews: Some(old.clone()),
                        delivered_with_answer: false,
                    },
                )
                .await;
        }
        let same_key = record.fingerprint == approved.public_key.fingerprint();
        if !same_key || self.registry.delivery_reported(earlier).await? {
            return Err(StoreError::AlreadyClaimed {
                scope: "the renewal of certificate",
                id: format!("{old} (renewed by {earlier})"),
            }
            .into());
        }
        let (slot, signer) = self.response_signer().await?;
        let chain = self.chain().to_vec();
        let token = std::sync::Arc::clone(&self.token);
        // Signing is work inside the token: off the async threads.
        let response = self
            .cpu
            .signing
            .run(move || {
                symbolon::ca::CertifyResponse::sign_delegated(
                    record.der,
                    chain,
                    nonce,
                    signer.as_ref().clone(),
                    |m| crate::response_signer::sign_response(token.as_ref(), &slot, m),
                )
            })
            .await
            .map_err(|e| CaError::Internal(format!("signing task: {e}")))??;
        Ok(Certified {
            certificate: response.certificate.clone(),
            response: Some(response),
            serial: earlier.clone(),
            authority: Authority::Renewal {
                renews: old.clone(),
            },
            device: approved.device_evidence,
        })
    }
}
