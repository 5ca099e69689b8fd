//! Subject alternative names: the DNS names, IP addresses and email
//! addresses a certificate names besides its subject, as a request asks
//! for them (the PKCS#10 `extensionRequest`) and as the leaf carries them.
//! Each is checked for form here; whether a station may have it certified
//! is the name policy's question (`vetting::policy`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use der::asn1::{Ia5String, OctetString};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

use super::X509Error;

/// Most names one certificate may carry.
pub const MAX_ALT_NAMES: usize = 100;

/// A DNS name in its canonical form: lower case, LDH labels of 1–63
/// characters, at most 253 characters, no trailing dot, no wildcard.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(String);

impl DnsName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn bad(what: &'static str, reason: String) -> X509Error {
    X509Error::Malformed { what, reason }
}

impl FromStr for DnsName {
    type Err = X509Error;

    fn from_str(s: &str) -> Result<Self, X509Error> {
        let lower = s.to_ascii_lowercase();
        let refuse = |why: &str| bad("DNS name", format!("{s:?}: {why}"));
        if lower.is_empty() || lower.len() > 253 {
            return Err(refuse("1 to 253 characters"));
        }
        if lower.starts_with("*.") || lower == "*" {
            return Err(refuse("wildcard names are not issued; name each host"));
        }
        for label in lower.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(refuse(
                    "each label is 1 to 63 characters (no empty label, no trailing dot)",
                ));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(refuse(
                    "letters, digits and hyphens only (write internationalised names as A-labels, xn--)",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(refuse("a label neither starts nor ends with a hyphen"));
            }
        }
        Ok(Self(lower))
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address (RFC 5280 §4.2.1.6 rfc822Name): an ASCII local part,
/// `@`, a DNS host. The host is compared without case, the local part as
/// written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress {
    local: String,
    host: DnsName,
}

impl EmailAddress {
    /// The host part.
    pub fn host(&self) -> &DnsName {
        &self.host
    }
}

impl FromStr for EmailAddress {
    type Err = X509Error;

    fn from_str(s: &str) -> Result<Self, X509Error> {
        let refuse = |why: &str| bad("email address", format!("{s:?}: {why}"));
        let (local, host) = s.rsplit_once('@').ok_or_else(|| refuse("no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(refuse("the local part is 1 to 64 characters"));
        }
        if !local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"@\"\\()<>[],;:".contains(&b))
        {
            return Err(refuse(
                "the local part is printable ASCII without quotes, brackets or separators",
            ));
        }
        let host = host
            .parse()
            .map_err(|_| refuse("the host is not a DNS name"))?;
        Ok(Self {
            local: local.to_string(),
            host,
        })
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.host)
    }
}

/// What a subject's common name is, read as a name a certificate can be
/// checked for: a DNS name (with at least one dot), an IP address, an email
/// address, a wildcard (never issued), or none of these (a person's or a
/// thing's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommonName {
    /// A DNS name.
    Dns(DnsName),
    /// An IP address.
    Ip(IpAddr),
    /// An email address.
    Email(EmailAddress),
    /// A name with a `*`.
    Wildcard,
    /// A name of a person or a thing.
    Other,
}

impl CommonName {
    /// Reads a CN value.
    pub fn of(text: &str) -> Self {
        if text.contains('*') {
            return Self::Wildcard;
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Self::Ip(ip);
        }
        if text.contains('@') {
            return text.parse().map_or(Self::Other, Self::Email);
        }
        if text.contains('.') {
            if let Ok(d) = text.parse() {
                return Self::Dns(d);
            }
        }
        Self::Other
    }

    /// The CNs of `subject`, each read.
    pub fn of_subject(subject: &x509_cert::name::Name) -> Vec<Self> {
        subject
            .iter()
            .filter(|a| a.oid == const_oid::db::rfc4519::CN)
            .map(|a| super::attribute_text(&a.value).map_or(Self::Other, |t| Self::of(&t)))
            .collect()
    }
}

/// The alternative names of one certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltNames {
    /// dNSName entries.
    pub dns: Vec<DnsName>,
    /// iPAddress entries.
    pub ips: Vec<IpAddr>,
    /// rfc822Name entries.
    pub emails: Vec<EmailAddress>,
}

impl AltNames {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ips.is_empty() && self.emails.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.dns.len() + self.ips.len() + self.emails.len()
    }

    /// Parses `dns:NAME`, `ip:ADDRESS` and `email:ADDRESS` entries (how
    /// the CLI and the API write them).
    pub fn parse_tagged<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, X509Error> {
        let mut out = Self::default();
        for item in items {
            let item = item.trim();
            match item.split_once(':') {
                Some(("dns", v)) => out.dns.push(v.parse()?),
                Some(("ip", v)) => out.ips.push(v.parse().map_err(|_| {
                    bad(
                        "IP address",
                        format!("{v:?} is not an IPv4 or IPv6 address"),
                    )
                })?),
                Some(("email", v)) => out.emails.push(v.parse()?),
                _ => {
                    return Err(bad(
                        "alternative name",
                        format!("{item:?}: write dns:NAME, ip:ADDRESS or email:ADDRESS"),
                    ))
                }
            }
        }
        out.tidy()?;
        Ok(out)
    }

    /// The `dns:`/`ip:`/`email:` form of each name.
    pub fn tagged(&self) -> Vec<String> {
        let mut out: Vec<String> = self.dns.iter().map(|d| format!("dns:{d}")).collect();
        out.extend(self.ips.iter().map(|i| format!("ip:{i}")));
        out.extend(self.emails.iter().map(|e| format!("email:{e}")));
        out
    }

    /// Sorted, duplicates removed, within [`MAX_ALT_NAMES`].
    fn tidy(&mut self) -> Result<(), X509Error> {
        self.sort();
        if self.len() > MAX_ALT_NAMES {
            return Err(bad(
                "alternative names",
                format!("at most {MAX_ALT_NAMES} names, not {}", self.len()),
            ));
        }
        Ok(())
    }

    /// These names and a subject's DNS-name and IP CNs (a TLS server
    /// certificate carries its CN's name as a SAN too: clients match SANs),
    /// with `emails` also its email CNs and emailAddress attributes (the
    /// names a registration of that subject vets).
    pub fn with_subject_names(&self, subject: &x509_cert::name::Name, emails: bool) -> Self {
        let mut out = self.clone();
        for cn in CommonName::of_subject(subject) {
            match cn {
                CommonName::Dns(d) => out.dns.push(d),
                CommonName::Ip(i) => out.ips.push(i),
                CommonName::Email(e) if emails => out.emails.push(e),
                _ => {}
            }
        }
        if emails {
            out.emails.extend(
                subject
                    .iter()
                    .filter(|a| a.oid == const_oid::db::rfc3280::EMAIL_ADDRESS)
                    .filter_map(|a| super::attribute_text(&a.value)?.parse().ok()),
            );
        }
        out.sort();
        out
    }

    /// Each list sorted, duplicates removed.
    fn sort(&mut self) {
        self.dns.sort();
        self.dns.dedup();
        self.ips.sort();
        self.ips.dedup();
        self.emails.sort();
        self.emails.dedup();
    }

    /// The names a certificate carries (none without a subjectAltName).
    pub fn of_certificate(cert: &x509_cert::Certificate) -> Result<Self, X509Error> {
        let ext = cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME);
        match ext {
            None => Ok(Self::default()),
            Some(e) => {
                let san = <SubjectAltName as der::Decode>::from_der(e.extn_value.as_bytes())
                    .map_err(|e| bad("subjectAltName", e.to_string()))?;
                Self::from_extension(&san)
            }
        }
    }

    /// Reads a subjectAltName extension's value; a name of any other type
    /// (URI, otherName, directoryName, …) is refused, named.
    pub fn from_extension(san: &SubjectAltName) -> Result<Self, X509Error> {
        let mut out = Self::default();
        for name in &san.0 {
            match name {
                GeneralName::DnsName(d) => out.dns.push(d.as_str().parse()?),
                GeneralName::Rfc822Name(e) => out.emails.push(e.as_str().parse()?),
                GeneralName::IpAddress(o) => {
                    let b = o.as_bytes();
                    let ip = <[u8; 4]>::try_from(b)
                        .map(IpAddr::from)
                        .or_else(|_| <[u8; 16]>::try_from(b).map(IpAddr::from))
                        .map_err(|_| {
                            bad(
                                "subjectAltName",
                                format!("an iPAddress of {} bytes (4 or 16)", b.len()),
                            )
                        })?;
                    out.ips.push(ip);
                }
                other => {
                    let kind = match other {
                        GeneralName::OtherName(_) => "otherName",
                        GeneralName::DirectoryName(_) => "directoryName",
                        GeneralName::EdiPartyName(_) => "ediPartyName",
                        GeneralName::UniformResourceIdentifier(_) => "uniformResourceIdentifier",
                        GeneralName::RegisteredId(_) => "registeredID",
                        _ => "an unknown name type",
                    };
                    return Err(bad(
                        "subjectAltName",
                        format!("{kind} names are not issued; ask for DNS names, IP addresses or email addresses"),
                    ));
                }
            }
        }
        out.tidy()?;
        Ok(out)
    }

    /// The extension's names, DNS names first.
    pub(crate) fn general_names(&self) -> der::Result<Vec<GeneralName>> {
        let mut names = Vec::new();
        for d in &self.dns {
            names.push(GeneralName::DnsName(Ia5String::new(d.as_str())?));
        }
        for ip in &self.ips {
            let octets = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            names.push(GeneralName::IpAddress(OctetString::new(octets)?));
        }
        for e in &self.emails {
            names.push(GeneralName::Rfc822Name(Ia5String::new(&e.to_string())?));
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            "WWW.Example.COM".parse::<DnsName>().unwrap().as_str(),
            "www.example.com"
        );
        for bad in [
            "",
            "a..b",
            "a.",
            "-a.b",
            "a-.b",
            "a_b.c",
            "*.example.com",
            "é.example",
            &"a".repeat(64),
        ] {
            assert!(bad.parse::<DnsName>().is_err(), "{bad}");
        }
        assert!(
            "alice@Example.com"
                .parse::<EmailAddress>()
                .unwrap()
                .host()
                .as_str()
                == "example.com"
        );
        for bad in ["alice", "@example.com", "a@b@", "a b@example.com", "alice@"] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad}");
        }
        let n = AltNames::parse_tagged([
            "dns:b.example",
            "ip:192.0.2.1",
            "dns:a.example",
            "email:x@y.example",
            "dns:a.example",
        ])
        .unwrap();
        assert_eq!(
            n.tagged(),
            [
                "dns:a.example",
                "dns:b.example",
                "ip:192.0.2.1",
                "email:x@y.example"
            ]
        );
        assert!(AltNames::parse_tagged(["uri:https://x"]).is_err());
        assert!(AltNames::parse_tagged(["ip:300.1.1.1"]).is_err());
        let many: Vec<String> = (0..=MAX_ALT_NAMES)
            .map(|i| format!("dns:h{i}.example"))
            .collect();
        assert!(AltNames::parse_tagged(many.iter().map(String::as_str)).is_err());
    }

    #[test]
    fn extension_round_trip() {
        let n = AltNames::parse_tagged(["dns:a.example", "ip:2001:db8::1", "email:x@y.example"])
            .unwrap();
        let san = SubjectAltName(n.general_names().unwrap());
        assert_eq!(AltNames::from_extension(&san).unwrap(), n);
        let uri = SubjectAltName(vec![GeneralName::UniformResourceIdentifier(
            Ia5String::new("https://x").unwrap(),
        )]);
        let e = AltNames::from_extension(&uri).unwrap_err();
        assert!(e.to_string().contains("uniformResourceIdentifier"), "{e}");
    }
}
