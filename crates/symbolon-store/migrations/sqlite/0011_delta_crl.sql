-- Delta CRLs (docs/revocation.md, "Delta CRLs").

-- A delta CRL is kept beside the newest full CRL, in the same table and the
-- same number sequence; base_number is its BaseCRLNumber (NULL: full CRL).
ALTER TABLE crls ADD COLUMN base_number INTEGER;

-- Every full CRL signed, without its DER: the bases a delta CRL may be
-- relative to. Rows older than a few CRL lifetimes are dropped.
CREATE TABLE crl_bases (
    number      INTEGER PRIMARY KEY,
    this_update INTEGER NOT NULL,
    covers_seq  INTEGER NOT NULL
);
INSERT INTO crl_bases (number, this_update, covers_seq)
    SELECT number, this_update, covers_seq FROM crls;
