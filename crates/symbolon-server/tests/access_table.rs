//! The authorization table is one truth: the code's `ENDPOINTS`, the table
//! in docs/access.md and the OpenAPI document agree, every row is a route
//! the router serves, and the gate applies it to an anonymous caller.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use symbolon::access::{Access, ENDPOINTS};
use symbolon::ca::CaPolicy;
use symbolon::keys::RsaAlgorithm;
use symbolon_server::gate::Edge;
use symbolon_server::rate_limit::{Limit, RateLimiter};
use symbolon_server::{http::router, CaService, DataDir};
use symbolon_store::Registry;
use tower::ServiceExt as _;

fn docs_rows() -> Vec<(String, String, String)> {
    let text = include_str!("../../../docs/access.md");
    text.lines()
        .filter(|l| {
            l.starts_with("| GET |") || l.starts_with("| POST |") || l.starts_with("| PUT |")
        })
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].to_string(),
                cells[1].trim_matches('`').to_string(),
                cells[2].to_string(),
            )
        })
        .collect()
}

#[test]
fn the_docs_the_openapi_document_and_the_code_agree() {
    let docs = docs_rows();
    let code: Vec<(String, String, String)> = ENDPOINTS
        .iter()
        .map(|e| {
            (
                e.method.to_string(),
                e.path.to_string(),
                e.access.describe(),
            )
        })
        .collect();
    assert_eq!(
        docs, code,
        "docs/access.md's table differs from symbolon::access::ENDPOINTS"
    );

    let api: serde_json::Value = serde_json::from_str(symbolon_server::http::OPENAPI).unwrap();
    let mut operations = 0;
    for (path, ops) in api["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            operations += 1;
            let row = ENDPOINTS
                .iter()
                .find(|e| e.method.eq_ignore_ascii_case(method) && e.path == path)
                .unwrap_or_else(|| panic!("{method} {path} is documented but not in the table"));
            assert_eq!(
                op["x-symbolon-access"],
                row.access.describe(),
                "{method} {path}"
            );
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(secured, row.access.needs_credential(), "{method} {path}");
        }
    }
    assert_eq!(operations, ENDPOINTS.len(), "every row is documented");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_applies_the_table_to_anonymous_callers() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    data.init(
        "CN=gate CA",
        RsaAlgorithm::Rsa2048.into(),
        CaPolicy::default(),
        None,
    )
    .unwrap();
    let registry = Registry::open(&data.database_url()).await.unwrap();
    let service = Arc::new(CaService::new(data.open().unwrap(), registry).unwrap());
    let many = Limit {
        per_second: 1e6,
        burst: 1e6,
    };
    let app = router(Arc::new(Edge {
        service: Arc::clone(&service),
        limiter: RateLimiter::new(many, many),
    }));
    let before = service
        .registry()
        .audit_entries(0, 10_000)
        .await
        .unwrap()
        .len();
    let mut refused = 0;
    for e in ENDPOINTS {
        let path = e
            .path
            .replace("{id}", "00")
            .replace("{serial}", "00")
            .replace("{fingerprint}", "00")
            .replace("{arbitrator}", "a")
            .replace("{seq}", "1")
            .replace("{label}", "client")
            .replace("{profile}", "client")
            .replace("{provisioner}", "server")
            .replace("{authz}", "00")
            .replace("{kind}", "http-01")
            .replace("{*request}", "MAA=");
        let req = Request::builder()
            .method(e.method)
            .uri(&path)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "no CORS, ever"
        );
        let status = resp.status();
        match e.access {
            Access::Public
            | Access::EnrollmentCode
            | Access::PublicQuery
            | Access::ProofOfPossession
            | Access::WitnessCosignature
            | Access::RolesOrEnrollmentCode(_)
            | Access::CurrentCertificate
            | Access::MessageProtection
            | Access::AcmeSignature => {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{} {path}", e.method);
                assert_ne!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{} {path} is routed",
                    e.method
                );
            }
            _ => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {path}", e.method);
                if e.method != "GET" {
                    refused += 1;
                }
            }
        }
    }
    // Each refused state change is audited once; reads are not.
    let after = service.registry().audit_entries(0, 10_000).await.unwrap();
    let new: Vec<_> = after[before..]
        .iter()
        .filter(|a| a.kind == "request-refused")
        .collect();
    assert_eq!(
        new.len(),
        refused + 3 + 4 + 2 + 11,
        "the anonymous enrollment with no code, the unsigned self-revocation, the unsigned cosignature, the four EST posts, the two CMP posts and the eleven ACME posts of JSON are refused too"
    );
    // A body over an endpoint's own limit is refused in the service's
    // terms (the extractor's, under the gate's larger one).
    let resp = app
        .clone()
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/.well-known/cmp")
                .header("content-type", "application/pkixcmp")
                .body(Body::from(vec![0x30u8; 70 * 1024]))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large", "{v}");
    // A route outside the table does not exist; a preflight is not answered.
    let resp = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/v1/nothing")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = app
        .oneshot(
            Request::builder()
                .method("OPTIONS")
                .uri("/v1/certify")
                .header("origin", "https://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert_ne!(resp.status(), StatusCode::OK);
}
