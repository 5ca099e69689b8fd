//! Which log entries name which object (docs/transparency.md §10): the
//! index an evidence bundle is gathered by, mapping each reference
//! `symbolon::evidence::refs` finds in an entry to the entry. It is derived from the
//! log, brought up to it before it is read (in bounded transactions), and
//! never on the audit append's path.

use sqlx::{AnyConnection, Row};
use symbolon::evidence::refs::{refs, LogRef};

use crate::{Registry, StoreError};

/// Most entries one indexing transaction reads.
pub(crate) const INDEX_BATCH: i64 = 10_000;

/// Indexes at most `limit` entries past the index's head; returns how many.
pub(crate) async fn index_in(conn: &mut AnyConnection, limit: i64) -> Result<usize, StoreError> {
    let db = || StoreError::db("index the log");
    let row = sqlx::query("SELECT seq, hash FROM log_refs_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await
        .map_err(db())?;
    let (mut head, hash): (i64, Option<Vec<u8>>) = (row.get(0), row.get(1));
    if head > 0 {
        let now: Option<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
            .bind(head)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db())?;
        if now.is_none() || now != hash {
            // The entry the index ends at is gone or another (a registry
            // restored from an older copy, a log rewritten): what was
            // indexed is not the log's any more. Start again.
            tracing::warn!(
                indexed = head,
                "the log changed under its index; reindexing"
            );
            sqlx::query("DELETE FROM log_refs")
                .execute(&mut *conn)
                .await
                .map_err(db())?;
            sqlx::query("UPDATE log_refs_head SET seq = 0, hash = NULL WHERE id = 1")
                .execute(&mut *conn)
                .await
                .map_err(db())?;
            head = 0;
        }
    }
    let rows = sqlx::query(
        "SELECT seq, kind, detail, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(head)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db())?;
    let Some(last) = rows.last() else {
        return Ok(0);
    };
    let (last_seq, last_hash): (i64, Vec<u8>) = (last.get(0), last.get(3));
    for r in &rows {
        let seq: i64 = r.get(0);
        // A detail that is not JSON names nothing (the log never writes one).
        let detail = serde_json::from_str(&r.get::<String, _>(2)).unwrap_or_default();
        for reference in refs(&r.get::<String, _>(1), &detail) {
            sqlx::query("INSERT INTO log_refs (ref, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(reference)
                .bind(seq)
                .execute(&mut *conn)
                .await
                .map_err(db())?;
        }
    }
    // Compare-and-set: another process that indexed the same entries
    // meanwhile wrote the same rows (the inserts are idempotent) and moved
    // the head itself; the caller reads the head again either way.
    sqlx::query("UPDATE log_refs_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
        .bind(last_seq)
        .bind(last_hash)
        .bind(head)
        .execute(&mut *conn)
        .await
        .map_err(db())?;
    Ok(rows.len())
}

impl Registry {
    /// Brings the log's object index up to the log.
    pub async fn index_log(&self) -> Result<u64, StoreError> {
        let mut added = 0u64;
        loop {
            match self
                .writer()
                .submit(crate::writer::WriteOp::IndexLog { limit: INDEX_BATCH })
                .await?
            {
                crate::writer::WriteOut::Count(0) => return Ok(added),
                crate::writer::WriteOut::Count(n) => added += n as u64,
                _ => {
                    return Err(StoreError::Corrupt(
                        "the writer answered out of kind".into(),
                    ))
                }
            }
        }
    }

    /// The entries that name any of `refs` (after [`Registry::index_log`]),
    /// with their kinds, in order.
    pub async fn log_naming(&self, refs: &[LogRef]) -> Result<Vec<(i64, String)>, StoreError> {
        let mut out = Vec::new();
        for chunk in refs.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT DISTINCT r.seq, a.kind FROM log_refs r JOIN audit_log a ON a.seq = r.seq \
                 WHERE r.ref IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q.bind(r.as_text());
            }
            let rows = q
                .fetch_all(self.pool())
                .await
                .map_err(StoreError::db("read the log index"))?;
            out.extend(
                rows.iter()
                    .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1))),
            );
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
