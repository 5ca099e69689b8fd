//! The transparency log's endpoints (docs/transparency.md §8): anyone
//! fetches the signed checkpoint, the log key and inclusion and
//! consistency proofs (hashes only); entries, which name parties, are for
//! auditors and admins. Thin handlers over [`crate::transparency`].

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use symbolon::Code;

use crate::http::{bad, ApiResult};
use crate::CaService;

const TEXT: &str = "text/plain; charset=utf-8";

/// The routes.
pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/key", get(key))
        .route("/v1/log/proof/inclusion", get(inclusion))
        .route("/v1/log/proof/consistency", get(consistency))
        .route("/v1/log/entries/{seq}", get(entry))
}

async fn checkpoint(State(s): State<Arc<CaService>>) -> ApiResult {
    let note = s.checkpoint().await?;
    Ok(([(CONTENT_TYPE, TEXT), (CACHE_CONTROL, "no-cache")], note).into_response())
}

async fn key(State(s): State<Arc<CaService>>) -> ApiResult {
    Ok(([(CONTENT_TYPE, TEXT)], format!("{}\n", s.log_key())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    entry: u64,
    size: u64,
}

async fn inclusion(
    State(s): State<Arc<CaService>>,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| {
        bad(
            Code::InvalidRequest,
            format!("{} (expected ?entry=N&size=M)", e.body_text()),
        )
    })?;
    Ok(Json(s.log_inclusion(q.entry, q.size).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    old: u64,
    new: u64,
}

async fn consistency(
    State(s): State<Arc<CaService>>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| {
        bad(
            Code::InvalidRequest,
            format!("{} (expected ?old=N&new=M)", e.body_text()),
        )
    })?;
    Ok(Json(s.log_consistency(q.old, q.new).await?).into_response())
}

async fn entry(State(s): State<Arc<CaService>>, Path(seq): Path<String>) -> ApiResult {
    let seq: i64 = seq
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| bad(Code::InvalidInput, "an entry is a number from 1"))?;
    Ok(Json(s.log_entry(seq).await?).into_response())
}
