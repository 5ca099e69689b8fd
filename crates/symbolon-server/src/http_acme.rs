//! ACME over HTTPS (RFC 8555 §6; docs/acme.md) at
//! `/acme/{provisioner}/…`, the provisioner naming the certificate role
//! (`server`, `client`): every answer carries a fresh `Replay-Nonce` and
//! the directory's `Link`; refusals are problem documents
//! (`application/problem+json`), marked for the gate's audit. And the
//! officers' endpoint that issues external account binding keys.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use symbolon::access::PartyName;
use symbolon::acme::{Problem, ProblemType};
use symbolon::x509::CertificateRole;

use crate::acme::{directory, AcmeBody, AcmeContext, AcmeError, AcmeReply, AcmeResult, ACME_ROLES};
use crate::gate::{Caller, RefusedInBody};
use crate::http::{body, ApiResult};
use crate::CaService;

/// Longest Host header taken into the URLs.
const MAX_HOST: usize = 255;

pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/v1/acme/eab", post(issue_eab))
        .route("/acme/{provisioner}/directory", get(get_directory))
        .route("/acme/{provisioner}/new-nonce", get(new_nonce))
        .route("/acme/{provisioner}/new-account", acme(Op::NewAccount))
        .route("/acme/{provisioner}/new-order", acme(Op::NewOrder))
        .route("/acme/{provisioner}/account/{id}", acme(Op::Account))
        .route("/acme/{provisioner}/account/{id}/orders", acme(Op::Orders))
        .route("/acme/{provisioner}/order/{id}", acme(Op::Order))
        .route(
            "/acme/{provisioner}/order/{id}/finalize",
            acme(Op::Finalize),
        )
        .route("/acme/{provisioner}/authz/{id}", acme(Op::Authorization))
        .route(
            "/acme/{provisioner}/chall/{authz}/{kind}",
            acme(Op::Challenge),
        )
        .route("/acme/{provisioner}/cert/{serial}", acme(Op::Certificate))
        .route("/acme/{provisioner}/key-change", acme(Op::KeyChange))
        .route("/acme/{provisioner}/revoke-cert", acme(Op::Revoke))
}

/// The request's provisioner and base URL, from its Host header.
fn context(
    s: &CaService,
    headers: &HeaderMap,
    provisioner: &str,
) -> Result<AcmeContext, AcmeError> {
    let role = provisioner
        .parse::<CertificateRole>()
        .ok()
        .filter(|r| ACME_ROLES.contains(r) && s.policy.roles.contains(r))
        .ok_or_else(|| {
            Problem::new(
                ProblemType::Malformed,
                format!(
                    "no ACME provisioner {:?}: provisioners are the certificate roles that name hosts (server, client) this CA issues",
                    provisioner.chars().take(40).collect::<String>()
                ),
            )
        })?;
    let mut all = headers.get_all(header::HOST).iter();
    let host = match (all.next(), all.next()) {
        (Some(h), None) => h.to_str().ok(),
        _ => None,
    }
    .filter(|h| {
        !h.is_empty()
            && h.len() <= MAX_HOST
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    })
    .ok_or_else(|| {
        Problem::new(
            ProblemType::Malformed,
            "the request has no usable Host header (exactly one)",
        )
    })?;
    let name = host_name(host)
        .ok_or_else(|| {
            Problem::new(
                ProblemType::Malformed,
                "the Host header is not a host and a port",
            )
        })?
        .to_ascii_lowercase();
    if !s.acme_hosts.is_empty() && !s.acme_hosts.contains(&name) {
        return Err(Problem::new(
            ProblemType::Malformed,
            format!(
                "this service answers ACME as {}, not {:?}",
                s.acme_hosts.join(", "),
                name.chars().take(60).collect::<String>()
            ),
        )
        .into());
    }
    Ok(AcmeContext {
        base: format!("https://{}/acme/{}", host.to_ascii_lowercase(), role),
        role,
    })
}

/// The host of a Host header without its port (`[::1]:8443` → `::1`), if
/// the header is a host and, at most, a port (1 to 65535).
fn host_name(host: &str) -> Option<&str> {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let (name, after) = rest.split_once(']')?;
            match after {
                "" => (name, None),
                _ => (name, Some(after.strip_prefix(':')?)),
            }
        }
        None => match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    (!name.is_empty() && port_ok).then_some(name)
}

/// The gate's own refusals on ACME's paths (a rate limit, a media type,
/// a body too large or late) as problem documents with a fresh nonce;
/// ACME's answers pass as they are.
pub(crate) async fn as_problem(s: &CaService, response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !response.status().is_client_error() || !is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| "refused".into());
    let kind = if parts.status == StatusCode::TOO_MANY_REQUESTS {
        ProblemType::RateLimited
    } else {
        ProblemType::Malformed
    };
    let mut problem = Problem::new(kind, message);
    problem.status = parts.status.as_u16();
    let mut r = problem_response(parts.status, &problem);
    if let Some(v) = parts.headers.get(header::RETRY_AFTER) {
        r.headers_mut().insert(header::RETRY_AFTER, v.clone());
    }
    *r.extensions_mut() = parts.extensions;
    if let Some(n) = s
        .acme_nonce()
        .ok()
        .and_then(|n| HeaderValue::from_str(&n).ok())
    {
        r.headers_mut().insert("replay-nonce", n);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A problem document (RFC 7807).
fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        serde_json::to_string(problem).unwrap_or_default(),
    )
        .into_response()
}

/// The answer, with a fresh nonce and the directory link.
fn answer(s: &CaService, ctx: Option<&AcmeContext>, result: AcmeResult) -> Response {
    let nonce = s.acme_nonce();
    let mut response = match result {
        Ok(reply) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
            let mut r = match reply.body {
                AcmeBody::Json(v) => (status, Json(v)).into_response(),
                AcmeBody::Pem(pem) => (
                    status,
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/pem-certificate-chain"),
                    )],
                    pem,
                )
                    .into_response(),
                AcmeBody::Empty => status.into_response(),
                AcmeBody::Problem(problem, code) => {
                    let detail = problem.to_string();
                    let mut r = problem_response(status, &problem);
                    r.extensions_mut().insert(code);
                    r.extensions_mut().insert(RefusedInBody(detail));
                    r
                }
            };
            if let Some(l) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                r.headers_mut().insert(header::LOCATION, l);
            }
            for link in reply.links {
                if let Ok(v) = HeaderValue::from_str(&link) {
                    r.headers_mut().append(header::LINK, v);
                }
            }
            r
        }
        Err(AcmeError { problem, code }) => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            let detail = problem.to_string();
            let mut r = problem_response(status, &problem);
            r.extensions_mut().insert(code);
            r.extensions_mut().insert(RefusedInBody(detail));
            r
        }
    };
    let h = response.headers_mut();
    match nonce.ok().and_then(|n| HeaderValue::from_str(&n).ok()) {
        Some(n) => {
            h.insert("replay-nonce", n);
        }
        None => tracing::error!("cannot make an ACME nonce"),
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(ctx) = ctx {
        if let Ok(v) = HeaderValue::from_str(&format!("<{}>;rel=\"index\"", ctx.url("directory"))) {
            h.append(header::LINK, v);
        }
    }
    response
}

async fn get_directory(
    State(s): State<Arc<CaService>>,
    Path(p): Path<String>,
    headers: HeaderMap,
) -> Response {
    match context(&s, &headers, &p) {
        Ok(ctx) => (StatusCode::OK, Json(directory(&ctx))).into_response(),
        Err(e) => answer(&s, None, Err(e)),
    }
}

async fn new_nonce(
    State(s): State<Arc<CaService>>,
    Path(p): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    // RFC 8555 §7.2: 200 to HEAD, 204 to GET.
    let status = if method == Method::HEAD { 200 } else { 204 };
    match context(&s, &headers, &p) {
        Ok(ctx) => {
            let reply = AcmeReply {
                status,
                location: None,
                links: Vec::new(),
                body: AcmeBody::Empty,
            };
            answer(&s, Some(&ctx), Ok(reply))
        }
        Err(e) => answer(&s, None, Err(e)),
    }
}

/// What an ACME POST asks for: the route says.
#[derive(Debug, Clone, Copy)]
enum Op {
    NewAccount,
    NewOrder,
    Account,
    Orders,
    Order,
    Finalize,
    Authorization,
    Challenge,
    Certificate,
    KeyChange,
    Revoke,
}

/// The route of `op`: a POST of a JWS.
fn acme(op: Op) -> MethodRouter<Arc<CaService>> {
    post(
        move |s: State<Arc<CaService>>,
              p: Path<HashMap<String, String>>,
              h: HeaderMap,
              b: Bytes| acme_post(op, s, p, h, b),
    )
}

/// Every ACME POST: its provisioner and URLs, the service's answer to
/// `op`, a fresh nonce.
async fn acme_post(
    op: Op,
    State(s): State<Arc<CaService>>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let param = |k: &str| params.get(k).map_or("", String::as_str);
    let ctx = match context(&s, &headers, param("provisioner")) {
        Ok(ctx) => ctx,
        Err(e) => return answer(&s, None, Err(e)),
    };
    let signer = std::cell::RefCell::new(None);
    let (result, signer) = crate::acme::ACME_SIGNER
        .scope(signer, async {
            let result = run_op(op, &s, &ctx, &params, &body).await;
            let signer = crate::acme::ACME_SIGNER.with(|c| c.borrow().clone());
            (result, signer)
        })
        .await;
    let mut response = answer(&s, Some(&ctx), result);
    if let (Some(by), Some(reason)) = (signer, response.extensions_mut().get_mut::<RefusedInBody>())
    {
        reason.0 = format!("{}; signed by {by}", reason.0);
    }
    response
}

/// The service's answer to `op`.
async fn run_op(
    op: Op,
    s: &Arc<CaService>,
    ctx: &AcmeContext,
    params: &HashMap<String, String>,
    body: &[u8],
) -> AcmeResult {
    let param = |k: &str| params.get(k).map_or("", String::as_str);
    match op {
        Op::NewAccount => s.acme_new_account(ctx, body).await,
        Op::NewOrder => s.acme_new_order(ctx, body).await,
        Op::Account => s.acme_account(ctx, param("id"), body).await,
        Op::Orders => s.acme_orders(ctx, param("id"), body).await,
        Op::Order => s.acme_order(ctx, param("id"), body).await,
        Op::Finalize => s.acme_finalize(ctx, param("id"), body).await,
        Op::Authorization => s.acme_authorization(ctx, param("id"), body).await,
        Op::Challenge => {
            s.acme_challenge(ctx, param("authz"), param("kind"), body)
                .await
        }
        Op::Certificate => s.acme_certificate(ctx, param("serial"), body).await,
        Op::KeyChange => s.acme_key_change(ctx, body).await,
        Op::Revoke => s.acme_revoke(ctx, body).await,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EabBody {
    station: String,
    /// Days it may wait for its account (1 to 30; 7 by default).
    days: Option<u32>,
}

/// `POST /v1/acme/eab`: a binding key for a station's ACME account.
async fn issue_eab(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let b: EabBody = body(raw)?;
    let by = caller.actor()?;
    let station: PartyName = b
        .station
        .parse()
        .map_err(|e: symbolon::access::AccessError| {
            crate::http::bad(symbolon::Code::InvalidInput, e.to_string())
        })?;
    let issued = s.acme_issue_eab(&station, b.days, by).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "kid": issued.kid,
            "hmac_key": issued.key.reveal().as_str(),
            "station": station,
            "expires_at": issued.expires_at,
        })),
    )
        .into_response())
}
