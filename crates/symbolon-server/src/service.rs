//! The CA's pipeline over the registry and the CA token (patent FIG. 6):
//! review (proof of possession, identity, key checks, attestation) →
//! register the key, once ever (step 424) → issue under the profile, signed
//! inside the CA token → record → sign the response bound to the nonce.
//! Every decision, refusals included, lands in the audit log.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use symbolon::Code;

use serde_json::json;
use symbolon::ca::{review, CaError, CaPolicy, CertifyRequest, CertifyResponse};
use symbolon::keys::{Fingerprint, IdentityPublicKey, KeyError, PublicKey, RsaPublicKey};
use symbolon::token::{SlotName, Token, TokenError, TokenSerial};
use symbolon::x509::{
    certificate_public_key, issue_leaf, parse_certificate, random_serial, CaSigner, Certificate,
    IssueParams, LeafExtras, StatusUrls,
};
use symbolon_store::{
    Actor, AuditKind, CertificateRecord, CertificateSerial, Registry, ReservationId, StoreError,
};
use thiserror::Error;

use crate::shared_primes::{Origin, SharedPrimes};
use crate::vetting::Authority;
use crate::OpenedCa;

tokio::task_local! {
    /// The enrollment protocol a request came by, when not the JSON API
    /// (`"est"`): recorded in the issuance's audit entry.
    pub(crate) static PROTOCOL: &'static str;
}

/// Why a service call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The CA refused the request.
    #[error(transparent)]
    Refused(#[from] CaError),
    /// The registry failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The CA token failed.
    #[error("the CA token failed: {0}")]
    Token(#[from] TokenError),
    /// Setting up or opening the CA failed.
    #[error("{0}")]
    Setup(String),
    /// An escrow or recovery step refused.
    #[error(transparent)]
    Escrow(symbolon::escrow::EscrowError),
    /// A joint-key chain file was refused.
    #[error(transparent)]
    Joint(symbolon::joint::JointError),
    /// The caller is not allowed (no credential, wrong role, another
    /// party's object): `unauthenticated` or `forbidden`.
    #[error("{message}")]
    Denied {
        /// `Unauthenticated` or `Forbidden`.
        code: Code,
        /// What is missing and how to get it.
        message: String,
    },
    /// A field or value the service will not take.
    #[error("{message}")]
    Invalid {
        /// The code.
        code: Code,
        /// What is wrong.
        message: String,
    },
}

impl ServiceError {
    /// No or unknown credential.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Denied {
            code: Code::Unauthenticated,
            message: message.into(),
        }
    }

    /// A credential that may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Denied {
            code: Code::Forbidden,
            message: message.into(),
        }
    }
}

impl ServiceError {
    /// A stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Refused(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Token(e) => e.code(),
            Self::Setup(_) => Code::Setup,
            Self::Escrow(e) => e.code(),
            Self::Joint(e) => e.code(),
            Self::Denied { code, .. } | Self::Invalid { code, .. } => *code,
        }
    }

    /// Whether the caller is at fault.
    pub fn is_client_error(&self) -> bool {
        match self {
            Self::Refused(e) => e.is_client_error(),
            // The registry's refusals (a duplicate, a closed reservation, a
            // revoked certificate…) carry 4xx codes; its failures 5xx.
            Self::Store(e) => e.code().is_client_error(),
            Self::Escrow(e) => e.code() != Code::Internal,
            Self::Joint(e) => e.code() != Code::Internal,
            Self::Denied { .. } | Self::Invalid { .. } => true,
            _ => false,
        }
    }

    /// Whether it names something that does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Store(StoreError::NotFound(_)))
    }
}

/// Refuses `by` acting on an object `owner` made, unless it is theirs.
/// Objects made before callers were authenticated have no owner: nobody
/// may act on them through the service.
pub(crate) fn must_own(owner: Option<String>, by: &Actor, what: &str) -> Result<(), ServiceError> {
    match owner {
        Some(o) if o == by.name.as_str() => Ok(()),
        Some(_) => Err(ServiceError::forbidden(format!(
            "{what} belongs to another party; only the {} that made it may act on it",
            by.role
        ))),
        None => Err(ServiceError::forbidden(format!(
            "{what} has no owning party (made by the service itself, or before callers were authenticated); nobody may act on it"
        ))),
    }
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The certification issuing center.
pub struct CaService {
    pub(crate) registry: Registry,
    pub(crate) token: Arc<dyn Token + Send + Sync>,
    pub(crate) slot: SlotName,
    pub(crate) signer: CaSigner,
    pub(crate) issuer: Certificate,
    chain: Vec<Vec<u8>>,
    pub(crate) policy: CaPolicy,
    pub(crate) enclave: crate::recovery::Enclave,
    shared_primes: SharedPrimes,
    pub(crate) responder: crate::ocsp::Responder,
    pub(crate) response_signer: crate::response_signer::ResponseSigner,
    pub(crate) log: crate::transparency::TransparencyLog,
    pub(crate) crl_lock: tokio::sync::Mutex<()>,
    pub(crate) status_urls: Option<StatusUrls>,
    pub(crate) enrollment_key: symbolon::access::EnrollmentKey,
    pub(crate) cmp: crate::cmp::Transactions,
    pub(crate) acme: crate::acme::AcmeState,
    /// The host names ACME answers under (lower case, no port); empty:
    /// any (`serve` always sets them).
    pub(crate) acme_hosts: Vec<String>,
    /// Where requests' CPU work runs, lanes per core (`crate::cpu`).
    pub(crate) cpu: crate::cpu::Cpu,
}

impl CaService {
    /// Wires a CA from its opened data directory (configuration, token,
    /// chain with the issuing CA first, recovery enclave) and registry.
    pub fn new(ca: OpenedCa, registry: Registry) -> Result<Self, ServiceError> {
        let OpenedCa {
            config,
            mut token,
            chain,
            enclave_issuer,
            enrollment_key,
        } = ca;
        let slot = SlotName::new(&config.slot)?;
        let issuer_der = chain
            .first()
            .ok_or_else(|| ServiceError::Setup("the CA chain is empty".into()))?;
        let issuer =
            parse_certificate(issuer_der).map_err(|e| ServiceError::Setup(e.to_string()))?;
        let public = token.slot_public_key(&slot)?;
        let cert_key =
            certificate_public_key(&issuer).map_err(|e| ServiceError::Setup(e.to_string()))?;
        if cert_key != public {
            return Err(ServiceError::Setup(
                "the CA certificate does not certify the key in the CA token".into(),
            ));
        }
        let log = crate::transparency::TransparencyLog::prepare(token.as_mut(), &public)?;
        let signer = CaSigner::new(public).map_err(|e| ServiceError::Setup(e.to_string()))?;
        let enclave = crate::recovery::Enclave::prepare(
            token.as_mut(),
            enclave_issuer,
            &slot,
            &signer,
            &chain,
        )?;
        let responder = crate::ocsp::Responder::prepare(token.as_mut(), &issuer)?;
        let response_signer = crate::response_signer::ResponseSigner::prepare(token.as_mut())?;
        Ok(Self {
            registry,
            token: Arc::from(token),
            slot,
            signer,
            issuer,
            chain,
            policy: config.policy,
            enclave,
            shared_primes: SharedPrimes::new(),
            responder,
            response_signer,
            log,
            crl_lock: tokio::sync::Mutex::new(()),
            status_urls: None,
            enrollment_key,
            cmp: crate::cmp::Transactions::default(),
            acme: crate::acme::AcmeState::new(crate::acme_validate::AcmeValidation::default()),
            acme_hosts: Vec::new(),
            cpu: crate::cpu::Cpu::per_core()
                .map_err(|e| ServiceError::Setup(format!("starting the CPU lanes: {e}")))?,
        })
    }

    /// Publishes status under `public_url` (the service's base URL as
    /// relying parties reach it): certificates issued from now on carry the
    /// CRL distribution point and the OCSP and CA-issuer addresses.
    pub fn with_public_url(mut self, public_url: &str) -> Result<Self, ServiceError> {
        self.status_urls =
            Some(
                StatusUrls::under(public_url).map_err(|e| ServiceError::Invalid {
                    code: Code::InvalidInput,
                    message: e.to_string(),
                })?,
            );
        Ok(self)
    }

    /// Where ACME validations connect (ports, and an address every name
    /// resolves to: tests on one machine; docs/acme.md).
    pub fn with_acme_validation(mut self, v: crate::acme_validate::AcmeValidation) -> Self {
        self.acme = crate::acme::AcmeState::new(v);
        self
    }

    /// The host names ACME answers under (the service's own: its TLS
    /// names and its public URL's host): a request whose Host header names
    /// another is refused, so no URL the service signs into its answers,
    /// and no JWS `url` it accepts, is a stranger's (docs/acme.md).
    pub fn with_acme_hosts(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        self.acme_hosts = hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect();
        self
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The chain, issuing CA first.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    pub(crate) async fn audit(
        &self,
        kind: AuditKind,
        detail: serde_json::Value,
    ) -> Result<i64, ServiceError> {
        Ok(self.registry.append_audit(kind, &detail).await?)
    }

    /// A key refused as weak (SPKI or PKCS#1 DER) stays in the registry's
    /// moduli, for the shared-prime checks of keys to come; failing to keep
    /// it is logged.
    async fn keep_refused(&self, der: &[u8]) {
        if let Err(e) = self.shared_primes.keep_refused(&self.registry, der).await {
            tracing::error!(error = %e, "cannot keep a refused modulus");
        }
    }

    /// Reserves the public key in `text` (PEM or DER): a key refused while
    /// it is read (a weak one aws-lc will not load, or one that is not an
    /// RSA key at all) is refused and audited like any other refusal.
    pub async fn reserve_public_key(
        &self,
        text: &[u8],
    ) -> Result<(ReservationId, Fingerprint), ServiceError> {
        let der = if symbolon::pem::is_pem(text) {
            match symbolon::pem::decode(text, &["PUBLIC KEY", "RSA PUBLIC KEY"]) {
                Ok((_, der)) => der,
                Err(e) => {
                    let e = CaError::InvalidRequest(format!("public_key: {e}"));
                    self.refused(&e, None).await;
                    return Err(e.into());
                }
            }
        } else {
            text.to_vec()
        };
        // A key that cannot sign (X25519) is never certified: refused here
        // as at certification.
        let parsed = PublicKey::from_spki_or_pkcs1_der(&der).and_then(|k| match &k {
            PublicKey::Ec(ec) => ec.require_signing().map(|()| k),
            PublicKey::Rsa(_) => Ok(k),
        });
        match parsed {
            Ok(PublicKey::Ec(key)) => {
                let key = PublicKey::Ec(key);
                Ok((self.reserve_ec(&key).await?, key.fingerprint()))
            }
            Ok(PublicKey::Rsa(key)) => Ok((self.reserve(&key).await?, key.fingerprint())),
            Err(KeyError::UnsupportedKey(m)) => {
                let e = CaError::UnsupportedKey(m);
                self.refused(&e, None).await;
                Err(e.into())
            }
            Err(KeyError::Weak(w)) => {
                let e = CaError::WeakKey(w);
                self.refused(&e, None).await;
                self.keep_refused(&der).await;
                Err(e.into())
            }
            Err(other) => {
                let e = CaError::InvalidRequest(format!("public_key: {other}"));
                self.refused(&e, None).await;
                Err(e.into())
            }
        }
    }

    /// The shared-prime check of a key about to be reserved or certified;
    /// a refusal is audited (the keys it shares with are reported by the
    /// registry in the same transaction that records the modulus).
    pub(crate) async fn check_shared_primes(
        &self,
        key: &RsaPublicKey,
        origin: Origin,
    ) -> Result<(), ServiceError> {
        match self.shared_primes.see(&self.registry, key, origin).await {
            Err(ServiceError::Refused(e)) => {
                self.refused(&e, Some(key.fingerprint())).await;
                // The keys it shares a prime with had their certificates
                // revoked in the finding's transaction (docs/revocation.md).
                self.after_change(None).await;
                Err(e.into())
            }
            other => other,
        }
    }

    /// Records a refusal; a refusal stands even if the log write fails, so
    /// that failure is only logged.
    pub(crate) async fn refused(&self, error: &CaError, key: Option<Fingerprint>) {
        let class = match error {
            CaError::WeakKey(w) => Some(w.class.as_str()),
            _ => None,
        };
        let mut detail = json!({ "code": error.code(), "reason": error.to_string(), "key": key, "class": class });
        if let Ok(protocol) = PROTOCOL.try_with(|p| *p) {
            detail["protocol"] = json!(protocol);
        }
        if let Err(e) = self.audit(AuditKind::CertificationRefused, detail).await {
            tracing::error!(error = %e, "cannot record a refusal in the audit log");
        }
    }

    /// The weak-key checks of `key` at the policy's effort, in a checks
    /// lane: the outer error is the lane's, the inner the checks' verdict.
    pub(crate) async fn weak_key_checks(
        &self,
        key: &RsaPublicKey,
    ) -> Result<Result<(), CaError>, CaError> {
        let (key, effort) = (key.clone(), self.policy.weak_key_effort);
        self.cpu
            .checks
            .run(move || symbolon::ca::check_key_with(&key, effort))
            .await
            .map_err(|e| CaError::Internal(format!("key check task: {e}")))
    }

    /// Reserves a public key for a station (patent: the key generation
    /// device registers the key before the CA sees it).
    pub async fn reserve(&self, public_key: &RsaPublicKey) -> Result<ReservationId, ServiceError> {
        // A weak key is refused before it is reserved, as it would be at
        // certification: the same checks, audited the same way.
        if let Err(e) = self.weak_key_checks(public_key).await? {
            self.refused(&e, Some(public_key.fingerprint())).await;
            self.keep_refused(public_key.spki_der()).await;
            return Err(e.into());
        }
        self.check_shared_primes(public_key, Origin::Reserve)
            .await?;
        Ok(self
            .registry
            .reserve_key(public_key.fingerprint(), public_key.spki_der())
            .await?)
    }

    /// Reserves an EC public key (its point was validated when it was
    /// read; the curve the role allows is certification's question).
    async fn reserve_ec(&self, public_key: &PublicKey) -> Result<ReservationId, ServiceError> {
        Ok(self
            .registry
            .reserve_key(public_key.fingerprint(), public_key.spki_der())
            .await?)
    }

    /// Gives up a reservation (the station failed before certification).
    pub async fn abandon(
        &self,
        id: &ReservationId,
        reason: &str,
        by: &Actor,
    ) -> Result<Fingerprint, ServiceError> {
        must_own(
            self.registry.reservation_owner(id).await?,
            by,
            "this reservation",
        )?;
        Ok(self.registry.abandon_reservation(id, reason).await?)
    }

    /// Registers a token's device identity key, so its attestations count,
    /// and its transport key, so a recovered key can be wrapped to it. The
    /// caller (a station or registration officer that initialised or
    /// received the device) vouches for it; a `device_chain` (the device
    /// key's certificate, then intermediates) that chains to a trusted
    /// manufacturer root adds the manufacturer's word. A chain that does not
    /// check out is refused, not ignored.
    pub async fn register_token(
        &self,
        serial: TokenSerial,
        device_key: &IdentityPublicKey,
        transport_key: Option<&RsaPublicKey>,
        device_chain: Option<&[Vec<u8>]>,
        by: &Actor,
    ) -> Result<symbolon::vetting::DeviceEvidence, ServiceError> {
        let root = match device_chain {
            Some(chain) => Some(self.check_device_chain(device_key, chain).await?),
            None => None,
        };
        self.registry
            .register_token(
                serial,
                device_key.spki_der(),
                transport_key.map(RsaPublicKey::spki_der),
                symbolon_store::Vouch {
                    by: by.owner(),
                    role: by.role.name().to_string(),
                    manufacturer_root: root.as_ref().map(|r| r.fingerprint),
                },
            )
            .await?;
        Ok(crate::vetting::device_evidence(
            &self.registry.token(&serial).await?,
        ))
    }

    /// Records what the station did with a certificate: written into a token,
    /// or not (then the key was wiped and the certificate is unusable).
    pub async fn record_delivery(
        &self,
        serial: &CertificateSerial,
        token: Option<TokenSerial>,
        failure: Option<&str>,
        by: &Actor,
    ) -> Result<(), ServiceError> {
        must_own(
            self.registry.certificate_requester(serial).await?,
            by,
            "this certificate",
        )?;
        // What happened to a certificate is reported once; a second report,
        // agreeing or not, is refused. The token it went into is recorded,
        // so a device replaced later has its certificates listed.
        let delivered_to = if failure.is_none() { token } else { None };
        self.registry
            .claim_delivery(
                serial,
                delivered_to,
                failure.is_none(),
                &json!({ "serial": serial, "token": token, "delivered": failure.is_none(), "failure": failure }),
            )
            .await?;
        // A renewal settled with the delivery may have revoked a
        // certificate: the CRL and the OCSP answers follow.
        self.after_change(None).await;
        Ok(())
    }

    /// FIG. 6 steps 421–425 without the registry's uniqueness: the review
    /// (possession, identity, key checks, attestation against the
    /// registered device), its refusals audited; a weak key's modulus kept
    /// for the shared-prime checks to come.
    pub(crate) async fn review(
        &self,
        request: CertifyRequest,
    ) -> Result<symbolon::ca::Approved, ServiceError> {
        let device = match &request.attestation {
            Some(a) => match self.registry.token(&a.statement.token).await {
                Ok(t) => Self::registered_device(&t),
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        // The review's weak-key checks are CPU work (milliseconds, a second
        // at the deep effort): off the async threads.
        let policy = self.policy.clone();
        let csr_spki = symbolon::ca::request_spki(&request);
        let reviewed = self
            .cpu
            .checks
            .run(move || review(&request, &policy, device.as_ref()))
            .await
            .map_err(|e| CaError::Internal(format!("review task: {e}")))?;
        match reviewed {
            Ok(a) => Ok(a),
            Err(e @ CaError::WeakKey(_)) => {
                let key = csr_spki
                    .as_deref()
                    .and_then(|spki| RsaPublicKey::from_der(spki).ok())
                    .map(|k| k.fingerprint());
                self.refused(&e, key).await;
                if let Some(spki) = &csr_spki {
                    self.keep_refused(spki).await;
                }
                Err(e.into())
            }
            Err(e) => {
                self.refused(&e, None).await;
                Err(e.into())
            }
        }
    }

    /// Certifies a request: the whole of FIG. 6, with step 423's identity
    /// check made against a registration or the station's name policy.
    pub async fn certify(
        &self,
        request: CertifyRequest,
        nonce: Vec<u8>,
        reservation: Option<ReservationId>,
        by: &Actor,
    ) -> Result<Certified, ServiceError> {
        if let Some(id) = &reservation {
            must_own(
                self.registry.reservation_owner(id).await?,
                by,
                "this reservation",
            )?;
        }
        let approved = self.review(request).await?;
        let fp = approved.public_key.fingerprint();
        // Step 423: who vouches that this subject is who it says.
        let (authority, subject) = match self.authorize(&approved, by).await {
            Ok(a) => a,
            Err(e) => {
                self.refused(&e, Some(fp)).await;
                return Err(e.into());
            }
        };
        let links = IssueLinks {
            reservation,
            ..IssueLinks::default()
        };
        self.issue_approved(approved, subject, nonce, authority, links)
            .await
    }

    /// FIG. 6 from step 424 on, for a request reviewed and authorised: the
    /// key unique for ever and no shared prime, the certificate signed
    /// inside the CA token, the response bound to the nonce, the record (a
    /// renewal's with its link to the certificate it renews; an EST
    /// answer's with its delivery) and its audit entry in one transaction.
    pub(crate) async fn issue_approved(
        &self,
        approved: symbolon::ca::Approved,
        subject: symbolon::x509::Name,
        nonce: Vec<u8>,
        authority: Authority,
        links: IssueLinks,
    ) -> Result<Certified, ServiceError> {
        let IssueLinks {
            reservation,
            renews,
            delivered_with_answer,
        } = links;
        // A reservation is a station's, settled by its delivery report:
        // never with an answer that is its own delivery.
        if delivered_with_answer && reservation.is_some() {
            return Err(CaError::Internal(
                "an issuance delivered with its answer takes no reservation".into(),
            )
            .into());
        }
        let fp = approved.public_key.fingerprint();
        let registration = match &authority {
            Authority::Registration { registration } => Some(*registration),
            Authority::NamePolicy { .. } | Authority::Renewal { .. } | Authority::Acme { .. } => {
                None
            }
        };
        // A cheap look first, so a key seen before costs no signature; the
        // authoritative check commits with the certificate below.
        if !self
            .registry
            .key_available(&fp, reservation.as_ref())
            .await?
        {
            let e = CaError::DuplicateKey(fp.to_string());
            self.refused(&e, Some(fp)).await;
            return Err(e.into());
        }
        // Every modulus ever seen: recorded, and checked for a shared prime
        // (an RSA question; EC keys share nothing of the kind).
        if let Some(rsa) = approved.public_key.as_rsa() {
            self.check_shared_primes(rsa, Origin::Certify).await?;
        }

        let serial_bytes = random_serial().map_err(|e| CaError::Internal(e.to_string()))?;
        let not_before = SystemTime::now();
        let validity = Duration::from_secs(u64::from(self.policy.validity_days) * 86_400);
        let params = IssueParams {
            serial: serial_bytes,
            not_before,
            validity,
            subject: subject.clone(),
            public_key: approved.public_key.clone(),
            role: approved.role,
            extras: LeafExtras {
                names: approved.alt_names.clone(),
                purposes: Vec::new(),
                status: self.status_urls.clone(),
            },
        };
        let (certificate, response) = self.sign_certified(params, nonce).await?;

        let serial = CertificateSerial::from_bytes(&serial_bytes);
        let attestation = approved
            .attestation
            .as_ref()
            .map(|a| a.to_json())
            .transpose()
            .map_err(|e| CaError::Internal(e.to_string()))?;
        let unix = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        };
        let record = CertificateRecord {
            serial: serial.clone(),
            fingerprint: fp,
            subject: subject.to_string(),
            profile: approved.role.to_string(),
            not_before: unix(not_before),
            not_after: unix(not_before + validity),
            der: certificate.clone(),
            generated_on_token: approved.attested_by,
            attestation: attestation.clone(),
            issued_at: now(),
        };
        // The entry binds the attestation and the registration it was
        // issued on, for the key's evidence bundle.
        let detail = json!({
            "serial": serial, "key": fp, "subject": record.subject, "role": record.profile,
            "alt_names": approved.alt_names.tagged(),
            "generated_on_token": approved.attested_by, "device": approved.device_evidence,
            "attestation": attestation.as_deref().map(|a| symbolon::evidence::sha256_hex(a.as_bytes())),
            "registration": registration,
            "reservation": reservation, "authority": authority,
        });
        let mut detail = detail;
        if let Ok(protocol) = PROTOCOL.try_with(|p| *p) {
            detail["protocol"] = json!(protocol);
        }
        let spki = approved.public_key.spki_der();
        let recorded = match &renews {
            _ if delivered_with_answer => {
                let delivery = json!({
                    "serial": serial, "delivered": true, "protocol": PROTOCOL.try_with(|p| *p).ok(),
                });
                self.registry
                    .record_delivered_issuance(
                        &record,
                        spki,
                        registration.as_ref(),
                        symbolon_store::DeliveryLinks {
                            renews: renews.as_ref(),
                            acme_account: match &authority {
                                Authority::Acme { account, .. } => Some(account.as_str()),
                                _ => None,
                            },
                        },
                        &detail,
                        &delivery,
                    )
                    .await
            }
            Some(old) => {
                self.registry
                    .record_renewal(&record, spki, old, &detail)
                    .await
            }
            None => self
                .registry
                .record_issuance(
                    &record,
                    spki,
                    reservation.as_ref(),
                    registration.as_ref(),
                    &detail,
                )
                .await
                .map(|_| ()),
        };
        self.settle_recording(recorded, fp).await?;
        Ok(Certified {
            certificate,
            response,
            serial,
            authority,
            device: approved.device_evidence,
        })
    }

    /// The certificate and the response, signed inside the CA's token off
    /// the async threads: one signature by the CA key (the certificate),
    /// the response by the delegated response signer. EST, CMP and ACME
    /// answer in their own formats, so for them no response is signed.
    async fn sign_certified(
        &self,
        params: IssueParams,
        nonce: Vec<u8>,
    ) -> Result<(Vec<u8>, Option<CertifyResponse>), ServiceError> {
        let respond = PROTOCOL.try_with(|_| ()).is_err();
        let (response_slot, response_cert) = self.response_signer().await?;
        let (token, slot, signer, issuer, chain) = (
            Arc::clone(&self.token),
            self.slot.clone(),
            self.signer.clone(),
            self.issuer.clone(),
            self.chain.clone(),
        );
        Ok(self
            .cpu
            .signing
            .run(
                move || -> Result<(Vec<u8>, Option<CertifyResponse>), CaError> {
                    let cert =
                        issue_leaf(&issuer, &signer, &params, |r| token.sign_request(&slot, r))
                            .map_err(|e| CaError::Internal(e.to_string()))?;
                    if !respond {
                        return Ok((cert, None));
                    }
                    let response = CertifyResponse::sign_delegated(
                        cert.clone(),
                        chain,
                        nonce,
                        response_cert.as_ref().clone(),
                        |m| {
                            crate::response_signer::sign_response(token.as_ref(), &response_slot, m)
                        },
                    )?;
                    Ok((cert, Some(response)))
                },
            )
            .await
            .map_err(|e| CaError::Internal(format!("signing task: {e}")))??)
    }

    /// What the registry's answer to recording a certificate means for the
    /// caller: a lost race is a refusal (audited), the certificate
    /// discarded, never released.
    async fn settle_recording(
        &self,
        recorded: Result<(), StoreError>,
        fp: Fingerprint,
    ) -> Result<(), ServiceError> {
        match recorded {
            Ok(()) => Ok(()),
            Err(e @ StoreError::RegistrationSpent(_)) => {
                // The registration's last use went to a request that
                // committed first.
                let e = CaError::NotRegistered(e.to_string());
                self.refused(&e, Some(fp)).await;
                Err(e.into())
            }
            Err(StoreError::DuplicateKey(_)) => {
                // Another request won the race between the look and the
                // commit.
                let e = CaError::DuplicateKey(fp.to_string());
                self.refused(&e, Some(fp)).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// What an issuance is linked to and how it settles.
#[derive(Debug, Clone, Default)]
pub(crate) struct IssueLinks {
    /// The reservation it uses.
    pub(crate) reservation: Option<ReservationId>,
    /// The certificate it renews.
    pub(crate) renews: Option<CertificateSerial>,
    /// Its answer is its delivery (EST: no confirmation follows), recorded
    /// with it.
    pub(crate) delivered_with_answer: bool,
}

/// A certification's outcome: the certificate, the signed response, and
/// what vouched for it.
#[derive(Debug)]
pub struct Certified {
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// The response, signed by the CA and bound to the request's nonce:
    /// for the JSON API only (EST, CMP and ACME answer in their formats).
    pub response: Option<CertifyResponse>,
    /// The certificate's serial.
    pub serial: CertificateSerial,
    /// The registration or name policy that authorised the subject.
    pub authority: Authority,
    /// Why the attesting device is believed, when the key was attested.
    pub device: Option<symbolon::vetting::DeviceEvidence>,
}
