//! Certificates the CA issues to its own delegates (docs/revocation.md):
//! the OCSP responder and the response signer. One path for both: signed
//! inside the CA token off the async threads, back-dated a minute for
//! clocks a little behind, and recorded in the audit log (every
//! certificate the CA key signs is there).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use symbolon::ca::CaError;
use symbolon::x509::{issue_delegate, parse_certificate, random_serial, Delegation};
use symbolon_store::AuditKind;

use crate::{CaService, ServiceError};

/// A delegate's certificate.
#[derive(Debug, Clone)]
pub struct DelegateCertificate {
    /// DER.
    pub der: Vec<u8>,
    /// Its serial, hex.
    pub serial: String,
    /// Its end (Unix seconds).
    pub not_after: i64,
}

impl CaService {
    /// Certifies `spki_der` for `delegation`, valid for `length`, and
    /// audits it.
    pub(crate) async fn certify_delegate(
        &self,
        delegation: Delegation,
        spki_der: Vec<u8>,
        length: Duration,
    ) -> Result<DelegateCertificate, ServiceError> {
        let (token, issuer, slot, signer) = (
            Arc::clone(&self.token),
            self.issuer.clone(),
            self.slot.clone(),
            self.signer.clone(),
        );
        let der = self
            .cpu
            .signing
            .run(move || {
                let serial = random_serial().map_err(|e| CaError::Internal(e.to_string()))?;
                let not_before = std::time::SystemTime::now() - Duration::from_secs(60);
                issue_delegate(
                    delegation,
                    &issuer,
                    &signer,
                    serial,
                    &spki_der,
                    not_before,
                    length,
                    |r| token.sign_request(&slot, r),
                )
                .map_err(|e| {
                    CaError::Internal(format!("cannot certify the CA's {delegation:?} key: {e}"))
                })
            })
            .await
            .map_err(|e| CaError::Internal(format!("delegate certification task: {e}")))??;
        let cert = parse_certificate(&der).map_err(|e| CaError::Internal(e.to_string()))?;
        let not_after = symbolon::x509::not_after_unix(&cert);
        let serial = symbolon::x509::serial_hex(&cert);
        let digest = hex::encode(
            symbolon::keys::MessageDigest::of(symbolon::keys::HashAlgorithm::Sha256, &der)
                .as_bytes(),
        );
        let kind = match delegation {
            Delegation::OcspSigning => AuditKind::ResponderCertified,
            Delegation::ResponseSigning => AuditKind::ResponseSignerCertified,
        };
        self.audit(
            kind,
            json!({ "serial": serial, "not_after": not_after, "sha256": digest }),
        )
        .await?;
        Ok(DelegateCertificate {
            der,
            serial,
            not_after,
        })
    }
}
