-- An application from the public form is unverified until its applicant opens the single-use link
-- sent as `Rekomi Affiliate Verify Email` (or the merchant confirms the address by hand): before
-- that nothing about them reaches Klaviyo. Invites and imports are verified by their path.
ALTER TABLE affiliates ADD COLUMN email_verified_at INTEGER;
-- Who applied before verification existed came in under the rules of the time.
UPDATE affiliates SET email_verified_at = applied_at;

-- The links sent; only a hash of each token is kept. Counting a person's recent rows limits how
-- often a link can be asked for again.
CREATE TABLE email_verifications (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    affiliate_id INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX email_verifications_affiliate ON email_verifications (affiliate_id, created_at);
