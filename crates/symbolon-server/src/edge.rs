//! The service's listener (docs/access.md): accepts TCP connections, runs
//! the TLS handshake (or, with `--insecure-http`, none: loopback only),
//! reads the client certificate once per connection, and serves HTTP/1.1
//! with timeouts, so a half-sent request cannot hold a connection open.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use symbolon::access::{PartyName, Role};
use symbolon::x509::parse_certificate;
use symbolon_store::CertificateSerial;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// The TLS handshake must finish within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A request's head must arrive within this (and an idle keep-alive
/// connection is closed after it).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;

/// What the handshake established about a connection's client.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// The certificate's serial.
    pub serial: CertificateSerial,
    /// The role its purposes name, if exactly one.
    pub role: Option<Role>,
    /// Its subject's common name, if it is a party name.
    pub name: Option<PartyName>,
}

impl PeerCertificate {
    /// Reads a client certificate rustls has verified.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let cert = parse_certificate(der).ok()?;
        let serial =
            CertificateSerial::from_bytes(cert.tbs_certificate().serial_number().as_bytes());
        let role = Role::of_certificate(&cert);
        let name = common_name(&cert).and_then(|cn| cn.parse().ok());
        Some(Self { serial, role, name })
    }
}

fn common_name(cert: &symbolon::x509::Certificate) -> Option<String> {
    let cn = cert.tbs_certificate().subject().common_name().ok()??;
    Some(cn.value().into_owned())
}

/// A connection, as handlers see it.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client's address.
    pub address: SocketAddr,
    /// Its certificate, if it presented one (TLS only).
    pub peer: Option<Arc<PeerCertificate>>,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: pause, don't spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%address, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%address, "TLS handshake timed out");
                            return;
                        }
                    };
                    let peer = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| PeerCertificate::from_der(c))
                        .map(Arc::new);
                    let conn = Connection { address, peer };
                    serve_connection(TokioIo::new(tls), app, conn, watcher).await;
                }
                None => {
                    let conn = Connection {
                        address,
                        peer: None,
                    };
                    serve_connection(TokioIo::new(stream), app, conn, watcher).await;
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn serve_connection<I>(
    io: I,
    app: Router,
    conn: Connection,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = tower::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(conn.clone());
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    let connection = builder.serve_connection(io, TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
