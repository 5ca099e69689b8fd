//! What the writer's transaction already knows of the audit chain's head
//! and the log tree's nodes, so the appends of one batch read them from the
//! database once instead of once each (each read is a round trip to the
//! database's thread, and the writer is the service's one serial path).
//!
//! Exact for as long as it lives: it lives for one transaction, during
//! which no other writer can move the head or the tree (SQLite's immediate
//! transaction; PostgreSQL's lock on the head row, taken first). A write
//! that is undone (its savepoint rolled back) clears it, and a leaf stored
//! by anything but the audit append forgets the head. Outside the writer
//! there is none, and every read goes to the database as before.
//!
//! It also holds what the transaction's appends have yet to write, while
//! the writer lets them wait (`deferred`): their entries, tree nodes and
//! the head's move, written together before anything else reads them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;

use symbolon::transparency::merkle::Hash;

pub(crate) use crate::deferred::{Defer, Pending};

/// The chain's head after the last append of this transaction.
#[derive(Clone)]
pub(crate) struct Head {
    /// The newest entry's sequence number.
    pub(crate) seq: i64,
    /// Its hash. The tree then holds `seq` leaves: the append stored the
    /// last.
    pub(crate) hash: Vec<u8>,
}

#[derive(Default)]
struct Known {
    head: Option<Head>,
    /// Tree nodes written or read in this transaction, by (level, index):
    /// the frontier of the tree as it grows.
    nodes: BTreeMap<(u32, u64), Hash>,
    /// What now waits in `pending` instead of being written.
    defer: Defer,
    /// A flush failed: what it took is lost, and the transaction must not
    /// commit.
    flush_failed: bool,
    pending: Pending,
}

tokio::task_local! {
    static KNOWN: RefCell<Known>;
}

/// Runs `transaction` with an empty cache, dropped when it ends.
pub(crate) async fn scope<F: Future>(transaction: F) -> F::Output {
    KNOWN
        .scope(RefCell::new(Known::default()), transaction)
        .await
}

/// The head this transaction left, if it appended and nothing undid it.
pub(crate) fn head() -> Option<Head> {
    KNOWN.try_with(|k| k.borrow().head.clone()).ok().flatten()
}

/// Records the head an append just wrote.
pub(crate) fn set_head(head: Head) {
    let _ = KNOWN.try_with(|k| k.borrow_mut().head = Some(head));
}

/// Forgets the head (the tree grew without an audit append).
pub(crate) fn forget_head() {
    let _ = KNOWN.try_with(|k| k.borrow_mut().head = None);
}

/// A node this transaction has seen.
pub(crate) fn node(level: u32, index: u64) -> Option<Hash> {
    KNOWN
        .try_with(|k| k.borrow().nodes.get(&(level, index)).copied())
        .ok()
        .flatten()
}

/// Remembers a node read or written in this transaction.
pub(crate) fn remember_node(level: u32, index: u64, hash: Hash) {
    let _ = KNOWN.try_with(|k| k.borrow_mut().nodes.insert((level, index), hash));
}

/// Keeps only the nodes the next append can need: the roots of the
/// complete subtrees of a tree of `size` leaves (at most 64), so a long
/// catch-up does not hold every node it wrote.
pub(crate) fn keep_frontier(size: u64) {
    let _ = KNOWN.try_with(|k| {
        k.borrow_mut().nodes.retain(|&(level, index), _| {
            level < 64 && (size >> level) & 1 == 1 && index == (size >> level) - 1
        })
    });
}

/// Sets what the next write lets wait. What waits already is the
/// caller's to flush.
pub(crate) fn set_defer(defer: Defer) {
    let _ = KNOWN.try_with(|k| k.borrow_mut().defer = defer);
}

/// What a write now lets wait (nothing, outside a transaction).
fn deferring() -> Defer {
    KNOWN.try_with(|k| k.borrow().defer).unwrap_or_default()
}

/// Whether an append now waits instead of writing.
pub(crate) fn defers() -> bool {
    deferring() != Defer::Nothing
}

/// Whether an issuance's rows now wait instead of being written.
pub(crate) fn defers_rows() -> bool {
    deferring() == Defer::All
}

/// Whether appends wait (an entry, a tree node or the head's move).
pub(crate) fn appends_pending() -> bool {
    KNOWN
        .try_with(|k| {
            let p = &k.borrow().pending;
            p.head.is_some() || !p.entries.is_empty() || !p.nodes.is_empty()
        })
        .unwrap_or(false)
}

/// Whether tree nodes wait.
pub(crate) fn nodes_pending() -> bool {
    KNOWN
        .try_with(|k| !k.borrow().pending.nodes.is_empty())
        .unwrap_or(false)
}

/// Marks the transaction as one that must not commit.
pub(crate) fn mark_flush_failed() {
    let _ = KNOWN.try_with(|k| k.borrow_mut().flush_failed = true);
}

/// Whether a flush failed in this transaction.
pub(crate) fn flush_failed() -> bool {
    KNOWN.try_with(|k| k.borrow().flush_failed).unwrap_or(false)
}

/// Adds to what waits: `f` runs on it.
pub(crate) fn pend(f: impl FnOnce(&mut Pending)) {
    let _ = KNOWN.try_with(|k| f(&mut k.borrow_mut().pending));
}

/// Takes what waits, leaving nothing.
pub(crate) fn take_pending() -> Pending {
    KNOWN
        .try_with(|k| std::mem::take(&mut k.borrow_mut().pending))
        .unwrap_or_default()
}

/// Forgets everything: a write was undone.
pub(crate) fn clear() {
    let _ = KNOWN.try_with(|k| *k.borrow_mut() = Known::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_known_outside_a_transaction() {
        set_head(Head {
            seq: 1,
            hash: vec![1],
        });
        remember_node(0, 0, [7; 32]);
        assert!(head().is_none());
        assert!(node(0, 0).is_none());
    }

    #[tokio::test]
    async fn a_transaction_knows_what_it_wrote_until_cleared() {
        scope(async {
            set_head(Head {
                seq: 4,
                hash: vec![9; 32],
            });
            remember_node(1, 2, [3; 32]);
            assert_eq!(head().map(|h| h.seq), Some(4));
            assert_eq!(node(1, 2), Some([3; 32]));
            forget_head();
            assert!(head().is_none());
            assert_eq!(node(1, 2), Some([3; 32]));
            clear();
            assert!(node(1, 2).is_none());
        })
        .await;
        // Of a tree of 6 leaves the next append can need (2, 0) and (1, 2):
        // the subtrees over leaves 0–3 and 4–5.
        scope(async {
            for (level, index) in [(0, 5), (1, 2), (2, 0), (0, 3), (1, 1)] {
                remember_node(level, index, [1; 32]);
            }
            keep_frontier(6);
            let kept: Vec<bool> = [(0, 5), (1, 2), (2, 0), (0, 3), (1, 1)]
                .iter()
                .map(|&(l, i)| node(l, i).is_some())
                .collect();
            assert_eq!(kept, [false, true, true, false, false]);
        })
        .await;
        // The next transaction starts empty.
        scope(async { assert!(head().is_none() && node(1, 2).is_none()) }).await;
    }
}
