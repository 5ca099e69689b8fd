//! JSON over HTTPS to the service: one connection pool per client
//! (keep-alive), the CA pinned, the credential offered at every handshake.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use serde_json::Value;
use symbolon::Code;

use crate::credential::{Credential, Offer};
use crate::{ClientError, PinnedRoots};

/// How long a request may take, end to end.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The service's answer: status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body (JSON; a non-JSON body is kept as a string).
    pub body: Value,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl Answer {
    /// The body of a success; a refusal as [`ClientError::Refused`] with
    /// the service's code (a code this version does not know is kept in
    /// the message and reported as `unrecognised`, never guessed).
    pub fn into_result(self) -> Result<Value, ClientError> {
        let status = self.status;
        if (200..300).contains(&status) {
            return match self.body {
                Value::String(_) => Err(ClientError::NotJson {
                    status,
                    reason: "a success must be a JSON document".into(),
                }),
                body => Ok(body),
            };
        }
        let name = self.body["error"]["code"].as_str();
        let code = name.map_or(Code::BadResponse, Code::from_peer);
        let message = match (self.body["error"]["message"].as_str(), name) {
            (Some(m), Some(n)) if code == Code::Unrecognised => format!("{m} (code {n})"),
            (Some(m), _) => m.to_string(),
            (None, _) => format!("the CA answered {status} without an error body"),
        };
        Err(ClientError::Refused {
            status,
            code,
            message,
            retry_after: self.retry_after,
        })
    }
}

/// A client of one service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base: String,
    http: reqwest::blocking::Client,
}

/// The TLS configuration a client uses: TLS 1.3 and 1.2, the CA pinned,
/// the credential offered when the service asks.
pub fn tls_config(
    roots: &PinnedRoots,
    credential: Option<&Credential>,
) -> Result<ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ClientError::Trust(format!("TLS versions: {e}")))?
        .with_root_certificates(roots.store()?);
    let mut config = match credential {
        Some(c) => builder.with_client_cert_resolver(Arc::new(Offer(c.certified()))),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl ServiceClient {
    /// A client of the service at `base` (`https://…`; `http://…` only for
    /// a service run with `--insecure-http`, where every caller is
    /// anonymous). `roots` pins the CA; `credential` authenticates.
    pub fn new(
        base: &str,
        roots: Option<&PinnedRoots>,
        credential: Option<&Credential>,
    ) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        let builder = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none());
        let builder = if base.starts_with("https://") {
            let roots = roots.ok_or_else(|| {
                ClientError::Trust(
                    "an https service needs its CA pinned: --ca-cert root.pem (or SYMBOLON_CA_CERT), the CA certificate from the service's operator".into(),
                )
            })?;
            builder.use_preconfigured_tls(tls_config(roots, credential)?)
        } else if base.starts_with("http://") {
            if credential.is_some() {
                return Err(ClientError::Credential(format!(
                    "{base} is plain HTTP: a credential authenticates over https only"
                )));
            }
            // No TLS is spoken; reqwest still wants a TLS configuration,
            // and this one trusts nothing.
            builder.use_preconfigured_tls(tls_config(&PinnedRoots::from_der(Vec::new()), None)?)
        } else {
            return Err(ClientError::Unreachable {
                url: base,
                reason: "the URL must start with https:// (or http:// for --insecure-http)".into(),
            });
        };
        let http = builder.build().map_err(|e| ClientError::Unreachable {
            url: base.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self { base, http })
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Answer, ClientError> {
        self.finish(self.http.get(self.url(path)))
    }

    /// `GET path` for a binary document (a CRL, a DER certificate): the
    /// status, the Content-Type and the bytes as sent.
    pub fn get_bytes(&self, path: &str) -> Result<(u16, String, Vec<u8>), ClientError> {
        let response =
            self.http
                .get(self.url(path))
                .send()
                .map_err(|e| ClientError::Unreachable {
                    url: self.base.clone(),
                    reason: describe(&e),
                })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = response.bytes().map_err(|e| ClientError::NotJson {
            status,
            reason: e.to_string(),
        })?;
        Ok((status, content_type, bytes.to_vec()))
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Answer, ClientError> {
        self.finish(self.http.post(self.url(path)).json(body))
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> Result<Answer, ClientError> {
        self.finish(self.http.put(self.url(path)).json(body))
    }

    /// Any request, as given (for tests of what the service refuses).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| {
            ClientError::Unreachable {
                url: self.url(path),
                reason: e.to_string(),
            }
        })?;
        let mut r = self.http.request(method, self.url(path)).body(body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.finish(r)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(&self, request: reqwest::blocking::RequestBuilder) -> Result<Answer, ClientError> {
        let response = request.send().map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: describe(&e),
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().map_err(|e| ClientError::NotJson {
            status,
            reason: e.to_string(),
        })?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            body,
            retry_after,
        })
    }
}

/// The error with its causes (reqwest's own message hides the TLS reason).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
