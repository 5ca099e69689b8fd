//! The objects a log entry names (docs/transparency.md §10): each entry's
//! detail names them in a few fields (`key`, `serial`, `escrow`, …); the
//! registry indexes entries by them to gather a key's evidence, and the
//! verifier asks the same question to check that every entry of a bundle
//! is about the key.

use serde_json::Value;

use crate::keys::Fingerprint;

/// The fields whose string value names an object, and the prefix its
/// reference takes.
const NAMING_FIELDS: [(&str, &str); 9] = [
    ("key", "key"),
    ("serial", "serial"),
    ("escrow", "escrow"),
    ("request", "request"),
    ("registration", "registration"),
    ("token", "token"),
    ("arbitrator", "arbitrator"),
    ("target", "token"),
    ("replaced_by", "token"),
];

/// An object an entry can name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogRef {
    /// A public key.
    Key(Fingerprint),
    /// A certificate.
    Serial(String),
    /// An escrow deposit.
    Escrow(String),
    /// A recovery request.
    Request(String),
    /// A joint-key chain file.
    Chain(String),
    /// A vetted registration.
    Registration(String),
    /// A token.
    Token(String),
    /// An arbitrator.
    Arbitrator(String),
}

impl LogRef {
    /// The indexed form.
    pub fn as_text(&self) -> String {
        match self {
            Self::Key(f) => format!("key:{f}"),
            Self::Serial(s) => format!("serial:{s}"),
            Self::Escrow(s) => format!("escrow:{s}"),
            Self::Request(s) => format!("request:{s}"),
            Self::Chain(s) => format!("chain:{s}"),
            Self::Registration(s) => format!("registration:{s}"),
            Self::Token(s) => format!("token:{s}"),
            Self::Arbitrator(s) => format!("arbitrator:{s}"),
        }
    }
}

/// Whether an entry of `kind` naming `reference` belongs to the history of
/// whatever holds that reference. A registration, a device and an
/// arbitrator serve many keys: of their entries, only those that register
/// (or withdraw) them belong to one key's history; every entry naming a
/// key, certificate, escrow, request or chain belongs to it.
pub fn admits(reference: &str, kind: &str) -> bool {
    match reference.split_once(':').map(|(p, _)| p) {
        Some("registration") => {
            matches!(kind, "subscriber-registered" | "registration-withdrawn")
        }
        Some("token") => kind == "token-registered",
        Some("arbitrator") => kind == "arbitrator-registered",
        _ => true,
    }
}

/// The references an entry of `kind` with `detail` makes.
pub fn refs(kind: &str, detail: &Value) -> Vec<String> {
    let Value::Object(map) = detail else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (field, prefix) in NAMING_FIELDS {
        if let Some(Value::String(v)) = map.get(field) {
            out.push(format!("{prefix}:{v}"));
        }
    }
    // Entries that list the certificates they affect.
    if let Some(Value::Array(list)) = map.get("certificates") {
        out.extend(
            list.iter()
                .filter_map(Value::as_str)
                .map(|s| format!("serial:{s}")),
        );
    }
    // A joint-key chain is named by `id` in its own entries only.
    if kind.starts_with("joint-chain-") {
        if let Some(Value::String(v)) = map.get("id") {
            out.push(format!("chain:{v}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(kind: &str, detail: &str) -> Vec<String> {
        refs(kind, &serde_json::from_str(detail).unwrap_or(Value::Null))
    }

    #[test]
    fn entries_name_their_objects() {
        let d = r#"{"serial":"0a","key":"sha256:ab","certificates":["01","02"],"token":"t1","by":{"name":"x"}}"#;
        assert_eq!(
            of("token-tampered", d),
            [
                "key:sha256:ab",
                "serial:01",
                "serial:02",
                "serial:0a",
                "token:t1"
            ]
        );
        assert_eq!(of("joint-chain-extended", r#"{"id":"c1"}"#), ["chain:c1"]);
        // `id` names a chain only in a chain's entries.
        assert!(of("role-granted", r#"{"id":"c1"}"#).is_empty());
        assert!(of("x", "not json").is_empty());
        assert!(of("x", r#"{"key":7}"#).is_empty());
        assert_eq!(LogRef::Serial("0a".into()).as_text(), "serial:0a");
        assert!(admits("token:t1", "token-registered"));
        assert!(!admits("token:t1", "issuance-completed"));
        assert!(!admits("registration:r", "certificate-issued"));
        assert!(admits("serial:0a", "issuance-completed"));
    }
}
