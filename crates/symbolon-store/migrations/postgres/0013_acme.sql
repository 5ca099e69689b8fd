-- ACME (docs/acme.md). External account binding keys an officer issued to
-- a station: the HMAC key is derived from the service's enrollment key and
-- the kid, never stored; `account` is set when an account binds it (once).
CREATE TABLE acme_eab_keys (
    kid TEXT PRIMARY KEY,
    station TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    account TEXT
);
-- Accounts: one per key (its RFC 7638 thumbprint), acting for the station
-- its binding names, whose name policy bounds what it may order, under the
-- provisioner (certificate role) it was made at.
CREATE TABLE acme_accounts (
    id TEXT PRIMARY KEY,
    thumbprint TEXT NOT NULL UNIQUE,
    jwk TEXT NOT NULL,
    station TEXT NOT NULL,
    provisioner TEXT NOT NULL,
    eab_kid TEXT NOT NULL UNIQUE,
    contact TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- Which account ordered which certificate: it may revoke it.
CREATE TABLE acme_certificates (
    serial TEXT PRIMARY KEY,
    account TEXT NOT NULL
);
