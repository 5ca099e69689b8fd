//! PKCS#10 certification requests: built by the station with the new key as
//! signer (proof of possession), verified by the CA.

use der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, RequestBuilder};

use super::signer::to_der;
use super::{AltNames, EcSigner, RsaSigner, X509Error};
use crate::keys::{
    EcPublicKey, EcSigningInput, MessageDigest, PublicKey, RsaPublicKey, SignatureAlgorithm,
    SignatureScheme,
};

/// A request whose signature verified under its own public key.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    /// The subject it asks for.
    pub subject: Name,
    /// Its public key (proven in the signer's possession).
    pub public_key: PublicKey,
    /// The subject alternative names its `extensionRequest` asks for.
    pub alt_names: AltNames,
}

/// Builds a DER PKCS#10 request for `subject`, signed through `sign`.
pub fn build_csr<E: std::fmt::Display>(
    subject: &Name,
    signer: &RsaSigner,
    sign: impl FnOnce(SignatureScheme, &MessageDigest) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, X509Error> {
    build_csr_with_names(subject, &AltNames::default(), signer, sign)
}

/// The same, asking for the subject alternative names `names` (an
/// `extensionRequest` with a subjectAltName) when there are any.
pub fn build_csr_with_names<E: std::fmt::Display>(
    subject: &Name,
    names: &AltNames,
    signer: &RsaSigner,
    sign: impl FnOnce(SignatureScheme, &MessageDigest) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, X509Error> {
    let req = signer.build(request_builder(subject, names)?, sign)?;
    to_der("request", &req)
}

/// The same for an EC key: a request signed through `sign` (ECDSA over
/// the digest of its curve's hash, or Ed25519 over the request info).
pub fn build_ec_csr_with_names<E: std::fmt::Display>(
    subject: &Name,
    names: &AltNames,
    signer: &EcSigner,
    sign: impl FnOnce(EcSigningInput<'_>) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, X509Error> {
    let req = signer.build(request_builder(subject, names)?, sign)?;
    to_der("request", &req)
}

fn request_builder(subject: &Name, names: &AltNames) -> Result<RequestBuilder, X509Error> {
    let mut builder =
        RequestBuilder::new(subject.clone()).map_err(X509Error::encoding("request"))?;
    if !names.is_empty() {
        let san = x509_cert::ext::pkix::SubjectAltName(
            names
                .general_names()
                .map_err(X509Error::encoding("subjectAltName"))?,
        );
        builder
            .add_extension((false, &san))
            .map_err(X509Error::encoding("subjectAltName"))?;
    }
    Ok(builder)
}

/// The SubjectPublicKeyInfo DER a request names, without checking anything
/// else (to record the modulus of a key whose request was refused).
pub fn csr_spki(der: &[u8]) -> Option<Vec<u8>> {
    CertReq::from_der(der).ok()?.info.public_key.to_der().ok()
}

/// Parses a DER request and verifies its self-signature.
pub fn verify_csr(der: &[u8]) -> Result<VerifiedCsr, X509Error> {
    let req = CertReq::from_der(der).map_err(X509Error::malformed("PKCS#10 request"))?;
    require_der(der, &req)?;
    let alg = SignatureAlgorithm::from_x509(&req.algorithm.oid, req.algorithm.parameters.as_ref())?;
    let public_key = request_public_key(&req.info.public_key, "PKCS#10 request")?;
    let info = to_der("request info", &req.info)?;
    let sig = req
        .signature
        .as_bytes()
        .ok_or(X509Error::BadSignature("request"))?;
    public_key
        .verify(alg, &info, sig)
        .map_err(|_| X509Error::BadSignature("request"))?;
    if req.info.version != x509_cert::request::Version::V1 {
        return Err(X509Error::Malformed {
            what: "PKCS#10 request",
            reason: "version must be 0".into(),
        });
    }
    // The request is only a request: the CA's profile sets every extension.
    // Only the alternative names it asks for are read, and certified only as
    // far as the subject's registration or the station's name policy allows.
    let alt_names = requested_alt_names(&req)?;
    Ok(VerifiedCsr {
        subject: req.info.subject,
        public_key,
        alt_names,
    })
}

/// The key a request (PKCS#10 or CRMF) asks to certify, checked the way
/// every subject key is before its proof of possession is verified: RSA
/// with NULL parameters and within the key policy, or a validated point on
/// a named curve that can sign.
pub(crate) fn request_public_key(
    spki: &spki::SubjectPublicKeyInfoOwned,
    what: &'static str,
) -> Result<PublicKey, X509Error> {
    let der = to_der("request public key", spki)?;
    if spki.algorithm.oid == const_oid::db::rfc5912::RSA_ENCRYPTION {
        // rsaEncryption's parameters are NULL, and present (RFC 3279 §2.3.1).
        if spki.algorithm.parameters.as_ref().map(der::Tagged::tag) != Some(der::Tag::Null) {
            return Err(X509Error::Malformed {
                what,
                reason:
                    "the subject public key's algorithm parameters must be NULL (RFC 3279 §2.3.1)"
                        .into(),
            });
        }
        let key = RsaPublicKey::from_der(&der)?;
        // Keys outside the policy cannot be verified here (and would be
        // refused anyway): say so, rather than blame the signature.
        key.check_policy()?;
        Ok(PublicKey::Rsa(key))
    } else {
        // Named curves only, the point validated (docs/ec-keys.md); a key
        // that cannot sign (X25519) cannot prove possession either.
        let key = EcPublicKey::from_spki_der(&der)?;
        key.require_signing()?;
        Ok(PublicKey::Ec(key))
    }
}

/// The names in the request's subjectAltName extension request, if any.
fn requested_alt_names(req: &CertReq) -> Result<AltNames, X509Error> {
    let mut out: Option<AltNames> = None;
    for attr in req.info.attributes.iter() {
        if attr.oid != EXTENSION_REQUEST {
            continue;
        }
        for value in attr.values.iter() {
            let exts = x509_cert::ext::Extensions::from_der(&encode(value)?)
                .map_err(X509Error::malformed("PKCS#10 extensionRequest"))?;
            for ext in exts.iter() {
                if ext.extn_id != const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME {
                    continue;
                }
                if out.is_some() {
                    return Err(X509Error::Malformed {
                        what: "PKCS#10 request",
                        reason: "subjectAltName requested twice".into(),
                    });
                }
                let san = x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
                    .map_err(X509Error::malformed("requested subjectAltName"))?;
                out = Some(AltNames::from_extension(&san)?);
            }
        }
    }
    Ok(out.unwrap_or_default())
}

/// `extensionRequest` (PKCS#9, RFC 2985 §5.4.2).
const EXTENSION_REQUEST: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");

fn not_der(field: &str) -> X509Error {
    X509Error::Malformed {
        what: "PKCS#10 request",
        reason: format!(
            "not DER-encoded: {field} (RFC 2986 requires DER: no BER forms, no explicitly encoded defaults)"
        ),
    }
}

/// The elements of a constructed value (the contents of a SEQUENCE or SET),
/// as they were encoded.
fn elements(value: &[u8]) -> Result<Vec<der::asn1::AnyRef<'_>>, X509Error> {
    use der::Reader;
    let malformed = || X509Error::malformed("PKCS#10 request");
    let mut reader = der::SliceReader::new(value).map_err(malformed())?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(reader.decode().map_err(malformed())?);
    }
    Ok(out)
}

/// The contents of one encoded TLV.
fn contents(tlv: &[u8]) -> Result<&[u8], X509Error> {
    Ok(der::asn1::AnyRef::from_der(tlv)
        .map_err(X509Error::malformed("PKCS#10 request"))?
        .value())
}

fn encode<T: Encode>(value: &T) -> Result<Vec<u8>, X509Error> {
    value.to_der().map_err(X509Error::encoding("request"))
}

/// A PKCS#10 request must be DER (RFC 2986 §4): the parser accepts some BER
/// forms (an explicit `critical FALSE`, for one), so each part is encoded
/// again and compared with what was sent, naming the first that differs.
/// Attributes must hold at least one value (`SET SIZE(1..MAX)`), and the
/// extensions an `extensionRequest` carries are held to DER as well.
fn require_der(der: &[u8], req: &CertReq) -> Result<(), X509Error> {
    for attr in req.info.attributes.iter() {
        if attr.values.is_empty() {
            return Err(X509Error::Malformed {
                what: "PKCS#10 request",
                reason: format!(
                    "attribute {} has an empty SET of values (at least one is required)",
                    attr.oid
                ),
            });
        }
        if attr.oid != EXTENSION_REQUEST {
            continue;
        }
        for value in attr.values.iter() {
            let raw = encode(value)?;
            let exts = x509_cert::ext::Extensions::from_der(&raw)
                .map_err(X509Error::malformed("PKCS#10 extensionRequest"))?;
            for (ext, original) in exts.iter().zip(elements(contents(&raw)?)?) {
                if encode(ext)? != encode(&original)? {
                    return Err(not_der(&format!(
                        "extensionRequest: extension {}",
                        ext.extn_id
                    )));
                }
            }
        }
    }
    if encode(req)? == der {
        return Ok(());
    }
    let top = elements(contents(der)?)?;
    let info = match top.first() {
        Some(i) => elements(i.value())?,
        None => return Err(not_der("the request")),
    };
    // Attributes are [0] IMPLICIT: compare contents, not tags.
    let parts: [(&str, Vec<u8>, Option<&der::asn1::AnyRef<'_>>); 6] = [
        ("the version", encode(&req.info.version)?, info.first()),
        ("the subject", encode(&req.info.subject)?, info.get(1)),
        (
            "the subject public key info",
            encode(&req.info.public_key)?,
            info.get(2),
        ),
        ("the attributes", encode(&req.info.attributes)?, info.get(3)),
        (
            "the signature algorithm",
            encode(&req.algorithm)?,
            top.get(1),
        ),
        ("the signature", encode(&req.signature)?, top.get(2)),
    ];
    for (field, typed, original) in parts {
        match original {
            Some(o) if o.value() == contents(&typed)? => {}
            _ => return Err(not_der(field)),
        }
    }
    Err(not_der("the request"))
}
