//! A station's name policy: the namespaces it may have certified without a
//! registration per subject (docs/vetting.md). Rules allow or deny DNS
//! names, IP ranges, email domains or mailboxes, and directory-name
//! subtrees, with RFC 5280 §4.2.1.10 name-constraint semantics (a DNS
//! constraint matches whole labels: `example.com` covers `a.example.com`
//! and not `badexample.com`). A deny rule wins over every allow rule, and a
//! name no allow rule of its type covers is refused: every name in the
//! certificate is checked, the subject's included.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use x509_cert::name::Name;

use crate::x509::{parse_identity, AltNames, DnsName, EmailAddress};

use super::VettingError;

/// Most rules in one list.
pub const MAX_RULES: usize = 100;

/// A DNS constraint: a domain and everything below it, or only below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRule {
    domain: DnsName,
    subdomains_only: bool,
}

impl DnsRule {
    fn covers(&self, name: &DnsName) -> bool {
        let (n, d) = (name.as_str(), self.domain.as_str());
        let below =
            n.len() > d.len() && n.ends_with(d) && n.as_bytes()[n.len() - d.len() - 1] == b'.';
        below || (!self.subdomains_only && n == d)
    }
}

/// An IP range: a network address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    fn bits(ip: IpAddr) -> (u128, u8) {
        match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    }

    fn covers(&self, ip: &IpAddr) -> bool {
        let (net, width) = Self::bits(self.network);
        let (addr, addr_width) = Self::bits(*ip);
        if width != addr_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        shift >= 128 || (net >> shift) == (addr >> shift)
    }
}

impl FromStr for IpRange {
    type Err = VettingError;

    fn from_str(s: &str) -> Result<Self, VettingError> {
        let bad = || {
            VettingError::Rule(format!(
                "ip:{s}: write an address or a range such as 10.0.0.0/8 or 2001:db8::/32"
            ))
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let width = Self::bits(network).1;
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => width,
        };
        if prefix > width {
            return Err(bad());
        }
        let range = Self { network, prefix };
        // The network address itself: 10.0.0.1/8 is a typing mistake.
        let (net, _) = Self::bits(network);
        let host_bits = u32::from(width - prefix);
        if host_bits < 128 && net & ((1u128 << host_bits) - 1) != 0 {
            return Err(VettingError::Rule(format!(
                "ip:{s}: the address has bits set below the prefix; write the network address"
            )));
        }
        Ok(range)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An email constraint (RFC 5280 §4.2.1.10): one mailbox, every mailbox on
/// one host, or every mailbox on the hosts below a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailRule {
    /// `alice@example.com`.
    Mailbox(EmailAddress),
    /// `example.com`: any mailbox on exactly this host.
    Host(DnsName),
    /// `.example.com`: any mailbox on a host below it.
    Below(DnsName),
}

impl EmailRule {
    fn covers(&self, e: &EmailAddress) -> bool {
        match self {
            Self::Mailbox(m) => m == e,
            Self::Host(h) => e.host() == h,
            Self::Below(d) => DnsRule {
                domain: d.clone(),
                subdomains_only: true,
            }
            .covers(e.host()),
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameRule {
    /// `dns:example.com` (it and below), `dns:*.example.com` (below only).
    Dns(DnsRule),
    /// `dns:*`: every DNS name (the station vets the hosts it names).
    AnyDns,
    /// `email:*`: every email address.
    AnyEmail,
    /// `ip:ADDRESS` or `ip:NETWORK/PREFIX`.
    Ip(IpRange),
    /// `email:MAILBOX`, `email:HOST`, `email:.DOMAIN`.
    Email(EmailRule),
    /// `dn:RDNs` (every subject whose name begins with these RDNs, in the
    /// certificate's order), or `dn:*` (every subject: the station vets
    /// subjects itself, as the patent's station at the issuing centre does).
    Directory(Option<Name>),
}

impl FromStr for NameRule {
    type Err = VettingError;

    fn from_str(s: &str) -> Result<Self, VettingError> {
        let s = s.trim();
        let (kind, value) = s.split_once(':').ok_or_else(|| {
            VettingError::Rule(format!(
                "{s:?}: write dns:DOMAIN, dns:*.DOMAIN, ip:RANGE, email:ADDRESS|HOST|.DOMAIN or dn:RDNS|*"
            ))
        })?;
        let bad = |e: crate::x509::X509Error| VettingError::Rule(format!("{s}: {e}"));
        Ok(match kind {
            "dns" if value == "*" => Self::AnyDns,
            "email" if value == "*" => Self::AnyEmail,
            "dns" => {
                let (domain, subdomains_only) =
                    match value.strip_prefix("*.").or_else(|| value.strip_prefix('.')) {
                        Some(d) => (d, true),
                        None => (value, false),
                    };
                Self::Dns(DnsRule {
                    domain: domain.parse().map_err(bad)?,
                    subdomains_only,
                })
            }
            "ip" => Self::Ip(value.parse()?),
            "email" => Self::Email(if value.contains('@') {
                EmailRule::Mailbox(value.parse().map_err(bad)?)
            } else if let Some(d) = value.strip_prefix('.').or_else(|| value.strip_prefix("*.")) {
                EmailRule::Below(d.parse().map_err(bad)?)
            } else {
                EmailRule::Host(value.parse().map_err(bad)?)
            }),
            "dn" if value.trim() == "*" => Self::Directory(None),
            "dn" => Self::Directory(Some(parse_identity(value).map_err(bad)?)),
            other => {
                return Err(VettingError::Rule(format!(
                    "{s:?}: unknown name type {other:?} (dns, ip, email, dn)"
                )))
            }
        })
    }
}

impl fmt::Display for NameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(r) if r.subdomains_only => write!(f, "dns:*.{}", r.domain),
            Self::Dns(r) => write!(f, "dns:{}", r.domain),
            Self::AnyDns => write!(f, "dns:*"),
            Self::AnyEmail => write!(f, "email:*"),
            Self::Ip(r) => write!(f, "ip:{r}"),
            Self::Email(EmailRule::Mailbox(m)) => write!(f, "email:{m}"),
            Self::Email(EmailRule::Host(h)) => write!(f, "email:{h}"),
            Self::Email(EmailRule::Below(d)) => write!(f, "email:.{d}"),
            Self::Directory(None) => write!(f, "dn:*"),
            Self::Directory(Some(n)) => write!(f, "dn:{}", crate::x509::identity_text(n)),
        }
    }
}

/// The RDNs of a name in the certificate's order, each in its comparison
/// form.
fn rdns(name: &Name) -> Vec<String> {
    name.iter_rdn()
        .map(|rdn| {
            rdn.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .collect()
}

/// One name of a certificate, as the policy judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertName {
    /// The whole subject (judged by `dn:` rules).
    Subject(Name),
    /// A DNS name (a SAN, or a subject CN that is one).
    Dns(DnsName),
    /// An IP address.
    Ip(IpAddr),
    /// An email address.
    Email(EmailAddress),
}

impl fmt::Display for CertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subject(n) => write!(f, "subject {n}"),
            Self::Dns(d) => write!(f, "dns:{d}"),
            Self::Ip(i) => write!(f, "ip:{i}"),
            Self::Email(e) => write!(f, "email:{e}"),
        }
    }
}

impl NameRule {
    /// Whether this rule speaks about `name` at all, and if so whether it
    /// covers it.
    fn judge(&self, name: &CertName) -> Option<bool> {
        match (self, name) {
            (Self::Dns(r), CertName::Dns(d)) => Some(r.covers(d)),
            (Self::AnyDns, CertName::Dns(_)) | (Self::AnyEmail, CertName::Email(_)) => Some(true),
            (Self::Ip(r), CertName::Ip(i)) => Some(r.covers(i)),
            (Self::Email(r), CertName::Email(e)) => Some(r.covers(e)),
            (Self::Directory(None), CertName::Subject(_)) => Some(true),
            (Self::Directory(Some(prefix)), CertName::Subject(n)) => {
                let (p, n) = (rdns(prefix), rdns(n));
                Some(n.len() >= p.len() && n[..p.len()] == p[..])
            }
            _ => None,
        }
    }
}

/// Why a name is outside the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outside {
    /// The name.
    pub name: String,
    /// Why, in words (the deny rule that matched, or that no allow rule did).
    pub why: String,
}

impl fmt::Display for Outside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.why)
    }
}

/// A station's policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamePolicy {
    allow: Vec<NameRule>,
    deny: Vec<NameRule>,
}

/// The policy as the API and the registry write it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamePolicyText {
    /// Allow rules.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Deny rules (they win).
    #[serde(default)]
    pub deny: Vec<String>,
}

impl NamePolicy {
    /// Parses and checks both lists; the rule that does not parse is named.
    pub fn parse(text: &NamePolicyText) -> Result<Self, VettingError> {
        let list = |rules: &[String], which: &str| -> Result<Vec<NameRule>, VettingError> {
            if rules.len() > MAX_RULES {
                return Err(VettingError::Rule(format!(
                    "at most {MAX_RULES} {which} rules, not {}",
                    rules.len()
                )));
            }
            let mut out: Vec<NameRule> = Vec::new();
            for r in rules {
                let rule: NameRule = r.parse()?;
                if !out.contains(&rule) {
                    out.push(rule);
                }
            }
            Ok(out)
        };
        Ok(Self {
            allow: list(&text.allow, "allow")?,
            deny: list(&text.deny, "deny")?,
        })
    }

    /// The canonical text (each rule rewritten in its canonical form).
    pub fn text(&self) -> NamePolicyText {
        NamePolicyText {
            allow: self.allow.iter().map(ToString::to_string).collect(),
            deny: self.deny.iter().map(ToString::to_string).collect(),
        }
    }

    /// Judges one name: a deny rule that covers it refuses it; otherwise an
    /// allow rule must cover it.
    pub fn judge(&self, name: &CertName) -> Result<(), Outside> {
        if let Some(rule) = self.deny.iter().find(|r| r.judge(name) == Some(true)) {
            return Err(Outside {
                name: name.to_string(),
                why: format!("is denied by the rule {rule}"),
            });
        }
        if self.allow.iter().any(|r| r.judge(name) == Some(true)) {
            return Ok(());
        }
        Err(Outside {
            name: name.to_string(),
            why: "is in none of the station's allowed namespaces".into(),
        })
    }

    /// Judges every name of a certificate: its subject and its alternative
    /// names. The subject's DNS-name, IP and email CNs and its emailAddress
    /// are judged by the rules of their type, always (RFC 5280 §4.2.1.10;
    /// clients still match a server's CN). Any other attribute (a person's
    /// name, an organisation) needs a `dn:` allow rule covering the subject;
    /// a `dn:` deny rule covering it refuses it whatever it holds.
    pub fn judge_certificate(&self, subject: &Name, alt: &AltNames) -> Result<(), Outside> {
        let whole = CertName::Subject(subject.clone());
        let by_dn = self.judge(&whole);
        if let Err(e) = &by_dn {
            if e.why.starts_with("is denied") {
                return by_dn;
            }
        }
        let (typed, other) = subject_names(subject)?;
        if let (Some(label), Err(_)) = (other, &by_dn) {
            return Err(Outside {
                name: format!("subject {subject}"),
                why: label,
            });
        }
        for name in typed {
            self.judge(&name)?;
        }
        for d in &alt.dns {
            self.judge(&CertName::Dns(d.clone()))?;
        }
        for i in &alt.ips {
            self.judge(&CertName::Ip(*i))?;
        }
        for e in &alt.emails {
            self.judge(&CertName::Email(e.clone()))?;
        }
        Ok(())
    }
}

/// The names a subject holds that rules of a type judge (DNS-name, IP and
/// email CNs, emailAddress), and the first attribute only a registration or
/// a `dn:` rule vouches for, in words. A wildcard CN is refused outright.
fn subject_names(subject: &Name) -> Result<(Vec<CertName>, Option<String>), Outside> {
    use crate::x509::CommonName;
    let outside = |why: String| Outside {
        name: format!("subject {subject}"),
        why,
    };
    let (mut typed, mut other) = (Vec::new(), None);
    for atv in subject.iter() {
        let oid = atv.oid.to_string();
        let text = crate::x509::attribute_text(&atv.value).unwrap_or_default();
        match oid.as_str() {
            "2.5.4.3" => match CommonName::of(&text) {
                CommonName::Dns(d) => typed.push(CertName::Dns(d)),
                CommonName::Ip(i) => typed.push(CertName::Ip(i)),
                CommonName::Email(e) => typed.push(CertName::Email(e)),
                CommonName::Wildcard => {
                    return Err(outside(
                        "has a wildcard CN; wildcard names are not issued".into(),
                    ))
                }
                CommonName::Other => {
                    other = other.or_else(|| Some("names a person or thing (its CN is not a DNS name, IP or email address): it needs a registration (`symbolon ra register`) or a dn: rule".to_string()));
                }
            },
            "1.2.840.113549.1.9.1" => typed.push(CertName::Email(text.parse().map_err(|_| {
                outside("has an emailAddress that is not an email address".into())
            })?)),
            _ => {
                let label = crate::x509::identity_attribute(&oid).map_or(oid.as_str(), |a| a.label);
                other = other.or_else(|| Some(format!(
                    "carries {label}, which only a registration (`symbolon ra register`) or a dn: rule vouches for"
                )));
            }
        }
    }
    Ok((typed, other))
}

#[cfg(test)]
mod tests {

    #[test]
    fn directory_rules_print_back_to_themselves_without_ldap_keywords() {
        // Found by the name_policy fuzz target: organizationIdentifier has
        // no LDAP keyword, and `Name`'s own RFC 4514 text writes it as
        // `2.5.4.97=#…`, which identities refuse.
        for text in [
            "dn:2.5.4.97=$",
            "dn:organizationIdentifier=NTRNL-1,O=Example",
            "dn:O=A\\, B",
        ] {
            let rule: NameRule = text.parse().unwrap();
            let again: NameRule = rule.to_string().parse().unwrap();
            assert_eq!(again.to_string(), rule.to_string(), "{text}");
        }
    }

    use super::*;
    use proptest::prelude::*;

    fn policy(allow: &[&str], deny: &[&str]) -> NamePolicy {
        NamePolicy::parse(&NamePolicyText {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    fn dns(s: &str) -> CertName {
        CertName::Dns(s.parse().unwrap())
    }

    #[test]
    fn dns_rules_match_whole_labels() {
        let p = policy(&["dns:example.com", "dns:*.devices.example"], &[]);
        assert!(p.judge(&dns("example.com")).is_ok());
        assert!(p.judge(&dns("a.b.example.com")).is_ok());
        assert!(p.judge(&dns("badexample.com")).is_err());
        assert!(p.judge(&dns("example.com.evil")).is_err());
        assert!(p.judge(&dns("x.devices.example")).is_ok());
        assert!(
            p.judge(&dns("devices.example")).is_err(),
            "*. is below only"
        );
        assert!(p.judge(&dns("xdevices.example")).is_err());
    }

    #[test]
    fn deny_wins_and_ip_ranges() {
        let p = policy(
            &["dns:example.com", "ip:10.0.0.0/8", "ip:2001:db8::/32"],
            &["dns:secret.example.com", "ip:10.9.0.0/16"],
        );
        assert!(p.judge(&dns("www.example.com")).is_ok());
        let e = p.judge(&dns("a.secret.example.com")).unwrap_err();
        assert!(
            e.why.contains("denied by the rule dns:secret.example.com"),
            "{e}"
        );
        let ip = |s: &str| CertName::Ip(s.parse().unwrap());
        assert!(p.judge(&ip("10.1.2.3")).is_ok());
        assert!(p.judge(&ip("10.9.1.1")).is_err());
        assert!(p.judge(&ip("11.0.0.1")).is_err());
        assert!(p.judge(&ip("2001:db8:1::1")).is_ok());
        assert!(p.judge(&ip("2001:db9::1")).is_err());
        assert!(
            p.judge(&ip("::ffff:10.1.2.3")).is_err(),
            "a v6 address is not in a v4 range"
        );
        assert!("ip:10.0.0.1/8".parse::<NameRule>().is_err());
        assert!("ip:10.0.0.0/33".parse::<NameRule>().is_err());
        assert!("ip:0.0.0.0/0".parse::<NameRule>().is_ok());
    }

    #[test]
    fn email_rules() {
        let p = policy(
            &[
                "email:example.com",
                "email:.corp.example",
                "email:boss@other.example",
            ],
            &[],
        );
        let e = |s: &str| CertName::Email(s.parse().unwrap());
        assert!(p.judge(&e("a@example.com")).is_ok());
        assert!(p.judge(&e("a@sub.example.com")).is_err());
        assert!(p.judge(&e("a@x.corp.example")).is_ok());
        assert!(p.judge(&e("a@corp.example")).is_err());
        assert!(p.judge(&e("boss@other.example")).is_ok());
        assert!(p.judge(&e("intern@other.example")).is_err());
    }

    #[test]
    fn every_name_of_a_certificate_is_judged() {
        let p = policy(&["dns:example.com"], &[]);
        let subject = parse_identity("CN=www.example.com").unwrap();
        let good = AltNames::parse_tagged(["dns:www.example.com", "dns:api.example.com"]).unwrap();
        assert!(p.judge_certificate(&subject, &good).is_ok());
        let one_bad = AltNames::parse_tagged([
            "dns:www.example.com",
            "dns:www.badexample.com",
            "dns:api.example.com",
        ])
        .unwrap();
        let e = p.judge_certificate(&subject, &one_bad).unwrap_err();
        assert_eq!(e.name, "dns:www.badexample.com");
        let person = parse_identity("CN=Alice Example").unwrap();
        assert!(p.judge_certificate(&person, &AltNames::default()).is_err());
        let org = parse_identity("CN=www.example.com,O=Example").unwrap();
        let e = p.judge_certificate(&org, &AltNames::default()).unwrap_err();
        assert!(e.why.contains("carries O"), "{e}");
        let dn = policy(&["dn:O=Example,C=GB"], &["dn:OU=Secret,O=Example,C=GB"]);
        assert!(dn
            .judge_certificate(
                &parse_identity("CN=Alice,O=Example,C=GB").unwrap(),
                &AltNames::default()
            )
            .is_ok());
        assert!(dn
            .judge_certificate(
                &parse_identity("CN=Alice,O=Other,C=GB").unwrap(),
                &AltNames::default()
            )
            .is_err());
        assert!(dn
            .judge_certificate(
                &parse_identity("CN=Eve,OU=Secret,O=Example,C=GB").unwrap(),
                &AltNames::default()
            )
            .is_err());
        let any = policy(&["dn:*"], &[]);
        assert!(any.judge_certificate(&person, &AltNames::default()).is_ok());
        assert!(
            any.judge_certificate(&person, &good).is_err(),
            "dn:* does not cover DNS names"
        );
        // A dn: rule covers the directory name, not the host names, mail
        // addresses or wildcards a subject holds.
        let dn_dns = policy(
            &["dn:O=Example,C=GB", "dns:example.com", "email:example.com"],
            &["dns:admin.example.com", "email:ceo@example.com"],
        );
        let no_alt = AltNames::default();
        let judge = |n: &Name| dn_dns.judge_certificate(n, &no_alt);
        let name = |s: &str| parse_identity(s).unwrap();
        assert!(judge(&name("CN=www.example.com,O=Example,C=GB")).is_ok());
        assert!(judge(&name("CN=Alice Example,O=Example,C=GB")).is_ok());
        assert!(judge(&name("emailAddress=ops@example.com,O=Example,C=GB")).is_ok());
        for refused in [
            "CN=mail.google.com,O=Example,C=GB",
            "CN=admin.example.com,O=Example,C=GB",
            "emailAddress=ceo@example.com,O=Example,C=GB",
            "emailAddress=ceo@evil.com,O=Example,C=GB",
            "CN=ceo@example.com,O=Example,C=GB",
        ] {
            assert!(judge(&name(refused)).is_err(), "{refused}");
        }
        // parse_identity refuses wildcards; a name built otherwise is
        // refused by the policy too.
        let wild: Name = "CN=*.example.com,O=Example,C=GB".parse().unwrap();
        assert!(judge(&wild).unwrap_err().why.contains("wildcard"));
    }

    #[test]
    fn canonical_text_round_trips() {
        let p = policy(
            &[
                "dns:EXAMPLE.com",
                "dns:.x.example",
                "email:.Corp.example",
                "ip:10.0.0.0/8",
                "dn:o=Example, c=GB",
                "dn:*",
            ],
            &["ip:192.0.2.1"],
        );
        let t = p.text();
        assert_eq!(
            t.allow,
            [
                "dns:example.com",
                "dns:*.x.example",
                "email:.corp.example",
                "ip:10.0.0.0/8",
                "dn:O=Example,C=GB",
                "dn:*"
            ]
        );
        assert_eq!(t.deny, ["ip:192.0.2.1/32"]);
        assert_eq!(NamePolicy::parse(&t).unwrap(), p);
        for bad in [
            "dns:",
            "dns:*.",
            "uri:x",
            "nocolon",
            "dn:2.5.4.999=x",
            "email:@x",
        ] {
            assert!(bad.parse::<NameRule>().is_err(), "{bad}");
        }
    }

    proptest! {
        /// RFC 5280 label semantics against a model: a DNS rule covers a
        /// name iff the name's labels end with the rule's labels.
        #[test]
        fn dns_cover_is_label_suffix(
            name in proptest::collection::vec("[a-c]{1,2}", 1..5),
            rule in proptest::collection::vec("[a-c]{1,2}", 1..4),
            below in any::<bool>(),
        ) {
            let n: DnsName = name.join(".").parse().unwrap();
            let text = if below { format!("dns:*.{}", rule.join(".")) } else { format!("dns:{}", rule.join(".")) };
            let r: NameRule = text.parse().unwrap();
            let suffix = name.len() >= rule.len() && name[name.len() - rule.len()..] == rule[..];
            let model = suffix && (!below || name.len() > rule.len());
            prop_assert_eq!(r.judge(&CertName::Dns(n)), Some(model));
        }

        /// Deny wins: whatever the allow list, a name a deny rule covers is refused.
        #[test]
        fn deny_always_wins(a in 0u8..=255, b in 0u8..=255, prefix in 0u8..=32) {
            let ip: IpAddr = format!("10.{a}.{b}.1").parse().unwrap();
            let p = policy(&["ip:0.0.0.0/0", "ip:10.0.0.0/8"], &[&format!("ip:10.{a}.{b}.1/32")]);
            prop_assert!(p.judge(&CertName::Ip(ip)).is_err());
            let bits = u32::from(match ip { IpAddr::V4(v) => v, _ => unreachable!() });
            let net = if prefix == 0 { 0 } else { bits & (u32::MAX << (32 - u32::from(prefix))) };
            let range: IpRange = format!("{}/{prefix}", std::net::Ipv4Addr::from(net)).parse().unwrap();
            prop_assert!(range.covers(&ip));
        }
    }
}
