//! Certificates: the self-signed root, leaves issued under a profile, and the
//! checks a relying party (the station) makes on what it receives.

use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use x509_cert::builder::CertificateBuilder;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use super::profile::{DelegateProfile, Delegation, LeafExtras, LeafProfile, RootProfile};
use super::signer::to_der;
use super::{CaSigner, CertificateRole, X509Error};
use crate::keys::{PublicKey, RsaPublicKey, SignRequest, SignatureAlgorithm};

/// What the CA decided to certify.
#[derive(Debug, Clone)]
pub struct IssueParams {
    /// Serial: at least 64 bits from a CSPRNG (see [`random_serial`]).
    pub serial: [u8; 16],
    /// Validity start.
    pub not_before: SystemTime,
    /// Validity length.
    pub validity: Duration,
    /// The subject.
    pub subject: Name,
    /// The subject's key.
    pub public_key: PublicKey,
    /// The profile.
    pub role: CertificateRole,
    /// Names and purposes beyond the profile's.
    pub extras: LeafExtras,
}

/// 128 random bits, positive and with a non-zero first byte, so the DER
/// INTEGER is exactly 16 bytes: well over the 64 bits the Baseline
/// Requirements ask for.
pub fn random_serial() -> Result<[u8; 16], X509Error> {
    let mut s = [0u8; 16];
    crate::keys::random_bytes(&mut s)?;
    s[0] = (s[0] & 0x7f) | 0x40;
    Ok(s)
}

fn validity(not_before: SystemTime, length: Duration) -> Result<Validity, X509Error> {
    let nb = Time::try_from(not_before).map_err(X509Error::encoding("notBefore"))?;
    let na = Time::try_from(not_before + length).map_err(X509Error::encoding("notAfter"))?;
    Ok(Validity::new(nb, na))
}

fn spki(spki_der: &[u8]) -> Result<spki::SubjectPublicKeyInfoOwned, X509Error> {
    spki::SubjectPublicKeyInfoOwned::from_der(spki_der).map_err(X509Error::malformed("public key"))
}

/// A self-signed root certificate for the CA key behind `signer`.
pub fn self_signed_root<E: std::fmt::Display>(
    subject: &Name,
    signer: &CaSigner,
    serial: [u8; 16],
    not_before: SystemTime,
    length: Duration,
    sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, X509Error> {
    let builder = CertificateBuilder::new(
        RootProfile {
            subject: subject.clone(),
        },
        SerialNumber::new(&serial).map_err(X509Error::encoding("serial"))?,
        validity(not_before, length)?,
        spki(signer.spki_der())?,
    )
    .map_err(X509Error::encoding("root certificate"))?;
    to_der("root certificate", &signer.build(builder, sign)?)
}

/// Issues an end-entity certificate under `issuer` (the CA's certificate),
/// signed through `sign` by the CA key behind `signer`.
pub fn issue_leaf<E: std::fmt::Display>(
    issuer: &Certificate,
    signer: &CaSigner,
    params: &IssueParams,
    sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, X509Error> {
    let builder = CertificateBuilder::new(
        LeafProfile {
            issuer: issuer.tbs_certificate().subject().clone(),
            subject: params.subject.clone(),
            role: params.role,
            extras: params.extras.clone(),
        },
        SerialNumber::new(&params.serial).map_err(X509Error::encoding("serial"))?,
        validity(params.not_before, params.validity)?,
        spki(params.public_key.spki_der())?,
    )
    .map_err(X509Error::encoding("certificate"))?;
    to_der("certificate", &signer.build(builder, sign)?)
}

/// Issues a certificate for a delegate of the CA (its OCSP responder, its
/// response signer) whose key's SPKI is `spki_der`, named after the CA with
/// one more RDN, valid for `length`.
#[allow(clippy::too_many_arguments)]
pub fn issue_delegate<E: std::fmt::Display>(
    delegation: Delegation,
    issuer: &Certificate,
    signer: &CaSigner,
    serial: [u8; 16],
    spki_der: &[u8],
    not_before: SystemTime,
    length: Duration,
    sign: impl FnOnce(SignRequest<'_>) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, X509Error> {
    let issuer_name = issuer.tbs_certificate().subject().clone();
    let subject: Name = format!("CN={},{issuer_name}", delegation.common_name())
        .parse()
        .map_err(X509Error::malformed("delegate name"))?;
    let spki = spki::SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(X509Error::malformed("delegate key"))?;
    let builder = CertificateBuilder::new(
        DelegateProfile {
            issuer: issuer_name,
            subject,
            delegation,
        },
        SerialNumber::new(&serial).map_err(X509Error::encoding("serial"))?,
        validity(not_before, length)?,
        spki,
    )
    .map_err(X509Error::encoding("delegate certificate"))?;
    to_der("delegate certificate", &signer.build(builder, sign)?)
}

/// Parses a DER certificate.
pub fn parse_certificate(der: &[u8]) -> Result<Certificate, X509Error> {
    Certificate::from_der(der).map_err(X509Error::malformed("certificate"))
}

/// A certificate's serial number, lowercase hex.
pub fn serial_hex(cert: &Certificate) -> String {
    hex::encode(cert.tbs_certificate().serial_number().as_bytes())
}

/// When a certificate expires, in Unix seconds.
pub fn not_after_unix(cert: &Certificate) -> i64 {
    cert.tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs() as i64
}

/// The RSA public key a certificate certifies (for the RSA-only roles:
/// CA keys, transport, content); an EC key is refused as unsupported here.
pub fn certificate_key(cert: &Certificate) -> Result<RsaPublicKey, X509Error> {
    match certificate_public_key(cert)? {
        PublicKey::Rsa(k) => Ok(k),
        PublicKey::Ec(k) => Err(X509Error::UnsupportedAlgorithm(format!(
            "a {} key where an RSA key is needed",
            k.curve().standard_name()
        ))),
    }
}

/// The public key a certificate certifies, RSA or EC.
pub fn certificate_public_key(cert: &Certificate) -> Result<PublicKey, X509Error> {
    let spki = to_der(
        "certificate public key",
        cert.tbs_certificate().subject_public_key_info(),
    )?;
    Ok(PublicKey::from_spki_der(&spki)?)
}

/// Checks that `cert` was signed by `issuer_key` (RSA PKCS#1 v1.5, ECDSA
/// or Ed25519, as its signature algorithm says).
pub fn verify_issued_by(cert: &Certificate, issuer_key: &PublicKey) -> Result<(), X509Error> {
    let algorithm = cert.signature_algorithm();
    let scheme = SignatureAlgorithm::from_x509(&algorithm.oid, algorithm.parameters.as_ref())
        .map_err(|_| X509Error::UnsupportedAlgorithm(algorithm.oid.to_string()))?;
    let tbs = cert
        .tbs_certificate()
        .to_der()
        .map_err(X509Error::encoding("to-be-signed data"))?;
    let sig = cert
        .signature()
        .as_bytes()
        .ok_or(X509Error::BadSignature("certificate"))?;
    issuer_key
        .verify(scheme, &tbs, sig)
        .map_err(|_| X509Error::BadSignature("certificate"))
}

/// Verifies that `issuer`'s key signed `cert`: an RSA issuer (PKCS#1 v1.5
/// with SHA-2), an ECDSA one on P-256 or P-384, or an Ed25519 one — a
/// symbolon CA of any key type, or a device manufacturer's root.
pub fn verify_signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), X509Error> {
    verify_issued_by(cert, &certificate_public_key(issuer)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{RsaAlgorithm, RsaPrivateKey};
    use crate::x509::{build_csr, parse_identity, verify_csr};

    fn signer_of(k: &RsaPrivateKey) -> crate::x509::RsaSigner {
        crate::x509::RsaSigner::new(
            k.public_key().clone(),
            crate::keys::SignatureScheme::Pkcs1Sha256,
        )
        .unwrap()
    }

    fn ca_signer_of(k: &RsaPrivateKey) -> CaSigner {
        CaSigner::new(k.public_key().clone().into()).unwrap()
    }

    /// A self-signed root for `ca`, valid for a day.
    fn root_of(ca: &RsaPrivateKey, subject: &x509_cert::name::Name) -> Vec<u8> {
        self_signed_root(
            subject,
            &ca_signer_of(ca),
            random_serial().unwrap(),
            SystemTime::now(),
            Duration::from_secs(86400),
            |r| ca.sign_request(r),
        )
        .unwrap()
    }

    #[test]
    fn root_csr_and_leaf_fit_together() {
        let ca = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let subject = parse_identity("CN=Test Root,O=symbolon").unwrap();
        let root_der = root_of(&ca, &subject);
        let root = parse_certificate(&root_der).unwrap();
        verify_issued_by(&root, &ca.public_key().clone().into()).unwrap();

        let user = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let alice = parse_identity("CN=Alice").unwrap();
        let csr = build_csr(&alice, &signer_of(&user), |s, d| user.sign_digest(s, d)).unwrap();
        let v = verify_csr(&csr).unwrap();
        assert_eq!(&v.public_key, user.public_key());
        assert!(crate::x509::same_identity(&v.subject, &alice));
        let mut bad = csr.clone();
        let n = bad.len();
        bad[n - 5] ^= 1;
        assert_eq!(
            verify_csr(&bad).unwrap_err(),
            X509Error::BadSignature("request")
        );

        let params = IssueParams {
            serial: random_serial().unwrap(),
            not_before: SystemTime::now(),
            validity: Duration::from_secs(3600),
            subject: v.subject,
            public_key: v.public_key,
            role: CertificateRole::Client,
            extras: Default::default(),
        };
        let leaf_der =
            issue_leaf(&root, &ca_signer_of(&ca), &params, |r| ca.sign_request(r)).unwrap();
        let leaf = parse_certificate(&leaf_der).unwrap();
        verify_issued_by(&leaf, &ca.public_key().clone().into()).unwrap();
        assert!(verify_issued_by(&leaf, &user.public_key().clone().into()).is_err());
        assert_eq!(&certificate_key(&leaf).unwrap(), user.public_key());

        // A signer that signs with the wrong key never yields a certificate.
        let wrong = issue_leaf(&root, &ca_signer_of(&ca), &params, |r| user.sign_request(r));
        assert_eq!(wrong.unwrap_err(), X509Error::BadSignature("freshly made"));
    }

    fn key_usage(der: &[u8]) -> x509_cert::ext::pkix::KeyUsage {
        let cert = parse_certificate(der).unwrap();
        let ext = cert
            .tbs_certificate()
            .extensions()
            .unwrap()
            .iter()
            .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_KEY_USAGE)
            .unwrap()
            .clone();
        x509_cert::ext::pkix::KeyUsage::from_der(ext.extn_value.as_bytes()).unwrap()
    }

    #[test]
    fn an_ec_server_key_is_not_for_key_encipherment() {
        use x509_cert::ext::pkix::KeyUsages;
        let ca = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let subject = parse_identity("CN=Test Root").unwrap();
        let root = parse_certificate(&root_of(&ca, &subject)).unwrap();
        let ec = crate::keys::IdentityKeyPair::generate().unwrap();
        let rsa = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        for (key, encipher) in [
            (
                PublicKey::from_spki_der(ec.public_key().spki_der()).unwrap(),
                false,
            ),
            (PublicKey::from(rsa.public_key()), true),
        ] {
            let params = IssueParams {
                serial: random_serial().unwrap(),
                not_before: SystemTime::now(),
                validity: Duration::from_secs(3600),
                subject: parse_identity("CN=www.example.com").unwrap(),
                public_key: key.clone(),
                role: CertificateRole::Server,
                extras: Default::default(),
            };
            let der =
                issue_leaf(&root, &ca_signer_of(&ca), &params, |r| ca.sign_request(r)).unwrap();
            let ku = key_usage(&der);
            assert!(ku.0.contains(KeyUsages::DigitalSignature));
            assert_eq!(
                ku.0.contains(KeyUsages::KeyEncipherment),
                encipher,
                "{key:?}"
            );
            let cert = parse_certificate(&der).unwrap();
            assert_eq!(certificate_public_key(&cert).unwrap(), key);
        }
    }

    #[test]
    fn a_request_for_the_identity_point_is_a_weak_key() {
        use der::asn1::BitString;
        use x509_cert::request::{CertReq, CertReqInfo, Version};
        let info = CertReqInfo {
            version: Version::V1,
            subject: parse_identity("CN=Alice").unwrap(),
            public_key: spki::SubjectPublicKeyInfoOwned {
                algorithm: spki::AlgorithmIdentifierOwned {
                    oid: const_oid::db::rfc5912::ID_EC_PUBLIC_KEY,
                    parameters: Some(der::asn1::Any::from(const_oid::db::rfc5912::SECP_256_R_1)),
                },
                subject_public_key: BitString::from_bytes(&[0]).unwrap(),
            },
            attributes: Default::default(),
        };
        let req = CertReq {
            info,
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
                parameters: None,
            },
            signature: BitString::from_bytes(&[0x30, 0x00]).unwrap(),
        };
        match verify_csr(&req.to_der().unwrap()) {
            Err(X509Error::Key(crate::keys::KeyError::Weak(w))) => {
                assert_eq!(w.class, crate::keys::weak::WeakClass::InvalidPoint);
                assert!(w.detail.contains("point at infinity"), "{}", w.detail);
            }
            other => panic!("{other:?}"),
        }
    }
}
