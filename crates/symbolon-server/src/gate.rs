//! The gate every request passes (docs/access.md): who is calling (the
//! connection's client certificate, checked against the credentials on
//! record), how often (rate limits), whether the authorization table lets
//! that role call this endpoint, whether the body is JSON and arrives in
//! time; then the handler runs as that caller, so every write it makes and
//! every audit entry names the caller. A refused state-changing request is
//! audited with the caller, the endpoint, the code and a bounded digest of
//! the input, never the input.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use symbolon::access::{self, Media};
use symbolon::keys::{HashAlgorithm, MessageDigest};
use symbolon::Code;
use symbolon_store::{acting_as, Actor, AuditKind, CredentialState, StoreError};

use crate::edge::{Connection, PeerCertificate};
use crate::http::ApiError;
use crate::rate_limit::{Bucket, RateLimiter};
use crate::{CaService, ServiceError};

/// A request body must arrive within this once its head has.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest body any endpoint takes (escrow deposits); each endpoint
/// applies its own, smaller, limit on top.
pub const MAX_ANY_BODY: usize = 1024 * 1024;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credential: public endpoints only.
    Anonymous(Option<SocketAddr>),
    /// An authenticated credential.
    Operator(Actor),
}

impl Caller {
    /// The authenticated caller, or `unauthenticated`.
    pub fn actor(&self) -> Result<&Actor, ServiceError> {
        match self {
            Caller::Operator(a) => Ok(a),
            Caller::Anonymous(_) => Err(ServiceError::unauthenticated(
                "this needs a credential: connect with a client certificate from `symbolon enroll` (--credential TOKEN)",
            )),
        }
    }

    fn describe(&self) -> serde_json::Value {
        match self {
            Caller::Anonymous(addr) => json!({ "anonymous": addr.map(|a| a.ip().to_string()) }),
            Caller::Operator(a) => {
                json!({ "role": a.role, "name": a.name, "credential": a.credential })
            }
        }
    }
}

/// Marks a 200 answer that is a refusal in the protocol's own terms (a
/// CMP error message): audited like a 4xx, with its reason.
#[derive(Debug, Clone)]
pub(crate) struct RefusedInBody(pub(crate) String);

/// What the gate needs besides the service.
pub struct Edge {
    /// The service.
    pub service: Arc<CaService>,
    /// The rate limits.
    pub limiter: RateLimiter,
}

/// Checks a presented client certificate against the credentials on record.
pub async fn authenticate(
    service: &CaService,
    peer: &PeerCertificate,
) -> Result<Actor, ServiceError> {
    let rec = match service.registry().credential(&peer.serial).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => {
            return Err(ServiceError::unauthenticated(format!(
            "certificate {} is not a credential this service issued; enroll with `symbolon enroll`",
            peer.serial
        )))
        }
        Err(e) => return Err(e.into()),
    };
    if rec.state == CredentialState::Revoked {
        return Err(ServiceError::unauthenticated(format!(
            "credential {} was revoked; ask an admin for a new grant (`symbolon admin grant`)",
            peer.serial
        )));
    }
    if peer.role != Some(rec.role) || peer.name.as_ref() != Some(&rec.name) {
        return Err(ServiceError::unauthenticated(format!(
            "certificate {} does not carry the role and name on record",
            peer.serial
        )));
    }
    Ok(Actor {
        role: rec.role,
        name: rec.name,
        credential: rec.serial,
    })
}

/// Exactly one Content-Type, and it is the endpoint's.
fn is_media(req: &Request, media: Media) -> bool {
    let mut all = req.headers().get_all(header::CONTENT_TYPE).iter();
    let (Some(only), None) = (all.next(), all.next()) else {
        return false;
    };
    only.to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(media.content_type()))
}

/// An error an extractor made (a path or query that does not parse) in
/// the service's error format, like every other.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // ACME's problem documents (RFC 7807) are the protocol's own.
        .is_some_and(|v| {
            v.starts_with("application/json") || v.starts_with("application/problem+json")
        });
    if !status.is_client_error() || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (code, text) = match status {
        axum::http::StatusCode::METHOD_NOT_ALLOWED => (Code::MethodNotAllowed, text),
        // The body extractor's limit (the endpoint's own, under the
        // gate's): say so in the service's terms.
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => (
            Code::PayloadTooLarge,
            format!(
                "request bodies are limited to {} bytes",
                crate::http::MAX_BODY
            ),
        ),
        _ => (Code::InvalidRequest, text),
    };
    let mut r = ApiError::new(code, text).into_response();
    *r.status_mut() = status;
    r
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The gate, as an axum middleware on every matched route. ACME's
/// clients read refusals as problem documents with a fresh nonce: the
/// gate's own are put in that form on ACME's paths (docs/acme.md).
pub async fn gate(
    State(edge): State<Arc<Edge>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let acme = matched
        .as_ref()
        .is_some_and(|m| m.as_str().starts_with("/acme/"));
    let service = Arc::clone(&edge.service);
    let response = admit_and_run(State(edge), matched, req, next).await;
    if acme {
        crate::http_acme::as_problem(&service, response).await
    } else {
        response
    }
}

async fn admit_and_run(
    State(edge): State<Arc<Edge>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let conn = req.extensions().get::<Connection>().cloned();
    let address = conn.as_ref().map(|c| c.address);
    let method = req.method().clone();
    let endpoint = matched
        .as_ref()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().chars().take(200).collect());
    let refusal = Refusal {
        edge: Arc::clone(&edge),
        method: method.clone(),
        endpoint: endpoint.clone(),
        peer: conn
            .as_ref()
            .and_then(|c| c.peer.as_ref())
            .map(|p| p.serial.to_string()),
    };
    // The row; a route without one is refused: the table is the whole truth.
    // HEAD is a GET without the body.
    let row_method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let row = access::endpoint(row_method, &endpoint);
    let access = row.map(|r| r.access);
    let media = row.map_or(Media::Json, |r| r.media);

    // Who. Public endpoints never look at a credential: they answer
    // whoever asks, even with the registry down.
    let peer = conn.as_ref().and_then(|c| c.peer.clone());
    let caller = match (peer, access) {
        (Some(p), Some(a)) if a.takes_credential() => match authenticate(&edge.service, &p).await {
            Ok(a) => Caller::Operator(a),
            // Where a code may stand in for a credential, a certificate
            // that is not one (a device's own) is no credential at all:
            // the caller is anonymous and must show a code.
            Err(_) if matches!(a, symbolon::access::Access::RolesOrEnrollmentCode(_)) => {
                Caller::Anonymous(address)
            }
            Err(e) => {
                let caller = Caller::Anonymous(address);
                let (req, input) = match read_body(req).await {
                    Ok(r) => r,
                    Err(e) => return refusal.refuse(&caller, e, None).await,
                };
                drop(req);
                return refusal
                    .refuse(&caller, ApiError::from(e), Some(&input))
                    .await;
            }
        },
        _ => Caller::Anonymous(address),
    };

    // How often.
    if let Some(r) = rate_limited(&edge.limiter, &caller, address, &endpoint) {
        return r;
    }

    // OCSP's POST is a query: answered like a GET, its body not audited.
    let query = access == Some(symbolon::access::Access::PublicQuery);
    if !changes_state(&method) || query {
        if let Err(e) = admit(access, &caller, &method, &endpoint) {
            return ApiError::from(e).into_response();
        }
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(caller.clone());
        return json_errors(run_as(&caller, next, Request::from_parts(parts, body)).await).await;
    }

    // A state change: its body is read first (bounded, in time), so every
    // refusal below is audited with a digest of what was sent.
    let (req, input) = match read_body(req).await {
        Ok(r) => r,
        Err(e) => return refusal.refuse(&caller, e, None).await,
    };
    if let Err(e) = admit(access, &caller, &method, &endpoint) {
        return refusal
            .refuse(&caller, ApiError::from(e), Some(&input))
            .await;
    }
    // A browser cannot send this (a cross-site form posts text/plain or
    // form data): no request forgery, and no CORS is ever granted.
    if !is_media(&req, media) {
        let e = ApiError::new(
            Code::UnsupportedMediaType,
            format!(
                "request bodies here must be Content-Type: {}",
                media.content_type()
            ),
        );
        return refusal.refuse(&caller, e, Some(&input)).await;
    }
    if req.headers().contains_key(header::ORIGIN) {
        let e = ServiceError::forbidden(
            "cross-origin requests are not served (the request carries an Origin header)",
        );
        return refusal
            .refuse(&caller, ApiError::from(e), Some(&input))
            .await;
    }
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(caller.clone());
    let response = json_errors(run_as(&caller, next, Request::from_parts(parts, body)).await).await;
    if response.status().is_client_error() || response.extensions().get::<RefusedInBody>().is_some()
    {
        refusal
            .record(&caller, Outcome::of(&response), Some(&input))
            .await;
    }
    response
}

/// The 429 for a caller over its limit (per credential, or per address
/// when anonymous), if it is.
fn rate_limited(
    limiter: &RateLimiter,
    caller: &Caller,
    address: Option<SocketAddr>,
    endpoint: &str,
) -> Option<Response> {
    let bucket = match (caller, address) {
        (Caller::Operator(a), _) => Bucket::Credential(a.credential.clone()),
        (Caller::Anonymous(_), Some(a)) => Bucket::Address(a.ip()),
        (Caller::Anonymous(_), None) => return None,
    };
    let (wait, first) = limiter.take(bucket).err()?;
    // Not audited one by one (a flood would fill the log); logged once per
    // streak of refusals.
    if first {
        tracing::warn!(caller = %caller.describe(), %endpoint, "rate limited");
    }
    let mut r = ApiError::new(
        Code::RateLimited,
        format!("too many requests; retry in {wait} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(r)
}

/// Whether the table lets `caller` call the endpoint: `unauthenticated` for
/// anonymous callers, `forbidden` for the wrong role.
fn admit(
    access: Option<symbolon::access::Access>,
    caller: &Caller,
    method: &Method,
    endpoint: &str,
) -> Result<(), ServiceError> {
    let role = match caller {
        Caller::Operator(a) => Some(a.role),
        Caller::Anonymous(_) => None,
    };
    match (access, caller) {
        (Some(a), _) if a.admits(role) => Ok(()),
        (Some(a), Caller::Anonymous(_)) => Err(ServiceError::unauthenticated(format!(
            "{method} {endpoint} needs a credential ({}); connect with --credential TOKEN (see `symbolon enroll`)",
            a.describe()
        ))),
        (Some(a), Caller::Operator(actor)) => Err(ServiceError::forbidden(format!(
            "{method} {endpoint} is for {}; this credential ({}) is {}",
            a.describe(),
            actor.name,
            actor.role
        ))),
        (None, _) => Err(ServiceError::forbidden(format!(
            "{method} {endpoint} is not open to anyone"
        ))),
    }
}

/// Reads a body whole (at most [`MAX_ANY_BODY`], within [`BODY_TIMEOUT`])
/// and puts it back; returns the request and the bytes.
async fn read_body(req: Request) -> Result<(Request, axum::body::Bytes), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_ANY_BODY as u64) {
        return Err(ApiError::new(
            Code::PayloadTooLarge,
            format!("request bodies are limited to {MAX_ANY_BODY} bytes"),
        ));
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_ANY_BODY)).await {
        Ok(Ok(bytes)) => Ok((Request::from_parts(parts, Body::from(bytes.clone())), bytes)),
        Ok(Err(_)) => Err(ApiError::new(
            Code::PayloadTooLarge,
            format!("request bodies are limited to {MAX_ANY_BODY} bytes"),
        )),
        Err(_) => Err(ApiError::new(
            Code::RequestTimeout,
            format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Runs the handler as the caller.
async fn run_as(caller: &Caller, next: Next, req: Request) -> Response {
    match caller {
        Caller::Operator(a) => acting_as(a.clone(), next.run(req)).await,
        Caller::Anonymous(_) => next.run(req).await,
    }
}

/// How a refused request was answered.
#[derive(Debug, Clone)]
struct Outcome {
    status: u16,
    code: Option<Code>,
    /// The reason of a refusal answered in the protocol's own terms.
    reason: Option<String>,
}

impl Outcome {
    fn of(r: &Response) -> Self {
        Self {
            status: r.status().as_u16(),
            code: r.extensions().get::<Code>().copied(),
            reason: r.extensions().get::<RefusedInBody>().map(|r| r.0.clone()),
        }
    }
}

/// Refusing a request, and auditing it.
struct Refusal {
    edge: Arc<Edge>,
    method: Method,
    endpoint: String,
    /// The serial of the client certificate presented, if any: for an
    /// anonymous caller, the certificate it tried (a re-enrolling device).
    peer: Option<String>,
}

impl Refusal {
    async fn refuse(&self, caller: &Caller, error: ApiError, input: Option<&[u8]>) -> Response {
        let response = error.into_response();
        if changes_state(&self.method) {
            self.record(caller, Outcome::of(&response), input).await;
        }
        response
    }

    /// One audit entry: caller, endpoint, status, code, and the input's
    /// size and digest (never the input: a refused request must not grow
    /// the registry by more than a few hundred bytes).
    async fn record(&self, caller: &Caller, outcome: Outcome, input: Option<&[u8]>) {
        let mut detail = json!({
            "method": self.method.as_str(),
            "endpoint": self.endpoint,
            "status": outcome.status,
            "code": outcome.code,
            // An authenticated caller is named by the entry's "by".
            "caller": match caller {
                Caller::Anonymous(_) => {
                    let mut who = caller.describe();
                    if let Some(serial) = &self.peer {
                        who["certificate"] = json!(serial);
                    }
                    who
                }
                Caller::Operator(_) => serde_json::Value::Null,
            },
            "input": input.map(|b| json!({
                "bytes": b.len(),
                "sha256": hex::encode(MessageDigest::of(HashAlgorithm::Sha256, b).as_bytes()),
            })),
        });
        if let Some(reason) = outcome.reason {
            detail["reason"] = json!(reason);
        }
        let write = self.edge.service.audit(AuditKind::RequestRefused, detail);
        let result = match caller {
            Caller::Operator(a) => acting_as(a.clone(), write).await,
            Caller::Anonymous(_) => write.await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot record a refused request in the audit log");
        }
    }
}
