//! Request bodies through the service's real router: every POST and PUT
//! endpoint of the access table, called as each role (and anonymously),
//! with arbitrary bytes as its body in the endpoint's media type (JSON, or
//! EST's base64 PKCS#10, ACME's JWS). The service must answer — never
//! panic, never a 500 — and every refusal must be a JSON error body with a
//! code, or, on ACME's paths, a problem document (RFC 7807) with an ACME
//! error type and a fresh nonce.
//! The service runs once per process, on SQLite in a temporary directory.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use symbolon::access::{Role, ENDPOINTS};
use symbolon::ca::CaPolicy;
use symbolon::keys::{RsaAlgorithm, RsaPrivateKey};
use symbolon_server::edge::{Connection, PeerCertificate};
use symbolon_server::gate::Edge;
use symbolon_server::rate_limit::{Limit, RateLimiter};
use symbolon_server::{CaService, DataDir};
use symbolon_store::Registry;
use tower::ServiceExt as _;

struct Harness {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    /// Anonymous, then one credential per role.
    callers: Vec<Option<Arc<PeerCertificate>>>,
    /// The state-changing endpoints, their parameters filled in, and the
    /// media type each takes.
    routes: Vec<(&'static str, String, &'static str)>,
}

static HARNESS: OnceLock<Harness> = OnceLock::new();

fn harness() -> &'static Harness {
    HARNESS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("symbolon-fuzz-http-{}", std::process::id()));
        // A directory left by an earlier run under the same pid.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("a fresh directory");
        }
        let data = DataDir::new(&dir);
        data.init(
            "CN=fuzz CA",
            RsaAlgorithm::Rsa2048.into(),
            CaPolicy::default(),
            None,
        )
        .expect("a CA to fuzz");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (service, callers) = rt.block_on(async {
            let registry = Registry::open(&data.database_url())
                .await
                .expect("registry");
            let service =
                Arc::new(CaService::new(data.open().expect("CA"), registry).expect("service"));
            let mut callers = vec![None];
            for (i, role) in Role::ALL.into_iter().enumerate() {
                let key = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).expect("key");
                let name = format!("party-{i}").parse().expect("name");
                let issued = service
                    .bootstrap_credential(
                        role,
                        &name,
                        key.public_key(),
                        symbolon_server::credentials::CREDENTIAL_VALIDITY,
                    )
                    .await
                    .expect("credential");
                callers.push(Some(Arc::new(
                    PeerCertificate::from_der(&issued.certificate).expect("its certificate"),
                )));
            }
            (service, callers)
        });
        let unlimited = Limit {
            per_second: 1e9,
            burst: 1e9,
        };
        let app = symbolon_server::http::router(Arc::new(Edge {
            service,
            limiter: RateLimiter::new(unlimited, unlimited),
        }));
        let routes = ENDPOINTS
            .iter()
            .filter(|e| matches!(e.method, "POST" | "PUT"))
            .map(|e| (e.method, fill(e.path), e.media.content_type()))
            .collect();
        Harness {
            rt,
            app,
            callers,
            routes,
        }
    })
}

/// A path with each `{parameter}` replaced by a value of its usual shape.
fn fill(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str(match &rest[start..end] {
            "{serial}" => "0123456789abcdef",
            // The station credential's name (Role::ALL's third).
            "{station}" | "{name}" => "party-2",
            // An EST label: a certificate role.
            "{label}" => "client",
            // An ACME provisioner, and a challenge type.
            "{provisioner}" => "server",
            "{kind}" => "http-01",
            _ => "00112233445566778899aabbccddeeff",
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let [route, caller, body @ ..] = data else {
        return;
    };
    let h = harness();
    let (method, path, media) = &h.routes[*route as usize % h.routes.len()];
    let peer = h.callers[*caller as usize % h.callers.len()].clone();
    let request = Request::builder()
        .method(*method)
        .uri(path.as_str())
        .header("content-type", *media)
        .header("host", "localhost")
        .extension(Connection {
            address: "127.0.0.1:9".parse().expect("an address"),
            peer,
        })
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let (status, nonce, bytes) = h.rt.block_on(async {
        let response = h
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let nonce = response.headers().contains_key("replay-nonce");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .expect("a body");
        (status, nonce, bytes)
    });
    assert_ne!(
        status.as_u16(),
        500,
        "{method} {path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: not JSON ({e})"));
        if path.starts_with("/acme/") {
            let kind = v["type"].as_str().unwrap_or_default();
            assert!(
                kind.starts_with("urn:ietf:params:acme:error:"),
                "{method} {path}: {v}"
            );
            assert!(nonce, "{method} {path}: a refusal without a nonce");
        } else {
            assert!(v["error"]["code"].is_string(), "{method} {path}: {v}");
        }
    }
});
