//! `PKIBody` (RFC 4210 §5.1.2): the request bodies this CA serves, read,
//! and the answer bodies it builds. Each is one value under an EXPLICIT
//! context tag whose number names the body type.

use der::asn1::{Any, AnyRef, OctetString};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::{CmpError, InfoTypeAndValue, PkiStatusInfo};
use crate::x509::crmf::{elements, CertReqMsg, CertTemplate};

/// Body tag numbers (RFC 4210 §5.1.2).
pub(crate) mod number {
    pub(crate) const IR: u32 = 0;
    pub(crate) const IP: u32 = 1;
    pub(crate) const CR: u32 = 2;
    pub(crate) const CP: u32 = 3;
    pub(crate) const P10CR: u32 = 4;
    pub(crate) const KUR: u32 = 7;
    pub(crate) const KUP: u32 = 8;
    pub(crate) const RR: u32 = 11;
    pub(crate) const RP: u32 = 12;
    pub(crate) const PKICONF: u32 = 19;
    pub(crate) const GENM: u32 = 21;
    pub(crate) const GENP: u32 = 22;
    pub(crate) const ERROR: u32 = 23;
    pub(crate) const CERT_CONF: u32 = 24;
    pub(crate) const POLL_REQ: u32 = 25;
}

/// Most info types a `genm` may ask for.
pub const MAX_GENM_ITEMS: usize = 8;

/// `id-ce-cRLReasons`.
const REASON_CODE: const_oid::ObjectIdentifier = const_oid::db::rfc5280::ID_CE_CRL_REASONS;

/// A request body this CA serves.
#[derive(Debug, Clone)]
pub enum RequestBody {
    /// `ir`: initialization request (first contact).
    Ir(Box<CertReqMsg>),
    /// `cr`: certification request by a known sender.
    Cr(Box<CertReqMsg>),
    /// `kur`: key update request, a new key for a certificate.
    Kur(Box<CertReqMsg>),
    /// `p10cr`: a PKCS#10 request, DER.
    P10cr(Vec<u8>),
    /// `rr`: revocation request.
    Rr(Box<RevocationRequest>),
    /// `certConf`: the client's word on the certificate it received.
    CertConf(Vec<CertStatus>),
    /// `genm`: general message (the CA certificates).
    Genm(Vec<InfoTypeAndValue>),
    /// `pollReq`.
    PollReq,
    /// `error`: the client ends the transaction; its text.
    Error(String),
}

/// One `RevDetails` (RFC 4210 §5.3.9): the certificate, by issuer and
/// serial, and the reason given.
#[derive(Debug, Clone)]
pub struct RevocationRequest {
    /// `certDetails`.
    pub template: CertTemplate,
    /// The `reasonCode` of `crlEntryDetails`, when given.
    pub reason: Option<u8>,
}

/// `CertStatus ::= SEQUENCE { certHash, certReqId, statusInfo, hashAlg [0] }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct CertStatus {
    /// The hash of the certificate received.
    pub cert_hash: OctetString,
    /// `certReqId`.
    pub cert_req_id: i64,
    /// Accepted or rejected, and why.
    pub status_info: Option<PkiStatusInfo>,
    /// The hash algorithm, when not the certificate signature's (v3).
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub hash_alg: Option<AlgorithmIdentifierOwned>,
}

/// `ErrorMsgContent ::= SEQUENCE { pKIStatusInfo, errorCode, errorDetails }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct ErrorMsgContent {
    status: PkiStatusInfo,
    error_code: Option<i64>,
    error_details: Option<Vec<String>>,
}

/// `CertifiedKeyPair` with `certOrEncCert` a plain certificate (`[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct CertifiedKeyPair {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    certificate: Certificate,
}

/// `CertResponse ::= SEQUENCE { certReqId, status, certifiedKeyPair }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct CertResponse {
    cert_req_id: i64,
    status: PkiStatusInfo,
    certified_key_pair: Option<CertifiedKeyPair>,
}

/// `CertRepMessage ::= SEQUENCE { caPubs [1], response }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct CertRepMessage {
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    ca_pubs: Option<Vec<Certificate>>,
    response: Vec<CertResponse>,
}

/// `RevRepContent ::= SEQUENCE { status, revCerts [0], crls [1] }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct RevRepContent {
    status: Vec<PkiStatusInfo>,
}

fn malformed(what: &str, e: impl std::fmt::Display) -> CmpError {
    CmpError::Malformed(format!("{what}: {e}"))
}

/// The one element a Lightweight CMP request carries (RFC 9483 §4.1.1:
/// one certificate per request).
fn only_one<'a>(seq: &AnyRef<'a>, what: &str) -> Result<AnyRef<'a>, CmpError> {
    if seq.tag() != Tag::Sequence {
        return Err(CmpError::Malformed(format!("{what} is a SEQUENCE OF")));
    }
    let items = elements(seq.value()).map_err(|e| malformed(what, e))?;
    match items.as_slice() {
        [one] => Ok(*one),
        [] => Err(CmpError::Malformed(format!("{what} is empty"))),
        _ => Err(CmpError::UnsupportedBody(format!(
            "{what} with {} entries: one per message (RFC 9483 §4.1.1)",
            items.len()
        ))),
    }
}

fn der_of(any: &AnyRef<'_>) -> Result<Vec<u8>, CmpError> {
    any.to_der().map_err(|e| malformed("body", e))
}

impl RequestBody {
    /// Reads the body under tag `number`, `inner` its one value.
    pub fn parse(number: u32, inner: AnyRef<'_>) -> Result<Self, CmpError> {
        let cert_req = |what| -> Result<Box<CertReqMsg>, CmpError> {
            let one = only_one(&inner, what)?;
            CertReqMsg::from_der(&der_of(&one)?)
                .map(Box::new)
                .map_err(|e| malformed(what, e))
        };
        Ok(match number {
            number::IR => Self::Ir(cert_req("ir")?),
            number::CR => Self::Cr(cert_req("cr")?),
            number::KUR => Self::Kur(cert_req("kur")?),
            number::P10CR => Self::P10cr(der_of(&inner)?),
            number::RR => {
                let one = only_one(&inner, "rr")?;
                let parts = elements(one.value()).map_err(|e| malformed("RevDetails", e))?;
                let (details, rest) = parts
                    .split_first()
                    .ok_or_else(|| CmpError::Malformed("RevDetails is empty".into()))?;
                let template =
                    CertTemplate::from_der(&der_of(details)?).map_err(|e| malformed("rr", e))?;
                let reason = match rest {
                    [] => None,
                    [exts] => reason_code(&der_of(exts)?)?,
                    _ => return Err(CmpError::Malformed("RevDetails has two fields".into())),
                };
                Self::Rr(Box::new(RevocationRequest { template, reason }))
            }
            number::CERT_CONF => Self::CertConf(
                Vec::<CertStatus>::from_der(&der_of(&inner)?)
                    .map_err(|e| malformed("certConf", e))?,
            ),
            number::GENM => {
                let items = Vec::<InfoTypeAndValue>::from_der(&der_of(&inner)?)
                    .map_err(|e| malformed("genm", e))?;
                // Anyone may ask: an answer never outgrows its question
                // by more than one chain.
                if items.len() > MAX_GENM_ITEMS {
                    return Err(CmpError::UnsupportedBody(format!(
                        "genm asks for {} info types; at most {MAX_GENM_ITEMS}",
                        items.len()
                    )));
                }
                Self::Genm(items)
            }
            number::POLL_REQ => Self::PollReq,
            number::ERROR => {
                let e = ErrorMsgContent::from_der(&der_of(&inner)?)
                    .map_err(|e| malformed("error", e))?;
                Self::Error(
                    e.status
                        .status_string
                        .or(e.error_details)
                        .unwrap_or_default()
                        .join("; "),
                )
            }
            n => {
                return Err(CmpError::UnsupportedBody(format!(
                    "body type [{n}] is not served here: ir, cr, p10cr, kur, rr, certConf, genm, pollReq and error are (docs/cmp.md)"
                )))
            }
        })
    }

    /// The body's name, for the audit log and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ir(_) => "ir",
            Self::Cr(_) => "cr",
            Self::Kur(_) => "kur",
            Self::P10cr(_) => "p10cr",
            Self::Rr(_) => "rr",
            Self::CertConf(_) => "certConf",
            Self::Genm(_) => "genm",
            Self::PollReq => "pollReq",
            Self::Error(_) => "error",
        }
    }
}

/// The `reasonCode` in a RevDetails' `crlEntryDetails`.
fn reason_code(extensions: &[u8]) -> Result<Option<u8>, CmpError> {
    let exts = x509_cert::ext::Extensions::from_der(extensions)
        .map_err(|e| malformed("crlEntryDetails", e))?;
    let Some(ext) = exts.iter().find(|e| e.extn_id == REASON_CODE) else {
        return Ok(None);
    };
    let value =
        AnyRef::from_der(ext.extn_value.as_bytes()).map_err(|e| malformed("reasonCode", e))?;
    match (value.tag(), value.value()) {
        (Tag::Enumerated, [code]) => Ok(Some(*code)),
        _ => Err(CmpError::Malformed(
            "reasonCode is one ENUMERATED byte (RFC 5280 §5.3.1)".into(),
        )),
    }
}

/// A body this side sends (an answer, or a client's request): its tag
/// number and DER value.
pub(crate) struct OutgoingBody {
    pub(super) number: u32,
    pub(super) value: Vec<u8>,
}

fn encode(v: &impl Encode) -> Result<Vec<u8>, CmpError> {
    v.to_der().map_err(|e| malformed("answer", e))
}

impl OutgoingBody {
    /// `ip`, `cp` or `kup` (after `ir`, `cr`/`p10cr`, `kur`): the
    /// certificate, or the refusal.
    pub(super) fn certificate(
        request: u32,
        cert_req_id: i64,
        outcome: Result<Certificate, PkiStatusInfo>,
        ca_pubs: Option<Vec<Certificate>>,
    ) -> Result<Self, CmpError> {
        let number = match request {
            number::IR => number::IP,
            number::KUR => number::KUP,
            _ => number::CP,
        };
        let response = match outcome {
            Ok(certificate) => CertResponse {
                cert_req_id,
                status: PkiStatusInfo::accepted(),
                certified_key_pair: Some(CertifiedKeyPair { certificate }),
            },
            Err(status) => CertResponse {
                cert_req_id,
                status,
                certified_key_pair: None,
            },
        };
        Ok(Self {
            number,
            value: encode(&CertRepMessage {
                ca_pubs,
                response: vec![response],
            })?,
        })
    }

    /// `p10cr`, a client's: the DER PKCS#10 request.
    pub(super) fn p10cr(csr: &[u8]) -> Self {
        Self {
            number: number::P10CR,
            value: csr.to_vec(),
        }
    }

    /// `rp`.
    pub(super) fn revocation(status: PkiStatusInfo) -> Result<Self, CmpError> {
        Ok(Self {
            number: number::RP,
            value: encode(&RevRepContent {
                status: vec![status],
            })?,
        })
    }

    /// `pkiconf`.
    pub(super) fn confirmation() -> Result<Self, CmpError> {
        Ok(Self {
            number: number::PKICONF,
            value: encode(&der::asn1::Null)?,
        })
    }

    /// `genp`.
    pub(super) fn general(items: Vec<InfoTypeAndValue>) -> Result<Self, CmpError> {
        Ok(Self {
            number: number::GENP,
            value: encode(&items)?,
        })
    }

    /// `error`.
    pub(super) fn error(status: PkiStatusInfo) -> Result<Self, CmpError> {
        Ok(Self {
            number: number::ERROR,
            value: encode(&ErrorMsgContent {
                status,
                error_code: None,
                error_details: None,
            })?,
        })
    }

    /// The body as its tagged value.
    pub(super) fn tagged(&self) -> Result<Any, CmpError> {
        Any::new(
            crate::x509::crmf::context_tag(self.number, true),
            self.value.clone(),
        )
        .map_err(|e| malformed("answer", e))
    }
}

/// The `caCerts` value of a `genp`: the chain.
pub(crate) fn ca_certs_value(chain: &[Certificate]) -> Result<Any, CmpError> {
    Any::encode_from(&chain.to_vec()).map_err(|e| malformed("caCerts", e))
}

/// Whether `any` is the `[n]` tag of a body.
pub(crate) fn body_number(any: &AnyRef<'_>) -> Option<u32> {
    match any.tag() {
        Tag::ContextSpecific {
            constructed: true,
            number,
        } => Some(number.value()),
        _ => None,
    }
}
