//! Revocation endpoints (docs/revocation.md): operators revoke, hold and
//! release (`/v1/certificates/{serial}/revoke|release`), revoke a device's
//! certificates (`/v1/tokens/{serial}/revoke|tampered`) and list
//! certificates by status; subscribers revoke their own
//! (`/v1/revocations/self`); anyone reads the CRL (`/v1/crl`), asks the OCSP
//! responder (`/v1/ocsp`) and fetches the CA certificate as DER. Thin
//! handlers over [`crate::revocation`] and [`crate::ocsp`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use symbolon::revocation::ocsp::{error_response, ResponseStatus};
use symbolon::revocation::{RevocationReason, SelfRevocation};
use symbolon::token::TokenSerial;
use symbolon::Code;
use symbolon_store::{CertificateSerial, CertificateStatus};

use crate::gate::Caller;
use crate::http::{bad, body, ApiResult};
use crate::{CaService, ServiceError};

/// Largest OCSP request taken (one asks about up to 16 certificates in a
/// few hundred bytes).
const MAX_OCSP_REQUEST: usize = 8 * 1024;

/// The routes.
pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/certificates", get(list))
        .route("/v1/certificates/{serial}/revoke", post(revoke))
        .route("/v1/certificates/{serial}/release", post(release))
        .route("/v1/revocations/self", post(revoke_self))
        .route("/v1/renewals", post(renew))
        .route("/v1/tokens/{serial}/revoke", post(revoke_token))
        .route("/v1/tokens/{serial}/tampered", post(tampered))
        .route("/v1/crl", get(crl))
        .route("/v1/crl/delta", get(delta_crl))
        .route("/v1/ocsp", post(ocsp_post))
        .route("/v1/ocsp/{*request}", get(ocsp_get))
        .route("/v1/ca/certificate.der", get(ca_der))
}

fn serial(s: &str) -> Result<CertificateSerial, crate::http::ApiError> {
    s.parse()
        .map_err(|e: symbolon_store::StoreError| ServiceError::from(e).into())
}

fn reason(s: &str) -> Result<RevocationReason, crate::http::ApiError> {
    s.parse()
        .map_err(|e: symbolon::revocation::RevocationError| bad(Code::InvalidInput, e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
    #[serde(default)]
    invalid_since: Option<i64>,
}

async fn revoke(
    State(s): State<Arc<CaService>>,
    Path(serial_text): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let serial = serial(&serial_text)?;
    let b: RevokeBody = body(raw)?;
    let reason = reason(&b.reason)?;
    s.revoke(&serial, reason, b.invalid_since).await?;
    Ok(Json(json!({ "serial": serial, "reason": reason, "revoked": true })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

async fn release(
    State(s): State<Arc<CaService>>,
    Path(serial_text): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let serial = serial(&serial_text)?;
    let _: Empty = body(raw)?;
    s.release(&serial).await?;
    Ok(Json(json!({ "serial": serial, "released": true })).into_response())
}

async fn revoke_self(
    State(s): State<Arc<CaService>>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let statement: SelfRevocation = body(raw)?;
    crate::http::bounded("serial", &statement.serial, 40)?;
    crate::http::bounded("signature", &statement.signature, 2048)?;
    s.revoke_self(&statement).await?;
    Ok(
        Json(json!({ "serial": statement.serial, "reason": statement.reason, "revoked": true }))
            .into_response(),
    )
}

fn token_serial(s: &str) -> Result<TokenSerial, crate::http::ApiError> {
    s.parse()
        .map_err(|e: symbolon::token::TokenError| bad(Code::InvalidInput, e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRevokeBody {
    reason: String,
}

async fn revoke_token(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(token): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let token = token_serial(&token)?;
    let b: TokenRevokeBody = body(raw)?;
    let reason = reason(&b.reason)?;
    let by = caller.actor()?;
    let n = s.revoke_token(token, reason, false, by).await?;
    Ok(Json(json!({ "token": token, "reason": reason, "revoked": n })).into_response())
}

async fn tampered(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(token): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let token = token_serial(&token)?;
    let _: Empty = body(raw)?;
    let by = caller.actor()?;
    let n = s
        .revoke_token(token, RevocationReason::KeyCompromise, true, by)
        .await?;
    Ok(
        Json(json!({ "token": token, "reason": RevocationReason::KeyCompromise, "revoked": n }))
            .into_response(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    expiring_within: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

async fn list(
    State(s): State<Arc<CaService>>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| bad(Code::InvalidRequest, e.body_text()))?;
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(t) => Some(
            t.parse::<CertificateStatus>()
                .map_err(|e| bad(Code::InvalidRequest, e.to_string()))?,
        ),
    };
    if q.expiring_within
        .is_some_and(|w| !(1..=10 * 366 * 86_400).contains(&w))
    {
        return Err(bad(
            Code::InvalidRequest,
            "expiring_within: seconds, 1 to ten years",
        ));
    }
    let all = s
        .registry()
        .certificates(
            status,
            q.expiring_within,
            q.limit.unwrap_or(100).clamp(1, 10_000),
        )
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(json!({ "certificates": all })).into_response())
}

/// An unsuccessful OCSP response (unsigned), as OCSP clients read them.
fn ocsp_error(status: ResponseStatus) -> Response {
    der_response("application/ocsp-response", error_response(status))
}

fn der_response(content_type: &'static str, der: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, content_type)], der).into_response()
}

async fn crl(State(s): State<Arc<CaService>>) -> ApiResult {
    let der = s.crl().await?;
    Ok(der_response("application/pkix-crl", der))
}

async fn delta_crl(State(s): State<Arc<CaService>>) -> ApiResult {
    let der = s.delta_crl().await?;
    Ok(der_response("application/pkix-crl", der))
}

async fn ca_der(State(s): State<Arc<CaService>>) -> ApiResult {
    let der = s
        .chain()
        .first()
        .cloned()
        .ok_or_else(|| bad(Code::Internal, "the CA chain is empty"))?;
    Ok(der_response("application/pkix-cert", der))
}

/// An OCSP answer: a failure of the service is OCSP's internalError, not
/// JSON (clients read only OCSP here).
async fn answer(s: &CaService, request: &[u8]) -> Response {
    let der = if request.len() > MAX_OCSP_REQUEST {
        error_response(ResponseStatus::MalformedRequest)
    } else {
        match s.ocsp(request).await {
            Ok(der) => der,
            Err(e) => {
                tracing::error!(error = %e, "the OCSP responder failed");
                error_response(ResponseStatus::InternalError)
            }
        }
    };
    let mut r = der_response("application/ocsp-response", der);
    if let Ok(v) = "max-age=60, public, no-transform, must-revalidate".parse() {
        r.headers_mut().insert(CACHE_CONTROL, v);
    }
    r
}

async fn ocsp_post(
    State(s): State<Arc<CaService>>,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    match raw {
        Ok(bytes) => answer(&s, &bytes).await,
        Err(_) => ocsp_error(ResponseStatus::MalformedRequest),
    }
}

async fn ocsp_get(
    State(s): State<Arc<CaService>>,
    request: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    // A path that does not decode (not UTF-8 once unescaped) is a
    // malformed request, answered in OCSP like every other.
    let Ok(Path(request)) = request else {
        return ocsp_error(ResponseStatus::MalformedRequest);
    };
    match get_request_der(&request) {
        Some(der) => answer(&s, &der).await,
        None => ocsp_error(ResponseStatus::MalformedRequest),
    }
}

/// The DER of a GET request's path (RFC 6960 appendix A.1: base64, then
/// URL-encoded; axum decoded the percent-escapes). The URL-safe alphabet
/// is taken too, and one trailing slash — but only when the path does not
/// decode as it is: `/` is a base64 digit, and a request whose encoding
/// ends in one must not lose it.
fn get_request_der(path: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let decode = |t: &str| {
        STANDARD
            .decode(t)
            .or_else(|_| URL_SAFE.decode(t))
            .or_else(|_| URL_SAFE_NO_PAD.decode(t))
            .ok()
    };
    decode(path).or_else(|| path.strip_suffix('/').and_then(decode))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewBody {
    csr: String,
    nonce: String,
    old_serial: String,
    signed_at: i64,
    signature: String,
    #[serde(default)]
    attestation: Option<serde_json::Value>,
}

async fn renew(State(s): State<Arc<CaService>>, raw: Result<Bytes, BytesRejection>) -> ApiResult {
    let b: RenewBody = body(raw)?;
    crate::http::bounded("old_serial", &b.old_serial, 40)?;
    crate::http::bounded("signature", &b.signature, 2048)?;
    let (_, csr) = symbolon::pem::decode(b.csr.as_bytes(), &["CERTIFICATE REQUEST"])
        .map_err(|e| bad(Code::InvalidRequest, format!("csr: {e}")))?;
    let nonce = base64::engine::general_purpose::STANDARD
        .decode(&b.nonce)
        .map_err(|e| bad(Code::InvalidRequest, format!("nonce: {e}")))?;
    if nonce.is_empty() || nonce.len() > 64 {
        return Err(bad(Code::InvalidRequest, "nonce: 1 to 64 bytes"));
    }
    let attestation = b
        .attestation
        .map(|v| symbolon::token::Attestation::from_json(&v.to_string()))
        .transpose()
        .map_err(|e| bad(Code::BadAttestation, e.to_string()))?;
    let certified = s
        .renew(crate::renewal::RenewalRequest {
            form: symbolon::ca::RequestForm::Pkcs10,
            csr,
            attestation,
            nonce,
            authorization: crate::renewal::RenewalProof::Signed(
                symbolon::revocation::RenewalAuthorization {
                    old_serial: b.old_serial,
                    signed_at: b.signed_at,
                    signature: b.signature,
                },
            ),
            delivered_with_answer: false,
        })
        .await?;
    let mut out = certified
        .response
        .ok_or_else(crate::http::unsigned_response)?
        .to_json(certified.serial.as_str())
        .map_err(ServiceError::from)?;
    out["authority"] = json!(certified.authority);
    out["device"] = json!(certified.device);
    Ok(Json(out).into_response())
}

#[cfg(test)]
mod tests {
    use super::get_request_der;

    #[test]
    fn a_get_request_whose_base64_ends_in_a_slash_keeps_it() {
        // 0xff 0xff 0xff encodes as "////": every character a base64 digit.
        assert_eq!(get_request_der("////"), Some(vec![0xff; 3]));
        assert_eq!(get_request_der("AAD/"), Some(vec![0x00, 0x00, 0xff]));
        // One trailing slash after the encoding is the URL's, not the
        // request's.
        assert_eq!(get_request_der("/////"), Some(vec![0xff; 3]));
        assert_eq!(get_request_der("AAD//"), Some(vec![0x00, 0x00, 0xff]));
        // The URL-safe alphabet, with or without padding.
        assert_eq!(get_request_der("___-"), Some(vec![0xff, 0xff, 0xfe]));
        assert_eq!(get_request_der("not base64!"), None);
    }
}
