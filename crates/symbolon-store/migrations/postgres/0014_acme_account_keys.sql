-- ACME account keys are registered among the public keys (docs/acme.md):
-- one primary key decides whether a key is an account's or a
-- certificate's, never both, even when the two race.
ALTER TABLE public_keys DROP CONSTRAINT public_keys_state_check;
ALTER TABLE public_keys ADD CONSTRAINT public_keys_state_check
    CHECK (state IN ('reserved', 'certified', 'abandoned', 'acme-account'));
