//! The CA's OCSP responder (RFC 6960; docs/revocation.md): a delegated
//! responder key in the CA's own token, certified by the CA for OCSP
//! signing only, short-lived and renewed ahead of its expiry; answers read
//! from the registry on every request and signed responses cached, so a
//! lookup whose status has not changed costs a registry read and no
//! signature. A request with a nonce is signed fresh, with its nonce.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use symbolon::ca::CaError;
use symbolon::code::Code;
use symbolon::keys::RsaAlgorithm;
use symbolon::revocation::ocsp::{
    build_response, error_response, read_request, CertId, CertState, IssuerHashes, OcspQuery,
    ResponderIdentity, ResponseStatus, SingleAnswer,
};
use symbolon::token::{SlotName, Token};
use symbolon::x509::{CaSigner, Certificate, Delegation};
use symbolon_store::{CertificateSerial, Registry};

use crate::service::now;
use crate::ServiceError;

/// The CA token's slot for the responder key.
pub const RESPONDER_SLOT: &str = "ocsp-responder";
/// How long a responder certificate is valid.
pub const RESPONDER_VALIDITY: Duration = Duration::from_secs(7 * 86_400);
/// A responder certificate is renewed when less than this is left.
pub const RESPONDER_RENEW_BEFORE: Duration = Duration::from_secs(2 * 86_400);
/// How long an OCSP answer is valid (thisUpdate to nextUpdate).
pub const ANSWER_VALIDITY: i64 = 3600;
/// A cached answer is signed again when less than this is left of it.
pub const ANSWER_REFRESH_BEFORE: i64 = ANSWER_VALIDITY / 2;
/// How long a reading of the registry's revocation head is trusted: a
/// revocation made by another process reaches this one's cached answers
/// within this.
pub const HEAD_TTL: Duration = Duration::from_millis(250);
/// Cached answers kept at most (a full cache is emptied, not grown).
pub const MAX_CACHED: usize = 100_000;

/// The responder's current certificate.
pub struct Current {
    identity: ResponderIdentity,
    not_after: i64,
    serial: String,
}

struct Cached {
    /// The certificate's serial (its answers go when its status changes).
    serial: Vec<u8>,
    /// The CertID as asked, to sign the answer again.
    cert_id: CertId,
    state: CertState,
    /// The revocation head at which `state` was last read.
    head: i64,
    this_update: i64,
    next_update: i64,
    responder: String,
    der: Arc<Vec<u8>>,
}

/// The responder.
pub struct Responder {
    slot: SlotName,
    signer: CaSigner,
    hashes: IssuerHashes,
    current: RwLock<Option<Arc<Current>>>,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
    head: Mutex<Head>,
    renewing: tokio::sync::Mutex<()>,
}

/// The registry's revocation head as last read, and a generation bumped by
/// every change in this process (a reading started before a change is not
/// kept).
#[derive(Default)]
struct Head {
    generation: u64,
    value: Option<(Instant, i64)>,
}

/// How a cached answer is checked before it is served.
enum Check {
    /// No revocation since: the head it was checked at is the current one.
    Head(i64),
    /// Its certificate's status, just read, at this head.
    State(CertState, i64),
}

fn lock_error<T>(_: T) -> ServiceError {
    ServiceError::Refused(CaError::Internal(
        "the OCSP responder's lock was poisoned".into(),
    ))
}

impl Responder {
    /// Makes the responder key in the CA token (once; kept across
    /// restarts): called while the service starts, before the token is
    /// shared. Its certificate is issued when first needed.
    pub(crate) fn prepare(
        token: &mut (dyn Token + Send + Sync),
        issuer: &Certificate,
    ) -> Result<Self, ServiceError> {
        let slot = SlotName::new(RESPONDER_SLOT)?;
        let public = match token.public_key(&slot) {
            Ok(k) => k,
            Err(e) if e.code() == Code::SlotNotFound => {
                match token.generate(&slot, RsaAlgorithm::Rsa2048) {
                    Ok(k) => k,
                    Err(e) if e.code() == Code::SlotOccupied => token.public_key(&slot)?,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        // RSA-2048 whatever the CA key's algorithm: relying parties verify
        // it everywhere, and a response costs one signature of it.
        let signer =
            CaSigner::new(public.into()).map_err(|e| ServiceError::Setup(e.to_string()))?;
        let hashes = IssuerHashes::of(issuer).map_err(|e| ServiceError::Setup(e.to_string()))?;
        Ok(Self {
            slot,
            signer,
            hashes,
            current: RwLock::new(None),
            cache: Mutex::new(HashMap::new()),
            head: Mutex::new(Head::default()),
            renewing: tokio::sync::Mutex::new(()),
        })
    }

    /// After a status change in this process: the certificate's cached
    /// answer goes, and the next lookup reads the registry's revocation
    /// head again (a change made by another process is seen within
    /// [`HEAD_TTL`]).
    pub(crate) fn changed(&self, serial: Option<&CertificateSerial>) {
        if let Ok(mut h) = self.head.lock() {
            h.generation += 1;
            h.value = None;
        }
        if let (Some(serial), Ok(mut cache)) = (serial, self.cache.lock()) {
            if let Ok(bytes) = hex::decode(serial.as_str()) {
                cache.retain(|_, c| c.serial != bytes);
            }
        }
    }

    /// A cached answer for `key` that may be served now: signed by the
    /// current responder, with time left, and either checked at the
    /// revocation head `Check::Head` names, or of the status
    /// `Check::State` names (then it is marked checked at that head).
    fn cached(
        &self,
        key: &[u8],
        check: Check,
        responder: &str,
        now: i64,
    ) -> Result<Option<Vec<u8>>, ServiceError> {
        let mut cache = self.cache.lock().map_err(lock_error)?;
        let Some(c) = cache.get_mut(key) else {
            return Ok(None);
        };
        if c.responder != responder
            || c.next_update - now <= ANSWER_REFRESH_BEFORE
            || c.this_update > now
        {
            return Ok(None);
        }
        match check {
            Check::Head(head) if c.head == head => Ok(Some(c.der.as_ref().clone())),
            Check::State(state, head) if c.state == state => {
                c.head = head;
                Ok(Some(c.der.as_ref().clone()))
            }
            _ => Ok(None),
        }
    }
}

fn current_of(der: &[u8]) -> Result<Current, ServiceError> {
    let cert =
        symbolon::x509::parse_certificate(der).map_err(|e| ServiceError::Setup(e.to_string()))?;
    let not_after = symbolon::x509::not_after_unix(&cert);
    let serial = symbolon::x509::serial_hex(&cert);
    Ok(Current {
        identity: ResponderIdentity::new(der).map_err(|e| ServiceError::Setup(e.to_string()))?,
        not_after,
        serial,
    })
}

/// What a serial's registry row says, as an OCSP status.
async fn state_of(registry: &Registry, serial: &[u8]) -> Result<CertState, ServiceError> {
    // A serial longer than any this CA issues was never issued here.
    if serial.is_empty() || serial.len() > 20 {
        return Ok(CertState::Unknown);
    }
    let serial = CertificateSerial::from_bytes(serial);
    Ok(match registry.status(&serial).await? {
        None => CertState::Unknown,
        Some(s) => match s.revocation.filter(|r| r.in_force()) {
            Some(r) => CertState::Revoked {
                at: r.revoked_at,
                reason: r.reason,
            },
            None => CertState::Good,
        },
    })
}

impl crate::CaService {
    /// Answers a DER `OCSPRequest` with a DER `OCSPResponse`: malformed
    /// requests and other issuers' certificates get an unsigned error
    /// status, everything else a signed answer.
    pub async fn ocsp(&self, request: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let query = match read_request(request) {
            Ok(q) => q,
            Err(refusal) => {
                tracing::info!(reason = %refusal.reason, "OCSP request refused");
                return Ok(error_response(refusal.status));
            }
        };
        self.answer(query).await
    }

    /// Answers a request that was read: other issuers' certificates are
    /// `unauthorized`; the rest answered from the cache or signed.
    async fn answer(&self, query: OcspQuery) -> Result<Vec<u8>, ServiceError> {
        let responder = &self.responder;
        if !query.cert_ids.iter().all(|id| responder.hashes.names(id)) {
            return Ok(error_response(ResponseStatus::Unauthorized));
        }
        let current = self.renew_responder_if_due().await?;
        let now = now();
        // One certificate, no nonce: a cached answer serves while no
        // revocation changed anything since it was checked (no read at
        // all), or while its certificate's status is unchanged (one read).
        let cacheable = query.nonce.is_none() && query.cert_ids.len() == 1;
        // Keyed by the whole CertID (hash algorithm, issuer hashes, serial):
        // a signed answer names the CertID it was asked with.
        let key = x509_cert::der::Encode::to_der(&query.cert_ids[0])
            .map_err(|e| CaError::Internal(format!("CertID: {e}")))?;
        let head = if cacheable {
            let head = self.recent_revocation_head().await?;
            if let Some(der) = responder.cached(&key, Check::Head(head), &current.serial, now)? {
                return Ok(der);
            }
            head
        } else {
            0
        };
        let mut answers = Vec::with_capacity(query.cert_ids.len());
        for id in &query.cert_ids {
            let state = state_of(&self.registry, id.serial_number.as_bytes()).await?;
            answers.push(SingleAnswer {
                cert_id: id.clone(),
                state,
                this_update: now,
                next_update: now + ANSWER_VALIDITY,
            });
        }
        if cacheable {
            let check = Check::State(answers[0].state, head);
            if let Some(der) = responder.cached(&key, check, &current.serial, now)? {
                return Ok(der);
            }
        }
        let (token, slot, signer) = (
            Arc::clone(&self.token),
            responder.slot.clone(),
            responder.signer.clone(),
        );
        let identity = current.identity.clone();
        let nonce = query.nonce.clone();
        let signing = answers.clone();
        let der = self
            .cpu
            .signing
            .run(move || {
                build_response(&identity, &signer, now, &signing, nonce.as_ref(), |r| {
                    token.sign_request(&slot, r)
                })
            })
            .await
            .map_err(|e| CaError::Internal(format!("OCSP signing task: {e}")))?
            .map_err(|e| CaError::Internal(format!("OCSP response: {e}")))?;
        if cacheable {
            let mut cache = responder.cache.lock().map_err(lock_error)?;
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(
                key,
                Cached {
                    serial: query.cert_ids[0].serial_number.as_bytes().to_vec(),
                    cert_id: query.cert_ids[0].clone(),
                    state: answers[0].state,
                    head,
                    this_update: now,
                    next_update: now + ANSWER_VALIDITY,
                    responder: current.serial.clone(),
                    der: Arc::new(der.clone()),
                },
            );
        }
        Ok(der)
    }

    /// The registry's last revocation change, read at most every
    /// [`HEAD_TTL`] (a change made in this process is seen at once: it
    /// resets the reading).
    async fn recent_revocation_head(&self) -> Result<i64, ServiceError> {
        let generation = {
            let h = self.responder.head.lock().map_err(lock_error)?;
            if let Some((at, value)) = h.value {
                if at.elapsed() < HEAD_TTL {
                    return Ok(value);
                }
            }
            h.generation
        };
        let value = self.registry.revocation_head().await?;
        let mut h = self.responder.head.lock().map_err(lock_error)?;
        // A change made while this read ran: the reading may predate it.
        if h.generation == generation {
            h.value = Some((Instant::now(), value));
        }
        Ok(value)
    }

    /// The responder's certificate, certified first when there is none
    /// yet or it is close to its end (once, whoever asks first).
    pub async fn renew_responder_if_due(&self) -> Result<Arc<Current>, ServiceError> {
        let usable = |c: &Option<Arc<Current>>| {
            c.as_ref()
                .filter(|c| c.not_after - now() >= RESPONDER_RENEW_BEFORE.as_secs() as i64)
                .cloned()
        };
        let ready = usable(&*self.responder.current.read().map_err(lock_error)?);
        if let Some(c) = ready {
            return Ok(c);
        }
        let _one = self.responder.renewing.lock().await;
        let ready = usable(&*self.responder.current.read().map_err(lock_error)?);
        if let Some(c) = ready {
            return Ok(c);
        }
        let issued = self
            .certify_delegate(
                Delegation::OcspSigning,
                self.responder.signer.public_key().spki_der().to_vec(),
                RESPONDER_VALIDITY,
            )
            .await?;
        let current = Arc::new(current_of(&issued.der)?);
        *self.responder.current.write().map_err(lock_error)? = Some(Arc::clone(&current));
        Ok(current)
    }

    /// Signs again the cached answers close to their end, so lookups keep
    /// costing no signature (run by the service's maintenance task).
    pub async fn refresh_ocsp_cache(&self) -> Result<usize, ServiceError> {
        let now = now();
        let due: Vec<CertId> = {
            let cache = self.responder.cache.lock().map_err(lock_error)?;
            cache
                .values()
                .filter(|c| c.next_update - now <= ANSWER_REFRESH_BEFORE)
                .map(|c| c.cert_id.clone())
                .collect()
        };
        let mut refreshed = 0;
        for cert_id in due {
            self.answer(OcspQuery {
                cert_ids: vec![cert_id],
                nonce: None,
            })
            .await?;
            refreshed += 1;
        }
        Ok(refreshed)
    }
}
