//! OCSP (RFC 6960) for the CA's responder: requests read, responses
//! built and signed by a delegated responder key, the nonce extension
//! (RFC 8954) echoed. The ASN.1 below is RFC 6960 §4's module, written
//! for the workspace's `der` 0.8 (RustCrypto's `x509-ocsp` is still on
//! `der` 0.7 and `x509-cert` 0.2: a second X.509 stack for one structure).

use std::time::Duration;

use const_oid::db::{rfc5912, rfc6960};
use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Choice, Decode, Encode, Enumerated, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::{Extension, Extensions};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use super::{RevocationError, RevocationReason};
use crate::keys::SignRequest;
use crate::x509::CaSigner;

/// The longest nonce echoed (RFC 8954 §2.1: 1 to 32 octets).
pub const MAX_NONCE: usize = 32;
/// The most certificates one request may ask about.
pub const MAX_REQUESTS: usize = 16;

/// `CertID`: which certificate a request or response is about.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertId {
    /// The hash the two issuer hashes use.
    pub hash_algorithm: AlgorithmIdentifierOwned,
    /// Hash of the issuer's DN (DER).
    pub issuer_name_hash: OctetString,
    /// Hash of the issuer's public key (the BIT STRING's value).
    pub issuer_key_hash: OctetString,
    /// The certificate's serial.
    pub serial_number: SerialNumber,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct Request {
    req_cert: CertId,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    single_request_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TbsRequest {
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    version: Option<u8>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    requestor_name: Option<der::Any>,
    request_list: Vec<Request>,
    #[asn1(context_specific = "2", optional = "true", tag_mode = "EXPLICIT")]
    request_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspRequest {
    tbs_request: TbsRequest,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    optional_signature: Option<der::Any>,
}

/// `OCSPResponseStatus`.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Enumerated)]
#[asn1(type = "ENUMERATED")]
#[repr(u8)]
pub enum ResponseStatus {
    /// A response follows.
    Successful = 0,
    /// The request did not parse.
    MalformedRequest = 1,
    /// The responder failed.
    InternalError = 2,
    /// Try again later.
    TryLater = 3,
    /// The request must be signed (not used here).
    SigRequired = 5,
    /// This responder cannot answer for that issuer.
    Unauthorized = 6,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspResponse {
    response_status: ResponseStatus,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    response_bytes: Option<ResponseBytes>,
}

#[derive(Clone, Debug, Eq, PartialEq, Choice)]
enum ResponderId {
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RevokedInfo {
    revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    revocation_reason: Option<CrlReason>,
}

#[derive(Clone, Debug, Eq, PartialEq, Choice)]
enum CertStatusDer {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SingleResponse {
    cert_id: CertId,
    cert_status: CertStatusDer,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    next_update: Option<GeneralizedTime>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseData {
    responder_id: ResponderId,
    produced_at: GeneralizedTime,
    responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    response_extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct BasicOcspResponse {
    tbs_response_data: ResponseData,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    certs: Option<Vec<Certificate>>,
}

/// A request, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspQuery {
    /// The certificates asked about, in order.
    pub cert_ids: Vec<CertId>,
    /// The request's nonce extension, to echo (its value is at most
    /// [`MAX_NONCE`] octets).
    pub nonce: Option<Extension>,
}

/// Why a request cannot be answered with statuses: the error response's
/// status says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRefusal {
    /// The status to answer with.
    pub status: ResponseStatus,
    /// Why (for the audit log; the response carries only the status).
    pub reason: String,
}

fn malformed(reason: impl Into<String>) -> OcspRefusal {
    OcspRefusal {
        status: ResponseStatus::MalformedRequest,
        reason: reason.into(),
    }
}

/// Reads an `OCSPRequest`. Signed requests are read and their signature
/// ignored (RFC 6960 §4.1.2 leaves it to the responder; nothing here
/// depends on who asks). A nonce over [`MAX_NONCE`] octets is refused
/// (RFC 8954 §2.1).
pub fn read_request(der: &[u8]) -> Result<OcspQuery, OcspRefusal> {
    let request = OcspRequest::from_der(der).map_err(|e| malformed(e.to_string()))?;
    let tbs = request.tbs_request;
    if tbs.version.is_some_and(|v| v != 0) {
        return Err(malformed("only version 1 requests exist"));
    }
    if tbs.request_list.is_empty() || tbs.request_list.len() > MAX_REQUESTS {
        return Err(malformed(format!(
            "{} certificates asked about; 1 to {MAX_REQUESTS}",
            tbs.request_list.len()
        )));
    }
    let mut nonce = None;
    for ext in tbs.request_extensions.into_iter().flatten() {
        if ext.extn_id == rfc6960::ID_PKIX_OCSP_NONCE {
            let value = OctetString::from_der(ext.extn_value.as_bytes())
                .map_err(|e| malformed(format!("nonce: {e}")))?;
            if value.as_bytes().is_empty() || value.as_bytes().len() > MAX_NONCE {
                return Err(malformed(format!(
                    "a nonce of {} octets; 1 to {MAX_NONCE}",
                    value.as_bytes().len()
                )));
            }
            nonce = Some(ext);
        } else if ext.critical {
            return Err(malformed(format!(
                "unknown critical extension {}",
                ext.extn_id
            )));
        }
    }
    Ok(OcspQuery {
        cert_ids: tbs.request_list.into_iter().map(|r| r.req_cert).collect(),
        nonce,
    })
}

/// The hashes a `CertID` names this CA by, in every hash a client may use.
#[derive(Debug, Clone)]
pub struct IssuerHashes {
    by_algorithm: Vec<(ObjectIdentifier, Vec<u8>, Vec<u8>)>,
}

fn hash(algorithm: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(algorithm, data).as_ref().to_vec()
}

impl IssuerHashes {
    /// The hashes of `issuer`'s name and key under SHA-1 (OpenSSL's
    /// default), SHA-256, SHA-384 and SHA-512.
    pub fn of(issuer: &Certificate) -> Result<Self, RevocationError> {
        use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA384, SHA512};
        let name =
            issuer
                .tbs_certificate()
                .subject()
                .to_der()
                .map_err(|e| RevocationError::Encoding {
                    what: "issuer name",
                    reason: e.to_string(),
                })?;
        let key = issuer
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes();
        let by_algorithm = [
            (rfc5912::ID_SHA_1, &SHA1_FOR_LEGACY_USE_ONLY),
            (rfc5912::ID_SHA_256, &SHA256),
            (rfc5912::ID_SHA_384, &SHA384),
            (rfc5912::ID_SHA_512, &SHA512),
        ]
        .into_iter()
        .map(|(oid, alg)| (oid, hash(alg, &name), hash(alg, key)))
        .collect();
        Ok(Self { by_algorithm })
    }

    /// Whether `id` names this issuer.
    pub fn names(&self, id: &CertId) -> bool {
        self.by_algorithm.iter().any(|(oid, name, key)| {
            *oid == id.hash_algorithm.oid
                && name.as_slice() == id.issuer_name_hash.as_bytes()
                && key.as_slice() == id.issuer_key_hash.as_bytes()
        })
    }
}

/// A certificate's status, as answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertState {
    /// Issued by this CA and not revoked (or its hold released).
    Good,
    /// Revoked, when and why.
    Revoked {
        /// When (Unix seconds).
        at: i64,
        /// Why.
        reason: RevocationReason,
    },
    /// Never issued by this CA.
    Unknown,
}

/// One answer: the certificate asked about, its status, and the window
/// the answer is good for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleAnswer {
    /// The `CertID` as asked.
    pub cert_id: CertId,
    /// Its status.
    pub state: CertState,
    /// This update (Unix seconds).
    pub this_update: i64,
    /// Next update (Unix seconds).
    pub next_update: i64,
}

fn generalized(unix: i64, what: &'static str) -> Result<GeneralizedTime, RevocationError> {
    GeneralizedTime::from_unix_duration(Duration::from_secs(u64::try_from(unix).unwrap_or(0)))
        .map_err(|e| RevocationError::Encoding {
            what,
            reason: e.to_string(),
        })
}

fn encode<T: Encode>(what: &'static str, v: &T) -> Result<Vec<u8>, RevocationError> {
    v.to_der().map_err(|e| RevocationError::Encoding {
        what,
        reason: e.to_string(),
    })
}

/// The responder's identity in a response: the SHA-1 of its public key
/// (RFC 6960 §4.2.1 `byKey`), and its certificate, sent with every
/// response so a client can check the delegation.
#[derive(Debug, Clone)]
pub struct ResponderIdentity {
    key_hash: Vec<u8>,
    certificate: Certificate,
}

impl ResponderIdentity {
    /// The responder whose certificate is `der`.
    pub fn new(der: &[u8]) -> Result<Self, RevocationError> {
        let certificate = Certificate::from_der(der).map_err(|e| RevocationError::Malformed {
            what: "responder certificate",
            reason: e.to_string(),
        })?;
        let key_hash = hash(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            certificate
                .tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes(),
        );
        Ok(Self {
            key_hash,
            certificate,
        })
    }
}

/// Builds a successful response with `answers`, signed through `sign` by
/// the responder key `signer` describes; `nonce` (the request's extension)
/// is echoed.
pub fn build_response<E: std::fmt::Display>(
    responder: &ResponderIdentity,
    signer: &CaSigner,
    produced_at: i64,
    answers: &[SingleAnswer],
    nonce: Option<&Extension>,
    sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, RevocationError> {
    let responses = answers
        .iter()
        .map(|a| {
            let cert_status = match a.state {
                CertState::Good => CertStatusDer::Good(Null),
                CertState::Unknown => CertStatusDer::Unknown(Null),
                CertState::Revoked { at, reason } => CertStatusDer::Revoked(RevokedInfo {
                    revocation_time: generalized(at, "revocation time")?,
                    // Unspecified is written by leaving the reason out, as in
                    // the CRL.
                    revocation_reason: (reason != RevocationReason::Unspecified)
                        .then(|| reason.crl_reason()),
                }),
            };
            Ok(SingleResponse {
                cert_id: a.cert_id.clone(),
                cert_status,
                this_update: generalized(a.this_update, "this update")?,
                next_update: Some(generalized(a.next_update, "next update")?),
            })
        })
        .collect::<Result<Vec<_>, RevocationError>>()?;
    let data = ResponseData {
        responder_id: ResponderId::ByKey(OctetString::new(responder.key_hash.clone()).map_err(
            |e| RevocationError::Encoding {
                what: "responder id",
                reason: e.to_string(),
            },
        )?),
        produced_at: generalized(produced_at, "produced at")?,
        responses,
        response_extensions: nonce.map(|n| vec![n.clone()]),
    };
    let tbs = encode("ResponseData", &data)?;
    let (signature_algorithm, sig) = signer.sign_tbs(&tbs, sign)?;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm,
        signature: BitString::from_bytes(&sig).map_err(|e| RevocationError::Encoding {
            what: "signature",
            reason: e.to_string(),
        })?,
        certs: Some(vec![responder.certificate.clone()]),
    };
    let bytes = encode("BasicOCSPResponse", &basic)?;
    encode(
        "OCSPResponse",
        &OcspResponse {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: rfc6960::ID_PKIX_OCSP_BASIC,
                response: OctetString::new(bytes).map_err(|e| RevocationError::Encoding {
                    what: "response bytes",
                    reason: e.to_string(),
                })?,
            }),
        },
    )
}

/// An unsuccessful response: the status alone, unsigned (RFC 6960 §2.3).
pub fn error_response(status: ResponseStatus) -> Vec<u8> {
    // Two fixed bytes of content cannot fail to encode: SEQUENCE {
    // ENUMERATED status }.
    vec![0x30, 0x03, 0x0a, 0x01, status as u8]
}

/// A response read back (for the CLI and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSummary {
    /// The status.
    pub status: ResponseStatus,
    /// Each answer's serial and state.
    pub answers: Vec<(Vec<u8>, CertState)>,
    /// The nonce value echoed, if any (the extension's raw value).
    pub nonce: Option<Vec<u8>>,
    /// The responder's certificate, as sent.
    pub responder: Option<Vec<u8>>,
}

/// Reads a response without checking its signature (tests and the CLI
/// check it with the responder certificate it names).
pub fn read_response(der: &[u8]) -> Result<ResponseSummary, RevocationError> {
    let malformed = |e: der::Error| RevocationError::Malformed {
        what: "OCSP response",
        reason: e.to_string(),
    };
    let response = OcspResponse::from_der(der).map_err(malformed)?;
    let Some(bytes) = response.response_bytes else {
        return Ok(ResponseSummary {
            status: response.response_status,
            answers: Vec::new(),
            nonce: None,
            responder: None,
        });
    };
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(malformed)?;
    let answers = basic
        .tbs_response_data
        .responses
        .iter()
        .map(|r| {
            let state = match &r.cert_status {
                CertStatusDer::Good(_) => CertState::Good,
                CertStatusDer::Unknown(_) => CertState::Unknown,
                CertStatusDer::Revoked(info) => CertState::Revoked {
                    at: info.revocation_time.to_unix_duration().as_secs() as i64,
                    reason: info
                        .revocation_reason
                        .and_then(|c| RevocationReason::from_code(c as u8))
                        .unwrap_or(RevocationReason::Unspecified),
                },
            };
            (r.cert_id.serial_number.as_bytes().to_vec(), state)
        })
        .collect();
    let nonce = basic
        .tbs_response_data
        .response_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == rfc6960::ID_PKIX_OCSP_NONCE)
        .map(|e| e.extn_value.as_bytes().to_vec());
    let responder = basic
        .certs
        .as_ref()
        .and_then(|c| c.first())
        .map(Encode::to_der)
        .transpose()
        .map_err(malformed)?;
    Ok(ResponseSummary {
        status: response.response_status,
        answers,
        nonce,
        responder,
    })
}

/// A request for `serial` of the certificate `issuer` issued, with an
/// optional nonce (what `openssl ocsp` sends; for the CLI and tests).
pub fn build_request(
    issuer: &Certificate,
    serial: &[u8],
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, RevocationError> {
    let name = encode("issuer name", issuer.tbs_certificate().subject())?;
    let key = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    let sha1 = &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY;
    let octets = |v: Vec<u8>| {
        OctetString::new(v).map_err(|e| RevocationError::Encoding {
            what: "request",
            reason: e.to_string(),
        })
    };
    let cert_id = CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::ID_SHA_1,
            parameters: Some(der::Any::null()),
        },
        issuer_name_hash: octets(hash(sha1, &name))?,
        issuer_key_hash: octets(hash(sha1, key))?,
        serial_number: SerialNumber::new(serial).map_err(|e| RevocationError::Encoding {
            what: "serial",
            reason: e.to_string(),
        })?,
    };
    let request_extensions = match nonce {
        Some(n) => Some(vec![Extension {
            extn_id: rfc6960::ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: octets(encode("nonce", &octets(n.to_vec())?)?)?,
        }]),
        None => None,
    };
    encode(
        "OCSPRequest",
        &OcspRequest {
            tbs_request: TbsRequest {
                version: None,
                requestor_name: None,
                request_list: vec![Request {
                    req_cert: cert_id,
                    single_request_extensions: None,
                }],
                request_extensions,
            },
            optional_signature: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::crl::tests::test_ca;

    #[test]
    fn a_request_is_answered_and_its_nonce_echoed() {
        let (ca, signer, root) = test_ca();
        let req = build_request(&root, &[0x40, 1, 2], Some(b"0123456789abcdef")).unwrap();
        let query = read_request(&req).unwrap();
        assert_eq!(query.cert_ids.len(), 1);
        let hashes = IssuerHashes::of(&root).unwrap();
        assert!(hashes.names(&query.cert_ids[0]));
        let (_, _, other) = test_ca();
        assert!(!IssuerHashes::of(&other).unwrap().names(&query.cert_ids[0]));

        // The CA's own certificate stands in for a responder's here.
        let responder = ResponderIdentity::new(&root.to_der().unwrap()).unwrap();
        let answers = [SingleAnswer {
            cert_id: query.cert_ids[0].clone(),
            state: CertState::Revoked {
                at: 1_800_000_000,
                reason: RevocationReason::KeyCompromise,
            },
            this_update: 1_800_000_000,
            next_update: 1_800_003_600,
        }];
        let der = build_response(
            &responder,
            &signer,
            1_800_000_001,
            &answers,
            query.nonce.as_ref(),
            |r| ca.sign_request(r),
        )
        .unwrap();
        let read = read_response(&der).unwrap();
        assert_eq!(read.status, ResponseStatus::Successful);
        assert_eq!(read.answers, vec![(vec![0x40, 1, 2], answers[0].state)]);
        assert!(read.nonce.unwrap().ends_with(b"0123456789abcdef"));

        let err = read_response(&error_response(ResponseStatus::MalformedRequest)).unwrap();
        assert_eq!(err.status, ResponseStatus::MalformedRequest);
    }

    #[test]
    fn bad_requests_are_malformed() {
        let (_, _, root) = test_ca();
        assert!(read_request(b"\x30\x00").is_err());
        assert!(read_request(b"not der").is_err());
        let long = build_request(&root, &[1], Some(&[7u8; 33])).unwrap();
        assert_eq!(
            read_request(&long).unwrap_err().status,
            ResponseStatus::MalformedRequest
        );
        let mut req = build_request(&root, &[1], None).unwrap();
        let n = req.len();
        req[n - 1] ^= 0xff;
        // A changed serial still parses; a truncated request does not.
        assert!(read_request(&req).is_ok());
        assert!(read_request(&req[..n - 2]).is_err());
    }
}
