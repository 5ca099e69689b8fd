//! Identities: RFC 4514 text to X.509 names, and their comparison (the
//! patent's step 423: the identity the user presents directly must be the one
//! in the request).

use std::str::FromStr;

use x509_cert::name::Name;

use super::X509Error;

/// Tidies what people type (`cn=Alice, o=Example`) into strict RFC 4514:
/// no space around separators, attribute keywords in upper case. Escaped
/// characters (`\,`) are kept as they are.
fn tidy(text: &str) -> String {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{}={}", k.trim().to_ascii_uppercase(), v.trim_start()),
            None => p.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses an identity such as `CN=Alice Example,O=Example Ltd,C=GB`.
pub fn parse_identity(text: &str) -> Result<Name, X509Error> {
    let name = Name::from_str(&tidy(text.trim())).map_err(|e| X509Error::Malformed {
        what: "identity (RFC 4514, e.g. CN=Alice,O=Example)",
        reason: e.to_string(),
    })?;
    if name.is_empty() {
        return Err(X509Error::Malformed {
            what: "identity",
            reason: "it is empty".into(),
        });
    }
    Ok(name)
}

fn normalise(name: &Name) -> String {
    // RFC 5280 §7.1 compares after case folding and whitespace folding; the
    // RFC 4514 rendering makes string types (UTF8String, PrintableString)
    // compare by their text.
    name.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether two names denote the same identity.
pub fn same_identity(a: &Name, b: &Name) -> bool {
    normalise(a) == normalise(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_compare_by_text() {
        let a = parse_identity("CN=Alice Example,O=Example").unwrap();
        let b = parse_identity("cn=alice  example, o=EXAMPLE").unwrap();
        let c = parse_identity("CN=Mallory,O=Example").unwrap();
        assert!(same_identity(&a, &b));
        assert!(!same_identity(&a, &c));
        assert!(parse_identity("").is_err());
        assert!(parse_identity("not a name").is_err());
    }
}
