-- The joint-key mailbox (fifth embodiment, FIG. 19 and 20): the chain
-- files the parties pass to each other through the service. The service
-- stores; it takes an update only if it extends the stored file (one more
-- link or a refusal, nothing else changed), by compare-and-swap on the
-- version (links + refusal), so two parties cannot both sign one position.
CREATE TABLE joint_messages (
    id         TEXT    NOT NULL PRIMARY KEY,   -- the chain's id, hex
    version    BIGINT  NOT NULL,
    body       TEXT    NOT NULL,               -- the chain file (JSON)
    updated_at BIGINT  NOT NULL                -- Unix seconds
);
