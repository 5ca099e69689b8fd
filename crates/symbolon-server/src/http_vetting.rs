//! Vetting endpoints (docs/vetting.md): registrations by registration
//! officers (`/v1/ra/registrations…`), stations' name policies and
//! manufacturer roots by admins (`/v1/admin/name-policies/{station}`,
//! `/v1/admin/manufacturer-roots`), and what the CA knows of a device
//! (`/v1/tokens/{serial}`). Thin handlers over [`crate::vetting`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use symbolon::access::{PartyName, Role};
use symbolon::token::TokenSerial;
use symbolon::vetting::{NamePolicyText, RegistrationId};
use symbolon::x509::CertificateRole;
use symbolon::{pem, Code};

use crate::gate::Caller;
use crate::http::{bad, body, bounded, ApiResult, MAX_IDENTITY, MAX_REASON};
use crate::vetting::{RegistrationRequest, DEFAULT_VALIDITY};
use crate::{CaService, ServiceError};

/// The routes.
pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/ra/registrations", post(register).get(list))
        .route("/v1/ra/registrations/{id}", get(show))
        .route("/v1/ra/registrations/{id}/withdraw", post(withdraw))
        .route(
            "/v1/admin/name-policies/{station}",
            get(show_policy).put(set_policy),
        )
        .route(
            "/v1/admin/manufacturer-roots",
            post(trust_manufacturer).get(manufacturer_roots),
        )
        .route("/v1/tokens/{serial}", get(token))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    identity: String,
    roles: Vec<String>,
    evidence: String,
    #[serde(default)]
    alt_names: Vec<String>,
    #[serde(default)]
    valid: Option<String>,
    #[serde(default)]
    uses: Option<u32>,
    #[serde(default)]
    enrollment_code: bool,
}

async fn register(
    State(s): State<Arc<CaService>>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: RegisterBody = body(raw)?;
    bounded("identity", &b.identity, MAX_IDENTITY)?;
    bounded(
        "evidence",
        &b.evidence,
        symbolon::vetting::registration::MAX_EVIDENCE,
    )?;
    if b.roles.len() > 16 || b.alt_names.len() > symbolon::x509::MAX_ALT_NAMES {
        return Err(bad(
            Code::FieldTooLong,
            "at most 16 roles and 100 alternative names",
        ));
    }
    for n in &b.alt_names {
        bounded("alt_names", n, 300)?;
    }
    let roles = b
        .roles
        .iter()
        .map(|r| r.parse::<CertificateRole>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(Code::InvalidInput, format!("roles: {e}")))?;
    let (record, code) = s
        .register_subscriber(RegistrationRequest {
            identity: b.identity,
            roles,
            alt_names: b.alt_names,
            evidence: b.evidence,
            valid: b.valid.unwrap_or_else(|| DEFAULT_VALIDITY.into()),
            uses: b.uses.unwrap_or(1),
            enrollment_code: b.enrollment_code,
        })
        .await?;
    let mut answer = json!(record);
    // Shown this once: the service keeps only its digest.
    if let Some(code) = code {
        answer["code"] = json!(&*code.reveal());
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

async fn list(
    State(s): State<Arc<CaService>>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| bad(Code::InvalidRequest, e.body_text()))?;
    let live_only = match q.state.as_deref() {
        None | Some("live") => true,
        Some("all") => false,
        Some(other) => {
            return Err(bad(
                Code::InvalidRequest,
                format!("state: {other:?}; live or all"),
            ))
        }
    };
    let all = s
        .registry()
        .registrations(live_only, q.limit.unwrap_or(100).clamp(1, 1000))
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(json!({ "registrations": all })).into_response())
}

fn registration_id(id: &str) -> Result<RegistrationId, crate::http::ApiError> {
    id.parse()
        .map_err(|e: symbolon::vetting::VettingError| bad(Code::InvalidInput, e.to_string()))
}

async fn show(State(s): State<Arc<CaService>>, Path(id): Path<String>) -> ApiResult {
    let id = registration_id(&id)?;
    let record = s
        .registry()
        .registration(&id)
        .await
        .map_err(ServiceError::from)?;
    let certificates = s
        .registry()
        .registration_certificates(&id)
        .await
        .map_err(ServiceError::from)?;
    let mut v = json!(record);
    v["certificates"] = json!(certificates);
    Ok(Json(v).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawBody {
    reason: String,
}

async fn withdraw(
    State(s): State<Arc<CaService>>,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: WithdrawBody = body(raw)?;
    bounded("reason", &b.reason, MAX_REASON)?;
    let id = registration_id(&id)?;
    let record = s.withdraw_registration(&id, &b.reason).await?;
    Ok(Json(json!(record)).into_response())
}

fn station_name(station: &str) -> Result<PartyName, crate::http::ApiError> {
    station
        .parse()
        .map_err(|e: symbolon::access::AccessError| bad(Code::InvalidInput, e.to_string()))
}

async fn set_policy(
    State(s): State<Arc<CaService>>,
    Path(station): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: NamePolicyText = body(raw)?;
    for r in b.allow.iter().chain(&b.deny) {
        bounded("rule", r, MAX_IDENTITY)?;
    }
    let station = station_name(&station)?;
    let record = s.set_name_policy(&station, &b).await?;
    Ok(Json(json!(record)).into_response())
}

async fn show_policy(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(station): Path<String>,
) -> ApiResult {
    let station = station_name(&station)?;
    let by = caller.actor()?;
    // A station reads its own policy; admins and auditors read any.
    if by.role == Role::Station && by.name != station {
        return Err(ServiceError::forbidden("a station reads only its own name policy").into());
    }
    let record = s
        .registry()
        .name_policy(station.as_str())
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| {
            bad(
                Code::NotFound,
                format!("station {station} has no name policy"),
            )
        })?;
    Ok(Json(json!(record)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RootBody {
    certificate: String,
}

async fn trust_manufacturer(
    State(s): State<Arc<CaService>>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: RootBody = body(raw)?;
    let (_, der) = pem::decode(b.certificate.as_bytes(), &["CERTIFICATE"])
        .map_err(|e| bad(Code::InvalidCertificate, format!("certificate: {e}")))?;
    let root = s.trust_manufacturer(&der).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "fingerprint": root.fingerprint, "subject": root.subject })),
    )
        .into_response())
}

async fn manufacturer_roots(State(s): State<Arc<CaService>>) -> ApiResult {
    let roots = s
        .registry()
        .manufacturer_roots()
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(json!({ "roots": roots })).into_response())
}

async fn token(State(s): State<Arc<CaService>>, Path(serial): Path<String>) -> ApiResult {
    let serial: TokenSerial = serial
        .parse()
        .map_err(|e: symbolon::token::TokenError| bad(Code::InvalidInput, e.to_string()))?;
    let t = s
        .registry()
        .token(&serial)
        .await
        .map_err(ServiceError::from)?;
    let certificates = s
        .registry()
        .device_certificates(&serial)
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(json!({
        "token": serial,
        "device_key": symbolon::keys::Fingerprint::of_spki(&t.device_key),
        "registered_at": t.registered_at,
        "evidence": crate::vetting::device_evidence(&t),
        "transport_key": t.transport_key.is_some(),
        "replaced_by": t.replaced_by,
        "replaced_at": t.replaced_at,
        "certificates": certificates,
    }))
    .into_response())
}
