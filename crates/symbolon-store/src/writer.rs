//! Group commit: every write of this process goes through one writer task,
//! which takes whatever writes are waiting, runs them in one immediate
//! transaction (each inside its own savepoint, so one refusal undoes only
//! itself), and commits once. A write's caller hears back only after the
//! commit is durable. On SQLite, where one transaction writes at a time and
//! a durable commit costs a sync, this turns N syncs into one without
//! weakening anything: each write still commits whole with its audit entry.
//!
//! Writers in other processes are serialised by the database's own lock;
//! the audit head's compare-and-set keeps the chain from forking there too.

use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};
use symbolon::keys::Fingerprint;
use symbolon::token::TokenSerial;
use tokio::sync::{mpsc, oneshot};

use crate::actor::Actor;
use crate::{
    AuditKind, Backend, CertificateRecord, ClaimScope, ReservationId, SharedKey, StoreError,
};

/// Most writes committed together.
const MAX_BATCH: usize = 128;

/// One write.
pub(crate) enum WriteOp {
    /// Indexes at most `limit` entries the log's object index lacks.
    IndexLog {
        limit: i64,
    },
    Reserve {
        fingerprint: Fingerprint,
        spki: Vec<u8>,
        id: ReservationId,
    },
    Certify {
        fingerprint: Fingerprint,
        spki: Vec<u8>,
        reservation: Option<ReservationId>,
    },
    Abandon {
        id: ReservationId,
        reason: String,
    },
    Issuance {
        record: Box<CertificateRecord>,
        spki: Vec<u8>,
        reservation: Option<ReservationId>,
        registration: Option<symbolon::vetting::RegistrationId>,
        detail: String,
    },
    RegisterToken {
        serial: TokenSerial,
        device_key: Vec<u8>,
        transport_key: Option<Vec<u8>>,
        vouch: crate::vetting::Vouch,
    },
    RegisterArbitrator {
        id: String,
        share_recipient: String,
        approval_key: Vec<u8>,
    },
    Escrow {
        id: Vec<u8>,
        fingerprint: Fingerprint,
        record: Vec<u8>,
        envelopes: Vec<(String, Vec<u8>)>,
        detail: String,
    },
    RecoveryRequest {
        id: String,
        escrow_id: Vec<u8>,
        record: Vec<u8>,
        detail: String,
    },
    Approval {
        request_id: String,
        position: i64,
        arbitrator: String,
        record: Vec<u8>,
        approve: bool,
        detail: String,
    },
    Audit {
        kind: AuditKind,
        detail: String,
    },
    Claim {
        scope: ClaimScope,
        id: Vec<u8>,
        kind: AuditKind,
        detail: String,
    },
    JointPost {
        id: String,
        version: i64,
        body: String,
        detail: String,
    },
    JointExtend {
        id: String,
        expected: i64,
        version: i64,
        body: String,
        detail: String,
    },
    SeeModulus {
        fingerprint: Fingerprint,
        modulus: Vec<u8>,
        origin: String,
        since: i64,
        known: Vec<SharedKey>,
    },
    Access(crate::credentials::AccessWrite),
    Vetting(crate::vetting::VettingWrite),
    Revocation(crate::revocation::RevocationWrite),
    Log(crate::log_tree::LogWrite),
    /// Two writes in one savepoint: both commit or neither; the first's
    /// result is the answer.
    Both(Box<WriteOp>, Box<WriteOp>),
}

/// What a write yields.
pub(crate) enum WriteOut {
    Done,
    Seq(i64),
    Key(Fingerprint),
    Modulus(Vec<SharedKey>),
    Count(usize),
}

struct Job {
    op: WriteOp,
    actor: Option<Actor>,
    reply: oneshot::Sender<Result<WriteOut, StoreError>>,
}

/// The handle to the writer task.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Job>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub(crate) fn start(pool: AnyPool, backend: Backend) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, backend, rx));
        Self { queue }
    }

    /// Submits a write and waits for its commit.
    pub(crate) async fn submit(&self, op: WriteOp) -> Result<WriteOut, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Database {
            context: "writer",
            source: sqlx::Error::PoolClosed,
        };
        let actor = crate::actor::current();
        self.queue
            .send(Job { op, actor, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(pool: AnyPool, backend: Backend, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<(WriteOp, Option<Actor>)>, Vec<_>) = batch
            .into_iter()
            .map(|j| ((j.op, j.actor), j.reply))
            .unzip();
        let results = commit_batch(pool.clone(), backend, ops).await;
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that gave up waiting has gone; its write stands.
            let _ = reply.send(result);
        }
    }
}

/// Runs a batch in one transaction; a failure of the transaction itself
/// fails every write in it (none of them committed).
async fn commit_batch(
    pool: AnyPool,
    backend: Backend,
    batch: Vec<(WriteOp, Option<Actor>)>,
) -> Vec<Result<WriteOut, StoreError>> {
    let n = batch.len();
    let fail_all = |context: &'static str, e: sqlx::Error| -> Vec<Result<WriteOut, StoreError>> {
        let text = e.to_string();
        (0..n)
            .map(|_| {
                Err(StoreError::Database {
                    context,
                    source: sqlx::Error::Protocol(text.clone()),
                })
            })
            .collect()
    };
    let mut conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => return fail_all("acquire", e),
    };
    // SQLite: take the write lock now, not at the first write. PostgreSQL:
    // lock the audit head row, which every write updates, so concurrent
    // processes append one after the other instead of failing the head's
    // compare-and-set.
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    if let Err(e) = statement(&mut conn, begin).await {
        return fail_all("begin", e);
    }
    if backend == Backend::Postgres {
        if let Err(e) = statement(
            &mut conn,
            "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE",
        )
        .await
        {
            rollback(&mut conn).await;
            return fail_all("lock the audit head", e);
        }
    }
    let mut results = Vec::with_capacity(n);
    for (op, actor) in &batch {
        if let Err(e) = statement(&mut conn, "SAVEPOINT write").await {
            rollback(&mut conn).await;
            return fail_all("savepoint", e);
        }
        let result = execute(&mut conn, op, actor.as_ref()).await;
        if result.is_err() {
            if let Err(e) = statement(&mut conn, "ROLLBACK TO write").await {
                rollback(&mut conn).await;
                return fail_all("savepoint", e);
            }
        }
        if let Err(e) = statement(&mut conn, "RELEASE write").await {
            rollback(&mut conn).await;
            return fail_all("savepoint", e);
        }
        results.push(result);
    }
    match statement(&mut conn, "COMMIT").await {
        Ok(()) => results,
        Err(e) => {
            rollback(&mut conn).await;
            fail_all("commit", e)
        }
    }
}

/// One control statement.
async fn statement(conn: &mut AnyConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await?;
    Ok(())
}

async fn execute(
    conn: &mut AnyConnection,
    op: &WriteOp,
    actor: Option<&Actor>,
) -> Result<WriteOut, StoreError> {
    match op {
        WriteOp::Reserve {
            fingerprint,
            spki,
            id,
        } => {
            let t = crate::registry::now();
            let r = sqlx::query(
                "INSERT INTO public_keys (fingerprint, spki, state, reservation, registered_at, updated_at, owner) \
                 VALUES ($1, $2, 'reserved', $3, $4, $4, $5)",
            )
            .bind(fingerprint.to_string())
            .bind(spki)
            .bind(id.as_str())
            .bind(t)
            .bind(actor.map(Actor::owner))
            .execute(&mut *conn)
            .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::DuplicateKey(*fingerprint))
                }
                Err(e) => return Err(StoreError::db("reserve key")(e)),
            }
            let detail = serde_json::json!({ "key": fingerprint, "reservation": id });
            append_in(conn, actor, AuditKind::KeyReserved, &detail.to_string()).await?;
            Ok(WriteOut::Done)
        }
        WriteOp::Certify {
            fingerprint,
            spki,
            reservation,
        } => {
            certify_in(conn, *fingerprint, spki, reservation.as_ref()).await?;
            Ok(WriteOut::Done)
        }
        WriteOp::Abandon { id, reason } => {
            let row = sqlx::query(
                "UPDATE public_keys SET state = 'abandoned', updated_at = $1 \
                 WHERE reservation = $2 AND state = 'reserved' RETURNING fingerprint",
            )
            .bind(crate::registry::now())
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db("abandon reservation"))?;
            let Some(row) = row else {
                return Err(closed_or_unknown(conn, id).await);
            };
            let fp: Fingerprint = row
                .get::<String, _>(0)
                .parse()
                .map_err(|e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()))?;
            let detail = serde_json::json!({ "key": fp, "reservation": id, "reason": reason });
            append_in(
                conn,
                actor,
                AuditKind::ReservationAbandoned,
                &detail.to_string(),
            )
            .await?;
            Ok(WriteOut::Key(fp))
        }
        WriteOp::Issuance {
            record: c,
            spki,
            reservation,
            registration,
            detail,
        } => {
            record_certificate_in(conn, actor, c, spki, reservation.as_ref()).await?;
            if let Some(id) = registration {
                crate::vetting::consume_in(conn, id, &c.serial).await?;
            }
            Ok(WriteOut::Seq(
                append_in(conn, actor, AuditKind::CertificateIssued, detail).await?,
            ))
        }
        WriteOp::RegisterToken {
            serial,
            device_key,
            transport_key,
            vouch,
        } => {
            let fp = Fingerprint::of_spki(device_key);
            // A device key belongs to one device: named with the serial it
            // is registered under, before anything is written.
            let existing: Option<(String, Option<String>)> =
                sqlx::query("SELECT serial, vouched_by FROM tokens WHERE device_fingerprint = $1")
                    .bind(fp.to_string())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(StoreError::db("register token"))?
                    .map(|row| (row.get(0), row.get(1)));
            match existing {
                // Registered before devices were vouched for: this caller
                // vouches for it now (same serial, same device key).
                Some((existing, None)) if existing == serial.to_string() => {
                    sqlx::query(
                        "UPDATE tokens SET vouched_by = $1, vouched_role = $2, manufacturer_root = $3, \
                         transport_key = COALESCE($4, transport_key) WHERE serial = $5",
                    )
                    .bind(&vouch.by)
                    .bind(&vouch.role)
                    .bind(vouch.manufacturer_root.map(|f| f.to_string()))
                    .bind(transport_key.clone())
                    .bind(existing)
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::db("vouch for a token"))?;
                    let detail = serde_json::json!({
                        "token": serial, "device_key": fp, "vouched_by": vouch.by, "vouched_later": true,
                        "evidence": if vouch.manufacturer_root.is_some() { "manufacturer" } else { "vouched" },
                        "manufacturer_root": vouch.manufacturer_root,
                    });
                    append_in(conn, actor, AuditKind::TokenRegistered, &detail.to_string()).await?;
                    return Ok(WriteOut::Done);
                }
                Some((existing, _)) if existing == serial.to_string() => {
                    return Err(StoreError::AlreadyExists(format!(
                        "token {serial} with this device key (registered and vouched for already)"
                    )));
                }
                Some((existing, _)) => {
                    return Err(StoreError::AlreadyExists(format!(
                        "device key {fp} (registered as token {existing}; a device key is registered under one serial)"
                    )));
                }
                None => {}
            }
            let r = sqlx::query(
                "INSERT INTO tokens (serial, device_key, device_fingerprint, registered_at, transport_key, \
                 vouched_by, vouched_role, manufacturer_root) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(serial.to_string())
            .bind(device_key)
            .bind(fp.to_string())
            .bind(crate::registry::now())
            .bind(transport_key.clone())
            .bind(&vouch.by)
            .bind(&vouch.role)
            .bind(vouch.manufacturer_root.map(|f| f.to_string()))
            .execute(&mut *conn)
            .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::AlreadyExists(format!(
                        "token {serial} (a serial is registered once, with one device key)"
                    )))
                }
                Err(e) => return Err(StoreError::db("register token")(e)),
            }
            let detail = serde_json::json!({
                "token": serial, "device_key": fp, "vouched_by": vouch.by,
                "evidence": if vouch.manufacturer_root.is_some() { "manufacturer" } else { "vouched" },
                "manufacturer_root": vouch.manufacturer_root,
            });
            append_in(conn, actor, AuditKind::TokenRegistered, &detail.to_string()).await?;
            Ok(WriteOut::Done)
        }
        WriteOp::Audit { kind, detail } => {
            Ok(WriteOut::Seq(append_in(conn, actor, *kind, detail).await?))
        }
        WriteOp::RegisterArbitrator {
            id,
            share_recipient,
            approval_key,
        } => {
            let r = sqlx::query(
                "INSERT INTO arbitrators (id, share_recipient, approval_key, registered_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(share_recipient.as_str())
            .bind(approval_key.as_slice())
            .bind(crate::registry::now())
            .execute(&mut *conn)
            .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::AlreadyExists(format!(
                        "arbitrator {id}, or its share recipient or approval key under another name,"
                    )))
                }
                Err(e) => return Err(StoreError::db("register arbitrator")(e)),
            }
            let detail = serde_json::json!({
                "arbitrator": id,
                "approval_key": Fingerprint::of_spki(approval_key),
                "share_recipient": share_recipient,
            });
            append_in(
                conn,
                actor,
                AuditKind::ArbitratorRegistered,
                &detail.to_string(),
            )
            .await?;
            Ok(WriteOut::Done)
        }
        WriteOp::Escrow {
            id,
            fingerprint,
            record,
            envelopes,
            detail,
        } => {
            let t = crate::registry::now();
            sqlx::query(
                "INSERT INTO escrows (id, fingerprint, record, created_at, depositor) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.as_slice())
            .bind(fingerprint.to_string())
            .bind(record.as_slice())
            .bind(t)
            .bind(actor.map(Actor::owner))
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record escrow"))?;
            for (arbitrator, envelope) in envelopes {
                sqlx::query("INSERT INTO escrow_shares (escrow_id, arbitrator, envelope) VALUES ($1, $2, $3)")
                    .bind(id.as_slice())
                    .bind(arbitrator.as_str())
                    .bind(envelope.as_slice())
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::db("record escrow share"))?;
            }
            append_in(conn, actor, AuditKind::KeyEscrowed, detail).await?;
            Ok(WriteOut::Done)
        }
        WriteOp::RecoveryRequest {
            id,
            escrow_id,
            record,
            detail,
        } => {
            sqlx::query("INSERT INTO recovery_requests (id, escrow_id, record, created_at, requester) VALUES ($1, $2, $3, $4, $5)")
                .bind(id.as_str())
                .bind(escrow_id.as_slice())
                .bind(record.as_slice())
                .bind(crate::registry::now())
                .bind(actor.map(Actor::owner))
                .execute(&mut *conn)
                .await
                .map_err(StoreError::db("record recovery request"))?;
            append_in(conn, actor, AuditKind::RecoveryRequested, detail).await?;
            Ok(WriteOut::Done)
        }
        WriteOp::Approval {
            request_id,
            position,
            arbitrator,
            record,
            approve,
            detail,
        } => {
            let r = sqlx::query(
                "INSERT INTO recovery_approvals (request_id, position, arbitrator, record, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(request_id.as_str())
            .bind(*position)
            .bind(arbitrator.as_str())
            .bind(record.as_slice())
            .bind(crate::registry::now())
            .execute(&mut *conn)
            .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    // Which constraint: the arbitrator's, or the position's.
                    let decided: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM recovery_approvals WHERE request_id = $1 AND arbitrator = $2",
                    )
                    .bind(request_id.as_str())
                    .bind(arbitrator.as_str())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(StoreError::db("record approval"))?;
                    return Err(if decided > 0 {
                        StoreError::AlreadyExists(format!(
                            "a decision by {arbitrator} on request {request_id}"
                        ))
                    } else {
                        StoreError::ChainMoved(request_id.clone())
                    });
                }
                Err(e) => return Err(StoreError::db("record approval")(e)),
            }
            let kind = if *approve {
                AuditKind::RecoveryApproved
            } else {
                AuditKind::RecoveryDeclined
            };
            append_in(conn, actor, kind, detail).await?;
            Ok(WriteOut::Done)
        }
        WriteOp::Claim {
            scope,
            id,
            kind,
            detail,
        } => {
            let r = sqlx::query("INSERT INTO claims (scope, id, claimed_at) VALUES ($1, $2, $3)")
                .bind(scope.as_str())
                .bind(id.as_slice())
                .bind(crate::registry::now())
                .execute(&mut *conn)
                .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::AlreadyClaimed {
                        scope: scope.as_str(),
                        id: hex::encode(id),
                    })
                }
                Err(e) => return Err(StoreError::db("claim")(e)),
            }
            Ok(WriteOut::Seq(append_in(conn, actor, *kind, detail).await?))
        }
        WriteOp::JointPost {
            id,
            version,
            body,
            detail,
        } => {
            let r = sqlx::query(
                "INSERT INTO joint_messages (id, version, body, updated_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(*version)
            .bind(body.as_str())
            .bind(crate::registry::now())
            .execute(&mut *conn)
            .await;
            match r {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::AlreadyExists(format!("joint chain {id}")))
                }
                Err(e) => return Err(StoreError::db("post joint chain")(e)),
            }
            Ok(WriteOut::Seq(
                append_in(conn, actor, AuditKind::JointChainPosted, detail).await?,
            ))
        }
        WriteOp::JointExtend {
            id,
            expected,
            version,
            body,
            detail,
        } => {
            let done = sqlx::query(
                "UPDATE joint_messages SET version = $1, body = $2, updated_at = $3 WHERE id = $4 AND version = $5",
            )
            .bind(*version)
            .bind(body.as_str())
            .bind(crate::registry::now())
            .bind(id.as_str())
            .bind(*expected)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("extend joint chain"))?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Stale(format!("joint chain {id}")));
            }
            Ok(WriteOut::Seq(
                append_in(conn, actor, AuditKind::JointChainExtended, detail).await?,
            ))
        }
        WriteOp::SeeModulus {
            fingerprint,
            modulus,
            origin,
            since,
            known,
        } => Ok(WriteOut::Modulus(
            see_modulus_in(conn, actor, fingerprint, modulus, origin, *since, known).await?,
        )),
        WriteOp::Access(w) => {
            crate::credentials::execute(conn, actor, w).await?;
            let (kind, detail) = w.audit();
            let seq = append_in(conn, actor, kind, &detail.to_string()).await?;
            if let crate::credentials::AccessWrite::Revoke { serial } = w {
                crate::revocation::credential_revoked_in(conn, actor, serial, seq).await?;
            }
            Ok(WriteOut::Seq(seq))
        }
        WriteOp::Vetting(w) => match crate::vetting::execute(conn, actor, w).await? {
            Some((kind, detail)) => Ok(WriteOut::Seq(
                append_in(conn, actor, kind, &detail.to_string()).await?,
            )),
            None => Ok(WriteOut::Done),
        },
        WriteOp::Revocation(w) => crate::revocation::execute(conn, actor, w).await,
        WriteOp::Log(w) => match crate::log_tree::execute(conn, actor, w).await? {
            crate::log_tree::LogOut::Audit(kind, detail) => Ok(WriteOut::Seq(
                append_in(conn, actor, kind, &detail.to_string()).await?,
            )),
            crate::log_tree::LogOut::Done => Ok(WriteOut::Done),
            crate::log_tree::LogOut::Count(n) => Ok(WriteOut::Count(n)),
        },
        WriteOp::IndexLog { limit } => Ok(WriteOut::Count(
            crate::log_refs::index_in(conn, *limit).await?,
        )),
        WriteOp::Both(first, second) => {
            let out = Box::pin(execute(conn, first, actor)).await?;
            Box::pin(execute(conn, second, actor)).await?;
            Ok(out)
        }
    }
}

/// Ends a failed transaction. The failure that led here is what the caller
/// reports; a rollback that fails too (the connection is gone, and the
/// database rolls back on its own) is logged beside it.
async fn rollback(conn: &mut AnyConnection) {
    if let Err(e) = statement(conn, "ROLLBACK").await {
        tracing::warn!(error = %e, "rollback after a failed write also failed");
    }
}

/// Records a modulus and completes its shared-prime check: the caller
/// checked it against every modulus up to `since` (its in-memory index);
/// this transaction, serialised with every other writer (SQLite's immediate
/// transaction, PostgreSQL's audit-head lock), checks the rows above that,
/// so of two keys sharing a prime that race from two processes, the later
/// writer always sees the earlier. A key shares a prime: both rows are
/// flagged and one audit entry names them.
async fn see_modulus_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    fingerprint: &Fingerprint,
    modulus: &[u8],
    origin: &str,
    since: i64,
    known: &[SharedKey],
) -> Result<Vec<SharedKey>, StoreError> {
    let own = fingerprint.to_string();
    let rows = sqlx::query("SELECT fingerprint, modulus FROM moduli WHERE id > $1")
        .bind(since)
        .fetch_all(&mut *conn)
        .await
        .map_err(StoreError::db("read recent moduli"))?;
    let mut shared: Vec<SharedKey> = known.to_vec();
    for row in rows {
        let other: String = row.get(0);
        let m: Vec<u8> = row.get(1);
        if other == own || shared.iter().any(|s| s.key.to_string() == other) {
            continue;
        }
        if let Some(bits) = symbolon::keys::shared_primes::common_factor_bits(&m, modulus) {
            let key = other
                .parse()
                .map_err(|e: symbolon::keys::KeyError| StoreError::Corrupt(e.to_string()))?;
            shared.push(SharedKey {
                key,
                factor_bits: bits,
            });
        }
    }
    sqlx::query(
        "INSERT INTO moduli (fingerprint, modulus, origin, seen_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint) DO NOTHING",
    )
    .bind(own.as_str())
    .bind(modulus)
    .bind(origin)
    .bind(crate::registry::now())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("record modulus"))?;
    if let Some(first) = shared.first() {
        flag_shared(conn, &own, &first.key.to_string()).await?;
        for s in &shared {
            flag_shared(conn, &s.key.to_string(), &own).await?;
        }
        // Bounded: a key can share a factor with many (a broken generator);
        // the entry names the first few and counts the rest.
        let detail = serde_json::json!({
            "key": own,
            "origin": origin,
            "shares_with": shared.iter().take(16).map(|s| serde_json::json!({ "key": s.key, "factor_bits": s.factor_bits })).collect::<Vec<_>>(),
            "shares_with_count": shared.len(),
        });
        append_in(
            conn,
            actor,
            AuditKind::SharedPrimeFound,
            &detail.to_string(),
        )
        .await?;
        // Every key in the group can be factored: their certificates are
        // revoked in this transaction (keyCompromise).
        let mut keys = vec![own.clone()];
        keys.extend(shared.iter().map(|s| s.key.to_string()));
        crate::revocation::revoke_factorable_in(conn, actor, &keys).await?;
    }
    Ok(shared)
}

/// Marks a modulus as sharing a factor with `with`, unless it was already.
async fn flag_shared(conn: &mut AnyConnection, key: &str, with: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE moduli SET shared_with = $1 WHERE fingerprint = $2 AND shared_with IS NULL",
    )
    .bind(with)
    .bind(key)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("flag modulus"))?;
    Ok(())
}

/// Why a reservation cannot be used: it was (it stays on its key's row once
/// used or abandoned, so a closed one is told apart from one never made).
async fn closed_or_unknown(conn: &mut AnyConnection, id: &ReservationId) -> StoreError {
    let known = sqlx::query("SELECT state FROM public_keys WHERE reservation = $1")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await;
    match known {
        Ok(Some(_)) => StoreError::ReservationClosed(id.to_string()),
        Ok(None) => StoreError::NotFound(format!("reservation {id}")),
        Err(e) => StoreError::db("look up reservation")(e),
    }
}

/// Certifies a key: through its open reservation, or by registering it; the
/// primary key makes a second certification impossible.
async fn certify_in(
    conn: &mut AnyConnection,
    fingerprint: Fingerprint,
    spki: &[u8],
    reservation: Option<&ReservationId>,
) -> Result<(), StoreError> {
    let t = crate::registry::now();
    match reservation {
        Some(id) => {
            let done = sqlx::query(
                "UPDATE public_keys SET state = 'certified', updated_at = $1 \
                 WHERE fingerprint = $2 AND state = 'reserved' AND reservation = $3",
            )
            .bind(t)
            .bind(fingerprint.to_string())
            .bind(id.as_str())
            .execute(&mut *conn)
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
            .execute(&mut *conn)
            .await;
            match r {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateKey(fingerprint)),
                Err(e) => Err(StoreError::db("certify key")(e)),
            }
        }
    }
}

/// Registers a certificate's key (once ever) and records the certificate,
/// with the requesting caller.
pub(crate) async fn record_certificate_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    c: &CertificateRecord,
    spki: &[u8],
    reservation: Option<&ReservationId>,
) -> Result<(), StoreError> {
    certify_in(conn, c.fingerprint, spki, reservation).await?;
    sqlx::query(
        "INSERT INTO certificates (serial, fingerprint, subject, profile, not_before, not_after, der, \
         generated_on_token, issued_at, requester) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
    .bind(actor.map(Actor::owner))
    .execute(&mut *conn)
    .await
    .map_err(StoreError::db("record certificate"))?;
    if let Some(attestation) = &c.attestation {
        sqlx::query("INSERT INTO certificate_attestations (serial, attestation) VALUES ($1, $2)")
            .bind(c.serial.as_str())
            .bind(attestation)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record certificate"))?;
    }
    Ok(())
}

/// Appends an audit entry: reads the head, links to it, and moves it with a
/// compare-and-set, so even writers that bypass this process's queue cannot
/// fork the chain.
pub(crate) async fn append_in(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    kind: AuditKind,
    detail: &str,
) -> Result<i64, StoreError> {
    // Every entry names the authenticated caller whose request made it.
    let stamped = actor.map(|a| a.stamp(detail));
    let detail = stamped.as_deref().unwrap_or(detail);
    // Fields that can name a person enter the tree as salted commitments;
    // their openings are kept beside the entry (docs/transparency.md §9).
    let (detail, openings) = commit(detail)?;
    let detail = detail.as_str();
    let db = StoreError::db("append audit");
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::db("append audit"))?;
    let (seq, prev): (i64, Vec<u8>) = (head.get(0), head.get(1));
    let at = crate::registry::now();
    let next = seq + 1;
    let (hash, leaf) =
        symbolon::transparency::entry::hashes(next, at, kind.as_str(), detail, &prev);
    let moved = sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
        .bind(next)
        .bind(hash.as_slice())
        .bind(seq)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("append audit"))?;
    if moved.rows_affected() != 1 {
        return Err(db(sqlx::Error::Protocol(
            "the audit head moved during the append".into(),
        )));
    }
    sqlx::query("INSERT INTO audit_log (seq, at, kind, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(next)
        .bind(at)
        .bind(kind.as_str())
        .bind(detail)
        .bind(prev.as_slice())
        .bind(hash.as_slice())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("append audit"))?;
    // The transparency log's leaf for this entry, in the same transaction
    // (after any earlier entries the tree lacks).
    if let Some(openings) = openings {
        // A map of strings always encodes.
        let text = serde_json::to_string(&openings).map_err(|e| {
            StoreError::db("append audit")(sqlx::Error::Protocol(format!("encode openings: {e}")))
        })?;
        sqlx::query("INSERT INTO log_openings (seq, openings) VALUES ($1, $2)")
            .bind(next)
            .bind(text)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("append audit"))?;
    }
    crate::log_tree::catch_up_in(conn, seq).await?;
    crate::log_tree::append_leaf_in(conn, seq as u64, leaf).await?;
    Ok(next)
}

/// `detail` with its personal fields committed, each under a fresh 32-byte
/// salt from the system's generator (a failing generator fails the append:
/// a guessable salt would open the commitment).
fn commit(
    detail: &str,
) -> Result<(String, Option<symbolon::transparency::commitment::Openings>), StoreError> {
    use symbolon::transparency::commitment::{self, COMMITTED_FIELDS};
    let mut salts = [[0u8; 32]; COMMITTED_FIELDS.len()];
    for s in &mut salts {
        aws_lc_rs::rand::fill(s).map_err(|_| {
            StoreError::db("append audit")(sqlx::Error::Protocol(
                "the system random generator failed".into(),
            ))
        })?;
    }
    Ok(commitment::commit(detail, &salts))
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
