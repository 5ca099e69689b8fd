//! Revocation in the registry (docs/revocation.md): who is revoked, why, by
//! whom; holds and their release; the CRLs the CA signed. Every change
//! appends its audit entry in the same transaction and records that
//! entry's sequence number, so a CRL can tell whether it covers every
//! change made before it.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use symbolon::revocation::{RemovedEntry, RevocationReason, RevokedEntry};
use symbolon::token::TokenSerial;

use crate::actor::Actor;
use crate::writer::{append_in, is_unique_violation, unique_or, WriteOp, WriteOut};
use crate::{AuditKind, CertificateSerial, Registry, StoreError};

/// Why the registry records a revocation: who asked, in which capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationOrigin {
    /// An admin or registration officer.
    Operator,
    /// The subscriber, with a statement signed by the certified key.
    Subscriber,
    /// The token holding the key was reported tampered with.
    TokenTampered,
    /// A recovery moved the key to a new device: the old one's certificates.
    DeviceReplaced,
    /// The key was found to share a prime with another (it can be factored).
    SharedPrime,
    /// A renewal replaced the certificate.
    Renewal,
    /// The ACME account that ordered it (docs/acme.md): the account is on
    /// record beside the certificate.
    AcmeAccount,
}

/// A revocation to record.
#[derive(Debug, Clone)]
pub struct Revoke {
    /// The certificate.
    pub serial: CertificateSerial,
    /// Why.
    pub reason: RevocationReason,
    /// Since when it is believed invalid (Unix seconds), if earlier.
    pub invalid_since: Option<i64>,
    /// In which capacity.
    pub origin: RevocationOrigin,
}

/// A certificate's revocation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevocationRecord {
    /// Why.
    pub reason: RevocationReason,
    /// When (Unix seconds).
    pub revoked_at: i64,
    /// The invalidity date, when given.
    pub invalid_since: Option<i64>,
    /// The party that revoked it.
    pub revoked_by: String,
    /// When a hold was released (then the certificate is good).
    pub released_at: Option<i64>,
    /// Who released it.
    pub released_by: Option<String>,
}

impl RevocationRecord {
    /// Whether it is in force: revoked and not released.
    pub fn in_force(&self) -> bool {
        self.released_at.is_none()
    }
}

/// What a status lookup finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLookup {
    /// The certificate's end of validity (Unix seconds).
    pub not_after: i64,
    /// Its revocation, if it has one (in force or released).
    pub revocation: Option<RevocationRecord>,
}

/// Where a certificate stands, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateStatus {
    /// Valid and not revoked.
    Good,
    /// Suspended (certificateHold).
    OnHold,
    /// Revoked for good.
    Revoked,
    /// Past its notAfter, never revoked.
    Expired,
}

impl CertificateStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Good, Self::OnHold, Self::Revoked, Self::Expired];

    /// The API spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::OnHold => "on-hold",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl std::str::FromStr for CertificateStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "status {s:?}; one of good, on-hold, revoked, expired"
                ))
            })
    }
}

/// A certificate in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateListing {
    /// Its serial.
    pub serial: CertificateSerial,
    /// Its subject.
    pub subject: String,
    /// Its profile.
    pub profile: String,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// Valid until.
    pub not_after: i64,
    /// Where it stands.
    pub status: CertificateStatus,
    /// Why it was revoked, when it is.
    pub reason: Option<RevocationReason>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// The token it was written into, or whose key it certifies.
    pub token: Option<String>,
}

/// A CRL as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCrl {
    /// Its number.
    pub number: i64,
    /// This update.
    pub this_update: i64,
    /// Next update.
    pub next_update: i64,
    /// The last revocation change it covers (an audit sequence number).
    pub covers_seq: i64,
    /// How many entries.
    pub entries: i64,
    /// A delta CRL's base CRL number; None for a full CRL.
    pub delta_of: Option<i64>,
    /// The signed DER.
    pub der: Vec<u8>,
}

/// A full CRL a delta CRL may be relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlBase {
    /// Its number.
    pub number: i64,
    /// Its this update.
    pub this_update: i64,
    /// The last revocation change it covers.
    pub covers_seq: i64,
}

/// What changed since a base CRL: the revocations in force that changed
/// after it, the holds released after it, and the change they are current
/// to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationChanges {
    /// Revocations in force changed since the base.
    pub entries: Vec<RevokedEntry>,
    /// Holds released since the base.
    pub removed: Vec<RemovedEntry>,
    /// The highest change seen.
    pub covers_seq: i64,
}

/// The revoked entries a CRL lists and the change they are current to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSet {
    /// Every revocation in force.
    pub entries: Vec<RevokedEntry>,
    /// The highest change seen (released rows included).
    pub covers_seq: i64,
}

/// The writes of this module.
#[derive(Debug)]
pub(crate) enum RevocationWrite {
    Revoke(Revoke),
    /// Every certificate of a token: a tamper report, or a replaced device.
    RevokeToken {
        token: TokenSerial,
        reason: RevocationReason,
        origin: RevocationOrigin,
    },
    Release(CertificateSerial),
    Crl(StoredCrl),
    /// `new` renews `old` (still in force, renewed once).
    Renews {
        new: CertificateSerial,
        old: CertificateSerial,
    },
    /// A renewal's certificate was delivered (the old one is superseded)
    /// or not (it is revoked and the old one may renew again); nothing for
    /// a certificate that renews none.
    Settle {
        new: CertificateSerial,
        delivered: bool,
    },
}

fn by_name(actor: Option<&Actor>, origin: RevocationOrigin) -> String {
    match (actor, origin) {
        (_, RevocationOrigin::Subscriber) => "subscriber".into(),
        (_, RevocationOrigin::AcmeAccount) => "acme-account".into(),
        (Some(a), _) => a.owner(),
        (None, _) => "operator".into(),
    }
}

fn reason_of(text: &str) -> Result<RevocationReason, StoreError> {
    text.parse()
        .map_err(|e: symbolon::revocation::RevocationError| StoreError::Corrupt(e.to_string()))
}

pub(crate) async fn execute(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    w: &RevocationWrite,
) -> Result<WriteOut, StoreError> {
    match w {
        RevocationWrite::Revoke(r) => Ok(WriteOut::Seq(revoke_in(conn, actor, r).await?)),
        RevocationWrite::RevokeToken {
            token,
            reason,
            origin,
        } => revoke_token_in(conn, actor, token, *reason, *origin).await,
        RevocationWrite::Release(serial) => release_in(conn, actor, serial).await,
        RevocationWrite::Renews { new, old } => {
            renews_in(conn, new, old).await?;
            Ok(WriteOut::Done)
        }
        RevocationWrite::Settle { new, delivered } => {
            settle_in(conn, actor, new, *delivered).await?;
            Ok(WriteOut::Done)
        }
        RevocationWrite::Crl(c) => record_crl_in(conn, actor, c).await,
    }
}

/// Revokes every certificate of `token` (generated on it or delivered to
/// it) that `reason` changes; a tamper report is audited as such first.
async fn revoke_token_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    token: &TokenSerial,
    reason: RevocationReason,
    origin: RevocationOrigin,
) -> Result<WriteOut, StoreError> {
    // What this reason changes: certificates not revoked, and for a
    // final reason those on hold too (a hold cannot hold twice).
    let serials: Vec<String> = sqlx::query_scalar(
                "SELECT c.serial FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial \
                 WHERE (c.generated_on_token = $1 OR c.delivered_to = $1) \
                 AND (r.serial IS NULL OR r.released_at IS NOT NULL OR (r.reason = 'certificateHold' AND $2 = 1)) \
                 ORDER BY c.issued_at, c.serial",
            )
            .bind(token.to_string())
            .bind(i64::from(reason.is_final()))
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("list a token's certificates"))?;
    if serials.is_empty() {
        let known: Option<String> =
            sqlx::query_scalar("SELECT serial FROM tokens WHERE serial = $1")
                .bind(token.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(StoreError::db("find a token"))?;
        let issued: Option<String> = sqlx::query_scalar(
            "SELECT serial FROM certificates WHERE generated_on_token = $1 OR delivered_to = $1",
        )
        .bind(token.to_string())
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("find a token"))?;
        if known.is_none() && issued.is_none() {
            return Err(StoreError::NotFound(format!(
                "token {token} (not registered, and no certificate was delivered to it)"
            )));
        }
    }
    if origin == RevocationOrigin::TokenTampered {
        let detail = serde_json::json!({ "token": token, "certificates": serials });
        append_in(conn, actor, AuditKind::TokenTampered, &detail.to_string()).await?;
    }
    for serial in &serials {
        let r = Revoke {
            serial: serial.parse()?,
            reason,
            invalid_since: None,
            origin,
        };
        revoke_in(conn, actor, &r).await?;
    }
    Ok(WriteOut::Count(serials.len()))
}

/// Releases a hold: the certificate is good again.
async fn release_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    serial: &CertificateSerial,
) -> Result<WriteOut, StoreError> {
    let now = crate::registry::now();
    let seq = append_in(
        conn,
        actor,
        AuditKind::CertificateReleased,
        &serde_json::json!({ "serial": serial }).to_string(),
    )
    .await?;
    let done = sqlx::query(
        "UPDATE revocations SET released_at = $1, released_by = $2, changed_seq = $3 \
                 WHERE serial = $4 AND released_at IS NULL AND reason = 'certificateHold'",
    )
    .bind(now)
    .bind(by_name(actor, RevocationOrigin::Operator))
    .bind(seq)
    .bind(serial.as_str())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("release a hold"))?;
    if done.rows_affected() != 1 {
        let known: Option<String> =
            sqlx::query_scalar("SELECT serial FROM certificates WHERE serial = $1")
                .bind(serial.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(StoreError::db("release a hold"))?;
        return Err(match known {
            Some(_) => StoreError::NotOnHold(serial.as_str().to_string()),
            None => StoreError::NotFound(format!("certificate {serial} (not issued by this CA)")),
        });
    }
    Ok(WriteOut::Seq(seq))
}

/// How long a full CRL stays a possible base for delta CRLs: longer than a
/// relying party keeps a full CRL (its next update, a day).
const BASE_KEPT_SECONDS: i64 = 3 * 24 * 3600;

/// Keeps a signed CRL (numbers never reused, one sequence for full and
/// delta CRLs) and drops the older ones of its kind; a full CRL is also
/// kept as a base for delta CRLs.
async fn record_crl_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    c: &StoredCrl,
) -> Result<WriteOut, StoreError> {
    // A number below one already taken (by either kind) would break the
    // sequence relying parties order CRLs by.
    let highest: Option<i64> = sqlx::query_scalar("SELECT MAX(number) FROM crls")
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::db("record a CRL"))?;
    if highest.is_some_and(|h| h >= c.number) {
        return Err(StoreError::AlreadyExists(format!(
            "CRL number {}",
            c.number
        )));
    }
    sqlx::query(
        "INSERT INTO crls (number, this_update, next_update, covers_seq, entries, der, base_number) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.number)
    .bind(c.this_update)
    .bind(c.next_update)
    .bind(c.covers_seq)
    .bind(c.entries)
    .bind(c.der.as_slice())
    .bind(c.delta_of)
    .execute(&mut *conn)
    .await
    .map_err(unique_or("record a CRL", || {
        StoreError::AlreadyExists(format!("CRL number {}", c.number))
    }))?;
    // Only the newest of each kind is served; older ones stay in the log's
    // digest.
    let older = match c.delta_of {
        None => "DELETE FROM crls WHERE number < $1 AND base_number IS NULL",
        Some(_) => "DELETE FROM crls WHERE number < $1 AND base_number IS NOT NULL",
    };
    sqlx::query(older)
        .bind(c.number)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("record a CRL"))?;
    if c.delta_of.is_none() {
        sqlx::query("INSERT INTO crl_bases (number, this_update, covers_seq) VALUES ($1, $2, $3)")
            .bind(c.number)
            .bind(c.this_update)
            .bind(c.covers_seq)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record a CRL"))?;
        sqlx::query("DELETE FROM crl_bases WHERE this_update < $1 AND number < $2")
            .bind(c.this_update - BASE_KEPT_SECONDS)
            .bind(c.number)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record a CRL"))?;
    }
    let digest = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &c.der,
    ));
    let mut detail = serde_json::json!({
        "number": c.number, "this_update": c.this_update, "next_update": c.next_update,
        "entries": c.entries, "covers_seq": c.covers_seq, "sha256": digest,
    });
    // A full CRL's entry reads as before delta CRLs existed.
    if let Some(base) = c.delta_of {
        detail["delta_of"] = base.into();
    }
    Ok(WriteOut::Seq(
        append_in(conn, actor, AuditKind::CrlIssued, &detail.to_string()).await?,
    ))
}

/// Records one revocation: a certificate revoked for good stays so; a hold
/// may be made final; a released hold may be revoked again.
pub(crate) async fn revoke_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    r: &Revoke,
) -> Result<i64, StoreError> {
    let subject: Option<String> =
        sqlx::query_scalar("SELECT subject FROM certificates WHERE serial = $1")
            .bind(r.serial.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db("revoke a certificate"))?;
    let Some(subject) = subject else {
        return Err(StoreError::NotFound(format!(
            "certificate {} (not issued by this CA)",
            r.serial.as_str()
        )));
    };
    refuse_own_in(conn, &r.serial).await?;
    let existing = sqlx::query("SELECT reason, released_at FROM revocations WHERE serial = $1")
        .bind(r.serial.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("revoke a certificate"))?
        .map(|row| (row.get::<String, _>(0), row.get::<Option<i64>, _>(1)));
    if let Some((reason, None)) = &existing {
        let on_record = reason_of(reason)?;
        // A hold may become final; nothing else changes a revocation.
        if on_record.is_final() || !r.reason.is_final() {
            return Err(StoreError::AlreadyRevoked {
                serial: r.serial.as_str().to_string(),
                reason: reason.clone(),
            });
        }
    }
    let now = crate::registry::now();
    let by = by_name(actor, r.origin);
    let detail = serde_json::json!({
        "serial": r.serial, "subject": subject, "reason": r.reason, "origin": r.origin,
        "invalid_since": r.invalid_since, "was_on_hold": existing.as_ref().is_some_and(|(_, rel)| rel.is_none()),
    });
    let seq = append_in(
        conn,
        actor,
        AuditKind::CertificateRevoked,
        &detail.to_string(),
    )
    .await?;
    let write = if existing.is_some() {
        "UPDATE revocations SET reason = $2, revoked_at = $3, invalid_since = $4, revoked_by = $5, \
         released_at = NULL, released_by = NULL, changed_seq = $6 WHERE serial = $1"
    } else {
        "INSERT INTO revocations (serial, reason, revoked_at, invalid_since, revoked_by, changed_seq) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    };
    sqlx::query(write)
        .bind(r.serial.as_str())
        .bind(r.reason.name())
        .bind(now)
        .bind(r.invalid_since)
        .bind(by)
        .bind(seq)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("revoke a certificate"))?;
    Ok(seq)
}

/// Links a renewal's certificate to the one it renews: refused when that
/// one is revoked (a hold included) or was renewed already.
async fn renews_in(
    conn: &mut AnyConnection,
    new: &CertificateSerial,
    old: &CertificateSerial,
) -> Result<(), StoreError> {
    let revoked: Option<String> = sqlx::query_scalar(
        "SELECT reason FROM revocations WHERE serial = $1 AND released_at IS NULL",
    )
    .bind(old.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(StoreError::db("renew a certificate"))?;
    if let Some(reason) = revoked {
        return Err(StoreError::AlreadyRevoked {
            serial: old.as_str().to_string(),
            reason,
        });
    }
    refuse_own_in(conn, old).await?;
    // A renewal whose certificate was revoked before it was settled (an
    // officer revoked an undelivered one) frees the old certificate.
    sqlx::query(
        "UPDATE certificates SET renews = NULL WHERE renews = $1 AND serial IN \
         (SELECT serial FROM revocations WHERE released_at IS NULL)",
    )
    .bind(old.as_str())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("renew a certificate"))?;
    let r = sqlx::query("UPDATE certificates SET renews = $1 WHERE serial = $2")
        .bind(old.as_str())
        .bind(new.as_str())
        .execute(&mut *conn)
        .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyClaimed {
            scope: "the renewal of certificate",
            id: old.as_str().to_string(),
        }),
        Err(e) => Err(StoreError::db("renew a certificate")(e)),
    }
}

/// Settles a renewal once its certificate's delivery is known.
async fn settle_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    new: &CertificateSerial,
    delivered: bool,
) -> Result<(), StoreError> {
    let old: Option<String> =
        sqlx::query_scalar("SELECT renews FROM certificates WHERE serial = $1")
            .bind(new.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db("settle a renewal"))?
            .flatten();
    let Some(old) = old else {
        return Ok(());
    };
    let (serial, reason) = if delivered {
        (old.parse()?, RevocationReason::Superseded)
    } else {
        // Never delivered: unusable, and the old key may renew again.
        sqlx::query("UPDATE certificates SET renews = NULL WHERE serial = $1")
            .bind(new.as_str())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("settle a renewal"))?;
        (new.clone(), RevocationReason::CessationOfOperation)
    };
    let r = Revoke {
        serial,
        reason,
        invalid_since: None,
        origin: RevocationOrigin::Renewal,
    };
    match revoke_in(conn, actor, &r).await {
        // Revoked meanwhile (by an officer, say): it stays as it is.
        Ok(_) | Err(StoreError::AlreadyRevoked { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Operator credentials are revoked as credentials (`symbolon admin
/// revoke-credential`, admins only, never the last admin), and the
/// service's own TLS certificate not at all: refused here, named.
async fn refuse_own_in(
    conn: &mut AnyConnection,
    serial: &CertificateSerial,
) -> Result<(), StoreError> {
    let credential: Option<String> =
        sqlx::query_scalar("SELECT role FROM credentials WHERE serial = $1")
            .bind(serial.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db("revoke a certificate"))?;
    if let Some(role) = credential {
        return Err(StoreError::NotRevocable(format!(
            "certificate {serial} is an operator credential ({role}); an admin revokes it with `symbolon admin revoke-credential`"
        )));
    }
    let purpose: Option<String> =
        sqlx::query_scalar("SELECT purpose FROM certificates WHERE serial = $1")
            .bind(serial.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db("revoke a certificate"))?
            .flatten();
    if purpose.as_deref() == Some("service-tls") {
        return Err(StoreError::NotRevocable(format!(
            "certificate {serial} is the service's own TLS certificate; its key lives in the service's memory and is replaced at every start"
        )));
    }
    Ok(())
}

/// A credential revoked (its audit entry at `seq`) is published as
/// revoked too (privilegeWithdrawn), in the same transaction.
pub(crate) async fn credential_revoked_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    serial: &CertificateSerial,
    seq: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO revocations (serial, reason, revoked_at, revoked_by, changed_seq) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(serial.as_str())
    .bind(RevocationReason::PrivilegeWithdrawn.name())
    .bind(crate::registry::now())
    .bind(by_name(actor, RevocationOrigin::Operator))
    .bind(seq)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("publish a credential's revocation"))?;
    Ok(())
}

/// Revokes, inside a transaction already open, the certificates of keys
/// found to share a prime (they can be factored): keyCompromise.
pub(crate) async fn revoke_factorable_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    keys: &[String],
) -> Result<(), StoreError> {
    for key in keys {
        let serial: Option<String> = sqlx::query_scalar(
            "SELECT c.serial FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial \
             WHERE c.fingerprint = $1 AND (r.serial IS NULL OR r.released_at IS NOT NULL OR r.reason = 'certificateHold')",
        )
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("find a factorable key's certificate"))?;
        if let Some(serial) = serial {
            let r = Revoke {
                serial: serial.parse()?,
                reason: RevocationReason::KeyCompromise,
                invalid_since: None,
                origin: RevocationOrigin::SharedPrime,
            };
            match revoke_in(conn, actor, &r).await {
                // An operator credential or the service's own certificate
                // is not revoked here (the finding's audit entry names the
                // key; an admin revokes a credential as a credential): the
                // refusal of the new key must not fail with it.
                Ok(_) | Err(StoreError::NotRevocable(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

fn record_of(row: &sqlx::any::AnyRow, at: usize) -> Result<Option<RevocationRecord>, StoreError> {
    let Some(reason) = row.get::<Option<String>, _>(at) else {
        return Ok(None);
    };
    Ok(Some(RevocationRecord {
        reason: reason_of(&reason)?,
        revoked_at: row.get(at + 1),
        invalid_since: row.get(at + 2),
        revoked_by: row.get(at + 3),
        released_at: row.get(at + 4),
        released_by: row.get(at + 5),
    }))
}

fn serial_bytes(serial: &str) -> Result<Vec<u8>, StoreError> {
    hex::decode(serial).map_err(|e| StoreError::Corrupt(format!("serial {serial}: {e}")))
}

impl Registry {
    async fn revocation_write(&self, w: RevocationWrite) -> Result<WriteOut, StoreError> {
        self.writer().submit(WriteOp::Revocation(w)).await
    }

    /// Revokes a certificate (in one transaction with its audit entry).
    pub async fn revoke(&self, r: Revoke) -> Result<(), StoreError> {
        self.revocation_write(RevocationWrite::Revoke(r)).await?;
        Ok(())
    }

    /// Revokes every certificate of `token` not revoked already; returns
    /// how many. A tamper report is audited as such.
    pub async fn revoke_token(
        &self,
        token: TokenSerial,
        reason: RevocationReason,
        origin: RevocationOrigin,
    ) -> Result<usize, StoreError> {
        match self
            .revocation_write(RevocationWrite::RevokeToken {
                token,
                reason,
                origin,
            })
            .await?
        {
            WriteOut::Count(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// Whether `station` vouched for `token` or had a certificate issued
    /// into it (a station reports only devices it served).
    pub async fn station_served(
        &self,
        token: &TokenSerial,
        station: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT serial FROM tokens WHERE serial = $1 AND vouched_by = $2 \
             UNION ALL SELECT serial FROM certificates \
             WHERE (delivered_to = $1 OR generated_on_token = $1) AND requester = $2 LIMIT 1",
        )
        .bind(token.to_string())
        .bind(station)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a token's stations"))?;
        Ok(found.is_some())
    }

    /// The certificate that renewed `serial`, if one did.
    pub async fn renewed_by(
        &self,
        serial: &CertificateSerial,
    ) -> Result<Option<CertificateSerial>, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT serial FROM certificates WHERE renews = $1")
                .bind(serial.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(StoreError::db("read a renewal"))?;
        found.map(|s| s.parse()).transpose()
    }

    /// Refuses certificates the revocation and renewal endpoints do not
    /// handle (operator credentials, the service's own TLS certificate).
    pub async fn ordinary_certificate(&self, serial: &CertificateSerial) -> Result<(), StoreError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(StoreError::db("read a certificate"))?;
        refuse_own_in(&mut conn, serial).await
    }

    /// Whether the station reported what happened to a certificate.
    pub async fn delivery_reported(&self, serial: &CertificateSerial) -> Result<bool, StoreError> {
        let id = hex::decode(serial.as_str())
            .map_err(|e| StoreError::Corrupt(format!("serial {serial}: {e}")))?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT claimed_at FROM claims WHERE scope = 'delivery' AND id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a delivery"))?;
        Ok(found.is_some())
    }

    /// Records a renewal's certificate and its link to the one it renews,
    /// in one transaction (see [`Registry::record_issuance`]).
    pub async fn record_renewal(
        &self,
        c: &crate::CertificateRecord,
        spki: &[u8],
        old: &CertificateSerial,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let issuance = WriteOp::Issuance(crate::writes::Issuance {
            record: Box::new(c.clone()),
            spki: spki.to_vec(),
            reservation: None,
            registration: None,
            detail: detail.to_string(),
        });
        let link = WriteOp::Revocation(RevocationWrite::Renews {
            new: c.serial.clone(),
            old: old.clone(),
        });
        self.writer()
            .submit(WriteOp::Both(Box::new(issuance), Box::new(link)))
            .await?;
        Ok(())
    }

    /// Marks a certificate the service issued for itself (`service-tls`).
    pub async fn mark_service_certificate(
        &self,
        serial: &CertificateSerial,
        purpose: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE certificates SET purpose = $1 WHERE serial = $2")
            .bind(purpose)
            .bind(serial.as_str())
            .execute(self.pool())
            .await
            .map_err(StoreError::db("mark a service certificate"))?;
        Ok(())
    }

    /// Releases a certificate on hold.
    pub async fn release(&self, serial: &CertificateSerial) -> Result<(), StoreError> {
        self.revocation_write(RevocationWrite::Release(serial.clone()))
            .await?;
        Ok(())
    }

    /// Records a signed CRL as the newest (its number must be new).
    pub async fn record_crl(&self, crl: StoredCrl) -> Result<(), StoreError> {
        self.revocation_write(RevocationWrite::Crl(crl)).await?;
        Ok(())
    }

    /// The newest full CRL, if one was signed.
    pub async fn latest_crl(&self) -> Result<Option<StoredCrl>, StoreError> {
        self.newest_crl("base_number IS NULL").await
    }

    /// The newest delta CRL, if one was signed.
    pub async fn latest_delta_crl(&self) -> Result<Option<StoredCrl>, StoreError> {
        self.newest_crl("base_number IS NOT NULL").await
    }

    async fn newest_crl(&self, kind: &'static str) -> Result<Option<StoredCrl>, StoreError> {
        let sql = format!(
            "SELECT number, this_update, next_update, covers_seq, entries, der, base_number \
             FROM crls WHERE {kind} ORDER BY number DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db("read the CRL"))?;
        Ok(row.map(|r| StoredCrl {
            number: r.get(0),
            this_update: r.get(1),
            next_update: r.get(2),
            covers_seq: r.get(3),
            entries: r.get(4),
            der: r.get(5),
            delta_of: r.get(6),
        }))
    }

    /// The number the next CRL takes, full or delta (1 for the first).
    pub async fn next_crl_number(&self) -> Result<i64, StoreError> {
        let highest: Option<i64> = sqlx::query_scalar("SELECT MAX(number) FROM crls")
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::db("read the CRL"))?;
        Ok(highest.unwrap_or(0) + 1)
    }

    /// The base for a delta CRL signed now: the newest full CRL signed at
    /// or before `before` (so any full CRL a relying party may still hold
    /// is that one or newer), or, while the CA is younger than that, the
    /// first full CRL it signed.
    pub async fn crl_base(&self, before: i64) -> Result<Option<CrlBase>, StoreError> {
        let read = |sql: &'static str| async move {
            sqlx::query(sql)
                .bind(before)
                .fetch_optional(self.pool())
                .await
                .map_err(StoreError::db("read the CRL bases"))
        };
        let row = match read(
            "SELECT number, this_update, covers_seq FROM crl_bases \
             WHERE this_update <= $1 ORDER BY number DESC LIMIT 1",
        )
        .await?
        {
            Some(row) => Some(row),
            None => {
                read(
                    "SELECT number, this_update, covers_seq FROM crl_bases \
                     WHERE this_update > $1 ORDER BY number LIMIT 1",
                )
                .await?
            }
        };
        Ok(row.map(|r| CrlBase {
            number: r.get(0),
            this_update: r.get(1),
            covers_seq: r.get(2),
        }))
    }

    /// What changed after revocation change `since` (read in one query: one
    /// snapshot): the delta CRL's entries.
    pub async fn revocation_changes(&self, since: i64) -> Result<RevocationChanges, StoreError> {
        let rows = sqlx::query(
            "SELECT serial, reason, revoked_at, invalid_since, released_at, changed_seq \
             FROM revocations WHERE changed_seq > $1 ORDER BY serial",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("read revocations"))?;
        // Nothing changed after `since`: the delta is current to it.
        let mut changes = RevocationChanges {
            entries: Vec::new(),
            removed: Vec::new(),
            covers_seq: since,
        };
        for row in rows {
            let serial: String = row.get(0);
            changes.covers_seq = changes.covers_seq.max(row.get::<i64, _>(5));
            let revoked_at: i64 = row.get(2);
            if row.get::<Option<i64>, _>(4).is_some() {
                changes.removed.push(RemovedEntry {
                    serial: serial_bytes(&serial)?,
                    revoked_at,
                });
                continue;
            }
            changes.entries.push(RevokedEntry {
                serial: serial_bytes(&serial)?,
                revoked_at,
                reason: reason_of(&row.get::<String, _>(1))?,
                invalid_since: row
                    .get::<Option<i64>, _>(3)
                    .filter(|since| *since <= revoked_at),
            });
        }
        Ok(changes)
    }

    /// The last revocation change (0 when there was none).
    pub async fn revocation_head(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(changed_seq) FROM revocations")
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::db("read revocations"))?;
        Ok(seq.unwrap_or(0))
    }

    /// Every revocation in force, for a CRL, with the change it is
    /// current to (read in one query: one snapshot): the changes since the
    /// start of the audit log, whose sequence numbers begin at 1.
    pub async fn revoked_set(&self) -> Result<RevokedSet, StoreError> {
        let all = self.revocation_changes(0).await?;
        Ok(RevokedSet {
            entries: all.entries,
            covers_seq: all.covers_seq,
        })
    }

    /// A certificate's status, or None when this CA never issued it.
    pub async fn status(
        &self,
        serial: &CertificateSerial,
    ) -> Result<Option<StatusLookup>, StoreError> {
        let row = sqlx::query(
            "SELECT c.not_after, r.reason, r.revoked_at, r.invalid_since, r.revoked_by, r.released_at, r.released_by \
             FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial WHERE c.serial = $1",
        )
        .bind(serial.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read a certificate's status"))?;
        row.map(|row| {
            Ok(StatusLookup {
                not_after: row.get(0),
                revocation: record_of(&row, 1)?,
            })
        })
        .transpose()
    }

    /// Certificates, newest first: all, or those in `status`; with
    /// `expiring_within`, only good ones whose notAfter falls within that
    /// many seconds from now.
    pub async fn certificates(
        &self,
        status: Option<CertificateStatus>,
        expiring_within: Option<i64>,
        limit: i64,
    ) -> Result<Vec<CertificateListing>, StoreError> {
        let now = crate::registry::now();
        let filter = match (status, expiring_within) {
            (_, Some(_)) => "active AND c.not_after > $1 AND c.not_after <= $2",
            (None, None) => "$1 = $1 AND $2 = $2",
            (Some(CertificateStatus::Good), None) => "active AND c.not_after > $1 AND $2 = $2",
            (Some(CertificateStatus::OnHold), None) => {
                "r.released_at IS NULL AND r.reason = 'certificateHold' AND $1 = $1 AND $2 = $2"
            }
            (Some(CertificateStatus::Revoked), None) => {
                "r.released_at IS NULL AND r.reason <> 'certificateHold' AND $1 = $1 AND $2 = $2"
            }
            (Some(CertificateStatus::Expired), None) => "active AND c.not_after <= $1 AND $2 = $2",
        };
        let filter = filter.replace("active", "(r.serial IS NULL OR r.released_at IS NOT NULL)");
        let sql = format!(
            "SELECT c.serial, c.subject, c.profile, c.issued_at, c.not_after, \
             COALESCE(c.delivered_to, c.generated_on_token), \
             r.reason, r.revoked_at, r.invalid_since, r.revoked_by, r.released_at, r.released_by \
             FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial \
             WHERE {filter} ORDER BY c.issued_at DESC, c.serial LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(now + expiring_within.unwrap_or(0))
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db("list certificates"))?;
        rows.iter()
            .map(|row| {
                let revocation = record_of(row, 6)?.filter(RevocationRecord::in_force);
                let not_after: i64 = row.get(4);
                let status = match &revocation {
                    Some(r) if r.reason.is_final() => CertificateStatus::Revoked,
                    Some(_) => CertificateStatus::OnHold,
                    None if not_after <= now => CertificateStatus::Expired,
                    None => CertificateStatus::Good,
                };
                Ok(CertificateListing {
                    serial: row.get::<String, _>(0).parse()?,
                    subject: row.get(1),
                    profile: row.get(2),
                    issued_at: row.get(3),
                    not_after,
                    status,
                    reason: revocation.as_ref().map(|r| r.reason),
                    revoked_at: revocation.as_ref().map(|r| r.revoked_at),
                    token: row.get(5),
                })
            })
            .collect()
    }
}
