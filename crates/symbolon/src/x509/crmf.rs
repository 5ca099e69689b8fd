//! CRMF certificate requests (RFC 4211), the form CMP's `ir`, `cr` and
//! `kur` carry: a certificate template (subject, key, requested
//! extensions) and a proof of possession, the new key's signature over the
//! DER `CertRequest` (§4.1). Verified into the same [`VerifiedCsr`] a
//! PKCS#10 request gives, so both go through one review.
//!
//! CRMF's module uses IMPLICIT tags, except where the tagged type is a
//! CHOICE (`Name`), whose tag is then explicit (X.680 §31.2.7).

use der::asn1::{AnyRef, BitString, Int};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::Extensions;
use x509_cert::name::Name;

use super::csr::request_public_key;
use super::{AltNames, VerifiedCsr, X509Error};
use crate::keys::SignatureAlgorithm;

const WHAT: &str = "CRMF request";

/// The fields of a `CertTemplate` (RFC 4211 §5) this CA reads. The rest
/// (version, validity, signing algorithm, unique identifiers) the CA's
/// profile sets, whatever a request asks.
#[derive(Debug, Clone, Default)]
pub struct CertTemplate {
    /// `serialNumber` (a revocation request names the certificate by it).
    pub serial: Option<Int>,
    /// `issuer`.
    pub issuer: Option<Name>,
    /// `subject`.
    pub subject: Option<Name>,
    /// `publicKey`.
    pub public_key: Option<SubjectPublicKeyInfoOwned>,
    /// `extensions`: only the subjectAltName among them is read.
    pub extensions: Option<Extensions>,
}

/// One `CertReqMsg`, parsed, its proof of possession not yet checked.
#[derive(Debug, Clone)]
pub struct CertReqMsg {
    /// `certReqId`: the answer names the request by it.
    pub cert_req_id: i64,
    /// What is asked for.
    pub template: CertTemplate,
    /// The `CertRequest` as received: what the proof of possession signs.
    cert_request: Vec<u8>,
    /// The whole `CertReqMsg` as received.
    der: Vec<u8>,
    /// The `signature` proof of possession, when there is one.
    popo: Option<(AlgorithmIdentifierOwned, Vec<u8>)>,
}

fn malformed(reason: impl Into<String>) -> X509Error {
    X509Error::Malformed {
        what: WHAT,
        reason: reason.into(),
    }
}

/// The elements of a constructed value's contents.
pub(crate) fn elements(contents: &[u8]) -> Result<Vec<AnyRef<'_>>, X509Error> {
    let mut reader = SliceReader::new(contents).map_err(X509Error::malformed(WHAT))?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(reader.decode().map_err(X509Error::malformed(WHAT))?);
    }
    Ok(out)
}

/// The context-specific tag number of `any`, if it has one.
pub(crate) fn context_number(any: &AnyRef<'_>) -> Option<u32> {
    match any.tag() {
        Tag::ContextSpecific { number, .. } => Some(number.value()),
        _ => None,
    }
}

/// An IMPLICIT `[n]` whose underlying type is `tag`, as that type's DER.
pub(crate) fn untag(any: &AnyRef<'_>, tag: Tag) -> Result<Vec<u8>, X509Error> {
    AnyRef::new(tag, any.value())
        .and_then(|a| a.to_der())
        .map_err(X509Error::malformed(WHAT))
}

/// An EXPLICIT `[n]`'s one inner value, as DER.
pub(crate) fn explicit_inner<'a>(any: &AnyRef<'a>) -> Result<AnyRef<'a>, X509Error> {
    match elements(any.value())?.as_slice() {
        [one] => Ok(*one),
        _ => Err(malformed("an explicitly tagged field holds one value")),
    }
}

impl CertTemplate {
    /// Parses a DER `CertTemplate`.
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let seq = AnyRef::from_der(der).map_err(X509Error::malformed(WHAT))?;
        if seq.tag() != Tag::Sequence {
            return Err(malformed("a CertTemplate is a SEQUENCE"));
        }
        let mut t = CertTemplate::default();
        let mut last = None;
        for field in elements(seq.value())? {
            let n = context_number(&field)
                .ok_or_else(|| malformed("CertTemplate fields are context-tagged"))?;
            if last.is_some_and(|l| n <= l) {
                return Err(malformed("CertTemplate fields out of order or repeated"));
            }
            last = Some(n);
            match n {
                1 => {
                    t.serial = Some(
                        Int::from_der(&untag(&field, Tag::Integer)?)
                            .map_err(X509Error::malformed(WHAT))?,
                    )
                }
                3 => {
                    t.issuer = Some(
                        Name::from_der(
                            &explicit_inner(&field)?
                                .to_der()
                                .map_err(X509Error::malformed(WHAT))?,
                        )
                        .map_err(X509Error::malformed("CertTemplate issuer"))?,
                    )
                }
                5 => {
                    t.subject = Some(
                        Name::from_der(
                            &explicit_inner(&field)?
                                .to_der()
                                .map_err(X509Error::malformed(WHAT))?,
                        )
                        .map_err(X509Error::malformed("CertTemplate subject"))?,
                    )
                }
                6 => {
                    t.public_key = Some(
                        SubjectPublicKeyInfoOwned::from_der(&untag(&field, Tag::Sequence)?)
                            .map_err(X509Error::malformed("CertTemplate publicKey"))?,
                    )
                }
                9 => {
                    t.extensions = Some(
                        Extensions::from_der(&untag(&field, Tag::Sequence)?)
                            .map_err(X509Error::malformed("CertTemplate extensions"))?,
                    )
                }
                0 | 2 | 4 | 7 | 8 => {}
                _ => return Err(malformed(format!("CertTemplate has no field [{n}]"))),
            }
        }
        Ok(t)
    }

    /// The subject alternative names the template asks for.
    pub fn alt_names(&self) -> Result<AltNames, X509Error> {
        let mut out: Option<AltNames> = None;
        for ext in self.extensions.iter().flatten() {
            if ext.extn_id != const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME {
                continue;
            }
            if out.is_some() {
                return Err(malformed("subjectAltName requested twice"));
            }
            let san = x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
                .map_err(X509Error::malformed("requested subjectAltName"))?;
            out = Some(AltNames::from_extension(&san)?);
        }
        Ok(out.unwrap_or_default())
    }
}

impl CertReqMsg {
    /// Parses one DER `CertReqMsg` (RFC 4211 §3).
    pub fn from_der(der: &[u8]) -> Result<Self, X509Error> {
        let msg = AnyRef::from_der(der).map_err(X509Error::malformed(WHAT))?;
        if msg.tag() != Tag::Sequence {
            return Err(malformed("a CertReqMsg is a SEQUENCE"));
        }
        let parts = elements(msg.value())?;
        let (req, rest) = parts
            .split_first()
            .ok_or_else(|| malformed("a CertReqMsg starts with its CertRequest"))?;
        let cert_request = req.to_der().map_err(X509Error::malformed(WHAT))?;
        let fields = elements(req.value())?;
        let [id, template, ..] = fields.as_slice() else {
            return Err(malformed("a CertRequest holds certReqId and certTemplate"));
        };
        if fields.len() > 3 {
            return Err(malformed("a CertRequest has at most three fields"));
        }
        let cert_req_id: i64 = id.decode_as().map_err(X509Error::malformed("certReqId"))?;
        let template =
            CertTemplate::from_der(&template.to_der().map_err(X509Error::malformed(WHAT))?)?;
        let mut popo = None;
        for part in rest {
            match context_number(part) {
                // [1] POPOSigningKey, IMPLICIT SEQUENCE.
                Some(1) => popo = Some(signing_key_popo(part)?),
                Some(0) => {
                    return Err(malformed(
                        "raVerified proof of possession: only the key's own signature is accepted here",
                    ))
                }
                Some(n @ (2 | 3)) => {
                    return Err(malformed(format!(
                        "proof of possession [{n}] (key encipherment or agreement): the key must sign its request"
                    )))
                }
                // regInfo: nothing in it is needed.
                None if part.tag() == Tag::Sequence => {}
                _ => return Err(malformed("unexpected field after the CertRequest")),
            }
        }
        Ok(Self {
            cert_req_id,
            template,
            cert_request,
            der: der.to_vec(),
            popo,
        })
    }

    /// Verifies the proof of possession (the template's key signed the
    /// `CertRequest`) and reads what is asked for. A template without a
    /// subject gives an empty one (a key update names the certificate it
    /// replaces instead).
    pub fn verify(&self) -> Result<VerifiedCsr, X509Error> {
        let spki = self
            .template
            .public_key
            .as_ref()
            .ok_or_else(|| malformed("the certTemplate names no publicKey"))?;
        let public_key = request_public_key(spki, WHAT)?;
        let (alg, sig) = self.popo.as_ref().ok_or_else(|| {
            malformed(
                "no proof of possession: the new key must sign the CertRequest (RFC 4211 §4.1)",
            )
        })?;
        let alg = SignatureAlgorithm::from_x509(&alg.oid, alg.parameters.as_ref())?;
        public_key
            .verify(alg, &self.cert_request, sig)
            .map_err(|_| X509Error::BadSignature("CRMF proof of possession"))?;
        Ok(VerifiedCsr {
            subject: self.template.subject.clone().unwrap_or_default(),
            public_key,
            alt_names: self.template.alt_names()?,
        })
    }

    /// The `CertReqMsg` as received, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER SubjectPublicKeyInfo the template names, checked for
    /// nothing else.
    pub fn spki_der(&self) -> Option<Vec<u8>> {
        self.template.public_key.as_ref()?.to_der().ok()
    }
}

/// `POPOSigningKey ::= SEQUENCE { poposkInput [0] OPTIONAL,
/// algorithmIdentifier, signature BIT STRING }`, `poposkInput` absent (it
/// is only for a template without subject and key, RFC 4211 §4.1).
fn signing_key_popo(field: &AnyRef<'_>) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), X509Error> {
    let parts = elements(field.value())?;
    let [alg, sig] = parts.as_slice() else {
        return Err(malformed(
            "POPOSigningKey: poposkInput is not accepted; the key signs the CertRequest itself",
        ));
    };
    let alg =
        AlgorithmIdentifierOwned::from_der(&alg.to_der().map_err(X509Error::malformed(WHAT))?)
            .map_err(X509Error::malformed("POPOSigningKey algorithm"))?;
    let sig: BitString = sig
        .decode_as()
        .map_err(X509Error::malformed("POPOSigningKey signature"))?;
    let sig = sig
        .as_bytes()
        .ok_or_else(|| malformed("POPOSigningKey signature has unused bits"))?
        .to_vec();
    Ok((alg, sig))
}

/// An IMPLICIT `[n]` tag for a constructed field.
pub(crate) fn context_tag(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}
