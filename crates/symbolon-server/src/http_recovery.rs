//! The escrow and recovery endpoints (`/v1/arbitrators`, `/v1/escrows`,
//! `/v1/recovery`): thin handlers over `CaService`'s recovery methods.
//! Binary values travel base64; keys as PEM.

use std::collections::BTreeMap;
use std::sync::Arc;
use symbolon::Code;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use symbolon::escrow::{
    Approval, ArbitratorId, ArbitratorPublic, EscrowDeposit, EscrowId, RecoveryId,
};
use symbolon::keys::{Fingerprint, IdentityPublicKey};
use symbolon::token::{SlotName, TokenSerial};

use crate::gate::Caller;
use crate::http::{bad, body, bounded, ApiResult, MAX_REASON};
use crate::{CaService, ServiceError};

/// Deposits carry one envelope per arbitrator: room for policies of a few
/// hundred arbitrators.
const MAX_DEPOSIT: usize = 1024 * 1024;

/// The routes.
pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/arbitrators", post(register_arbitrator))
        .route("/v1/arbitrators/{id}", get(arbitrator))
        .route(
            "/v1/escrows",
            post(deposit).layer(DefaultBodyLimit::max(MAX_DEPOSIT)),
        )
        .route("/v1/escrows/{id}", get(escrow))
        .route("/v1/escrows/{id}/shares/{arbitrator}", get(share))
        .route("/v1/recovery", post(request))
        .route("/v1/recovery/enclave", get(enclave))
        .route("/v1/recovery/{id}", get(status))
        .route("/v1/recovery/{id}/approvals", post(approve))
        .route("/v1/recovery/{id}/complete", post(complete))
}

fn b64(field: &str, v: &str) -> Result<Vec<u8>, crate::http::ApiError> {
    B64.decode(v)
        .map_err(|e| bad(Code::InvalidRequest, format!("{field}: {e}")))
}

fn parse<T: std::str::FromStr>(field: &str, v: &str) -> Result<T, crate::http::ApiError>
where
    T::Err: std::fmt::Display,
{
    v.parse()
        .map_err(|e: T::Err| bad(Code::InvalidRequest, format!("{field}: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArbitratorBody {
    id: String,
    share_recipient: String,
    approval_key: String,
}

async fn register_arbitrator(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: ArbitratorBody = body(raw)?;
    let a = ArbitratorPublic {
        id: parse("id", &b.id)?,
        share_recipient: b.share_recipient,
        approval_key: IdentityPublicKey::from_pem_or_der(b.approval_key.as_bytes())
            .map_err(|e| bad(Code::InvalidRequest, format!("approval_key: {e}")))?,
    };
    bounded("share_recipient", &a.share_recipient, 1024)?;
    s.register_arbitrator(&a, caller.actor()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "arbitrator": a.id, "approval_key": a.approval_key.fingerprint() })),
    )
        .into_response())
}

async fn arbitrator(State(s): State<Arc<CaService>>, Path(id): Path<String>) -> ApiResult {
    let a = s.arbitrator(&parse::<ArbitratorId>("id", &id)?).await?;
    Ok(Json(json!({
        "id": a.id,
        "share_recipient": a.share_recipient,
        "approval_key": a.approval_key.to_pem(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositBody {
    record: String,
    envelopes: BTreeMap<String, String>,
}

async fn deposit(State(s): State<Arc<CaService>>, raw: Result<Bytes, BytesRejection>) -> ApiResult {
    let b: DepositBody = body(raw)?;
    let d = EscrowDeposit::decode(&b64("record", &b.record)?)
        .map_err(|e| bad(Code::InvalidRequest, e.to_string()))?;
    let envelopes = b
        .envelopes
        .iter()
        .map(|(a, e)| Ok((parse::<ArbitratorId>("envelopes", a)?, b64("envelopes", e)?)))
        .collect::<Result<Vec<_>, crate::http::ApiError>>()?;
    s.deposit(&d, envelopes).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "escrow": d.id.to_string(), "key": d.fingerprint() })),
    )
        .into_response())
}

async fn escrow(State(s): State<Arc<CaService>>, Path(id): Path<String>) -> ApiResult {
    let d = s.escrow(&parse::<EscrowId>("id", &id)?).await?;
    Ok(Json(json!({
        "escrow": d.id.to_string(),
        "key": d.fingerprint(),
        "policy": d.policy,
        "bound_token": d.bound_token,
        "bound_device": d.bound_device,
        "record": B64.encode(d.encode()),
    }))
    .into_response())
}

async fn share(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path((id, arbitrator)): Path<(String, String)>,
) -> ApiResult {
    let e = s
        .envelope(
            &parse::<EscrowId>("id", &id)?,
            &parse::<ArbitratorId>("arbitrator", &arbitrator)?,
            caller.actor()?,
        )
        .await?;
    Ok(Json(json!({ "envelope": B64.encode(e) })).into_response())
}

async fn enclave(State(s): State<Arc<CaService>>) -> ApiResult {
    let st = s.enclave_statement();
    Ok(Json(json!({
        "enclave_key": st.enclave_key.to_pem(),
        "enclave_algorithm": st.enclave_key.algorithm().name(),
        "enclave_fingerprint": st.enclave_key.fingerprint(),
        "issuer_key": st.issuer_key.to_pem(),
        "issuer_fingerprint": st.issuer_key.fingerprint(),
        "chain": st.chain.iter().map(|c| symbolon::pem::encode("CERTIFICATE", c)).collect::<Vec<_>>(),
        "signature": B64.encode(&st.signature),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    key: String,
    reason: String,
    target: String,
    slot: String,
}

async fn request(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: RequestBody = body(raw)?;
    bounded("reason", &b.reason, MAX_REASON)?;
    let key: Fingerprint = parse("key", &b.key)?;
    let target: TokenSerial = parse("target", &b.target)?;
    let slot: SlotName = parse("slot", &b.slot)?;
    let r = s
        .request_recovery(&key, &b.reason, target, slot, caller.actor()?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "request": r.id.to_string(), "rebind": r.rebind, "record": B64.encode(r.encode()) })),
    )
        .into_response())
}

async fn status(State(s): State<Arc<CaService>>, Path(id): Path<String>) -> ApiResult {
    let st = s.recovery_status(&parse::<RecoveryId>("id", &id)?).await?;
    let r = &st.request;
    Ok(Json(json!({
        "request": r.id.to_string(),
        "record": B64.encode(r.encode()),
        "escrow": r.escrow.to_string(),
        "key": r.key,
        "reason": r.reason,
        "target": r.target,
        "target_device": r.target_device,
        "slot": r.slot.as_str(),
        "rebind": r.rebind,
        "requester": r.requester,
        "depositor": st.depositor,
        "policy": st.policy.canonical(),
        "tree": st.tree,
        "decisions": st.decisions.iter().enumerate().map(|(i, (a, ok))| json!({
            "position": i + 1, "arbitrator": a, "decision": if *ok { "approve" } else { "refuse" },
        })).collect::<Vec<_>>(),
        "head": hex::encode(st.head),
        "satisfied": st.satisfied,
        "may_act": st.may_act,
        "completed": st.completed,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalBody {
    approval: String,
}

async fn approve(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: ApprovalBody = body(raw)?;
    let a = Approval::decode(&b64("approval", &b.approval)?)
        .map_err(|e| bad(Code::InvalidRequest, e.to_string()))?;
    let position = s
        .add_approval(&parse::<RecoveryId>("id", &id)?, a, caller.actor()?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "position": position + 1 })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    sequence: u64,
}

async fn complete(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: CompleteBody = body(raw)?;
    let o = s
        .complete_recovery(
            &parse::<RecoveryId>("id", &id)?,
            b.sequence,
            caller.actor()?,
        )
        .await?;
    Ok(Json(json!({
        "key": o.key,
        "accept_key": o.accept_key.to_json().map_err(ServiceError::from)?,
        "write_certificate": o.write_certificate.map(|c| c.to_json()).transpose().map_err(ServiceError::from)?,
        "replaced": o.replaced,
    }))
    .into_response())
}
