//! X.509 for the CA and the issuance station: names, PKCS#10 requests with
//! proof of possession, certificate profiles, and two-phase signing through a
//! token (the key never leaves it: the builder hands over the to-be-signed
//! bytes, the token signs their digest, the signature is checked, then the
//! certificate is assembled).

mod alt_names;
mod certificate;
pub mod crmf;
mod csr;
mod error;
mod name;
mod path;
mod profile;
mod signer;

pub use alt_names::{AltNames, CommonName, DnsName, EmailAddress, MAX_ALT_NAMES};
pub use certificate::{
    certificate_key, certificate_public_key, issue_delegate, issue_leaf, not_after_unix,
    parse_certificate, random_serial, self_signed_root, serial_hex, verify_issued_by,
    verify_signed_by, IssueParams,
};
pub use csr::{
    build_csr, build_csr_with_names, build_ec_csr_with_names, csr_spki, verify_csr, VerifiedCsr,
};
pub use error::X509Error;
pub use name::{
    attribute_text, identity_attribute, identity_der, identity_key, identity_text, is_invisible,
    parse_identity, same_identity, IdentityAttribute, IDENTITY_ATTRIBUTES,
};
pub use path::{has_extended_key_usage, verify_path};
pub use profile::{
    CertificateRole, Delegation, LeafExtras, StatusUrls, PURCHASE_SIGNING_EKU, RESPONSE_SIGNING_EKU,
};
pub use signer::{CaSigner, EcSigner, RsaSigner};

pub use x509_cert::name::Name;
pub use x509_cert::Certificate;
