-- The registry (patent: public key storage units 114, 134, 142), PostgreSQL.
-- The same tables, columns and constraints as migrations/sqlite; the types
-- differ only where the databases do (BYTEA for BLOB, BIGINT for INTEGER).

CREATE TABLE public_keys (
    fingerprint   TEXT    PRIMARY KEY,
    spki          BYTEA   NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('reserved', 'certified', 'abandoned')),
    reservation   TEXT    UNIQUE,
    registered_at BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE certificates (
    serial             TEXT    PRIMARY KEY,
    fingerprint        TEXT    NOT NULL UNIQUE REFERENCES public_keys (fingerprint),
    subject            TEXT    NOT NULL,
    profile            TEXT    NOT NULL,
    not_before         BIGINT  NOT NULL,
    not_after          BIGINT  NOT NULL,
    der                BYTEA   NOT NULL,
    generated_on_token TEXT,
    issued_at          BIGINT  NOT NULL
);

CREATE TABLE tokens (
    serial             TEXT    PRIMARY KEY,
    device_key         BYTEA   NOT NULL,
    device_fingerprint TEXT    NOT NULL UNIQUE,
    registered_at      BIGINT  NOT NULL
);

CREATE TABLE audit_log (
    seq       BIGINT  PRIMARY KEY,
    at        BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash BYTEA   NOT NULL,
    hash      BYTEA   NOT NULL
);

CREATE TABLE audit_head (
    id   BIGINT  PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash BYTEA   NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, decode('0000000000000000000000000000000000000000000000000000000000000000', 'hex'));
