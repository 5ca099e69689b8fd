-- Evidence bundles and salted commitments (docs/transparency.md §9–10).

-- The openings of an entry's committed fields (salt and value, JSON),
-- written with the entry: beside it, outside what its hashes cover.
ALTER TABLE audit_log ADD COLUMN openings TEXT;

-- Which entries name which object ("key:sha256:…", "serial:…", "escrow:…",
-- "request:…", "chain:…", "registration:…", "token:…", "arbitrator:…"): an
-- index derived from the entries, brought up to the log before it is read
-- (log_refs_head says how far it goes), so the audit append never waits
-- for it.
CREATE TABLE log_refs (
    ref TEXT    NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (ref, seq)
);
-- The index goes up to entry `seq`, whose chain hash was `hash` (a log
-- rewritten under the index no longer has it there: the index is rebuilt).
CREATE TABLE log_refs_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB
);
INSERT INTO log_refs_head (id, seq) VALUES (1, 0);

-- The attestation a certificate was issued on (its JSON file, whose
-- SHA-256 the certificate-issued entry carries).
CREATE TABLE certificate_attestations (
    serial      TEXT PRIMARY KEY REFERENCES certificates (serial),
    attestation TEXT NOT NULL
);

-- A witness an admin removed (its key lost or retired): no longer counted,
-- served or heard; its name and key stay taken, so neither comes back as
-- another witness.
ALTER TABLE log_witnesses ADD COLUMN removed_at INTEGER;
ALTER TABLE log_witnesses ADD COLUMN removed_by TEXT;

-- The salt of the commitment to a registration's evidence text that its
-- audit entry carries (a bare digest of a passport number is opened by
-- trying them all); kept with the text it commits to.
ALTER TABLE registrations ADD COLUMN evidence_salt BLOB;
