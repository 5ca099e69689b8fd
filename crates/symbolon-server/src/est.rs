//! EST enrollment at the service (RFC 7030; docs/est.md): a device's
//! PKCS#10 request goes through the same review as `POST /v1/certify`
//! (possession, weak and duplicate keys, the vetting of FIG. 6 step 423,
//! audit); only who vouches differs: a station's credential, a
//! registration's single-use enrollment code, or, to re-enroll, the
//! device's current certificate.

use symbolon::access::EnrollmentCode;
use symbolon::ca::{CaError, CertifyRequest, RequestForm};
use symbolon::x509::{csr_spki, identity_text, parse_certificate, CertificateRole};
use symbolon_store::{Actor, CertificateSerial, RegistrationRecord, RegistrationState, StoreError};
use x509_cert::der::{Decode, Encode};
use x509_cert::request::CertReq;

use crate::renewal::{RenewalProof, RenewalRequest};
use crate::service::IssueLinks;
use crate::{CaService, ServiceError};

/// Who vouches for an EST enrollment.
pub enum EstCaller<'a> {
    /// A station, by its credential (its name policy or a registration
    /// covers the subject).
    Station(&'a Actor),
    /// A device with a registration's enrollment code.
    Code(EnrollmentCode),
}

/// What vouches, once a code is resolved to its registration.
enum Voucher<'a> {
    Station(&'a Actor),
    Registration(Box<RegistrationRecord>),
}

/// A certificate issued through EST.
#[derive(Debug, Clone)]
pub struct EstIssued {
    /// Its serial.
    pub serial: CertificateSerial,
    /// The certificate, DER.
    pub certificate: Vec<u8>,
}

/// A code's registration's role when the request names none: its only
/// role, or `client` among several.
fn default_role(roles: &[String]) -> Result<CertificateRole, ServiceError> {
    let only = match roles {
        [one] => one.as_str(),
        many if many.iter().any(|r| r == "client") => "client",
        many => {
            return Err(invalid(format!(
                "the enrollment code's registration is for {}: name one with a label, /.well-known/est/ROLE/simpleenroll",
                many.join(", ")
            )))
        }
    };
    only.parse().map_err(|e: symbolon::x509::X509Error| {
        ServiceError::from(CaError::Internal(e.to_string()))
    })
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        code: symbolon::Code::InvalidRequest,
        message: message.into(),
    }
}

/// The subject a request names, as the identity it claims (EST has no
/// other field for it).
fn claimed_identity(csr: &[u8]) -> Result<String, ServiceError> {
    let req = CertReq::from_der(csr).map_err(|e| invalid(format!("PKCS#10: {e}")))?;
    Ok(identity_text(&req.info.subject))
}

impl CaService {
    /// `simpleenroll`: certifies the request for the role the label names
    /// (by default `client`, or a code's registration's only role).
    pub async fn est_enroll(
        &self,
        csr: Vec<u8>,
        label: Option<CertificateRole>,
        caller: EstCaller<'_>,
    ) -> Result<EstIssued, ServiceError> {
        let identity = claimed_identity(&csr)?;
        self.enroll_vouched(csr, RequestForm::Pkcs10, identity, label, caller)
            .await
    }

    /// Certifies a request whose subject is `identity` (EST and CMP carry
    /// no other), vouched for by a station or an enrollment code.
    pub(crate) async fn enroll_vouched(
        &self,
        csr: Vec<u8>,
        form: RequestForm,
        identity: String,
        label: Option<CertificateRole>,
        caller: EstCaller<'_>,
    ) -> Result<EstIssued, ServiceError> {
        // A code is looked at before the review: an unknown or spent one
        // costs the service no key checks.
        let voucher = match caller {
            EstCaller::Station(by) => Voucher::Station(by),
            EstCaller::Code(code) => {
                Voucher::Registration(Box::new(self.live_code_registration(&code).await?))
            }
        };
        let role = match (label, &voucher) {
            (Some(r), _) => r,
            (None, Voucher::Registration(r)) => default_role(&r.roles)?,
            (None, Voucher::Station(_)) => CertificateRole::Client,
        };
        let request = CertifyRequest {
            identity,
            csr,
            form,
            role,
            attestation: None,
            domain_validated: false,
        };
        let approved = self.review(request).await?;
        let fp = approved.public_key.fingerprint();
        let authorized = match &voucher {
            Voucher::Station(by) => self.authorize(&approved, by).await,
            Voucher::Registration(r) => self.authorize_code(&approved, r),
        };
        let (authority, subject) = match authorized {
            Ok(a) => a,
            Err(e) => {
                self.refused(&e, Some(fp)).await;
                return Err(e.into());
            }
        };
        let certified = self
            .issue_approved(
                approved,
                subject,
                Vec::new(),
                authority,
                IssueLinks {
                    delivered_with_answer: true,
                    ..IssueLinks::default()
                },
            )
            .await?;
        Ok(EstIssued {
            serial: certified.serial,
            certificate: certified.certificate,
        })
    }

    /// `simplereenroll`: a new key for the certificate the client
    /// authenticated with (its subject, names and role; renewal's rules,
    /// docs/revocation.md). The same request again after a lost answer
    /// gets the same certificate.
    pub async fn est_reenroll(
        &self,
        csr: Vec<u8>,
        label: Option<CertificateRole>,
        current: &CertificateSerial,
    ) -> Result<EstIssued, ServiceError> {
        let record = match self.registry.certificate(current).await {
            Ok(r) => r,
            Err(StoreError::NotFound(_)) => {
                return Err(ServiceError::unauthenticated(format!(
                    "certificate {current} is not one this CA issued"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(label) = label {
            if label.to_string() != record.profile {
                return Err(invalid(format!(
                    "certificate {current} is a {} certificate; re-enroll it under /.well-known/est/{}/ or without a label",
                    record.profile, record.profile
                )));
            }
        }
        if let Some(earlier) = self.answered_before(current, &csr).await? {
            return Ok(earlier);
        }
        let renewed = self
            .renew(RenewalRequest {
                csr: csr.clone(),
                form: RequestForm::Pkcs10,
                attestation: None,
                nonce: Vec::new(),
                authorization: RenewalProof::CurrentCertificate(current.clone()),
                delivered_with_answer: true,
            })
            .await;
        let certified = match renewed {
            Ok(c) => c,
            // The same request sent twice at once (a client retrying):
            // the one that lost the race gets the winner's certificate.
            Err(e) if e.code() == symbolon::Code::DuplicateKey => {
                match self.answered_before(current, &csr).await? {
                    Some(earlier) => return Ok(earlier),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // The old certificate was superseded with it: the CRL and the OCSP
        // answers follow.
        self.after_change(Some(current)).await;
        Ok(EstIssued {
            serial: certified.serial,
            certificate: certified.certificate,
        })
    }

    /// The live registration an enrollment code belongs to; a refusal
    /// when there is none (audited by the gate as the refused request: an
    /// anonymous guess costs the log one entry, not two).
    async fn live_code_registration(
        &self,
        code: &EnrollmentCode,
    ) -> Result<RegistrationRecord, ServiceError> {
        let found = self.registry.registration_by_code(&code.digest()).await?;
        let e = match found {
            Some(r) if r.state == RegistrationState::Live => return Ok(r),
            Some(r) => CaError::NotRegistered(format!(
                "the enrollment code's registration {} is {}; ask a registration officer for a new one",
                r.id,
                match r.state {
                    RegistrationState::Spent => "used already: a code enrolls once",
                    RegistrationState::Expired => "expired",
                    _ => "withdrawn",
                }
            )),
            None => CaError::NotRegistered(
                "the enrollment code is not one a registration officer issued (`symbolon ra register --enrollment-code`)".into(),
            ),
        };
        Err(e.into())
    }

    /// The certificate a re-enrollment of `current` with this very request
    /// produced before, if it did and it stands: its answer was lost.
    async fn answered_before(
        &self,
        current: &CertificateSerial,
        csr: &[u8],
    ) -> Result<Option<EstIssued>, ServiceError> {
        let Some(earlier) = self.registry.renewed_by(current).await? else {
            return Ok(None);
        };
        let revoked = self
            .registry
            .status(&earlier)
            .await?
            .and_then(|s| s.revocation)
            .is_some_and(|r| r.in_force());
        if revoked {
            return Ok(None);
        }
        let record = self.registry.certificate(&earlier).await?;
        let cert = parse_certificate(&record.der).map_err(|e| CaError::Internal(e.to_string()))?;
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| CaError::Internal(e.to_string()))?;
        if csr_spki(csr).as_deref() != Some(spki.as_slice()) {
            return Ok(None);
        }
        // The same key, proven again by the request's signature.
        symbolon::x509::verify_csr(csr).map_err(|_| CaError::BadRequestSignature)?;
        Ok(Some(EstIssued {
            serial: earlier,
            certificate: record.der,
        }))
    }
}
