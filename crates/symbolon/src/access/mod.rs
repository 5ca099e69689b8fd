//! Who may do what at the service (docs/access.md): the roles an operator
//! credential carries, the names credentials are bound to, the enrollment
//! codes that hand a role to a new credential, and the one table of which
//! role may call which endpoint.
//!
//! The patent's promise that one can "identify who committed the illegal act
//! from a third person's viewpoint" needs every state change to be
//! attributable: these types say to whom. Pure data and checks; the service
//! enforces them at its edge.

mod enrollment;
mod party;
mod role;
mod table;

pub use enrollment::{EabKey, EnrollmentCode, EnrollmentKey, ENROLLMENT_VALIDITY_SECS};
pub use party::{PartyName, LOCAL_STATION};
pub use role::{Role, ROLE_PURPOSE_ARC};
pub use table::{endpoint, endpoint_access, Access, Endpoint, Media, ENDPOINTS};

use thiserror::Error;

/// Why an access value is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AccessError {
    /// A role name that is not one of the roles.
    #[error(
        "unknown role {0:?}; roles: admin, registration-officer, station, arbitrator, auditor"
    )]
    UnknownRole(String),
    /// A party name outside the allowed shape.
    #[error("party name {name:?}: {reason}")]
    BadName {
        /// The name given (cut to 80 characters).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An enrollment code that is not one.
    #[error("an enrollment code is 32 characters of base32 in groups of four (as `admin grant` prints it)")]
    BadCode,
    /// The system's random source failed.
    #[error("the random number generator failed: {0}")]
    Random(String),
    /// The enrollment key file cannot be read.
    #[error("enrollment key file: {0}")]
    KeyFile(String),
}
