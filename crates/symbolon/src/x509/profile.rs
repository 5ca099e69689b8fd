//! Certificate profiles: what the CA puts in a certificate, whatever the
//! request asked for (DESIGN §4.7: extensions come from the profile, never
//! from the request).

use std::fmt;
use std::str::FromStr;

use const_oid::db::rfc5280;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl CertificateRole {
    /// Every role.
    pub const ALL: [Self; 4] = [
        Self::Client,
        Self::Email,
        Self::DocumentSigning,
        Self::Server,
    ];

    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Email => "email",
            Self::DocumentSigning => "document-signing",
            Self::Server => "server",
        }
    }

    fn key_usage(self) -> KeyUsage {
        KeyUsage(match self {
            Self::Client => KeyUsages::DigitalSignature.into(),
            Self::Email | Self::DocumentSigning => {
                KeyUsages::DigitalSignature | KeyUsages::NonRepudiation
            }
            Self::Server => KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment,
        })
    }

    fn extended_key_usage(self) -> Option<Vec<ObjectIdentifier>> {
        match self {
            Self::Client => Some(vec![rfc5280::ID_KP_CLIENT_AUTH]),
            Self::Email => Some(vec![rfc5280::ID_KP_EMAIL_PROTECTION]),
            Self::DocumentSigning => None,
            Self::Server => Some(vec![rfc5280::ID_KP_SERVER_AUTH]),
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
                reason: format!("{s:?}; roles: client, email, document-signing, server"),
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

/// An end-entity certificate under a role.
pub(crate) struct LeafProfile {
    pub(crate) issuer: Name,
    pub(crate) subject: Name,
    pub(crate) role: CertificateRole,
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
            ext(true, &self.role.key_usage(), &self.subject)?,
        ];
        if let Some(eku) = self.role.extended_key_usage() {
            out.push(ext(false, &ExtendedKeyUsage(eku), &self.subject)?);
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
