//! The service's TLS (docs/access.md): rustls on aws-lc-rs, TLS 1.3 and
//! 1.2 with the provider's default suites (AEAD only, forward secret; no
//! legacy). The server key is either a key of the service's own, made at
//! start in a token held only in this process's memory, certified by this
//! CA and renewed before it expires; or an operator's certificate with its
//! key in a token (file, agent, `pkcs11:`). Client certificates are
//! optional at the handshake (anonymous callers reach the public
//! endpoints); a presented one must chain to this CA.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use symbolon::keys::RsaAlgorithm;
use symbolon::token::{MemoryStore, SealingKey, SlotName, SoftToken, Token};
use symbolon_token::tls::{SharedToken, TokenSigningKey};

use crate::credentials::{IN_PROCESS_VALIDITY, TLS_VALIDITY};
use crate::{CaService, ServiceError};

/// The names the service's certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNames {
    /// DNS names.
    pub dns: Vec<String>,
    /// IP addresses.
    pub ips: Vec<IpAddr>,
}

impl ServiceNames {
    /// From `--hostname` values: each an IP address or a DNS name.
    pub fn parse(names: &[String]) -> Result<Self, ServiceError> {
        let mut out = Self {
            dns: Vec::new(),
            ips: Vec::new(),
        };
        for n in names {
            match n.parse::<IpAddr>() {
                Ok(ip) => out.ips.push(ip),
                Err(_) => {
                    let ok = !n.is_empty()
                        && n.len() <= 253
                        && n.split('.').all(|l| {
                            !l.is_empty()
                                && l.len() <= 63
                                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        });
                    if !ok {
                        return Err(ServiceError::Setup(format!(
                            "--hostname {n:?} is neither an IP address nor a DNS name"
                        )));
                    }
                    out.dns.push(n.to_ascii_lowercase());
                }
            }
        }
        Ok(out)
    }

    /// The default: `localhost`, 127.0.0.1 and ::1.
    pub fn loopback() -> Self {
        Self {
            dns: vec!["localhost".into()],
            ips: vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            ],
        }
    }
}

/// The provider every TLS config here uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The server certificate in use, swapped on renewal.
#[derive(Debug)]
pub struct ServerCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServerCertificate {
    fn new(key: CertifiedKey) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(Arc::new(key)),
        })
    }

    fn replace(&self, key: CertifiedKey) {
        let mut w = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *w = Arc::new(key);
    }

    fn get(&self) -> Arc<CertifiedKey> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// When the certificate in use expires.
    pub fn not_after(&self) -> Option<SystemTime> {
        let key = self.get();
        let der = key.cert.first()?;
        let cert = symbolon::x509::parse_certificate(der).ok()?;
        Some(cert.tbs_certificate().validity().not_after.to_system_time())
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

fn certified(
    token: SharedToken,
    slot: SlotName,
    leaf: Vec<u8>,
    chain: &[Vec<u8>],
) -> Result<CertifiedKey, ServiceError> {
    let public = token.public_key(&slot)?;
    let mut certs = vec![CertificateDer::from(leaf)];
    certs.extend(chain.iter().cloned().map(CertificateDer::from));
    Ok(CertifiedKey::new(
        certs,
        Arc::new(TokenSigningKey::new(token, slot, public)),
    ))
}

/// A new key of the service's own, in a token that lives in this
/// process's memory only (never written anywhere), and its certificate.
async fn own_identity(
    service: &CaService,
    names: &ServiceNames,
    validity: Duration,
) -> Result<CertifiedKey, ServiceError> {
    let slot = SlotName::new("tls")?;
    let (token, public) = tokio::task::spawn_blocking({
        let slot = slot.clone();
        move || -> Result<_, ServiceError> {
            let mut t = SoftToken::create(MemoryStore::default(), SealingKey::generate()?)?;
            let public = t.generate(&slot, RsaAlgorithm::Rsa3072)?;
            Ok((t, public))
        }
    })
    .await
    .map_err(|e| ServiceError::Setup(format!("TLS key task: {e}")))??;
    let issued = service
        .issue_service_certificate(&public, &names.dns, &names.ips, validity)
        .await?;
    let token: SharedToken = Arc::new(token);
    certified(token, slot, issued.certificate, service.chain())
}

/// Where the server's certificate comes from.
pub enum ServerKey {
    /// A key of the service's own, certified by this CA, renewed by it.
    Own(ServiceNames),
    /// A key of a CA run inside one command (`--ca local:DIR`): certified
    /// for [`IN_PROCESS_VALIDITY`], never renewed.
    InProcess(ServiceNames),
    /// An operator's certificate chain (leaf first) and the token slot
    /// holding its key.
    Given {
        /// Leaf first.
        chain: Vec<Vec<u8>>,
        /// The token.
        token: SharedToken,
        /// The slot.
        slot: SlotName,
    },
}

/// The TLS configuration and the certificate it serves.
pub struct ServiceTls {
    /// For the acceptor.
    pub config: Arc<ServerConfig>,
    /// The certificate in use.
    pub certificate: Arc<ServerCertificate>,
}

/// Builds the server's TLS configuration.
pub async fn server_config(
    service: &CaService,
    key: &ServerKey,
) -> Result<ServiceTls, ServiceError> {
    let certified_key = match key {
        ServerKey::Own(names) => own_identity(service, names, TLS_VALIDITY).await?,
        ServerKey::InProcess(names) => own_identity(service, names, IN_PROCESS_VALIDITY).await?,
        ServerKey::Given { chain, token, slot } => {
            let (leaf, rest) = chain
                .split_first()
                .ok_or_else(|| ServiceError::Setup("--tls-cert holds no certificate".into()))?;
            let cert = symbolon::x509::parse_certificate(leaf)
                .map_err(|e| ServiceError::Setup(format!("--tls-cert: {e}")))?;
            let key = symbolon::x509::certificate_key(&cert)
                .map_err(|e| ServiceError::Setup(format!("--tls-cert: {e}")))?;
            if key != token.public_key(slot)? {
                return Err(ServiceError::Setup(
                    "--tls-cert certifies another key than the one in --tls-key".into(),
                ));
            }
            certified(Arc::clone(token), slot.clone(), leaf.clone(), rest)?
        }
    };
    let certificate = ServerCertificate::new(certified_key);
    let mut roots = RootCertStore::empty();
    for der in service.chain() {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| ServiceError::Setup(format!("the CA certificate as a TLS root: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| ServiceError::Setup(format!("client verifier: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ServiceError::Setup(format!("TLS versions: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::clone(&certificate) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServiceTls {
        config: Arc::new(config),
        certificate,
    })
}

/// How often the certificate's remaining life is checked.
const RENEWAL_CHECK: Duration = Duration::from_secs(3600);

/// Renews the service's own certificate (a new key each time) when a third
/// of its life is left; runs for the life of the service. An operator's
/// certificate is only watched: a warning a day from 30 days before expiry.
pub async fn keep_renewed(
    service: Arc<CaService>,
    key: ServerKey,
    certificate: Arc<ServerCertificate>,
) {
    let mut tick = tokio::time::interval(RENEWAL_CHECK);
    loop {
        tick.tick().await;
        let left = certificate
            .not_after()
            .and_then(|t| t.duration_since(SystemTime::now()).ok())
            .unwrap_or_default();
        match &key {
            ServerKey::Own(names) if left < TLS_VALIDITY / 3 => {
                match own_identity(&service, names, TLS_VALIDITY).await {
                    Ok(k) => {
                        certificate.replace(k);
                        tracing::info!("renewed the service's TLS certificate");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot renew the TLS certificate; retrying in an hour")
                    }
                }
            }
            ServerKey::Given { .. } if left < Duration::from_secs(30 * 86_400) => {
                tracing::warn!(days = left.as_secs() / 86_400, "the TLS certificate given with --tls-cert expires soon; replace it and restart");
            }
            _ => {}
        }
    }
}
