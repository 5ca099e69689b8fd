//! ACME at the service (RFC 8555; docs/acme.md): the signed-request check
//! every POST passes (nonce, URL, signature by an account key or, for a
//! new account and a revocation, a key given whole), accounts bound to a
//! station by an officer's external account binding key, key rollover,
//! deactivation, revocation, and certificate download. Orders and their
//! authorizations are in `acme_order`; the validation client in
//! `acme_validate`. Accounts live in the registry; nonces, orders and
//! authorizations in memory (they last hours, and a restart only makes
//! clients order again).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use symbolon::acme::problem::malformed;
use symbolon::acme::{ExternalBinding, Jwk, Jws, KeyChange, Problem, ProblemType, Signer};
use symbolon::ca::CaError;
use symbolon::revocation::RevocationReason;
use symbolon::x509::{parse_certificate, CertificateRole};
use symbolon::Code;
use symbolon_store::{
    AccountKey, AcmeAccountRecord, AcmeAccountStatus, CertificateSerial, NewAcmeAccount,
    RevocationOrigin, Revoke, StoreError,
};
use x509_cert::der::Encode;

use crate::acme_order::Objects;
use crate::acme_validate::AcmeValidation;
use crate::service::now;
use crate::{CaService, ServiceError};

tokio::task_local! {
    /// Who signed the ACME request being answered, once its signature
    /// checked: a refusal's audit names it.
    pub(crate) static ACME_SIGNER: std::cell::RefCell<Option<String>>;
}

/// Nonces kept at most; the oldest go first.
const MAX_NONCES: usize = 100_000;
/// How long a nonce stays good.
const NONCE_LIFETIME: Duration = Duration::from_secs(3600);
/// How long an issued binding key may wait for its account.
pub const EAB_VALIDITY_SECS: i64 = 7 * 24 * 3600;
/// Most contact URLs on an account, and their longest.
const MAX_CONTACTS: usize = 10;
const MAX_CONTACT_LEN: usize = 200;

/// The certificate roles ACME orders may be for: those that name DNS
/// hosts.
pub const ACME_ROLES: [CertificateRole; 2] = [CertificateRole::Server, CertificateRole::Client];

/// A refusal: the problem the client sees and the service's code for the
/// audit.
#[derive(Debug, Clone)]
pub struct AcmeError {
    /// The problem document.
    pub problem: Problem,
    /// The service's code.
    pub code: Code,
}

impl From<Problem> for AcmeError {
    fn from(problem: Problem) -> Self {
        let code = if problem.is(ProblemType::Unauthorized)
            || problem.is(ProblemType::AccountDoesNotExist)
            || problem.is(ProblemType::ExternalAccountRequired)
        {
            Code::Unauthenticated
        } else if problem.is(ProblemType::RejectedIdentifier) {
            Code::NameNotAllowed
        } else if problem.is(ProblemType::AlreadyRevoked) {
            Code::AlreadyRevoked
        } else if problem.is(ProblemType::ServerInternal) {
            Code::Internal
        } else if problem.is(ProblemType::RateLimited) {
            Code::RateLimited
        } else {
            Code::InvalidRequest
        };
        Self { problem, code }
    }
}

impl From<StoreError> for AcmeError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<ServiceError> for AcmeError {
    fn from(e: ServiceError) -> Self {
        let code = e.code();
        let kind = match code {
            Code::Internal | Code::Database | Code::Storage | Code::Io | Code::CryptoFailure => {
                tracing::error!(error = %e, "ACME request failed");
                return Self {
                    problem: Problem::new(
                        ProblemType::ServerInternal,
                        "the service failed; see its log",
                    ),
                    code,
                };
            }
            Code::AlreadyRevoked => ProblemType::AlreadyRevoked,
            Code::NameNotAllowed => ProblemType::RejectedIdentifier,
            Code::Unauthenticated | Code::Forbidden => ProblemType::Unauthorized,
            Code::NotFound => ProblemType::Malformed,
            _ => ProblemType::BadCsr,
        };
        Self {
            problem: Problem::new(kind, e.to_string()),
            code,
        }
    }
}

/// What a request resolves to.
pub type AcmeResult = Result<AcmeReply, AcmeError>;

/// An answer: status, headers, body.
#[derive(Debug)]
pub struct AcmeReply {
    /// HTTP status.
    pub status: u16,
    /// `Location`.
    pub location: Option<String>,
    /// `Link` header values.
    pub links: Vec<String>,
    /// The body.
    pub body: AcmeBody,
}

/// An answer's body.
#[derive(Debug)]
pub enum AcmeBody {
    /// An ACME object.
    Json(Value),
    /// A certificate chain (`application/pem-certificate-chain`).
    Pem(String),
    /// Nothing (revocation).
    Empty,
    /// A refusal that carries a header (a key change's conflict names the
    /// other account): its problem and the service's code.
    Problem(Problem, Code),
}

impl AcmeReply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            location: None,
            links: Vec::new(),
            body: AcmeBody::Json(body),
        }
    }

    pub(crate) fn at(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }
}

/// Where a request arrived: the provisioner's base URL and role.
#[derive(Debug, Clone)]
pub struct AcmeContext {
    /// `https://HOST/acme/PROVISIONER`.
    pub base: String,
    /// The certificate role its orders are for.
    pub role: CertificateRole,
}

impl AcmeContext {
    /// The URL of `path` under the provisioner.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn account_url(&self, id: &str) -> String {
        self.url(&format!("account/{id}"))
    }
}

/// A request whose signature, nonce and URL were checked.
pub(crate) struct Verified {
    pub(crate) jws: Jws,
    /// The account that signed it (None: a key given whole signed it).
    pub(crate) account: Option<AcmeAccountRecord>,
    /// The key that signed it.
    pub(crate) key: Jwk,
}

impl Verified {
    /// The signing account, or `accountDoesNotExist`.
    pub(crate) fn account(&self) -> Result<&AcmeAccountRecord, AcmeError> {
        self.account.as_ref().ok_or_else(|| {
            Problem::new(
                ProblemType::Malformed,
                "this request is signed by an account (kid), not a key given whole (jwk)",
            )
            .into()
        })
    }
}

/// Nonces given out and not yet used.
#[derive(Default)]
struct Nonces {
    live: HashSet<String>,
    order: VecDeque<(String, Instant)>,
}

/// ACME's in-memory state.
pub(crate) struct AcmeState {
    nonces: Mutex<Nonces>,
    pub(crate) objects: Mutex<Objects>,
    pub(crate) validation: AcmeValidation,
}

impl AcmeState {
    pub(crate) fn new(validation: AcmeValidation) -> Self {
        Self {
            nonces: Mutex::default(),
            objects: Mutex::default(),
            validation,
        }
    }
}

/// 128 random bits, base64url: nonces, IDs, tokens.
pub(crate) fn random_id() -> Result<String, AcmeError> {
    let mut b = [0u8; 16];
    symbolon::keys::random_bytes(&mut b).map_err(|_| {
        Problem::new(
            ProblemType::ServerInternal,
            "the system random generator failed",
        )
    })?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

fn unauthorized(detail: impl Into<String>) -> AcmeError {
    Problem::new(ProblemType::Unauthorized, detail).into()
}

/// An account key the registry knows already: certified, refused, or
/// another account's.
fn key_seen() -> AcmeError {
    Problem::new(
        ProblemType::BadPublicKey,
        "this key was certified or refused by this CA, or was an account's: an account key must be no certificate's key",
    )
    .into()
}

/// A deactivated account's refusal: 401 (RFC 8555 §7.3.6).
fn deactivated(id: &str) -> AcmeError {
    let mut p = Problem::new(
        ProblemType::Unauthorized,
        format!("account {id} is deactivated: it signs nothing more"),
    );
    p.status = 401;
    p.into()
}

/// The account a key already has: itself if valid and of this
/// provisioner.
fn existing_account(ctx: &AcmeContext, a: &AcmeAccountRecord) -> AcmeResult {
    if a.status != AcmeAccountStatus::Valid {
        return Err(deactivated(&a.id));
    }
    if a.provisioner != ctx.role.to_string() {
        return Err(unauthorized(format!(
            "this key's account is at provisioner {}: use /acme/{}/directory",
            a.provisioner, a.provisioner
        )));
    }
    Ok(AcmeReply::json(200, account_json(ctx, a)).at(ctx.account_url(&a.id)))
}

impl CaService {
    /// A fresh nonce (RFC 8555 §7.2).
    pub fn acme_nonce(&self) -> Result<String, AcmeError> {
        let nonce = random_id()?;
        let mut n = self
            .acme
            .nonces
            .lock()
            .map_err(|_| Problem::new(ProblemType::ServerInternal, "nonce store poisoned"))?;
        while n.order.len() >= MAX_NONCES
            || n.order
                .front()
                .is_some_and(|(_, at)| at.elapsed() > NONCE_LIFETIME)
        {
            if let Some((old, _)) = n.order.pop_front() {
                n.live.remove(&old);
            }
        }
        n.live.insert(nonce.clone());
        n.order.push_back((nonce.clone(), Instant::now()));
        Ok(nonce)
    }

    fn spend_nonce(&self, nonce: &str) -> Result<(), AcmeError> {
        let fresh = self
            .acme
            .nonces
            .lock()
            .is_ok_and(|mut n| n.live.remove(nonce));
        if fresh {
            Ok(())
        } else {
            Err(Problem::new(
                ProblemType::BadNonce,
                "the nonce is not one this service gave, or was used; take the fresh one in Replay-Nonce",
            )
            .into())
        }
    }

    /// Checks a request to `url`: its signature (by an account, or, where
    /// `key_allowed`, by a key given whole), then spends its nonce.
    pub(crate) async fn acme_verify(
        &self,
        ctx: &AcmeContext,
        url: &str,
        body: &[u8],
        key_allowed: bool,
    ) -> Result<Verified, AcmeError> {
        let jws = Jws::parse(body)?;
        let header = jws.request_header()?;
        if header.url != url {
            return Err(unauthorized(format!(
                "the request was signed for {:?}, not {url}",
                header.url.chars().take(200).collect::<String>()
            )));
        }
        let (account, key) = match &header.signer {
            Signer::Key(k) if key_allowed => (None, k.clone()),
            Signer::Key(_) => {
                return Err(malformed(
                    "sign this request as an account (kid), not with a key given whole (jwk)",
                )
                .into())
            }
            Signer::Account(kid) => {
                let id = kid
                    .strip_prefix(&ctx.account_url(""))
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .ok_or_else(|| {
                        Problem::new(
                            ProblemType::AccountDoesNotExist,
                            "the kid is not an account URL of this provisioner",
                        )
                    })?;
                let record = self
                    .registry
                    .acme_account(id)
                    .await?
                    .filter(|r| r.provisioner == ctx.role.to_string())
                    .ok_or_else(|| {
                        Problem::new(
                            ProblemType::AccountDoesNotExist,
                            format!("no account {id} at this provisioner (an account orders at the provisioner it was made at)"),
                        )
                    })?;
                let key = Jwk::from_json(&record.jwk).map_err(|e| {
                    AcmeError::from(ServiceError::from(StoreError::Corrupt(e.to_string())))
                })?;
                (Some(record), key)
            }
        };
        jws.verify(header.alg, &key)?;
        // Who signed, for the audit of a refusal that follows.
        let signer = match &account {
            Some(a) => format!("account {}", a.id),
            None => format!("key {}", key.thumbprint()),
        };
        let _ = ACME_SIGNER.try_with(|s| *s.borrow_mut() = Some(signer));
        self.spend_nonce(&header.nonce)?;
        if let Some(a) = &account {
            if a.status != AcmeAccountStatus::Valid {
                return Err(deactivated(&a.id));
            }
        }
        Ok(Verified { jws, account, key })
    }

    /// Refuses an account key this CA certified, or refused to: an
    /// account's key is never a certificate's (RFC 8555 §11.1).
    /// (The registry decides for good: the key is registered among the
    /// public keys in the account's transaction.)
    async fn acme_fresh_key(&self, key: &Jwk) -> Result<AccountKey, AcmeError> {
        let spki = key.spki_der()?;
        let fingerprint = symbolon::keys::Fingerprint::of_spki(&spki);
        if self.registry.key_available(&fingerprint, None).await? {
            Ok(AccountKey { fingerprint, spki })
        } else {
            Err(key_seen())
        }
    }

    /// `newAccount` (RFC 8555 §7.3): finds the account of the signing key,
    /// or makes one if an officer's binding key vouches for it.
    pub async fn acme_new_account(&self, ctx: &AcmeContext, body: &[u8]) -> AcmeResult {
        let url = ctx.url("new-account");
        let v = self.acme_verify(ctx, &url, body, true).await?;
        let payload = v.jws.payload_json()?;
        let thumbprint = v.key.thumbprint();
        if let Some(existing) = self.registry.acme_account_by_key(&thumbprint).await? {
            return existing_account(ctx, &existing);
        }
        if payload.get("onlyReturnExisting").and_then(Value::as_bool) == Some(true) {
            return Err(
                Problem::new(ProblemType::AccountDoesNotExist, "no account has this key").into(),
            );
        }
        let contact = contacts(payload.get("contact"))?;
        let binding = payload.get("externalAccountBinding").ok_or_else(|| {
            Problem::new(
                ProblemType::ExternalAccountRequired,
                "accounts here need an external account binding: ask a registration officer for a key (`symbolon ra acme-eab`)",
            )
        })?;
        let binding = ExternalBinding::parse(binding)?;
        let account_key = self.acme_fresh_key(&v.key).await?;
        let record = self.registry.acme_eab(&binding.kid).await?.ok_or_else(|| {
            unauthorized(format!(
                "kid {:?} is not a binding key an officer issued",
                binding.kid
            ))
        })?;
        let mac_key = self.enrollment_key.eab_key_for(&binding.kid);
        binding.verify(mac_key.expose(), &v.key, &url)?;
        if record.account.is_some() {
            return Err(unauthorized(format!(
                "binding key {} was used already; a key binds one account",
                record.kid
            )));
        }
        if record.expires_at <= now() {
            return Err(unauthorized(format!(
                "binding key {} expired; ask a registration officer for a new one",
                record.kid
            )));
        }
        let id = random_id()?;
        let created = self
            .registry
            .create_acme_account(NewAcmeAccount {
                id: id.clone(),
                thumbprint: thumbprint.clone(),
                jwk: v.key.canonical_json(),
                provisioner: ctx.role.to_string(),
                eab_kid: record.kid.clone(),
                contact,
                key: account_key,
            })
            .await;
        match created {
            Ok(()) => {}
            // The same key raced itself (its account exists now), or was
            // certified meanwhile.
            Err(StoreError::AlreadyExists(_) | StoreError::DuplicateKey(_)) => {
                if let Some(existing) = self.registry.acme_account_by_key(&thumbprint).await? {
                    return existing_account(ctx, &existing);
                }
                return Err(key_seen());
            }
            Err(StoreError::AlreadyClaimed { .. }) => {
                return Err(unauthorized(format!(
                    "binding key {} was used already or expired; a key binds one account",
                    record.kid
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let account =
            self.registry.acme_account(&id).await?.ok_or_else(|| {
                Problem::new(ProblemType::ServerInternal, "the new account vanished")
            })?;
        Ok(AcmeReply::json(201, account_json(ctx, &account)).at(ctx.account_url(&id)))
    }

    /// An account's URL (RFC 8555 §7.3.2, §7.3.6): read it, change its
    /// contacts, or deactivate it.
    pub async fn acme_account(&self, ctx: &AcmeContext, id: &str, body: &[u8]) -> AcmeResult {
        let url = ctx.account_url(id);
        let v = self.acme_verify(ctx, &url, body, false).await?;
        let account = v.account()?;
        if account.id != id {
            return Err(unauthorized("an account reads and changes only itself"));
        }
        if !v.jws.is_post_as_get() {
            let payload = v.jws.payload_json()?;
            if payload.get("status").and_then(Value::as_str) == Some("deactivated") {
                self.registry.deactivate_acme_account(id).await?;
                self.acme_drop_orders(id);
            } else if let Some(list) = payload.get("contact") {
                self.registry
                    .set_acme_contacts(id, &contacts(Some(list))?)
                    .await?;
            } else if let Some(s) = payload.get("status") {
                return Err(malformed(format!(
                    "an account's status can be set to \"deactivated\" only, not {s}"
                ))
                .into());
            }
        }
        let account = self.registry.acme_account(id).await?.ok_or_else(|| {
            Problem::new(ProblemType::AccountDoesNotExist, format!("no account {id}"))
        })?;
        Ok(AcmeReply::json(200, account_json(ctx, &account)).at(url))
    }

    /// `keyChange` (RFC 8555 §7.3.5).
    pub async fn acme_key_change(&self, ctx: &AcmeContext, body: &[u8]) -> AcmeResult {
        let url = ctx.url("key-change");
        let v = self.acme_verify(ctx, &url, body, false).await?;
        let account = v.account()?;
        let change = KeyChange::parse(&v.jws.payload, &url)?;
        if change.account != ctx.account_url(&account.id) {
            return Err(unauthorized(
                "the key change names another account than the one signing it",
            ));
        }
        if change.old_key.thumbprint() != account.thumbprint {
            return Err(unauthorized(
                "the key change's oldKey is not the account's key",
            ));
        }
        let thumbprint = change.new_key.thumbprint();
        if let Some(other) = self.registry.acme_account_by_key(&thumbprint).await? {
            return Ok(key_taken(ctx, &other));
        }
        let key = self.acme_fresh_key(&change.new_key).await?;
        let changed = self
            .registry
            .change_acme_account_key(
                &account.id,
                &account.thumbprint,
                &thumbprint,
                &change.new_key.canonical_json(),
                key,
            )
            .await;
        match changed {
            Ok(()) => {}
            // Another account took the key meanwhile, or it was certified.
            Err(StoreError::AlreadyExists(_) | StoreError::DuplicateKey(_)) => {
                if let Some(other) = self.registry.acme_account_by_key(&thumbprint).await? {
                    return Ok(key_taken(ctx, &other));
                }
                return Err(key_seen());
            }
            Err(e) => return Err(e.into()),
        }
        let account = self
            .registry
            .acme_account(&account.id)
            .await?
            .ok_or_else(|| Problem::new(ProblemType::ServerInternal, "the account vanished"))?;
        Ok(AcmeReply::json(200, account_json(ctx, &account)).at(ctx.account_url(&account.id)))
    }

    /// `revokeCert` (RFC 8555 §7.6): by the account that ordered the
    /// certificate, or signed by the certificate's own key.
    pub async fn acme_revoke(&self, ctx: &AcmeContext, body: &[u8]) -> AcmeResult {
        let url = ctx.url("revoke-cert");
        let v = self.acme_verify(ctx, &url, body, true).await?;
        let payload = v.jws.payload_json()?;
        let der = payload
            .get("certificate")
            .and_then(Value::as_str)
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .ok_or_else(|| malformed("the request names no certificate (base64url DER)"))?;
        let cert = parse_certificate(&der)
            .map_err(|e| malformed(format!("the certificate does not parse: {e}")))?;
        let serial =
            CertificateSerial::from_bytes(cert.tbs_certificate().serial_number().as_bytes());
        let issued = match self.registry.certificate(&serial).await {
            Ok(r) => r,
            Err(StoreError::NotFound(_)) => {
                return Err(unauthorized("the certificate is not one this CA issued"))
            }
            Err(e) => return Err(e.into()),
        };
        if issued.der != der {
            return Err(unauthorized("the certificate is not one this CA issued"));
        }
        let reason = revocation_reason(payload.get("reason"))?;
        let origin = match &v.account {
            Some(a) => {
                let orderer = self.registry.acme_certificate_account(&serial).await?;
                if orderer.as_deref() != Some(a.id.as_str()) {
                    return Err(unauthorized(format!(
                        "account {} did not order certificate {serial}; its own account or its key revokes it",
                        a.id
                    )));
                }
                RevocationOrigin::AcmeAccount
            }
            None => {
                let spki = cert
                    .tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .map_err(|e| Problem::new(ProblemType::ServerInternal, e.to_string()))?;
                if Jwk::from_spki(&spki).map(|k| k.thumbprint()).ok() != Some(v.key.thumbprint()) {
                    return Err(unauthorized(
                        "the request is signed by another key than the certificate's",
                    ));
                }
                RevocationOrigin::Subscriber
            }
        };
        self.registry
            .revoke(Revoke {
                serial: serial.clone(),
                reason,
                invalid_since: None,
                origin,
            })
            .await?;
        self.after_change(Some(&serial)).await;
        Ok(AcmeReply {
            status: 200,
            location: None,
            links: Vec::new(),
            body: AcmeBody::Empty,
        })
    }

    /// A certificate and its chain (RFC 8555 §7.4.2), for the account that
    /// ordered it.
    pub async fn acme_certificate(
        &self,
        ctx: &AcmeContext,
        serial: &str,
        body: &[u8],
    ) -> AcmeResult {
        let url = ctx.url(&format!("cert/{serial}"));
        let v = self.acme_verify(ctx, &url, body, false).await?;
        let account = v.account()?;
        let serial: CertificateSerial = serial
            .parse()
            .map_err(|_| malformed("no such certificate"))?;
        if self
            .registry
            .acme_certificate_account(&serial)
            .await?
            .as_deref()
            != Some(account.id.as_str())
        {
            return Err(unauthorized(format!(
                "account {} did not order certificate {serial}",
                account.id
            )));
        }
        let record = self.registry.certificate(&serial).await?;
        let mut pem = symbolon::pem::encode("CERTIFICATE", &record.der);
        for c in self.chain() {
            pem.push_str(&symbolon::pem::encode("CERTIFICATE", c));
        }
        Ok(AcmeReply {
            status: 200,
            location: None,
            links: Vec::new(),
            body: AcmeBody::Pem(pem),
        })
    }
}

/// A binding key just issued: shown once.
pub struct IssuedEab {
    /// Its key identifier.
    pub kid: String,
    /// The HMAC key.
    pub key: symbolon::access::EabKey,
    /// Until when an account may bind it (Unix seconds).
    pub expires_at: i64,
}

impl CaService {
    /// Issues a binding key for `station`'s ACME account (an officer's
    /// act, audited); the station must have a name policy to bound it.
    pub async fn acme_issue_eab(
        &self,
        station: &symbolon::access::PartyName,
        days: Option<u32>,
        by: &symbolon_store::Actor,
    ) -> Result<IssuedEab, ServiceError> {
        let days = days.unwrap_or(7);
        if !(1..=30).contains(&days) {
            return Err(ServiceError::Invalid {
                code: Code::InvalidInput,
                message: format!("a binding key lives 1 to 30 days, not {days}"),
            });
        }
        if self.registry.name_policy(station.as_str()).await?.is_none() {
            return Err(ServiceError::Invalid {
                code: Code::NameNotAllowed,
                message: format!(
                    "station {station} has no name policy, so its ACME account could have no name certified; an admin sets one first (`symbolon admin name-policy set`)"
                ),
            });
        }
        let kid = random_id().map_err(|e| CaError::Internal(e.problem.detail))?;
        let expires_at = now() + i64::from(days) * 86_400;
        self.registry
            .issue_acme_eab(&kid, station.as_str(), by.name.as_str(), expires_at)
            .await?;
        Ok(IssuedEab {
            key: self.enrollment_key.eab_key_for(&kid),
            kid,
            expires_at,
        })
    }
}

/// RFC 8555 §7.3.5: a new key that is another account's is a conflict,
/// answered with that account's URL.
fn key_taken(ctx: &AcmeContext, other: &AcmeAccountRecord) -> AcmeReply {
    let mut problem = Problem::new(
        ProblemType::Malformed,
        "the new key is another account's already",
    );
    problem.status = 409;
    AcmeReply {
        status: 409,
        location: Some(ctx.account_url(&other.id)),
        links: Vec::new(),
        body: AcmeBody::Problem(problem, Code::AlreadyExists),
    }
}

fn contacts(v: Option<&Value>) -> Result<Vec<String>, AcmeError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let list = v
        .as_array()
        .ok_or_else(|| malformed("contact is a list of mailto: URLs"))?;
    if list.len() > MAX_CONTACTS {
        return Err(malformed(format!("at most {MAX_CONTACTS} contacts")).into());
    }
    list.iter()
        .map(|c| {
            let c = c.as_str().unwrap_or_default();
            let ok = c.len() <= MAX_CONTACT_LEN && c.strip_prefix("mailto:").is_some_and(mailbox);
            if ok {
                Ok(c.to_string())
            } else {
                Err(Problem {
                    kind: "urn:ietf:params:acme:error:invalidContact".into(),
                    detail: format!(
                        "contact {:?} is not one mailto: address (of at most {MAX_CONTACT_LEN} characters)",
                        c.chars().take(60).collect::<String>()
                    ),
                    status: 400,
                }
                .into())
            }
        })
        .collect()
}

/// One plain address: `local@domain`, printable ASCII, one `@`, nothing
/// a mail header or URL would read as more (no hfields, separators,
/// escapes or line breaks).
fn mailbox(a: &str) -> bool {
    let plain = a
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"?,;<>()[]\\\":%/&=".contains(&b));
    let mut parts = a.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            let host = domain.parse::<symbolon::x509::DnsName>().is_ok()
                && domain.contains('.')
                && !domain
                    .rsplit('.')
                    .next()
                    .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
            plain && !local.is_empty() && host
        }
        _ => false,
    }
}

fn revocation_reason(v: Option<&Value>) -> Result<RevocationReason, AcmeError> {
    let code = match v {
        None => 0,
        Some(r) => r
            .as_u64()
            .ok_or_else(|| malformed("reason is a CRL reason code"))?,
    };
    // RFC 8555 §7.6 and the CA/Browser Forum: the reasons a subscriber
    // may give.
    let reason = match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        other => {
            return Err(Problem::new(
                ProblemType::BadRevocationReason,
                format!("reason {other} is not one a subscriber gives: 0, 1, 3, 4 or 5"),
            )
            .into())
        }
    };
    Ok(reason)
}

/// An account object (RFC 8555 §7.1.2).
fn account_json(ctx: &AcmeContext, a: &AcmeAccountRecord) -> Value {
    json!({
        "status": a.status.as_str(),
        "contact": a.contact,
        "orders": ctx.url(&format!("account/{}/orders", a.id)),
        "externalAccountBinding": { "kid": a.eab_kid },
    })
}

/// The directory (RFC 8555 §7.1.1).
pub fn directory(ctx: &AcmeContext) -> Value {
    json!({
        "newNonce": ctx.url("new-nonce"),
        "newAccount": ctx.url("new-account"),
        "newOrder": ctx.url("new-order"),
        "revokeCert": ctx.url("revoke-cert"),
        "keyChange": ctx.url("key-change"),
        "meta": { "externalAccountRequired": true },
    })
}
