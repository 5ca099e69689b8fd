//! `PKIStatusInfo` (RFC 4210 §5.2.3): the status, a text a person reads,
//! and the failure bits a client acts on.

use der::asn1::BitString;
use der::Sequence;

/// `PKIStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkiStatus {
    /// `accepted` (0).
    Accepted = 0,
    /// `rejection` (2).
    Rejection = 2,
}

/// The `PKIFailureInfo` bits this CA sets (RFC 4210 §5.2.3, RFC 9480).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailInfo {
    /// Unrecognized or unsupported algorithm identifier.
    BadAlg = 0,
    /// Integrity check failed (wrong MAC, bad signature, unprotected).
    BadMessageCheck = 1,
    /// Transaction not permitted or supported.
    BadRequest = 2,
    /// messageTime too far from the CA's clock.
    BadTime = 3,
    /// No certificate could be found matching the criteria.
    BadCertId = 4,
    /// The data is in the wrong format.
    BadDataFormat = 5,
    /// The requester's data is incorrect (e.g. a wrong hash in certConf).
    IncorrectData = 7,
    /// The proof of possession did not verify.
    BadPop = 9,
    /// The certificate is revoked already.
    CertRevoked = 10,
    /// The recipient nonce is missing or wrong.
    BadRecipientNonce = 13,
    /// The sender nonce is missing or wrong.
    BadSenderNonce = 18,
    /// The requested template is refused (a weak or reused key, a name).
    BadCertTemplate = 19,
    /// The signer is not trusted.
    SignerNotTrusted = 20,
    /// The transaction ID is in use already.
    TransactionIdInUse = 21,
    /// The protocol version is not supported.
    UnsupportedVersion = 22,
    /// The sender is not authorized to make this request.
    NotAuthorized = 23,
    /// The service cannot handle the request now.
    SystemUnavail = 24,
    /// The service failed.
    SystemFailure = 25,
    /// The certificate was requested twice (a key certified already).
    DuplicateCertReq = 26,
}

impl FailInfo {
    /// The named-bit BIT STRING with only this bit set (DER: trailing zero
    /// bits dropped). `None` cannot happen: fewer than 8 bits are unused.
    pub fn bits(self) -> Option<BitString> {
        let n = self as usize;
        let mut bytes = vec![0u8; n / 8 + 1];
        bytes[n / 8] = 0x80 >> (n % 8);
        BitString::new((7 - n % 8) as u8, bytes).ok()
    }
}

/// `PKIStatusInfo ::= SEQUENCE { status, statusString, failInfo }`.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct PkiStatusInfo {
    /// `PKIStatus`.
    pub status: u8,
    /// `PKIFreeText`.
    pub status_string: Option<Vec<String>>,
    /// `PKIFailureInfo`.
    pub fail_info: Option<BitString>,
}

impl PkiStatusInfo {
    /// `accepted`.
    pub fn accepted() -> Self {
        Self {
            status: PkiStatus::Accepted as u8,
            status_string: None,
            fail_info: None,
        }
    }

    /// `rejection`, with the reason a person reads and the bit a client
    /// acts on.
    pub fn rejection(fail: FailInfo, text: impl Into<String>) -> Self {
        Self {
            status: PkiStatus::Rejection as u8,
            status_string: Some(vec![text.into()]),
            fail_info: fail.bits(),
        }
    }

    /// Whether the status is `accepted` or `grantedWithMods`.
    pub fn is_accepted(&self) -> bool {
        self.status <= 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;

    #[test]
    fn a_failure_bit_is_a_minimal_named_bit_string() {
        // badMessageCheck (1): one byte 0x40, six unused bits.
        assert_eq!(
            FailInfo::BadMessageCheck.bits().unwrap().to_der().unwrap(),
            [0x03, 0x02, 0x06, 0x40]
        );
        // badCertTemplate (19): 0x00 0x00 0x10, four unused bits.
        assert_eq!(
            FailInfo::BadCertTemplate.bits().unwrap().to_der().unwrap(),
            [0x03, 0x04, 0x04, 0x00, 0x00, 0x10]
        );
        assert_eq!(
            FailInfo::BadAlg.bits().unwrap().to_der().unwrap(),
            [0x03, 0x02, 0x07, 0x80]
        );
    }
}
