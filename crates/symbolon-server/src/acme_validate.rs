//! The validation client of ACME (docs/acme.md): fetches a challenge's
//! answer from the host an identifier names: `http-01` over plain HTTP
//! (RFC 8555 §8.3: `/.well-known/acme-challenge/TOKEN` on port 80; no
//! redirect followed), `tls-alpn-01` over TLS with ALPN `acme-tls/1` and
//! the name as SNI (RFC 8737 §3, port 443). The answer is judged by
//! `symbolon::acme::challenge`. For tests on one machine the ports and the
//! address names resolve to can be set (`--acme-resolve-to`, as Pebble
//! allows); a service facing the Internet leaves them alone.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use symbolon::acme::challenge::{check_http01, check_tls_alpn01, ACME_TLS_ALPN, MAX_HTTP01_BODY};
use symbolon::acme::{ChallengeType, Problem, ProblemType};
use symbolon::x509::DnsName;

/// How long one validation may take, connection to judgement.
pub const VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Where validations connect.
#[derive(Debug, Clone)]
pub struct AcmeValidation {
    /// http-01's port (80).
    pub http_port: u16,
    /// tls-alpn-01's port (443).
    pub tls_port: u16,
    /// Every name resolves to this address instead of through DNS (tests
    /// on one machine).
    pub resolve_to: Option<IpAddr>,
}

impl Default for AcmeValidation {
    fn default() -> Self {
        Self {
            http_port: 80,
            tls_port: 443,
            resolve_to: None,
        }
    }
}

fn connection(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::Connection, detail)
}

impl AcmeValidation {
    /// Validates the challenge of `kind` for `domain`: its answer must be
    /// `key_authorization`.
    pub async fn validate(
        &self,
        kind: ChallengeType,
        domain: &DnsName,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), Problem> {
        let run = async {
            match kind {
                ChallengeType::Http01 => self.http01(domain, token, key_authorization).await,
                ChallengeType::TlsAlpn01 => self.tls_alpn01(domain, key_authorization).await,
            }
        };
        match tokio::time::timeout(VALIDATION_TIMEOUT, run).await {
            Ok(r) => r,
            Err(_) => Err(connection(format!(
                "{kind} validation of {domain} took over {} s",
                VALIDATION_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn address(&self, domain: &DnsName, port: u16) -> Result<SocketAddr, Problem> {
        if let Some(ip) = self.resolve_to {
            return Ok(SocketAddr::new(ip, port));
        }
        tokio::net::lookup_host((domain.as_str(), port))
            .await
            .map_err(|e| {
                Problem::new(
                    ProblemType::Connection,
                    format!("{domain} does not resolve: {e}"),
                )
            })?
            .next()
            .ok_or_else(|| connection(format!("{domain} has no address")))
    }

    async fn connect(&self, domain: &DnsName, port: u16) -> Result<tokio::net::TcpStream, Problem> {
        let addr = self.address(domain, port).await?;
        tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| connection(format!("cannot connect to {domain} at {addr}: {e}")))
    }

    async fn http01(&self, domain: &DnsName, token: &str, expected: &str) -> Result<(), Problem> {
        let stream = self.connect(domain, self.http_port).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| connection(format!("HTTP to {domain}: {e}")))?;
        let driver = tokio::spawn(conn);
        let host = if self.http_port == 80 {
            domain.to_string()
        } else {
            format!("{domain}:{}", self.http_port)
        };
        let request = hyper::Request::get(format!("/.well-known/acme-challenge/{token}"))
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "symbolon-acme-validation")
            .header(hyper::header::CONNECTION, "close")
            .body(Body::empty())
            .map_err(|e| Problem::new(ProblemType::ServerInternal, e.to_string()))?;
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| connection(format!("HTTP to {domain}: {e}")));
        let result = match answer {
            Ok(response) if response.status() == hyper::StatusCode::OK => {
                let body = axum::body::to_bytes(Body::new(response.into_body()), MAX_HTTP01_BODY)
                    .await
                    .map_err(|_| {
                        Problem::new(
                            ProblemType::IncorrectResponse,
                            format!("{domain}'s http-01 answer is over {MAX_HTTP01_BODY} bytes or cut short"),
                        )
                    });
                body.and_then(|b| check_http01(&b, expected))
            }
            Ok(response) => Err(Problem::new(
                ProblemType::IncorrectResponse,
                format!(
                    "{domain} answered the http-01 request with HTTP {} (this service follows no redirects)",
                    response.status().as_u16()
                ),
            )),
            Err(p) => Err(p),
        };
        driver.abort();
        result
    }

    async fn tls_alpn01(&self, domain: &DnsName, expected: &str) -> Result<(), Problem> {
        let stream = self.connect(domain, self.tls_port).await?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Problem::new(ProblemType::ServerInternal, e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate))
            .with_no_client_auth();
        config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
        let name = ServerName::try_from(domain.to_string())
            .map_err(|e| Problem::new(ProblemType::Malformed, e.to_string()))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
            .map_err(|e| Problem::new(ProblemType::Tls, format!("TLS to {domain}: {e}")))?;
        let (_, conn) = tls.get_ref();
        if conn.alpn_protocol() != Some(ACME_TLS_ALPN) {
            return Err(Problem::new(
                ProblemType::Tls,
                format!("{domain} did not agree to the acme-tls/1 protocol (ALPN)"),
            ));
        }
        let cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| {
                Problem::new(ProblemType::Tls, format!("{domain} showed no certificate"))
            })?;
        check_tls_alpn01(cert.as_ref(), domain.as_str(), expected)
    }
}

/// Accepts whatever certificate the host shows (tls-alpn-01's is
/// self-signed, with a critical extension no TLS library knows, and is
/// judged afterwards by its contents); the handshake's signature is still
/// checked against the certificate's key, so the host holds the key it
/// shows.
#[derive(Debug)]
struct AnyCertificate;

/// The handshake signature checked with the key of `cert`, read without a
/// path-validation library (which refuses the acmeIdentifier extension).
fn handshake_signature(
    cert: &CertificateDer<'_>,
    message: &[u8],
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    use aws_lc_rs::signature as sig;
    use x509_cert::der::Decode;
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    let parsed = x509_cert::Certificate::from_der(cert.as_ref()).map_err(|_| bad())?;
    let key = parsed
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    let algorithm: &dyn sig::VerificationAlgorithm = match dss.scheme {
        SignatureScheme::ECDSA_NISTP256_SHA256 => &sig::ECDSA_P256_SHA256_ASN1,
        SignatureScheme::ECDSA_NISTP384_SHA384 => &sig::ECDSA_P384_SHA384_ASN1,
        SignatureScheme::ED25519 => &sig::ED25519,
        SignatureScheme::RSA_PSS_SHA256 => &sig::RSA_PSS_2048_8192_SHA256,
        SignatureScheme::RSA_PSS_SHA384 => &sig::RSA_PSS_2048_8192_SHA384,
        SignatureScheme::RSA_PSS_SHA512 => &sig::RSA_PSS_2048_8192_SHA512,
        SignatureScheme::RSA_PKCS1_SHA256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        SignatureScheme::RSA_PKCS1_SHA384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        SignatureScheme::RSA_PKCS1_SHA512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        _ => {
            return Err(rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::NoSignatureSchemesInCommon,
            ))
        }
    };
    sig::UnparsedPublicKey::new(algorithm, key)
        .verify(message, dss.signature())
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(|_| bad())
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        handshake_signature(cert, message, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 signs with PSS or ECDSA/EdDSA only.
        if matches!(
            dss.scheme,
            SignatureScheme::RSA_PKCS1_SHA256
                | SignatureScheme::RSA_PKCS1_SHA384
                | SignatureScheme::RSA_PKCS1_SHA512
        ) {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        handshake_signature(cert, message, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::ED25519,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PSS_SHA512,
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::RSA_PKCS1_SHA512,
        ]
    }
}
