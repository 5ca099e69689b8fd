//! `symbolon serve`: the CA and registry over HTTPS (docs/access.md).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use symbolon::Code;

use symbolon::access::{PartyName, Role};
use symbolon::ca::CaPolicy;
use symbolon::keys::weak::Effort;
use symbolon::keys::RsaAlgorithm;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon_client::{Credential, PinnedRoots, DEFAULT_CREDENTIAL_SLOT};
use symbolon_server::acme_validate::AcmeValidation;
use symbolon_server::credentials::{CREDENTIAL_VALIDITY, IN_PROCESS_VALIDITY};
use symbolon_server::gate::Edge;
use symbolon_server::rate_limit::{Limit, RateLimiter};
use symbolon_server::tls::{keep_renewed, server_config, ServerKey, ServiceNames};
use symbolon_server::{edge, http::router, CaService, DataDir};
use symbolon_store::{CertificateSerial, Registry};
use symbolon_token::file::{default_sealing_key_path, init_token};
use symbolon_token::open::TokenSpec;

use super::ca_client::CaClient;
use crate::cli::{AcmeArgs, DataArgs, EdgeArgs};
use crate::error::CliError;

/// The CA a first run creates.
const DEFAULT_SUBJECT: &str = "CN=symbolon CA";

/// The key size of credentials and of the service's TLS key.
const CREDENTIAL_ALGORITHM: RsaAlgorithm = RsaAlgorithm::Rsa3072;

fn setup(e: impl std::fmt::Display) -> CliError {
    CliError::new(Code::Setup, e.to_string())
}

/// Every address `listen` names is loopback.
fn loopback_only(listen: &str) -> Result<bool, CliError> {
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| CliError::new(Code::InvalidInput, format!("--listen {listen}: {e}")))?
        .collect();
    Ok(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()))
}

pub(crate) fn run(
    data: &DataArgs,
    listen: &str,
    ca_token: Option<&str>,
    weak_key_effort: Option<Effort>,
    edge_args: &EdgeArgs,
    acme: &AcmeArgs,
) -> Result<(), CliError> {
    // Everything the service creates is private: files 0600, directories
    // 0700 (the registry, its journal, tokens, certificates).
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
    check_edge(listen, edge_args)?;
    let dir = DataDir::new(&data.data);
    if !dir.is_initialised() {
        super::ca::init_ca(
            data,
            DEFAULT_SUBJECT,
            RsaAlgorithm::Rsa3072.into(),
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
    let spec = ca_token.map(|t| TokenSpec::parse(t, None)).transpose()?;
    let mut ca = dir.open_with(spec.as_ref())?;
    if let Some(effort) = weak_key_effort {
        ca.config.policy.weak_key_effort = effort;
    }
    let server_key = if edge_args.insecure_http {
        None
    } else {
        Some(server_key(edge_args)?)
    };
    let url = data.database.clone().unwrap_or_else(|| dir.database_url());
    super::runtime()?.block_on(async move {
        let registry = open_registry(&url).await?;
        let mut service =
            CaService::new(ca, registry.clone())?.with_acme_validation(AcmeValidation {
                http_port: acme.acme_http_port,
                tls_port: acme.acme_tls_port,
                resolve_to: acme.acme_resolve_to,
            });
        if let Some(url) = &edge_args.public_url {
            service = service.with_public_url(url)?;
        }
        service = service.with_acme_hosts(acme_hosts(edge_args));
        let service = Arc::new(service);
        bootstrap_admin(&service, &dir).await?;
        tokio::spawn(maintain_status(Arc::clone(&service)));
        let tls = match &server_key {
            Some(key) => {
                let tls = server_config(&service, key).await?;
                tokio::spawn(keep_renewed(
                    Arc::clone(&service),
                    clone_key(key),
                    Arc::clone(&tls.certificate),
                ));
                Some(tls.config)
            }
            None => None,
        };
        let app = router(Arc::new(Edge {
            service: Arc::clone(&service),
            limiter: limiter(edge_args),
        }));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError::new(Code::Io, format!("cannot listen on {listen}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| {
            CliError::new(Code::Io, format!("cannot read the listening address: {e}"))
        })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!("CA certificate: {}", dir.chain_path().display());
        if tls.is_none() {
            eprintln!("warning: plain HTTP: every caller is anonymous (public endpoints only)");
        }
        // Handlers before the announcement: once a supervisor reads it, a
        // SIGTERM stops the service gracefully, never by default action.
        let stop = shutdown();
        eprintln!("symbolon serving on {scheme}://{addr}");
        edge::serve(listener, app, tls, stop)
            .await
            .map_err(|e| CliError::new(Code::Io, format!("the server failed: {e}")))?;
        registry.close().await;
        eprintln!("symbolon stopped");
        Ok(())
    })
}

/// The names ACME answers under: the service's TLS names (`--hostname`,
/// loopback by default) and its public URL's host.
fn acme_hosts(edge_args: &EdgeArgs) -> Vec<String> {
    let mut hosts: Vec<String> = if edge_args.hostnames.is_empty() {
        let names = ServiceNames::loopback();
        names
            .dns
            .into_iter()
            .chain(names.ips.iter().map(ToString::to_string))
            .collect()
    } else {
        edge_args.hostnames.clone()
    };
    if let Some(url) = &edge_args.public_url {
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        hosts.push(host.to_string());
    }
    hosts
}

/// Refuses rates that are not positive and plain HTTP beyond loopback.
fn check_edge(listen: &str, edge_args: &EdgeArgs) -> Result<(), CliError> {
    for (flag, rate) in [
        ("--rate-limit", edge_args.rate_limit),
        ("--anonymous-rate-limit", edge_args.anonymous_rate_limit),
    ] {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(CliError::new(
                Code::InvalidInput,
                format!("{flag} is requests a second: a positive number, not {rate}"),
            ));
        }
    }
    if edge_args.insecure_http && !loopback_only(listen)? {
        return Err(CliError::new(
            Code::InvalidInput,
            format!("refusing to serve plain HTTP on {listen}: without TLS nothing protects the requests or authenticates callers"),
        )
        .hint("listen on 127.0.0.1 (or ::1) with --insecure-http, or drop --insecure-http to serve HTTPS"));
    }
    Ok(())
}

/// The registry, with the log's tree and its object index brought up to
/// the audit log now, in bounded transactions, not inside the first
/// request's (a registry from before them).
async fn open_registry(url: &str) -> Result<Registry, CliError> {
    let registry = Registry::open(url).await?;
    let caught_up = registry.catch_up_log().await?;
    if caught_up > 0 {
        tracing::info!(
            entries = caught_up,
            "the transparency log's tree caught up with the audit log"
        );
    }
    registry.index_log().await?;
    Ok(registry)
}

/// The edge's rate limits: bursts of two seconds' worth, and never less
/// than one request.
fn limiter(edge_args: &EdgeArgs) -> RateLimiter {
    RateLimiter::new(
        Limit {
            per_second: edge_args.rate_limit,
            burst: (edge_args.rate_limit * 2.0).max(1.0),
        },
        Limit {
            per_second: edge_args.anonymous_rate_limit,
            burst: (edge_args.anonymous_rate_limit * 2.0).max(1.0),
        },
    )
}

/// How often the CRL, the OCSP responder's certificate and its cached
/// answers are looked at (each is renewed well before its end).
const MAINTENANCE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Keeps the published status fresh for as long as the service runs: the
/// first run at start (a CRL and a responder certificate exist before the
/// first request), then every few minutes. A failure is logged and retried
/// at the next run.
async fn maintain_status(service: Arc<CaService>) {
    let mut every = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        every.tick().await;
        if let Err(e) = service.maintain_status().await {
            tracing::error!(error = %e, "cannot refresh the CRL or the OCSP responder");
        }
    }
}

fn clone_key(key: &ServerKey) -> ServerKey {
    match key {
        ServerKey::Own(n) => ServerKey::Own(n.clone()),
        ServerKey::InProcess(n) => ServerKey::InProcess(n.clone()),
        ServerKey::Given { chain, token, slot } => ServerKey::Given {
            chain: chain.clone(),
            token: Arc::clone(token),
            slot: slot.clone(),
        },
    }
}

/// The server's key: the operator's (`--tls-cert`, `--tls-key`) or the
/// service's own for the `--hostname` names.
fn server_key(args: &EdgeArgs) -> Result<ServerKey, CliError> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let chain = symbolon_server::read_chain(cert)?;
            let token: Arc<dyn Token + Send + Sync> =
                Arc::from(TokenSpec::parse(key, None)?.open()?);
            Ok(ServerKey::Given {
                chain,
                token,
                slot: SlotName::new(&args.tls_key_slot)?,
            })
        }
        _ if args.hostnames.is_empty() => Ok(ServerKey::Own(ServiceNames::loopback())),
        _ => Ok(ServerKey::Own(ServiceNames::parse(&args.hostnames)?)),
    }
}

/// The first admin's credential, made when the registry has none: a key in
/// a new soft token in the data directory, certified by this CA.
async fn bootstrap_admin(service: &CaService, dir: &DataDir) -> Result<(), CliError> {
    if service.registry().has_admin().await? {
        return Ok(());
    }
    let path = free_path(dir.path(), "admin");
    let slot = SlotName::new(DEFAULT_CREDENTIAL_SLOT)?;
    let (mut token, public) = tokio::task::spawn_blocking({
        let (path, slot) = (path.clone(), slot.clone());
        move || -> Result<_, CliError> {
            let mut t = init_token(&path, &default_sealing_key_path(&path), None)?;
            let public = t.generate(&slot, CREDENTIAL_ALGORITHM)?;
            Ok((t, public))
        }
    })
    .await
    .map_err(setup)??;
    certify_into(service, &mut token, &slot, &public, Role::Admin, "admin").await?;
    eprintln!(
        "created the first admin credential: {} (use --credential {}; grant roles with `symbolon admin grant`)",
        path.display(),
        path.display()
    );
    Ok(())
}

/// Has the CA certify `public` (the key in `slot` of `token`) as a
/// credential for `role` under `name`, without a code, and keeps the
/// certificate in the token beside the key.
async fn certify_into(
    service: &CaService,
    token: &mut dyn Token,
    slot: &SlotName,
    public: &symbolon::keys::RsaPublicKey,
    role: Role,
    name: &str,
) -> Result<(), CliError> {
    let name: PartyName = name.parse().map_err(setup)?;
    let issued = service
        .bootstrap_credential(role, &name, public, CREDENTIAL_VALIDITY)
        .await?;
    Credential::install(
        token,
        slot,
        &chain_pem(&issued.certificate, service.chain()),
    )?;
    Ok(())
}

/// `DIR/NAME.token`, or `NAME-2.token`… if taken.
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(format!("{name}.token"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{name}-{n}.token")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// A leaf and the chain above it, PEM.
pub(crate) fn chain_pem(leaf: &[u8], chain: &[Vec<u8>]) -> String {
    let mut pem = symbolon::pem::encode("CERTIFICATE", leaf);
    for c in chain {
        pem.push_str(&symbolon::pem::encode("CERTIFICATE", c));
    }
    pem
}

/// Runs the CA of `data` inside this process on a loopback port (for
/// `issue --ca local:DIR`), over TLS, and returns a client that reaches it
/// as `credential` when the command line named one (an admin or officer of
/// this CA: `--credential DIR/admin.token`), else as a station credential of
/// this process's own (`local-station`, its key in memory only). The first
/// run creates the first admin's credential, as `serve` does. The service
/// lives as long as the client; the TLS certificate and the process's own
/// credential are valid for a day only, and the credential is revoked when
/// the client is dropped.
pub(crate) fn in_process(
    data: &Path,
    credential: Option<Credential>,
) -> Result<CaClient, CliError> {
    let dir = DataDir::new(data);
    let ca = dir.open()?;
    // The same registry `serve` would use: SYMBOLON_DATABASE, or the data directory's.
    let url = std::env::var("SYMBOLON_DATABASE").unwrap_or_else(|_| dir.database_url());
    let rt = super::runtime()?;
    let (service, tls, listener, credential, local) = rt.block_on(async {
        let registry = Registry::open(&url).await?;
        let service = Arc::new(CaService::new(ca, registry)?);
        bootstrap_admin(&service, &dir).await?;
        let tls = server_config(&service, &ServerKey::InProcess(ServiceNames::loopback())).await?;
        // The guard exists before the process's credential does, so a
        // failure from here on still revokes it.
        let mut local = InProcessCa {
            service: Arc::clone(&service),
            own_credential: None,
            runtime: tokio::runtime::Handle::current(),
        };
        let credential = match credential {
            Some(c) => c,
            None => {
                let (c, serial) = process_station(&service).await?;
                local.own_credential = Some(serial);
                c
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| CliError::new(Code::Io, format!("cannot listen on loopback: {e}")))?;
        Ok::<_, CliError>((service, tls, listener, credential, local))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::new(Code::Io, format!("cannot read the listening address: {e}")))?;
    let roots = PinnedRoots::from_der(service.chain().to_vec());
    let unlimited = Limit {
        per_second: 1e6,
        burst: 1e6,
    };
    let app = router(Arc::new(Edge {
        service,
        limiter: RateLimiter::new(unlimited, unlimited),
    }));
    std::thread::spawn(move || {
        rt.block_on(async move {
            let never = std::future::pending::<()>();
            if let Err(e) = edge::serve(listener, app, Some(tls.config), never).await {
                tracing::error!(error = %e, "the in-process CA stopped");
            }
        });
    });
    CaClient::in_process(&format!("https://{addr}"), &roots, &credential, local)
}

/// A station credential for this process (`local-station`): a key made in
/// a token in memory, certified for a day.
async fn process_station(service: &CaService) -> Result<(Credential, CertificateSerial), CliError> {
    let slot = SlotName::new(DEFAULT_CREDENTIAL_SLOT)?;
    let mut token = SoftToken::create(MemoryStore::default(), SealingKey::generate()?)?;
    let public = token.generate(&slot, CREDENTIAL_ALGORITHM)?;
    let name: PartyName = symbolon::access::LOCAL_STATION.parse().map_err(setup)?;
    let issued = service
        .bootstrap_credential(Role::Station, &name, &public, IN_PROCESS_VALIDITY)
        .await?;
    Credential::install(
        &mut token,
        &slot,
        &chain_pem(&issued.certificate, service.chain()),
    )?;
    Ok((Credential::open(Arc::new(token), &slot)?, issued.serial))
}

/// The CA a command runs inside itself (`--ca local:DIR`). Dropping it
/// revokes the command's own station credential, whose key existed only in
/// this process: no live station is left behind that nobody can use or
/// account for.
pub(crate) struct InProcessCa {
    service: Arc<CaService>,
    own_credential: Option<CertificateSerial>,
    runtime: tokio::runtime::Handle,
}

impl Drop for InProcessCa {
    fn drop(&mut self) {
        let Some(serial) = self.own_credential.take() else {
            return;
        };
        let (service, runtime) = (Arc::clone(&self.service), self.runtime.clone());
        // On a thread of its own: the client may be dropped inside another
        // runtime, where blocking on this one is not allowed.
        let revoked = std::thread::spawn(move || {
            runtime.block_on(async { service.revoke_credential(&serial).await.map(|()| serial) })
        })
        .join();
        match revoked {
            Ok(Ok(serial)) => tracing::debug!(%serial, "revoked this command's station credential"),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot revoke this command's station credential; it expires within a day"),
            Err(_) => tracing::warn!("the revocation of this command's station credential failed; it expires within a day"),
        }
    }
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight. The
/// handlers are installed when this is called (not when the future is
/// first polled), so a signal from then on is never lost.
fn shutdown() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
            match s {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(interrupt) => {}
            _ = wait(term) => {}
        }
    }
}
