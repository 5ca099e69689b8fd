//! `symbolon serve`: the CA and registry over HTTP.

use std::sync::Arc;
use symbolon::Code;

use symbolon::ca::CaPolicy;
use symbolon::keys::weak::Effort;
use symbolon::keys::RsaAlgorithm;
use symbolon_server::{http::router, CaService, DataDir};
use symbolon_store::Registry;

use crate::cli::DataArgs;
use crate::error::CliError;

/// The CA a first run creates.
const DEFAULT_SUBJECT: &str = "CN=symbolon CA";

pub(crate) fn run(
    data: &DataArgs,
    listen: &str,
    ca_token: Option<&str>,
    weak_key_effort: Option<Effort>,
) -> Result<(), CliError> {
    let dir = DataDir::new(&data.data);
    if !dir.is_initialised() {
        super::ca::init_ca(
            data,
            DEFAULT_SUBJECT,
            RsaAlgorithm::Rsa3072,
            CaPolicy::default(),
            // A new CA's key goes onto a PKCS#11 device named here; an agent
            // serves an existing CA token only.
            ca_token.filter(|t| t.starts_with("pkcs11:")),
        )?;
        eprintln!(
            "created a new CA ({DEFAULT_SUBJECT}) in {}",
            dir.path().display()
        );
    }
    let spec = ca_token
        .map(|t| symbolon_token::open::TokenSpec::parse(t, None))
        .transpose()?;
    let mut ca = dir.open_with(spec.as_ref())?;
    if let Some(effort) = weak_key_effort {
        ca.config.policy.weak_key_effort = effort;
    }
    let url = data.database.clone().unwrap_or_else(|| dir.database_url());
    super::runtime()?.block_on(async move {
        let registry = Registry::open(&url).await?;
        let service = Arc::new(CaService::new(ca, registry.clone())?);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError::new(Code::Io, format!("cannot listen on {listen}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| {
            CliError::new(Code::Io, format!("cannot read the listening address: {e}"))
        })?;
        eprintln!("CA certificate: {}", dir.certificate_path().display());
        eprintln!("symbolon serving on http://{addr}");
        axum::serve(listener, router(service))
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| CliError::new(Code::Io, format!("the server failed: {e}")))?;
        registry.close().await;
        eprintln!("symbolon stopped");
        Ok(())
    })
}

/// Runs the CA of `data` inside this process on a loopback port (for
/// `issue --ca local:DIR`); returns its URL. The service lives as long as
/// the process.
pub(crate) fn in_process(data: &std::path::Path) -> Result<String, CliError> {
    let dir = DataDir::new(data);
    let ca = dir.open()?;
    // The same registry `serve` would use: SYMBOLON_DATABASE, or the data directory's.
    let url = std::env::var("SYMBOLON_DATABASE").unwrap_or_else(|_| dir.database_url());
    let rt = super::runtime()?;
    let (registry, listener) = rt.block_on(async {
        let registry = Registry::open(&url).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| CliError::new(Code::Io, format!("cannot listen on loopback: {e}")))?;
        Ok::<_, CliError>((registry, listener))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::new(Code::Io, format!("cannot read the listening address: {e}")))?;
    let service = Arc::new(CaService::new(ca, registry)?);
    std::thread::spawn(move || {
        rt.block_on(async move {
            if let Err(e) = axum::serve(listener, router(service)).await {
                tracing::error!(error = %e, "the in-process CA stopped");
            }
        });
    });
    Ok(format!("http://{addr}"))
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
