//! The authorization table: every endpoint, and who may call it. The
//! service refuses whatever is not here; docs/access.md and the OpenAPI
//! document show the same table (a test compares them).

use super::Role;

/// Who may call an endpoint. Ownership (a reservation's station, an
/// arbitrator's own name, a recovery's requesting station) is checked on
/// top, by the service, against the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a credential: public data only.
    Public,
    /// Anyone holding an enrollment code (checked by the endpoint).
    EnrollmentCode,
    /// Credentials with one of these roles, or, without a credential, an
    /// enrollment code (checked by the endpoint): EST's first contact.
    RolesOrEnrollmentCode(&'static [Role]),
    /// The holder of a live certificate this CA issued, by the TLS client
    /// certificate it connects with (checked by the endpoint): EST's
    /// re-enrollment.
    CurrentCertificate,
    /// Anyone: a query sent with POST (OCSP), which changes nothing.
    PublicQuery,
    /// Anyone proving possession of a certified key (a statement it signed,
    /// checked by the endpoint).
    ProofOfPossession,
    /// A witness of the transparency log an admin registered, proven by its
    /// cosignature (checked by the endpoint).
    WitnessCosignature,
    /// Any authenticated credential.
    Authenticated,
    /// Credentials with one of these roles.
    Roles(&'static [Role]),
    /// Anyone: the CMP message's own protection (a code's MAC, or a
    /// signature by a station's credential or by the certificate
    /// concerned) says who sent it (checked by the endpoint).
    MessageProtection,
    /// Anyone: the ACME request's JWS says who sent it: an account's key
    /// (the account bound to a station by an officer's binding key), or,
    /// for a new account or a revocation, a key given whole (checked by
    /// the endpoint).
    AcmeSignature,
}

impl Access {
    /// Whether a caller with `role` (None: anonymous) passes the role gate.
    pub fn admits(self, role: Option<Role>) -> bool {
        match self {
            Access::Public
            | Access::EnrollmentCode
            | Access::PublicQuery
            | Access::ProofOfPossession
            | Access::WitnessCosignature
            | Access::CurrentCertificate
            | Access::MessageProtection
            | Access::AcmeSignature => true,
            Access::RolesOrEnrollmentCode(roles) => role.is_none_or(|r| roles.contains(&r)),
            Access::Authenticated => role.is_some(),
            Access::Roles(roles) => role.is_some_and(|r| roles.contains(&r)),
        }
    }

    /// Whether the endpoint needs a credential at all.
    pub fn needs_credential(self) -> bool {
        matches!(self, Access::Authenticated | Access::Roles(_))
    }

    /// Whether a client certificate presented is checked against the
    /// credentials (a credential is needed, or may stand in for a code).
    pub fn takes_credential(self) -> bool {
        self.needs_credential() || matches!(self, Access::RolesOrEnrollmentCode(_))
    }

    /// How the table in docs/access.md writes it.
    pub fn describe(self) -> String {
        match self {
            Access::Public => "anyone".into(),
            Access::EnrollmentCode => "anyone with an enrollment code".into(),
            Access::PublicQuery => "anyone (a query; changes nothing)".into(),
            Access::ProofOfPossession => "anyone signing with the certified key".into(),
            Access::WitnessCosignature => "a registered witness, by its cosignature".into(),
            Access::RolesOrEnrollmentCode(r) => format!(
                "{}, or anyone with an enrollment code",
                r.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
            ),
            Access::CurrentCertificate => {
                "the holder of a live certificate, by its TLS client certificate".into()
            }
            Access::MessageProtection => {
                "anyone, by the message's protection: an enrollment code's MAC, or a signature by a station's credential or the certificate concerned".into()
            }
            Access::AcmeSignature => {
                "anyone, by the request's JWS: an ACME account's key (bound to a station by an officer's binding key), or the certified key".into()
            }
            Access::Authenticated => "any credential".into(),
            Access::Roles(r) => r.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "),
        }
    }
}

/// What a state-changing request's body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json` (every endpoint of the JSON API).
    Json,
    /// `application/pkcs10`, base64 (EST, RFC 7030 §4.2.1).
    Pkcs10,
    /// `application/pkixcmp`, a DER PKIMessage (CMP, RFC 6712 §3.4).
    Pkixcmp,
    /// `application/jose+json`, a flattened JWS (ACME, RFC 8555 §6.2).
    JoseJson,
}

impl Media {
    /// The media type, as a Content-Type names it.
    pub fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::Pkcs10 => "application/pkcs10",
            Media::Pkixcmp => "application/pkixcmp",
            Media::JoseJson => "application/jose+json",
        }
    }
}

/// One row: method, the router's path template, access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The HTTP method.
    pub method: &'static str,
    /// The path as the router spells it (`{id}` for a parameter).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What its request body must be.
    pub media: Media,
}

const fn row(method: &'static str, path: &'static str, access: Access) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
        media: Media::Json,
    }
}

/// A row whose body is a base64 PKCS#10 request (EST).
const fn pkcs10_row(method: &'static str, path: &'static str, access: Access) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
        media: Media::Pkcs10,
    }
}

/// A CMP row: a POST of a DER PKIMessage, protected by itself.
const fn cmp_row(path: &'static str) -> Endpoint {
    Endpoint {
        method: "POST",
        path,
        access: MessageProtection,
        media: Media::Pkixcmp,
    }
}

/// An ACME row: a POST of a JWS, signed by an account or a key.
const fn acme_row(path: &'static str) -> Endpoint {
    Endpoint {
        method: "POST",
        path,
        access: Access::AcmeSignature,
        media: Media::JoseJson,
    }
}

use Access::{
    Authenticated, CurrentCertificate, EnrollmentCode, MessageProtection, ProofOfPossession,
    Public, PublicQuery, Roles, RolesOrEnrollmentCode, WitnessCosignature,
};
use Role::{Admin, Arbitrator, Auditor, RegistrationOfficer, Station};

/// Every endpoint of the service.
pub const ENDPOINTS: &[Endpoint] = &[
    // Public: what anyone needs to verify what the service says.
    row("GET", "/v1/health", Public),
    row("GET", "/v1/openapi.json", Public),
    row("GET", "/v1/ca/certificate", Public),
    row("GET", "/v1/recovery/enclave", Public),
    // Enrollment: the code in the body is the credential.
    row("POST", "/v1/enroll", EnrollmentCode),
    // Administration.
    row("POST", "/v1/admin/grants", Roles(&[Admin])),
    row("GET", "/v1/admin/credentials", Roles(&[Admin, Auditor])),
    row(
        "POST",
        "/v1/admin/credentials/{serial}/revoke",
        Roles(&[Admin]),
    ),
    // Vetting (FIG. 6 step 423; docs/vetting.md).
    row(
        "POST",
        "/v1/ra/registrations",
        Roles(&[RegistrationOfficer]),
    ),
    row(
        "GET",
        "/v1/ra/registrations",
        Roles(&[RegistrationOfficer, Admin, Auditor]),
    ),
    row(
        "GET",
        "/v1/ra/registrations/{id}",
        Roles(&[RegistrationOfficer, Admin, Auditor]),
    ),
    row(
        "POST",
        "/v1/ra/registrations/{id}/withdraw",
        Roles(&[RegistrationOfficer]),
    ),
    row("PUT", "/v1/admin/name-policies/{station}", Roles(&[Admin])),
    row(
        "GET",
        "/v1/admin/name-policies/{station}",
        Roles(&[Admin, Auditor, Station]),
    ),
    row("POST", "/v1/admin/manufacturer-roots", Roles(&[Admin])),
    row("GET", "/v1/admin/manufacturer-roots", Authenticated),
    // Issuance (FIG. 2, FIG. 10).
    row("POST", "/v1/certify", Roles(&[Station])),
    row("POST", "/v1/reservations", Roles(&[Station])),
    row("POST", "/v1/reservations/{id}/abandon", Roles(&[Station])),
    row("POST", "/v1/tokens", Roles(&[Station, RegistrationOfficer])),
    row("GET", "/v1/tokens/{serial}", Authenticated),
    row("GET", "/v1/certificates/{serial}", Authenticated),
    row(
        "POST",
        "/v1/certificates/{serial}/delivery",
        Roles(&[Station]),
    ),
    row("GET", "/v1/keys/{fingerprint}", Authenticated),
    // Revocation and status (docs/revocation.md).
    row(
        "GET",
        "/v1/certificates",
        Roles(&[Auditor, Admin, RegistrationOfficer]),
    ),
    row(
        "POST",
        "/v1/certificates/{serial}/revoke",
        Roles(&[Admin, RegistrationOfficer]),
    ),
    row(
        "POST",
        "/v1/certificates/{serial}/release",
        Roles(&[Admin, RegistrationOfficer]),
    ),
    row("POST", "/v1/revocations/self", ProofOfPossession),
    row("POST", "/v1/renewals", Roles(&[Station])),
    row(
        "POST",
        "/v1/tokens/{serial}/revoke",
        Roles(&[Admin, RegistrationOfficer]),
    ),
    row(
        "POST",
        "/v1/tokens/{serial}/tampered",
        Roles(&[Station, RegistrationOfficer, Admin]),
    ),
    row("GET", "/v1/crl", Public),
    row("GET", "/v1/crl/delta", Public),
    row("POST", "/v1/ocsp", PublicQuery),
    row("GET", "/v1/ocsp/{*request}", Public),
    row("GET", "/v1/ca/certificate.der", Public),
    row("GET", "/v1/audit", Roles(&[Auditor, Admin])),
    // The transparency log (docs/transparency.md): hashes for anyone,
    // entries (which name parties) for auditors.
    row("GET", "/v1/log/checkpoint", Public),
    row("GET", "/v1/log/key", Public),
    row("GET", "/v1/log/witnesses", Public),
    row("POST", "/v1/log/witnesses", Roles(&[Admin])),
    row("POST", "/v1/log/witnesses/{name}/remove", Roles(&[Admin])),
    row("POST", "/v1/log/cosignatures", WitnessCosignature),
    row("GET", "/v1/log/proof/inclusion", Public),
    row("GET", "/v1/log/proof/consistency", Public),
    row("GET", "/v1/log/entries/{seq}", Roles(&[Auditor, Admin])),
    // A key's evidence bundle opens the commitments of its entries (the
    // subscriber's names): for those who vet and audit.
    row(
        "GET",
        "/v1/keys/{fingerprint}/evidence",
        Roles(&[Auditor, Admin, RegistrationOfficer]),
    ),
    // Escrow and recovery (FIG. 13-15).
    row("POST", "/v1/arbitrators", Roles(&[Arbitrator])),
    row("GET", "/v1/arbitrators/{id}", Authenticated),
    row("POST", "/v1/escrows", Roles(&[Station])),
    row("GET", "/v1/escrows/{id}", Authenticated),
    row(
        "GET",
        "/v1/escrows/{id}/shares/{arbitrator}",
        Roles(&[Arbitrator]),
    ),
    row("POST", "/v1/recovery", Roles(&[Station])),
    row("GET", "/v1/recovery/{id}", Authenticated),
    row("POST", "/v1/recovery/{id}/approvals", Roles(&[Arbitrator])),
    row("POST", "/v1/recovery/{id}/complete", Roles(&[Station])),
    // The joint-key mailbox (FIG. 17-21).
    row("POST", "/v1/joint/messages", Roles(&[Station, Arbitrator])),
    row("GET", "/v1/joint/messages/{id}", Authenticated),
    row(
        "PUT",
        "/v1/joint/messages/{id}",
        Roles(&[Station, Arbitrator]),
    ),
    // EST (RFC 7030; docs/est.md), bare and under a label naming the
    // certificate role.
    row("GET", "/.well-known/est/cacerts", Public),
    row("GET", "/.well-known/est/{label}/cacerts", Public),
    row("GET", "/.well-known/est/csrattrs", Public),
    row("GET", "/.well-known/est/{label}/csrattrs", Public),
    pkcs10_row(
        "POST",
        "/.well-known/est/simpleenroll",
        RolesOrEnrollmentCode(&[Station]),
    ),
    pkcs10_row(
        "POST",
        "/.well-known/est/{label}/simpleenroll",
        RolesOrEnrollmentCode(&[Station]),
    ),
    pkcs10_row(
        "POST",
        "/.well-known/est/simplereenroll",
        CurrentCertificate,
    ),
    pkcs10_row(
        "POST",
        "/.well-known/est/{label}/simplereenroll",
        CurrentCertificate,
    ),
    // CMP (RFC 9483 over RFC 6712; docs/cmp.md), bare and under a profile
    // naming the certificate role.
    cmp_row("/.well-known/cmp"),
    cmp_row("/.well-known/cmp/p/{profile}"),
    // ACME (RFC 8555; docs/acme.md) under a provisioner naming the
    // certificate role; binding keys from the officers.
    row("POST", "/v1/acme/eab", Roles(&[RegistrationOfficer, Admin])),
    row("GET", "/acme/{provisioner}/directory", Public),
    row("GET", "/acme/{provisioner}/new-nonce", Public),
    acme_row("/acme/{provisioner}/new-account"),
    acme_row("/acme/{provisioner}/new-order"),
    acme_row("/acme/{provisioner}/account/{id}"),
    acme_row("/acme/{provisioner}/account/{id}/orders"),
    acme_row("/acme/{provisioner}/order/{id}"),
    acme_row("/acme/{provisioner}/order/{id}/finalize"),
    acme_row("/acme/{provisioner}/authz/{id}"),
    acme_row("/acme/{provisioner}/chall/{authz}/{kind}"),
    acme_row("/acme/{provisioner}/cert/{serial}"),
    acme_row("/acme/{provisioner}/key-change"),
    acme_row("/acme/{provisioner}/revoke-cert"),
];

/// The row for a method and a router path template.
pub fn endpoint(method: &str, path: &str) -> Option<&'static Endpoint> {
    ENDPOINTS
        .iter()
        .find(|e| e.method == method && e.path == path)
}

/// The row for a method and a router path template.
pub fn endpoint_access(method: &str, path: &str) -> Option<Access> {
    ENDPOINTS
        .iter()
        .find(|e| e.method == method && e.path == path)
        .map(|e| e.access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_change_needs_a_role_and_rows_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for e in ENDPOINTS {
            assert!(seen.insert((e.method, e.path)), "{e:?} twice");
            if e.method != "GET"
                && !matches!(
                    e.access,
                    EnrollmentCode
                        | PublicQuery
                        | ProofOfPossession
                        | WitnessCosignature
                        | CurrentCertificate
                        | MessageProtection
                        | Access::AcmeSignature
                        | RolesOrEnrollmentCode(_)
                )
            {
                assert!(
                    e.access.needs_credential(),
                    "{e:?} changes state anonymously"
                );
            }
        }
        assert!(!Roles(&[Station]).admits(None));
        assert!(!Roles(&[Station]).admits(Some(Arbitrator)));
        assert!(Roles(&[Station]).admits(Some(Station)));
        assert!(!Authenticated.admits(None));
        assert!(Public.admits(None));
        assert_eq!(endpoint_access("DELETE", "/v1/certify"), None);
        let est = RolesOrEnrollmentCode(&[Station]);
        assert!(est.admits(None) && est.admits(Some(Station)));
        assert!(!est.admits(Some(Admin)));
        assert!(est.takes_credential() && !est.needs_credential());
        assert!(!CurrentCertificate.takes_credential());
        // CMP's message says who sent it: the gate reads no certificate.
        assert!(MessageProtection.admits(None) && !MessageProtection.takes_credential());
        assert_eq!(
            endpoint("POST", "/.well-known/cmp").map(|e| e.media),
            Some(Media::Pkixcmp)
        );
    }
}
