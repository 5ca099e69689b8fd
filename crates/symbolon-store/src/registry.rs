//! The registry over sqlx.

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Row;
use symbolon::keys::Fingerprint;
use symbolon::token::TokenSerial;

use crate::audit::ChainWalk;
use crate::writer::{WriteOp, WriteOut, Writer};
use crate::{
    ArbitratorRecord, AuditEntry, AuditKind, AuditVerification, BrokenLink, CertificateRecord,
    CertificateSerial, ClaimScope, KeyRecord, KeyState, ModulusRecord, RecoveryRecord,
    ReservationId, SharedKey, StoreError, TokenRecord,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database the registry runs on. The queries are the same; a few
/// statements (transaction start, the audit head lock) are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file: the embedded default.
    Sqlite,
    /// PostgreSQL (or a compatible database), for many service processes.
    Postgres,
}

impl Backend {
    fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The registry: a pool of connections to one database.
///
/// Every write commits together with its audit entry, through this
/// process's group-commit writer (see `writer`); reads go straight to the
/// pool.
#[derive(Clone)]
pub struct Registry {
    pool: AnyPool,
    backend: Backend,
    pub(crate) writer: Writer,
}

impl Registry {
    /// Opens (creating if needed) the SQLite database at `path` and brings
    /// its schema up to date; refuses a schema newer than this build knows.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        Self::open(&format!("sqlite://{}", path.display())).await
    }

    /// Opens the database a `--database` URL names: `sqlite://PATH`
    /// (created if missing) or `postgres://…`; migrates it, refusing a schema
    /// newer than this build knows.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::NotFound(format!(
                "a database driver for {url:?} (use sqlite://PATH or postgres://…)"
            )));
        };
        let mut options = AnyPoolOptions::new().max_connections(8);
        if backend == Backend::Sqlite {
            // Durable commits, a write-ahead log so readers never block the
            // writer, foreign keys enforced, and patience with other processes.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 10000",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .map_err(StoreError::db("open"))?;
        Self::migrate(&pool, backend).await?;
        Ok(Self {
            pool: pool.clone(),
            backend,
            writer: Writer::start(pool, backend),
        })
    }

    /// How many batches this process's registry writer ran a second time,
    /// with a savepoint around each write, because the first attempt was
    /// refused: a figure for monitoring. It rises with refused writes (a
    /// key issued before, a claim taken); a rise without them means the
    /// database refuses the rows a batch writes together.
    pub fn writer_reruns(&self) -> u64 {
        self.writer.reruns()
    }

    async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
        let migrator = backend.migrator();
        let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
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
        migrator.run(pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::SchemaTooNew(format!(
                "migration {v} is applied but unknown to this build"
            )),
            other => StoreError::Database {
                context: "migrate",
                source: sqlx::Error::Migrate(Box::new(other)),
            },
        })
    }

    pub(crate) fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for tests that must reach under the API (tamper tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Records a modulus the CA has seen (`origin`: certify, reserve,
    /// refused, registered) and completes its shared-prime check: `known`
    /// is what the caller's index found among the moduli up to `since`; the
    /// rows above `since` are checked here, inside the serialised write.
    /// Returns every key it shares a factor with (empty: none).
    pub async fn see_modulus(
        &self,
        fingerprint: Fingerprint,
        modulus: &[u8],
        origin: &str,
        since: i64,
        known: Vec<SharedKey>,
    ) -> Result<Vec<SharedKey>, StoreError> {
        match self
            .writer
            .submit(WriteOp::SeeModulus(crate::writes::SeeModulus {
                fingerprint,
                modulus: modulus.to_vec(),
                origin: origin.to_string(),
                since,
                known,
            }))
            .await?
        {
            WriteOut::Modulus(seen) => Ok(seen),
            _ => Err(StoreError::Corrupt(
                "the writer answered out of kind".into(),
            )),
        }
    }

    /// The moduli recorded after `since`, in order (`since` 0: all).
    pub async fn moduli_since(&self, since: i64) -> Result<Vec<ModulusRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, fingerprint, modulus, origin, shared_with FROM moduli WHERE id > $1 ORDER BY id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("read moduli"))?;
        rows.into_iter()
            .map(|r| {
                let parse = |s: String| {
                    s.parse::<Fingerprint>()
                        .map_err(|e| StoreError::Corrupt(format!("moduli: {e}")))
                };
                Ok(ModulusRecord {
                    id: r.get(0),
                    key: parse(r.get(1))?,
                    modulus: r.get(2),
                    origin: r.get(3),
                    shared_with: r.get::<Option<String>, _>(4).map(parse).transpose()?,
                })
            })
            .collect()
    }

    /// Records the moduli of public keys registered before moduli were
    /// recorded (origin `registered`); returns how many. A stored key that
    /// no longer parses has no modulus to record and is skipped.
    pub async fn record_unrecorded_moduli(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for (fingerprint, spki) in self.keys_without_modulus().await? {
            if let Ok(key) = symbolon::keys::RsaPublicKey::from_der(&spki) {
                self.see_modulus(
                    fingerprint,
                    key.modulus(),
                    "registered",
                    i64::MAX,
                    Vec::new(),
                )
                .await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Public keys registered before moduli were recorded (or by a process
    /// that does not record them): their SPKI.
    async fn keys_without_modulus(&self) -> Result<Vec<(Fingerprint, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.fingerprint, k.spki FROM public_keys k \
             LEFT JOIN moduli m ON m.fingerprint = k.fingerprint WHERE m.id IS NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("read unrecorded keys"))?;
        rows.into_iter()
            .map(|r| {
                let fp: String = r.get(0);
                Ok((
                    fp.parse().map_err(|e: symbolon::keys::KeyError| {
                        StoreError::Corrupt(e.to_string())
                    })?,
                    r.get(1),
                ))
            })
            .collect()
    }

    /// Reserves a public key for a station, and records it. Refused if the
    /// key was ever registered before.
    pub async fn reserve_key(
        &self,
        fingerprint: Fingerprint,
        spki: &[u8],
    ) -> Result<ReservationId, StoreError> {
        let id = ReservationId::random()?;
        self.writer
            .submit(WriteOp::Reserve(crate::writes::Reserve {
                fingerprint,
                spki: spki.to_vec(),
                id: id.clone(),
            }))
            .await?;
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
        self.writer
            .submit(WriteOp::Certify(crate::writes::Certify {
                fingerprint,
                spki: spki.to_vec(),
                reservation: reservation.cloned(),
            }))
            .await?;
        Ok(())
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
        match self
            .writer
            .submit(WriteOp::Abandon(crate::writes::Abandon {
                id: id.clone(),
                reason: reason.to_string(),
            }))
            .await?
        {
            WriteOut::Key(fp) => Ok(fp),
            _ => Err(StoreError::Corrupt(
                "the writer answered out of kind".into(),
            )),
        }
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
    /// A `registration`, when given, has one use spent in the same
    /// transaction (and the issuance fails if it is no longer live).
    pub async fn record_issuance(
        &self,
        c: &CertificateRecord,
        spki: &[u8],
        reservation: Option<&ReservationId>,
        registration: Option<&symbolon::vetting::RegistrationId>,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        seq_of(
            self.writer
                .submit(WriteOp::Issuance(crate::writes::Issuance {
                    record: Box::new(c.clone()),
                    spki: spki.to_vec(),
                    reservation: reservation.cloned(),
                    registration: registration.copied(),
                    detail: detail.to_string(),
                }))
                .await?,
        )
    }

    /// A certificate by serial.
    pub async fn certificate(
        &self,
        serial: &CertificateSerial,
    ) -> Result<CertificateRecord, StoreError> {
        let row = sqlx::query(
            "SELECT c.fingerprint, c.subject, c.profile, c.not_before, c.not_after, c.der, c.generated_on_token, \
             c.issued_at, a.attestation FROM certificates c \
             LEFT JOIN certificate_attestations a ON a.serial = c.serial WHERE c.serial = $1",
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
            attestation: row.get(8),
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
        transport_key: Option<&[u8]>,
        vouch: crate::Vouch,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(WriteOp::RegisterToken(crate::writes::RegisterToken {
                serial,
                device_key: device_key.to_vec(),
                transport_key: transport_key.map(<[u8]>::to_vec),
                vouch,
            }))
            .await?;
        Ok(())
    }

    /// The newest certificate issued for a key (DER), if any.
    pub async fn latest_certificate_for_key(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar(
            "SELECT der FROM certificates WHERE fingerprint = $1 ORDER BY issued_at DESC LIMIT 1",
        )
        .bind(fingerprint.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read certificate"))
    }

    /// Registers an arbitrator's public parts; a name is registered once.
    pub async fn register_arbitrator(&self, record: &ArbitratorRecord) -> Result<(), StoreError> {
        self.writer
            .submit(WriteOp::RegisterArbitrator(
                crate::writes::RegisterArbitrator {
                    id: record.id.clone(),
                    share_recipient: record.share_recipient.clone(),
                    approval_key: record.approval_key.clone(),
                },
            ))
            .await?;
        Ok(())
    }

    /// An arbitrator's public parts.
    pub async fn arbitrator(&self, id: &str) -> Result<ArbitratorRecord, StoreError> {
        let row =
            sqlx::query("SELECT share_recipient, approval_key FROM arbitrators WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("read arbitrator"))?
                .ok_or_else(|| StoreError::NotFound(format!("arbitrator {id}")))?;
        Ok(ArbitratorRecord {
            id: id.to_string(),
            share_recipient: row.get(0),
            approval_key: row.get(1),
        })
    }

    /// Records an escrow deposit and its envelopes, with `detail` audited.
    pub async fn record_escrow(
        &self,
        id: &[u8],
        fingerprint: Fingerprint,
        record: &[u8],
        envelopes: Vec<(String, Vec<u8>)>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(WriteOp::Escrow(crate::writes::Escrow {
                id: id.to_vec(),
                fingerprint,
                record: record.to_vec(),
                envelopes,
                detail: detail.to_string(),
            }))
            .await?;
        Ok(())
    }

    /// An escrow's canonical record.
    pub async fn escrow(&self, id: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query_scalar("SELECT record FROM escrows WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("read escrow"))?
            .ok_or_else(|| StoreError::NotFound(format!("escrow {}", hex::encode(id))))
    }

    /// The latest escrow of a key: its id and record.
    pub async fn escrow_for_key(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let row = sqlx::query("SELECT id, record FROM escrows WHERE fingerprint = $1 ORDER BY created_at DESC LIMIT 1")
            .bind(fingerprint.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("read escrow"))?
            .ok_or_else(|| StoreError::NotFound(format!("an escrow of key {fingerprint}")))?;
        Ok((row.get(0), row.get(1)))
    }

    /// One arbitrator's envelope of an escrow.
    pub async fn escrow_share(&self, id: &[u8], arbitrator: &str) -> Result<Vec<u8>, StoreError> {
        sqlx::query_scalar(
            "SELECT envelope FROM escrow_shares WHERE escrow_id = $1 AND arbitrator = $2",
        )
        .bind(id)
        .bind(arbitrator)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read escrow share"))?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "a share of escrow {} for {arbitrator}",
                hex::encode(id)
            ))
        })
    }

    /// Records a recovery request.
    pub async fn create_recovery(
        &self,
        id: &str,
        escrow_id: &[u8],
        record: &[u8],
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(WriteOp::RecoveryRequest(crate::writes::RecoveryRequest {
                id: id.to_string(),
                escrow_id: escrow_id.to_vec(),
                record: record.to_vec(),
                detail: detail.to_string(),
            }))
            .await?;
        Ok(())
    }

    /// A recovery request, its approvals in order, and whether it completed.
    pub async fn recovery(&self, id: &str) -> Result<RecoveryRecord, StoreError> {
        let row = sqlx::query("SELECT record, escrow_id FROM recovery_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("read recovery request"))?
            .ok_or_else(|| StoreError::NotFound(format!("recovery request {id}")))?;
        let approvals: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT record FROM recovery_approvals WHERE request_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("read approvals"))?;
        let completed = self
            .is_claimed(ClaimScope::RecoveryCompletion, id.as_bytes())
            .await?;
        Ok(RecoveryRecord {
            request: row.get(0),
            escrow_id: row.get(1),
            approvals,
            completed,
        })
    }

    /// Appends a decision at `position` (0-based): refused if that position
    /// is taken (another decision landed first) or the arbitrator decided.
    pub async fn append_approval(
        &self,
        request_id: &str,
        position: usize,
        arbitrator: &str,
        record: &[u8],
        approve: bool,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.writer
            .submit(WriteOp::Approval(crate::writes::Approval {
                request_id: request_id.to_string(),
                position: position as i64,
                arbitrator: arbitrator.to_string(),
                record: record.to_vec(),
                approve,
                detail: detail.to_string(),
            }))
            .await?;
        Ok(())
    }

    /// A registered token.
    pub async fn token(&self, serial: &TokenSerial) -> Result<TokenRecord, StoreError> {
        let row = sqlx::query(
            "SELECT t.device_key, t.registered_at, t.transport_key, t.vouched_by, t.vouched_role, \
             t.manufacturer_root, m.subject, t.replaced_by, t.replaced_at \
             FROM tokens t LEFT JOIN manufacturer_roots m ON m.fingerprint = t.manufacturer_root \
             WHERE t.serial = $1",
        )
        .bind(serial.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("read token"))?
        .ok_or_else(|| StoreError::NotFound(format!("token {serial}")))?;
        Ok(TokenRecord {
            serial: *serial,
            device_key: row.get(0),
            registered_at: row.get(1),
            transport_key: row.get(2),
            vouched_by: row.get(3),
            vouched_role: row.get(4),
            manufacturer_root: row
                .get::<Option<String>, _>(5)
                .map(|f| f.parse())
                .transpose()
                .map_err(|e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()))?,
            manufacturer_subject: row.get(6),
            replaced_by: row
                .get::<Option<String>, _>(7)
                .map(|s| s.parse())
                .transpose()
                .map_err(|e: symbolon::token::TokenError| StoreError::Corrupt(e.to_string()))?,
            replaced_at: row.get(8),
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
        seq_of(
            self.writer
                .submit(WriteOp::Audit(crate::writes::Audit {
                    kind,
                    detail: detail.to_string(),
                }))
                .await?,
        )
    }

    /// Records a certificate whose answer is its delivery (EST has no
    /// confirmation message): the issuance (a renewal's with its link to
    /// the certificate it renews), the delivery claim and the renewal's
    /// settlement, in one transaction.
    pub async fn record_delivered_issuance(
        &self,
        c: &CertificateRecord,
        spki: &[u8],
        registration: Option<&symbolon::vetting::RegistrationId>,
        links: DeliveryLinks<'_>,
        detail: &serde_json::Value,
        delivery: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let DeliveryLinks {
            renews,
            acme_account,
        } = links;
        let mut op = WriteOp::Issuance(crate::writes::Issuance {
            record: Box::new(c.clone()),
            spki: spki.to_vec(),
            reservation: None,
            registration: registration.copied(),
            detail: detail.to_string(),
        });
        if let Some(old) = renews {
            let link = WriteOp::Revocation(crate::revocation::RevocationWrite::Renews {
                new: c.serial.clone(),
                old: old.clone(),
            });
            op = WriteOp::Both(Box::new(op), Box::new(link));
        }
        if let Some(account) = acme_account {
            let link = WriteOp::Acme(crate::acme::AcmeWrite::LinkCertificate {
                serial: c.serial.clone(),
                account: account.to_string(),
            });
            op = WriteOp::Both(Box::new(op), Box::new(link));
        }
        let claim = WriteOp::Claim(crate::writes::Claim {
            scope: ClaimScope::Delivery,
            id: hex::decode(c.serial.as_str()).unwrap_or_default(),
            kind: AuditKind::IssuanceCompleted,
            detail: delivery.to_string(),
        });
        let settle = WriteOp::Revocation(crate::revocation::RevocationWrite::Settle {
            new: c.serial.clone(),
            delivered: true,
        });
        let delivered = WriteOp::Both(Box::new(claim), Box::new(settle));
        self.writer
            .submit(WriteOp::Both(Box::new(op), Box::new(delivered)))
            .await?;
        Ok(())
    }

    /// Claims the delivery report of certificate `serial` (once) and, when
    /// it was written into a token, records which, in one transaction.
    pub async fn claim_delivery(
        &self,
        serial: &CertificateSerial,
        token: Option<TokenSerial>,
        delivered: bool,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let claim = WriteOp::Claim(crate::writes::Claim {
            scope: ClaimScope::Delivery,
            id: hex::decode(serial.as_str()).unwrap_or_default(),
            kind: AuditKind::IssuanceCompleted,
            detail: detail.to_string(),
        });
        let op = match token {
            Some(t) => WriteOp::Both(
                Box::new(claim),
                Box::new(crate::vetting::VettingWrite::delivered(serial.clone(), t)),
            ),
            None => claim,
        };
        // A renewal settles with its delivery, in the same transaction.
        let settle = WriteOp::Revocation(crate::revocation::RevocationWrite::Settle {
            new: serial.clone(),
            delivered,
        });
        seq_of(
            self.writer
                .submit(WriteOp::Both(Box::new(op), Box::new(settle)))
                .await?,
        )
    }

    /// Claims a recovery's completion (once) and, when it rebinds the key
    /// to a new device, marks the old device replaced by `new`, in one
    /// transaction.
    pub async fn claim_recovery(
        &self,
        id: &str,
        detail: &serde_json::Value,
        replaced: Option<(TokenSerial, TokenSerial)>,
    ) -> Result<i64, StoreError> {
        let claim = WriteOp::Claim(crate::writes::Claim {
            scope: ClaimScope::RecoveryCompletion,
            id: id.as_bytes().to_vec(),
            kind: AuditKind::RecoveryCompleted,
            detail: detail.to_string(),
        });
        let op = match replaced {
            Some((old, new)) => WriteOp::Both(
                Box::new(claim),
                Box::new(crate::vetting::VettingWrite::replace(
                    old,
                    new,
                    id.to_string(),
                )),
            ),
            None => claim,
        };
        seq_of(self.writer.submit(op).await?)
    }

    /// Claims a one-shot event: commits `(scope, id)` with an audit entry
    /// of `kind`, or fails with [`StoreError::AlreadyClaimed`] (and writes
    /// nothing) if it was claimed before, by any process.
    pub async fn claim_once(
        &self,
        scope: ClaimScope,
        id: &[u8],
        kind: AuditKind,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        seq_of(
            self.writer
                .submit(WriteOp::Claim(crate::writes::Claim {
                    scope,
                    id: id.to_vec(),
                    kind,
                    detail: detail.to_string(),
                }))
                .await?,
        )
    }

    /// Stores a new joint-key chain file under its id (the mailbox).
    pub async fn post_joint_message(
        &self,
        id: &str,
        version: i64,
        body: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        seq_of(
            self.writer
                .submit(WriteOp::JointPost(crate::writes::JointPost {
                    id: id.to_string(),
                    version,
                    body: body.to_string(),
                    detail: detail.to_string(),
                }))
                .await?,
        )
    }

    /// Replaces a chain file if it is still at `expected` (else
    /// [`StoreError::Stale`], nothing written).
    pub async fn extend_joint_message(
        &self,
        id: &str,
        expected: i64,
        version: i64,
        body: &str,
        detail: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        seq_of(
            self.writer
                .submit(WriteOp::JointExtend(crate::writes::JointExtend {
                    id: id.to_string(),
                    expected,
                    version,
                    body: body.to_string(),
                    detail: detail.to_string(),
                }))
                .await?,
        )
    }

    /// A chain file and its version.
    pub async fn joint_message(&self, id: &str) -> Result<(i64, String), StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT version, body FROM joint_messages WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("read joint chain"))?;
        row.ok_or_else(|| StoreError::NotFound(format!("joint chain {id}")))
    }

    /// Whether `(scope, id)` was claimed.
    pub async fn is_claimed(&self, scope: ClaimScope, id: &[u8]) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM claims WHERE scope = $1 AND id = $2")
            .bind(scope.as_str())
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("read claims"))?;
        Ok(n > 0)
    }

    /// Audit entries from `after` (exclusive), at most `limit`.
    pub async fn audit_entries(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, detail, prev_hash, hash, openings FROM audit_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("read audit log"))?;
        rows.into_iter().map(|r| audit_entry(&r)).collect()
    }

    /// The audit entries numbered `seqs` (those that exist), in order.
    pub async fn audit_entries_at(&self, seqs: &[i64]) -> Result<Vec<AuditEntry>, StoreError> {
        let mut out = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT seq, at, kind, detail, prev_hash, hash, openings FROM audit_log \
                 WHERE seq IN ({}) ORDER BY seq",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q.bind(*s);
            }
            let rows = q
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("read audit log"))?;
            for r in &rows {
                out.push(audit_entry(r)?);
            }
        }
        out.sort_by_key(|e| e.seq);
        Ok(out)
    }

    /// Recomputes the whole chain; names the first broken link.
    pub async fn verify_audit(&self) -> Result<Result<AuditVerification, BrokenLink>, StoreError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("read audit head"))?;
        let mut walk = ChainWalk::new();
        let mut after = 0;
        loop {
            let page = self.audit_entries(after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            if let Err(broken) = walk.feed(&page) {
                return Ok(Err(broken));
            }
        }
        Ok(walk.finish(head.get(0), &head.get::<Vec<u8>, _>(1)))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn seq_of(out: WriteOut) -> Result<i64, StoreError> {
    match out {
        WriteOut::Seq(seq) => Ok(seq),
        _ => Err(StoreError::Corrupt(
            "the writer answered out of kind".into(),
        )),
    }
}

fn parse_fingerprint(s: &str) -> Result<Fingerprint, StoreError> {
    s.parse()
        .map_err(|e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()))
}

/// An audit entry from a row of (seq, at, kind, detail, prev_hash, hash,
/// openings).
fn audit_entry(r: &sqlx::any::AnyRow) -> Result<AuditEntry, StoreError> {
    let openings = match r.get::<Option<String>, _>(6) {
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
            StoreError::Corrupt(format!("the openings of entry {}: {e}", r.get::<i64, _>(0)))
        })?),
        None => None,
    };
    Ok(AuditEntry {
        seq: r.get(0),
        at: r.get(1),
        kind: r.get(2),
        detail: r.get(3),
        prev_hash: r.get(4),
        hash: r.get(5),
        openings,
    })
}

/// What an issuance delivered with its answer is linked to, in its
/// transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryLinks<'a> {
    /// The certificate it renews.
    pub renews: Option<&'a CertificateSerial>,
    /// The ACME account that ordered it (docs/acme.md).
    pub acme_account: Option<&'a str>,
}
