-- Banning is a new affiliate state. SQLite can't change a CHECK constraint in place, so the table is
-- rebuilt the way sqlite.org/lang_altertable.html ("Making Other Kinds Of Table Schema Changes")
-- describes: with foreign keys off (the migrations run that way, see `Db::migrate`) the rows are
-- copied unchanged (the columns keep their order), so no row of the tables referencing affiliates is
-- touched, and the references are checked before foreign keys are turned back on.
CREATE TABLE affiliates_rebuilt (
    id                    INTEGER PRIMARY KEY,
    merchant_id           INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id           INTEGER NOT NULL REFERENCES campaigns (id),
    email                 TEXT NOT NULL,
    full_name             TEXT NOT NULL,
    first_name            TEXT NOT NULL,
    last_name             TEXT,
    website               TEXT,
    message               TEXT,
    state                 TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'disabled', 'banned')),
    referral_code         TEXT,
    source                TEXT NOT NULL CHECK (source IN ('form', 'invite', 'import')),
    -- The consent later sent to Klaviyo: which terms, when, and how it was given.
    consent_terms_version INTEGER,
    consent_at            INTEGER,
    consent_source        TEXT,
    applied_at            INTEGER NOT NULL,
    decided_at            INTEGER,
    decided_by            TEXT,
    paypal_email          TEXT,
    wise_email            TEXT,
    external_id           TEXT,
    history_visitors      INTEGER,
    history_leads         INTEGER,
    history_conversions   INTEGER,
    coupon_code           TEXT,
    rate_bps              INTEGER CHECK (rate_bps BETWEEN 1 AND 10000),
    rate_minor            INTEGER CHECK (rate_minor > 0),
    rate_expires_at       INTEGER,
    rate_reason           TEXT,
    CONSTRAINT affiliates_email_key UNIQUE (merchant_id, email)
);
INSERT INTO affiliates_rebuilt SELECT * FROM affiliates;
DROP TABLE affiliates;
ALTER TABLE affiliates_rebuilt RENAME TO affiliates;
CREATE INDEX affiliates_queue ON affiliates (merchant_id, state, applied_at);
CREATE INDEX affiliates_campaign ON affiliates (campaign_id, state);
CREATE UNIQUE INDEX affiliates_coupon_key ON affiliates (merchant_id, lower(coupon_code));
CREATE UNIQUE INDEX affiliates_referral_code_key ON affiliates (lower(referral_code));

-- The state a ban was made from: lifting the ban of someone never approved puts them back there.
ALTER TABLE affiliates ADD COLUMN banned_from TEXT;

-- The address an application came from, so a ban can cover it too (kept with the application).
ALTER TABLE affiliates ADD COLUMN applied_ip TEXT;

-- Who may not apply again: the banned affiliate's email, and optionally the address they applied
-- from. Lifted when the affiliate is enabled again.
CREATE TABLE affiliate_bans (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    affiliate_id INTEGER REFERENCES affiliates (id) ON DELETE SET NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('email', 'ip')),
    value        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    CONSTRAINT affiliate_bans_key UNIQUE (merchant_id, kind, value)
);
CREATE INDEX affiliate_bans_affiliate ON affiliate_bans (affiliate_id);
