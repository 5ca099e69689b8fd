//! What the CA knows about a registered device (patent FIG. 10, the device
//! secret ID): who vouched for its key when it was registered, and whether
//! a manufacturer's certificate chain backs it. Attestations the device
//! signs are worth what this evidence is worth.

use serde::Serialize;

use crate::keys::{Fingerprint, IdentityPublicKey};

/// Why the CA believes a device key lives in a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DeviceEvidence {
    /// A station or registration officer registered it through its own
    /// authenticated connection (it initialised or received the device).
    Vouched {
        /// The party that vouched.
        by: String,
        /// Its role.
        role: String,
    },
    /// As `Vouched`, and the device key's certificate chains to a
    /// manufacturer root the admin trusts.
    Manufacturer {
        /// The party that registered it.
        by: String,
        /// The root's subject.
        root: String,
        /// The root key's fingerprint.
        root_key: Fingerprint,
    },
    /// Registered before devices were vouched for: no evidence.
    Unvouched,
}

impl DeviceEvidence {
    /// The short name (`vouched`, `manufacturer`, `unvouched`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Vouched { .. } => "vouched",
            Self::Manufacturer { .. } => "manufacturer",
            Self::Unvouched => "unvouched",
        }
    }

    /// Whether anyone vouched at all.
    pub fn is_vouched(&self) -> bool {
        !matches!(self, Self::Unvouched)
    }
}

/// A device as the CA's review sees it.
#[derive(Debug, Clone)]
pub struct RegisteredDevice {
    /// Its identity key (signs attestations).
    pub key: IdentityPublicKey,
    /// Why it is believed.
    pub evidence: DeviceEvidence,
}
