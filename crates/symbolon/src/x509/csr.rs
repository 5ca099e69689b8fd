//! PKCS#10 certification requests: built by the station with the new key as
//! signer (proof of possession), verified by the CA.

use der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, RequestBuilder};

use super::signer::{oid_scheme, to_der};
use super::{RsaSigner, X509Error};
use crate::keys::{MessageDigest, RsaPublicKey, SignatureScheme};

/// A request whose signature verified under its own public key.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    /// The subject it asks for.
    pub subject: Name,
    /// Its public key (proven in the signer's possession).
    pub public_key: RsaPublicKey,
}

/// Builds a DER PKCS#10 request for `subject`, signed through `sign`.
pub fn build_csr<E: std::fmt::Display>(
    subject: &Name,
    signer: &RsaSigner,
    sign: impl FnOnce(SignatureScheme, &MessageDigest) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, X509Error> {
    let builder = RequestBuilder::new(subject.clone()).map_err(X509Error::encoding("request"))?;
    let req = signer.build(builder, sign)?;
    to_der("request", &req)
}

/// Parses a DER request and verifies its self-signature.
pub fn verify_csr(der: &[u8]) -> Result<VerifiedCsr, X509Error> {
    let req = CertReq::from_der(der).map_err(X509Error::malformed("PKCS#10 request"))?;
    let scheme = oid_scheme(&req.algorithm.oid)
        .ok_or_else(|| X509Error::UnsupportedAlgorithm(req.algorithm.oid.to_string()))?;
    let spki = to_der("request public key", &req.info.public_key)?;
    let public_key = RsaPublicKey::from_der(&spki)?;
    // Keys outside the policy cannot be verified here (and would be refused
    // anyway): say so, rather than blame the signature.
    public_key.check_policy()?;
    let info = to_der("request info", &req.info)?;
    let sig = req
        .signature
        .as_bytes()
        .ok_or(X509Error::BadSignature("request"))?;
    public_key
        .verify(scheme, &info, sig)
        .map_err(|_| X509Error::BadSignature("request"))?;
    if req.info.version != x509_cert::request::Version::V1 {
        return Err(X509Error::Malformed {
            what: "PKCS#10 request",
            reason: "version must be 0".into(),
        });
    }
    // The request is only a request: its attributes (extension requests)
    // are ignored; the CA's profile sets every extension.
    let _ = req.info.attributes.encoded_len();
    Ok(VerifiedCsr {
        subject: req.info.subject,
        public_key,
    })
}
