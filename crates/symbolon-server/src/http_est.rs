//! EST over HTTPS (RFC 7030, RFC 8951; docs/est.md) at
//! `/.well-known/est/`, bare or under a label naming the certificate role:
//! `cacerts` and `csrattrs` for anyone, `simpleenroll` for a station's
//! credential or a device's enrollment code, `simplereenroll` for the
//! holder of the certificate being replaced. Bodies are base64 DER; the
//! gate has authenticated, rate-limited and checked the media type.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use symbolon::est::{self, EstError};
use symbolon::x509::CertificateRole;
use symbolon::Code;

use crate::edge::Connection;
use crate::est::{EstCaller, EstIssued};
use crate::gate::Caller;
use crate::http::{bad, ApiError, ApiResult};
use crate::service::PROTOCOL;
use crate::CaService;

/// `Content-Type` of the certificate answers (RFC 7030 §4.1.3).
const CERTS_ONLY: &str = "application/pkcs7-mime; smime-type=certs-only";
/// `Content-Type` of the CSR attributes (RFC 7030 §4.5.2).
const CSR_ATTRS: &str = "application/csrattrs";

pub(crate) fn routes() -> Router<Arc<CaService>> {
    Router::new()
        .route("/.well-known/est/cacerts", get(cacerts))
        .route("/.well-known/est/{label}/cacerts", get(cacerts_at))
        .route("/.well-known/est/csrattrs", get(csrattrs))
        .route("/.well-known/est/{label}/csrattrs", get(csrattrs_at))
        .route("/.well-known/est/simpleenroll", post(enroll))
        .route("/.well-known/est/{label}/simpleenroll", post(enroll_at))
        .route("/.well-known/est/simplereenroll", post(reenroll))
        .route("/.well-known/est/{label}/simplereenroll", post(reenroll_at))
}

/// A label is a certificate role this CA issues.
fn label_role(s: &CaService, label: &str) -> Result<CertificateRole, ApiError> {
    let role: Option<CertificateRole> = label.parse().ok();
    match role {
        Some(r) if s.policy.roles.contains(&r) => Ok(r),
        _ => Err(bad(
            Code::NotFound,
            format!(
                "no EST label {:?}: labels are the certificate roles this CA issues ({})",
                label.chars().take(40).collect::<String>(),
                s.policy
                    .roles
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn est_error(e: EstError) -> ApiError {
    match e {
        EstError::TooLarge(_) => bad(Code::PayloadTooLarge, e.to_string()),
        EstError::BadAuthorization(_) => bad(Code::Unauthenticated, e.to_string()),
        // The service's own certificates do not encode: its fault, told
        // in the log, not the body.
        EstError::Certificate(_) => {
            tracing::error!(error = %e, "cannot build an EST answer");
            bad(Code::Internal, "the service failed; see its log")
        }
        EstError::NotBase64(_) | EstError::NotPkcs10(_) => bad(Code::InvalidRequest, e.to_string()),
    }
}

/// A base64 DER answer (RFC 8951: always base64).
fn answer(content_type: &'static str, der: &[u8]) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::HeaderName::from_static("content-transfer-encoding"),
                HeaderValue::from_static("base64"),
            ),
        ],
        est::base64_body(der),
    )
        .into_response()
}

async fn cacerts(State(s): State<Arc<CaService>>) -> ApiResult {
    let chain: Vec<&[u8]> = s.chain().iter().map(Vec::as_slice).collect();
    let der = est::certs_only(&chain).map_err(est_error)?;
    Ok(answer(CERTS_ONLY, &der))
}

async fn cacerts_at(State(s): State<Arc<CaService>>, Path(label): Path<String>) -> ApiResult {
    label_role(&s, &label)?;
    cacerts(State(s)).await
}

/// The key types the role takes (`client` without a label).
fn csr_attributes(s: &CaService, role: CertificateRole) -> ApiResult {
    let der = est::csr_attributes(s.policy.curves_for(role)).map_err(est_error)?;
    Ok(answer(CSR_ATTRS, &der))
}

async fn csrattrs(State(s): State<Arc<CaService>>) -> ApiResult {
    csr_attributes(&s, CertificateRole::Client)
}

async fn csrattrs_at(State(s): State<Arc<CaService>>, Path(label): Path<String>) -> ApiResult {
    let role = label_role(&s, &label)?;
    csr_attributes(&s, role)
}

fn issued(i: &EstIssued) -> ApiResult {
    let der = est::certs_only(&[&i.certificate]).map_err(est_error)?;
    let mut r = answer(CERTS_ONLY, &der);
    if let Ok(v) = HeaderValue::from_str(i.serial.as_str()) {
        r.headers_mut()
            .insert(header::HeaderName::from_static("x-symbolon-serial"), v);
    }
    Ok(r)
}

async fn enroll(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    enroll_as(s, caller, headers, body, None).await
}

async fn enroll_at(
    State(s): State<Arc<CaService>>,
    Extension(caller): Extension<Caller>,
    Path(label): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let role = label_role(&s, &label)?;
    enroll_as(s, caller, headers, body, Some(role)).await
}

async fn enroll_as(
    s: Arc<CaService>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
    role: Option<CertificateRole>,
) -> ApiResult {
    let who = match &caller {
        Caller::Operator(actor) => EstCaller::Station(actor),
        Caller::Anonymous(_) => {
            let mut all = headers.get_all(header::AUTHORIZATION).iter();
            let (value, second) = (all.next(), all.next());
            if second.is_some() {
                return Err(bad(
                    Code::InvalidRequest,
                    "more than one Authorization header: send the enrollment code once",
                ));
            }
            let Some(value) = value else {
                return Ok(ask_for_credentials());
            };
            let value = value.to_str().map_err(|_| {
                bad(
                    Code::Unauthenticated,
                    "the Authorization header is not text",
                )
            })?;
            EstCaller::Code(est::enrollment_code(value).map_err(est_error)?)
        }
    };
    let csr = est::decode_pkcs10(&body).map_err(est_error)?;
    let issued_cert = PROTOCOL.scope("est", s.est_enroll(csr, role, who)).await?;
    issued(&issued_cert)
}

/// RFC 7030 §3.2.3: an unauthenticated request is answered 401 with a
/// challenge, so a client with a password (the enrollment code) sends it.
fn ask_for_credentials() -> Response {
    let mut r = bad(
        Code::Unauthenticated,
        "simpleenroll needs a station's client certificate, or an enrollment code as the password of HTTP Basic (any user name) or as a Bearer token",
    )
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"symbolon EST\", charset=\"UTF-8\""),
    );
    r
}

async fn reenroll(
    State(s): State<Arc<CaService>>,
    connection: Option<Extension<Connection>>,
    body: Bytes,
) -> ApiResult {
    reenroll_as(s, connection, body, None).await
}

async fn reenroll_at(
    State(s): State<Arc<CaService>>,
    connection: Option<Extension<Connection>>,
    Path(label): Path<String>,
    body: Bytes,
) -> ApiResult {
    let role = label_role(&s, &label)?;
    reenroll_as(s, connection, body, Some(role)).await
}

async fn reenroll_as(
    s: Arc<CaService>,
    connection: Option<Extension<Connection>>,
    body: Bytes,
    role: Option<CertificateRole>,
) -> ApiResult {
    let Some(peer) = connection.and_then(|Extension(c)| c.peer) else {
        return Err(bad(
            Code::Unauthenticated,
            "simplereenroll needs the certificate being replaced as the TLS client certificate",
        ));
    };
    let csr = est::decode_pkcs10(&body).map_err(est_error)?;
    let issued_cert = PROTOCOL
        .scope("est", s.est_reenroll(csr, role, &peer.serial))
        .await?;
    issued(&issued_cert)
}
