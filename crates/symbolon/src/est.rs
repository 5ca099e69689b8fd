//! EST's message formats (RFC 7030, as clarified by RFC 8951;
//! docs/est.md): the base64 PKCS#10 a client posts, the base64 certs-only
//! CMS SignedData the service answers with, the CSR attributes it
//! advertises, and the enrollment code a first-contact client presents in
//! its `Authorization` header. Pure: the HTTP lives in the server.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cms::content_info::ContentInfo;
use const_oid::ObjectIdentifier;
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};
use thiserror::Error;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::access::EnrollmentCode;
use crate::keys::EcCurve;

/// Largest PKCS#10 request accepted (DER): an RSA-8192 request with every
/// name the profile allows stays well under it.
pub const MAX_REQUEST: usize = 16 * 1024;

/// Why an EST message is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EstError {
    /// The body is not base64 (RFC 8951: always base64, whatever
    /// Content-Transfer-Encoding says).
    #[error("the body must be a base64 PKCS#10 request (RFC 7030 §4.2.1, RFC 8951): {0}")]
    NotBase64(String),
    /// The decoded body is not one DER PKCS#10 request.
    #[error("the body is not a DER PKCS#10 request: {0}")]
    NotPkcs10(String),
    /// The request is over [`MAX_REQUEST`].
    #[error("the request is {0} bytes; at most {MAX_REQUEST} are accepted")]
    TooLarge(usize),
    /// An `Authorization` header that carries no enrollment code.
    #[error("{0}")]
    BadAuthorization(&'static str),
    /// A certificate that cannot be put in the answer.
    #[error("certificate for the answer: {0}")]
    Certificate(String),
}

/// The DER PKCS#10 request in a `simpleenroll`/`simplereenroll` body:
/// base64, line breaks and other whitespace allowed anywhere.
pub fn decode_pkcs10(body: &[u8]) -> Result<Vec<u8>, EstError> {
    // Base64 is 4/3 the size: refuse a body that cannot fit before decoding.
    if body.len() > MAX_REQUEST * 2 {
        return Err(EstError::TooLarge(body.len() * 3 / 4));
    }
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = B64
        .decode(&compact)
        .map_err(|e| EstError::NotBase64(e.to_string()))?;
    if der.len() > MAX_REQUEST {
        return Err(EstError::TooLarge(der.len()));
    }
    x509_cert::request::CertReq::from_der(&der).map_err(|e| EstError::NotPkcs10(e.to_string()))?;
    Ok(der)
}

/// A certs-only CMS SignedData (RFC 5652 §5, no signers) holding `certs`,
/// DER: what `cacerts`, `simpleenroll` and `simplereenroll` answer.
pub fn certs_only(certs: &[&[u8]]) -> Result<Vec<u8>, EstError> {
    let parsed = certs
        .iter()
        .map(|c| Certificate::from_der(c).map_err(|e| EstError::Certificate(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    ContentInfo::try_from(parsed)
        .and_then(|ci| ci.to_der())
        .map_err(|e| EstError::Certificate(e.to_string()))
}

/// DER as an EST body: base64 in lines of 64 characters (RFC 7030 §4:
/// `Content-Transfer-Encoding: base64`), each ended by a line feed alone,
/// which every base64 decoder takes (GNU `base64 -d` refuses a CR).
pub fn base64_body(der: &[u8]) -> String {
    let text = B64.encode(der);
    let mut out = String::with_capacity(text.len() + text.len() / 32 + 2);
    for line in text.as_bytes().chunks(64) {
        // Base64 is ASCII: every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out
}

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// The `csrattrs` answer (RFC 7030 §4.5.2, `CsrAttrs ::= SEQUENCE OF
/// AttrOrOID`), DER: the key types this CA certifies for the role (RSA;
/// ECDSA on the role's NIST curves, as an `id-ecPublicKey` attribute
/// naming them; Ed25519 as its OID) and the request signatures it prefers.
/// Every other attribute and extension of a request is set by the
/// profile, not the client (docs/vetting.md).
pub fn csr_attributes(curves: &[EcCurve]) -> Result<Vec<u8>, EstError> {
    let internal = |e: der::Error| EstError::Certificate(e.to_string());
    let mut items: Vec<Any> = vec![Any::encode_from(&RSA_ENCRYPTION).map_err(internal)?];
    let mut named = SetOfVec::new();
    for c in curves {
        let oid = match c {
            EcCurve::P256 => SECP256R1,
            EcCurve::P384 => SECP384R1,
            EcCurve::Ed25519 | EcCurve::X25519 => continue,
        };
        named
            .insert(Any::encode_from(&oid).map_err(internal)?)
            .map_err(internal)?;
    }
    if !named.is_empty() {
        let ec = Attribute {
            oid: EC_PUBLIC_KEY,
            values: named,
        };
        items.push(Any::encode_from(&ec).map_err(internal)?);
    }
    if curves.contains(&EcCurve::Ed25519) {
        items.push(Any::encode_from(&ED25519).map_err(internal)?);
    }
    items.push(Any::encode_from(&SHA256_WITH_RSA).map_err(internal)?);
    items.push(Any::encode_from(&ECDSA_WITH_SHA256).map_err(internal)?);
    items.to_der().map_err(internal)
}

/// The enrollment code in an `Authorization` header: `Basic` (RFC 7617;
/// any user name, the code as the password, as EST clients and curl send
/// it) or `Bearer` (RFC 6750, the code as the token).
pub fn enrollment_code(header: &str) -> Result<EnrollmentCode, EstError> {
    let (scheme, value) = header
        .trim()
        .split_once(' ')
        .ok_or(EstError::BadAuthorization(
            "Authorization: use Basic (any user, the enrollment code as password) or Bearer CODE",
        ))?;
    let value = value.trim();
    let bad = || {
        EstError::BadAuthorization(
            "the enrollment code is the 32 hex digits `symbolon ra register --enrollment-code` printed",
        )
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return EnrollmentCode::parse(value).map_err(|_| bad());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(EstError::BadAuthorization(
            "Authorization: only the Basic and Bearer schemes are taken",
        ));
    }
    let decoded = Zeroizing::new(B64.decode(value).map_err(|_| {
        EstError::BadAuthorization("Authorization: Basic needs base64 of user:password")
    })?);
    let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (_user, password) = text.split_once(':').ok_or(EstError::BadAuthorization(
        "Authorization: Basic needs base64 of user:password",
    ))?;
    EnrollmentCode::parse(password).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_that_are_not_a_request_are_refused() {
        assert!(matches!(
            decode_pkcs10(b"not base64 !"),
            Err(EstError::NotBase64(_))
        ));
        assert!(matches!(
            decode_pkcs10(B64.encode(b"\x30\x03\x02\x01\x01").as_bytes()),
            Err(EstError::NotPkcs10(_))
        ));
        let big = B64.encode(vec![0x30u8; MAX_REQUEST + 3]);
        assert!(matches!(
            decode_pkcs10(big.as_bytes()),
            Err(EstError::TooLarge(_))
        ));
        assert!(matches!(
            decode_pkcs10(&vec![b'A'; MAX_REQUEST * 2 + 4]),
            Err(EstError::TooLarge(_))
        ));
    }

    #[test]
    fn lines_of_64() {
        let body = base64_body(&[7u8; 100]);
        assert!(!body.contains('\r'));
        let lines: Vec<&str> = body.split('\n').collect();
        assert_eq!(lines[0].len(), 64);
        assert_eq!(lines.last(), Some(&""));
        let joined: String = lines.concat();
        assert_eq!(B64.decode(joined).unwrap(), vec![7u8; 100]);
    }

    #[test]
    fn csr_attributes_are_a_sequence_of_oids_and_attributes() {
        let der = csr_attributes(&[EcCurve::P256, EcCurve::P384, EcCurve::Ed25519]).unwrap();
        let items: Vec<Any> = Vec::from_der(&der).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(
            items[0].decode_as::<ObjectIdentifier>().unwrap(),
            RSA_ENCRYPTION
        );
        let ec: Attribute = items[1].decode_as().unwrap();
        assert_eq!(ec.oid, EC_PUBLIC_KEY);
        assert_eq!(ec.values.len(), 2);
        assert_eq!(items[2].decode_as::<ObjectIdentifier>().unwrap(), ED25519);
        // A role without EC keys: RSA and the signatures only.
        let items: Vec<Any> = Vec::from_der(&csr_attributes(&[]).unwrap()).unwrap();
        assert_eq!(items.len(), 3);
    }

    #[test]
    fn codes_in_basic_and_bearer() {
        let code = EnrollmentCode::generate().unwrap();
        let shown = code.reveal();
        let basic = format!("Basic {}", B64.encode(format!("device-7:{}", &*shown)));
        assert_eq!(enrollment_code(&basic).unwrap().digest(), code.digest());
        let bearer = format!("bearer {}", &*shown);
        assert_eq!(enrollment_code(&bearer).unwrap().digest(), code.digest());
        for bad in [
            "Basic",
            "Digest abc",
            "Basic !!!",
            &format!("Basic {}", B64.encode("no-colon")),
            &format!("Basic {}", B64.encode("u:wrong")),
            "Bearer 1234",
        ] {
            assert!(
                matches!(enrollment_code(bad), Err(EstError::BadAuthorization(_))),
                "{bad}"
            );
        }
    }
}
