//! The CA's issuance policy.

use serde::{Deserialize, Serialize};

use crate::x509::CertificateRole;

/// What the CA issues and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaPolicy {
    /// Validity of issued certificates, in days.
    pub validity_days: u32,
    /// Roles the CA issues.
    pub roles: Vec<CertificateRole>,
    /// Require a token attestation for every request, not only server ones.
    pub require_attestation: bool,
}

impl Default for CaPolicy {
    fn default() -> Self {
        Self {
            validity_days: 365,
            roles: vec![
                CertificateRole::Client,
                CertificateRole::Email,
                CertificateRole::DocumentSigning,
                CertificateRole::Server,
                CertificateRole::PurchaseSigning,
            ],
            require_attestation: false,
        }
    }
}
