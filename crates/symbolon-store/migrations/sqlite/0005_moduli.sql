-- Every RSA modulus the registry has seen (certified, reserved, abandoned,
-- refused as weak), for the shared-prime checks (docs/weak-keys.md). `id`
-- orders them: a check against a snapshot up to id S is completed, inside
-- the serialised write that records the new modulus, by the rows above S.
CREATE TABLE moduli (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT    NOT NULL UNIQUE,
    modulus     BLOB    NOT NULL,                -- big-endian
    origin      TEXT    NOT NULL,                -- certify, reserve, refused, registered
    seen_at     BIGINT  NOT NULL,                -- Unix seconds
    shared_with TEXT                             -- a key it shares a prime with, once found
);
