//! The identifiers an order may name (RFC 8555 §7.1.3, §9.7.7): DNS names
//! of whole hosts. IP identifiers (RFC 8738) and wildcards (which only
//! dns-01 could validate, and this service offers http-01 and tls-alpn-01)
//! are refused with the problem type that says so.

use serde_json::Value;

use super::problem::{malformed, Problem, ProblemType};
use crate::x509::DnsName;

/// Most identifiers in one order (the certificate's names bound).
pub const MAX_IDENTIFIERS: usize = 100;

/// Reads an order's `identifiers`: DNS names, at least one, no repeats.
pub fn parse_identifiers(v: Option<&Value>) -> Result<Vec<DnsName>, Problem> {
    let list = v
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| malformed("the order has no identifiers"))?;
    if list.len() > MAX_IDENTIFIERS {
        return Err(Problem::new(
            ProblemType::RejectedIdentifier,
            format!("an order names at most {MAX_IDENTIFIERS} identifiers"),
        ));
    }
    let mut out: Vec<DnsName> = Vec::with_capacity(list.len());
    for item in list {
        let kind = item.get("type").and_then(Value::as_str);
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("an identifier has no value"))?;
        match kind {
            Some("dns") => {}
            Some(other) => {
                return Err(Problem::new(
                    ProblemType::UnsupportedIdentifier,
                    format!(
                        "identifiers of type {:?} are not certified here: DNS names only",
                        other.chars().take(20).collect::<String>()
                    ),
                ))
            }
            None => return Err(malformed("an identifier has no type")),
        }
        let name: DnsName = value.parse().map_err(|e: crate::x509::X509Error| {
            Problem::new(ProblemType::RejectedIdentifier, e.to_string())
        })?;
        // A name whose last label is all digits is an address in
        // disguise (`127.0.0.1`), not a host name (RFC 1123 §2.1).
        if name
            .as_str()
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Problem::new(
                ProblemType::RejectedIdentifier,
                format!("{name} is an address, not a host name"),
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dns_names_are_read_and_the_rest_refused() {
        let ok = parse_identifiers(Some(&json!([
            {"type": "dns", "value": "B.example"}, {"type": "dns", "value": "a.example"},
            {"type": "dns", "value": "b.example"}
        ])))
        .unwrap();
        assert_eq!(
            ok.iter().map(DnsName::as_str).collect::<Vec<_>>(),
            ["a.example", "b.example"]
        );
        let wild =
            parse_identifiers(Some(&json!([{"type": "dns", "value": "*.example"}]))).unwrap_err();
        assert!(wild.is(ProblemType::RejectedIdentifier));
        let ip =
            parse_identifiers(Some(&json!([{"type": "ip", "value": "127.0.0.1"}]))).unwrap_err();
        assert!(ip.is(ProblemType::UnsupportedIdentifier));
        assert!(parse_identifiers(Some(&json!([]))).is_err());
        let dotted =
            parse_identifiers(Some(&json!([{"type": "dns", "value": "127.0.0.1"}]))).unwrap_err();
        assert!(dotted.detail.contains("address"));
        assert!(parse_identifiers(None).is_err());
    }
}
