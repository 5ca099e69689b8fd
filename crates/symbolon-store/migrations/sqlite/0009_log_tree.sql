-- The transparency log (docs/transparency.md): the RFC 9162 Merkle tree over
-- the audit entries, kept as its complete subtrees, and the checkpoints the
-- log key signed.

-- Node (level, idx) is the hash of leaves [idx·2^level, (idx+1)·2^level);
-- level 0 are the leaf hashes, leaf idx being audit entry idx + 1. Written in
-- the audit entry's own transaction, so the tree and the chain never differ.
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Every checkpoint the log signed, by size: a log never signs two heads for
-- one size, and what it signed stays to be compared.
CREATE TABLE log_checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB    NOT NULL,
    note      TEXT    NOT NULL,                  -- the signed note
    signed_at INTEGER NOT NULL
);
