//! Enrollment and administration endpoints (`/v1/enroll`, `/v1/admin/…`):
//! thin handlers over [`crate::credentials`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use symbolon::access::{EnrollmentCode, PartyName, Role};
use symbolon::{pem, Code};
use symbolon_store::CertificateSerial;

use crate::gate::Caller;
use crate::http::{bad, body, ApiResult};
use crate::{CaService, ServiceError};

/// The routes.
pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/enroll", post(enroll))
        .route("/v1/admin/grants", post(grant))
        .route("/v1/admin/credentials", get(list))
        .route("/v1/admin/credentials/{serial}/revoke", post(revoke))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollBody {
    code: String,
    csr: String,
}

async fn enroll(State(s): State<Arc<CaService>>, raw: Result<Bytes, BytesRejection>) -> ApiResult {
    let b: EnrollBody = body(raw)?;
    let code =
        EnrollmentCode::parse(&b.code).map_err(|e| ServiceError::unauthenticated(e.to_string()))?;
    let (_, csr) = pem::decode(
        b.csr.as_bytes(),
        &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
    )
    .map_err(|e| bad(Code::InvalidRequest, format!("csr: {e}")))?;
    let issued = s.enroll(&code, &csr).await?;
    let chain: Vec<String> = s
        .chain()
        .iter()
        .map(|c| pem::encode("CERTIFICATE", c))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "serial": issued.serial,
            "certificate": pem::encode("CERTIFICATE", &issued.certificate),
            "chain": chain,
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    role: String,
    name: String,
}

async fn grant(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: GrantBody = body(raw)?;
    let role: Role = b
        .role
        .parse()
        .map_err(|e: symbolon::access::AccessError| bad(Code::InvalidRequest, e.to_string()))?;
    let name: PartyName = b
        .name
        .parse()
        .map_err(|e: symbolon::access::AccessError| bad(Code::InvalidRequest, e.to_string()))?;
    let (code, expires_at) = s.grant(role, &name, caller.actor()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "role": role, "name": name,
            "code": code.reveal().as_str(),
            "expires_at": expires_at,
        })),
    )
        .into_response())
}

async fn list(State(s): State<Arc<CaService>>) -> ApiResult {
    let all = s
        .registry()
        .credentials()
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(json!({ "credentials": all })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {}

async fn revoke(
    State(s): State<Arc<CaService>>,
    Path(serial): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let _: RevokeBody = body(raw)?;
    let serial: CertificateSerial = serial.parse().map_err(ServiceError::from)?;
    s.revoke_credential(&serial).await?;
    Ok(Json(json!({ "serial": serial, "state": "revoked" })).into_response())
}
