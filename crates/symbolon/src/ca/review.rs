//! Reviewing a certification request (FIG. 6): proof of possession, the
//! identity presented directly against the one in the request (step 423), the
//! key checks, and the token's attestation where there is one. Registry
//! uniqueness (step 424) is the database's, checked by the service.

use aws_lc_rs::digest;
use x509_cert::name::Name;

use super::{check_subject_key, CaError, CaPolicy};
use crate::encoding::Writer;
use crate::keys::weak::{policy_class, WeakClass, WeakKey};
use crate::keys::{KeyError, PublicKey};
use crate::token::{Attestation, TokenSerial};
use crate::vetting::{DeviceEvidence, RegisteredDevice};
use crate::x509::crmf::CertReqMsg;
use crate::x509::{
    parse_identity, same_identity, verify_csr, AltNames, CertificateRole, X509Error,
};

/// The form a certification request comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestForm {
    /// PKCS#10 (RFC 2986), signed by the key: the JSON API, EST, `p10cr`.
    #[default]
    Pkcs10,
    /// A CRMF `CertReqMsg` (RFC 4211) with the key's signature as proof of
    /// possession: CMP's `ir`, `cr`, `kur`.
    Crmf,
}

/// What arrives at the CA.
#[derive(Debug, Clone)]
pub struct CertifyRequest {
    /// The request, DER, in `form`.
    pub csr: Vec<u8>,
    /// The request's form.
    pub form: RequestForm,
    /// The identity the user presented directly, RFC 4514.
    pub identity: String,
    /// The profile asked for.
    pub role: CertificateRole,
    /// The token's word that it generated the key.
    pub attestation: Option<Attestation>,
    /// The request's DNS names were proven controlled by the requester
    /// (ACME challenges, docs/acme.md). For a `server` certificate this
    /// stands in for the token attestation: a Web server's key lives in
    /// its software, as the Web PKI expects; and an empty subject takes the
    /// identity presented (the first name).
    pub domain_validated: bool,
}

/// A request the CA will certify (if the subject's registration or the
/// station's name policy covers it: the service's next question).
#[derive(Debug, Clone)]
pub struct Approved {
    /// The subject: the identity presented, in its canonical DER form
    /// (the request's subject denotes the same identity).
    pub subject: Name,
    /// The alternative names the request asks for.
    pub alt_names: AltNames,
    /// The key.
    pub public_key: PublicKey,
    /// The profile.
    pub role: CertificateRole,
    /// The token that attested generating the key.
    pub attested_by: Option<TokenSerial>,
    /// Why the attesting device is believed.
    pub device_evidence: Option<DeviceEvidence>,
    /// The attestation itself, as verified (kept as evidence).
    pub attestation: Option<crate::token::Attestation>,
}

/// The nonce a token must put in its attestation for this request: it binds
/// the attestation to this CSR, so it cannot be replayed onto another.
pub fn attestation_nonce(csr_der: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_domain("symbolon/attest-csr/v1");
    w.bytes(csr_der);
    digest::digest(&digest::SHA256, &w.into_bytes())
        .as_ref()
        .to_vec()
}

/// The SubjectPublicKeyInfo DER a request names, without checking anything
/// else (to record the modulus of a key whose request was refused).
pub fn request_spki(req: &CertifyRequest) -> Option<Vec<u8>> {
    match req.form {
        RequestForm::Pkcs10 => crate::x509::csr_spki(&req.csr),
        RequestForm::Crmf => CertReqMsg::from_der(&req.csr).ok()?.spki_der(),
    }
}

/// Reviews `req`. `device` is the registered device the attestation names
/// (None if it names none or an unregistered one).
pub fn review(
    req: &CertifyRequest,
    policy: &CaPolicy,
    device: Option<&RegisteredDevice>,
) -> Result<Approved, CaError> {
    if !policy.roles.contains(&req.role) {
        return Err(CaError::InvalidRequest(format!(
            "this CA does not issue {} certificates",
            req.role
        )));
    }
    let verified = match req.form {
        RequestForm::Pkcs10 => verify_csr(&req.csr),
        RequestForm::Crmf => CertReqMsg::from_der(&req.csr).and_then(|m| m.verify()),
    };
    let mut csr = verified.map_err(|e| match e {
        X509Error::BadSignature(_) => CaError::BadRequestSignature,
        X509Error::Key(KeyError::Weak(w)) => CaError::WeakKey(w),
        X509Error::Key(KeyError::UnsupportedKey(m)) => CaError::UnsupportedKey(m),
        X509Error::Key(KeyError::Refused(m)) => {
            // Refused by the key policy before the signature was checked.
            let class = request_spki(req)
                .and_then(|spki| crate::keys::rsa_components(&spki))
                .map_or(WeakClass::Exponent, |(n, _)| policy_class(&n));
            CaError::WeakKey(WeakKey::new(class, m))
        }
        other => CaError::InvalidRequest(other.to_string()),
    })?;
    let presented =
        parse_identity(&req.identity).map_err(|e| CaError::InvalidRequest(e.to_string()))?;
    // A CRMF template may leave the subject out (a key update): it then
    // asks for the identity presented (RFC 4211 §5: fields omitted are the
    // CA's to fill).
    if (req.form == RequestForm::Crmf || req.domain_validated) && csr.subject.is_empty() {
        csr.subject = presented.clone();
    }
    if !same_identity(&presented, &csr.subject) {
        return Err(CaError::IdentityMismatch {
            presented: presented.to_string(),
            requested: csr.subject.to_string(),
        });
    }
    // A TLS server certificate names its CN's host as a SAN too (clients
    // match SANs); the name is then checked like any other.
    let alt_names = if req.role == CertificateRole::Server {
        csr.alt_names.with_subject_names(&presented, false)
    } else {
        csr.alt_names
    };
    check_subject_key(&csr.public_key, req.role, policy)?;
    let (attested_by, device_evidence) = match &req.attestation {
        Some(att) => {
            let serial = att.statement.token;
            let device = device.ok_or_else(|| {
                CaError::BadAttestation(format!("token {serial} is not registered with this CA"))
            })?;
            let s = att
                .verify(
                    &device.key,
                    Some(&csr.public_key),
                    Some(&attestation_nonce(&req.csr)),
                )
                .map_err(|e| CaError::BadAttestation(e.to_string()))?;
            if !s.origin.made_in_token() {
                return Err(CaError::BadAttestation(format!(
                    "the key was {}, not made on the token",
                    s.origin
                )));
            }
            // A device no station vouched for proves nothing about where
            // the key lives: anyone can make a device key.
            if !device.evidence.is_vouched() {
                return Err(CaError::UntrustedDevice(format!(
                    "token {serial} was registered before devices were vouched for; a station or registration officer must register it again (`symbolon token register`)"
                )));
            }
            (Some(serial), Some(device.evidence.clone()))
        }
        None => (None, None),
    };
    let wants_manufacturer = policy.manufacturer_evidence.contains(&req.role);
    if attested_by.is_none()
        && ((req.role == CertificateRole::Server && !req.domain_validated)
            || policy.require_attestation
            || wants_manufacturer)
    {
        return Err(CaError::AttestationRequired {
            role: req.role.to_string(),
        });
    }
    if wants_manufacturer && !matches!(device_evidence, Some(DeviceEvidence::Manufacturer { .. })) {
        return Err(CaError::UntrustedDevice(format!(
            "the {} profile needs a device whose key chains to a manufacturer root; this one was {} only",
            req.role,
            match &device_evidence {
                Some(DeviceEvidence::Vouched { by, .. }) => format!("vouched for by {by}"),
                _ => "not vouched for".into(),
            }
        )));
    }
    Ok(Approved {
        subject: presented,
        alt_names,
        public_key: csr.public_key,
        role: req.role,
        attestation: attested_by.and(req.attestation.clone()),
        attested_by,
        device_evidence,
    })
}
