-- Who may be certified as whom (docs/vetting.md, patent FIG. 6 step 423).

-- Subscribers a registration officer vetted through its own channel: the
-- subject (canonical DER, its RFC 4514 text, and the comparison key it is
-- found by), the certificate roles and alternative names vetted, the
-- evidence seen, the officer and its credential, life and uses.
CREATE TABLE registrations (
    id                 TEXT    PRIMARY KEY,
    subject_key        TEXT    NOT NULL,
    subject            TEXT    NOT NULL,
    subject_der        BYTEA   NOT NULL,
    roles              TEXT    NOT NULL,          -- comma-separated certificate roles
    alt_names          TEXT    NOT NULL,          -- JSON array of dns:/ip:/email: names
    evidence           TEXT    NOT NULL,
    officer            TEXT    NOT NULL,
    officer_credential TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    uses               BIGINT  NOT NULL,
    used               BIGINT  NOT NULL DEFAULT 0,
    withdrawn_at       BIGINT,
    withdrawn_by       TEXT,
    withdraw_reason    TEXT
);
CREATE INDEX registrations_by_subject ON registrations (subject_key);

-- Per station: the namespaces it may certify without a registration.
CREATE TABLE name_policies (
    station TEXT    PRIMARY KEY,
    policy  TEXT    NOT NULL,                      -- JSON {"allow": [...], "deny": [...]}
    set_by  TEXT    NOT NULL,
    set_at  BIGINT  NOT NULL
);

-- Manufacturer roots device certificates may chain to.
CREATE TABLE manufacturer_roots (
    fingerprint TEXT    PRIMARY KEY,               -- the root key's SPKI fingerprint
    subject     TEXT    NOT NULL,
    der         BYTEA   NOT NULL,
    added_by    TEXT    NOT NULL,
    added_at    BIGINT  NOT NULL
);

-- Who vouched for a device, under which manufacturer root, and the device
-- that replaced it in a recovery.
ALTER TABLE tokens ADD COLUMN vouched_by TEXT;
ALTER TABLE tokens ADD COLUMN vouched_role TEXT;
ALTER TABLE tokens ADD COLUMN manufacturer_root TEXT;
ALTER TABLE tokens ADD COLUMN replaced_by TEXT;
ALTER TABLE tokens ADD COLUMN replaced_at BIGINT;

-- The registration a certificate used, and the token it was delivered to.
ALTER TABLE certificates ADD COLUMN registration TEXT;
ALTER TABLE certificates ADD COLUMN delivered_to TEXT;
CREATE INDEX certificates_by_registration ON certificates (registration);
