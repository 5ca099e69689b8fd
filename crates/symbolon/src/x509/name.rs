//! Identities: RFC 4514 text to X.509 names, and their comparison (the
//! patent's step 423: the identity the user presents directly must be the one
//! in the request).

use std::str::FromStr;

use x509_cert::name::Name;

use super::X509Error;

/// Tidies what people type (`cn=Alice, o=Example`) into strict RFC 4514:
/// no space around separators, attribute keywords in upper case. Escaped
/// characters (`\,`) are kept as they are.
/// An attribute keyword as the RFC 4514 parser knows it: upper case, and
/// organizationIdentifier (no LDAP keyword) by its OID.
fn keyword(k: &str) -> String {
    if k.eq_ignore_ascii_case("organizationIdentifier") {
        "2.5.4.97".into()
    } else {
        k.to_ascii_uppercase()
    }
}

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
            Some((k, v)) => format!("{}={}", keyword(k.trim()), v.trim_start()),
            None => p.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses an identity such as `CN=Alice Example,O=Example Ltd,C=GB` into its
/// canonical DER form: only the attribute types in [`IDENTITY_ATTRIBUTES`],
/// each value as text (no `#`-hex DER), within its RFC 5280 upper bound and
/// in the string type RFC 5280 gives it (PrintableString for C and
/// serialNumber, IA5String for emailAddress and DC, UTF8String otherwise).
pub fn parse_identity(text: &str) -> Result<Name, X509Error> {
    // An escape cut off by the trim (`CN=Boss\ `) would vanish silently.
    let trimmed = text.trim();
    if trimmed.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1 {
        return Err(X509Error::Malformed {
            what: "identity",
            reason: "it ends with an unfinished escape (\\)".into(),
        });
    }
    let tidied = tidy(trimmed);
    // A value written as `#` and hex is DER of the writer's choosing: the
    // canonical form comes from text only.
    if tidied.split(',').any(|part| {
        part.split_once('=')
            .is_some_and(|(_, v)| v.starts_with('#'))
    }) {
        return Err(X509Error::Malformed {
            what: "identity",
            reason: "write each value as text, not as #-hex DER".into(),
        });
    }
    let name = Name::from_str(&tidied).map_err(|e| X509Error::Malformed {
        what: "identity (RFC 4514, e.g. CN=Alice,O=Example)",
        // The DN parser's own error names no cause; say what it checks.
        reason: match e.kind() {
            der::ErrorKind::Failed => format!(
                "{trimmed:?} is not a list of TYPE=value attributes with known types (CN, O, OU, C, L, ST, …)"
            ),
            _ => e.to_string(),
        },
    })?;
    if name.is_empty() {
        return Err(X509Error::Malformed {
            what: "identity",
            reason: "it is empty".into(),
        });
    }
    check_attributes(&name)?;
    Ok(name)
}

/// An attribute type identities may carry: its OID, the keyword people
/// write, the RFC 5280 Appendix A.1 upper bound in characters, and the
/// characters its string type allows.
#[derive(Debug, Clone, Copy)]
pub struct IdentityAttribute {
    /// Dotted OID.
    pub oid: &'static str,
    /// The keyword (RFC 4514 / RFC 4519), or the dotted OID where there is none.
    pub label: &'static str,
    /// Upper bound in characters.
    pub bound: usize,
    /// The string type's alphabet.
    alphabet: Alphabet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    /// UTF8String: any character but controls.
    Text,
    /// PrintableString (X.680 §41.4).
    Printable,
    /// IA5String: ASCII without controls.
    Ascii,
    /// Two upper-case letters (ISO 3166 alpha-2).
    Country,
}

const fn attr(
    oid: &'static str,
    label: &'static str,
    bound: usize,
    alphabet: Alphabet,
) -> IdentityAttribute {
    IdentityAttribute {
        oid,
        label,
        bound,
        alphabet,
    }
}

/// Every attribute type the certificate profiles allow in a subject
/// (docs/vetting.md). Anything else is refused, naming the attribute.
pub const IDENTITY_ATTRIBUTES: &[IdentityAttribute] = &[
    attr("2.5.4.3", "CN", 64, Alphabet::Text),
    attr("2.5.4.4", "SN", 64, Alphabet::Text),
    attr("2.5.4.42", "givenName", 64, Alphabet::Text),
    attr("2.5.4.43", "initials", 64, Alphabet::Text),
    attr("2.5.4.65", "pseudonym", 128, Alphabet::Text),
    attr("2.5.4.12", "title", 64, Alphabet::Text),
    attr("2.5.4.10", "O", 64, Alphabet::Text),
    attr("2.5.4.11", "OU", 64, Alphabet::Text),
    attr("2.5.4.97", "organizationIdentifier", 64, Alphabet::Text),
    attr("2.5.4.6", "C", 2, Alphabet::Country),
    attr("2.5.4.8", "ST", 128, Alphabet::Text),
    attr("2.5.4.7", "L", 128, Alphabet::Text),
    attr("2.5.4.9", "street", 128, Alphabet::Text),
    attr("2.5.4.17", "postalCode", 40, Alphabet::Text),
    attr("2.5.4.5", "serialNumber", 64, Alphabet::Printable),
    attr("1.2.840.113549.1.9.1", "emailAddress", 255, Alphabet::Ascii),
    attr("0.9.2342.19200300.100.1.25", "DC", 63, Alphabet::Ascii),
    attr("0.9.2342.19200300.100.1.1", "UID", 256, Alphabet::Text),
];

/// The entry for an attribute type, if identities may carry it.
pub fn identity_attribute(oid: &str) -> Option<&'static IdentityAttribute> {
    IDENTITY_ATTRIBUTES.iter().find(|a| a.oid == oid)
}

/// An identity as RFC 4514 text that [`parse_identity`] reads back to the
/// same name: each attribute by the keyword of [`IDENTITY_ATTRIBUTES`] and
/// its value as escaped text. (`Name`'s own `Display` writes attributes
/// without an LDAP keyword, such as organizationIdentifier, in RFC 4514's
/// dotted-OID `#`-hex form, which `parse_identity` refuses.)
pub fn identity_text(name: &Name) -> String {
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.oid.to_string();
                    let label = identity_attribute(&oid).map_or(oid, |a| a.label.to_string());
                    let value = attribute_text(&atv.value).map_or_else(
                        || {
                            format!(
                                "#{}",
                                hex::encode(der::Encode::to_der(&atv.value).unwrap_or_default())
                            )
                        },
                        |t| escape_value(&t),
                    );
                    format!("{label}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    // RFC 4514 writes the most specific RDN first: the reverse of DER order.
    rdns.reverse();
    rdns.join(",")
}

/// RFC 4514 §2.4's escaping of an attribute value.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The text of an attribute value, if it is a string type.
pub fn attribute_text(value: &der::Any) -> Option<String> {
    x509_cert::ext::pkix::name::DirectoryString::try_from(value)
        .map(|d| d.value().to_string())
        .ok()
        .or_else(|| {
            der::asn1::Ia5StringRef::try_from(value)
                .ok()
                .map(|s| s.as_str().to_string())
        })
}

fn fits(alphabet: Alphabet, text: &str) -> bool {
    match alphabet {
        Alphabet::Text => !text.chars().any(char::is_control),
        Alphabet::Printable => text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)),
        Alphabet::Ascii => text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
        Alphabet::Country => text.len() == 2 && text.chars().all(|c| c.is_ascii_uppercase()),
    }
}

/// Refuses attribute types outside [`IDENTITY_ATTRIBUTES`], values that are
/// not text, empty, longer than their RFC 5280 upper bound, or outside their
/// string type, and multi-valued RDNs (`CN=a+O=b`: no profile uses them and
/// their order is ambiguous to compare).
fn check_attributes(name: &Name) -> Result<(), X509Error> {
    let refuse = |reason: String| X509Error::Malformed {
        what: "identity",
        reason,
    };
    for rdn in name.iter_rdn() {
        if rdn.len() != 1 {
            return Err(refuse("multi-valued RDNs (a+b) are not used in certificates here; give each attribute on its own".into()));
        }
    }
    for atv in name.iter() {
        let oid = atv.oid.to_string();
        let Some(a) = identity_attribute(&oid) else {
            let allowed: Vec<&str> = IDENTITY_ATTRIBUTES.iter().map(|a| a.label).collect();
            return Err(refuse(format!(
                "the attribute {oid} is not allowed in a subject; allowed: {}",
                allowed.join(", ")
            )));
        };
        // The string type RFC 5280 gives the attribute, as text parsing
        // makes it: a `#`-hex value could carry any other type.
        let canonical = match a.alphabet {
            Alphabet::Text => der::Tag::Utf8String,
            Alphabet::Printable | Alphabet::Country => der::Tag::PrintableString,
            Alphabet::Ascii => der::Tag::Ia5String,
        };
        let text = attribute_text(&atv.value)
            .filter(|_| der::Tagged::tag(&atv.value) == canonical)
            .ok_or_else(|| {
                refuse(format!(
                    "{} must be {}",
                    a.label,
                    alphabet_words(a.alphabet)
                ))
            })?;
        let chars = text.chars().count();
        if chars == 0 {
            return Err(refuse(format!("{} is empty", a.label)));
        }
        // RFC 5280 §7.1 folds whitespace: `Boss ` and `Boss` would be one
        // name to a matcher and two to a reader. Neither is accepted.
        if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
            return Err(refuse(format!("{} begins or ends with a space", a.label)));
        }
        if text
            .chars()
            .zip(text.chars().skip(1))
            .any(|(x, y)| x.is_whitespace() && y.is_whitespace())
        {
            return Err(refuse(format!(
                "{} has spaces in a row; write one",
                a.label
            )));
        }
        // A wildcard names no one: no identity is certified with one.
        if a.label == "CN" && text.contains('*') {
            return Err(refuse(
                "CN holds a wildcard; wildcard names are not issued, name each host".into(),
            ));
        }
        if text.chars().any(is_invisible) {
            return Err(refuse(format!(
                "{} holds an invisible formatting character (zero-width, soft hyphen, bidirectional override)",
                a.label
            )));
        }
        if chars > a.bound {
            return Err(refuse(format!(
                "{} is at most {} characters (RFC 5280), not {chars}",
                a.label, a.bound
            )));
        }
        if !fits(a.alphabet, &text) {
            return Err(refuse(format!(
                "{} must be {}",
                a.label,
                alphabet_words(a.alphabet)
            )));
        }
    }
    Ok(())
}

fn alphabet_words(alphabet: Alphabet) -> &'static str {
    match alphabet {
        Alphabet::Text => "text without control characters",
        Alphabet::Printable => {
            "PrintableString characters (letters, digits, space and '()+,-./:=?)"
        }
        Alphabet::Ascii => "ASCII text",
        Alphabet::Country => "a two-letter ISO 3166 country code in capitals",
    }
}

/// Unicode format characters that change how text looks without being
/// seen (Cf): zero-width and joiner characters, the soft hyphen,
/// bidirectional embeddings and overrides, the byte-order mark. A name or
/// an officer's note holding them could show as another.
pub fn is_invisible(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
        | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// The canonical DER of an identity.
pub fn identity_der(name: &Name) -> Result<Vec<u8>, X509Error> {
    der::Encode::to_der(name).map_err(X509Error::encoding("identity"))
}

/// The canonical text of an identity, for matching: its RFC 4514 rendering
/// after RFC 5280 §7.1's case and whitespace folding. Two names with the
/// same key denote the same identity.
pub fn identity_key(name: &Name) -> String {
    normalise(name)
}

fn normalise(name: &Name) -> String {
    // RFC 5280 §7.1 compares after case folding and whitespace folding; the
    // RFC 4514 rendering makes string types (UTF8String, PrintableString)
    // compare by their text. Case is folded in ASCII only: full Unicode
    // folding without RFC 4518's tables would make the Kelvin sign a K, and
    // a name outside ASCII is matched as written.
    name.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// Whether two names denote the same identity.
pub fn same_identity(a: &Name, b: &Name) -> bool {
    normalise(a) == normalise(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_no_name_says_what_a_name_is() {
        for bad in ["not a dn", "CN=Alice,bogus", "FOO=bar"] {
            let e = parse_identity(bad).unwrap_err().to_string();
            assert!(!e.ends_with("operation failed"), "{bad}: {e}");
        }
        let e = parse_identity("not a dn").unwrap_err().to_string();
        assert!(e.contains("is not a list of TYPE=value attributes"), "{e}");
    }

    #[test]
    fn identity_text_reads_back_for_every_attribute() {
        for a in IDENTITY_ATTRIBUTES {
            let value = match a.label {
                "C" => "NL",
                "emailAddress" => "a@example.org",
                "DC" => "example",
                _ => "A, \"b\" + c$",
            };
            let value = if a.label == "C" || a.label == "emailAddress" || a.label == "DC" {
                value.to_string()
            } else {
                escape_value(value)
            };
            let text = format!("CN=X,{}={value}", a.label);
            let Ok(name) = parse_identity(&text) else {
                continue;
            };
            let again = parse_identity(&identity_text(&name))
                .unwrap_or_else(|e| panic!("{text} -> {}: {e}", identity_text(&name)));
            assert!(same_identity(&name, &again), "{text}");
        }
        let org = parse_identity("organizationIdentifier=$,O=Example").unwrap();
        assert!(identity_text(&org).starts_with("organizationIdentifier="));
        assert!(same_identity(
            &parse_identity(&identity_text(&org)).unwrap(),
            &org
        ));
    }

    #[test]
    fn identities_compare_by_text() {
        let a = parse_identity("CN=Alice Example,O=Example").unwrap();
        let b = parse_identity("cn=alice example, o=EXAMPLE").unwrap();
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

    #[test]
    fn only_listed_attributes_as_text() {
        use der::Tagged;
        let e = parse_identity("CN=x,2.5.4.999=y").unwrap_err();
        assert!(e.to_string().contains("2.5.4.999 is not allowed"), "{e}");
        let e = parse_identity("CN=#0c0161").unwrap_err();
        assert!(e.to_string().contains("not as #-hex"), "{e}");
        let e = parse_identity("CN=x,serialNumber=abc\u{e9}").unwrap_err();
        assert!(e.to_string().contains("PrintableString"), "{e}");
        for spaced in [
            "CN=Bo  ss",
            "CN=\\ Boss",
            "CN=Boss\\ ",
            "CN=Bo\u{200b}ss",
            "CN=Bo\u{ad}ss",
            "CN=\u{202e}ssoB",
            "CN=*.example.com",
        ] {
            assert!(
                parse_identity(spaced).is_err(),
                "{spaced}: {:?}",
                parse_identity(spaced).map(|n| n.to_string())
            );
        }
        // ASCII case folds; other scripts match as written (no Kelvin sign K).
        let k = |s: &str| identity_key(&parse_identity(s).unwrap());
        assert_eq!(k("CN=KATE"), k("CN=kate"));
        assert_ne!(k("CN=\u{212a}ate"), k("CN=Kate"));
        assert!(parse_identity("CN=a+O=b").is_err());
        assert!(parse_identity("CN=x,C=gb").is_err());
        assert!(parse_identity("CN=x,serialNumber=a_b").is_err());
        assert!(parse_identity("CN=x,emailAddress=é@example.com").is_err());
        assert!(parse_identity("CN=x,2.5.4.42=Alice,SN=Example,C=GB,DC=example").is_ok());
        // The canonical DER: C as PrintableString, CN as UTF8String.
        let n = parse_identity("cn=Alice, c=GB").unwrap();
        let c = n.iter().find(|a| a.oid.to_string() == "2.5.4.6").unwrap();
        assert_eq!(c.value.tag(), der::Tag::PrintableString);
        assert_eq!(
            identity_key(&n),
            identity_key(&parse_identity("CN=alice,C=GB").unwrap())
        );
    }
}
