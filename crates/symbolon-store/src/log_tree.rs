//! The transparency log's tree in the registry (docs/transparency.md §2):
//! `log_nodes` holds its complete subtrees, one leaf per audit entry,
//! written in the entry's own transaction (an append stores O(log n)
//! hashes); `log_checkpoints` holds every checkpoint the log key signed.
//! Tree heads and proofs are computed by `symbolon::transparency::merkle`
//! over nodes read in one query.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};
use symbolon::transparency::entry;
use symbolon::transparency::merkle::{self, Hash, MissingNode, NodeRecorder, NodeStore};

use crate::registry::Registry;
use crate::StoreError;

/// Most nodes read by one query.
const NODES_PER_QUERY: usize = 64;

/// A checkpoint the log signed, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it signs.
    pub size: u64,
    /// The root it signs.
    pub root: Hash,
    /// The signed note.
    pub note: String,
    /// When it was signed (Unix seconds).
    pub signed_at: i64,
}

/// A write to the log's own tables. Checkpoints and cosignatures are not
/// audited: each is itself a signed statement, kept as such, and auditing
/// it would grow the tree it signs (a witness would never catch up).
/// Registering a witness is an admin's act, and is audited.
pub(crate) enum LogWrite {
    /// Keeps a signed checkpoint; refuses a second, different head for a
    /// size already signed.
    Checkpoint { size: u64, root: Hash, note: String },
    /// Registers a witness's cosignature key.
    AddWitness {
        name: String,
        vkey: String,
        public_key: String,
    },
    /// Removes a witness (audited): it is no longer counted, served or
    /// heard; its name and key stay taken.
    RemoveWitness { name: String },
    /// Appends at most `limit` leaves of entries the tree lacks (a
    /// registry from before the tree, caught up in bounded transactions).
    CatchUp { limit: u64 },
    /// Keeps a witness's cosignature of the checkpoint of `size` (the
    /// caller verified it); a second one for the same size is ignored.
    Cosign {
        size: u64,
        witness: String,
        line: String,
        time: i64,
    },
}

/// What a [`LogWrite`] did.
pub(crate) enum LogOut {
    /// Nothing to audit.
    Done,
    /// An audit entry to append in the same transaction.
    Audit(crate::AuditKind, serde_json::Value),
    /// How many leaves were appended.
    Count(usize),
}

/// Most leaves one catch-up transaction appends.
pub const CATCH_UP_BATCH: u64 = 10_000;

/// A registered witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessRecord {
    /// Its name (the key name).
    pub name: String,
    /// Its verifier key string (type 0x04).
    pub vkey: String,
    /// When it was added (Unix seconds).
    pub added_at: i64,
    /// Who added it.
    pub added_by: String,
}

fn corrupt(m: impl Into<String>) -> StoreError {
    StoreError::Corrupt(m.into())
}

fn as_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| corrupt(format!("{what} {v} is beyond the registry's range")))
}

fn to_hash(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::try_from(bytes).map_err(|_| corrupt("a stored tree hash is not 32 bytes"))
}

/// How many leaves the tree holds.
pub(crate) async fn size_in(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_nodes WHERE level = 0")
            .fetch_one(conn)
            .await
            .map_err(StoreError::db("read the log tree"))?;
    u64::try_from(n).map_err(|_| corrupt("the log tree's size is negative"))
}

/// Nodes fetched ahead of a computation that needs them.
struct NodeMap(BTreeMap<(u32, u64), Hash>);

impl NodeStore for NodeMap {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

async fn fetch(conn: &mut AnyConnection, keys: &[(u32, u64)]) -> Result<NodeMap, StoreError> {
    let mut map = BTreeMap::new();
    for chunk in keys.chunks(NODES_PER_QUERY) {
        let clauses: Vec<String> = (0..chunk.len())
            .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "SELECT level, idx, hash FROM log_nodes WHERE {}",
            clauses.join(" OR ")
        );
        let mut q = sqlx::query(&sql);
        for &(level, idx) in chunk {
            q = q.bind(i64::from(level)).bind(as_i64(idx, "node index")?);
        }
        for row in q
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("read the log tree"))?
        {
            let (level, idx): (i64, i64) = (row.get(0), row.get(1));
            let key = (
                u32::try_from(level).map_err(|_| corrupt("a stored tree level is out of range"))?,
                u64::try_from(idx).map_err(|_| corrupt("a stored tree index is negative"))?,
            );
            map.insert(key, to_hash(row.get(2))?);
        }
    }
    Ok(NodeMap(map))
}

/// Appends the leaves of audit entries the tree does not hold yet, up to
/// and including `seq`: normally none (the audit append then adds its own
/// leaf); after an upgrade from a registry without the tree, every earlier
/// entry, once.
pub(crate) async fn catch_up_in(conn: &mut AnyConnection, seq: i64) -> Result<(), StoreError> {
    let size = size_in(conn).await?;
    catch_up(conn, seq, size).await
}

/// [`catch_up_in`] for a caller that has read the tree's size (stored
/// leaves, as `size_in` counts them) in the same transaction.
pub(crate) async fn catch_up_from(
    conn: &mut AnyConnection,
    seq: i64,
    size: i64,
) -> Result<(), StoreError> {
    let size = u64::try_from(size).map_err(|_| corrupt("the log tree's size is negative"))?;
    catch_up(conn, seq, size).await
}

async fn catch_up(conn: &mut AnyConnection, seq: i64, mut size: u64) -> Result<(), StoreError> {
    let want = u64::try_from(seq).map_err(|_| corrupt("a negative audit sequence number"))?;
    if size > want {
        return Err(corrupt(format!(
            "the log tree holds {size} leaves but the audit log only {want} entries"
        )));
    }
    while size < want {
        let rows = sqlx::query(
            "SELECT seq, at, kind, detail, prev_hash FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT 1000",
        )
        .bind(as_i64(size, "tree size")?)
        .bind(seq)
        .fetch_all(&mut *conn)
        .await
        .map_err(StoreError::db("read the audit log"))?;
        if rows.is_empty() {
            return Err(corrupt(format!("audit entry {} is missing", size + 1)));
        }
        for row in rows {
            let s: i64 = row.get(0);
            if s != as_i64(size + 1, "sequence")? {
                return Err(corrupt(format!("audit entry {} is missing", size + 1)));
            }
            let leaf = merkle::leaf_hash(&entry::encode(
                s,
                row.get(1),
                &row.get::<String, _>(2),
                &row.get::<String, _>(3),
                &row.get::<Vec<u8>, _>(4),
            ));
            append_leaf_in(conn, size, leaf).await?;
            size += 1;
        }
    }
    Ok(())
}

/// Stores leaf `index` (the tree's size before it) and the complete
/// subtrees it closes.
pub(crate) async fn append_leaf_in(
    conn: &mut AnyConnection,
    index: u64,
    leaf: Hash,
) -> Result<(), StoreError> {
    // The tree moves: a head cached by an audit append no longer holds
    // (the append records it again after this).
    crate::tx_cache::forget_head();
    let recorder = NodeRecorder::default();
    let Ok(_) = merkle::append(&recorder, index, leaf);
    let mut map = BTreeMap::new();
    let mut missing = Vec::new();
    for (level, idx) in recorder.into_keys() {
        match crate::tx_cache::node(level, idx) {
            Some(hash) => {
                map.insert((level, idx), hash);
            }
            None => missing.push((level, idx)),
        }
    }
    if !missing.is_empty() {
        // Nodes read from the database (the frontier as the transaction
        // found it), in one query; any node waiting is written first.
        if crate::tx_cache::nodes_pending() {
            crate::deferred::flush(conn).await?;
        }
        let NodeMap(read) = fetch(conn, &missing).await?;
        for (level, idx) in missing {
            let hash = read.get(&(level, idx)).copied().ok_or_else(|| {
                corrupt(format!(
                    "the log tree lacks node ({level}, {idx}) below its size"
                ))
            })?;
            crate::tx_cache::remember_node(level, idx, hash);
            map.insert((level, idx), hash);
        }
    }
    let nodes = merkle::append(&NodeMap(map), index, leaf)
        .map_err(|m| corrupt(format!("the log tree: {m}")))?;
    // The leaf and the subtrees it closes in one statement (a round trip
    // each would be most of an append's cost), or none while appends wait.
    if nodes.is_empty() {
        return Ok(());
    }
    for &(level, idx, hash) in &nodes {
        crate::tx_cache::remember_node(level, idx, hash);
    }
    if crate::tx_cache::defers() {
        crate::tx_cache::pend(|p| p.nodes.extend_from_slice(&nodes));
    } else {
        let sql = format!(
            "INSERT INTO log_nodes (level, idx, hash) VALUES {}",
            crate::deferred::placeholders(nodes.len(), 3)
        );
        let mut insert = sqlx::query(&sql).persistent(false);
        for &(level, idx, hash) in &nodes {
            insert = insert
                .bind(i64::from(level))
                .bind(as_i64(idx, "node index")?)
                .bind(hash.to_vec());
        }
        insert
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("append to the log tree"))?;
    }
    crate::tx_cache::keep_frontier(index.saturating_add(1));
    Ok(())
}

pub(crate) async fn execute(
    conn: &mut AnyConnection,
    actor: Option<&crate::Actor>,
    w: &LogWrite,
) -> Result<LogOut, StoreError> {
    match w {
        LogWrite::CatchUp { limit } => {
            let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
                .fetch_one(&mut *conn)
                .await
                .map_err(StoreError::db("read the audit head"))?;
            let size = size_in(conn).await?;
            let head = u64::try_from(head).map_err(|_| corrupt("a negative audit head"))?;
            let target = head.min(size.saturating_add(*limit));
            if target <= size {
                return Ok(LogOut::Count(0));
            }
            catch_up_in(conn, as_i64(target, "sequence")?).await?;
            Ok(LogOut::Count((target - size) as usize))
        }
        LogWrite::AddWitness {
            name,
            vkey,
            public_key,
        } => {
            let by = actor.map_or_else(|| "operator".to_owned(), |a| a.name.to_string());
            sqlx::query(
                "INSERT INTO log_witnesses (name, vkey, public_key, added_at, added_by) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(name.as_str())
            .bind(vkey.as_str())
            .bind(public_key.as_str())
            .bind(crate::registry::now())
            .bind(by)
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                if crate::writer::is_unique_violation(&e) {
                    StoreError::AlreadyExists(format!(
                        "witness {name:?} or its public key (one key is one witness; a removed witness's name and key are not taken again)"
                    ))
                } else {
                    StoreError::db("register a witness")(e)
                }
            })?;
            Ok(LogOut::Audit(
                crate::AuditKind::LogWitnessAdded,
                serde_json::json!({ "witness": name, "key": vkey }),
            ))
        }
        LogWrite::RemoveWitness { name } => {
            let by = actor.map_or_else(|| "operator".to_owned(), |a| a.name.to_string());
            let vkey: Option<String> = sqlx::query_scalar(
                "UPDATE log_witnesses SET removed_at = $1, removed_by = $2 \
                 WHERE name = $3 AND removed_at IS NULL RETURNING vkey",
            )
            .bind(crate::registry::now())
            .bind(by)
            .bind(name.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db("remove a witness"))?;
            let Some(vkey) = vkey else {
                return Err(StoreError::NotFound(format!(
                    "witness {name:?} (not registered, or removed already)"
                )));
            };
            Ok(LogOut::Audit(
                crate::AuditKind::LogWitnessRemoved,
                serde_json::json!({ "witness": name, "key": vkey }),
            ))
        }
        LogWrite::Cosign {
            size,
            witness,
            line,
            time,
        } => {
            let done = sqlx::query(
                "INSERT INTO log_cosignatures (size, witness, line, cosigned_at) VALUES ($1, $2, $3, $4) ON CONFLICT (size, witness) DO NOTHING",
            )
            .bind(as_i64(*size, "checkpoint size")?)
            .bind(witness.as_str())
            .bind(line.as_str())
            .bind(*time)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("keep a cosignature"))?;
            Ok(LogOut::Count(done.rows_affected() as usize))
        }
        LogWrite::Checkpoint { size, root, note } => {
            let size_i = as_i64(*size, "checkpoint size")?;
            sqlx::query(
                "INSERT INTO log_checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING",
            )
            .bind(size_i)
            .bind(root.as_slice())
            .bind(note.as_str())
            .bind(crate::registry::now())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record a checkpoint"))?;
            let stored: Vec<u8> =
                sqlx::query_scalar("SELECT root FROM log_checkpoints WHERE size = $1")
                    .bind(size_i)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(StoreError::db("record a checkpoint"))?;
            if stored.as_slice() != root.as_slice() {
                return Err(corrupt(format!(
                    "a checkpoint of size {size} with another root was signed before: the log would fork"
                )));
            }
            Ok(LogOut::Done)
        }
    }
}

fn checkpoint_of(r: sqlx::any::AnyRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: u64::try_from(r.get::<i64, _>(0))
            .map_err(|_| corrupt("a checkpoint's size is negative"))?,
        root: to_hash(r.get(1))?,
        note: r.get(2),
        signed_at: r.get(3),
    })
}

/// The two passes of a read: first recording which nodes a computation
/// visits (which depends only on indices and sizes), then over those nodes,
/// fetched in one query.
enum Nodes {
    Recording(NodeRecorder),
    Fetched(NodeMap),
}

impl NodeStore for Nodes {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        match self {
            Self::Recording(r) => {
                let Ok(h) = r.node(level, index);
                Ok(h)
            }
            Self::Fetched(m) => m.node(level, index),
        }
    }
}

async fn over_nodes<T>(
    registry: &Registry,
    f: impl Fn(&Nodes) -> Result<T, MissingNode>,
) -> Result<T, StoreError> {
    let recording = Nodes::Recording(NodeRecorder::default());
    // The recording pass cannot fail (every read answers); only which
    // nodes it read matters.
    let _ = f(&recording);
    let Nodes::Recording(recorder) = recording else {
        unreachable!("made as Recording above")
    };
    let mut conn = registry
        .pool()
        .acquire()
        .await
        .map_err(StoreError::db("read the log tree"))?;
    let fetched = Nodes::Fetched(fetch(&mut conn, &recorder.into_keys()).await?);
    f(&fetched).map_err(|m| corrupt(format!("the log tree: {m}")))
}

impl Registry {
    /// How many entries the log's tree holds.
    pub async fn log_size(&self) -> Result<u64, StoreError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(StoreError::db("read the log tree"))?;
        size_in(&mut conn).await
    }

    fn check_size(size: u64, held: u64) -> Result<(), StoreError> {
        if size > held {
            return Err(StoreError::NotFound(format!(
                "a tree of {size} entries: the log holds {held}"
            )));
        }
        Ok(())
    }

    /// The tree head of the first `size` entries.
    pub async fn log_root(&self, size: u64) -> Result<Hash, StoreError> {
        Self::check_size(size, self.log_size().await?)?;
        over_nodes(self, |s| merkle::root(s, size)).await
    }

    /// The inclusion proof of leaf `index` in the tree of `size` entries.
    pub async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        Self::check_size(size, self.log_size().await?)?;
        if index >= size {
            return Err(StoreError::NotFound(format!(
                "entry {} in a tree of {size} entries",
                index.saturating_add(1)
            )));
        }
        over_nodes(self, |s| {
            merkle::inclusion_proof(s, index, size).map_err(|e| match e {
                merkle::TreeError::Store(m) => m,
                merkle::TreeError::OutOfRange(_) => MissingNode { level: 0, index },
            })
        })
        .await
    }

    /// The consistency proof between the trees of `old` and `new` entries.
    pub async fn log_consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        Self::check_size(new, self.log_size().await?)?;
        if old > new {
            return Err(StoreError::NotFound(format!(
                "a proof from {old} entries back to {new}: a log only grows"
            )));
        }
        over_nodes(self, |s| {
            merkle::consistency_proof(s, old, new).map_err(|e| match e {
                merkle::TreeError::Store(m) => m,
                merkle::TreeError::OutOfRange(_) => MissingNode {
                    level: 0,
                    index: old,
                },
            })
        })
        .await
    }

    /// The newest checkpoint the log signed.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT size, root, note, signed_at FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::db("read checkpoints"))?;
        row.map(checkpoint_of).transpose()
    }

    /// The checkpoint the log signed for `size`, if any.
    pub async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row =
            sqlx::query("SELECT size, root, note, signed_at FROM log_checkpoints WHERE size = $1")
                .bind(as_i64(size, "checkpoint size")?)
                .fetch_optional(self.pool())
                .await
                .map_err(StoreError::db("read checkpoints"))?;
        row.map(checkpoint_of).transpose()
    }

    /// The newest checkpoint at least `k` registered witnesses cosigned;
    /// with `by`, at least `k` of the witnesses it names.
    pub async fn latest_witnessed_checkpoint(
        &self,
        k: u32,
        by: Option<&[&str]>,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let filter = match by {
            Some(names) if !names.is_empty() => format!(
                "AND c.witness IN ({})",
                (0..names.len())
                    .map(|i| format!("${}", i + 2))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(_) => return Ok(None),
            None => String::new(),
        };
        let sql = format!(
            "SELECT c.size FROM log_cosignatures c JOIN log_witnesses w ON w.name = c.witness \
             WHERE w.removed_at IS NULL {filter} GROUP BY c.size HAVING COUNT(*) >= $1 ORDER BY c.size DESC LIMIT 1"
        );
        let mut q = sqlx::query_scalar(&sql).bind(i64::from(k));
        for name in by.unwrap_or_default() {
            q = q.bind(*name);
        }
        let size: Option<i64> = q
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::db("read cosignatures"))?;
        match size {
            Some(s) => {
                let s = u64::try_from(s).map_err(|_| corrupt("a cosigned size is negative"))?;
                self.checkpoint_at(s).await
            }
            None => Ok(None),
        }
    }

    /// The current witnesses' cosignature lines of the checkpoint of
    /// `size`, in the order of the witnesses' names.
    pub async fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT c.line FROM log_cosignatures c JOIN log_witnesses w ON w.name = c.witness \
             WHERE c.size = $1 AND w.removed_at IS NULL ORDER BY c.witness LIMIT 64",
        )
        .bind(as_i64(size, "checkpoint size")?)
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::db("read cosignatures"))
    }

    /// Keeps witness `witness`'s cosignature `line` (verified by the
    /// caller) of the checkpoint of `size`, made at `time`; false when one
    /// of that witness for that size was kept before (it stays).
    pub async fn record_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: String,
        time: i64,
    ) -> Result<bool, StoreError> {
        match self
            .writer()
            .submit(crate::writer::WriteOp::Log(LogWrite::Cosign {
                size,
                witness: witness.to_owned(),
                line,
                time,
            }))
            .await?
        {
            crate::writer::WriteOut::Count(n) => Ok(n > 0),
            _ => Err(corrupt("the writer answered out of kind")),
        }
    }

    /// Registers a witness (its name, type-0x04 verifier key and public
    /// key in hex), audited; refuses a name or public key registered
    /// before: one key is one witness, whatever its names.
    pub async fn add_witness(
        &self,
        name: &str,
        vkey: &str,
        public_key: &str,
    ) -> Result<i64, StoreError> {
        match self
            .writer()
            .submit(crate::writer::WriteOp::Log(LogWrite::AddWitness {
                name: name.to_owned(),
                vkey: vkey.to_owned(),
                public_key: public_key.to_owned(),
            }))
            .await?
        {
            crate::writer::WriteOut::Seq(seq) => Ok(seq),
            _ => Err(corrupt("the writer answered out of kind")),
        }
    }

    /// Removes witness `name` (audited).
    pub async fn remove_witness(&self, name: &str) -> Result<i64, StoreError> {
        match self
            .writer()
            .submit(crate::writer::WriteOp::Log(LogWrite::RemoveWitness {
                name: name.to_owned(),
            }))
            .await?
        {
            crate::writer::WriteOut::Seq(seq) => Ok(seq),
            _ => Err(corrupt("the writer answered out of kind")),
        }
    }

    /// The registered witnesses not removed, by name.
    pub async fn witnesses(&self) -> Result<Vec<WitnessRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT name, vkey, added_at, added_by FROM log_witnesses WHERE removed_at IS NULL ORDER BY name")
                .fetch_all(self.pool())
                .await
                .map_err(StoreError::db("read witnesses"))?;
        Ok(rows
            .into_iter()
            .map(|r| WitnessRecord {
                name: r.get(0),
                vkey: r.get(1),
                added_at: r.get(2),
                added_by: r.get(3),
            })
            .collect())
    }

    /// Keeps a checkpoint the log key signed over the tree of `size`
    /// entries with head `root`; refuses a different head for a size
    /// signed before.
    pub async fn record_checkpoint(
        &self,
        size: u64,
        root: Hash,
        note: String,
    ) -> Result<(), StoreError> {
        self.writer()
            .submit(crate::writer::WriteOp::Log(LogWrite::Checkpoint {
                size,
                root,
                note,
            }))
            .await
            .map(|_| ())
    }

    /// Brings the tree up to the audit log, in transactions of at most
    /// [`CATCH_UP_BATCH`] leaves so that other writers wait for one batch
    /// at a time (a registry from before the tree: the service runs this
    /// at start). Returns how many leaves were appended.
    pub async fn catch_up_log(&self) -> Result<u64, StoreError> {
        let mut added = 0u64;
        loop {
            match self
                .writer()
                .submit(crate::writer::WriteOp::Log(LogWrite::CatchUp {
                    limit: CATCH_UP_BATCH,
                }))
                .await?
            {
                crate::writer::WriteOut::Count(0) => return Ok(added),
                crate::writer::WriteOut::Count(n) => added += n as u64,
                _ => return Err(corrupt("the writer answered out of kind")),
            }
        }
    }

    /// The audit entry at `seq`, as the log serves it (its committed
    /// fields closed: no openings).
    pub async fn log_entry(&self, seq: i64) -> Result<entry::LogEntry, StoreError> {
        self.audit_entries(seq.saturating_sub(1), 1)
            .await?
            .into_iter()
            .next()
            .filter(|e| e.seq == seq)
            .map(|e| entry::LogEntry {
                openings: None,
                ..e
            })
            .ok_or_else(|| StoreError::NotFound(format!("log entry {seq}")))
    }
}
