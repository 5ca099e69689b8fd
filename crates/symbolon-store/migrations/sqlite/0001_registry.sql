-- The registry (patent: public key storage units 114, 134, 142).
-- Portable SQL: the PostgreSQL migrations differ only in BLOB → BYTEA.

-- Every public key ever seen. A key is unique for ever: once reserved,
-- certified or abandoned, it can never be registered again.
CREATE TABLE public_keys (
    fingerprint   TEXT    PRIMARY KEY,            -- sha256:<hex> of canonical SPKI DER
    spki          BLOB    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('reserved', 'certified', 'abandoned')),
    reservation   TEXT    UNIQUE,                 -- set while reserved by a station
    registered_at INTEGER NOT NULL,               -- Unix seconds
    updated_at    INTEGER NOT NULL
);

CREATE TABLE certificates (
    serial             TEXT    PRIMARY KEY,       -- hex, at least 64 random bits
    fingerprint        TEXT    NOT NULL UNIQUE REFERENCES public_keys (fingerprint),
    subject            TEXT    NOT NULL,
    profile            TEXT    NOT NULL,
    not_before         INTEGER NOT NULL,
    not_after          INTEGER NOT NULL,
    der                BLOB    NOT NULL,
    generated_on_token TEXT,                      -- token serial, when attested
    issued_at          INTEGER NOT NULL
);

-- Tokens and their device identity keys (for attestation).
CREATE TABLE tokens (
    serial             TEXT    PRIMARY KEY,
    device_key         BLOB    NOT NULL,
    device_fingerprint TEXT    NOT NULL UNIQUE,
    registered_at      INTEGER NOT NULL
);

-- Append-only, hash-chained: hash = SHA-256(canonical(seq, at, kind, detail, prev_hash)).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,                -- 1, 2, 3, … without gaps
    at        INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    detail    TEXT    NOT NULL,                   -- JSON
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
);

-- The chain's head, one row: appends move it with a compare-and-set on seq,
-- so concurrent writers (threads or processes) can never fork the chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, X'0000000000000000000000000000000000000000000000000000000000000000');
