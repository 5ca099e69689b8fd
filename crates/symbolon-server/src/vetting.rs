//! Who may be certified as whom, at the service (docs/vetting.md, patent
//! FIG. 6 step 423): registration officers record vetted subscribers, admins
//! set each station's name policy and the manufacturer roots, and every
//! certification is authorised by a live registration for exactly its
//! subject and role (one use spent with the issuance) or by the requesting
//! station's name policy covering every name in the certificate.

use std::time::SystemTime;

use serde::Serialize;
use symbolon::access::{EnrollmentCode, PartyName};
use symbolon::ca::{Approved, CaError};
use symbolon::keys::IdentityPublicKey;
use symbolon::vetting::{
    parse_duration, verify_device_chain, DeviceEvidence, Evidence, ManufacturerRoot, NamePolicy,
    NamePolicyText, RegisteredDevice, RegistrationId,
};
use symbolon::x509::{identity_key, AltNames, CertificateRole, Name};
use symbolon_store::{
    Actor, NamePolicyRecord, NewRegistration, RegistrationRecord, RegistrationState, StoreError,
    TokenRecord,
};
use x509_cert::der::Decode;

use crate::service::now;
use crate::{CaService, ServiceError};

/// What authorises a certification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Authority {
    /// A registration officer's registration (one use spent).
    Registration {
        /// Its id.
        registration: RegistrationId,
    },
    /// The requesting station's name policy.
    NamePolicy {
        /// The station.
        station: String,
    },
    /// An ACME account, bound to a station by an officer's key, that
    /// proved control of every name (docs/acme.md); the station's name
    /// policy covers them.
    Acme {
        /// The account.
        account: String,
        /// The station it acts for.
        station: String,
    },
    /// The old key of the certificate renewed, signing inside its token
    /// (the subject, names and role are the old certificate's).
    Renewal {
        /// The certificate renewed.
        renews: symbolon_store::CertificateSerial,
    },
}

/// What an officer asks to register.
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    /// The identity, RFC 4514.
    pub identity: String,
    /// Certificate roles.
    pub roles: Vec<CertificateRole>,
    /// Vetted alternative names, tagged.
    pub alt_names: Vec<String>,
    /// What was checked.
    pub evidence: String,
    /// How long it lives (`30d`).
    pub valid: String,
    /// How many issuances it covers.
    pub uses: u32,
    /// Whether to make a single-use enrollment code for it (EST first
    /// contact, docs/est.md).
    pub enrollment_code: bool,
}

/// Default life of a registration.
pub const DEFAULT_VALIDITY: &str = "30d";

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        code: symbolon::Code::InvalidInput,
        message: message.into(),
    }
}

pub(crate) fn parse_policy(record: &NamePolicyRecord) -> Result<NamePolicy, ServiceError> {
    NamePolicy::parse(&record.policy).map_err(|e| {
        ServiceError::Store(StoreError::Corrupt(format!(
            "the name policy of {}: {e}",
            record.station
        )))
    })
}

impl CaService {
    /// `POST /v1/ra/registrations`: records a vetted subscriber (the
    /// officer is the caller).
    pub async fn register_subscriber(
        &self,
        req: RegistrationRequest,
    ) -> Result<(RegistrationRecord, Option<EnrollmentCode>), ServiceError> {
        let subject = symbolon::x509::parse_identity(&req.identity)
            .map_err(|e| invalid(format!("identity: {e}")))?;
        for role in &req.roles {
            if !self.policy.roles.contains(role) {
                return Err(invalid(format!(
                    "this CA does not issue {role} certificates"
                )));
            }
        }
        let roles =
            symbolon::vetting::check_roles(req.roles).map_err(|e| invalid(e.to_string()))?;
        let alt = AltNames::parse_tagged(req.alt_names.iter().map(String::as_str))
            .map_err(|e| invalid(format!("alt_names: {e}")))?;
        let evidence = Evidence::new(&req.evidence).map_err(|e| invalid(e.to_string()))?;
        let valid = parse_duration(&req.valid).map_err(|e| invalid(format!("valid: {e}")))?;
        let uses = symbolon::vetting::check_uses(req.uses).map_err(|e| invalid(e.to_string()))?;
        // A code is a bearer secret: it enrolls one device, once.
        if req.enrollment_code && uses != 1 {
            return Err(invalid(
                "an enrollment code is single-use: register with one use (--uses 1)",
            ));
        }
        let subject_der = symbolon::x509::identity_der(&subject)
            .map_err(|e| invalid(format!("identity: {e}")))?;
        let id = RegistrationId::random().map_err(|e| CaError::Internal(e.to_string()))?;
        // Derived, not stored: CMP's reference is the ID (docs/cmp.md).
        let code = req
            .enrollment_code
            .then(|| self.enrollment_key.code_for(&id.to_string()));
        self.registry
            .register_subscriber(NewRegistration {
                id,
                subject_key: identity_key(&subject),
                subject: subject.to_string(),
                subject_der,
                roles,
                alt_names: alt.tagged(),
                evidence: evidence.as_str().to_string(),
                expires_at: now() + valid as i64,
                uses,
                code_digest: code.as_ref().map(EnrollmentCode::digest),
            })
            .await?;
        Ok((self.registry.registration(&id).await?, code))
    }

    /// `POST /v1/ra/registrations/{id}/withdraw`.
    pub async fn withdraw_registration(
        &self,
        id: &RegistrationId,
        reason: &str,
    ) -> Result<RegistrationRecord, ServiceError> {
        let current = self.registry.registration(id).await?;
        if current.state == RegistrationState::Withdrawn {
            return Err(ServiceError::Invalid {
                code: symbolon::Code::AlreadyUsed,
                message: format!("registration {id} is withdrawn already"),
            });
        }
        if reason.trim().is_empty() {
            return Err(invalid("reason: say why the registration is withdrawn"));
        }
        self.registry
            .withdraw_registration(id, reason.trim())
            .await?;
        Ok(self.registry.registration(id).await?)
    }

    /// `PUT /v1/admin/name-policies/{station}`: parsed, stored in its
    /// canonical form.
    pub async fn set_name_policy(
        &self,
        station: &PartyName,
        text: &NamePolicyText,
    ) -> Result<NamePolicyRecord, ServiceError> {
        let policy = NamePolicy::parse(text).map_err(|e| invalid(e.to_string()))?;
        // A policy for a name no station holds would wait silently for
        // whoever is granted that name next. The service's own in-process
        // station (`--ca local:DIR`) holds its reserved name between
        // commands too, though each command's credential is revoked when
        // it ends.
        if station.as_str() != symbolon::access::LOCAL_STATION
            && self.registry.role_of_name(station).await? != Some(symbolon::access::Role::Station)
        {
            return Err(ServiceError::Invalid {
                code: symbolon::Code::NotFound,
                message: format!(
                    "{station} is not a station (no station credential or pending station grant has that name); grant the role first (`symbolon admin grant --role station --name {station}`)"
                ),
            });
        }
        self.registry
            .set_name_policy(station.as_str(), policy.text())
            .await?;
        self.registry
            .name_policy(station.as_str())
            .await?
            .ok_or_else(|| ServiceError::Setup("the name policy just set is missing".into()))
    }

    /// `POST /v1/admin/manufacturer-roots`.
    pub async fn trust_manufacturer(&self, der: &[u8]) -> Result<ManufacturerRoot, ServiceError> {
        let root =
            ManufacturerRoot::new(der, SystemTime::now()).map_err(|e| ServiceError::Invalid {
                code: symbolon::Code::InvalidCertificate,
                message: e.to_string(),
            })?;
        self.registry
            .trust_manufacturer(root.fingerprint, &root.subject, &root.der)
            .await?;
        Ok(root)
    }

    /// Checks a device chain against the manufacturer roots on record.
    pub(crate) async fn check_device_chain(
        &self,
        device_key: &IdentityPublicKey,
        chain: &[Vec<u8>],
    ) -> Result<ManufacturerRoot, ServiceError> {
        let roots = self
            .registry
            .manufacturer_roots()
            .await?
            .into_iter()
            .filter_map(|r| ManufacturerRoot::new(&r.der, SystemTime::now()).ok())
            .collect::<Vec<_>>();
        verify_device_chain(device_key.spki_der(), chain, &roots, SystemTime::now())
            .cloned()
            .map_err(|e| ServiceError::Invalid {
                code: e.code(),
                message: e.to_string(),
            })
    }

    /// The device the review sees, from its registration.
    pub(crate) fn registered_device(token: &TokenRecord) -> Option<RegisteredDevice> {
        let key = IdentityPublicKey::from_spki_der(&token.device_key).ok()?;
        Some(RegisteredDevice {
            key,
            evidence: device_evidence(token),
        })
    }

    /// Authorises a reviewed request for the station `by`: the station's
    /// name policy covering every name of the certificate (one read, no
    /// registration spent); failing that, a live registration for exactly
    /// its subject and role whose vetted names (those listed, and the
    /// subject's own), with the station's policy, cover every alternative
    /// name. The refusal names what was missing. Returns the subject to
    /// certify: the registration's canonical DER (as vetted), or the
    /// request's.
    pub(crate) async fn authorize(
        &self,
        approved: &Approved,
        by: &Actor,
    ) -> Result<(Authority, Name), CaError> {
        let internal = |e: StoreError| CaError::Internal(e.to_string());
        let subject = &approved.subject;
        let role = approved.role.to_string();
        let policy = match self
            .registry
            .name_policy(by.name.as_str())
            .await
            .map_err(internal)?
        {
            Some(record) => {
                Some(parse_policy(&record).map_err(|e| CaError::Internal(e.to_string()))?)
            }
            None => None,
        };
        let policy_note = match &policy {
            Some(p) => match p.judge_certificate(subject, &approved.alt_names) {
                Ok(()) => {
                    return Ok((
                        Authority::NamePolicy {
                            station: by.name.to_string(),
                        },
                        subject.clone(),
                    ))
                }
                Err(outside) => format!(
                    "the name policy of station {} does not cover it ({outside})",
                    by.name
                ),
            },
            None => format!("station {} has no name policy", by.name),
        };
        let registrations = self
            .registry
            .registrations_for(&identity_key(subject))
            .await
            .map_err(internal)?;
        let for_role: Vec<&RegistrationRecord> = registrations
            .iter()
            .filter(|r| r.roles.contains(&role))
            .collect();
        let mut uncovered = None;
        for r in for_role
            .iter()
            .filter(|r| r.state == RegistrationState::Live)
        {
            let corrupt = |e: String| CaError::Internal(format!("registration {}: {e}", r.id));
            let vetted_subject =
                Name::from_der(&r.subject_der).map_err(|e| corrupt(e.to_string()))?;
            let vetted = AltNames::parse_tagged(r.alt_names.iter().map(String::as_str))
                .map_err(|e| corrupt(e.to_string()))?
                .with_subject_names(&vetted_subject, true);
            match names_outside(&approved.alt_names, &vetted, policy.as_ref()) {
                None => {
                    return Ok((
                        Authority::Registration { registration: r.id },
                        vetted_subject,
                    ))
                }
                Some(name) => uncovered = uncovered.or(Some((r.id, name))),
            }
        }
        if let Some((id, name)) = uncovered {
            return Err(CaError::NameNotAllowed(format!(
                "{name} is neither vetted by registration {id} nor allowed by the name policy of station {}; register it (`symbolon ra register --san …`) or have an admin allow it",
                by.name
            )));
        }
        let state_note = match for_role.last() {
            Some(r) => format!(
                " (registration {} is {})",
                r.id,
                match r.state {
                    RegistrationState::Spent => "used up",
                    RegistrationState::Expired => "expired",
                    RegistrationState::Withdrawn => "withdrawn",
                    RegistrationState::Live => "live",
                }
            ),
            None if !registrations.is_empty() => format!(
                " (it is registered for {} only)",
                registrations
                    .iter()
                    .flat_map(|r| r.roles.iter().cloned())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        Err(CaError::NotRegistered(format!(
            "{subject} is not registered for the role {role}{state_note}, and {policy_note}; a registration officer registers subscribers after vetting them (`symbolon ra register`)"
        )))
    }
}

impl CaService {
    /// Step 423 for a device presenting an enrollment code (EST's first
    /// contact, docs/est.md): the code's live registration `r` alone
    /// vouches, for exactly its subject, one of its roles and its vetted
    /// names; its one use is spent with the issuance (a race for it is
    /// lost in that transaction).
    pub(crate) fn authorize_code(
        &self,
        approved: &Approved,
        r: &RegistrationRecord,
    ) -> Result<(Authority, Name), CaError> {
        let corrupt = |e: String| CaError::Internal(format!("registration {}: {e}", r.id));
        let vetted_subject = Name::from_der(&r.subject_der).map_err(|e| corrupt(e.to_string()))?;
        if identity_key(&vetted_subject) != identity_key(&approved.subject) {
            return Err(CaError::NotRegistered(format!(
                "the enrollment code was issued for {}, not for {}",
                r.subject, approved.subject
            )));
        }
        let role = approved.role.to_string();
        if !r.roles.contains(&role) {
            return Err(CaError::NotRegistered(format!(
                "the enrollment code's registration {} is for {} certificates, not {role}",
                r.id,
                r.roles.join(", ")
            )));
        }
        let vetted = AltNames::parse_tagged(r.alt_names.iter().map(String::as_str))
            .map_err(|e| corrupt(e.to_string()))?
            .with_subject_names(&vetted_subject, true);
        if let Some(name) = names_outside(&approved.alt_names, &vetted, None) {
            return Err(CaError::NameNotAllowed(format!(
                "{name} is not vetted by the enrollment code's registration {}",
                r.id
            )));
        }
        Ok((
            Authority::Registration { registration: r.id },
            vetted_subject,
        ))
    }
}

/// The first requested alternative name neither vetted nor allowed.
fn names_outside(
    requested: &AltNames,
    vetted: &AltNames,
    policy: Option<&NamePolicy>,
) -> Option<String> {
    use symbolon::vetting::CertName;
    let allowed = |n: &CertName| policy.is_some_and(|p| p.judge(n).is_ok());
    for d in &requested.dns {
        let n = CertName::Dns(d.clone());
        if !vetted.dns.contains(d) && !allowed(&n) {
            return Some(n.to_string());
        }
    }
    for i in &requested.ips {
        let n = CertName::Ip(*i);
        if !vetted.ips.contains(i) && !allowed(&n) {
            return Some(n.to_string());
        }
    }
    for e in &requested.emails {
        let n = CertName::Email(e.clone());
        if !vetted.emails.contains(e) && !allowed(&n) {
            return Some(n.to_string());
        }
    }
    None
}

/// What a token's registration says about its device.
pub fn device_evidence(token: &TokenRecord) -> DeviceEvidence {
    match (
        &token.vouched_by,
        &token.manufacturer_root,
        &token.manufacturer_subject,
    ) {
        (None, ..) => DeviceEvidence::Unvouched,
        (Some(by), Some(root_key), Some(root)) => DeviceEvidence::Manufacturer {
            by: by.clone(),
            root: root.clone(),
            root_key: *root_key,
        },
        (Some(by), ..) => DeviceEvidence::Vouched {
            by: by.clone(),
            role: token.vouched_role.clone().unwrap_or_default(),
        },
    }
}
