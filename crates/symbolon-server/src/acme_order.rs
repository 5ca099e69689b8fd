//! ACME orders at the service (RFC 8555 §7.4, §7.5; docs/acme.md): an
//! order names DNS names the account's station's name policy allows; each
//! name gets an authorization with an http-01 and a tls-alpn-01 challenge,
//! validated in the background when the client says it is ready; a ready
//! order is finalized with a CSR for exactly its names, reviewed as every
//! request is (possession, weak and duplicate keys, the name policy again)
//! and issued under the account. In memory, bounded: a restart loses
//! orders, never certificates.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use symbolon::acme::identifier::parse_identifiers;
use symbolon::acme::order::order_status;
use symbolon::acme::problem::malformed;
use symbolon::acme::{
    key_authorization, Authorization, ChallengeType, Problem, ProblemType, Status,
};
use symbolon::ca::{CaError, CertifyRequest, RequestForm};
use symbolon::x509::{parse_identity, AltNames, CertificateRole, CommonName, DnsName};
use symbolon_store::{AcmeAccountRecord, CertificateSerial};
use x509_cert::der::Decode;

use crate::acme::{random_id, AcmeContext, AcmeError, AcmeReply, AcmeResult};
use crate::service::{now, IssueLinks, PROTOCOL};
use crate::vetting::{parse_policy, Authority};
use crate::CaService;

/// How long an order and its authorizations may be worked on.
const ORDER_LIFETIME_SECS: i64 = 24 * 3600;
/// Most orders kept at once; beyond, new orders are refused until old ones
/// expire.
const MAX_ORDERS: usize = 20_000;
/// Most unfinished orders one account may have.
const MAX_OPEN_PER_ACCOUNT: usize = 100;
/// Most orders of any state one account may have in memory (a day's).
const MAX_ORDERS_PER_ACCOUNT: usize = 1_000;
/// Longest CSR read (base64url).
const MAX_CSR: usize = 32 * 1024;

/// Where an order stands beyond what its authorizations say.
#[derive(Debug, Clone)]
enum Outcome {
    /// Waiting on its authorizations, or ready.
    Open,
    /// Being issued.
    Processing,
    /// Issued.
    Issued(CertificateSerial),
    /// Finalization failed for good.
    Failed(Problem),
}

struct OrderEntry {
    account: String,
    role: CertificateRole,
    identifiers: Vec<DnsName>,
    authorizations: Vec<String>,
    expires: i64,
    outcome: Outcome,
}

struct AuthzEntry {
    account: String,
    authz: Authorization,
}

/// The orders and authorizations in memory.
#[derive(Default)]
pub(crate) struct Objects {
    orders: HashMap<String, OrderEntry>,
    authzs: HashMap<String, AuthzEntry>,
}

impl Objects {
    /// Drops what expired.
    fn prune(&mut self, now: i64) {
        let gone: Vec<String> = self
            .orders
            .iter()
            .filter(|(_, o)| o.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(o) = self.orders.remove(&id) {
                for a in o.authorizations {
                    self.authzs.remove(&a);
                }
            }
        }
    }

    fn status(&self, o: &OrderEntry, now: i64) -> Status {
        match &o.outcome {
            Outcome::Issued(_) => Status::Valid,
            Outcome::Failed(_) => Status::Invalid,
            Outcome::Processing => Status::Processing,
            Outcome::Open => {
                let states: Vec<Status> = o
                    .authorizations
                    .iter()
                    .map(|a| {
                        self.authzs
                            .get(a)
                            .map_or(Status::Expired, |e| e.authz.status(now))
                    })
                    .collect();
                order_status(&states, o.expires, now)
            }
        }
    }
}

fn server_internal(detail: &str) -> AcmeError {
    Problem::new(ProblemType::ServerInternal, detail.to_string()).into()
}

fn not_found(what: &str) -> AcmeError {
    // The same answer for "no such object" and "another account's": an
    // account learns nothing of others' orders.
    Problem::new(
        ProblemType::Malformed,
        format!("no such {what} for this account"),
    )
    .into()
}

fn time(secs: i64) -> String {
    x509_cert::der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs.max(0) as u64))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl CaService {
    fn objects(&self) -> Result<std::sync::MutexGuard<'_, Objects>, AcmeError> {
        self.acme
            .objects
            .lock()
            .map_err(|_| server_internal("the order store is poisoned"))
    }

    /// Forgets a deactivated account's orders.
    pub(crate) fn acme_drop_orders(&self, account: &str) {
        if let Ok(mut o) = self.acme.objects.lock() {
            let ids: Vec<String> = o
                .orders
                .iter()
                .filter(|(_, e)| e.account == account)
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                if let Some(e) = o.orders.remove(&id) {
                    for a in e.authorizations {
                        o.authzs.remove(&a);
                    }
                }
            }
        }
    }

    /// Refuses a name the account's station's name policy does not cover.
    async fn acme_names_allowed(
        &self,
        account: &AcmeAccountRecord,
        names: &[DnsName],
    ) -> Result<(), AcmeError> {
        let policy = match self.registry.name_policy(&account.station).await? {
            Some(record) => parse_policy(&record)?,
            None => {
                return Err(Problem::new(
                    ProblemType::RejectedIdentifier,
                    format!(
                        "station {} has no name policy, so its ACME account may have no name certified; an admin sets one (`symbolon admin name-policy set`)",
                        account.station
                    ),
                )
                .into())
            }
        };
        for name in names {
            let subject = parse_identity(&format!("CN={name}"))
                .map_err(|e| Problem::new(ProblemType::RejectedIdentifier, e.to_string()))?;
            let alt = AltNames {
                dns: vec![name.clone()],
                ..AltNames::default()
            };
            if let Err(outside) = policy.judge_certificate(&subject, &alt) {
                return Err(Problem::new(
                    ProblemType::RejectedIdentifier,
                    format!(
                        "{name} is outside the name policy of station {}, which account {} acts for ({outside})",
                        account.station, account.id
                    ),
                )
                .into());
            }
        }
        Ok(())
    }

    /// `newOrder` (RFC 8555 §7.4).
    pub async fn acme_new_order(&self, ctx: &AcmeContext, body: &[u8]) -> AcmeResult {
        let v = self
            .acme_verify(ctx, &ctx.url("new-order"), body, false)
            .await?;
        let account = v.account()?.clone();
        let payload = v.jws.payload_json()?;
        if payload.contains_key("notBefore") || payload.contains_key("notAfter") {
            return Err(malformed(
                "this CA sets the validity itself: leave notBefore and notAfter out",
            )
            .into());
        }
        let names = parse_identifiers(payload.get("identifiers"))?;
        self.acme_names_allowed(&account, &names).await?;
        let t = now();
        let expires = t + ORDER_LIFETIME_SECS;
        let id = random_id()?;
        let mut authzs = Vec::with_capacity(names.len());
        for name in &names {
            let tokens = ChallengeType::ALL
                .into_iter()
                .map(|k| random_id().map(|t| (k, t)))
                .collect::<Result<Vec<_>, _>>()?;
            authzs.push((
                random_id()?,
                Authorization::new(name.clone(), expires, tokens),
            ));
        }
        let mut objects = self.objects()?;
        objects.prune(t);
        let mine: Vec<&OrderEntry> = objects
            .orders
            .values()
            .filter(|o| o.account == account.id)
            .collect();
        let open = mine
            .iter()
            .filter(|o| {
                matches!(
                    objects.status(o, t),
                    Status::Pending | Status::Ready | Status::Processing
                )
            })
            .count();
        if open >= MAX_OPEN_PER_ACCOUNT {
            return Err(Problem::new(
                ProblemType::RateLimited,
                format!("account {} has {MAX_OPEN_PER_ACCOUNT} unfinished orders; finish some, or deactivate their authorizations", account.id),
            )
            .into());
        }
        // Every order an account keeps in memory, finished or not, counts
        // against its share: one account cannot fill the service's.
        if mine.len() >= MAX_ORDERS_PER_ACCOUNT {
            return Err(Problem::new(
                ProblemType::RateLimited,
                format!("account {} made {MAX_ORDERS_PER_ACCOUNT} orders in the last day; try again when older ones expire", account.id),
            )
            .into());
        }
        if objects.orders.len() >= MAX_ORDERS {
            return Err(Problem::new(
                ProblemType::RateLimited,
                format!("the service holds {MAX_ORDERS} orders, its most; try again when older ones expire"),
            )
            .into());
        }
        let mut ids = Vec::with_capacity(authzs.len());
        for (aid, authz) in authzs {
            ids.push(aid.clone());
            objects.authzs.insert(
                aid,
                AuthzEntry {
                    account: account.id.clone(),
                    authz,
                },
            );
        }
        let entry = OrderEntry {
            account: account.id.clone(),
            role: ctx.role,
            identifiers: names,
            authorizations: ids,
            expires,
            outcome: Outcome::Open,
        };
        let body = order_json(ctx, &id, &entry, objects.status(&entry, t));
        objects.orders.insert(id.clone(), entry);
        Ok(AcmeReply::json(201, body).at(ctx.url(&format!("order/{id}"))))
    }

    /// An order (POST-as-GET).
    pub async fn acme_order(&self, ctx: &AcmeContext, id: &str, body: &[u8]) -> AcmeResult {
        let url = ctx.url(&format!("order/{id}"));
        let v = self.acme_verify(ctx, &url, body, false).await?;
        let account = v.account()?;
        let objects = self.objects()?;
        let o = objects
            .orders
            .get(id)
            .filter(|o| o.account == account.id)
            .ok_or_else(|| not_found("order"))?;
        Ok(AcmeReply::json(200, order_json(ctx, id, o, objects.status(o, now()))).at(url))
    }

    /// The account's orders (RFC 8555 §7.1.2.1), those in memory.
    pub async fn acme_orders(&self, ctx: &AcmeContext, id: &str, body: &[u8]) -> AcmeResult {
        let url = ctx.url(&format!("account/{id}/orders"));
        let v = self.acme_verify(ctx, &url, body, false).await?;
        if v.account()?.id != id {
            return Err(Problem::new(
                ProblemType::Unauthorized,
                "an account lists only its own orders",
            )
            .into());
        }
        let objects = self.objects()?;
        let mut list: Vec<String> = objects
            .orders
            .iter()
            .filter(|(_, o)| o.account == id)
            .map(|(oid, _)| ctx.url(&format!("order/{oid}")))
            .collect();
        list.sort();
        Ok(AcmeReply::json(200, json!({ "orders": list })))
    }

    /// An authorization: read it, or deactivate it (RFC 8555 §7.5.2).
    pub async fn acme_authorization(&self, ctx: &AcmeContext, id: &str, body: &[u8]) -> AcmeResult {
        let url = ctx.url(&format!("authz/{id}"));
        let v = self.acme_verify(ctx, &url, body, false).await?;
        let account = v.account()?;
        let deactivate = if v.jws.is_post_as_get() {
            false
        } else {
            match v.jws.payload_json()?.get("status").and_then(Value::as_str) {
                Some("deactivated") => true,
                None => false,
                Some(_) => {
                    return Err(malformed(
                        "an authorization's status can be set to \"deactivated\" only",
                    )
                    .into())
                }
            }
        };
        let t = now();
        let mut objects = self.objects()?;
        let entry = objects
            .authzs
            .get_mut(id)
            .filter(|a| a.account == account.id)
            .ok_or_else(|| not_found("authorization"))?;
        if deactivate {
            entry.authz.deactivate(t)?;
        }
        Ok(AcmeReply::json(200, authz_json(ctx, id, &entry.authz, t)).at(url))
    }

    /// A challenge: the client says it is ready (`{}`), and the service
    /// validates in the background; or reads it (POST-as-GET).
    pub async fn acme_challenge(
        self: &Arc<Self>,
        ctx: &AcmeContext,
        authz_id: &str,
        kind: &str,
        body: &[u8],
    ) -> AcmeResult {
        let url = ctx.url(&format!("chall/{authz_id}/{kind}"));
        let v = self.acme_verify(ctx, &url, body, false).await?;
        let account = v.account()?.clone();
        let kind: ChallengeType = kind.parse().map_err(|_| not_found("challenge"))?;
        let t = now();
        let (started, reply) = {
            let mut objects = self.objects()?;
            let entry = objects
                .authzs
                .get_mut(authz_id)
                .filter(|a| a.account == account.id)
                .ok_or_else(|| not_found("authorization"))?;
            let started = if v.jws.is_post_as_get() {
                None
            } else {
                entry
                    .authz
                    .start(kind, t)?
                    .map(|token| (token, entry.authz.identifier.clone()))
            };
            let c = entry
                .authz
                .challenges
                .iter()
                .find(|c| c.kind == kind)
                .ok_or_else(|| not_found("challenge"))?;
            (started, challenge_json(ctx, authz_id, c))
        };
        if let Some((token, name)) = started {
            let service = Arc::clone(self);
            let authz_id = authz_id.to_string();
            let expected = key_authorization(&token, &account.thumbprint);
            tokio::spawn(async move {
                let outcome = service
                    .acme
                    .validation
                    .validate(kind, &name, &token, &expected)
                    .await;
                if let Err(p) = &outcome {
                    tracing::info!(authz = %authz_id, %name, challenge = %kind, problem = %p, "ACME validation failed");
                }
                if let Ok(mut objects) = service.acme.objects.lock() {
                    if let Some(entry) = objects.authzs.get_mut(&authz_id) {
                        entry.authz.finish(kind, outcome, now());
                    }
                }
            });
        }
        let mut r = AcmeReply::json(200, reply);
        r.links.push(format!(
            "<{}>;rel=\"up\"",
            ctx.url(&format!("authz/{authz_id}"))
        ));
        Ok(r)
    }

    /// `finalize` (RFC 8555 §7.4): the CSR for exactly the order's names,
    /// reviewed and issued under the account.
    pub async fn acme_finalize(
        self: &Arc<Self>,
        ctx: &AcmeContext,
        id: &str,
        body: &[u8],
    ) -> AcmeResult {
        let url = ctx.url(&format!("order/{id}/finalize"));
        let v = self.acme_verify(ctx, &url, body, false).await?;
        let account = v.account()?.clone();
        let csr = v
            .jws
            .payload_json()?
            .get("csr")
            .and_then(Value::as_str)
            .filter(|c| c.len() <= MAX_CSR)
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .ok_or_else(|| {
                malformed(format!(
                    "finalize takes a csr: base64url DER, at most {MAX_CSR} characters"
                ))
            })?;
        let t = now();
        let (names, role) = {
            let mut objects = self.objects()?;
            let status = {
                let o = objects
                    .orders
                    .get(id)
                    .filter(|o| o.account == account.id)
                    .ok_or_else(|| not_found("order"))?;
                objects.status(o, t)
            };
            if status != Status::Ready {
                return Err(Problem::new(
                    ProblemType::OrderNotReady,
                    format!(
                        "the order is {}, not ready: every authorization must be valid first",
                        format!("{status:?}").to_lowercase()
                    ),
                )
                .into());
            }
            let o = objects
                .orders
                .get_mut(id)
                .ok_or_else(|| not_found("order"))?;
            o.outcome = Outcome::Processing;
            (o.identifiers.clone(), o.role)
        };
        // In a task of its own: a client that goes away mid-request must
        // not leave the order processing for ever, or a certificate made
        // and its order not told.
        let service = Arc::clone(self);
        let order_id = id.to_string();
        let task = tokio::spawn(async move {
            let issued = PROTOCOL
                .scope("acme", service.acme_issue(&account, csr, &names, role))
                .await;
            let outcome = match &issued {
                Ok(serial) => Outcome::Issued(serial.clone()),
                Err(e) => Outcome::Failed(e.problem.clone()),
            };
            if let Ok(mut objects) = service.acme.objects.lock() {
                if let Some(o) = objects.orders.get_mut(&order_id) {
                    o.outcome = outcome;
                }
            }
            issued
        });
        let issued = task
            .await
            .map_err(|_| server_internal("the issuance task failed"))?;
        let reply = {
            let objects = self.objects()?;
            let o = objects.orders.get(id).ok_or_else(|| not_found("order"))?;
            order_json(ctx, id, o, objects.status(o, t))
        };
        issued?;
        Ok(AcmeReply::json(200, reply).at(ctx.url(&format!("order/{id}"))))
    }

    async fn acme_issue(
        &self,
        account: &AcmeAccountRecord,
        csr: Vec<u8>,
        names: &[DnsName],
        role: CertificateRole,
    ) -> Result<CertificateSerial, AcmeError> {
        let identity = acme_identity(&csr, names)?;
        let approved = self
            .review(CertifyRequest {
                identity,
                csr,
                form: RequestForm::Pkcs10,
                role,
                attestation: None,
                domain_validated: true,
            })
            .await?;
        // Exactly the names validated: no more (a name nobody proved), no
        // fewer (an order is for what it says), no other kind.
        let mut asked = approved.alt_names.dns.clone();
        asked.sort();
        asked.dedup();
        if asked != names
            || !approved.alt_names.ips.is_empty()
            || !approved.alt_names.emails.is_empty()
        {
            let e = CaError::NameNotAllowed(format!(
                "the CSR names {}; the order's validated names are {}",
                approved.alt_names.tagged().join(", "),
                names
                    .iter()
                    .map(DnsName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            self.refused(&e, Some(approved.public_key.fingerprint()))
                .await;
            return Err(Problem::new(ProblemType::BadCsr, e.to_string()).into());
        }
        // An account's key certifies nothing (RFC 8555 §11.1): a
        // certificate for it would let its holder's TLS server speak for
        // the account, and the account for the server.
        let spki = approved.public_key.spki_der();
        let thumbprint = symbolon::acme::Jwk::from_spki(spki).map(|k| k.thumbprint());
        if let Ok(tp) = thumbprint {
            if self.registry.acme_account_by_key(&tp).await?.is_some() {
                let e = CaError::InvalidRequest(
                    "the CSR's key is an ACME account's key; a certificate's key must be its own"
                        .into(),
                );
                self.refused(&e, Some(approved.public_key.fingerprint()))
                    .await;
                return Err(Problem::new(ProblemType::BadCsr, e.to_string()).into());
            }
        }
        // The policy again: it may have changed since the order.
        self.acme_names_allowed(account, names).await?;
        let subject = approved.subject.clone();
        let certified = self
            .issue_approved(
                approved,
                subject,
                Vec::new(),
                Authority::Acme {
                    account: account.id.clone(),
                    station: account.station.clone(),
                },
                IssueLinks {
                    delivered_with_answer: true,
                    ..IssueLinks::default()
                },
            )
            .await?;
        Ok(certified.serial)
    }
}

/// The identity a CSR for `names` presents: its subject, which may only be
/// empty or one CN among the names (a domain validated proves nothing of
/// an organisation), or else the first name.
fn acme_identity(csr: &[u8], names: &[DnsName]) -> Result<String, AcmeError> {
    let req = x509_cert::request::CertReq::from_der(csr)
        .map_err(|e| Problem::new(ProblemType::BadCsr, format!("the CSR does not parse: {e}")))?;
    let subject = &req.info.subject;
    if subject.is_empty() {
        let first = names
            .first()
            .ok_or_else(|| malformed("the order has no names"))?;
        return Ok(format!("CN={first}"));
    }
    let cns = CommonName::of_subject(subject);
    let one_cn = subject.iter().count() == 1;
    match cns.as_slice() {
        [CommonName::Dns(h)] if one_cn && names.contains(h) => Ok(format!("CN={h}")),
        _ => Err(Problem::new(
            ProblemType::BadCsr,
            "the CSR's subject must be empty or one CN naming one of the order's names: a validated domain proves nothing else",
        )
        .into()),
    }
}

fn order_json(ctx: &AcmeContext, id: &str, o: &OrderEntry, status: Status) -> Value {
    let mut v = json!({
        "status": status,
        "expires": time(o.expires),
        "identifiers": o.identifiers.iter().map(|n| json!({ "type": "dns", "value": n.as_str() })).collect::<Vec<_>>(),
        "authorizations": o.authorizations.iter().map(|a| ctx.url(&format!("authz/{a}"))).collect::<Vec<_>>(),
        "finalize": ctx.url(&format!("order/{id}/finalize")),
    });
    match &o.outcome {
        Outcome::Issued(serial) => v["certificate"] = json!(ctx.url(&format!("cert/{serial}"))),
        Outcome::Failed(p) => v["error"] = json!(p),
        _ => {}
    }
    v
}

fn challenge_json(ctx: &AcmeContext, authz: &str, c: &symbolon::acme::order::Challenge) -> Value {
    let mut v = json!({
        "type": c.kind.name(),
        "url": ctx.url(&format!("chall/{authz}/{}", c.kind.name())),
        "status": c.status,
        "token": c.token,
    });
    if let Some(t) = c.validated {
        v["validated"] = json!(time(t));
    }
    if let Some(p) = &c.error {
        v["error"] = json!(p);
    }
    v
}

fn authz_json(ctx: &AcmeContext, id: &str, a: &Authorization, now: i64) -> Value {
    json!({
        "status": a.status(now),
        "expires": time(a.expires),
        "identifier": { "type": "dns", "value": a.identifier.as_str() },
        "challenges": a.challenges.iter().map(|c| challenge_json(ctx, id, c)).collect::<Vec<_>>(),
    })
}
