-- Escrow and recovery (third embodiment).

-- The transport key a token registered with, so the recovery enclave wraps a
-- recovered key to the registered token and not to a key a request names.
ALTER TABLE tokens ADD COLUMN transport_key BLOB;

-- Arbitrators: public parts only (age recipient for shares, approval key).
CREATE TABLE arbitrators (
    id              TEXT    PRIMARY KEY,
    share_recipient TEXT    NOT NULL,
    approval_key    BLOB    NOT NULL,
    registered_at   INTEGER NOT NULL
);

-- Escrow deposits (canonical record: key, policy, commitments, encrypted key).
CREATE TABLE escrows (
    id          BLOB    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    record      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX escrows_by_key ON escrows (fingerprint);

-- Each arbitrator's share, in an age envelope only it can open.
CREATE TABLE escrow_shares (
    escrow_id  BLOB    NOT NULL REFERENCES escrows (id),
    arbitrator TEXT    NOT NULL REFERENCES arbitrators (id),
    envelope   BLOB    NOT NULL,
    PRIMARY KEY (escrow_id, arbitrator)
);

CREATE TABLE recovery_requests (
    id         TEXT    PRIMARY KEY,
    escrow_id  BLOB    NOT NULL REFERENCES escrows (id),
    record     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- The approval chain: one row per position; a position and an arbitrator's
-- decision are each taken once, so two arbitrators racing for a position
-- cannot fork the chain.
CREATE TABLE recovery_approvals (
    request_id TEXT    NOT NULL REFERENCES recovery_requests (id),
    position   INTEGER NOT NULL,
    arbitrator TEXT    NOT NULL,
    record     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (request_id, position),
    UNIQUE (request_id, arbitrator)
);
