//! Operator credentials and the enrollment codes that make them
//! (docs/access.md): which certificate serials the service accepts, for
//! which role and name, and who owns the objects callers made.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use symbolon::access::{PartyName, Role};
use symbolon::keys::Fingerprint;

use crate::actor::Actor;
use crate::writer::{is_unique_violation, record_certificate_in, WriteOp};
use crate::{AuditKind, CertificateRecord, CertificateSerial, Registry, ReservationId, StoreError};

/// Where a credential stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialState {
    /// Accepted.
    Active,
    /// Revoked: refused from now on.
    Revoked,
}

/// A credential the CA issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRecord {
    /// The certificate's serial.
    pub serial: CertificateSerial,
    /// The party.
    pub name: PartyName,
    /// The role.
    pub role: Role,
    /// The key's fingerprint.
    pub fingerprint: Fingerprint,
    /// Active or revoked.
    pub state: CredentialState,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// Expires at (Unix seconds).
    pub not_after: i64,
    /// Revoked at, if it was.
    pub revoked_at: Option<i64>,
}

/// A credential about to be recorded, with its certificate: its key is
/// registered like every key the CA certifies (once, ever).
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// The party.
    pub name: PartyName,
    /// The role.
    pub role: Role,
    /// The certificate.
    pub certificate: CertificateRecord,
    /// Its key, SPKI DER.
    pub spki: Vec<u8>,
}

/// A grant waiting for its enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role it hands out.
    pub role: Role,
    /// The name it binds.
    pub name: PartyName,
}

/// The writes of this module.
#[derive(Debug)]
pub(crate) enum AccessWrite {
    Grant {
        digest: String,
        grant: Grant,
        granted_by: String,
        expires_at: i64,
    },
    Enroll {
        digest: String,
        credential: NewCredential,
    },
    Bootstrap(NewCredential),
    Revoke {
        serial: CertificateSerial,
    },
}

impl AccessWrite {
    /// The audit entry a successful write appends.
    pub(crate) fn audit(&self) -> (AuditKind, serde_json::Value) {
        use serde_json::json;
        match self {
            Self::Grant {
                grant, expires_at, ..
            } => (
                AuditKind::RoleGranted,
                json!({ "role": grant.role, "name": grant.name, "expires_at": expires_at }),
            ),
            Self::Enroll { credential: c, .. } | Self::Bootstrap(c) => (
                AuditKind::CredentialIssued,
                json!({
                    "serial": c.certificate.serial, "role": c.role, "name": c.name,
                    "key": c.certificate.fingerprint,
                    "how": if matches!(self, Self::Bootstrap(_)) { "bootstrap" } else { "enrollment" },
                }),
            ),
            Self::Revoke { serial } => (AuditKind::CredentialRevoked, json!({ "serial": serial })),
        }
    }
}

async fn insert(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    c: &NewCredential,
) -> Result<(), StoreError> {
    record_certificate_in(conn, actor, &c.certificate, &c.spki, None).await?;
    let r = sqlx::query(
        "INSERT INTO credentials (serial, name, role, fingerprint, der, state, issued_at, not_after) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $7)",
    )
    .bind(c.certificate.serial.as_str())
    .bind(c.name.as_str())
    .bind(c.role.name())
    .bind(c.certificate.fingerprint.to_string())
    .bind(c.certificate.der.as_slice())
    .bind(crate::registry::now())
    .bind(c.certificate.not_after)
    .execute(&mut *conn)
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::DuplicateKey(c.certificate.fingerprint))
        }
        Err(e) => Err(StoreError::db("record credential")(e)),
    }
}

/// A name holds one role: a second role under the same name would let
/// one party's objects be acted on under another role's rights. (A grant
/// that expired unused holds nothing.)
async fn check_name(
    conn: &mut AnyConnection,
    name: &PartyName,
    role: Role,
) -> Result<(), StoreError> {
    let other: Option<String> = sqlx::query_scalar(
        "SELECT role FROM credentials WHERE name = $1 AND role <> $2 \
         UNION SELECT role FROM enrollment_codes \
         WHERE name = $1 AND role <> $2 AND used_at IS NULL AND expires_at > $3 LIMIT 1",
    )
    .bind(name.as_str())
    .bind(role.name())
    .bind(crate::registry::now())
    .fetch_optional(&mut *conn)
    .await
    .map_err(StoreError::db("check a name"))?;
    match other {
        Some(r) => Err(StoreError::AlreadyExists(format!(
            "the name {name} (held with the role {r}; a name holds one role)"
        ))),
        None => Ok(()),
    }
}

pub(crate) async fn execute(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    w: &AccessWrite,
) -> Result<(), StoreError> {
    let now = crate::registry::now();
    match w {
        AccessWrite::Grant {
            digest,
            grant,
            granted_by,
            expires_at,
        } => {
            check_name(conn, &grant.name, grant.role).await?;
            sqlx::query(
                "INSERT INTO enrollment_codes (digest, role, name, granted_by, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(digest)
            .bind(grant.role.name())
            .bind(grant.name.as_str())
            .bind(granted_by)
            .bind(expires_at)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record a grant"))?;
        }
        AccessWrite::Enroll { digest, credential } => {
            // Used once, before it expires, for what it granted: the
            // compare-and-set is the single-use guarantee under races.
            let used = sqlx::query(
                "UPDATE enrollment_codes SET used_at = $1, credential = $2 \
                 WHERE digest = $3 AND used_at IS NULL AND expires_at > $1 AND role = $4 AND name = $5",
            )
            .bind(now)
            .bind(credential.certificate.serial.as_str())
            .bind(digest)
            .bind(credential.role.name())
            .bind(credential.name.as_str())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("use an enrollment code"))?;
            if used.rows_affected() != 1 {
                return Err(StoreError::BadEnrollmentCode);
            }
            insert(conn, actor, credential).await?;
        }
        AccessWrite::Bootstrap(c) => {
            check_name(conn, &c.name, c.role).await?;
            insert(conn, actor, c).await?;
        }
        AccessWrite::Revoke { serial } => {
            let done = sqlx::query(
                "UPDATE credentials SET state = 'revoked', revoked_at = $1 WHERE serial = $2 AND state = 'active'",
            )
            .bind(now)
            .bind(serial.as_str())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("revoke a credential"))?;
            if done.rows_affected() != 1 {
                return Err(StoreError::NotFound(format!("active credential {serial}")));
            }
            // Checked after the update, inside the serialised write, so two
            // admins revoking each other at once cannot both succeed.
            let admins: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM credentials WHERE role = 'admin' AND state = 'active'",
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::db("count admins"))?;
            if admins == 0 {
                return Err(StoreError::LastAdmin);
            }
        }
    }
    Ok(())
}

fn credential_of(row: &sqlx::any::AnyRow) -> Result<CredentialRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    Ok(CredentialRecord {
        serial: row.get::<String, _>(0).parse()?,
        name: row
            .get::<String, _>(1)
            .parse()
            .map_err(|e: symbolon::access::AccessError| corrupt(e.to_string()))?,
        role: row
            .get::<String, _>(2)
            .parse()
            .map_err(|e: symbolon::access::AccessError| corrupt(e.to_string()))?,
        fingerprint: row
            .get::<String, _>(3)
            .parse()
            .map_err(|e: symbolon::keys::KeyError| corrupt(e.to_string()))?,
        state: match row.get::<String, _>(4).as_str() {
            "active" => CredentialState::Active,
            "revoked" => CredentialState::Revoked,
            other => return Err(corrupt(format!("credential state {other:?}"))),
        },
        issued_at: row.get(5),
        not_after: row.get(6),
        revoked_at: row.get(7),
    })
}

const COLUMNS: &str = "serial, name, role, fingerprint, state, issued_at, not_after, revoked_at";

impl Registry {
    async fn access_write(&self, w: AccessWrite) -> Result<(), StoreError> {
        self.writer().submit(WriteOp::Access(w)).await?;
        Ok(())
    }

    /// Records a grant: the code's digest, what it hands out, until when.
    pub async fn grant(
        &self,
        digest: String,
        grant: Grant,
        granted_by: String,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.access_write(AccessWrite::Grant {
            digest,
            grant,
            granted_by,
            expires_at,
        })
        .await
    }

    /// What an unused, unexpired code grants (nothing is changed).
    pub async fn pending_grant(&self, digest: &str) -> Result<Grant, StoreError> {
        let row = sqlx::query(
            "SELECT role, name FROM enrollment_codes WHERE digest = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(digest)
        .bind(crate::registry::now())
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a grant"))?
        .ok_or(StoreError::BadEnrollmentCode)?;
        let corrupt = |e: symbolon::access::AccessError| StoreError::Corrupt(e.to_string());
        Ok(Grant {
            role: row.get::<String, _>(0).parse().map_err(corrupt)?,
            name: row.get::<String, _>(1).parse().map_err(corrupt)?,
        })
    }

    /// Uses the code and records the credential it paid for, at once.
    pub async fn enroll(
        &self,
        digest: String,
        credential: NewCredential,
    ) -> Result<(), StoreError> {
        self.access_write(AccessWrite::Enroll { digest, credential })
            .await
    }

    /// Records the first admin's credential, made by `serve` itself.
    pub async fn bootstrap_credential(&self, credential: NewCredential) -> Result<(), StoreError> {
        self.access_write(AccessWrite::Bootstrap(credential)).await
    }

    /// Revokes an active credential.
    pub async fn revoke_credential(&self, serial: &CertificateSerial) -> Result<(), StoreError> {
        self.access_write(AccessWrite::Revoke {
            serial: serial.clone(),
        })
        .await
    }

    /// A credential by its certificate serial.
    pub async fn credential(
        &self,
        serial: &CertificateSerial,
    ) -> Result<CredentialRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM credentials WHERE serial = $1"
        ))
        .bind(serial.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a credential"))?
        .ok_or_else(|| StoreError::NotFound(format!("credential {serial}")))?;
        credential_of(&row)
    }

    /// Every credential, oldest first.
    pub async fn credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM credentials ORDER BY issued_at, serial"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("list credentials"))?;
        rows.iter().map(credential_of).collect()
    }

    /// The role a party name holds: from an active credential, or a grant
    /// not yet used or expired.
    pub async fn role_of_name(&self, name: &PartyName) -> Result<Option<Role>, StoreError> {
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM credentials WHERE name = $1 AND state = 'active' \
             UNION SELECT role FROM enrollment_codes WHERE name = $1 AND used_at IS NULL AND expires_at > $2 LIMIT 1",
        )
        .bind(name.as_str())
        .bind(crate::registry::now())
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a name's role"))?;
        role.map(|r| r.parse())
            .transpose()
            .map_err(|e: symbolon::access::AccessError| StoreError::Corrupt(e.to_string()))
    }

    /// Whether any admin credential is active (bootstrap runs once).
    pub async fn has_admin(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM credentials WHERE role = 'admin' AND state = 'active'",
        )
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::db("count admins"))?;
        Ok(n > 0)
    }

    /// The station that made a reservation (None for rows made before
    /// callers were authenticated).
    pub async fn reservation_owner(
        &self,
        id: &ReservationId,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT owner FROM public_keys WHERE reservation = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db("read a reservation"))?
            .ok_or_else(|| StoreError::NotFound(format!("reservation {id}")))
    }

    /// The station that had a certificate issued.
    pub async fn certificate_requester(
        &self,
        serial: &CertificateSerial,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT requester FROM certificates WHERE serial = $1")
            .bind(serial.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db("read a certificate"))?
            .ok_or_else(|| StoreError::NotFound(format!("certificate {serial}")))
    }

    /// The station that deposited an escrow.
    pub async fn escrow_depositor(&self, id: &[u8]) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT depositor FROM escrows WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db("read an escrow"))?
            .ok_or_else(|| StoreError::NotFound(format!("escrow {}", hex::encode(id))))
    }

    /// The station that asked for a recovery.
    pub async fn recovery_requester(&self, id: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT requester FROM recovery_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db("read a recovery request"))?
            .ok_or_else(|| StoreError::NotFound(format!("recovery request {id}")))
    }
}
