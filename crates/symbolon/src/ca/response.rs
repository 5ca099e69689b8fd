//! The CA's response (steps 432–433): certificate and chain, signed together
//! with the request's nonce, so a response altered on the way or replayed
//! from another request is detected by the station.
//!
//! The signer is the CA's delegated response signer (docs/revocation.md): a
//! P-256 key certified by the issuing CA for [`RESPONSE_SIGNING_EKU`] only,
//! its certificate sent with the response, so each certificate costs the CA
//! key one signature. Signed bytes: canonical("symbolon/certify-response/v2",
//! nonce, certificate DER, chain DERs, signer certificate DER); ECDSA P-256
//! SHA-256. A response signed by the issuing CA key itself (v1: the same
//! without the signer, PKCS#1 v1.5 SHA-256) is still accepted. JSON on the
//! wire: PEM certificates, base64 nonce and signature.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

use super::CaError;
use crate::encoding::Writer;
use std::time::SystemTime;

use der::Encode;

use crate::keys::{IdentityPublicKey, PublicKey, SignRequest};
use crate::pem;
use crate::x509::{
    certificate_public_key, has_extended_key_usage, parse_certificate, verify_path, CaSigner,
    RESPONSE_SIGNING_EKU,
};

/// A certification response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifyResponse {
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// Issuing CA first, root last, DER.
    pub chain: Vec<Vec<u8>>,
    /// The request's nonce.
    pub nonce: Vec<u8>,
    /// ECDSA P-256 SHA-256 by the delegated signer, or PKCS#1 v1.5 SHA-256
    /// by the issuing CA key when there is none.
    pub signature: Vec<u8>,
    /// The delegated signer's certificate, DER.
    pub signer: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    certificate: String,
    chain: Vec<String>,
    serial: String,
    nonce: String,
    signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signer: Option<String>,
}

fn to_be_signed(
    certificate: &[u8],
    chain: &[Vec<u8>],
    nonce: &[u8],
    signer: Option<&[u8]>,
) -> Vec<u8> {
    let mut w = Writer::with_domain(match signer {
        Some(_) => "symbolon/certify-response/v2",
        None => "symbolon/certify-response/v1",
    });
    w.bytes(nonce);
    w.bytes(certificate);
    w.u32(chain.len() as u32);
    for c in chain {
        w.bytes(c);
    }
    if let Some(s) = signer {
        w.bytes(s);
    }
    w.into_bytes().to_vec()
}

/// The delegated signer's key, once its certificate checks out: a path
/// through the response's chain to the pinned root (so issued by the
/// issuing CA, which must be a CA), valid now, for response signing, a
/// P-256 key.
fn delegated_key(
    signer: &[u8],
    chain: &[Vec<u8>],
    root: &[u8],
) -> Result<IdentityPublicKey, CaError> {
    let refused = |why: String| CaError::WrongCertificate(format!("the response signer {why}"));
    let cert = verify_path(signer, chain, root, SystemTime::now())
        .map_err(|e| refused(format!("is not certified by the issuing CA: {e}")))?;
    if !has_extended_key_usage(&cert, RESPONSE_SIGNING_EKU) {
        return Err(refused("is not certified for signing responses".into()));
    }
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| refused(e.to_string()))?;
    IdentityPublicKey::from_spki_der(&spki).map_err(|e| refused(e.to_string()))
}

impl CertifyResponse {
    /// Signs a response with the CA key `signer` describes, through `sign`
    /// (the CA token): RSA PKCS#1 v1.5 with SHA-256, ECDSA with the curve's
    /// hash, or Ed25519.
    pub fn sign<E: std::fmt::Display>(
        certificate: Vec<u8>,
        chain: Vec<Vec<u8>>,
        nonce: Vec<u8>,
        signer: &CaSigner,
        sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
    ) -> Result<Self, CaError> {
        let message = to_be_signed(&certificate, &chain, &nonce, None);
        let signature = signer
            .sign_message(&message, sign)
            .map_err(|e| CaError::Internal(e.to_string()))?;
        Ok(Self {
            certificate,
            chain,
            nonce,
            signature,
            signer: None,
        })
    }

    /// Signs a response with the delegated signer whose certificate is
    /// `signer` (DER); `sign` signs the message with its P-256 key.
    pub fn sign_delegated<E: std::fmt::Display>(
        certificate: Vec<u8>,
        chain: Vec<Vec<u8>>,
        nonce: Vec<u8>,
        signer: Vec<u8>,
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<Self, CaError> {
        let message = to_be_signed(&certificate, &chain, &nonce, Some(&signer));
        let signature = sign(&message).map_err(|e| CaError::Internal(e.to_string()))?;
        Ok(Self {
            certificate,
            chain,
            nonce,
            signature,
            signer: Some(signer),
        })
    }

    /// What the station checks: the response is signed by the issuing CA,
    /// whose certificate chains to the pinned `root`; it answers `nonce`; its
    /// certificate certifies `expected_key` and was issued by that CA.
    pub fn verify(
        &self,
        root: &[u8],
        nonce: &[u8],
        expected_key: impl Into<PublicKey>,
    ) -> Result<Certificate, CaError> {
        let expected_key: PublicKey = expected_key.into();
        let bad = |m: &str| CaError::WrongCertificate(m.to_string());
        if self.chain.last().map(Vec::as_slice) != Some(root) {
            return Err(bad("the chain does not end at the pinned root"));
        }
        let issuer = parse_certificate(
            self.chain
                .first()
                .ok_or_else(|| bad("the chain is empty"))?,
        )
        .map_err(|e| bad(&e.to_string()))?;
        let signed = to_be_signed(
            &self.certificate,
            &self.chain,
            &self.nonce,
            self.signer.as_deref(),
        );
        match &self.signer {
            Some(signer) => delegated_key(signer, &self.chain, root)?
                .verify(&signed, &self.signature)
                .map_err(|_| CaError::BadResponseSignature)?,
            None => {
                let key = certificate_public_key(&issuer).map_err(|e| bad(&e.to_string()))?;
                let algorithm = key
                    .natural_signature_algorithm()
                    .ok_or(CaError::BadResponseSignature)?;
                key.verify(algorithm, &signed, &self.signature)
                    .map_err(|_| CaError::BadResponseSignature)?
            }
        }
        if aws_lc_rs::constant_time::verify_slices_are_equal(&self.nonce, nonce).is_err() {
            return Err(CaError::ReplayedResponse);
        }
        // The certificate's path through the chain to the pinned root:
        // every issuer a CA, names chained, all valid now (RFC 5280 §6).
        let cert = verify_path(&self.certificate, &self.chain, root, SystemTime::now())
            .map_err(|e| bad(&e.to_string()))?;
        if certificate_public_key(&cert).map_err(|e| bad(&e.to_string()))? != expected_key {
            return Err(bad("it certifies another key"));
        }
        Ok(cert)
    }

    /// The JSON form.
    pub fn to_json(&self, serial: &str) -> Result<serde_json::Value, CaError> {
        let wire = Wire {
            certificate: pem::encode("CERTIFICATE", &self.certificate),
            chain: self
                .chain
                .iter()
                .map(|c| pem::encode("CERTIFICATE", c))
                .collect(),
            serial: serial.to_string(),
            nonce: B64.encode(&self.nonce),
            signature: B64.encode(&self.signature),
            signer: self.signer.as_ref().map(|s| pem::encode("CERTIFICATE", s)),
        };
        serde_json::to_value(wire).map_err(|e| CaError::Internal(format!("response: {e}")))
    }

    /// Parses the JSON form (structure only; see [`CertifyResponse::verify`]).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, CaError> {
        let bad = |m: String| CaError::WrongCertificate(format!("malformed response: {m}"));
        let w: Wire = serde_json::from_value(value.clone()).map_err(|e| bad(e.to_string()))?;
        let der = |p: &str| {
            pem::decode(p.as_bytes(), &["CERTIFICATE"])
                .map(|(_, d)| d)
                .map_err(|e| bad(e.to_string()))
        };
        Ok(Self {
            certificate: der(&w.certificate)?,
            chain: w.chain.iter().map(|c| der(c)).collect::<Result<_, _>>()?,
            nonce: B64.decode(&w.nonce).map_err(|e| bad(e.to_string()))?,
            signature: B64.decode(&w.signature).map_err(|e| bad(e.to_string()))?,
            signer: w.signer.as_deref().map(der).transpose()?,
        })
    }
}
