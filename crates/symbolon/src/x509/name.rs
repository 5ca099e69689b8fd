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
    check_upper_bounds(&name)?;
    Ok(name)
}

/// RFC 5280 Appendix A.1 upper bounds (characters) for the attributes
/// people write in identities.
const UPPER_BOUNDS: &[(&str, &str, usize)] = &[
    ("2.5.4.3", "CN", 64),
    ("2.5.4.10", "O", 64),
    ("2.5.4.11", "OU", 64),
    ("2.5.4.6", "C", 2),
    ("2.5.4.7", "L", 128),
    ("2.5.4.8", "ST", 128),
    ("2.5.4.5", "serialNumber", 64),
    ("2.5.4.12", "title", 64),
    ("1.2.840.113549.1.9.1", "emailAddress", 255),
];

/// Refuses an attribute longer than its RFC 5280 upper bound.
fn check_upper_bounds(name: &Name) -> Result<(), X509Error> {
    for atv in name.iter() {
        let oid = atv.oid.to_string();
        let Some((_, label, bound)) = UPPER_BOUNDS.iter().find(|(o, ..)| *o == oid) else {
            continue;
        };
        let chars = x509_cert::ext::pkix::name::DirectoryString::try_from(&atv.value)
            .map(|d| d.value().chars().count())
            .unwrap_or_else(|_| atv.value.value().len());
        if chars > *bound {
            return Err(X509Error::Malformed {
                what: "identity",
                reason: format!("{label} is at most {bound} characters (RFC 5280), not {chars}"),
            });
        }
    }
    Ok(())
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

    #[test]
    fn attributes_within_rfc5280_upper_bounds() {
        assert!(parse_identity(&format!("CN={}", "a".repeat(64))).is_ok());
        let e = parse_identity(&format!("CN={}", "a".repeat(65))).unwrap_err();
        assert!(e.to_string().contains("CN is at most 64"), "{e}");
        assert!(parse_identity("CN=x,C=GBR").is_err());
        assert!(parse_identity(&format!("CN=x,L={}", "l".repeat(128))).is_ok());
        assert!(parse_identity(&format!("CN=x,O={}", "é".repeat(64))).is_ok());
    }
}
