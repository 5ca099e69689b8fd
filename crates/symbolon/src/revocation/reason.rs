//! Why a certificate was revoked: RFC 5280 §5.3.1's CRLReason codes, as the
//! CLI, the API, the registry and the CRL spell them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::RevocationError;

/// An RFC 5280 revocation reason. `removeFromCRL` (8) is not a reason a
/// caller gives (it only appears in delta CRLs) and `aACompromise` (10)
/// concerns attribute authorities, which this CA is not; both are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RevocationReason {
    /// unspecified (0): no reason given. RFC 5280 recommends leaving the
    /// reasonCode extension out rather than writing this value.
    Unspecified,
    /// keyCompromise (1): the private key may be known to someone.
    KeyCompromise,
    /// cACompromise (2): the CA's own key.
    CaCompromise,
    /// affiliationChanged (3): the subject's name or affiliation changed.
    AffiliationChanged,
    /// superseded (4): replaced by another certificate.
    Superseded,
    /// cessationOfOperation (5): no longer needed.
    CessationOfOperation,
    /// certificateHold (6): suspended; the only reason that can be released.
    CertificateHold,
    /// privilegeWithdrawn (9): a privilege the certificate asserted is gone.
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// Every reason a caller may give.
    pub const ALL: [Self; 8] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::PrivilegeWithdrawn,
    ];

    /// RFC 5280's name (`keyCompromise`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }

    /// The CRLReason code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::PrivilegeWithdrawn => 9,
        }
    }

    /// The reason for a CRLReason code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Whether the revocation is for good: every reason but
    /// certificateHold.
    pub const fn is_final(self) -> bool {
        !matches!(self, Self::CertificateHold)
    }

    /// Whether a subscriber may give it for its own certificate (proving
    /// possession of the key): not a hold (it could not release it), not the
    /// CA's compromise, not a privilege the CA withdraws.
    pub const fn subscriber_may_give(self) -> bool {
        matches!(
            self,
            Self::Unspecified
                | Self::KeyCompromise
                | Self::AffiliationChanged
                | Self::Superseded
                | Self::CessationOfOperation
        )
    }

    pub(crate) fn crl_reason(self) -> x509_cert::ext::pkix::CrlReason {
        use x509_cert::ext::pkix::CrlReason as R;
        match self {
            Self::Unspecified => R::Unspecified,
            Self::KeyCompromise => R::KeyCompromise,
            Self::CaCompromise => R::CaCompromise,
            Self::AffiliationChanged => R::AffiliationChanged,
            Self::Superseded => R::Superseded,
            Self::CessationOfOperation => R::CessationOfOperation,
            Self::CertificateHold => R::CertificateHold,
            Self::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RevocationReason {
    type Err = RevocationError;
    /// RFC 5280's names, case-insensitively, with or without hyphens
    /// (`keyCompromise`, `key-compromise`).
    fn from_str(s: &str) -> Result<Self, RevocationError> {
        let folded: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        Self::ALL
            .into_iter()
            .find(|r| r.name().to_lowercase() == folded)
            .ok_or_else(|| {
                RevocationError::Invalid(format!(
                    "reason {s:?}; one of {}",
                    Self::ALL.map(Self::name).join(", ")
                ))
            })
    }
}

impl Serialize for RevocationReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for RevocationReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for r in RevocationReason::ALL {
            assert_eq!(r.name().parse::<RevocationReason>().unwrap(), r);
            assert_eq!(RevocationReason::from_code(r.code()), Some(r));
            assert_eq!(r.crl_reason() as u32, u32::from(r.code()));
        }
        assert_eq!(
            "key-compromise".parse::<RevocationReason>().unwrap(),
            RevocationReason::KeyCompromise
        );
        assert!("removeFromCRL".parse::<RevocationReason>().is_err());
        assert!("aACompromise".parse::<RevocationReason>().is_err());
        assert_eq!(RevocationReason::from_code(8), None);
        assert!(!RevocationReason::CertificateHold.is_final());
        assert!(RevocationReason::Superseded.is_final());
        assert!(!RevocationReason::CertificateHold.subscriber_may_give());
        assert!(!RevocationReason::CaCompromise.subscriber_may_give());
    }
}
