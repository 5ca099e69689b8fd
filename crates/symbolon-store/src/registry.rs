//! The registry over sqlx.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use symbolon::keys::Fingerprint;
use symbolon::token::TokenSerial;

use crate::audit::{entry_hash, verify_chain};
use crate::{
    AuditEntry, AuditKind, AuditVerification, BrokenLink, CertificateRecord, CertificateSerial,
    KeyRecord, KeyState, ReservationId, StoreError, TokenRecord,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How many times an audit append retries when another writer moved the head.
const APPEND_RETRIES: usize = 200;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The registry: a pool of connections to one database.
///
/// Writes in this process go one at a time (SQLite has one writer anyway;
/// queueing here spares them SQLite's sleeping busy handler), each in an
/// immediate transaction that also appends its audit entry, so a change and
/// its record commit together, with one sync. Writers in other processes
/// wait on SQLite's lock.
#[derive(Clone)]
pub struct Registry {
    pool: SqlitePool,
    writes: std::sync::Arc<tokio::sync::Mutex<()>>,
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Sqlite>;

impl Registry {
    /// Opens (creating if needed) the SQLite database at `path` and brings
    /// its schema up to date; refuses a schema newer than this build knows.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(StoreError::db("open"))?;
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            writes: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Opens the database a `--database` URL names (`sqlite://PATH`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        match url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Some(path) => Self::open_sqlite(Path::new(path)).await,
            None if url.starts_with("postgres://") || url.starts_with("postgresql://") => Err(
                StoreError::NotFound("PostgreSQL support in this build (use sqlite://PATH)".into()),
            ),
            None => Err(StoreError::NotFound(format!(
                "a database driver for {url:?} (use sqlite://PATH)"
            ))),
        }
    }

    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await
            .ok()
            .flatten();
        if let Some(v) = applied {
            if v > known {
                return Err(StoreError::SchemaTooNew(format!(
                    "migration {v} is applied, this build knows up to {known}"
                )));
            }
        }
        MIGRATOR.run(pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::SchemaTooNew(format!(
                "migration {v} is applied but unknown to this build"
            )),
            other => StoreError::Database {
                context: "migrate",
                source: sqlx::Error::Migrate(Box::new(other)),
            },
        })
    }

    /// The pool, for tests that must reach under the API (tamper tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Starts a write: this process's turn, then SQLite's write lock.
    async fn write(&self) -> Result<(tokio::sync::MutexGuard<'_, ()>, Tx<'_>), sqlx::Error> {
        let guard = self.writes.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, tx))
    }

    /// Reserves a public key for a station, and records it. Refused if the
    /// key was ever registered before.
    pub async fn reserve_key(
        &self,
        fingerprint: Fingerprint,
        spki: &[u8],
    ) -> Result<ReservationId, StoreError> {
        let id = ReservationId::random()?;
        let t = now();
        let (_turn, mut tx) = self.write().await.map_err(StoreError::db("reserve key"))?;
        let r = sqlx::query(
            "INSERT INTO public_keys (fingerprint, spki, state, reservation, registered_at, updated_at) \
             VALUES ($1, $2, 'reserved', $3, $4, $4)",
        )
        .bind(fingerprint.to_string())
        .bind(spki)
        .bind(id.as_str())
        .bind(t)
        .execute(&mut *tx)
        .await;
        match r {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::DuplicateKey(fingerprint)),
            Err(e) => return Err(StoreError::db("reserve key")(e)),
        }
        let detail = serde_json::json!({ "key": fingerprint, "reservation": id });
        append_in(&mut tx, AuditKind::KeyReserved, &detail.to_string())
            .await
            .map_err(StoreError::db("reserve key"))?;
        tx.commit().await.map_err(StoreError::db("reserve key"))?;
        Ok(id)
    }

    /// Marks a key certified: through its open reservation, or, with none, by
    /// registering it now. Exactly one caller can succeed per key, across
    /// every process on the database.
    pub async fn certify_key(
        &self,
        fingerprint: Fingerprint,
        spki: &[u8],
        reservation: Option<&ReservationId>,
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.write().await.map_err(StoreError::db("certify key"))?;
        certify_in(&mut tx, fingerprint, spki, reservation).await?;
        tx.commit().await.map_err(StoreError::db("certify key"))
    }

    /// Whether a key could be certified now (no registration, or this open
    /// reservation). Only a hint to spare the CA a signature: the
    /// authoritative check is inside [`Registry::record_issuance`].
    pub async fn key_available(
        &self,
        fingerprint: &Fingerprint,
        reservation: Option<&ReservationId>,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT state, reservation FROM public_keys WHERE fingerprint = $1")
            .bind(fingerprint.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("read key"))?;
        Ok(match (row, reservation) {
            (None, None) => true,
            (Some(r), Some(id)) => {
                r.get::<String, _>(0) == "reserved"
                    && r.get::<Option<String>, _>(1).as_deref() == Some(id.as_str())
            }
            _ => false,
        })
    }

    /// Gives up an open reservation, with the reason, and records it; the
    /// key is never usable again.
    pub async fn abandon_reservation(
        &self,
        id: &ReservationId,
        reason: &str,
    ) -> Result<Fingerprint, StoreError> {
        let (_turn, mut tx) = self
            .write()
            .await
            .map_err(StoreError::db("abandon reservation"))?;
        let row = sqlx::query(
            "UPDATE public_keys SET state = 'abandoned', reservation = NULL, updated_at = $1 \
             WHERE reservation = $2 AND state = 'reserved' RETURNING fingerprint",
        )
        .bind(now())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("abandon reservation"))?
        .ok_or_else(|| StoreError::ReservationClosed(id.to_string()))?;
        let fp = parse_fingerprint(row.get::<String, _>(0).as_str())?;
        let detail = serde_json::json!({ "key": fp, "reservation": id, "reason": reason });
        append_in(
            &mut tx,
            AuditKind::ReservationAbandoned,
            &detail.to_string(),
        )
        .await
        .map_err(StoreError::db("abandon reservation"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("abandon reservation"))?;
        Ok(fp)
    }

    /// A registered key.
    pub async fn key(&self, fingerprint: &Fingerprint) -> Result<KeyRecord, StoreError> {
        let row = sqlx::query(
            "SELECT spki, state, registered_at FROM public_keys WHERE fingerprint = $1",
        )
        .bind(fingerprint.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read key"))?
        .ok_or_else(|| StoreError::NotFound(format!("key {fingerprint}")))?;
        Ok(KeyRecord {
            fingerprint: *fingerprint,
            spki: row.get(0),
            state: KeyState::from_str(&row.get::<String, _>(1))?,
            registered_at: row.get(2),
        })
    }

    /// Certifies the key (exactly once, ever, across every process), records
    /// the certificate and appends the audit entry, in one transaction: all
    /// of it commits, or none of it does (then the certificate is discarded
    /// and never leaves the CA).
    pub async fn record_issuance(
        &self,
        c: &CertificateRecord,
        spki: &[u8],
        reservation: Option<&ReservationId>,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let (_turn, mut tx) = self
            .write()
            .await
            .map_err(StoreError::db("record certificate"))?;
        certify_in(&mut tx, c.fingerprint, spki, reservation).await?;
        sqlx::query(
            "INSERT INTO certificates (serial, fingerprint, subject, profile, not_before, not_after, der, \
             generated_on_token, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.serial.as_str())
        .bind(c.fingerprint.to_string())
        .bind(&c.subject)
        .bind(&c.profile)
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(&c.der)
        .bind(c.generated_on_token.map(|s| s.to_string()))
        .bind(c.issued_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("record certificate"))?;
        let seq = append_in(&mut tx, AuditKind::CertificateIssued, &detail.to_string())
            .await
            .map_err(StoreError::db("record certificate"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("record certificate"))?;
        Ok(seq)
    }

    /// A certificate by serial.
    pub async fn certificate(
        &self,
        serial: &CertificateSerial,
    ) -> Result<CertificateRecord, StoreError> {
        let row = sqlx::query(
            "SELECT fingerprint, subject, profile, not_before, not_after, der, generated_on_token, issued_at \
             FROM certificates WHERE serial = $1",
        )
        .bind(serial.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read certificate"))?
        .ok_or_else(|| StoreError::NotFound(format!("certificate {serial}")))?;
        let token: Option<String> = row.get(6);
        Ok(CertificateRecord {
            serial: serial.clone(),
            fingerprint: parse_fingerprint(&row.get::<String, _>(0))?,
            subject: row.get(1),
            profile: row.get(2),
            not_before: row.get(3),
            not_after: row.get(4),
            der: row.get(5),
            generated_on_token: token
                .map(|t| TokenSerial::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())))
                .transpose()?,
            issued_at: row.get(7),
        })
    }

    /// How many certificates exist for a key (0 or 1 by construction).
    pub async fn certificates_for_key(&self, fingerprint: &Fingerprint) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE fingerprint = $1")
            .bind(fingerprint.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("count certificates"))
    }

    /// Registers a token's device identity key, and records it.
    pub async fn register_token(
        &self,
        serial: TokenSerial,
        device_key: &[u8],
    ) -> Result<(), StoreError> {
        let fp = Fingerprint::of_spki(device_key);
        let (_turn, mut tx) = self
            .write()
            .await
            .map_err(StoreError::db("register token"))?;
        let r = sqlx::query(
            "INSERT INTO tokens (serial, device_key, device_fingerprint, registered_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(serial.to_string())
        .bind(device_key)
        .bind(fp.to_string())
        .bind(now())
        .execute(&mut *tx)
        .await;
        match r {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::DuplicateKey(fp)),
            Err(e) => return Err(StoreError::db("register token")(e)),
        }
        let detail = serde_json::json!({ "token": serial, "device_key": fp });
        append_in(&mut tx, AuditKind::TokenRegistered, &detail.to_string())
            .await
            .map_err(StoreError::db("register token"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("register token"))?;
        Ok(())
    }

    /// A registered token.
    pub async fn token(&self, serial: &TokenSerial) -> Result<TokenRecord, StoreError> {
        let row = sqlx::query("SELECT device_key, registered_at FROM tokens WHERE serial = $1")
            .bind(serial.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("read token"))?
            .ok_or_else(|| StoreError::NotFound(format!("token {serial}")))?;
        Ok(TokenRecord {
            serial: *serial,
            device_key: row.get(0),
            registered_at: row.get(1),
        })
    }

    /// Appends an audit entry; returns its sequence number. Concurrent
    /// appenders, in this process or others, each land exactly once, in one
    /// chain.
    pub async fn append_audit(
        &self,
        kind: AuditKind,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let detail = detail.to_string();
        let mut last_err = None;
        for attempt in 0..APPEND_RETRIES {
            let result = async {
                let (_turn, mut tx) = self.write().await?;
                let seq = append_in(&mut tx, kind, &detail).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(seq)
            }
            .await;
            match result {
                Ok(seq) => return Ok(seq),
                Err(e) if is_busy(&e) => last_err = Some(e),
                Err(e) => return Err(StoreError::db("append audit")(e)),
            }
            tokio::time::sleep(Duration::from_millis(1 + (attempt as u64 % 10))).await;
        }
        Err(StoreError::Database {
            context: "append audit (the database stayed locked)",
            source: last_err.unwrap_or(sqlx::Error::PoolTimedOut),
        })
    }

    /// Audit entries from `after` (exclusive), at most `limit`.
    pub async fn audit_entries(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("read audit log"))?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                seq: r.get(0),
                at: r.get(1),
                kind: r.get(2),
                detail: r.get(3),
                prev_hash: r.get(4),
                hash: r.get(5),
            })
            .collect())
    }

    /// Recomputes the whole chain; names the first broken link.
    pub async fn verify_audit(&self) -> Result<Result<AuditVerification, BrokenLink>, StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("read audit head"))?;
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let page = self.audit_entries(after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            entries.extend(page);
        }
        Ok(verify_chain(
            &entries,
            head.get(0),
            &head.get::<Vec<u8>, _>(1),
        ))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Certifies a key inside `tx`: through its open reservation, or by
/// registering it; the primary key makes a second certification impossible.
async fn certify_in(
    tx: &mut Tx<'_>,
    fingerprint: Fingerprint,
    spki: &[u8],
    reservation: Option<&ReservationId>,
) -> Result<(), StoreError> {
    let t = now();
    match reservation {
        Some(id) => {
            let done = sqlx::query(
                "UPDATE public_keys SET state = 'certified', reservation = NULL, updated_at = $1 \
                 WHERE fingerprint = $2 AND state = 'reserved' AND reservation = $3",
            )
            .bind(t)
            .bind(fingerprint.to_string())
            .bind(id.as_str())
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("certify key"))?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::DuplicateKey(fingerprint))
            }
        }
        None => {
            let r = sqlx::query(
                "INSERT INTO public_keys (fingerprint, spki, state, reservation, registered_at, updated_at) \
                 VALUES ($1, $2, 'certified', NULL, $3, $3)",
            )
            .bind(fingerprint.to_string())
            .bind(spki)
            .bind(t)
            .execute(&mut **tx)
            .await;
            match r {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateKey(fingerprint)),
                Err(e) => Err(StoreError::db("certify key")(e)),
            }
        }
    }
}

/// Appends an entry inside `tx`: reads the head, links to it, and moves it
/// with a compare-and-set, so even writers that bypass SQLite's lock (as on
/// other databases) cannot fork the chain.
async fn append_in(tx: &mut Tx<'_>, kind: AuditKind, detail: &str) -> Result<i64, sqlx::Error> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let (seq, prev): (i64, Vec<u8>) = (head.get(0), head.get(1));
    let at = now();
    let next = seq + 1;
    let hash = entry_hash(next, at, kind.as_str(), detail, &prev);
    let moved = sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
        .bind(next)
        .bind(hash.as_slice())
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    if moved.rows_affected() != 1 {
        return Err(sqlx::Error::Protocol(HEAD_MOVED.into()));
    }
    sqlx::query("INSERT INTO audit_log (seq, at, kind, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(next)
        .bind(at)
        .bind(kind.as_str())
        .bind(detail)
        .bind(prev.as_slice())
        .bind(hash.as_slice())
        .execute(&mut **tx)
        .await?;
    Ok(next)
}

const HEAD_MOVED: &str = "the audit head moved during the append";

fn parse_fingerprint(s: &str) -> Result<Fingerprint, StoreError> {
    s.parse()
        .map_err(|e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code();
            // SQLite: SQLITE_BUSY (5), SQLITE_LOCKED (6) and their extended codes.
            matches!(code.as_deref(), Some("5" | "6" | "517" | "261" | "262"))
                || d.is_unique_violation()
        }
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Protocol(m) => m == HEAD_MOVED,
        _ => false,
    }
}
