//! The rows of a batch, written together (docs/architecture.md, "Group
//! commit"). An audit append is three statements (the head's
//! compare-and-set, the entry, the tree nodes it closes) and an issuance
//! two more (its key, its certificate). In the writer's batch without
//! savepoints, what the writes would write waits here instead: every
//! write's appends, and the rows of an issuance that reads nothing (no
//! reservation, no registration). [`flush`] then writes all of it in a
//! handful of multi-row statements: the rows before any write that does
//! not let its own wait ([`flush_rows`]), everything before a write that
//! reads the log, and everything before the commit. Each statement is a
//! round trip to the database's thread, which on two busy cores is most of
//! what the writer spends.
//!
//! Nothing about what commits changes: the same rows, in the same
//! transaction, under the same lock (SQLite's immediate transaction,
//! PostgreSQL's row lock on the head, both taken before the first write),
//! and the head moves by the same compare-and-set, from the sequence
//! number the transaction read to the one its last append reached. A write
//! whose rows wait reads nothing that waits, and only a unique constraint
//! could refuse its rows. A flush that fails fails the attempt as a
//! refused write would, and the writer runs the batch again with a
//! savepoint around each write, where nothing waits and the write at fault
//! is refused alone, with its own error (a key issued before is
//! `DuplicateKey` there, as it is without deferral). What a failed flush
//! took is gone, so the transaction is marked and the writer rolls it
//! back whatever the write that saw the failure made of it.
//!
//! The multi-row statements vary with the batch, so they are not kept
//! prepared: they would push the hot single-row ones out of the
//! connection's statement cache.

use sqlx::AnyConnection;
use symbolon::transparency::merkle::Hash;

use crate::tx_cache::{self, Head};
use crate::{CertificateRecord, StoreError};

/// Most entry rows one statement inserts (7 parameters each; SQLite takes
/// 32,766 a statement, PostgreSQL 65,535).
const ENTRIES_PER_INSERT: usize = 128;

/// Most tree nodes one statement inserts (3 parameters each).
const NODES_PER_INSERT: usize = 256;

/// An audit entry's row, as `append_in` would have inserted it.
pub(crate) struct EntryRow {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    pub(crate) kind: &'static str,
    pub(crate) detail: String,
    pub(crate) prev: Vec<u8>,
    pub(crate) hash: Vec<u8>,
    pub(crate) openings: Option<String>,
}

/// What a write lets wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Defer {
    /// Nothing: it writes at once (alone in its batch, inside a savepoint,
    /// or reading the log).
    #[default]
    Nothing,
    /// Its audit appends.
    Appends,
    /// Its appends and its rows: an issuance that reads nothing (no
    /// reservation or registration), whose key and certificate rows are
    /// inserts a unique constraint alone can refuse.
    All,
}

/// A certificate, with its key, as `record_certificate_in` would have
/// recorded it for an issuance without a reservation.
pub(crate) struct IssuedRow {
    pub(crate) record: CertificateRecord,
    pub(crate) spki: Vec<u8>,
    pub(crate) at: i64,
    pub(crate) requester: Option<String>,
}

/// What the transaction's writes have yet to write.
#[derive(Default)]
pub(crate) struct Pending {
    /// Issuances' keys and certificates, written before anything else so
    /// that the certificates' references to their keys hold.
    pub(crate) issued: Vec<IssuedRow>,
    /// The head's sequence number as the database holds it, and where the
    /// appends since have moved it.
    pub(crate) head: Option<(i64, Head)>,
    pub(crate) entries: Vec<EntryRow>,
    /// (level, index, hash) of each node the appends closed.
    pub(crate) nodes: Vec<(u32, u64, Hash)>,
}

impl Pending {
    /// Moves the head from `from` (kept from the first move since the last
    /// flush) to `to`.
    pub(crate) fn move_head(&mut self, from: i64, to: Head) {
        let from = self.head.take().map_or(from, |(first, _)| first);
        self.head = Some((from, to));
    }
}

/// Writes what waits: the issuances' rows, the entries, the nodes, then the
/// head's move. A transaction with nothing waiting (or none at all) runs no
/// statement.
pub(crate) async fn flush(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let written = write_pending(conn).await;
    if written.is_err() {
        tx_cache::mark_flush_failed();
    }
    written
}

async fn write_pending(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let Pending {
        issued,
        head,
        entries,
        nodes,
    } = tx_cache::take_pending();
    write_issued(conn, &issued).await?;
    for chunk in entries.chunks(ENTRIES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO audit_log (seq, at, kind, detail, prev_hash, hash, openings) VALUES {}",
            placeholders(chunk.len(), 7)
        );
        let mut insert = sqlx::query(&sql).persistent(false);
        for e in chunk {
            insert = insert
                .bind(e.seq)
                .bind(e.at)
                .bind(e.kind)
                .bind(e.detail.as_str())
                .bind(e.prev.as_slice())
                .bind(e.hash.as_slice())
                .bind(e.openings.as_deref());
        }
        insert
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("append audit"))?;
    }
    for chunk in nodes.chunks(NODES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO log_nodes (level, idx, hash) VALUES {}",
            placeholders(chunk.len(), 3)
        );
        let mut insert = sqlx::query(&sql).persistent(false);
        for &(level, idx, hash) in chunk {
            let idx = i64::try_from(idx).map_err(|_| {
                StoreError::Corrupt(format!("node index {idx} is beyond the registry's range"))
            })?;
            insert = insert.bind(i64::from(level)).bind(idx).bind(hash.to_vec());
        }
        insert
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("append to the log tree"))?;
    }
    if let Some((from, to)) = head {
        move_head(conn, from, &to).await?;
    }
    Ok(())
}

/// Writes only the issuances' rows that wait (before a write that may read
/// keys or certificates); appends go on waiting.
pub(crate) async fn flush_rows(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let mut issued = Vec::new();
    tx_cache::pend(|p| issued = std::mem::take(&mut p.issued));
    let written = write_issued(conn, &issued).await;
    if written.is_err() {
        tx_cache::mark_flush_failed();
    }
    written
}

/// The keys (certified, without a reservation), the certificates, and
/// their attestations, each kind in as few statements as the limits allow.
async fn write_issued(conn: &mut AnyConnection, issued: &[IssuedRow]) -> Result<(), StoreError> {
    for chunk in issued.chunks(ENTRIES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO public_keys (fingerprint, spki, state, registered_at, updated_at) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut insert = sqlx::query(&sql).persistent(false);
        for i in chunk {
            insert = insert
                .bind(i.record.fingerprint.to_string())
                .bind(i.spki.as_slice())
                .bind("certified")
                .bind(i.at)
                .bind(i.at);
        }
        insert
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("certify key"))?;
    }
    for chunk in issued.chunks(ENTRIES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO certificates (serial, fingerprint, subject, profile, not_before, not_after, der, \
             generated_on_token, issued_at, requester) VALUES {}",
            placeholders(chunk.len(), 10)
        );
        let mut insert = sqlx::query(&sql).persistent(false);
        for i in chunk {
            let c = &i.record;
            insert = insert
                .bind(c.serial.as_str())
                .bind(c.fingerprint.to_string())
                .bind(c.subject.as_str())
                .bind(c.profile.as_str())
                .bind(c.not_before)
                .bind(c.not_after)
                .bind(c.der.as_slice())
                .bind(c.generated_on_token.map(|s| s.to_string()))
                .bind(c.issued_at)
                .bind(i.requester.as_deref());
        }
        insert
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record certificate"))?;
    }
    let attested: Vec<(&str, &str)> = issued
        .iter()
        .filter_map(|i| Some((i.record.serial.as_str(), i.record.attestation.as_deref()?)))
        .collect();
    for chunk in attested.chunks(ENTRIES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO certificate_attestations (serial, attestation) VALUES {}",
            placeholders(chunk.len(), 2)
        );
        let mut insert = sqlx::query(&sql).persistent(false);
        for &(serial, attestation) in chunk {
            insert = insert.bind(serial).bind(attestation);
        }
        insert
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("record certificate"))?;
    }
    Ok(())
}

/// The head's compare-and-set: from `from` to `to`, or an error if another
/// writer moved it (which the transaction's lock rules out).
pub(crate) async fn move_head(
    conn: &mut AnyConnection,
    from: i64,
    to: &Head,
) -> Result<(), StoreError> {
    let moved = sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3")
        .bind(to.seq)
        .bind(to.hash.as_slice())
        .bind(from)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("append audit"))?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::db("append audit")(sqlx::Error::Protocol(
            "the audit head moved during the append".into(),
        )));
    }
    Ok(())
}

/// `rows` groups of `columns` numbered placeholders: both SQLite and
/// PostgreSQL read `$n`, where sqlx's query builder writes `?` for its Any
/// driver.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_column_of_every_row() {
        assert_eq!(placeholders(1, 3), "($1, $2, $3)");
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
    }

    #[test]
    fn the_head_moves_from_where_the_database_holds_it() {
        let mut p = Pending::default();
        let head = |seq| Head {
            seq,
            hash: vec![u8::try_from(seq).unwrap(); 32],
        };
        p.move_head(4, head(5));
        p.move_head(5, head(6));
        p.move_head(6, head(7));
        let (from, to) = p.head.unwrap();
        assert_eq!((from, to.seq), (4, 7));
    }
}
