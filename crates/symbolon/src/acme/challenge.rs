//! What a challenge's answer must be (RFC 8555 §8): the key authorization
//! (`token.thumbprint`), served as is for `http-01` (§8.3), and for
//! `tls-alpn-01` (RFC 8737 §3) hashed into a self-signed certificate's
//! critical `acmeIdentifier` extension, the certificate naming the domain
//! and nothing else. The fetching is the service's; the judging is here.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest;
use der::asn1::OctetString;
use der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use super::problem::{Problem, ProblemType};

/// `id-pe-acmeIdentifier`, 1.3.6.1.5.5.7.1.31 (RFC 8737 §6.1).
pub const ACME_IDENTIFIER: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");

/// The ALPN protocol of tls-alpn-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Most bytes of an http-01 answer read (RFC 8555 §8.3 bodies are a key
/// authorization: under 200 bytes).
pub const MAX_HTTP01_BODY: usize = 4096;

/// The challenge types this service validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeType {
    /// A file over HTTP on port 80.
    Http01,
    /// A certificate over TLS with ALPN `acme-tls/1` on port 443.
    TlsAlpn01,
}

impl ChallengeType {
    /// Both, in the order offered.
    pub const ALL: [Self; 2] = [Self::Http01, Self::TlsAlpn01];

    /// Its name in ACME.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

impl fmt::Display for ChallengeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChallengeType {
    type Err = Problem;
    fn from_str(s: &str) -> Result<Self, Problem> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| super::problem::malformed("unknown challenge type"))
    }
}

/// `token.thumbprint` (RFC 8555 §8.1).
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

/// Judges an http-01 answer: the key authorization, whitespace around it
/// allowed (RFC 8555 §8.3).
pub fn check_http01(body: &[u8], expected: &str) -> Result<(), Problem> {
    let got = String::from_utf8_lossy(body);
    if got.trim() == expected {
        return Ok(());
    }
    let shown: String = got.trim().chars().take(80).collect();
    Err(Problem::new(
        ProblemType::IncorrectResponse,
        format!("the http-01 answer is {shown:?}, not the key authorization {expected:?}"),
    ))
}

fn tls_problem(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemType::IncorrectResponse, detail)
}

/// Judges the certificate a tls-alpn-01 validation was shown (RFC 8737
/// §3): one dNSName, `domain`; a critical `acmeIdentifier` holding the
/// SHA-256 of the key authorization.
pub fn check_tls_alpn01(certificate: &[u8], domain: &str, expected: &str) -> Result<(), Problem> {
    let cert = Certificate::from_der(certificate)
        .map_err(|e| tls_problem(format!("the tls-alpn-01 certificate does not parse: {e}")))?;
    let extensions = cert
        .tbs_certificate()
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or_default();
    let san = extensions
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME)
        .ok_or_else(|| tls_problem("the tls-alpn-01 certificate has no subjectAltName"))?;
    let names = SubjectAltName::from_der(san.extn_value.as_bytes())
        .map_err(|e| tls_problem(format!("its subjectAltName does not parse: {e}")))?;
    match names.0.as_slice() {
        [GeneralName::DnsName(n)] if n.as_str().eq_ignore_ascii_case(domain) => {}
        _ => {
            return Err(tls_problem(format!(
                "the tls-alpn-01 certificate must name {domain} as its only subjectAltName"
            )))
        }
    }
    let id = extensions
        .iter()
        .find(|e| e.extn_id == ACME_IDENTIFIER)
        .ok_or_else(|| {
            tls_problem("the tls-alpn-01 certificate has no acmeIdentifier extension")
        })?;
    if !id.critical {
        return Err(tls_problem("the acmeIdentifier extension is not critical"));
    }
    let want = digest::digest(&digest::SHA256, expected.as_bytes());
    let want = OctetString::new(want.as_ref())
        .and_then(|o| o.to_der())
        .map_err(|e| Problem::new(ProblemType::ServerInternal, e.to_string()))?;
    // A byte comparison of public values: the digest of what the client
    // was told, nothing secret.
    if id.extn_value.as_bytes() != want.as_slice() {
        return Err(tls_problem(
            "the acmeIdentifier extension does not hold the SHA-256 of the key authorization",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http01_answers_are_the_key_authorization() {
        let ka = key_authorization("tok", "thumb");
        assert_eq!(ka, "tok.thumb");
        check_http01(b"tok.thumb\n", &ka).unwrap();
        let e = check_http01(b"tok.other", &ka).unwrap_err();
        assert!(e.is(ProblemType::IncorrectResponse));
        assert!(e.detail.contains("tok.other"));
        assert_eq!(
            "tls-alpn-01".parse::<ChallengeType>().unwrap(),
            ChallengeType::TlsAlpn01
        );
        assert!("dns-01".parse::<ChallengeType>().is_err());
    }

    #[test]
    fn junk_is_not_a_tls_alpn01_certificate() {
        assert!(check_tls_alpn01(b"junk", "a.example", "x").is_err());
    }
}
