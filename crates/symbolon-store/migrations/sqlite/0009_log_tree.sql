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

-- The witnesses an admin registered: their cosignature keys (C2SP
-- tlog-cosignature, a signed-note verifier key of type 0x04), by name.
CREATE TABLE log_witnesses (
    name      TEXT    PRIMARY KEY,
    vkey      TEXT    NOT NULL UNIQUE,
    public_key TEXT   NOT NULL UNIQUE,              -- hex: one key, one witness
    added_at  INTEGER NOT NULL,
    added_by  TEXT    NOT NULL
);

-- Each witness's cosignature of a signed checkpoint (its signature line),
-- kept once per size and witness; served with that checkpoint.
CREATE TABLE log_cosignatures (
    size      INTEGER NOT NULL REFERENCES log_checkpoints (size),
    witness   TEXT    NOT NULL REFERENCES log_witnesses (name),
    line      TEXT    NOT NULL,
    cosigned_at INTEGER NOT NULL,                 -- the time the witness signed
    PRIMARY KEY (size, witness)
);
