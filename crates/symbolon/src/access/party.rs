//! The name a credential is bound to: an arbitrator's identifier, a
//! station's name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::AccessError;

/// A party's name: 1 to 64 characters of lower-case letters, digits, `-`,
/// `_` and `.`, starting with a letter or digit. The same shape as an
/// arbitrator identifier, so an arbitrator's credential name *is* its
/// identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartyName(String);

/// The station a command runs inside itself (`--ca local:DIR`).
pub const LOCAL_STATION: &str = "local-station";

/// Names the service uses for itself: never granted.
const RESERVED_NAMES: &[&str] = &[LOCAL_STATION];

impl PartyName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the service keeps this name for itself (the in-process
    /// station of `--ca local:DIR`): no grant may hand it out.
    pub fn is_reserved(&self) -> bool {
        RESERVED_NAMES.contains(&self.0.as_str())
    }
}

impl FromStr for PartyName {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, AccessError> {
        let bad = |reason| AccessError::BadName {
            name: s.chars().take(80).collect(),
            reason,
        };
        if s.is_empty() || s.len() > 64 {
            return Err(bad("1 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        {
            return Err(bad("only a-z, 0-9, '-', '_' and '.'"));
        }
        if !s.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(bad("must start with a letter or digit"));
        }
        Ok(Self(s.to_string()))
    }
}

impl TryFrom<String> for PartyName {
    type Error = AccessError;
    fn try_from(s: String) -> Result<Self, AccessError> {
        s.parse()
    }
}

impl From<PartyName> for String {
    fn from(n: PartyName) -> String {
        n.0
    }
}

impl fmt::Display for PartyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shapes() {
        for ok in ["st-1", "card-company", "a", "0.x_y"] {
            assert_eq!(ok.parse::<PartyName>().unwrap().as_str(), ok);
        }
        for bad in ["", "-x", "A", "a b", "é", &"x".repeat(65), "a/b", ".x"] {
            assert!(bad.parse::<PartyName>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn accepted_names_are_safe_in_paths_and_logs(s in "\\PC{0,70}") {
            if let Ok(n) = s.parse::<PartyName>() {
                prop_assert!(n.as_str().len() <= 64);
                prop_assert!(n.as_str().bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b'"'));
            }
        }
    }
}
