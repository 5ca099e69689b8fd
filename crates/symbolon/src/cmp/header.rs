//! `PKIHeader` (RFC 4210 §5.1.1; the PKIXCMP module's tags are EXPLICIT)
//! and the `InfoTypeAndValue` of its `generalInfo` and of `genm`/`genp`.

use const_oid::ObjectIdentifier;
use der::asn1::{Any, GeneralizedTime, OctetString};
use der::Sequence;
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;

/// `id-it-implicitConfirm` (RFC 4210 §5.1.1.1): no `certConf` follows.
pub const ID_IT_IMPLICIT_CONFIRM: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.4.13");
/// `id-it-caCerts` (RFC 9480 §4.3.1): the CA certificates, asked with
/// `genm`.
pub const ID_IT_CA_CERTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.4.17");

/// `InfoTypeAndValue ::= SEQUENCE { infoType OID, infoValue ANY OPTIONAL }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct InfoTypeAndValue {
    /// `infoType`.
    pub info_type: ObjectIdentifier,
    /// `infoValue`.
    pub info_value: Option<Any>,
}

/// `PKIHeader`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct PkiHeader {
    /// `pvno`: 2 (cmp2000) or 3 (cmp2021).
    pub pvno: i64,
    /// `sender`.
    pub sender: GeneralName,
    /// `recipient`.
    pub recipient: GeneralName,
    /// `messageTime`.
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub message_time: Option<GeneralizedTime>,
    /// `protectionAlg`.
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub protection_alg: Option<AlgorithmIdentifierOwned>,
    /// `senderKID`: for a MAC, the reference of the shared secret.
    #[asn1(context_specific = "2", optional = "true", tag_mode = "EXPLICIT")]
    pub sender_kid: Option<OctetString>,
    /// `recipKID`.
    #[asn1(context_specific = "3", optional = "true", tag_mode = "EXPLICIT")]
    pub recip_kid: Option<OctetString>,
    /// `transactionID`.
    #[asn1(context_specific = "4", optional = "true", tag_mode = "EXPLICIT")]
    pub transaction_id: Option<OctetString>,
    /// `senderNonce`.
    #[asn1(context_specific = "5", optional = "true", tag_mode = "EXPLICIT")]
    pub sender_nonce: Option<OctetString>,
    /// `recipNonce`.
    #[asn1(context_specific = "6", optional = "true", tag_mode = "EXPLICIT")]
    pub recip_nonce: Option<OctetString>,
    /// `freeText`.
    #[asn1(context_specific = "7", optional = "true", tag_mode = "EXPLICIT")]
    pub free_text: Option<Vec<String>>,
    /// `generalInfo`.
    #[asn1(context_specific = "8", optional = "true", tag_mode = "EXPLICIT")]
    pub general_info: Option<Vec<InfoTypeAndValue>>,
}

impl PkiHeader {
    /// Whether `generalInfo` asks for implicit confirmation.
    pub fn asks_implicit_confirm(&self) -> bool {
        self.general_info
            .iter()
            .flatten()
            .any(|i| i.info_type == ID_IT_IMPLICIT_CONFIRM)
    }
}
