//! CMP over HTTP (RFC 6712; docs/cmp.md) at `/.well-known/cmp`, and at
//! `/.well-known/cmp/p/{profile}` where the profile names the certificate
//! role. A DER PKIMessage in, one out, both `application/pkixcmp`; a
//! refusal is a CMP message too (HTTP 200, RFC 6712 §3.3), marked for the
//! gate's audit. The gate has rate-limited and checked the media type; the
//! message's own protection says who sent it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use symbolon::x509::CertificateRole;
use symbolon::Code;

use crate::gate::RefusedInBody;
use crate::http::{bad, ApiResult};
use crate::CaService;

/// `Content-Type` of CMP messages (RFC 6712 §3.4).
pub(crate) const PKIXCMP: &str = "application/pkixcmp";

pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/.well-known/cmp", post(cmp))
        .route("/.well-known/cmp/p/{profile}", post(cmp_at))
}

async fn cmp(State(s): State<Arc<CaService>>, body: Bytes) -> ApiResult {
    answer(s, body, None).await
}

async fn cmp_at(
    State(s): State<Arc<CaService>>,
    Path(profile): Path<String>,
    body: Bytes,
) -> ApiResult {
    let role: Option<CertificateRole> = profile.parse().ok();
    let role = match role {
        Some(r) if s.policy.roles.contains(&r) => r,
        _ => {
            return Err(bad(
                Code::NotFound,
                format!(
                    "no CMP profile {:?}: profiles are the certificate roles this CA issues",
                    profile.chars().take(40).collect::<String>()
                ),
            ))
        }
    };
    answer(s, body, Some(role)).await
}

async fn answer(s: Arc<CaService>, body: Bytes, role: Option<CertificateRole>) -> ApiResult {
    let out = s.cmp(&body, role).await;
    if out.der.is_empty() {
        return Err(bad(Code::Internal, "the service failed; see its log"));
    }
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PKIXCMP))],
        out.der,
    )
        .into_response();
    if let Some((code, reason)) = out.refused {
        r.extensions_mut().insert(code);
        r.extensions_mut().insert(RefusedInBody(reason));
    }
    Ok(r)
}
