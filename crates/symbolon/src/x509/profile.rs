//! Certificate profiles: what the CA puts in a certificate, whatever the
//! request asked for (docs/design.md §2.7: extensions come from the profile, never
//! from the request).

use std::fmt;
use std::str::FromStr;

use const_oid::db::{rfc5280, rfc5912};
use der::asn1::ObjectIdentifier;
use serde::{Deserialize, Serialize};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::TbsCertificate;

use super::X509Error;

/// What a certified key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateRole {
    /// TLS client authentication (digitalSignature; clientAuth).
    Client,
    /// S/MIME signing (digitalSignature, nonRepudiation; emailProtection).
    Email,
    /// Document signing (digitalSignature, nonRepudiation; no EKU).
    DocumentSigning,
    /// TLS server (digitalSignature, keyEncipherment; serverAuth). Only for
    /// keys a subscriber's own token generated and attested (BR §6.1.1.3).
    Server,
    /// Signing purchase orders for protected content (the sixth embodiment's
    /// signing key, FIG. 22): digitalSignature, nonRepudiation; the
    /// [`PURCHASE_SIGNING_EKU`] purpose, so a content owner accepts orders
    /// only from keys certified for this.
    PurchaseSigning,
}

/// The extended key usage of purchase-signing certificates: a UUID OID
/// (ITU-T X.667, arc 2.25, which needs no registration),
/// 2.25.125253338490603689881369464655459670004. Its last arc does not fit
/// the `const-oid` crate's 32-bit arcs, so it is kept as its DER encoding.
pub const PURCHASE_SIGNING_EKU: &[u8] = &[
    0x06, 0x14, 0x69, 0x81, 0xbc, 0xba, 0xf5, 0x97, 0xf7, 0xd0, 0xca, 0x9d, 0xd9, 0x99, 0xec, 0xfd,
    0xe7, 0xd9, 0x84, 0x81, 0xaf, 0x74,
];

/// The extended key usage of the CA's delegated response signer (the key
/// that signs certification responses over the station's nonce): a UUID
/// OID (ITU-T X.667), 2.25.277312783338542069787237190320269170070, kept as
/// its DER like [`PURCHASE_SIGNING_EKU`].
pub const RESPONSE_SIGNING_EKU: &[u8] = &[
    0x06, 0x14, 0x69, 0x83, 0xa1, 0xa0, 0xbf, 0xf5, 0x96, 0xb6, 0xc2, 0x9a, 0xf1, 0xb9, 0xda, 0xc6,
    0xee, 0xe7, 0xba, 0xe8, 0xab, 0x16,
];

impl CertificateRole {
    /// Every role.
    pub const ALL: [Self; 5] = [
        Self::Client,
        Self::Email,
        Self::DocumentSigning,
        Self::Server,
        Self::PurchaseSigning,
    ];

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Email => "email",
            Self::DocumentSigning => "document-signing",
            Self::Server => "server",
            Self::PurchaseSigning => "purchase-signing",
        }
    }

    /// The key usage for a key of this kind: keyEncipherment (RSA key
    /// transport in TLS ≤ 1.2) only for RSA server keys; an EC key cannot
    /// encipher (RFC 8813 §3, CA/B Forum BR §7.1.2.7.11).
    fn key_usage(self, rsa: bool) -> KeyUsage {
        KeyUsage(match self {
            Self::Client => KeyUsages::DigitalSignature.into(),
            Self::Email | Self::DocumentSigning | Self::PurchaseSigning => {
                KeyUsages::DigitalSignature | KeyUsages::NonRepudiation
            }
            Self::Server if rsa => KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment,
            Self::Server => KeyUsages::DigitalSignature.into(),
        })
    }

    fn extended_key_usage(self) -> Option<Vec<ObjectIdentifier>> {
        match self {
            Self::Client => Some(vec![rfc5280::ID_KP_CLIENT_AUTH]),
            Self::Email => Some(vec![rfc5280::ID_KP_EMAIL_PROTECTION]),
            Self::DocumentSigning => None,
            Self::Server => Some(vec![rfc5280::ID_KP_SERVER_AUTH]),
            Self::PurchaseSigning => None,
        }
    }
}

impl fmt::Display for CertificateRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CertificateRole {
    type Err = X509Error;
    fn from_str(s: &str) -> Result<Self, X509Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| X509Error::Malformed {
                what: "role",
                reason: format!(
                    "{s:?}; roles: client, email, document-signing, server, purchase-signing"
                ),
            })
    }
}

/// An extension with the criticality the profile chooses (RFC 5280 §4.2).
fn ext<E: const_oid::AssociatedOid + der::Encode>(
    critical: bool,
    e: &E,
    subject: &Name,
) -> x509_cert::builder::Result<Extension> {
    (critical, e).to_extension(subject, &[]).map_err(Into::into)
}

/// The purchase-signing extended key usage, written as DER because its OID
/// has an arc wider than 32 bits.
fn purchase_signing_eku() -> x509_cert::builder::Result<Extension> {
    let mut value = vec![0x30, PURCHASE_SIGNING_EKU.len() as u8];
    value.extend_from_slice(PURCHASE_SIGNING_EKU);
    Ok(Extension {
        extn_id: rfc5280::ID_CE_EXT_KEY_USAGE,
        critical: false,
        extn_value: der::asn1::OctetString::new(value)?,
    })
}

/// What a leaf carries beyond its role's profile: its subject alternative
/// names (the names a TLS server answers for, the vetted names of a
/// subscriber), extra purposes (an operator credential's role), and where
/// its status is published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafExtras {
    /// The subjectAltName entries.
    pub names: super::AltNames,
    /// Extended key usage purposes added to the role's, each the DER of an
    /// OBJECT IDENTIFIER (kept as DER: symbolon's own OIDs have arcs wider
    /// than 32 bits).
    pub purposes: Vec<Vec<u8>>,
    /// The CRL distribution point and authority information access.
    pub status: Option<StatusUrls>,
}

/// Where relying parties find a certificate's status and its issuer: the
/// CRL (cRLDistributionPoints), the OCSP responder and the CA certificate
/// (authorityInfoAccess), all under the service's public base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUrls {
    /// The full CRL (`…/v1/crl`).
    pub crl: String,
    /// The delta CRL (`…/v1/crl/delta`), named by the full CRL.
    pub delta_crl: String,
    /// The OCSP responder (`…/v1/ocsp`).
    pub ocsp: String,
    /// The CA certificate, DER (`…/v1/ca/certificate.der`).
    pub ca_issuers: String,
}

impl StatusUrls {
    /// The URLs under `base` (`https://ca.example.org:8443`): an http or
    /// https URL in printable ASCII (IA5String), no query or fragment.
    pub fn under(base: &str) -> Result<Self, X509Error> {
        let base = base.trim_end_matches('/');
        let bad = |reason: &str| X509Error::Malformed {
            what: "public URL",
            reason: format!("{base:?}: {reason}"),
        };
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .ok_or_else(|| bad("must start with https:// or http://"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("names no host"));
        }
        if !base.bytes().all(|b| b.is_ascii_graphic()) || base.contains(['?', '#', '"', '\\']) {
            return Err(bad(
                "printable ASCII only, without spaces, query or fragment",
            ));
        }
        Ok(Self {
            crl: format!("{base}/v1/crl"),
            delta_crl: format!("{base}/v1/crl/delta"),
            ocsp: format!("{base}/v1/ocsp"),
            ca_issuers: format!("{base}/v1/ca/certificate.der"),
        })
    }

    fn extensions(&self) -> x509_cert::builder::Result<Vec<Extension>> {
        use x509_cert::ext::pkix::crl::dp::DistributionPoint;
        use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
        use x509_cert::ext::pkix::{
            AccessDescription, AuthorityInfoAccessSyntax, CrlDistributionPoints,
        };
        let uri = |u: &str| -> x509_cert::builder::Result<GeneralName> {
            Ok(GeneralName::UniformResourceIdentifier(
                der::asn1::Ia5String::new(u)?,
            ))
        };
        let cdp = CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(&self.crl)?])),
            reasons: None,
            crl_issuer: None,
        }]);
        let aia = AuthorityInfoAccessSyntax(vec![
            AccessDescription {
                access_method: rfc5280::ID_AD_OCSP,
                access_location: uri(&self.ocsp)?,
            },
            AccessDescription {
                access_method: rfc5280::ID_AD_CA_ISSUERS,
                access_location: uri(&self.ca_issuers)?,
            },
        ]);
        Ok(vec![
            raw_ext(rfc5280::ID_CE_CRL_DISTRIBUTION_POINTS, &cdp)?,
            raw_ext(rfc5280::ID_PE_AUTHORITY_INFO_ACCESS, &aia)?,
        ])
    }
}

/// A non-critical extension from its value.
fn raw_ext(
    id: ObjectIdentifier,
    value: &impl der::Encode,
) -> x509_cert::builder::Result<Extension> {
    Ok(Extension {
        extn_id: id,
        critical: false,
        extn_value: der::asn1::OctetString::new(value.to_der()?)?,
    })
}

/// A DER length.
fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// The extended key usage extension: the role's purposes, then `extra`.
fn extended_key_usage(
    role: &[ObjectIdentifier],
    extra: &[Vec<u8>],
) -> x509_cert::builder::Result<Extension> {
    let mut body = Vec::new();
    for oid in role {
        body.extend_from_slice(&der::Encode::to_der(oid)?);
    }
    for oid in extra {
        body.extend_from_slice(oid);
    }
    let mut value = vec![0x30];
    der_length(body.len(), &mut value);
    value.extend_from_slice(&body);
    Ok(Extension {
        extn_id: rfc5280::ID_CE_EXT_KEY_USAGE,
        critical: false,
        extn_value: der::asn1::OctetString::new(value)?,
    })
}

/// The subjectAltName extension, when there are names.
fn subject_alt_name(
    extras: &LeafExtras,
    subject: &Name,
) -> x509_cert::builder::Result<Option<Extension>> {
    let names = extras.names.general_names()?;
    if names.is_empty() {
        return Ok(None);
    }
    Ok(Some(ext(
        false,
        &x509_cert::ext::pkix::SubjectAltName(names),
        subject,
    )?))
}

/// An end-entity certificate under a role.
pub(crate) struct LeafProfile {
    pub(crate) issuer: Name,
    pub(crate) subject: Name,
    pub(crate) role: CertificateRole,
    pub(crate) extras: LeafExtras,
}

impl BuilderProfile for LeafProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut out = vec![
            ext(
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
                &self.subject,
            )?,
            ext(
                true,
                &self
                    .role
                    .key_usage(spk.algorithm.oid == rfc5912::RSA_ENCRYPTION),
                &self.subject,
            )?,
        ];
        match self.role.extended_key_usage() {
            Some(eku) if !self.extras.purposes.is_empty() => {
                out.push(extended_key_usage(&eku, &self.extras.purposes)?);
            }
            Some(eku) => out.push(ext(false, &ExtendedKeyUsage(eku), &self.subject)?),
            None if !self.extras.purposes.is_empty() => {
                out.push(extended_key_usage(&[], &self.extras.purposes)?);
            }
            None => {}
        }
        if let Some(san) = subject_alt_name(&self.extras, &self.subject)? {
            out.push(san);
        }
        if self.role == CertificateRole::PurchaseSigning {
            out.push(purchase_signing_eku()?);
        }
        if let Some(status) = &self.extras.status {
            out.extend(status.extensions()?);
        }
        out.push(ext(
            false,
            &SubjectKeyIdentifier::try_from(spk)?,
            &self.subject,
        )?);
        out.push(ext(
            false,
            &AuthorityKeyIdentifier::try_from(issuer_spk)?,
            &self.subject,
        )?);
        Ok(out)
    }
}

/// A self-signed root CA.
pub(crate) struct RootProfile {
    pub(crate) subject: Name,
}

impl BuilderProfile for RootProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(vec![
            ext(
                true,
                &BasicConstraints {
                    ca: true,
                    path_len_constraint: None,
                },
                &self.subject,
            )?,
            ext(
                true,
                &KeyUsage(
                    KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature,
                ),
                &self.subject,
            )?,
            ext(false, &SubjectKeyIdentifier::try_from(spk)?, &self.subject)?,
        ])
    }
}

/// What the CA delegates a key to: answering OCSP requests (RFC 6960
/// §4.2.2.2: id-kp-OCSPSigning and id-pkix-ocsp-nocheck, so clients do not
/// ask for the status of a certificate that is short-lived instead), or
/// signing certification responses ([`RESPONSE_SIGNING_EKU`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delegation {
    /// The OCSP responder.
    OcspSigning,
    /// The response signer.
    ResponseSigning,
}

impl Delegation {
    /// The RDN the delegate's name adds to the CA's.
    pub(crate) fn common_name(self) -> &'static str {
        match self {
            Self::OcspSigning => "OCSP Responder",
            Self::ResponseSigning => "Response Signer",
        }
    }
}

/// A delegate of the CA: not a CA, digitalSignature only, and the one
/// purpose its [`Delegation`] names.
pub(crate) struct DelegateProfile {
    pub(crate) issuer: Name,
    pub(crate) subject: Name,
    pub(crate) delegation: Delegation,
}

impl BuilderProfile for DelegateProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut out = vec![
            ext(
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
                &self.subject,
            )?,
            ext(
                true,
                &KeyUsage(KeyUsages::DigitalSignature.into()),
                &self.subject,
            )?,
        ];
        match self.delegation {
            Delegation::OcspSigning => {
                out.push(ext(
                    false,
                    &ExtendedKeyUsage(vec![rfc5280::ID_KP_OCSP_SIGNING]),
                    &self.subject,
                )?);
                out.push(raw_ext(
                    const_oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK,
                    &der::asn1::Null,
                )?);
            }
            Delegation::ResponseSigning => {
                out.push(extended_key_usage(&[], &[RESPONSE_SIGNING_EKU.to_vec()])?);
            }
        }
        out.push(ext(
            false,
            &SubjectKeyIdentifier::try_from(spk)?,
            &self.subject,
        )?);
        out.push(ext(
            false,
            &AuthorityKeyIdentifier::try_from(issuer_spk)?,
            &self.subject,
        )?);
        Ok(out)
    }
}
