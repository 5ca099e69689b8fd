//! A registration: a registration officer's record that a subscriber was
//! vetted through a channel other than the request (patent FIG. 6 step 423:
//! the personal data received directly from the user, checked against a
//! passport, a resident card, a driver's licence). It names the canonical
//! subject, the certificate roles, the vetted alternative names, the
//! evidence seen, how long it stays live and how many issuances it covers.

use serde::{Deserialize, Serialize};

use super::VettingError;
use crate::x509::CertificateRole;

/// Longest evidence text, in bytes.
pub const MAX_EVIDENCE: usize = 1024;
/// Longest life of a registration.
pub const MAX_VALIDITY_SECS: u64 = 365 * 86_400;
/// Most issuances one registration covers.
pub const MAX_USES: u32 = 10_000;

random_id!(
    /// A registration's id: 128 random bits, shown as 32 hex digits.
    RegistrationId,
    "a registration id",
    VettingError,
    invalid: VettingError::Invalid,
    internal: VettingError::Internal,
);

impl Serialize for RegistrationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RegistrationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What the officer saw, in words: non-empty, at most [`MAX_EVIDENCE`]
/// bytes, no control characters (it is shown in listings and logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Evidence(String);

impl Evidence {
    /// Checks `text`.
    pub fn new(text: &str) -> Result<Self, VettingError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VettingError::Invalid(
                "--evidence: say what was checked (e.g. 'passport X1234567, seen in person')"
                    .into(),
            ));
        }
        if text.len() > MAX_EVIDENCE {
            return Err(VettingError::Invalid(format!(
                "--evidence: at most {MAX_EVIDENCE} bytes (got {})",
                text.len()
            )));
        }
        if text
            .chars()
            .any(|c| c.is_control() || crate::x509::is_invisible(c))
        {
            return Err(VettingError::Invalid(
                "--evidence: no control or invisible formatting characters (newlines, tabs, zero-width, bidirectional overrides)".into(),
            ));
        }
        Ok(Self(text.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registration's life as people write it (`30d`, `12h`, `90m`,
/// `3600s`; see [`crate::duration::parse`]): 1 second to 365 days.
pub fn parse_duration(text: &str) -> Result<u64, VettingError> {
    let secs = crate::duration::parse(text).ok_or_else(|| {
        VettingError::Invalid(format!(
            "{text:?}: write a duration such as 30d, 12h or 90m"
        ))
    })?;
    if secs == 0 || secs > MAX_VALIDITY_SECS {
        return Err(VettingError::Invalid(format!(
            "{text:?}: a registration lives between 1 second and 365 days"
        )));
    }
    Ok(secs)
}

/// Checks a number of uses.
pub fn check_uses(uses: u32) -> Result<u32, VettingError> {
    if uses == 0 || uses > MAX_USES {
        return Err(VettingError::Invalid(format!(
            "--uses: between 1 and {MAX_USES} issuances, not {uses}"
        )));
    }
    Ok(uses)
}

/// A registration's roles: at least one, each once, in a stable order.
pub fn check_roles(mut roles: Vec<CertificateRole>) -> Result<Vec<CertificateRole>, VettingError> {
    roles.sort_by_key(|r| r.to_string());
    roles.dedup();
    if roles.is_empty() {
        return Err(VettingError::Invalid(
            "--roles: name at least one certificate role".into(),
        ));
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("90m").unwrap(), 5400);
        for bad in [
            "",
            "d",
            "30",
            "0d",
            "366d",
            "1y",
            "-1d",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(check_uses(0).is_err());
        assert!(check_uses(MAX_USES + 1).is_err());
        assert!(Evidence::new("  ").is_err());
        assert!(Evidence::new("seen\nin person").is_err());
        assert!(Evidence::new(&"x".repeat(MAX_EVIDENCE + 1)).is_err());
        assert_eq!(
            Evidence::new(" passport X1 ").unwrap().as_str(),
            "passport X1"
        );
        use CertificateRole::{DocumentSigning, Email};
        assert_eq!(
            check_roles(vec![Email, DocumentSigning, Email]).unwrap(),
            [DocumentSigning, Email]
        );
        assert!(check_roles(Vec::new()).is_err());
        let id = RegistrationId::random().unwrap();
        assert_eq!(id.to_string().parse::<RegistrationId>().unwrap(), id);
        assert!("xyz".parse::<RegistrationId>().is_err());
    }
}
