-- EST first contact (docs/est.md): a registration may carry a single-use
-- enrollment code, kept as its SHA-256 only, that a device presents in
-- place of a station's credential. Unique: a code names one registration.
ALTER TABLE registrations ADD COLUMN code_digest TEXT;
CREATE UNIQUE INDEX registrations_by_code ON registrations (code_digest);
