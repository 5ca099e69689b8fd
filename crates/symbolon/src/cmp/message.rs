//! The PKIMessage envelope (RFC 4210 §5.1): a request read with its
//! header and body kept as the sender encoded them (the protection covers
//! those bytes), and an answer built, protected and encoded.

use std::time::SystemTime;

use aws_lc_rs::rand;
use der::asn1::{AnyRef, BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::Certificate;

use super::body::{body_number, ca_certs_value, OutgoingBody};
use super::protection::request_protection;
use super::{
    CmpError, InfoTypeAndValue, PbmParams, PkiHeader, PkiStatusInfo, RequestBody,
    RequestProtection, ID_IT_CA_CERTS, ID_IT_IMPLICIT_CONFIRM,
};
use crate::keys::{PublicKey, SignatureAlgorithm};
use crate::x509::crmf::{context_number, elements, explicit_inner};

/// Largest message accepted: a request with an RSA-8192 key, its chain
/// of a few certificates, and room to spare.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most certificates accepted in `extraCerts`.
const MAX_EXTRA_CERTS: usize = 8;

/// A request, as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// The header.
    pub header: PkiHeader,
    header_tlv: Vec<u8>,
    body_tlv: Vec<u8>,
    body_number: u32,
    protection: Option<Vec<u8>>,
    /// `extraCerts`: for a signed message, the signer's certificate first.
    pub extra_certs: Vec<Certificate>,
}

fn malformed(what: &str, e: impl std::fmt::Display) -> CmpError {
    CmpError::Malformed(format!("{what}: {e}"))
}

impl Request {
    /// Reads a DER PKIMessage: the envelope and header; the body is read by
    /// [`Request::body`], so a bad body still gets an answer that names
    /// the transaction.
    pub fn from_der(der: &[u8]) -> Result<Self, CmpError> {
        if der.len() > MAX_MESSAGE {
            return Err(CmpError::TooLarge(der.len()));
        }
        let msg = AnyRef::from_der(der).map_err(|e| malformed("PKIMessage", e))?;
        if msg.tag() != Tag::Sequence {
            return Err(CmpError::Malformed("a PKIMessage is a SEQUENCE".into()));
        }
        let parts = elements(msg.value()).map_err(|e| malformed("PKIMessage", e))?;
        let [header, body, rest @ ..] = parts.as_slice() else {
            return Err(CmpError::Malformed(
                "a PKIMessage holds a header and a body".into(),
            ));
        };
        let header_tlv = header.to_der().map_err(|e| malformed("header", e))?;
        let parsed = PkiHeader::from_der(&header_tlv).map_err(|e| malformed("PKIHeader", e))?;
        let number = body_number(body)
            .ok_or_else(|| CmpError::Malformed("the body is not a tagged PKIBody".into()))?;
        let (mut protection, mut extra_certs, mut last) = (None, Vec::new(), None);
        for part in rest {
            let n = context_number(part)
                .ok_or_else(|| CmpError::Malformed("unexpected field after the body".into()))?;
            if last.is_some_and(|l| n <= l) {
                return Err(CmpError::Malformed(
                    "PKIMessage fields out of order or repeated".into(),
                ));
            }
            last = Some(n);
            let inner = explicit_inner(part).map_err(|e| malformed("PKIMessage", e))?;
            match n {
                0 => {
                    let bits: BitString =
                        inner.decode_as().map_err(|e| malformed("protection", e))?;
                    protection = Some(
                        bits.as_bytes()
                            .ok_or_else(|| {
                                CmpError::Malformed("protection has unused bits".into())
                            })?
                            .to_vec(),
                    );
                }
                1 => {
                    extra_certs = Vec::<Certificate>::from_der(
                        &inner.to_der().map_err(|e| malformed("extraCerts", e))?,
                    )
                    .map_err(|e| malformed("extraCerts", e))?;
                    if extra_certs.len() > MAX_EXTRA_CERTS {
                        return Err(CmpError::Malformed(format!(
                            "{} extraCerts; at most {MAX_EXTRA_CERTS}",
                            extra_certs.len()
                        )));
                    }
                }
                _ => {
                    return Err(CmpError::Malformed(format!(
                        "PKIMessage has no field [{n}]"
                    )))
                }
            }
        }
        let request = Self {
            header: parsed,
            header_tlv,
            body_tlv: body.to_der().map_err(|e| malformed("body", e))?,
            body_number: number,
            protection,
            extra_certs,
        };
        request.check_header()?;
        Ok(request)
    }

    /// What every request must carry (RFC 9483 §3.1): version 2 or 3, a
    /// transaction ID and a sender nonce of at least 128 bits.
    fn check_header(&self) -> Result<(), CmpError> {
        if !(2..=3).contains(&self.header.pvno) {
            return Err(CmpError::UnsupportedVersion(self.header.pvno));
        }
        let long_enough =
            |v: &Option<OctetString>| v.as_ref().is_some_and(|o| o.as_bytes().len() >= 16);
        if !long_enough(&self.header.transaction_id) {
            return Err(CmpError::MissingField("transactionID of at least 128 bits"));
        }
        if !long_enough(&self.header.sender_nonce) {
            return Err(CmpError::MissingField("senderNonce of at least 128 bits"));
        }
        Ok(())
    }

    /// The body.
    pub fn body(&self) -> Result<RequestBody, CmpError> {
        let body = AnyRef::from_der(&self.body_tlv).map_err(|e| malformed("body", e))?;
        let inner = explicit_inner(&body).map_err(|e| malformed("body", e))?;
        RequestBody::parse(self.body_number, inner)
    }

    /// The body's tag number.
    pub fn body_number(&self) -> u32 {
        self.body_number
    }

    /// `transactionID`.
    pub fn transaction_id(&self) -> &[u8] {
        self.header
            .transaction_id
            .as_ref()
            .map_or(&[], |t| t.as_bytes())
    }

    /// How the message is protected; an unprotected one is refused.
    pub fn protection(&self) -> Result<RequestProtection, CmpError> {
        let (Some(alg), Some(_)) = (&self.header.protection_alg, &self.protection) else {
            return Err(CmpError::BadProtection(
                "the message is not protected: protect it with the enrollment code as a shared secret (MAC), or sign it with a certificate this CA issued".into(),
            ));
        };
        request_protection(alg, self.header.sender_kid.as_ref().map(|k| k.as_bytes()))
    }

    fn protected_part(&self) -> Result<Vec<u8>, CmpError> {
        let mut contents = self.header_tlv.clone();
        contents.extend_from_slice(&self.body_tlv);
        der::asn1::Any::new(Tag::Sequence, contents)
            .and_then(|a| a.to_der())
            .map_err(|e| malformed("ProtectedPart", e))
    }

    /// Checks a MAC protection under `secret`.
    pub fn verify_mac(&self, params: &PbmParams, secret: &[u8]) -> Result<(), CmpError> {
        let tag = self.protection.as_deref().unwrap_or_default();
        params.verify(secret, &self.protected_part()?, tag)
    }

    /// Checks a signature protection under `key` (the first of
    /// `extraCerts`' key, once the caller has decided to trust it).
    pub fn verify_signature(
        &self,
        alg: SignatureAlgorithm,
        key: &PublicKey,
    ) -> Result<(), CmpError> {
        let sig = self.protection.as_deref().unwrap_or_default();
        key.verify(alg, &self.protected_part()?, sig).map_err(|_| {
            CmpError::BadProtection(
                "the signature does not verify under the first certificate in extraCerts".into(),
            )
        })
    }
}

/// `PKIMessage` as encoded (the body is its tagged value).
#[derive(Sequence)]
struct PkiMessage {
    header: PkiHeader,
    body: der::asn1::Any,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    protection: Option<BitString>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    extra_certs: Option<Vec<Certificate>>,
}

/// A message this side sends (an answer, or a client's request), before
/// its protection.
pub struct Message {
    header: PkiHeader,
    body: der::asn1::Any,
}

fn octets(bytes: &[u8]) -> Result<OctetString, CmpError> {
    OctetString::new(bytes).map_err(|e| malformed("header", e))
}

impl Message {
    /// An answer from `sender` to `request` (None: a message that could
    /// not be read, answered to no one in particular).
    fn new(
        request: Option<&PkiHeader>,
        sender: &Name,
        body: OutgoingBody,
    ) -> Result<Self, CmpError> {
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce).map_err(|_| CmpError::BadProtection("no randomness".into()))?;
        let now = GeneralizedTime::from_system_time(SystemTime::now())
            .map_err(|e| malformed("messageTime", e))?;
        let header = PkiHeader {
            pvno: request.map_or(2, |r| r.pvno.clamp(2, 3)),
            sender: GeneralName::DirectoryName(sender.clone()),
            recipient: request.map_or_else(
                || GeneralName::DirectoryName(Name::default()),
                |r| r.sender.clone(),
            ),
            message_time: Some(now),
            protection_alg: None,
            sender_kid: None,
            recip_kid: None,
            transaction_id: request.and_then(|r| r.transaction_id.clone()),
            sender_nonce: Some(octets(&nonce)?),
            recip_nonce: request.and_then(|r| r.sender_nonce.clone()),
            free_text: None,
            general_info: None,
        };
        Ok(Self {
            header,
            body: body.tagged()?,
        })
    }

    /// A client's `p10cr` from `sender` to `recipient`: a fresh
    /// transactionID and nonce (tools and benches; the service only answers).
    pub fn p10cr(sender: &Name, recipient: &Name, csr: &[u8]) -> Result<Self, CmpError> {
        let mut id = [0u8; 16];
        rand::fill(&mut id).map_err(|_| CmpError::BadProtection("no randomness".into()))?;
        let mut m = Self::new(None, sender, OutgoingBody::p10cr(csr))?;
        m.header.recipient = GeneralName::DirectoryName(recipient.clone());
        m.header.transaction_id = Some(octets(&id)?);
        Ok(m)
    }

    /// `ip`, `cp` or `kup` for the request whose body number is `request`.
    pub fn certificate(
        to: &PkiHeader,
        sender: &Name,
        request: u32,
        cert_req_id: i64,
        outcome: Result<Certificate, PkiStatusInfo>,
        ca_pubs: Option<Vec<Certificate>>,
    ) -> Result<Self, CmpError> {
        Self::new(
            Some(to),
            sender,
            OutgoingBody::certificate(request, cert_req_id, outcome, ca_pubs)?,
        )
    }

    /// `rp`.
    pub fn revocation(
        to: &PkiHeader,
        sender: &Name,
        status: PkiStatusInfo,
    ) -> Result<Self, CmpError> {
        Self::new(Some(to), sender, OutgoingBody::revocation(status)?)
    }

    /// `pkiconf`.
    pub fn confirmation(to: &PkiHeader, sender: &Name) -> Result<Self, CmpError> {
        Self::new(Some(to), sender, OutgoingBody::confirmation()?)
    }

    /// `genp` for `genm`: the CA certificates for `caCerts` (and for an
    /// empty `genm`); other info types answered without a value; each
    /// type once, however often it was asked.
    pub fn general(
        to: &PkiHeader,
        sender: &Name,
        asked: &[InfoTypeAndValue],
        chain: &[Certificate],
    ) -> Result<Self, CmpError> {
        let items = if asked.is_empty() {
            vec![InfoTypeAndValue {
                info_type: ID_IT_CA_CERTS,
                info_value: Some(ca_certs_value(chain)?),
            }]
        } else {
            let mut seen = std::collections::BTreeSet::new();
            asked
                .iter()
                .filter(|i| seen.insert(i.info_type))
                .map(|i| {
                    Ok(InfoTypeAndValue {
                        info_type: i.info_type,
                        info_value: if i.info_type == ID_IT_CA_CERTS {
                            Some(ca_certs_value(chain)?)
                        } else {
                            None
                        },
                    })
                })
                .collect::<Result<_, CmpError>>()?
        };
        Self::new(Some(to), sender, OutgoingBody::general(items)?)
    }

    /// `error`, to the request when there was one that could be read.
    pub fn error(
        to: Option<&PkiHeader>,
        sender: &Name,
        status: PkiStatusInfo,
    ) -> Result<Self, CmpError> {
        Self::new(to, sender, OutgoingBody::error(status)?)
    }

    /// Asks for (a request) or grants (an answer) implicit confirmation:
    /// no `certConf` follows.
    pub fn implicit_confirm(&mut self) -> Result<(), CmpError> {
        self.header
            .general_info
            .get_or_insert_with(Vec::new)
            .push(InfoTypeAndValue {
                info_type: ID_IT_IMPLICIT_CONFIRM,
                info_value: Some(
                    der::asn1::Any::encode_from(&der::asn1::Null)
                        .map_err(|e| malformed("implicitConfirm", e))?,
                ),
            });
        Ok(())
    }

    fn protected_part(&self) -> Result<Vec<u8>, CmpError> {
        // `ProtectedPart ::= SEQUENCE { header, body }`.
        let mut contents = self.header.to_der().map_err(|e| malformed("header", e))?;
        contents.extend(self.body.to_der().map_err(|e| malformed("body", e))?);
        der::asn1::Any::new(Tag::Sequence, contents)
            .and_then(|a| a.to_der())
            .map_err(|e| malformed("ProtectedPart", e))
    }

    fn encode(self, tag: Vec<u8>, extra_certs: Vec<Certificate>) -> Result<Vec<u8>, CmpError> {
        PkiMessage {
            header: self.header,
            body: self.body,
            protection: Some(BitString::from_bytes(&tag).map_err(|e| malformed("protection", e))?),
            extra_certs: (!extra_certs.is_empty()).then_some(extra_certs),
        }
        .to_der()
        .map_err(|e| malformed("PKIMessage", e))
    }

    /// Protects the answer with a MAC under the secret the request used
    /// (its reference echoed as `senderKID`), a fresh salt, the same
    /// functions.
    pub fn protect_with_mac(
        mut self,
        like: &PbmParams,
        reference: &[u8],
        secret: &[u8],
    ) -> Result<Vec<u8>, CmpError> {
        let params = like.with_fresh_salt()?;
        self.header.protection_alg = Some(params.algorithm()?);
        self.header.sender_kid = Some(octets(reference)?);
        let tag = params.mac(secret, &self.protected_part()?)?;
        self.encode(tag, Vec::new())
    }

    /// Protects the answer with a signature by `sign`, the signer's
    /// certificate and the chain above it in `extraCerts` (the signer's
    /// first), its key identifier as `senderKID`.
    pub fn protect_with_signature<E: std::fmt::Display>(
        mut self,
        alg: AlgorithmIdentifierOwned,
        signer: &Certificate,
        chain: &[Certificate],
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, CmpError> {
        let tbs = signer.tbs_certificate();
        self.header.sender = GeneralName::DirectoryName(tbs.subject().clone());
        self.header.sender_kid = subject_key_id(signer).map(|k| octets(&k)).transpose()?;
        self.header.protection_alg = Some(alg);
        let tag = sign(&self.protected_part()?)
            .map_err(|e| CmpError::BadProtection(format!("signing the answer: {e}")))?;
        let mut extra = vec![signer.clone()];
        extra.extend(chain.iter().cloned());
        self.encode(tag, extra)
    }
}

/// A certificate's subject key identifier, when it has one.
fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let exts = cert.tbs_certificate().extensions()?;
    let ext = exts
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER)?;
    OctetString::from_der(ext.extn_value.as_bytes())
        .ok()
        .map(|o| o.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmp::RequestBody;
    use const_oid::db::rfc5912;
    use std::str::FromStr;

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn params() -> PbmParams {
        PbmParams {
            salt: OctetString::new(vec![1u8; 16]).unwrap(),
            owf: AlgorithmIdentifierOwned {
                oid: rfc5912::ID_SHA_256,
                parameters: None,
            },
            iteration_count: 500,
            mac: AlgorithmIdentifierOwned {
                oid: const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.2.9"),
                parameters: None,
            },
        }
    }

    /// A MAC-protected p10cr carrying `csr`.
    fn p10cr(csr: &[u8], secret: &[u8]) -> Vec<u8> {
        Message::p10cr(&name("CN=device"), &name("CN=ca"), csr)
            .unwrap()
            .protect_with_mac(&params(), b"reg-1", secret)
            .unwrap()
    }

    const CSR: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x07];

    #[test]
    fn a_mac_protected_message_reads_back_and_verifies_under_its_secret_only() {
        let der = p10cr(CSR, b"secret");
        let req = Request::from_der(&der).unwrap();
        let RequestProtection::Mac { reference, params } = req.protection().unwrap() else {
            panic!("a MAC")
        };
        assert_eq!(reference, b"reg-1");
        req.verify_mac(&params, b"secret").unwrap();
        assert!(matches!(
            req.verify_mac(&params, b"Secret"),
            Err(CmpError::BadProtection(_))
        ));
        assert!(matches!(req.body().unwrap(), RequestBody::P10cr(c) if c == CSR));
        assert_eq!(req.header.pvno, 2);
        assert_eq!(req.transaction_id().len(), 16);
    }

    #[test]
    fn any_altered_byte_breaks_the_mac_or_the_parse() {
        let der = p10cr(CSR, b"secret");
        for i in 0..der.len() {
            let mut bad = der.clone();
            bad[i] ^= 0x01;
            let Ok(req) = Request::from_der(&bad) else {
                continue;
            };
            let verified = req.protection().and_then(|p| match p {
                RequestProtection::Mac { params, reference } if reference == b"reg-1" => {
                    req.verify_mac(&params, b"secret")
                }
                _ => Err(CmpError::BadProtection("other".into())),
            });
            // The protection itself is the only part a flip may leave
            // verifying: never, as the tag then differs.
            assert!(verified.is_err(), "byte {i} altered and still verified");
        }
    }

    #[test]
    fn what_every_request_needs_is_checked() {
        assert!(matches!(
            Request::from_der(b"\x30\x00"),
            Err(CmpError::Malformed(_))
        ));
        assert!(matches!(
            Request::from_der(b"junk"),
            Err(CmpError::Malformed(_))
        ));
        assert!(matches!(
            Request::from_der(&vec![0u8; MAX_MESSAGE + 1]),
            Err(CmpError::TooLarge(_))
        ));
        let mut m = Message::p10cr(&name("CN=d"), &name("CN=ca"), CSR).unwrap();
        m.header.pvno = 1;
        let der = m.protect_with_mac(&params(), b"r", b"s").unwrap();
        assert!(matches!(
            Request::from_der(&der),
            Err(CmpError::UnsupportedVersion(1))
        ));
        let mut m = Message::p10cr(&name("CN=d"), &name("CN=ca"), CSR).unwrap();
        m.header.transaction_id = Some(OctetString::new(vec![1u8; 4]).unwrap());
        let der = m.protect_with_mac(&params(), b"r", b"s").unwrap();
        assert!(matches!(
            Request::from_der(&der),
            Err(CmpError::MissingField(_))
        ));
        // Unprotected: refused, with the failure bit a client acts on.
        let m = Message::p10cr(&name("CN=d"), &name("CN=ca"), CSR).unwrap();
        let der = PkiMessage {
            header: m.header,
            body: m.body,
            protection: None,
            extra_certs: None,
        }
        .to_der()
        .unwrap();
        let e = Request::from_der(&der).unwrap().protection().unwrap_err();
        assert_eq!(e.fail_info(), crate::cmp::FailInfo::BadMessageCheck);
    }

    #[test]
    fn a_body_this_ca_does_not_serve_is_named_in_the_refusal() {
        let mut m = Message::p10cr(&name("CN=d"), &name("CN=ca"), CSR).unwrap();
        // [5] popdecc.
        m.body = OutgoingBody {
            number: 5,
            value: der::asn1::Null.to_der().unwrap(),
        }
        .tagged()
        .unwrap();
        let der = m.protect_with_mac(&params(), b"r", b"s").unwrap();
        let e = Request::from_der(&der).unwrap().body().unwrap_err();
        assert!(
            matches!(e, CmpError::UnsupportedBody(ref t) if t.contains("[5]")),
            "{e}"
        );
        assert_eq!(e.fail_info(), crate::cmp::FailInfo::BadRequest);
    }

    #[test]
    fn an_answer_echoes_the_transaction_and_the_sender_nonce() {
        let req = Request::from_der(&p10cr(CSR, b"s")).unwrap();
        let a = Message::confirmation(&req.header, &name("CN=ca")).unwrap();
        let der = a.protect_with_mac(&params(), b"reg-1", b"s").unwrap();
        // An answer parses as a message; its nonces are the exchange's.
        let back = Request::from_der(&der).unwrap();
        assert_eq!(back.header.transaction_id, req.header.transaction_id);
        assert_eq!(back.header.recip_nonce, req.header.sender_nonce);
        assert_ne!(back.header.sender_nonce, req.header.sender_nonce);
        assert_eq!(back.header.recipient, req.header.sender);
        assert_eq!(back.body_number(), crate::cmp::body::number::PKICONF);
    }

    #[test]
    fn a_genm_gets_each_info_type_once_and_asks_for_few() {
        let req = Request::from_der(&p10cr(CSR, b"s")).unwrap();
        let ca = InfoTypeAndValue {
            info_type: ID_IT_CA_CERTS,
            info_value: None,
        };
        let chain: Vec<Certificate> = Vec::new();
        let m = Message::general(
            &req.header,
            &name("CN=ca"),
            &[ca.clone(), ca.clone(), ca.clone()],
            &chain,
        )
        .unwrap();
        let inner = AnyRef::from_der(m.body.value()).unwrap();
        let items = Vec::<InfoTypeAndValue>::from_der(&inner.to_der().unwrap()).unwrap();
        assert_eq!(items.len(), 1);
        // Too many asked: refused before any answer is built.
        let many = vec![ca; crate::cmp::MAX_GENM_ITEMS + 1].to_der().unwrap();
        let e = RequestBody::parse(
            crate::cmp::body::number::GENM,
            AnyRef::from_der(&many).unwrap(),
        )
        .unwrap_err();
        assert!(matches!(e, CmpError::UnsupportedBody(_)), "{e}");
    }
}
