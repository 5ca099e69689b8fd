//! CMP at the service (RFC 4210/9480, the Lightweight CMP profile RFC 9483;
//! docs/cmp.md). Who sends a message is what its protection proves:
//!
//! - a MAC under a registration's enrollment code (`senderKID` = the
//!   registration's ID): first contact, `ir`/`cr`/`p10cr`, as EST's code;
//! - a signature by a station's credential: `ir`/`cr`/`p10cr` under its
//!   name policy or a registration, as `POST /v1/certify`;
//! - a signature by a certificate this CA issued: `kur` for that
//!   certificate (renewal's rules) and `rr` for it (the subscriber's own
//!   revocation).
//!
//! Every certificate goes through the same review as the JSON API. The
//! answer is the delivery (recorded with the issuance, as EST's); a
//! `certConf` that rejects the certificate revokes it. Answers are
//! protected as the request was: the same secret's MAC, or a signature by
//! the CA's delegated response key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use symbolon::access::Role;
use symbolon::ca::{CaError, RequestForm};
use symbolon::cmp::{
    CertStatus, CmpError, FailInfo, Message, PbmParams, PkiStatusInfo, Request, RequestBody,
    RequestProtection, RevocationRequest,
};
use symbolon::keys::{HashAlgorithm, MessageDigest, SignatureAlgorithm};
use symbolon::revocation::RevocationReason;
use symbolon::x509::{
    certificate_public_key, identity_text, not_after_unix, parse_certificate, verify_issued_by,
    CertificateRole, Name,
};
use symbolon::Code;
use symbolon_store::{Actor, CertificateSerial, RevocationOrigin, Revoke, StoreError};
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

use crate::edge::PeerCertificate;
use crate::est::{EstCaller, EstIssued};
use crate::renewal::{RenewalProof, RenewalRequest};
use crate::service::{now, PROTOCOL};
use crate::{CaService, ServiceError};

/// How long an issued certificate waits for its `certConf`.
const CONFIRM_WAIT: Duration = Duration::from_secs(600);
/// Most transactions waiting for a `certConf` at once; the oldest are
/// dropped first (their certificates stay issued and delivered).
const MAX_PENDING: usize = 10_000;
/// Longest `senderKID` read as a registration ID.
const MAX_REFERENCE: usize = 64;

/// Who a message is from, as its protection proves.
enum Sender {
    /// The holder of a registration's enrollment code: `senderKID`.
    Code {
        reference: String,
        params: PbmParams,
    },
    /// A station, by its credential's signature.
    Station(Actor),
    /// The holder of a certificate this CA issued, by its signature.
    Holder(CertificateSerial),
    /// Nobody proven: an unprotected `genm` (public data only).
    Unproven,
}

impl Sender {
    fn id(&self) -> String {
        match self {
            Sender::Code { reference, .. } => format!("registration {reference}"),
            Sender::Station(a) => format!("credential {}", a.credential),
            Sender::Holder(s) => format!("certificate {s}"),
            Sender::Unproven => "nobody".into(),
        }
    }
}

/// What an `ir`, `cr` or `p10cr` asks to certify.
struct EnrollmentRequest {
    csr: Vec<u8>,
    form: RequestForm,
    cert_req_id: i64,
    identity: String,
}

/// A certificate issued in a transaction, waiting for its `certConf`.
struct Pending {
    sender: String,
    serial: CertificateSerial,
    certificate: Vec<u8>,
    cert_req_id: i64,
    at: Instant,
}

/// Transactions waiting for a `certConf`, by transactionID. In memory: a
/// restart forgets them, and their certificates stay issued and delivered.
#[derive(Default)]
pub(crate) struct Transactions(Mutex<HashMap<Vec<u8>, Pending>>);

impl Transactions {
    fn insert(&self, id: Vec<u8>, pending: Pending) {
        let Ok(mut map) = self.0.lock() else { return };
        map.retain(|_, p| p.at.elapsed() < CONFIRM_WAIT);
        if map.len() >= MAX_PENDING {
            if let Some(oldest) = map.iter().min_by_key(|(_, p)| p.at).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(id, pending);
    }

    fn take(&self, id: &[u8], sender: &str) -> Option<Pending> {
        let mut map = self.0.lock().ok()?;
        let fits = map
            .get(id)
            .is_some_and(|p| p.sender == sender && p.at.elapsed() < CONFIRM_WAIT);
        if fits {
            map.remove(id)
        } else {
            None
        }
    }

    fn in_use(&self, id: &[u8]) -> bool {
        self.0.lock().is_ok_and(|m| m.contains_key(id))
    }
}

/// A refusal: the failure bit, the text, the service's code for the audit.
struct Refusal {
    fail: FailInfo,
    text: String,
    code: Code,
}

impl Refusal {
    fn new(fail: FailInfo, code: Code, text: impl Into<String>) -> Self {
        Self {
            fail,
            text: text.into(),
            code,
        }
    }

    fn status(&self) -> PkiStatusInfo {
        PkiStatusInfo::rejection(self.fail, &self.text)
    }
}

impl From<CmpError> for Refusal {
    fn from(e: CmpError) -> Self {
        let code = match e {
            CmpError::BadProtection(_) => Code::Unauthenticated,
            CmpError::TooLarge(_) => Code::PayloadTooLarge,
            CmpError::BadAlgorithm(_) => Code::Unsupported,
            _ => Code::InvalidRequest,
        };
        Refusal::new(e.fail_info(), code, e.to_string())
    }
}

impl From<ServiceError> for Refusal {
    fn from(e: ServiceError) -> Self {
        let code = e.code();
        if !e.is_client_error() {
            // The service's fault: told in the log, not the answer.
            tracing::error!(error = %e, "CMP request failed");
            return Refusal::new(
                FailInfo::SystemFailure,
                code,
                "the service failed; see its log",
            );
        }
        let fail = match code {
            Code::WeakKey
            | Code::KeyRefused
            | Code::DuplicateKey
            | Code::Unsupported
            | Code::MalformedKey
            | Code::IdentityMismatch
            | Code::NameNotAllowed => FailInfo::BadCertTemplate,
            Code::BadCsrSignature => FailInfo::BadPop,
            Code::Unauthenticated
            | Code::Forbidden
            | Code::NotRegistered
            | Code::AlreadyUsed
            | Code::AttestationRequired
            | Code::UntrustedIssuer => FailInfo::NotAuthorized,
            Code::AlreadyRevoked => FailInfo::CertRevoked,
            Code::NotFound => FailInfo::BadCertId,
            Code::RateLimited => FailInfo::SystemUnavail,
            _ => FailInfo::BadRequest,
        };
        Refusal::new(fail, code, e.to_string())
    }
}

/// A CMP answer, and whether it refuses (the gate audits refusals).
pub struct CmpAnswer {
    /// The PKIMessage, DER.
    pub der: Vec<u8>,
    /// The code and reason of the refusal, if the answer is one.
    pub refused: Option<(Code, String)>,
}

/// The hash a `certConf` names the certificate by: `hashAlg` when given,
/// else the certificate signature's (RFC 4210 §5.3.18).
fn cert_hash(status: &CertStatus, certificate: &[u8]) -> Result<Vec<u8>, Refusal> {
    let bad = |m: String| Refusal::new(FailInfo::BadAlg, Code::Unsupported, m);
    let hash = match &status.hash_alg {
        Some(alg) => match alg.oid {
            x509_cert::der::oid::db::rfc5912::ID_SHA_256 => HashAlgorithm::Sha256,
            x509_cert::der::oid::db::rfc5912::ID_SHA_384 => HashAlgorithm::Sha384,
            x509_cert::der::oid::db::rfc5912::ID_SHA_512 => HashAlgorithm::Sha512,
            other => return Err(bad(format!("certConf hashAlg {other}: SHA-2 is accepted"))),
        },
        None => {
            let cert = parse_certificate(certificate)
                .map_err(|e| Refusal::from(ServiceError::from(CaError::Internal(e.to_string()))))?;
            let alg = cert.signature_algorithm();
            match SignatureAlgorithm::from_x509(&alg.oid, alg.parameters.as_ref()) {
                Ok(SignatureAlgorithm::Rsa(s)) => s.hash(),
                Ok(SignatureAlgorithm::Ecdsa(h)) => h,
                Ok(SignatureAlgorithm::Ed25519) => HashAlgorithm::Sha512,
                Err(e) => return Err(bad(e.to_string())),
            }
        }
    };
    Ok(MessageDigest::of(hash, certificate).as_bytes().to_vec())
}

impl CaService {
    /// Answers one CMP message (`profile`: the certificate role a
    /// `/.well-known/cmp/p/{profile}` path names). Never fails: every
    /// refusal is a protected CMP error message. Audit entries it makes
    /// say `"protocol": "cmp"`.
    pub async fn cmp(&self, der: &[u8], profile: Option<CertificateRole>) -> CmpAnswer {
        PROTOCOL.scope("cmp", self.cmp_answer(der, profile)).await
    }

    async fn cmp_answer(&self, der: &[u8], profile: Option<CertificateRole>) -> CmpAnswer {
        let request = match Request::from_der(der) {
            Ok(r) => r,
            Err(e) => return self.cmp_refuse(None, None, e.into()).await,
        };
        let sender = match self.cmp_sender(&request).await {
            Ok(s) => s,
            Err(r) => return self.cmp_refuse(Some(&request), None, r).await,
        };
        let answer = match request.body() {
            Ok(body) => self.cmp_serve(&request, &sender, body, profile).await,
            Err(e) => Err(e.into()),
        };
        match answer {
            Ok(a) => match self.cmp_protect(a, &sender).await {
                Ok(der) => CmpAnswer { der, refused: None },
                Err(r) => self.cmp_refuse(Some(&request), None, r).await,
            },
            Err(r) => self.cmp_refuse(Some(&request), Some(&sender), r).await,
        }
    }

    /// Who the message is from: its protection, verified.
    async fn cmp_sender(&self, request: &Request) -> Result<Sender, Refusal> {
        let protection = match request.protection() {
            Ok(p) => p,
            // The CA certificates are public: an unprotected genm gets them.
            Err(_) if matches!(request.body(), Ok(RequestBody::Genm(_))) => {
                return Ok(Sender::Unproven)
            }
            Err(e) => return Err(e.into()),
        };
        match protection {
            RequestProtection::Mac { reference, params } => {
                let reference = std::str::from_utf8(&reference)
                    .ok()
                    .filter(|r| r.len() <= MAX_REFERENCE)
                    .ok_or_else(|| {
                        Refusal::new(
                            FailInfo::BadMessageCheck,
                            Code::Unauthenticated,
                            "senderKID must be the registration ID `symbolon ra register --enrollment-code` printed",
                        )
                    })?
                    .to_string();
                let code = self.enrollment_key.code_for(&reference);
                request.verify_mac(&params, code.reveal().as_bytes())?;
                Ok(Sender::Code { reference, params })
            }
            RequestProtection::Signature(alg) => {
                let not_trusted =
                    |m: String| Refusal::new(FailInfo::SignerNotTrusted, Code::Unauthenticated, m);
                let signer = request.extra_certs.first().ok_or_else(|| {
                    not_trusted(
                        "a signed message carries its signer's certificate first in extraCerts"
                            .into(),
                    )
                })?;
                verify_issued_by(signer, &self.signer.public_key()).map_err(|_| {
                    not_trusted("the signer's certificate was not issued by this CA".into())
                })?;
                let validity = signer.tbs_certificate().validity();
                let from = validity.not_before.to_unix_duration().as_secs() as i64;
                if !(from..not_after_unix(signer)).contains(&now()) {
                    return Err(not_trusted(
                        "the signer's certificate is not valid now (expired, or not yet valid)"
                            .into(),
                    ));
                }
                let key = certificate_public_key(signer)
                    .map_err(|e| not_trusted(format!("the signer's key: {e}")))?;
                request.verify_signature(alg, &key)?;
                let serial = CertificateSerial::from_bytes(
                    signer.tbs_certificate().serial_number().as_bytes(),
                );
                let der = signer
                    .to_der()
                    .map_err(|e| Refusal::from(CmpError::Malformed(e.to_string())))?;
                // A credential speaks as a station (the only role that
                // enrolls), or not at all: a revoked one is refused, not
                // taken for a plain certificate.
                match self.registry.credential(&serial).await {
                    Ok(_) => {
                        let peer = PeerCertificate::from_der(&der).ok_or_else(|| {
                            not_trusted(format!("credential {serial} cannot be read"))
                        })?;
                        let actor = crate::gate::authenticate(self, &peer).await.map_err(|e| {
                            Refusal::new(
                                FailInfo::NotAuthorized,
                                Code::Unauthenticated,
                                e.to_string(),
                            )
                        })?;
                        if actor.role != Role::Station {
                            return Err(Refusal::new(
                                FailInfo::NotAuthorized,
                                Code::Forbidden,
                                format!(
                                    "credential {} has the role {}; only stations enroll over CMP",
                                    actor.credential, actor.role
                                ),
                            ));
                        }
                        return Ok(Sender::Station(actor));
                    }
                    Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                // Whether it is live is the body's question: a key update
                // supersedes the certificate that signs its certConf.
                Ok(Sender::Holder(serial))
            }
        }
    }

    /// A certificate this CA issued that is neither revoked nor expired.
    async fn live_certificate(&self, serial: &CertificateSerial) -> Result<(), Refusal> {
        let status = self
            .registry
            .status(serial)
            .await
            .map_err(|e| Refusal::from(ServiceError::from(e)))?;
        match status {
            None => Err(Refusal::new(
                FailInfo::SignerNotTrusted,
                Code::Unauthenticated,
                format!("certificate {serial} is not one this CA issued"),
            )),
            Some(s) if s.revocation.as_ref().is_some_and(|r| r.in_force()) => Err(Refusal::new(
                FailInfo::CertRevoked,
                Code::AlreadyRevoked,
                format!("certificate {serial} is revoked"),
            )),
            Some(s) if s.not_after <= now() => Err(Refusal::new(
                FailInfo::SignerNotTrusted,
                Code::Refused,
                format!("certificate {serial} has expired"),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Serves a body from a proven sender.
    async fn cmp_serve(
        &self,
        request: &Request,
        sender: &Sender,
        body: RequestBody,
        profile: Option<CertificateRole>,
    ) -> Result<Message, Refusal> {
        let header = &request.header;
        let name = self.issuer.tbs_certificate().subject().clone();
        if let Sender::Unproven = sender {
            let RequestBody::Genm(asked) = body else {
                return Err(CmpError::BadProtection("unprotected".into()).into());
            };
            return self.cmp_general(request, &name, &asked);
        }
        let new_transaction = matches!(
            body,
            RequestBody::Ir(_) | RequestBody::Cr(_) | RequestBody::P10cr(_) | RequestBody::Kur(_)
        );
        if new_transaction && self.cmp.in_use(request.transaction_id()) {
            return Err(Refusal::new(
                FailInfo::TransactionIdInUse,
                Code::InvalidRequest,
                "this transactionID waits for its certConf: a new request takes a new one",
            ));
        }
        match body {
            RequestBody::Ir(_) | RequestBody::Cr(_) | RequestBody::P10cr(_) => {
                let number = request.body_number();
                let asked = Self::enrollment_request(body)?;
                let (cert_req_id, issued) = self.cmp_enroll(sender, asked, profile).await?;
                self.cmp_issued(request, sender, &name, number, cert_req_id, issued)
            }
            RequestBody::Kur(msg) => {
                let Sender::Holder(current) = sender else {
                    return Err(Refusal::new(
                        FailInfo::NotAuthorized,
                        Code::Forbidden,
                        "a key update is signed by the certificate it updates",
                    ));
                };
                self.live_certificate(current).await?;
                let issued = self.cmp_key_update(current, &msg, profile).await?;
                self.cmp_issued(
                    request,
                    sender,
                    &name,
                    request.body_number(),
                    msg.cert_req_id,
                    issued,
                )
            }
            RequestBody::Rr(rr) => {
                self.cmp_revoke(sender, &rr).await?;
                Message::revocation(header, &name, PkiStatusInfo::accepted()).map_err(Refusal::from)
            }
            RequestBody::CertConf(statuses) => {
                self.cmp_confirm(request, sender, &statuses).await?;
                Message::confirmation(header, &name).map_err(Refusal::from)
            }
            RequestBody::Genm(asked) => self.cmp_general(request, &name, &asked),
            RequestBody::PollReq => Err(Refusal::new(
                FailInfo::BadRequest,
                Code::InvalidRequest,
                "nothing is waiting: this CA answers every request at once",
            )),
            RequestBody::Error(text) => {
                // The client gives up: nothing of its transaction waits any
                // longer (its certificate, if any, stays delivered).
                self.cmp.take(request.transaction_id(), &sender.id());
                tracing::info!(sender = %sender.id(), %text, "CMP client ended its transaction");
                Message::confirmation(header, &name).map_err(Refusal::from)
            }
        }
    }

    fn cmp_general(
        &self,
        request: &Request,
        name: &Name,
        asked: &[symbolon::cmp::InfoTypeAndValue],
    ) -> Result<Message, Refusal> {
        let chain = self.chain_certificates().map_err(Refusal::from)?;
        Message::general(&request.header, name, asked, &chain).map_err(Refusal::from)
    }

    fn chain_certificates(&self) -> Result<Vec<Certificate>, ServiceError> {
        self.chain()
            .iter()
            .map(|d| Certificate::from_der(d).map_err(|e| CaError::Internal(e.to_string()).into()))
            .collect()
    }

    /// What an `ir`, `cr` or `p10cr` asks to certify: the request, its
    /// form, the certReqId the answer names, the subject it claims.
    fn enrollment_request(body: RequestBody) -> Result<EnrollmentRequest, Refusal> {
        match body {
            RequestBody::Ir(m) | RequestBody::Cr(m) => {
                let subject = m.template.subject.as_ref().ok_or_else(|| {
                    Refusal::new(
                        FailInfo::BadCertTemplate,
                        Code::InvalidRequest,
                        "the certTemplate names no subject",
                    )
                })?;
                Ok(EnrollmentRequest {
                    identity: identity_text(subject),
                    csr: m.der().to_vec(),
                    form: RequestForm::Crmf,
                    cert_req_id: m.cert_req_id,
                })
            }
            RequestBody::P10cr(csr) => {
                let req = x509_cert::request::CertReq::from_der(&csr).map_err(|e| {
                    Refusal::new(
                        FailInfo::BadDataFormat,
                        Code::InvalidRequest,
                        format!("p10cr: not a DER PKCS#10 request: {e}"),
                    )
                })?;
                Ok(EnrollmentRequest {
                    identity: identity_text(&req.info.subject),
                    csr,
                    form: RequestForm::Pkcs10,
                    // RFC 9480 §2.6: a p10cr's answer names certReqId -1.
                    cert_req_id: -1,
                })
            }
            other => Err(Refusal::new(
                FailInfo::BadRequest,
                Code::InvalidRequest,
                format!("{} is not a certification request", other.name()),
            )),
        }
    }

    /// `ir`, `cr`, `p10cr`: through the same path as EST's `simpleenroll`.
    async fn cmp_enroll(
        &self,
        sender: &Sender,
        request: EnrollmentRequest,
        profile: Option<CertificateRole>,
    ) -> Result<(i64, EstIssued), Refusal> {
        let EnrollmentRequest {
            csr,
            form,
            cert_req_id,
            identity,
        } = request;
        let caller = match sender {
            Sender::Code { reference, .. } => {
                EstCaller::Code(self.enrollment_key.code_for(reference))
            }
            Sender::Station(actor) => EstCaller::Station(actor),
            Sender::Holder(serial) => {
                return Err(Refusal::new(
                    FailInfo::NotAuthorized,
                    Code::Forbidden,
                    format!(
                        "certificate {serial} is no credential: its holder asks for a new key with kur; ir, cr and p10cr need an enrollment code (MAC) or a station's credential"
                    ),
                ))
            }
            Sender::Unproven => {
                return Err(CmpError::BadProtection(
                    "the message is not protected: only genm may be".into(),
                )
                .into())
            }
        };
        let issued = self
            .enroll_vouched(csr, form, identity, profile, caller)
            .await?;
        Ok((cert_req_id, issued))
    }

    /// `kur`: renewal's rules, the message's signature by the old
    /// certificate's key as the authorisation.
    async fn cmp_key_update(
        &self,
        current: &CertificateSerial,
        msg: &symbolon::x509::crmf::CertReqMsg,
        profile: Option<CertificateRole>,
    ) -> Result<EstIssued, Refusal> {
        let record = self
            .registry
            .certificate(current)
            .await
            .map_err(|e| Refusal::from(ServiceError::from(e)))?;
        if let Some(p) = profile {
            if p.to_string() != record.profile {
                return Err(Refusal::new(
                    FailInfo::BadRequest,
                    Code::InvalidRequest,
                    format!(
                        "certificate {current} is a {} certificate; update it under /.well-known/cmp/p/{} or /.well-known/cmp",
                        record.profile, record.profile
                    ),
                ));
            }
        }
        let certified = self
            .renew(RenewalRequest {
                csr: msg.der().to_vec(),
                form: RequestForm::Crmf,
                attestation: None,
                nonce: Vec::new(),
                authorization: RenewalProof::CurrentCertificate(current.clone()),
                delivered_with_answer: true,
            })
            .await?;
        // The old certificate was superseded with it.
        self.after_change(Some(current)).await;
        Ok(EstIssued {
            serial: certified.serial,
            certificate: certified.certificate,
        })
    }

    /// The answer to a certificate request: the certificate, implicit
    /// confirmation granted if asked, else a `certConf` awaited.
    fn cmp_issued(
        &self,
        request: &Request,
        sender: &Sender,
        name: &Name,
        number: u32,
        cert_req_id: i64,
        issued: EstIssued,
    ) -> Result<Message, Refusal> {
        let certificate = Certificate::from_der(&issued.certificate)
            .map_err(|e| Refusal::from(ServiceError::from(CaError::Internal(e.to_string()))))?;
        // First contact by MAC: the chain comes with the answer (RFC 9483
        // §4.1.1), as the client has no other way to learn it yet.
        let ca_pubs = match sender {
            Sender::Code { .. } => Some(self.chain_certificates().map_err(Refusal::from)?),
            _ => None,
        };
        let mut answer = Message::certificate(
            &request.header,
            name,
            number,
            cert_req_id,
            Ok(certificate),
            ca_pubs,
        )?;
        if request.header.asks_implicit_confirm() {
            answer.implicit_confirm()?;
        } else {
            self.cmp.insert(
                request.transaction_id().to_vec(),
                Pending {
                    sender: sender.id(),
                    serial: issued.serial,
                    certificate: issued.certificate,
                    cert_req_id,
                    at: Instant::now(),
                },
            );
        }
        Ok(answer)
    }

    /// `rr`: a holder revokes its own certificate (the message is signed
    /// by its key), for good: a hold is an operator's.
    async fn cmp_revoke(&self, sender: &Sender, rr: &RevocationRequest) -> Result<(), Refusal> {
        let Sender::Holder(serial) = sender else {
            return Err(Refusal::new(
                FailInfo::NotAuthorized,
                Code::Forbidden,
                "a revocation request is signed by the certificate it revokes; operators revoke with `symbolon revoke`",
            ));
        };
        let named = rr
            .template
            .serial
            .as_ref()
            .map(|s| CertificateSerial::from_bytes(s.as_bytes()));
        if named.as_ref() != Some(serial) {
            return Err(Refusal::new(
                FailInfo::BadCertId,
                Code::Forbidden,
                format!("the request must name the signing certificate {serial} (certDetails serialNumber): a holder revokes its own certificate only"),
            ));
        }
        self.live_certificate(serial).await?;
        if let Some(issuer) = &rr.template.issuer {
            if issuer != self.issuer.tbs_certificate().subject() {
                return Err(Refusal::new(
                    FailInfo::BadCertId,
                    Code::InvalidRequest,
                    "certDetails names another issuer",
                ));
            }
        }
        let reason = match rr.reason {
            None => RevocationReason::Unspecified,
            Some(code) => match RevocationReason::from_code(code) {
                Some(RevocationReason::CertificateHold) | None => {
                    return Err(Refusal::new(
                        FailInfo::BadRequest,
                        Code::InvalidRequest,
                        format!("reasonCode {code}: a holder's revocation is final (certificateHold is an operator's)"),
                    ))
                }
                Some(r) => r,
            },
        };
        self.registry
            .revoke(Revoke {
                serial: serial.clone(),
                reason,
                invalid_since: None,
                origin: RevocationOrigin::Subscriber,
            })
            .await
            .map_err(|e| Refusal::from(ServiceError::from(e)))?;
        self.after_change(Some(serial)).await;
        Ok(())
    }

    /// `certConf`: the certificate of this transaction, by the sender that
    /// asked for it; a rejection revokes it.
    async fn cmp_confirm(
        &self,
        request: &Request,
        sender: &Sender,
        statuses: &[CertStatus],
    ) -> Result<(), Refusal> {
        let [status] = statuses else {
            return Err(Refusal::new(
                FailInfo::BadRequest,
                Code::InvalidRequest,
                "certConf confirms the one certificate of its transaction",
            ));
        };
        let pending = self
            .cmp
            .take(request.transaction_id(), &sender.id())
            .ok_or_else(|| {
                Refusal::new(
                    FailInfo::BadRequest,
                    Code::NotFound,
                    "no certificate of this transaction awaits confirmation by this sender (confirmed already, another sender's, or older than ten minutes)",
                )
            })?;
        let hash_ok = status.cert_req_id == pending.cert_req_id
            && cert_hash(status, &pending.certificate)?.as_slice() == status.cert_hash.as_bytes();
        if !hash_ok {
            // Put it back: the client may confirm again correctly.
            let serial = pending.serial.clone();
            self.cmp.insert(request.transaction_id().to_vec(), pending);
            return Err(Refusal::new(
                FailInfo::IncorrectData,
                Code::InvalidRequest,
                format!("certConf names another certificate than {serial} (certHash or certReqId)"),
            ));
        }
        let accepted = status
            .status_info
            .as_ref()
            .is_none_or(PkiStatusInfo::is_accepted);
        if !accepted {
            tracing::info!(serial = %pending.serial, "CMP client rejected its certificate; revoking it");
            self.registry
                .revoke(Revoke {
                    serial: pending.serial.clone(),
                    reason: RevocationReason::CessationOfOperation,
                    invalid_since: None,
                    origin: RevocationOrigin::Subscriber,
                })
                .await
                .map_err(|e| Refusal::from(ServiceError::from(e)))?;
            self.after_change(Some(&pending.serial)).await;
        }
        Ok(())
    }

    /// Protects an answer as the request was: the same secret's MAC, or
    /// the response signer's signature.
    async fn cmp_protect(&self, answer: Message, sender: &Sender) -> Result<Vec<u8>, Refusal> {
        if let Sender::Code { reference, params } = sender {
            let code = self.enrollment_key.code_for(reference);
            return answer
                .protect_with_mac(params, reference.as_bytes(), code.reveal().as_bytes())
                .map_err(Refusal::from);
        }
        let (slot, signer) = self.response_signer().await.map_err(Refusal::from)?;
        let signer = Certificate::from_der(&signer)
            .map_err(|e| Refusal::from(ServiceError::from(CaError::Internal(e.to_string()))))?;
        let chain = self.chain_certificates().map_err(Refusal::from)?;
        let token = Arc::clone(&self.token);
        self.cpu
            .signing
            .run(move || {
                answer.protect_with_signature(
                    x509_cert::spki::AlgorithmIdentifierOwned {
                        oid: x509_cert::der::oid::db::rfc5912::ECDSA_WITH_SHA_256,
                        parameters: None,
                    },
                    &signer,
                    &chain,
                    |m| crate::response_signer::sign_response(token.as_ref(), &slot, m),
                )
            })
            .await
            .map_err(|e| Refusal::from(ServiceError::from(CaError::Internal(e.to_string()))))?
            .map_err(Refusal::from)
    }

    /// An error message for a refusal, protected like any answer (by MAC
    /// when the sender proved the secret; else signed).
    async fn cmp_refuse(
        &self,
        request: Option<&Request>,
        sender: Option<&Sender>,
        refusal: Refusal,
    ) -> CmpAnswer {
        let name = self.issuer.tbs_certificate().subject().clone();
        let code = refusal.code;
        let reason = refusal.text.clone();
        let header = request.map(|r| &r.header);
        let answer = match request.map(|r| (r, r.body())) {
            // A certificate request's refusal is its certificate answer
            // with the rejection (RFC 9483 §4.1.1); others are errors.
            Some((r, Ok(RequestBody::Ir(m) | RequestBody::Cr(m) | RequestBody::Kur(m))))
                if sender.is_some() =>
            {
                Message::certificate(
                    &r.header,
                    &name,
                    r.body_number(),
                    m.cert_req_id,
                    Err(refusal.status()),
                    None,
                )
            }
            Some((r, Ok(RequestBody::P10cr(_)))) if sender.is_some() => Message::certificate(
                &r.header,
                &name,
                r.body_number(),
                -1,
                Err(refusal.status()),
                None,
            ),
            Some((r, Ok(RequestBody::Rr(_)))) if sender.is_some() => {
                Message::revocation(&r.header, &name, refusal.status())
            }
            _ => Message::error(header, &name, refusal.status()),
        };
        let protected = match answer {
            Ok(a) => match self
                .cmp_protect(a, sender.unwrap_or(&Sender::Unproven))
                .await
            {
                Ok(der) => Some(der),
                Err(r) => {
                    tracing::error!(reason = %r.text, "cannot protect a CMP error message");
                    None
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot build a CMP error message");
                None
            }
        };
        CmpAnswer {
            der: protected.unwrap_or_default(),
            refused: Some((code, reason)),
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::from(ServiceError::from(e))
    }
}
