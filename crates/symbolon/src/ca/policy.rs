//! The CA's issuance policy.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::keys::weak::Effort;
use crate::keys::EcCurve;
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
    /// How hard the weak-key checks look for factors (docs/weak-keys.md):
    /// `standard` (every check, exact below 2^20, milliseconds) or `deep`
    /// (also Pollard's rho to 2^32 and beyond, seconds a key).
    #[serde(default)]
    pub weak_key_effort: Effort,
    /// Roles whose keys must be attested by a device whose key chains to a
    /// manufacturer root (docs/vetting.md); a vouching station is not
    /// enough for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manufacturer_evidence: Vec<CertificateRole>,
    /// The elliptic curves certified for a role; a role not listed takes
    /// [`default_curves`] (docs/ec-keys.md). An empty list certifies no EC
    /// key for that role.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub curves: BTreeMap<CertificateRole, Vec<EcCurve>>,
}

/// The curves a role takes unless the policy says otherwise: P-256 and
/// P-384 for every role; Ed25519 for all but `server`, which TLS clients
/// and the CA/Browser Forum's Baseline Requirements (§6.1.5) do not accept.
pub fn default_curves(role: CertificateRole) -> &'static [EcCurve] {
    match role {
        CertificateRole::Server => &[EcCurve::P256, EcCurve::P384],
        _ => &EcCurve::SIGNING,
    }
}

impl CaPolicy {
    /// The curves certified for `role`.
    pub fn curves_for(&self, role: CertificateRole) -> &[EcCurve] {
        self.curves
            .get(&role)
            .map_or_else(|| default_curves(role), Vec::as_slice)
    }
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
            weak_key_effort: Effort::Standard,
            manufacturer_evidence: Vec::new(),
            curves: BTreeMap::new(),
        }
    }
}
