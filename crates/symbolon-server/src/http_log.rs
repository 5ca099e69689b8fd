//! The transparency log's endpoints (docs/transparency.md §8): anyone
//! fetches the signed checkpoint (optionally one k witnesses cosigned), the
//! log key, the witnesses and inclusion and consistency proofs (hashes
//! only); entries, which name parties, and a key's evidence bundle are for
//! auditors and admins (and registration officers, for bundles); admins
//! register witnesses; registered witnesses send cosignatures. Thin
//! handlers over [`crate::transparency`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use symbolon::keys::Fingerprint;
use symbolon::Code;

use crate::http::{bad, body, bounded, ApiResult};
use crate::CaService;

const TEXT: &str = "text/plain; charset=utf-8";

/// The routes.
pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/key", get(key))
        .route("/v1/log/witnesses", get(witnesses).post(add_witness))
        .route("/v1/log/witnesses/{name}/remove", post(remove_witness))
        .route("/v1/log/cosignatures", post(cosign))
        .route("/v1/log/proof/inclusion", get(inclusion))
        .route("/v1/log/proof/consistency", get(consistency))
        .route("/v1/log/entries/{seq}", get(entry))
        .route("/v1/keys/{fingerprint}/evidence", get(evidence))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointQuery {
    #[serde(default)]
    witnesses: Option<u32>,
    /// Comma-separated witness names: count only these.
    #[serde(default)]
    by: Option<String>,
}

async fn checkpoint(
    State(s): State<Arc<CaService>>,
    q: Result<Query<CheckpointQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| {
        bad(
            Code::InvalidRequest,
            format!(
                "{} (expected nothing, or ?witnesses=K[&by=NAME,NAME…])",
                e.body_text()
            ),
        )
    })?;
    if let Some(by) = &q.by {
        bounded("by", by, 16 * 1024)?;
    }
    let by: Option<Vec<&str>> = q.by.as_deref().map(|b| b.split(',').collect());
    let note = match (q.witnesses, by) {
        (None, None) => s.checkpoint().await?,
        (None, Some(_)) => return Err(bad(Code::InvalidRequest, "by needs witnesses=K")),
        (Some(k), by) => s.witnessed_checkpoint(k, by.as_deref()).await?,
    };
    Ok(([(CONTENT_TYPE, TEXT), (CACHE_CONTROL, "no-cache")], note).into_response())
}

async fn witnesses(State(s): State<Arc<CaService>>) -> ApiResult {
    let list: Vec<_> = s
        .registry()
        .witnesses()
        .await
        .map_err(crate::ServiceError::from)?
        .into_iter()
        .map(|w| json!({ "name": w.name, "key": w.vkey, "added_at": w.added_at }))
        .collect();
    Ok(Json(json!({ "witnesses": list })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessBody {
    key: String,
}

async fn add_witness(
    State(s): State<Arc<CaService>>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: WitnessBody = body(raw)?;
    bounded("key", &b.key, 512)?;
    let key = s.add_witness(&b.key).await?;
    Ok(Json(json!({ "witness": key.name(), "key": key.to_string() })).into_response())
}

async fn remove_witness(State(s): State<Arc<CaService>>, Path(name): Path<String>) -> ApiResult {
    bounded("name", &name, 512)?;
    s.remove_witness(&name).await?;
    Ok(Json(json!({ "witness": name, "removed": true })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosignBody {
    size: u64,
    signature: String,
}

async fn cosign(State(s): State<Arc<CaService>>, raw: Result<Bytes, BytesRejection>) -> ApiResult {
    let b: CosignBody = body(raw)?;
    bounded("signature", &b.signature, 1024)?;
    let (witness, new) = s.cosign(b.size, &b.signature).await?;
    // `kept`: whether this line is the one kept; a witness's first
    // cosignature of a size stays.
    Ok(Json(json!({ "witness": witness, "size": b.size, "kept": new })).into_response())
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

async fn evidence(State(s): State<Arc<CaService>>, Path(fp): Path<String>) -> ApiResult {
    let fp: Fingerprint = fp
        .parse()
        .map_err(|e: symbolon::keys::KeyError| bad(Code::InvalidInput, e.to_string()))?;
    Ok(Json(s.evidence(&fp).await?).into_response())
}
