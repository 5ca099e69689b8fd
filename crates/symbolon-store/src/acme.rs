//! ACME's records (docs/acme.md): the external account binding keys an
//! officer issued (by kid: the key itself is derived, never stored), the
//! accounts, and which account ordered which certificate. Orders and
//! authorizations live in the service's memory: they last hours.

use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::writer::{is_unique_violation, unique_or, WriteOp};
use crate::{AuditKind, CertificateSerial, Registry, StoreError};
use symbolon::keys::Fingerprint;

/// An external account binding key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EabRecord {
    /// Its key identifier.
    pub kid: String,
    /// The station whose name policy its account works under.
    pub station: String,
    /// Who issued it.
    pub issued_by: String,
    /// When (Unix seconds).
    pub issued_at: i64,
    /// Until when an account may bind it.
    pub expires_at: i64,
    /// The account that bound it, once one has.
    pub account: Option<String>,
}

/// An account's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeAccountStatus {
    /// In use.
    Valid,
    /// Given up by its holder: it signs nothing more.
    Deactivated,
}

impl AcmeAccountStatus {
    /// The stored and ACME name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Deactivated => "deactivated",
        }
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeAccountRecord {
    /// Its ID (the last segment of its URL).
    pub id: String,
    /// Its key's RFC 7638 thumbprint.
    pub thumbprint: String,
    /// Its key, canonical JWK JSON.
    pub jwk: String,
    /// The station it acts for.
    pub station: String,
    /// The provisioner it was made at (the certificate role it orders).
    pub provisioner: String,
    /// The binding it spent.
    pub eab_kid: String,
    /// Its contact URLs.
    pub contact: Vec<String>,
    /// Its status.
    pub status: AcmeAccountStatus,
    /// When it was made.
    pub created_at: i64,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAcmeAccount {
    /// Its key's SubjectPublicKeyInfo (DER) and fingerprint: registered
    /// among the public keys, so it is never a certificate's.
    pub key: AccountKey,
    /// Its ID.
    pub id: String,
    /// Its key's thumbprint.
    pub thumbprint: String,
    /// Its key, canonical JWK JSON.
    pub jwk: String,
    /// The provisioner it is made at.
    pub provisioner: String,
    /// The binding it spends.
    pub eab_kid: String,
    /// Its contact URLs.
    pub contact: Vec<String>,
}

/// An account key as the registry of public keys holds it.
#[derive(Debug, Clone)]
pub struct AccountKey {
    /// SHA-256 of the SPKI.
    pub fingerprint: Fingerprint,
    /// The SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
}

/// Registers an account key among the public keys, in the account's
/// transaction: a key certified (or refused, or another account's) is
/// refused, and one registered here is never certified, across every
/// service process sharing the registry (the primary key decides).
async fn register_key_in(
    conn: &mut AnyConnection,
    key: &AccountKey,
    account: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO public_keys (fingerprint, spki, state, reservation, registered_at, updated_at, owner) \
         VALUES ($1, $2, 'acme-account', NULL, $3, $3, $4)",
    )
    .bind(key.fingerprint.to_string())
    .bind(key.spki.as_slice())
    .bind(now)
    .bind(account)
    .execute(&mut *conn)
    .await
    .map_err(unique_or("register an ACME account key", || {
        StoreError::DuplicateKey(key.fingerprint)
    }))?;
    Ok(())
}

pub(crate) enum AcmeWrite {
    IssueEab {
        kid: String,
        station: String,
        issued_by: String,
        expires_at: i64,
    },
    CreateAccount(NewAcmeAccount),
    Deactivate {
        id: String,
    },
    SetContacts {
        id: String,
        contact: Vec<String>,
    },
    ChangeKey {
        id: String,
        old_thumbprint: String,
        thumbprint: String,
        jwk: String,
        key: AccountKey,
    },
    LinkCertificate {
        serial: CertificateSerial,
        account: String,
    },
}

type Audited = Option<(AuditKind, serde_json::Value)>;

pub(crate) async fn execute(
    conn: &mut AnyConnection,
    w: &AcmeWrite,
) -> Result<Audited, StoreError> {
    let now = crate::registry::now();
    Ok(match w {
        AcmeWrite::IssueEab {
            kid,
            station,
            issued_by,
            expires_at,
        } => {
            sqlx::query(
                "INSERT INTO acme_eab_keys (kid, station, issued_by, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(kid)
            .bind(station)
            .bind(issued_by)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("issue an ACME binding key"))?;
            Some((
                AuditKind::AcmeEabIssued,
                json!({ "kid": kid, "station": station, "expires_at": expires_at }),
            ))
        }
        AcmeWrite::CreateAccount(a) => {
            // The binding is spent in the same transaction the account is
            // made in: two accounts racing for one kid, one wins.
            let spent = sqlx::query(
                "UPDATE acme_eab_keys SET account = $1 WHERE kid = $2 AND account IS NULL AND expires_at > $3",
            )
            .bind(&a.id)
            .bind(&a.eab_kid)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("spend an ACME binding key"))?;
            if spent.rows_affected() != 1 {
                return Err(StoreError::AlreadyClaimed {
                    scope: "external account binding",
                    id: a.eab_kid.clone(),
                });
            }
            register_key_in(conn, &a.key, &a.id, now).await?;
            let station: String = sqlx::query("SELECT station FROM acme_eab_keys WHERE kid = $1")
                .bind(&a.eab_kid)
                .fetch_one(&mut *conn)
                .await
                .map_err(StoreError::db("read an ACME binding key"))?
                .get(0);
            sqlx::query(
                "INSERT INTO acme_accounts (id, thumbprint, jwk, station, provisioner, eab_kid, contact, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'valid', $8)",
            )
            .bind(&a.id)
            .bind(&a.thumbprint)
            .bind(&a.jwk)
            .bind(&station)
            .bind(&a.provisioner)
            .bind(&a.eab_kid)
            .bind(serde_json::to_string(&a.contact).unwrap_or_else(|_| "[]".into()))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists("an ACME account with this key".into())
                } else {
                    StoreError::db("create an ACME account")(e)
                }
            })?;
            Some((
                AuditKind::AcmeAccountCreated,
                json!({ "account": a.id, "station": station, "provisioner": a.provisioner, "kid": a.eab_kid, "key": a.thumbprint }),
            ))
        }
        AcmeWrite::Deactivate { id } => {
            let done = sqlx::query(
                "UPDATE acme_accounts SET status = 'deactivated' WHERE id = $1 AND status = 'valid'",
            )
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("deactivate an ACME account"))?;
            if done.rows_affected() != 1 {
                return Err(StoreError::NotFound(format!(
                    "ACME account {id} that is valid"
                )));
            }
            Some((AuditKind::AcmeAccountDeactivated, json!({ "account": id })))
        }
        AcmeWrite::SetContacts { id, contact } => {
            let done = sqlx::query(
                "UPDATE acme_accounts SET contact = $1 WHERE id = $2 AND status = 'valid'",
            )
            .bind(serde_json::to_string(contact).unwrap_or_else(|_| "[]".into()))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("change an ACME account's contacts"))?;
            if done.rows_affected() != 1 {
                return Err(StoreError::NotFound(format!(
                    "ACME account {id} that is valid"
                )));
            }
            // Attributed, without the addresses: the append-only log
            // keeps no personal data it would then have to keep for ever.
            Some((
                AuditKind::AcmeAccountUpdated,
                json!({ "account": id, "contacts": contact.len() }),
            ))
        }
        AcmeWrite::ChangeKey {
            id,
            old_thumbprint,
            thumbprint,
            jwk,
            key,
        } => {
            register_key_in(conn, key, id, now).await?;
            let done = sqlx::query(
                "UPDATE acme_accounts SET thumbprint = $1, jwk = $2 WHERE id = $3 AND thumbprint = $4 AND status = 'valid'",
            )
            .bind(thumbprint)
            .bind(jwk)
            .bind(id)
            .bind(old_thumbprint)
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists("an ACME account with the new key".into())
                } else {
                    StoreError::db("change an ACME account's key")(e)
                }
            })?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Stale(format!("ACME account {id}'s key")));
            }
            Some((
                AuditKind::AcmeAccountKeyChanged,
                json!({ "account": id, "old_key": old_thumbprint, "key": thumbprint }),
            ))
        }
        AcmeWrite::LinkCertificate { serial, account } => {
            sqlx::query("INSERT INTO acme_certificates (serial, account) VALUES ($1, $2)")
                .bind(serial.as_str())
                .bind(account)
                .execute(&mut *conn)
                .await
                .map_err(StoreError::db("record an ACME certificate's account"))?;
            None
        }
    })
}

const ACCOUNT_COLUMNS: &str =
    "id, thumbprint, jwk, station, eab_kid, contact, status, created_at, provisioner";

fn account_of(row: &sqlx::any::AnyRow) -> Result<AcmeAccountRecord, StoreError> {
    let status = match row.get::<String, _>(6).as_str() {
        "valid" => AcmeAccountStatus::Valid,
        "deactivated" => AcmeAccountStatus::Deactivated,
        other => {
            return Err(StoreError::Corrupt(format!(
                "ACME account status {other:?}"
            )))
        }
    };
    Ok(AcmeAccountRecord {
        id: row.get(0),
        thumbprint: row.get(1),
        jwk: row.get(2),
        station: row.get(3),
        eab_kid: row.get(4),
        contact: serde_json::from_str(&row.get::<String, _>(5))
            .map_err(|e| StoreError::Corrupt(format!("ACME account contact: {e}")))?,
        status,
        created_at: row.get(7),
        provisioner: row.get(8),
    })
}

impl Registry {
    async fn acme_write(&self, w: AcmeWrite) -> Result<(), StoreError> {
        self.writer().submit(WriteOp::Acme(w)).await?;
        Ok(())
    }

    /// Records an external account binding key for `station`.
    pub async fn issue_acme_eab(
        &self,
        kid: &str,
        station: &str,
        issued_by: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.acme_write(AcmeWrite::IssueEab {
            kid: kid.into(),
            station: station.into(),
            issued_by: issued_by.into(),
            expires_at,
        })
        .await
    }

    /// An external account binding key.
    pub async fn acme_eab(&self, kid: &str) -> Result<Option<EabRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT kid, station, issued_by, issued_at, expires_at, account FROM acme_eab_keys WHERE kid = $1",
        )
        .bind(kid)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read an ACME binding key"))?;
        Ok(row.map(|r| EabRecord {
            kid: r.get(0),
            station: r.get(1),
            issued_by: r.get(2),
            issued_at: r.get(3),
            expires_at: r.get(4),
            account: r.get(5),
        }))
    }

    /// Makes an account, spending its binding.
    pub async fn create_acme_account(&self, a: NewAcmeAccount) -> Result<(), StoreError> {
        self.acme_write(AcmeWrite::CreateAccount(a)).await
    }

    /// An account by ID.
    pub async fn acme_account(&self, id: &str) -> Result<Option<AcmeAccountRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read an ACME account"))?
        .as_ref()
        .map(account_of)
        .transpose()
    }

    /// The account whose key has this thumbprint.
    pub async fn acme_account_by_key(
        &self,
        thumbprint: &str,
    ) -> Result<Option<AcmeAccountRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE thumbprint = $1"
        ))
        .bind(thumbprint)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("find an ACME account by key"))?
        .as_ref()
        .map(account_of)
        .transpose()
    }

    /// Deactivates a valid account.
    pub async fn deactivate_acme_account(&self, id: &str) -> Result<(), StoreError> {
        self.acme_write(AcmeWrite::Deactivate { id: id.into() })
            .await
    }

    /// Replaces a valid account's contact URLs.
    pub async fn set_acme_contacts(&self, id: &str, contact: &[String]) -> Result<(), StoreError> {
        self.acme_write(AcmeWrite::SetContacts {
            id: id.into(),
            contact: contact.to_vec(),
        })
        .await
    }

    /// Rolls an account's key over, if its key is still `old_thumbprint`.
    pub async fn change_acme_account_key(
        &self,
        id: &str,
        old_thumbprint: &str,
        thumbprint: &str,
        jwk: &str,
        key: AccountKey,
    ) -> Result<(), StoreError> {
        self.acme_write(AcmeWrite::ChangeKey {
            id: id.into(),
            old_thumbprint: old_thumbprint.into(),
            thumbprint: thumbprint.into(),
            jwk: jwk.into(),
            key,
        })
        .await
    }

    /// The account that ordered certificate `serial`, if one did.
    pub async fn acme_certificate_account(
        &self,
        serial: &CertificateSerial,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT account FROM acme_certificates WHERE serial = $1")
                .bind(serial.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(StoreError::db("read an ACME certificate's account"))?
                .map(|r| r.get(0)),
        )
    }
}
