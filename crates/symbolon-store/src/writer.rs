//! Group commit: every write of this process goes through one writer task,
//! which takes whatever writes are waiting, runs them in one immediate
//! transaction, and commits once. A refusal undoes only itself: a batch
//! with one is run again with each write inside its own savepoint (see
//! `commit_batch`; savepoints are otherwise skipped, each being a round
//! trip to the database). A write's caller hears back only after the
//! commit is durable. On SQLite, where one transaction writes at a time and
//! a durable commit costs a sync, this turns N syncs into one without
//! weakening anything: each write still commits whole with its audit entry.
//!
//! Writers in other processes are serialised by the database's own lock;
//! the audit head's compare-and-set keeps the chain from forking there too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};
use symbolon::keys::Fingerprint;
use tokio::sync::{mpsc, oneshot};

use crate::actor::Actor;
use crate::deferred::Defer;
use crate::writes::{
    Abandon, Approval, Audit, Certify, Claim, Escrow, Issuance, JointExtend, JointPost,
    RecoveryRequest, RegisterArbitrator, RegisterToken, Reserve, SeeModulus,
};
use crate::{AuditKind, Backend, CertificateRecord, ReservationId, SharedKey, StoreError};

/// Most writes committed together.
const MAX_BATCH: usize = 128;

/// One write.
pub(crate) enum WriteOp {
    /// Indexes at most `limit` entries the log's object index lacks.
    IndexLog {
        limit: i64,
    },
    Reserve(Reserve),
    Certify(Certify),
    Abandon(Abandon),
    Issuance(Issuance),
    RegisterToken(RegisterToken),
    RegisterArbitrator(RegisterArbitrator),
    Escrow(Escrow),
    RecoveryRequest(RecoveryRequest),
    Approval(Approval),
    Audit(Audit),
    Claim(Claim),
    JointPost(JointPost),
    JointExtend(JointExtend),
    SeeModulus(SeeModulus),
    Access(crate::credentials::AccessWrite),
    Vetting(crate::vetting::VettingWrite),
    Revocation(crate::revocation::RevocationWrite),
    Acme(crate::acme::AcmeWrite),
    Log(crate::log_tree::LogWrite),
    /// Two writes in one savepoint: both commit or neither; the first's
    /// result is the answer.
    Both(Box<WriteOp>, Box<WriteOp>),
}

impl WriteOp {
    /// Whether the write reads the audit log or the log tree beyond what
    /// its own appends leave in the transaction's cache: such a write
    /// must see every earlier append of its batch in the database. Every
    /// kind is named, so a new one is decided on, not assumed.
    fn reads_the_log(&self) -> bool {
        match self {
            Self::IndexLog { .. } | Self::Log(_) => true,
            Self::Reserve(_)
            | Self::Certify(_)
            | Self::Abandon(_)
            | Self::Issuance(_)
            | Self::RegisterToken(_)
            | Self::RegisterArbitrator(_)
            | Self::Escrow(_)
            | Self::RecoveryRequest(_)
            | Self::Approval(_)
            | Self::Audit(_)
            | Self::Claim(_)
            | Self::JointPost(_)
            | Self::JointExtend(_)
            | Self::SeeModulus(_)
            | Self::Access(_)
            | Self::Vetting(_)
            | Self::Revocation(_)
            | Self::Acme(_) => false,
            Self::Both(first, second) => first.reads_the_log() || second.reads_the_log(),
        }
    }

    /// Whether the write's rows can wait for the batch's end: an issuance
    /// that reads nothing (no reservation to close, no registration to
    /// spend), or a bare audit entry. Such a write reads nothing another
    /// write's waiting rows would change, and a unique constraint is all
    /// that could refuse its own.
    fn rows_wait(&self) -> bool {
        match self {
            Self::Issuance(w) => w.reservation.is_none() && w.registration.is_none(),
            Self::Audit(_) => true,
            _ => false,
        }
    }
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
    reruns: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub(crate) fn start(pool: AnyPool, backend: Backend) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        let reruns = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(pool, backend, rx, Arc::clone(&reruns)));
        Self { queue, reruns }
    }

    /// How many batches ran again with savepoints because their first
    /// attempt was refused.
    pub(crate) fn reruns(&self) -> u64 {
        self.reruns.load(Ordering::Relaxed)
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

async fn run(
    pool: AnyPool,
    backend: Backend,
    mut rx: mpsc::UnboundedReceiver<Job>,
    reruns: Arc<AtomicU64>,
) {
    // Set when the last batch had a refusal: the next then starts with
    // savepoints, so a stream of refusals (a client's repeated mistakes)
    // costs what savepoints cost, never a rerun of every batch.
    let mut careful = false;
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
        let results = commit_batch(pool.clone(), backend, ops, careful, &reruns).await;
        careful = results.iter().any(Result::is_err);
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that gave up waiting has gone; its write stands.
            let _ = reply.send(result);
        }
    }
}

/// Runs a batch in one transaction; a failure of the transaction itself
/// fails every write in it (none of them committed).
///
/// The batch first runs without savepoints, since writes are refused rarely
/// and savepoints cost two statements a write, while without them the rows
/// of a batch wait to be written together (`deferred`): a batch of
/// issuances costs a handful of statements, whatever its size. If any write
/// of a batch of several fails (or what waits is refused when written),
/// that attempt is rolled back whole (having cost the writes up to the
/// refusal) and the batch runs again with a savepoint around each write, so
/// the refusal undoes only itself; `careful` (the last batch had a refusal)
/// starts there. Nothing of the first attempt stands, and the writes depend
/// only on the database (and the clock and fresh salts, which a rerun draws
/// anew), so the rerun gives each write what it would have got alone.
///
/// After a failed transaction the connection is closed, not returned to
/// the pool: a rollback that failed may have left it inside one.
async fn commit_batch(
    pool: AnyPool,
    backend: Backend,
    batch: Vec<(WriteOp, Option<Actor>)>,
    careful: bool,
    reruns: &AtomicU64,
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
    if n > 1 && !careful {
        match crate::tx_cache::scope(attempt(&mut conn, backend, &batch, false)).await {
            Ok(Attempt::Done(results)) => return results,
            Ok(Attempt::Refused) => {
                reruns.fetch_add(1, Ordering::Relaxed);
            }
            Err((context, e)) => {
                let _ = conn.close().await;
                return fail_all(context, e);
            }
        }
    }
    // One write alone needs no savepoint: its transaction's rollback
    // undoes exactly it.
    let outcome = crate::tx_cache::scope(attempt(&mut conn, backend, &batch, n > 1)).await;
    let failed = match outcome {
        Ok(Attempt::Done(results)) => return results,
        // Only an attempt without savepoints gives up on a refusal.
        Ok(Attempt::Refused) => (
            "batch",
            sqlx::Error::Protocol("a refused write was not isolated".into()),
        ),
        Err(failed) => failed,
    };
    let _ = conn.close().await;
    fail_all(failed.0, failed.1)
}

/// How an attempt at a batch ended, short of a failed transaction.
enum Attempt {
    /// Each write's result, refusals included: committed, except a lone
    /// write's refusal, whose transaction was rolled back.
    Done(Vec<Result<WriteOut, StoreError>>),
    /// Without savepoints, a write was refused: everything was rolled back.
    Refused,
}

/// One transaction over the whole batch. With `savepoints`, each write
/// runs in its own and a refusal undoes only itself; without, a refusal
/// of a batch of several rolls back all. A single write's refusal rolls
/// back its transaction and is its answer.
async fn attempt(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[(WriteOp, Option<Actor>)],
    savepoints: bool,
) -> Result<Attempt, (&'static str, sqlx::Error)> {
    // SQLite: take the write lock now, not at the first write. PostgreSQL:
    // lock the audit head row, which every write updates, so concurrent
    // processes append one after the other instead of failing the head's
    // compare-and-set.
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    statement(conn, begin).await.map_err(|e| ("begin", e))?;
    if backend == Backend::Postgres {
        if let Err(e) = statement(conn, "SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE").await
        {
            rollback(conn).await;
            return Err(("lock the audit head", e));
        }
    }
    let mut results = Vec::with_capacity(batch.len());
    for (op, actor) in batch {
        if savepoints {
            if let Err(e) = statement(conn, "SAVEPOINT write").await {
                rollback(conn).await;
                return Err(("savepoint", e));
            }
        }
        // In a batch of several without savepoints, writes let what they
        // would write wait, to be written together (`deferred`): every
        // write its appends, an issuance that reads nothing its rows too.
        // What waits is written before a write that could read it: the
        // rows before any write that does not let its own wait, everything
        // before one that reads the log. A flush that fails counts as this
        // write's refusal: the batch runs again with savepoints, where
        // nothing waits.
        let defer = if savepoints || batch.len() == 1 || op.reads_the_log() {
            Defer::Nothing
        } else if op.rows_wait() {
            Defer::All
        } else {
            Defer::Appends
        };
        let flushed = match defer {
            Defer::Nothing => crate::deferred::flush(conn).await,
            Defer::Appends => crate::deferred::flush_rows(conn).await,
            Defer::All => Ok(()),
        };
        crate::tx_cache::set_defer(defer);
        let mut result = match flushed {
            Ok(()) => execute(conn, op, actor.as_ref()).await,
            Err(e) => Err(e),
        };
        if crate::tx_cache::flush_failed() {
            // What the flush took is lost: this attempt ends here, however
            // the write fared with the error.
            tracing::warn!(
                "writing a batch's waiting rows failed; running it again with savepoints"
            );
            if result.is_ok() {
                result = Err(StoreError::Database {
                    context: "append audit",
                    source: sqlx::Error::Protocol("rows waiting to be written were refused".into()),
                });
            }
        }
        if savepoints {
            let undo = if result.is_err() {
                // What the undone write put in the cache is undone too.
                crate::tx_cache::clear();
                statement(conn, "ROLLBACK TO write").await
            } else {
                Ok(())
            };
            if let Err(e) = match undo {
                Ok(()) => statement(conn, "RELEASE write").await,
                Err(e) => Err(e),
            } {
                rollback(conn).await;
                return Err(("savepoint", e));
            }
        } else if result.is_err() {
            // A rollback that failed leaves the transaction in doubt: the
            // batch fails whole and the connection is closed.
            statement(conn, "ROLLBACK")
                .await
                .map_err(|e| ("roll back a refused write", e))?;
            if batch.len() > 1 {
                return Ok(Attempt::Refused);
            }
            return Ok(Attempt::Done(vec![result]));
        }
        results.push(result);
    }
    if let Err(e) = crate::deferred::flush(conn).await {
        tracing::warn!(error = %e, "writing a batch's waiting rows failed; running it again with savepoints");
        statement(conn, "ROLLBACK")
            .await
            .map_err(|e| ("roll back a failed append", e))?;
        if batch.len() > 1 {
            return Ok(Attempt::Refused);
        }
        return Ok(Attempt::Done(vec![Err(e)]));
    }
    match statement(conn, "COMMIT").await {
        Ok(()) => Ok(Attempt::Done(results)),
        Err(e) => {
            rollback(conn).await;
            Err(("commit", e))
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
        WriteOp::Reserve(w) => w.apply(conn, actor).await,
        WriteOp::Certify(w) => w.apply(conn, actor).await,
        WriteOp::Abandon(w) => w.apply(conn, actor).await,
        WriteOp::Issuance(w) => w.apply(conn, actor).await,
        WriteOp::RegisterToken(w) => w.apply(conn, actor).await,
        WriteOp::Audit(w) => w.apply(conn, actor).await,
        WriteOp::RegisterArbitrator(w) => w.apply(conn, actor).await,
        WriteOp::Escrow(w) => w.apply(conn, actor).await,
        WriteOp::RecoveryRequest(w) => w.apply(conn, actor).await,
        WriteOp::Approval(w) => w.apply(conn, actor).await,
        WriteOp::Claim(w) => w.apply(conn, actor).await,
        WriteOp::JointPost(w) => w.apply(conn, actor).await,
        WriteOp::JointExtend(w) => w.apply(conn, actor).await,
        WriteOp::SeeModulus(w) => w.apply(conn, actor).await,
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
        WriteOp::Acme(w) => match crate::acme::execute(conn, w).await? {
            Some((kind, detail)) => Ok(WriteOut::Seq(
                append_in(conn, actor, kind, &detail.to_string()).await?,
            )),
            None => Ok(WriteOut::Done),
        },
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

/// Certifies a key: through its open reservation, or by registering it; the
/// primary key makes a second certification impossible.
pub(crate) async fn certify_in(
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
    // The head and the log tree's size: as this transaction's last append
    // left them, else in one statement (each is a round trip to the
    // database on the path every write takes).
    let (seq, prev, size) = match crate::tx_cache::head() {
        Some(h) => (h.seq, h.hash, h.seq),
        None => {
            // Appends that wait are written before the head is read from
            // the database (with the head cached, none ever do).
            if crate::tx_cache::appends_pending() {
                crate::deferred::flush(conn).await?;
            }
            let head = sqlx::query(
                "SELECT seq, hash, (SELECT COALESCE(MAX(idx) + 1, 0) FROM log_nodes WHERE level = 0) FROM audit_head WHERE id = 1",
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::db("append audit"))?;
            (head.get(0), head.get(1), head.get(2))
        }
    };
    let at = crate::registry::now();
    let next = seq + 1;
    let (hash, leaf) =
        symbolon::transparency::entry::hashes(next, at, kind.as_str(), detail, &prev);
    let head = crate::tx_cache::Head {
        seq: next,
        hash: hash.to_vec(),
    };
    let deferred = crate::tx_cache::defers();
    if !deferred {
        crate::deferred::move_head(conn, seq, &head).await?;
    }
    // A map of strings always encodes.
    let openings = openings
        .map(|o| serde_json::to_string(&o))
        .transpose()
        .map_err(|e| {
            StoreError::db("append audit")(sqlx::Error::Protocol(format!("encode openings: {e}")))
        })?;
    if deferred {
        crate::tx_cache::pend(|p| {
            p.entries.push(crate::deferred::EntryRow {
                seq: next,
                at,
                kind: kind.as_str(),
                detail: detail.to_owned(),
                prev: prev.clone(),
                hash: hash.to_vec(),
                openings,
            });
            p.move_head(seq, head.clone());
        });
    } else {
        sqlx::query("INSERT INTO audit_log (seq, at, kind, detail, prev_hash, hash, openings) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(next)
            .bind(at)
            .bind(kind.as_str())
            .bind(detail)
            .bind(prev.as_slice())
            .bind(hash.as_slice())
            .bind(openings)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    // The transparency log's leaf for this entry, in the same transaction
    // (after any earlier entries the tree lacks).
    crate::log_tree::catch_up_from(conn, seq, size).await?;
    crate::log_tree::append_leaf_in(conn, seq as u64, leaf).await?;
    // Chain and tree now both end at `next`.
    crate::tx_cache::set_head(head);
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

/// A failed write as its caller should hear it: `taken()` when a unique
/// constraint refused it, the database's error (with `context`) otherwise.
pub(crate) fn unique_or(
    context: &'static str,
    taken: impl FnOnce() -> StoreError,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            taken()
        } else {
            StoreError::db(context)(e)
        }
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writes::{Audit, Certify};
    use crate::{Registry, StoreError};
    use symbolon::keys::{RsaAlgorithm, RsaPrivateKey};
    use symbolon::transparency::merkle::{root, MemoryTree};

    /// A registry in a fresh SQLite file (kept while the directory lives).
    async fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        let r = Registry::open(&url).await.unwrap();
        (dir, r)
    }

    fn audit(i: u32) -> WriteOp {
        WriteOp::Audit(Audit {
            kind: AuditKind::KeyReserved,
            detail: format!("{{\"i\":{i}}}"),
        })
    }

    /// A write that appends an audit entry and is then refused, amid
    /// appends in the same batch: its entry is undone with it, and the
    /// appends after it link to the entry before (the head this
    /// transaction had cached is forgotten with the undone write).
    #[tokio::test]
    async fn an_append_undone_in_a_batch_leaves_one_chain_and_tree() {
        let (_dir, r) = registry().await;
        let k = RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap();
        let certify = || {
            WriteOp::Certify(Certify {
                fingerprint: k.public_key().fingerprint(),
                spki: k.public_key().spki_der().to_vec(),
                reservation: None,
            })
        };
        r.writer.submit(certify()).await.unwrap();
        // Appends, then is refused: the key is certified already.
        let undone = WriteOp::Both(Box::new(audit(2)), Box::new(certify()));
        // One task polls all: the writer takes them as one batch.
        let (a, b, c, d) = tokio::join!(
            r.writer.submit(audit(1)),
            r.writer.submit(undone),
            r.writer.submit(audit(3)),
            r.writer.submit(audit(4)),
        );
        assert!(matches!(b, Err(StoreError::DuplicateKey(_))));
        assert_eq!(seqs([a, c, d]), [1, 2, 3]);
        assert_whole(&r, 3).await;
    }

    /// The sequence numbers writes that append answered.
    fn seqs<const N: usize>(outs: [Result<WriteOut, StoreError>; N]) -> Vec<i64> {
        outs.into_iter()
            .map(|o| match o.unwrap() {
                WriteOut::Seq(s) => s,
                _ => panic!("a write that appends answers its sequence number"),
            })
            .collect()
    }

    /// The chain and the tree a registry holds are whole, of `n` entries.
    async fn assert_whole(r: &Registry, n: u64) {
        assert_eq!(r.verify_audit().await.unwrap().unwrap().entries, n as i64);
        let mut tree = MemoryTree::new();
        for e in r.audit_entries(0, 1000).await.unwrap() {
            tree.push(e.leaf_hash()).unwrap();
        }
        assert_eq!(r.log_size().await.unwrap(), n);
        assert_eq!(r.log_root(n).await.unwrap(), root(&tree, n).unwrap());
    }

    /// Appends that wait are written before a write that reads the log
    /// (here the log's index, which reads the entries themselves), and the
    /// appends after it link on.
    #[tokio::test]
    async fn a_write_that_reads_the_log_sees_the_appends_before_it() {
        let (_dir, r) = registry().await;
        let (a, b, index, c) = tokio::join!(
            r.writer.submit(audit(1)),
            r.writer.submit(audit(2)),
            r.writer.submit(WriteOp::IndexLog { limit: 100 }),
            r.writer.submit(audit(3)),
        );
        for o in [a, b, c] {
            assert!(matches!(o.unwrap(), WriteOut::Seq(_)));
        }
        assert!(
            matches!(index.unwrap(), WriteOut::Count(2)),
            "the index read both entries appended before it"
        );
        assert_whole(&r, 3).await;
    }

    fn issuance(k: &RsaPrivateKey, serial: &str, attestation: Option<&str>) -> WriteOp {
        WriteOp::Issuance(crate::writes::Issuance {
            record: Box::new(crate::CertificateRecord {
                serial: serial.parse().unwrap(),
                fingerprint: k.public_key().fingerprint(),
                subject: format!("CN={serial}"),
                profile: "client".into(),
                not_before: 1,
                not_after: 2,
                der: vec![0x30, 0x00],
                generated_on_token: None,
                attestation: attestation.map(str::to_owned),
                issued_at: 3,
            }),
            spki: k.public_key().spki_der().to_vec(),
            reservation: None,
            registration: None,
            detail: format!("{{\"serial\":\"{serial}\"}}"),
        })
    }

    /// Issuances whose rows wait for the batch's end: the same key twice in
    /// one batch is refused once (when the rows are written together, the
    /// key's constraint refuses them all; the rerun with savepoints finds
    /// the write at fault), and a write that reads keys (a certification
    /// of a key issued earlier in the batch) sees the rows before it.
    #[tokio::test]
    async fn issuance_rows_written_together_are_refused_alone() {
        let (_dir, r) = registry().await;
        let keys: Vec<RsaPrivateKey> = (0..3)
            .map(|_| RsaPrivateKey::generate(RsaAlgorithm::Rsa2048).unwrap())
            .collect();
        let certify_again = WriteOp::Certify(Certify {
            fingerprint: keys[1].public_key().fingerprint(),
            spki: keys[1].public_key().spki_der().to_vec(),
            reservation: None,
        });
        let (a, b, again, c, d) = tokio::join!(
            r.writer.submit(issuance(&keys[0], "0a", None)),
            r.writer.submit(issuance(&keys[1], "0b", Some("attested"))),
            r.writer.submit(certify_again),
            r.writer.submit(issuance(&keys[0], "0c", None)),
            r.writer.submit(issuance(&keys[2], "0d", None)),
        );
        assert!(matches!(again, Err(StoreError::DuplicateKey(_))));
        assert!(matches!(c, Err(StoreError::DuplicateKey(_))));
        assert_eq!(seqs([a, b, d]), [1, 2, 3]);
        assert_whole(&r, 3).await;
        let b = r.certificate(&"0b".parse().unwrap()).await.unwrap();
        assert_eq!(b.attestation.as_deref(), Some("attested"));
        assert_eq!(b.fingerprint, keys[1].public_key().fingerprint());
        assert!(matches!(
            r.certificate(&"0c".parse().unwrap()).await,
            Err(StoreError::NotFound(_))
        ));
        for k in &keys {
            let fp = k.public_key().fingerprint();
            assert!(!r.key_available(&fp, None).await.unwrap());
        }
    }

    /// An append the database refuses only when the batch's appends are
    /// written together (a trigger refuses its entry): the batch runs
    /// again with savepoints, and that write alone is refused.
    #[tokio::test]
    async fn an_append_refused_when_written_together_is_refused_alone() {
        let (_dir, r) = registry().await;
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON audit_log WHEN NEW.detail LIKE '%poison%' \
             BEGIN SELECT RAISE(ABORT, 'a poisoned entry'); END",
        )
        .execute(r.pool())
        .await
        .unwrap();
        let poison = WriteOp::Audit(Audit {
            kind: AuditKind::KeyReserved,
            detail: "{\"poison\":1}".into(),
        });
        let (a, b, c, d) = tokio::join!(
            r.writer.submit(audit(1)),
            r.writer.submit(poison),
            r.writer.submit(audit(3)),
            r.writer.submit(audit(4)),
        );
        match b {
            Err(StoreError::Database { context, .. }) => assert_eq!(context, "append audit"),
            _ => panic!("the poisoned append is refused"),
        }
        assert_eq!(seqs([a, c, d]), [1, 2, 3]);
        assert_whole(&r, 3).await;
        // The next batch starts careful and appends on the same chain.
        let (e, f) = tokio::join!(r.writer.submit(audit(5)), r.writer.submit(audit(6)));
        assert!(e.is_ok() && f.is_ok());
        assert_whole(&r, 5).await;
    }
}
