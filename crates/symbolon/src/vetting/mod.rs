//! Who may be certified as whom (patent FIG. 6 step 423, docs/vetting.md):
//! registrations of vetted subscribers made by registration officers
//! ([`registration`]), the name policies that let a station certify a
//! namespace without a registration per subject ([`policy`]), and the
//! manufacturer evidence that a device key lives in a device
//! ([`manufacturer`]). Pure: the registry keeps them, the service applies
//! them.

pub mod device;
pub mod manufacturer;
pub mod policy;
pub mod registration;

use thiserror::Error;

use crate::Code;

pub use device::{DeviceEvidence, RegisteredDevice};
pub use manufacturer::{verify_device_chain, ManufacturerRoot};
pub use policy::{CertName, NamePolicy, NamePolicyText, NameRule, Outside};
pub use registration::{check_roles, check_uses, parse_duration, Evidence, RegistrationId};

/// Why a vetting input was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VettingError {
    /// A field that does not parse or is out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// A name-policy rule that does not parse.
    #[error("name policy: {0}")]
    Rule(String),
    /// Device evidence that does not check out.
    #[error("device evidence refused: {0}")]
    Evidence(String),
    /// A failure of this process (randomness).
    #[error("internal: {0}")]
    Internal(String),
}

impl VettingError {
    /// A stable code.
    pub fn code(&self) -> Code {
        match self {
            Self::Invalid(_) | Self::Rule(_) => Code::InvalidInput,
            Self::Evidence(_) => Code::DeviceNotTrusted,
            Self::Internal(_) => Code::Internal,
        }
    }
}
