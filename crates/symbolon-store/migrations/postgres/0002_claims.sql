-- One-shot events: each (scope, id) can be claimed once, ever, and the
-- claim commits with its audit entry. Purchase orders (a replayed order is
-- refused), and later recovery completions and d0 outputs.
CREATE TABLE claims (
    scope      TEXT    NOT NULL,
    id         BYTEA    NOT NULL,
    claimed_at BIGINT  NOT NULL,               -- Unix seconds
    PRIMARY KEY (scope, id)
);
