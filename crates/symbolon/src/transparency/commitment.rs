//! Salted commitments in log entries (docs/transparency.md §9): the fields
//! of an entry that can name a person — a certificate's subject and
//! alternative names, a free-text reason, a requester, an error message —
//! enter the tree as a commitment, so entries can be handed to anyone
//! (proofs, mirrors, evidence bundles) without naming a subscriber. The
//! opening (salt and value) is kept beside the entry, outside the tree, and
//! an evidence bundle carries it for whoever holds the bundle.
//!
//! `commitment = SHA-256(canonical("symbolon/commitment/v1", field, salt,
//! value))` with u32-length-prefixed strings and bytes, a 32-byte random
//! salt and `value` the field's JSON text: hiding (the salt is never
//! guessed), binding (SHA-256), and tied to the field's name so an opening
//! for one field never opens another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::encoding::Writer;

/// The domain label of a commitment.
pub const COMMITMENT_DOMAIN: &str = "symbolon/commitment/v1";

/// The top-level detail fields committed in every entry: names of
/// subscribers (a certificate's, a registration's, a name policy's
/// allowed and denied names) and free text that can hold them.
pub const COMMITTED_FIELDS: [&str; 7] = [
    "subject",
    "alt_names",
    "reason",
    "requester",
    "error",
    "allow",
    "deny",
];

/// The key a committed field's object holds its commitment under.
const COMMITMENT_KEY: &str = "commitment";

/// One field's opening: the salt and the value's JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// 32 bytes, lower-case hex.
    pub salt: String,
    /// The field's value as JSON text, exactly as committed.
    pub value: String,
}

/// An entry's openings, by field name.
pub type Openings = BTreeMap<String, Opening>;

/// Why a committed field does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitmentError {
    /// The detail is not a JSON object.
    #[error("the entry's detail is not a JSON object")]
    NotAnObject,
    /// An opening names a field the entry does not commit.
    #[error("field {0:?} is not committed in the entry")]
    NotCommitted(String),
    /// An opening is malformed (salt not 32 bytes of hex, value not JSON).
    #[error("the opening of {field:?} is malformed: {why}")]
    Malformed {
        /// Which field.
        field: String,
        /// What is wrong.
        why: String,
    },
    /// The opening does not give the committed hash.
    #[error("the opening of {0:?} does not match its commitment")]
    Mismatch(String),
}

/// The commitment to `value_json` as field `field` under `salt`.
pub fn commitment(field: &str, salt: &[u8; 32], value_json: &str) -> [u8; 32] {
    let mut w = Writer::with_domain(COMMITMENT_DOMAIN);
    w.str(field);
    w.bytes(salt);
    w.str(value_json);
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &w.into_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Replaces the committed fields of `detail` (a JSON object's text) by
/// their commitments, field `COMMITTED_FIELDS[i]` under `salts[i]` (fresh
/// random salts from the caller, which does the I/O). Returns the
/// detail the tree holds and the openings (`None` when no field was
/// committed). A detail that is not an object is returned as it is: the
/// log never writes one.
pub fn commit(
    detail: &str,
    salts: &[[u8; 32]; COMMITTED_FIELDS.len()],
) -> (String, Option<Openings>) {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(detail) else {
        return (detail.to_string(), None);
    };
    let mut openings = Openings::new();
    for (field, s) in COMMITTED_FIELDS.iter().zip(salts) {
        let Some(value) = map.get_mut(*field) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let text = value.to_string();
        let c = commitment(field, s, &text);
        *value = committed(&c);
        openings.insert(
            field.to_string(),
            Opening {
                salt: hex::encode(s),
                value: text,
            },
        );
    }
    if openings.is_empty() {
        return (detail.to_string(), None);
    }
    (Value::Object(map).to_string(), Some(openings))
}

fn committed(c: &[u8; 32]) -> Value {
    let mut m = Map::new();
    m.insert(COMMITMENT_KEY.into(), Value::String(hex::encode(c)));
    Value::Object(m)
}

/// The commitment a detail field holds, if it holds one.
fn commitment_in(value: &Value) -> Option<[u8; 32]> {
    let Value::Object(m) = value else { return None };
    if m.len() != 1 {
        return None;
    }
    let hex_text = m.get(COMMITMENT_KEY)?.as_str()?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).ok()?;
    Some(out)
}

/// `detail` with every opening checked against its commitment and put in
/// its place: what the entry says, in the clear.
pub fn open(detail: &str, openings: &Openings) -> Result<Value, CommitmentError> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(detail) else {
        return Err(CommitmentError::NotAnObject);
    };
    for (field, opening) in openings {
        let slot = map
            .get_mut(field)
            .ok_or_else(|| CommitmentError::NotCommitted(field.clone()))?;
        let want =
            commitment_in(slot).ok_or_else(|| CommitmentError::NotCommitted(field.clone()))?;
        let malformed = |why: &str| CommitmentError::Malformed {
            field: field.clone(),
            why: why.into(),
        };
        if opening.salt.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(malformed("the salt is not lower-case hex"));
        }
        let mut salt = [0u8; 32];
        hex::decode_to_slice(&opening.salt, &mut salt)
            .map_err(|_| malformed("the salt is not 32 bytes of hex"))?;
        let value: Value = serde_json::from_str(&opening.value)
            .map_err(|e| malformed(&format!("the value is not JSON ({e})")))?;
        let got = commitment(field, &salt, &opening.value);
        if !bool::from(got.ct_eq(&want)) {
            return Err(CommitmentError::Mismatch(field.clone()));
        }
        *slot = value;
    }
    Ok(Value::Object(map))
}

/// The fields of `detail` that hold a commitment.
pub fn committed_fields(detail: &str) -> Vec<String> {
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(map)) => map
            .iter()
            .filter(|(_, v)| commitment_in(v).is_some())
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counter() -> [[u8; 32]; COMMITTED_FIELDS.len()] {
        std::array::from_fn(|i| [0xa0 + i as u8; 32])
    }

    #[test]
    fn personal_fields_are_committed_and_open_again() {
        let detail =
            r#"{"serial":"01","subject":"CN=alice","alt_names":["email:a@x"],"role":"user"}"#;
        let (public, openings) = commit(detail, &counter());
        let openings = openings.unwrap();
        assert!(!public.contains("alice"), "{public}");
        assert!(public.contains("\"serial\":\"01\""));
        assert_eq!(committed_fields(&public), ["alt_names", "subject"]);
        assert_eq!(openings.len(), 2);
        let opened = open(&public, &openings).unwrap();
        assert_eq!(opened, serde_json::from_str::<Value>(detail).unwrap());
    }

    #[test]
    fn details_without_personal_fields_are_unchanged() {
        let detail = r#"{"serial":"01","by":{"name":"station-1"}}"#;
        assert_eq!(commit(detail, &counter()), (detail.to_string(), None));
        assert_eq!(commit("not json", &counter()).0, "not json");
        let null = r#"{"reason":null}"#;
        assert_eq!(commit(null, &counter()).1, None);
    }

    #[test]
    fn an_altered_opening_or_commitment_is_refused() {
        let (public, openings) = commit(r#"{"subject":"CN=alice","reason":"left"}"#, &counter());
        let openings = openings.unwrap();
        let mut other = openings.clone();
        other.get_mut("subject").unwrap().value = "\"CN=mallory\"".into();
        assert_eq!(
            open(&public, &other),
            Err(CommitmentError::Mismatch("subject".into()))
        );
        // One field's opening does not open another field.
        let mut swapped = openings.clone();
        let s = swapped["subject"].clone();
        swapped.insert("reason".into(), s);
        assert_eq!(
            open(&public, &swapped),
            Err(CommitmentError::Mismatch("reason".into()))
        );
        let mut salt = openings.clone();
        salt.get_mut("subject").unwrap().salt = "00".into();
        assert!(matches!(
            open(&public, &salt),
            Err(CommitmentError::Malformed { .. })
        ));
        let mut upper = openings.clone();
        let s = upper["subject"].salt.to_uppercase();
        upper.get_mut("subject").unwrap().salt = s;
        assert!(matches!(
            open(&public, &upper),
            Err(CommitmentError::Malformed { .. })
        ));
        let mut extra = openings;
        extra.insert(
            "serial".into(),
            Opening {
                salt: hex::encode([0u8; 32]),
                value: "1".into(),
            },
        );
        assert_eq!(
            open(&public, &extra),
            Err(CommitmentError::NotCommitted("serial".into()))
        );
    }

    #[test]
    fn the_commitment_is_pinned() {
        // A fixed vector, so the documented construction cannot drift.
        let c = commitment("subject", &[1u8; 32], "\"CN=alice\"");
        let mut w = Vec::new();
        for part in [
            COMMITMENT_DOMAIN.as_bytes(),
            b"subject",
            &[1u8; 32],
            b"\"CN=alice\"",
        ] {
            w.extend_from_slice(&(part.len() as u32).to_be_bytes());
            w.extend_from_slice(part);
        }
        let want = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &w);
        assert_eq!(c.as_slice(), want.as_ref());
    }

    proptest! {
        #[test]
        fn any_detail_opens_to_itself(subject in ".{0,40}", reason in proptest::option::of(".{0,40}"), n in 0u64..1000) {
            let v = serde_json::json!({ "subject": subject, "reason": reason, "n": n });
            let detail = v.to_string();
            let (public, openings) = commit(&detail, &counter());
            let opened = open(&public, &openings.unwrap_or_default()).unwrap();
            prop_assert_eq!(opened, v);
        }
    }
}
