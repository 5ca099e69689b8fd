//! The roles a credential carries, and their certificate purposes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::AccessError;
use crate::x509::{has_extended_key_usage, Certificate};

/// The arc under which symbolon's role purposes live: a UUID OID (ITU-T
/// X.667, 2.25, which needs no registration),
/// 2.25.272476314628750428015435804461020257927; role *n* is arc *n* under
/// it. This is the DER of the arc without its tag and length; a role's OID
/// appends one byte.
pub const ROLE_PURPOSE_ARC: &[u8] = &[
    0x69, 0x83, 0x99, 0xfd, 0x83, 0xe0, 0xeb, 0x96, 0x8a, 0x99, 0x95, 0xba, 0x83, 0xa4, 0xf6, 0x97,
    0xd8, 0x82, 0xbd, 0x07,
];

/// What an authenticated caller may do (the table in docs/access.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Grants and removes roles.
    Admin,
    /// Vets subscribers and registers their devices.
    RegistrationOfficer,
    /// An issuance station: reserves keys, certifies, reports deliveries,
    /// deposits escrows, requests and completes recoveries.
    Station,
    /// An arbitrator: registers itself and decides on recovery requests,
    /// only under its own name.
    Arbitrator,
    /// Reads the audit log and the registry.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::RegistrationOfficer,
        Role::Station,
        Role::Arbitrator,
        Role::Auditor,
    ];

    /// The name used on the command line, in the API and in the audit log.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::RegistrationOfficer => "registration-officer",
            Role::Station => "station",
            Role::Arbitrator => "arbitrator",
            Role::Auditor => "auditor",
        }
    }

    const fn arc(self) -> u8 {
        match self {
            Role::Admin => 1,
            Role::RegistrationOfficer => 2,
            Role::Station => 3,
            Role::Arbitrator => 4,
            Role::Auditor => 5,
        }
    }

    /// The DER of this role's extended-key-usage OID, which a credential's
    /// certificate carries beside clientAuth.
    pub fn purpose(self) -> Vec<u8> {
        let mut der = vec![0x06, (ROLE_PURPOSE_ARC.len() + 1) as u8];
        der.extend_from_slice(ROLE_PURPOSE_ARC);
        der.push(self.arc());
        der
    }

    /// The one role a certificate's purposes name; none, or more than one,
    /// is no role.
    pub fn of_certificate(cert: &Certificate) -> Option<Role> {
        let mut found = Role::ALL
            .into_iter()
            .filter(|r| has_extended_key_usage(cert, &r.purpose()));
        match (found.next(), found.next()) {
            (Some(r), None) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| AccessError::UnknownRole(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_purposes_are_distinct_oids() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>().unwrap(), r);
            let p = r.purpose();
            // A well-formed OID: tag, length, then the content.
            assert_eq!(p[0], 0x06);
            assert_eq!(usize::from(p[1]), p.len() - 2);
            assert!(seen.insert(p));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }
}
