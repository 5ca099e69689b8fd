-- ACME account keys are registered among the public keys (docs/acme.md):
-- one primary key decides whether a key is an account's or a
-- certificate's, never both, even when the two race. SQLite cannot widen a
-- CHECK constraint in place, so the table is made again inside this
-- migration's transaction: its rows kept aside, the table dropped and
-- created with the wider CHECK, the rows put back. The certificates'
-- references to it are checked at commit (deferred), when every key they
-- name is back.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE public_keys_kept AS SELECT * FROM public_keys;
DROP TABLE public_keys;
CREATE TABLE public_keys (
    fingerprint   TEXT    PRIMARY KEY,            -- sha256:<hex> of canonical SPKI DER
    spki          BLOB    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('reserved', 'certified', 'abandoned', 'acme-account')),
    reservation   TEXT    UNIQUE,                 -- set while reserved by a station
    registered_at INTEGER NOT NULL,               -- Unix seconds
    updated_at    INTEGER NOT NULL,
    owner         TEXT
);
INSERT INTO public_keys (fingerprint, spki, state, reservation, registered_at, updated_at, owner)
    SELECT fingerprint, spki, state, reservation, registered_at, updated_at, owner FROM public_keys_kept;
DROP TABLE public_keys_kept;
