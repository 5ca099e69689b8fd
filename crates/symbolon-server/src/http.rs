//! The HTTP front (docs/design.md §4): thin handlers that decode, call the service
//! and render JSON. Errors are `{"error": {"code", "message"}}`: 4xx when the
//! request is at fault, 5xx (with the cause in the log, not the body) when
//! the service is.

use std::sync::Arc;
use symbolon::Code;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use symbolon::ca::CertifyRequest;
use symbolon::keys::{Fingerprint, IdentityPublicKey, RsaPublicKey};
use symbolon::pem;
use symbolon::token::{Attestation, TokenSerial};
use symbolon_store::{CertificateSerial, ReservationId, StoreError};

use crate::gate::{gate, Caller, Edge};
use crate::{CaService, ServiceError};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The OpenAPI document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
}

/// Longest error message: a message quoting its input is cut, so an answer
/// never echoes an oversized request back.
const MAX_MESSAGE: usize = 512;

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        Self { code, message }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        // The status comes from the code; a failure of the service itself
        // (its database, its token) is a 500 whatever its code, with the
        // cause in the log, not the body.
        if e.is_client_error() && e.code().is_client_error() {
            return Self::new(e.code(), e.to_string());
        }
        tracing::error!(code = %e.code(), error = %e, "request failed inside the service");
        Self::new(Code::Internal, "the service failed; see its log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (
            status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response();
        // For the gate's audit of refusals.
        r.extensions_mut().insert(self.code);
        r
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn body<T: DeserializeOwned>(raw: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = raw.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                Code::PayloadTooLarge,
                format!("request bodies are limited to {MAX_BODY} bytes"),
            )
        } else {
            ApiError::new(Code::InvalidBody, r.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::new(Code::InvalidJson, e.to_string()))
}

pub(crate) fn bad(code: Code, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// A JSON API issuance came back without its signed response (only EST,
/// CMP and ACME issuances have none): a fault of the service, never sent.
pub(crate) fn unsigned_response() -> ApiError {
    ApiError::new(
        Code::Internal,
        "the certificate was issued without its signed response",
    )
}

/// Longest identity (an RFC 4514 string): each attribute has its RFC 5280
/// upper bound, checked when it is parsed; this bounds the whole.
pub(crate) const MAX_IDENTITY: usize = 1024;

/// Longest free text (reasons).
pub(crate) const MAX_REASON: usize = 1024;

/// Refuses a field over its bound, before anything is stored or logged.
pub(crate) fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(bad(
            Code::FieldTooLong,
            format!("{field}: at most {max} bytes (got {})", value.len()),
        ));
    }
    Ok(())
}

/// The router: every endpoint behind the gate (authentication, the
/// authorization table, rate limits, JSON only, bounded bodies).
pub fn router(edge: Arc<Edge>) -> Router {
    let service = Arc::clone(&edge.service);
    Router::new()
        .route("/v1/certify", post(certify))
        .route("/v1/reservations", post(reserve))
        .route("/v1/reservations/{id}/abandon", post(abandon))
        .route("/v1/tokens", post(register_token))
        .route("/v1/certificates/{serial}", get(certificate))
        .route("/v1/certificates/{serial}/delivery", post(delivery))
        .route("/v1/ca/certificate", get(ca_certificate))
        .route("/v1/keys/{fingerprint}", get(key))
        .route("/v1/audit", get(audit))
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .merge(crate::http_recovery::routes())
        .merge(crate::http_joint::routes())
        .merge(crate::http_admin::routes())
        .merge(crate::http_vetting::routes())
        .merge(crate::http_revocation::routes())
        .merge(crate::http_log::routes())
        .merge(crate::http_est::routes())
        .merge(crate::http_cmp::routes())
        .merge(crate::http_acme::routes())
        .route_layer(axum::middleware::from_fn_with_state(edge, gate))
        .fallback(|| async {
            ApiError::new(Code::NotFound, "no such endpoint; see /v1/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                Code::MethodNotAllowed,
                "method not allowed on this endpoint",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(service)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertifyBody {
    csr: String,
    identity: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    reservation: Option<String>,
    #[serde(default)]
    attestation: Option<Value>,
}

async fn certify(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: CertifyBody = body(raw)?;
    bounded("identity", &b.identity, MAX_IDENTITY)?;
    let (_, csr) = pem::decode(
        b.csr.as_bytes(),
        &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
    )
    .map_err(|e| bad(Code::InvalidRequest, format!("csr: {e}")))?;
    let role = b
        .role
        .as_deref()
        .unwrap_or("client")
        .parse()
        .map_err(|e: symbolon::x509::X509Error| bad(Code::InvalidRequest, e.to_string()))?;
    let nonce = match b.nonce {
        Some(n) => B64
            .decode(n)
            .map_err(|e| bad(Code::InvalidRequest, format!("nonce: {e}")))?,
        None => Vec::new(),
    };
    if nonce.len() > 64 {
        return Err(bad(Code::InvalidRequest, "nonce: at most 64 bytes"));
    }
    let reservation = b
        .reservation
        .map(|r| r.parse::<ReservationId>())
        .transpose()
        .map_err(|e| bad(Code::InvalidRequest, e.to_string()))?;
    let attestation = b
        .attestation
        .map(|v| Attestation::from_json(&v.to_string()))
        .transpose()
        .map_err(|e| bad(Code::BadAttestation, e.to_string()))?;
    let request = CertifyRequest {
        csr,
        form: symbolon::ca::RequestForm::Pkcs10,
        identity: b.identity,
        role,
        attestation,
        domain_validated: false,
    };
    let certified = s
        .certify(request, nonce, reservation, caller.actor()?)
        .await?;
    let mut body = certified
        .response
        .ok_or_else(unsigned_response)?
        .to_json(certified.serial.as_str())
        .map_err(ServiceError::from)?;
    // Beside the signed response: what vouched for the subject and the device.
    body["authority"] = json!(certified.authority);
    body["device"] = json!(certified.device);
    Ok((StatusCode::OK, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReserveBody {
    public_key: String,
}

async fn reserve(State(s): State<Arc<CaService>>, raw: Result<Bytes, BytesRejection>) -> ApiResult {
    let b: ReserveBody = body(raw)?;
    let (id, fingerprint) = s.reserve_public_key(b.public_key.as_bytes()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "reservation": id, "fingerprint": fingerprint })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AbandonBody {
    reason: String,
}

async fn abandon(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: AbandonBody = body(raw)?;
    bounded("reason", &b.reason, MAX_REASON)?;
    let id: ReservationId = id.parse().map_err(ServiceError::from)?;
    let fp = s.abandon(&id, &b.reason, caller.actor()?).await?;
    Ok(Json(json!({ "reservation": id, "fingerprint": fp, "state": "abandoned" })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    serial: String,
    device_key: String,
    #[serde(default)]
    transport_key: Option<String>,
    /// The device key's certificate and its intermediates, PEM.
    #[serde(default)]
    device_chain: Option<String>,
}

async fn register_token(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: TokenBody = body(raw)?;
    let serial: TokenSerial = b
        .serial
        .parse()
        .map_err(|e: symbolon::token::TokenError| bad(Code::InvalidRequest, e.to_string()))?;
    let key = IdentityPublicKey::from_pem_or_der(b.device_key.as_bytes())
        .map_err(|e| bad(Code::InvalidRequest, e.to_string()))?;
    let transport = b
        .transport_key
        .map(|t| RsaPublicKey::from_pem_or_der(t.as_bytes()))
        .transpose()
        .map_err(|e| bad(Code::InvalidRequest, format!("transport_key: {e}")))?;
    let chain = b
        .device_chain
        .map(|pem_text| {
            symbolon::pem::decode_all(pem_text.as_bytes(), "CERTIFICATE")
                .map_err(|e| bad(Code::InvalidCertificate, format!("device_chain: {e}")))
        })
        .transpose()?;
    let evidence = s
        .register_token(
            serial,
            &key,
            transport.as_ref(),
            chain.as_deref(),
            caller.actor()?,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": serial, "device_key": key.fingerprint(), "evidence": evidence })),
    )
        .into_response())
}

async fn certificate(State(s): State<Arc<CaService>>, Path(serial): Path<String>) -> ApiResult {
    let serial: CertificateSerial = serial.parse().map_err(ServiceError::from)?;
    let rec = s
        .registry()
        .certificate(&serial)
        .await
        .map_err(ServiceError::from)?;
    let mut v = serde_json::to_value(&rec).map_err(|e| ServiceError::Setup(e.to_string()))?;
    v["certificate"] = pem::encode("CERTIFICATE", &rec.der).into();
    let revocation = s
        .registry()
        .status(&serial)
        .await
        .map_err(ServiceError::from)?
        .and_then(|st| st.revocation)
        .filter(symbolon_store::RevocationRecord::in_force);
    v["status"] = match &revocation {
        Some(r) if r.reason.is_final() => "revoked",
        Some(_) => "on-hold",
        None if rec.not_after <= crate::service::now() => "expired",
        None => "good",
    }
    .into();
    v["revocation"] = json!(revocation);
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryBody {
    #[serde(default)]
    token: Option<String>,
    delivered: bool,
    #[serde(default)]
    reason: Option<String>,
}

async fn delivery(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(serial): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: DeliveryBody = body(raw)?;
    if let Some(r) = &b.reason {
        bounded("reason", r, MAX_REASON)?;
    }
    let serial: CertificateSerial = serial.parse().map_err(ServiceError::from)?;
    let token = b
        .token
        .map(|t| t.parse::<TokenSerial>())
        .transpose()
        .map_err(|e| bad(Code::InvalidRequest, e.to_string()))?;
    let failure = if b.delivered {
        None
    } else {
        Some(b.reason.as_deref().unwrap_or("not delivered"))
    };
    s.record_delivery(&serial, token, failure, caller.actor()?)
        .await?;
    Ok(Json(json!({ "serial": serial, "recorded": true })).into_response())
}

async fn ca_certificate(State(s): State<Arc<CaService>>) -> ApiResult {
    let chain: Vec<String> = s
        .chain()
        .iter()
        .map(|c| pem::encode("CERTIFICATE", c))
        .collect();
    // The service starts only with a chain (CaService::open refuses an
    // empty one), so first and last exist.
    Ok(
        Json(json!({ "certificate": chain.first(), "root": chain.last(), "chain": chain }))
            .into_response(),
    )
}

async fn key(State(s): State<Arc<CaService>>, Path(fp): Path<String>) -> ApiResult {
    let fp: Fingerprint = fp
        .parse()
        .map_err(|e: symbolon::keys::KeyError| bad(Code::InvalidRequest, e.to_string()))?;
    let rec = s.registry().key(&fp).await.map_err(ServiceError::from)?;
    Ok(Json(rec).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

async fn audit(
    State(s): State<Arc<CaService>>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| bad(Code::InvalidRequest, e.body_text()))?;
    let limit = q.limit.clamp(1, 1000);
    let entries = s
        .registry()
        .audit_entries(q.after, limit)
        .await
        .map_err(ServiceError::from)?;
    // Each entry as the log holds it (its hash recomputes from it), and
    // `opened`: its detail with the committed fields in the clear.
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        let opened = e.opened_detail().map_err(|x| {
            ServiceError::from(StoreError::Corrupt(format!("entry {}: {x}", e.seq)))
        })?;
        let mut v = serde_json::to_value(e).map_err(|x| {
            ServiceError::from(StoreError::Corrupt(format!("entry {}: {x}", e.seq)))
        })?;
        v["opened"] = Value::String(opened.to_string());
        out.push(v);
    }
    Ok(Json(json!({ "entries": out })).into_response())
}

async fn health(State(s): State<Arc<CaService>>) -> ApiResult {
    match s.registry().audit_entries(0, 1).await {
        Ok(_) => Ok(Json(json!({ "status": "ok", "database": "ok" })).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response())
        }
    }
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}
