-- Revocation (docs/revocation.md): which certificates are revoked, why and
-- by whom; the CRLs the CA signed; the OCSP responder's certificates.

-- One row per certificate ever revoked. A hold (certificateHold) can be
-- released: released_at is set and the certificate is good again; a later
-- revocation reuses the row. `changed_seq` is the audit entry of the last
-- change, so a CRL knows whether it covers every change.
CREATE TABLE revocations (
    serial          TEXT    PRIMARY KEY REFERENCES certificates (serial),
    reason          TEXT    NOT NULL,              -- RFC 5280 CRLReason name
    revoked_at      BIGINT  NOT NULL,              -- Unix seconds
    invalid_since   BIGINT,                       -- invalidity date, when known
    revoked_by      TEXT    NOT NULL,              -- party name, or "subscriber", or "operator"
    released_at     BIGINT,
    released_by     TEXT,
    changed_seq     BIGINT  NOT NULL
);
CREATE INDEX revocations_by_change ON revocations (changed_seq);

-- The CRLs signed, newest kept: number (monotonic), window, the last
-- revocation change it covers, and the signed DER.
CREATE TABLE crls (
    number      BIGINT  PRIMARY KEY,
    this_update BIGINT  NOT NULL,
    next_update BIGINT  NOT NULL,
    covers_seq  BIGINT  NOT NULL,
    entries     BIGINT  NOT NULL,
    der         BYTEA   NOT NULL
);

CREATE INDEX certificates_by_not_after ON certificates (not_after);
CREATE INDEX certificates_by_token ON certificates (delivered_to);

-- A renewal's new certificate names the one it renews; a certificate is
-- renewed once (NULL for every other certificate).
ALTER TABLE certificates ADD COLUMN renews TEXT;
CREATE UNIQUE INDEX certificates_renews ON certificates (renews);

-- What the service issued for itself ('service-tls': its TLS certificate,
-- whose key lives in its memory and is replaced at every start): not
-- revocable through the revocation endpoints.
ALTER TABLE certificates ADD COLUMN purpose TEXT;
