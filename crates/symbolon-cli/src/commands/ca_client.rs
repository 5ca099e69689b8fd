//! The CLI's client for the service: HTTPS with the CA pinned (`--ca-cert`)
//! and the caller's credential (`--credential`), JSON in and out; the
//! service's error body becomes a CLI error with the same code.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use symbolon::token::SlotName;
use symbolon::Code;
use symbolon_client::{ClientError, Credential, PinnedRoots, ServiceClient, StationError};
use symbolon_token::open::TokenSpec;

use crate::cli::CredentialArgs;
use crate::error::CliError;

/// The credential the command line named (set once, before any command).
static CREDENTIAL: OnceLock<CredentialArgs> = OnceLock::new();

/// Records the global `--credential` options.
pub(crate) fn set_credential(args: CredentialArgs) {
    let _ = CREDENTIAL.set(args);
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        let hint = match &e {
            ClientError::Trust(_) => {
                Some("pin the CA: --ca-cert root.pem (or SYMBOLON_CA_CERT)".to_string())
            }
            ClientError::Credential(_) => {
                Some("enroll first (`symbolon enroll`), then pass --credential TOKEN".into())
            }
            ClientError::Unreachable { .. } => Some(
                "is `symbolon serve` running there, and is --ca-cert its CA? check --ca".into(),
            ),
            ClientError::Refused {
                code, retry_after, ..
            } => match code {
                Code::Unauthenticated => {
                    Some("pass --credential TOKEN (a credential from `symbolon enroll`)".into())
                }
                Code::Forbidden => Some(
                    "this credential's role or name does not allow it; see docs/access.md".into(),
                ),
                Code::RateLimited => Some(format!(
                    "retry after {} s",
                    retry_after.as_deref().unwrap_or("a few")
                )),
                _ => None,
            },
            _ => None,
        };
        let err = CliError::new(e.code(), e.to_string());
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

impl From<StationError> for CliError {
    fn from(e: StationError) -> Self {
        match e {
            StationError::Service(c) => c.into(),
            StationError::Token(t) => t.into(),
            other => {
                let err = CliError::new(other.code(), other.to_string());
                match other.hint() {
                    Some(h) => err.hint(h),
                    None => err,
                }
            }
        }
    }
}

/// What the service's TLS certificate must chain to: `--tls-ca`, else the
/// CA the command pins.
fn tls_roots(ca_cert: Option<&Path>) -> Result<Option<PinnedRoots>, CliError> {
    let tls_ca = CREDENTIAL.get().and_then(|a| a.tls_ca.as_deref());
    Ok(tls_ca
        .or(ca_cert)
        .map(PinnedRoots::from_pem_file)
        .transpose()?)
}

/// Opens the credential the command line named, if any.
pub(crate) fn credential() -> Result<Option<Credential>, CliError> {
    let Some(args) = CREDENTIAL.get() else {
        return Ok(None);
    };
    let Some(spec) = &args.credential else {
        return Ok(None);
    };
    open_credential(spec).map(Some)
}

/// Opens the credential in `spec` (a token), in the `--credential-slot`.
fn open_credential(spec: &str) -> Result<Credential, CliError> {
    let slot = CREDENTIAL
        .get()
        .map(|a| a.credential_slot.as_str())
        .unwrap_or(symbolon_client::DEFAULT_CREDENTIAL_SLOT);
    let token = TokenSpec::parse(spec, None)?.open()?;
    Ok(Credential::open(Arc::from(token), &SlotName::new(slot)?)?)
}

/// A CA at a base URL.
pub(crate) struct CaClient {
    inner: ServiceClient,
    /// The CA this command runs inside itself (`--ca local:DIR`), kept as
    /// long as the client is.
    _local: Option<super::serve_ca::InProcessCa>,
}

impl CaClient {
    /// The service at `base`, its CA pinned by `ca_cert`, as the caller the
    /// global `--credential` names.
    pub(crate) fn connect(base: &str, ca_cert: Option<&Path>) -> Result<Self, CliError> {
        let roots = tls_roots(ca_cert)?;
        let credential = credential()?;
        Ok(Self {
            inner: ServiceClient::new(base, roots.as_ref(), credential.as_ref())?,
            _local: None,
        })
    }

    /// The service at `base` as the credential in the token `spec`.
    pub(crate) fn connect_as(
        base: &str,
        ca_cert: Option<&Path>,
        spec: &str,
    ) -> Result<Self, CliError> {
        let roots = tls_roots(ca_cert)?;
        let credential = open_credential(spec)?;
        Ok(Self {
            inner: ServiceClient::new(base, roots.as_ref(), Some(&credential))?,
            _local: None,
        })
    }

    /// A client of the CA `local` runs in this process, with the pin and
    /// credential given.
    pub(crate) fn in_process(
        base: &str,
        roots: &PinnedRoots,
        credential: &Credential,
        local: super::serve_ca::InProcessCa,
    ) -> Result<Self, CliError> {
        Ok(Self {
            inner: ServiceClient::new(base, Some(roots), Some(credential))?,
            _local: Some(local),
        })
    }

    /// The service as the station library sees it.
    pub(crate) fn service(&self) -> &ServiceClient {
        &self.inner
    }

    fn finish(
        &self,
        answer: Result<symbolon_client::Answer, ClientError>,
    ) -> Result<Value, CliError> {
        Ok(answer?.into_result()?)
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.finish(self.inner.post(path, body))
    }

    pub(crate) fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.finish(self.inner.put(path, body))
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value, CliError> {
        self.finish(self.inner.get(path))
    }

    /// A binary document of `content_type`; an error body becomes the
    /// service's error, as for JSON calls.
    pub(crate) fn get_document(&self, path: &str, content_type: &str) -> Result<Vec<u8>, CliError> {
        let (status, got, bytes) = self.inner.get_bytes(path)?;
        if (200..300).contains(&status) && got.starts_with(content_type) {
            return Ok(bytes);
        }
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.finish(Ok(symbolon_client::Answer {
            status: if (200..300).contains(&status) {
                502
            } else {
                status
            },
            body,
            retry_after: None,
        }))?;
        Err(CliError::new(
            Code::BadResponse,
            format!("the CA answered {path} with {got:?}, not {content_type}"),
        ))
    }
}

/// A string field of a service answer; its absence is the service's fault
/// (`bad_response`), never an empty value passed on.
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, CliError> {
    v[name]
        .as_str()
        .ok_or_else(|| CliError::new(Code::BadResponse, format!("the CA's answer lacks {name}")))
}
