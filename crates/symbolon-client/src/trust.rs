//! The CA a client pins: the service's certificate must chain to it. There
//! is no fallback to the system's roots: a symbolon CA is its own root of
//! trust.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::ClientError;

/// The pinned CA certificates (the root, or the issuing CA).
#[derive(Debug, Clone)]
pub struct PinnedRoots {
    ders: Vec<Vec<u8>>,
}

impl PinnedRoots {
    /// Every certificate in a PEM file.
    pub fn from_pem_file(path: &Path) -> Result<Self, ClientError> {
        let text = std::fs::read(path)
            .map_err(|e| ClientError::Trust(format!("cannot read {}: {e}", path.display())))?;
        Self::from_pem(&text).map_err(|e| ClientError::Trust(format!("{}: {e}", path.display())))
    }

    /// Every certificate in PEM text.
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(text).map_err(|_| "not PEM text".to_string())?;
        let mut ders = Vec::new();
        for block in text.split_inclusive("-----END CERTIFICATE-----") {
            if !block.contains("-----BEGIN CERTIFICATE-----") {
                continue;
            }
            let (_, der) = symbolon::pem::decode(block.as_bytes(), &["CERTIFICATE"])
                .map_err(|e| e.to_string())?;
            ders.push(der);
        }
        if ders.is_empty() {
            return Err("holds no certificate".into());
        }
        Ok(Self { ders })
    }

    /// From DER certificates.
    pub fn from_der(ders: Vec<Vec<u8>>) -> Self {
        Self { ders }
    }

    pub(crate) fn ders(&self) -> &[Vec<u8>] {
        &self.ders
    }

    pub(crate) fn store(&self) -> Result<RootCertStore, ClientError> {
        let mut roots = RootCertStore::empty();
        for der in &self.ders {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| ClientError::Trust(format!("not a usable CA certificate: {e}")))?;
        }
        Ok(roots)
    }
}
