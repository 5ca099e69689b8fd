//! The station's HTTP client for the CA: JSON in, JSON out, the CA's error
//! body turned into a CLI error with the same code.

use std::time::Duration;
use symbolon::Code;

use serde_json::Value;

use crate::error::CliError;

/// A CA at a base URL.
pub(crate) struct CaClient {
    base: String,
    agent: ureq::Agent,
}

impl CaClient {
    pub(crate) fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: ureq::Error) -> CliError {
        CliError::new(
            Code::CaUnreachable,
            format!("cannot reach the CA at {}: {e}", self.base),
        )
        .hint("is `symbolon serve` running there? check --ca")
    }

    fn finish(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, CliError> {
        let mut resp = resp.map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let body: Value = resp.body_mut().read_json().map_err(|e| {
            CliError::new(
                Code::BadResponse,
                format!("the CA answered {status} with a body that is not JSON: {e}"),
            )
        })?;
        if status.is_success() {
            return Ok(body);
        }
        // A code this version does not know (a newer service) is kept in
        // the message and reported as unrecognised, never guessed.
        let name = body["error"]["code"].as_str();
        let code = name.map_or(Code::BadResponse, Code::from_peer);
        let message = match (body["error"]["message"].as_str(), code) {
            (Some(m), Code::Unrecognised) => format!("{m} (code {})", name.unwrap_or_default()),
            (Some(m), _) => m.to_string(),
            (None, _) => format!("the CA answered {status} without an error body"),
        };
        Err(CliError::new(code, format!("the CA refused: {message}")))
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let r = self.agent.post(&self.url(path)).send_json(body);
        self.finish(r)
    }

    pub(crate) fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let r = self.agent.put(&self.url(path)).send_json(body);
        self.finish(r)
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value, CliError> {
        let r = self.agent.get(&self.url(path)).call();
        self.finish(r)
    }
}

/// A string field of a service answer; its absence is the service's fault
/// (`bad_response`), never an empty value passed on.
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, CliError> {
    v[name]
        .as_str()
        .ok_or_else(|| CliError::new(Code::BadResponse, format!("the CA's answer lacks {name}")))
}
