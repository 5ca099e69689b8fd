//! The CA's own certificates for its edge (docs/access.md): operator
//! credentials (enrolled with a single-use code, or the first admin's made at
//! bootstrap), the service's TLS certificate, and the grants and revocations
//! an admin makes. Every key certified here passes the same checks as a
//! subscriber's (weak keys, once ever) and lands in the registry and the
//! audit log.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use symbolon::access::{EnrollmentCode, PartyName, Role, ENROLLMENT_VALIDITY_SECS};
use symbolon::ca::CaError;
use symbolon::keys::{PublicKey, RsaPublicKey};
use symbolon::x509::{
    issue_leaf, parse_identity, random_serial, verify_csr, AltNames, CertificateRole, IssueParams,
    LeafExtras, X509Error,
};
use symbolon_store::{
    Actor, CertificateRecord, CertificateSerial, CredentialState, Grant, NewCredential,
};

use crate::service::now;
use crate::shared_primes::Origin;
use crate::{CaService, ServiceError};

/// How long an operator credential is valid.
pub const CREDENTIAL_VALIDITY: Duration = Duration::from_secs(365 * 86_400);

/// How long the service's TLS certificate is valid; it is renewed when a
/// third of that is left.
pub const TLS_VALIDITY: Duration = Duration::from_secs(90 * 86_400);

/// How long the credential and TLS certificate of a CA run inside one
/// command (`--ca local:DIR`) are valid. Their keys live in that process's
/// memory only; a day outlasts any command, and what is left afterwards
/// expires soon even if the process died before revoking it.
pub const IN_PROCESS_VALIDITY: Duration = Duration::from_secs(86_400);

/// A certificate just issued, with the chain above it.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// Its serial.
    pub serial: CertificateSerial,
}

/// How a credential comes to be.
enum How {
    /// With an enrollment code (its digest).
    Enrollment(String),
    /// Made by the service itself: the first admin, or the in-process
    /// station of `--ca local:DIR`.
    Bootstrap,
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl CaService {
    /// Checks a key as a subscriber's would be (weak-key classes, a prime
    /// shared with any key seen, seen before at all), refusals audited.
    async fn check_new_key(&self, key: &RsaPublicKey) -> Result<(), ServiceError> {
        if let Err(e) = self.weak_key_checks(key).await? {
            self.refused(&e, Some(key.fingerprint())).await;
            return Err(e.into());
        }
        if !self
            .registry
            .key_available(&key.fingerprint(), None)
            .await?
        {
            let e = CaError::DuplicateKey(key.fingerprint().to_string());
            self.refused(&e, Some(key.fingerprint())).await;
            return Err(e.into());
        }
        self.check_shared_primes(key, Origin::Certify).await
    }

    /// Signs a leaf with the CA key, off the async threads; returns it with
    /// the registry's record of it.
    async fn sign_leaf(
        &self,
        params: IssueParams,
    ) -> Result<(Vec<u8>, CertificateRecord), ServiceError> {
        let (token, slot, signer, issuer) = (
            Arc::clone(&self.token),
            self.slot.clone(),
            self.signer.clone(),
            self.issuer.clone(),
        );
        let p = params.clone();
        let der = self
            .cpu
            .signing
            .run(move || issue_leaf(&issuer, &signer, &p, |r| token.sign_request(&slot, r)))
            .await
            .map_err(|e| CaError::Internal(format!("signing task: {e}")))?
            .map_err(|e| CaError::Internal(e.to_string()))?;
        let record = CertificateRecord {
            serial: CertificateSerial::from_bytes(&params.serial),
            fingerprint: params.public_key.fingerprint(),
            subject: params.subject.to_string(),
            profile: params.role.to_string(),
            not_before: unix(params.not_before),
            not_after: unix(params.not_before + params.validity),
            der: der.clone(),
            generated_on_token: None,
            attestation: None,
            issued_at: now(),
        };
        Ok((der, record))
    }

    async fn issue_credential(
        &self,
        role: Role,
        name: &PartyName,
        public_key: &RsaPublicKey,
        how: How,
        validity: Duration,
    ) -> Result<Issued, ServiceError> {
        self.check_new_key(public_key).await?;
        let subject = parse_identity(&format!("CN={name}"))
            .map_err(|e| ServiceError::Setup(e.to_string()))?;
        let params = IssueParams {
            serial: random_serial().map_err(|e| CaError::Internal(e.to_string()))?,
            not_before: SystemTime::now(),
            validity,
            subject,
            public_key: public_key.clone().into(),
            role: CertificateRole::Client,
            extras: LeafExtras {
                purposes: vec![role.purpose()],
                ..LeafExtras::default()
            },
        };
        let (der, record) = self.sign_leaf(params).await?;
        let serial = record.serial.clone();
        let credential = NewCredential {
            name: name.clone(),
            role,
            certificate: record,
            spki: public_key.spki_der().to_vec(),
        };
        match how {
            How::Enrollment(digest) => self.registry.enroll(digest, credential).await?,
            How::Bootstrap => self.registry.bootstrap_credential(credential).await?,
        }
        Ok(Issued {
            certificate: der,
            serial,
        })
    }

    /// `POST /v1/enroll`: a code `admin grant` made, and a PKCS#10 request
    /// for the key the enrollee's token made (its signature proves
    /// possession). The certificate carries the grant's role and name,
    /// whatever the request's subject says. The code is spent only when the
    /// credential is recorded; a refused request leaves it usable.
    pub async fn enroll(&self, code: &EnrollmentCode, csr: &[u8]) -> Result<Issued, ServiceError> {
        let digest = code.digest();
        let Grant { role, name } = self.registry.pending_grant(&digest).await?;
        let verified = verify_csr(csr).map_err(|e| match e {
            X509Error::BadSignature(_) => ServiceError::Refused(CaError::BadRequestSignature),
            other => ServiceError::Invalid {
                code: symbolon::Code::InvalidRequest,
                message: format!("csr: {other}"),
            },
        })?;
        // Operator credentials are RSA keys made in a token, which holds
        // RSA keys only (docs/ec-keys.md).
        let PublicKey::Rsa(public_key) = verified.public_key else {
            return Err(ServiceError::Refused(CaError::UnsupportedKey(format!(
                "an operator credential is an RSA key made in a token; this request's key is {}",
                verified.public_key.kind()
            ))));
        };
        self.issue_credential(
            role,
            &name,
            &public_key,
            How::Enrollment(digest),
            CREDENTIAL_VALIDITY,
        )
        .await
    }

    /// Makes a credential directly (no code), valid for `validity`: for the
    /// first admin, when no admin exists ([`CREDENTIAL_VALIDITY`]), and for a
    /// station inside this process ([`IN_PROCESS_VALIDITY`]; the process
    /// revokes it when done).
    pub async fn bootstrap_credential(
        &self,
        role: Role,
        name: &PartyName,
        public_key: &RsaPublicKey,
        validity: Duration,
    ) -> Result<Issued, ServiceError> {
        self.issue_credential(role, name, public_key, How::Bootstrap, validity)
            .await
    }

    /// `POST /v1/admin/grants`: a single-use code for `role` under `name`.
    /// The code is returned once and kept only as its digest.
    pub async fn grant(
        &self,
        role: Role,
        name: &PartyName,
        by: &Actor,
    ) -> Result<(EnrollmentCode, i64), ServiceError> {
        if name.is_reserved() {
            return Err(ServiceError::forbidden(format!(
                "the name {name} is the service's own; choose another"
            )));
        }
        let code = EnrollmentCode::generate().map_err(|e| CaError::Internal(e.to_string()))?;
        let expires_at = now() + ENROLLMENT_VALIDITY_SECS;
        self.registry
            .grant(
                code.digest(),
                Grant {
                    role,
                    name: name.clone(),
                },
                format!("{}/{}", by.role, by.name),
                expires_at,
            )
            .await?;
        Ok((code, expires_at))
    }

    /// `POST /v1/admin/credentials/{serial}/revoke`. The last active admin
    /// cannot be revoked (the store refuses it inside the write): nobody
    /// could grant anything again.
    pub async fn revoke_credential(&self, serial: &CertificateSerial) -> Result<(), ServiceError> {
        let c = self.registry.credential(serial).await?;
        if c.state == CredentialState::Revoked {
            return Err(ServiceError::Invalid {
                code: symbolon::Code::AlreadyUsed,
                message: format!("credential {serial} is revoked already"),
            });
        }
        Ok(self.registry.revoke_credential(serial).await?)
    }

    /// The service's TLS certificate for a key in its own token, naming
    /// `dns` and `ips`, valid for `validity`: issued and recorded like any
    /// certificate.
    pub async fn issue_service_certificate(
        &self,
        public_key: &RsaPublicKey,
        dns: &[String],
        ips: &[std::net::IpAddr],
        validity: Duration,
    ) -> Result<Issued, ServiceError> {
        self.check_new_key(public_key).await?;
        let cn = dns
            .first()
            .cloned()
            .or_else(|| ips.first().map(ToString::to_string))
            .unwrap_or_else(|| "symbolon".into());
        let subject = parse_identity(&format!("CN={cn}"))
            .map_err(|e| ServiceError::Setup(format!("--hostname: {e}")))?;
        let params = IssueParams {
            serial: random_serial().map_err(|e| CaError::Internal(e.to_string()))?,
            not_before: SystemTime::now(),
            validity,
            subject,
            public_key: public_key.clone().into(),
            role: CertificateRole::Server,
            extras: LeafExtras {
                names: AltNames {
                    dns: dns
                        .iter()
                        .map(|d| d.parse())
                        .collect::<Result<_, _>>()
                        .map_err(|e| ServiceError::Setup(format!("--hostname: {e}")))?,
                    ips: ips.to_vec(),
                    emails: Vec::new(),
                },
                purposes: Vec::new(),
                status: None,
            },
        };
        let (der, record) = self.sign_leaf(params).await?;
        let detail = json!({
            "serial": record.serial, "key": record.fingerprint, "subject": record.subject,
            "role": record.profile, "purpose": "service-tls", "dns": dns, "ip": ips,
        });
        self.registry
            .record_issuance(&record, public_key.spki_der(), None, None, &detail)
            .await?;
        self.registry
            .mark_service_certificate(&record.serial, "service-tls")
            .await?;
        Ok(Issued {
            certificate: der,
            serial: record.serial,
        })
    }
}
