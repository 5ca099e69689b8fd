//! Who may be certified as whom (docs/vetting.md): registrations of vetted
//! subscribers, the stations' name policies, the manufacturer roots device
//! certificates chain to, who vouched for each device, and the device a
//! recovery replaced. Every write appends its audit entry in the same
//! transaction.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use symbolon::keys::Fingerprint;
use symbolon::token::TokenSerial;
use symbolon::vetting::{NamePolicyText, RegistrationId};
use symbolon::x509::CertificateRole;

use crate::actor::Actor;
use crate::writer::{unique_or, WriteOp};
use crate::{AuditKind, CertificateSerial, Registry, StoreError};

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrationState {
    /// Usable.
    Live,
    /// Every use spent.
    Spent,
    /// Past its expiry.
    Expired,
    /// Withdrawn by an officer.
    Withdrawn,
}

/// A registration as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationRecord {
    /// Its id.
    pub id: RegistrationId,
    /// The subject, RFC 4514.
    pub subject: String,
    /// The subject, canonical DER.
    #[serde(skip)]
    pub subject_der: Vec<u8>,
    /// The certificate roles vetted.
    pub roles: Vec<String>,
    /// The alternative names vetted (`dns:`, `ip:`, `email:`).
    pub alt_names: Vec<String>,
    /// What the officer saw.
    pub evidence: String,
    /// The officer's name.
    pub officer: String,
    /// The officer's credential (certificate serial).
    pub officer_credential: String,
    /// Made at (Unix seconds).
    pub created_at: i64,
    /// Expires at (Unix seconds).
    pub expires_at: i64,
    /// Issuances it covers.
    pub uses: i64,
    /// Issuances made under it.
    pub used: i64,
    /// Where it stands now.
    pub state: RegistrationState,
    /// Withdrawn at, by, why.
    pub withdrawn_at: Option<i64>,
    /// The officer that withdrew it.
    pub withdrawn_by: Option<String>,
    /// Why.
    pub withdraw_reason: Option<String>,
    /// Whether a device may use it with an enrollment code (EST).
    pub enrollment_code: bool,
}

/// A registration about to be recorded.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    /// Its id.
    pub id: RegistrationId,
    /// The subject's comparison key.
    pub subject_key: String,
    /// The subject, RFC 4514.
    pub subject: String,
    /// The subject, canonical DER.
    pub subject_der: Vec<u8>,
    /// The roles.
    pub roles: Vec<CertificateRole>,
    /// Alternative names, tagged.
    pub alt_names: Vec<String>,
    /// Evidence text.
    pub evidence: String,
    /// Expires at (Unix seconds).
    pub expires_at: i64,
    /// Issuances it covers.
    pub uses: u32,
    /// The SHA-256 (hex) of its enrollment code, when it has one.
    pub code_digest: Option<String>,
}

/// A station's name policy as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamePolicyRecord {
    /// The station's party name.
    pub station: String,
    /// The rules.
    pub policy: NamePolicyText,
    /// Who set them.
    pub set_by: String,
    /// When (Unix seconds).
    pub set_at: i64,
}

/// A trusted manufacturer root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManufacturerRootRecord {
    /// The root key's fingerprint.
    pub fingerprint: Fingerprint,
    /// Its subject.
    pub subject: String,
    /// The certificate.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// Who added it.
    pub added_by: String,
    /// When.
    pub added_at: i64,
}

/// Who vouches for a device being registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouch {
    /// The party.
    pub by: String,
    /// Its role.
    pub role: String,
    /// The manufacturer root its certificate chains to, if it came with one.
    pub manufacturer_root: Option<Fingerprint>,
}

/// The writes of this module.
#[derive(Debug)]
pub(crate) enum VettingWrite {
    Register(NewRegistration),
    Withdraw {
        id: RegistrationId,
        reason: String,
    },
    SetPolicy {
        station: String,
        policy: NamePolicyText,
    },
    TrustManufacturer {
        fingerprint: Fingerprint,
        subject: String,
        der: Vec<u8>,
    },
    /// A recovery moved a key from `old` to `new`: the old device is
    /// marked replaced and its certificates listed for revocation.
    Replace {
        old: TokenSerial,
        new: TokenSerial,
        request: String,
    },
    /// A certificate the station wrote into a token.
    Delivered {
        serial: CertificateSerial,
        token: TokenSerial,
    },
}

fn by_name(actor: Option<&Actor>) -> String {
    actor.map_or_else(|| "operator".to_string(), Actor::owner)
}

fn role_list(roles: &[CertificateRole]) -> String {
    roles
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) async fn execute(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    w: &VettingWrite,
) -> Result<Audited, StoreError> {
    use serde_json::json;
    let now = crate::registry::now();
    Ok(match w {
        VettingWrite::Register(r) => register_in(conn, actor, r, now).await?,
        VettingWrite::Withdraw { id, reason } => {
            let done = sqlx::query(
                "UPDATE registrations SET withdrawn_at = $1, withdrawn_by = $2, withdraw_reason = $3 \
                 WHERE id = $4 AND withdrawn_at IS NULL",
            )
            .bind(now)
            .bind(by_name(actor))
            .bind(reason)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("withdraw a registration"))?;
            if done.rows_affected() != 1 {
                return Err(StoreError::NotFound(format!(
                    "registration {id} that is not withdrawn already"
                )));
            }
            Some((
                AuditKind::RegistrationWithdrawn,
                json!({ "registration": id, "reason": reason }),
            ))
        }
        VettingWrite::SetPolicy { station, policy } => {
            let text =
                serde_json::to_string(policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO name_policies (station, policy, set_by, set_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (station) DO UPDATE SET policy = $2, set_by = $3, set_at = $4",
            )
            .bind(station)
            .bind(&text)
            .bind(by_name(actor))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("set a name policy"))?;
            Some((
                AuditKind::NamePolicySet,
                json!({ "station": station, "allow": policy.allow, "deny": policy.deny }),
            ))
        }
        VettingWrite::TrustManufacturer {
            fingerprint,
            subject,
            der,
        } => trust_in(conn, actor, fingerprint, subject, der, now).await?,
        VettingWrite::Replace { old, new, request } => {
            sqlx::query(
                "UPDATE tokens SET replaced_by = $1, replaced_at = $2 WHERE serial = $3 AND replaced_by IS NULL",
            )
            .bind(new.to_string())
            .bind(now)
            .bind(old.to_string())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("mark a token replaced"))?;
            let certificates = device_certificates_in(conn, old).await?;
            Some((
                AuditKind::TokenReplaced,
                json!({ "token": old, "replaced_by": new, "request": request, "certificates": certificates }),
            ))
        }
        VettingWrite::Delivered { serial, token } => {
            sqlx::query("UPDATE certificates SET delivered_to = $1 WHERE serial = $2")
                .bind(token.to_string())
                .bind(serial.as_str())
                .execute(&mut *conn)
                .await
                .map_err(StoreError::db("record a delivery"))?;
            None
        }
    })
}

type Audited = Option<(AuditKind, serde_json::Value)>;

async fn register_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    r: &NewRegistration,
    now: i64,
) -> Result<Audited, StoreError> {
    use serde_json::json;
    let credential = actor.map_or_else(String::new, |a| a.credential.to_string());
    // The evidence text (a passport number, say) stays in the
    // registrations table, which can be corrected; the append-only log
    // keeps a salted commitment to it (docs/transparency.md §9), its salt
    // kept here beside the text: a bare digest would be opened by trying
    // every passport number.
    let mut salt = [0u8; 32];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| {
        StoreError::db("record a registration")(sqlx::Error::Protocol(
            "the system random generator failed".into(),
        ))
    })?;
    let evidence_json = serde_json::Value::String(r.evidence.clone()).to_string();
    let evidence = hex::encode(symbolon::transparency::commitment::commitment(
        "evidence",
        &salt,
        &evidence_json,
    ));
    sqlx::query(
        "INSERT INTO registrations (id, subject_key, subject, subject_der, roles, alt_names, evidence, \
         officer, officer_credential, created_at, expires_at, uses, evidence_salt, code_digest) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(r.id.to_string())
    .bind(&r.subject_key)
    .bind(&r.subject)
    .bind(r.subject_der.as_slice())
    .bind(role_list(&r.roles))
    .bind(serde_json::to_string(&r.alt_names).unwrap_or_else(|_| "[]".into()))
    .bind(&r.evidence)
    .bind(by_name(actor))
    .bind(credential)
    .bind(now)
    .bind(r.expires_at)
    .bind(i64::from(r.uses))
    .bind(salt.as_slice())
    .bind(r.code_digest.as_deref())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("record a registration"))?;
    Ok(Some((
        AuditKind::SubscriberRegistered,
        json!({
            "registration": r.id, "subject": r.subject, "roles": role_list(&r.roles),
            "alt_names": r.alt_names, "evidence_commitment": evidence,
            "expires_at": r.expires_at, "uses": r.uses,
            "enrollment_code": r.code_digest.is_some(),
        }),
    )))
}

async fn trust_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    fingerprint: &Fingerprint,
    subject: &str,
    der: &[u8],
    now: i64,
) -> Result<Audited, StoreError> {
    use serde_json::json;
    sqlx::query(
        "INSERT INTO manufacturer_roots (fingerprint, subject, der, added_by, added_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(fingerprint.to_string())
    .bind(subject)
    .bind(der)
    .bind(by_name(actor))
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(unique_or("trust a manufacturer root", || StoreError::AlreadyExists(format!(
                "manufacturer root {fingerprint} ({subject})"
            ))))?;
    Ok(Some((
        AuditKind::ManufacturerTrusted,
        json!({ "root": fingerprint, "subject": subject }),
    )))
}

/// Spends one use of a registration for the certificate `serial`, inside
/// the issuance's transaction: live (not withdrawn, not expired, a use
/// left) at the moment of the write, or the issuance fails.
pub(crate) async fn consume_in(
    conn: &mut AnyConnection,
    id: &RegistrationId,
    serial: &CertificateSerial,
) -> Result<(), StoreError> {
    let spent = sqlx::query(
        "UPDATE registrations SET used = used + 1 \
         WHERE id = $1 AND withdrawn_at IS NULL AND expires_at > $2 AND used < uses",
    )
    .bind(id.to_string())
    .bind(crate::registry::now())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("use a registration"))?;
    if spent.rows_affected() != 1 {
        return Err(StoreError::RegistrationSpent(id.to_string()));
    }
    sqlx::query("UPDATE certificates SET registration = $1 WHERE serial = $2")
        .bind(id.to_string())
        .bind(serial.as_str())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("use a registration"))?;
    Ok(())
}

async fn device_certificates_in(
    conn: &mut AnyConnection,
    token: &TokenSerial,
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT serial FROM certificates WHERE generated_on_token = $1 OR delivered_to = $1 ORDER BY issued_at, serial",
    )
    .bind(token.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::db("list a token's certificates"))
}

const COLUMNS: &str =
    "id, subject, subject_der, roles, alt_names, evidence, officer, officer_credential, \
    created_at, expires_at, uses, used, withdrawn_at, withdrawn_by, withdraw_reason, \
    CAST(CASE WHEN code_digest IS NULL THEN 0 ELSE 1 END AS BIGINT)";

fn registration_of(row: &sqlx::any::AnyRow, now: i64) -> Result<RegistrationRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("registration: {e}"));
    let id: RegistrationId = row
        .get::<String, _>(0)
        .parse()
        .map_err(|e: symbolon::vetting::VettingError| corrupt(e.to_string()))?;
    let (expires_at, uses, used): (i64, i64, i64) = (row.get(9), row.get(10), row.get(11));
    let withdrawn_at: Option<i64> = row.get(12);
    let state = if withdrawn_at.is_some() {
        RegistrationState::Withdrawn
    } else if used >= uses {
        RegistrationState::Spent
    } else if expires_at <= now {
        RegistrationState::Expired
    } else {
        RegistrationState::Live
    };
    Ok(RegistrationRecord {
        id,
        subject: row.get(1),
        subject_der: row.get(2),
        roles: row
            .get::<String, _>(3)
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        alt_names: serde_json::from_str(&row.get::<String, _>(4))
            .map_err(|e| corrupt(e.to_string()))?,
        evidence: row.get(5),
        officer: row.get(6),
        officer_credential: row.get(7),
        created_at: row.get(8),
        expires_at,
        uses,
        used,
        state,
        withdrawn_at,
        withdrawn_by: row.get(13),
        withdraw_reason: row.get(14),
        enrollment_code: row.get::<i64, _>(15) == 1,
    })
}

impl Registry {
    async fn vetting_write(&self, w: VettingWrite) -> Result<(), StoreError> {
        self.writer().submit(WriteOp::Vetting(w)).await?;
        Ok(())
    }

    /// Records a registration (the officer is the acting caller).
    pub async fn register_subscriber(&self, r: NewRegistration) -> Result<(), StoreError> {
        self.vetting_write(VettingWrite::Register(r)).await
    }

    /// Withdraws a registration that is not withdrawn already.
    pub async fn withdraw_registration(
        &self,
        id: &RegistrationId,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.vetting_write(VettingWrite::Withdraw {
            id: *id,
            reason: reason.to_string(),
        })
        .await
    }

    /// One registration.
    pub async fn registration(
        &self,
        id: &RegistrationId,
    ) -> Result<RegistrationRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM registrations WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a registration"))?
        .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
        registration_of(&row, crate::registry::now())
    }

    /// Registrations, newest first: every one, or those still live.
    pub async fn registrations(
        &self,
        live_only: bool,
        limit: i64,
    ) -> Result<Vec<RegistrationRecord>, StoreError> {
        let now = crate::registry::now();
        let sql = if live_only {
            format!("SELECT {COLUMNS} FROM registrations WHERE withdrawn_at IS NULL AND used < uses AND expires_at > $1 ORDER BY created_at DESC, id LIMIT $2")
        } else {
            format!("SELECT {COLUMNS} FROM registrations WHERE $1 = $1 ORDER BY created_at DESC, id LIMIT $2")
        };
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db("list registrations"))?;
        rows.iter().map(|r| registration_of(r, now)).collect()
    }

    /// The registration an enrollment code (by its SHA-256, hex) belongs
    /// to, in any state.
    pub async fn registration_by_code(
        &self,
        code_digest: &str,
    ) -> Result<Option<RegistrationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM registrations WHERE code_digest = $1"
        ))
        .bind(code_digest)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("find a registration by its enrollment code"))?;
        row.map(|r| registration_of(&r, crate::registry::now()))
            .transpose()
    }

    /// Every registration of a subject (by its comparison key), in any state.
    pub async fn registrations_for(
        &self,
        subject_key: &str,
    ) -> Result<Vec<RegistrationRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM registrations WHERE subject_key = $1 ORDER BY created_at, id LIMIT 100"
        ))
        .bind(subject_key)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("find registrations"))?;
        let now = crate::registry::now();
        rows.iter().map(|r| registration_of(r, now)).collect()
    }

    /// The certificates issued under a registration.
    pub async fn registration_certificates(
        &self,
        id: &RegistrationId,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT serial FROM certificates WHERE registration = $1 ORDER BY issued_at, serial",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list a registration's certificates"))
    }

    /// Sets (replaces) a station's name policy.
    pub async fn set_name_policy(
        &self,
        station: &str,
        policy: NamePolicyText,
    ) -> Result<(), StoreError> {
        self.vetting_write(VettingWrite::SetPolicy {
            station: station.to_string(),
            policy,
        })
        .await
    }

    /// A station's name policy, if one was set.
    pub async fn name_policy(&self, station: &str) -> Result<Option<NamePolicyRecord>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT policy, set_by, set_at FROM name_policies WHERE station = $1")
                .bind(station)
                .fetch_optional(self.pool())
                .await
                .map_err(StoreError::db("read a name policy"))?
        else {
            return Ok(None);
        };
        Ok(Some(NamePolicyRecord {
            station: station.to_string(),
            policy: serde_json::from_str(&row.get::<String, _>(0))
                .map_err(|e| StoreError::Corrupt(format!("name policy of {station}: {e}")))?,
            set_by: row.get(1),
            set_at: row.get(2),
        }))
    }

    /// Adds a manufacturer root.
    pub async fn trust_manufacturer(
        &self,
        fingerprint: Fingerprint,
        subject: &str,
        der: &[u8],
    ) -> Result<(), StoreError> {
        self.vetting_write(VettingWrite::TrustManufacturer {
            fingerprint,
            subject: subject.to_string(),
            der: der.to_vec(),
        })
        .await
    }

    /// Every manufacturer root.
    pub async fn manufacturer_roots(&self) -> Result<Vec<ManufacturerRootRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT fingerprint, subject, der, added_by, added_at FROM manufacturer_roots ORDER BY added_at, fingerprint",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list manufacturer roots"))?;
        rows.iter()
            .map(|r| {
                Ok(ManufacturerRootRecord {
                    fingerprint: r.get::<String, _>(0).parse().map_err(
                        |e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()),
                    )?,
                    subject: r.get(1),
                    der: r.get(2),
                    added_by: r.get(3),
                    added_at: r.get(4),
                })
            })
            .collect()
    }

    /// The token registered with a device key, if any.
    pub async fn token_by_device(
        &self,
        device: &Fingerprint,
    ) -> Result<Option<TokenSerial>, StoreError> {
        let serial: Option<String> =
            sqlx::query_scalar("SELECT serial FROM tokens WHERE device_fingerprint = $1")
                .bind(device.to_string())
                .fetch_optional(self.pool())
                .await
                .map_err(StoreError::db("find a token by its device key"))?;
        serial
            .map(|s| s.parse())
            .transpose()
            .map_err(|e: symbolon::token::TokenError| StoreError::Corrupt(e.to_string()))
    }

    /// The certificates of keys generated on, or delivered to, a token.
    pub async fn device_certificates(
        &self,
        token: &TokenSerial,
    ) -> Result<Vec<String>, StoreError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(StoreError::db("list a token's certificates"))?;
        device_certificates_in(&mut conn, token).await
    }
}

impl VettingWrite {
    pub(crate) fn replace(old: TokenSerial, new: TokenSerial, request: String) -> WriteOp {
        WriteOp::Vetting(Self::Replace { old, new, request })
    }

    pub(crate) fn delivered(serial: CertificateSerial, token: TokenSerial) -> WriteOp {
        WriteOp::Vetting(Self::Delivered { serial, token })
    }
}
