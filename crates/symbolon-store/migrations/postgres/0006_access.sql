-- Who may call the service (docs/access.md): operator credentials (a
-- certificate this CA issued, its key in the holder's token) and the
-- single-use codes that enroll them; and who owns what a caller made.
CREATE TABLE credentials (
    serial      TEXT    PRIMARY KEY,             -- the certificate's serial, hex
    name        TEXT    NOT NULL,                -- the party it is bound to
    role        TEXT    NOT NULL,                -- admin, registration-officer, station, arbitrator, auditor
    fingerprint TEXT    NOT NULL UNIQUE,         -- its key's SPKI fingerprint
    der         BYTEA   NOT NULL,                -- the certificate
    state       TEXT    NOT NULL,                -- active, revoked
    issued_at   BIGINT  NOT NULL,
    not_after   BIGINT  NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX credentials_by_name ON credentials (name);

-- Only the SHA-256 of a code is kept; a code is used at most once.
CREATE TABLE enrollment_codes (
    digest      TEXT    PRIMARY KEY,
    role        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    granted_by  TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT,
    credential  TEXT
);

-- The caller that made an object, for the ownership checks.
ALTER TABLE public_keys ADD COLUMN owner TEXT;
ALTER TABLE certificates ADD COLUMN requester TEXT;
ALTER TABLE recovery_requests ADD COLUMN requester TEXT;
ALTER TABLE escrows ADD COLUMN depositor TEXT;

-- An arbitrator's keys are its own: another cannot register them and have
-- shares encrypted to them or decisions signed with them pass as its own.
CREATE UNIQUE INDEX arbitrators_by_approval_key ON arbitrators (approval_key);
CREATE UNIQUE INDEX arbitrators_by_share_recipient ON arbitrators (share_recipient);
