//! The joint-key mailbox endpoints (`/v1/joint/messages`): thin handlers
//! over [`crate::joint_mailbox`]. Bodies are the chain files themselves.

use std::sync::Arc;
use symbolon::Code;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;
use symbolon::joint::{ChainId, ChainMessage, ChainStatus};

use crate::gate::Caller;
use crate::http::{bad, ApiResult};
use crate::{CaService, ServiceError};

/// The routes.
pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/joint/messages", post(post_message))
        .route("/v1/joint/messages/{id}", get(message).put(extend))
}

fn parse(raw: Result<Bytes, BytesRejection>) -> Result<ChainMessage, crate::http::ApiError> {
    let bytes = raw.map_err(|r| bad(Code::InvalidBody, r.body_text()))?;
    ChainMessage::parse(&bytes).map_err(|e| bad(e.code(), e.to_string()))
}

fn id(raw: &str) -> Result<ChainId, crate::http::ApiError> {
    raw.parse()
        .map_err(|_| bad(Code::InvalidRequest, "a chain id is 32 hex digits"))
}

async fn post_message(
    State(s): State<Arc<CaService>>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let message = parse(raw)?;
    let id = s.post_joint_chain(&message).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn message(State(s): State<Arc<CaService>>, Path(raw): Path<String>) -> ApiResult {
    let message = s.joint_chain(&id(&raw)?).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        message.to_json().map_err(ServiceError::Joint)?,
    )
        .into_response())
}

async fn extend(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(raw): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let id = id(&raw)?;
    let message = parse(body)?;
    let status = s.extend_joint_chain(&id, &message, caller.actor()?).await?;
    let next = match &status {
        ChainStatus::Awaiting(i) => Some(message.parties()[*i].to_string()),
        _ => None,
    };
    Ok(Json(json!({ "id": id, "state": status.name(), "next": next })).into_response())
}
