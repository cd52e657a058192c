-- Onboarding at scale: invites (delivered as Klaviyo events through an outbox), Rewardful CSV
-- imports, and what an imported affiliate brings with them.

-- Payout addresses (blank means the affiliate's own email), the id in the system they came from,
-- and their history there, shown on their page.
ALTER TABLE affiliates ADD COLUMN paypal_email TEXT;
ALTER TABLE affiliates ADD COLUMN wise_email TEXT;
ALTER TABLE affiliates ADD COLUMN external_id TEXT;
ALTER TABLE affiliates ADD COLUMN history_visitors INTEGER;
ALTER TABLE affiliates ADD COLUMN history_leads INTEGER;
ALTER TABLE affiliates ADD COLUMN history_conversions INTEGER;

-- One uploaded file: kept (the bytes too) between the dry run and the confirmation, which may be
-- served by another instance. `state`: ready (dry run shown) → imported, or rejected (file-level
-- error). The report is the dry run's JSON.
CREATE TABLE imports (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id   INTEGER NOT NULL REFERENCES campaigns (id),
    filename      TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    -- 'elsewhere' (terms accepted before, recorded with the import) or 'ask' (invite each one).
    consent_mode  TEXT NOT NULL CHECK (consent_mode IN ('elsewhere', 'ask')),
    state         TEXT NOT NULL CHECK (state IN ('ready', 'imported', 'rejected')),
    content       BLOB,
    report        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    imported_at   INTEGER
);
CREATE INDEX imports_merchant ON imports (merchant_id, created_at);

-- An invite: a signed, expiring, single-use link to a campaign's landing page. The link carries
-- (id, expiry, nonce) and an HMAC of them under the server's key; resending issues a new nonce and
-- expiry, so older links stop working.
CREATE TABLE invites (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id   INTEGER NOT NULL REFERENCES campaigns (id),
    email         TEXT NOT NULL,
    full_name     TEXT,
    -- Set when the invite asks an existing (imported) affiliate to accept the terms.
    affiliate_id  INTEGER REFERENCES affiliates (id) ON DELETE CASCADE,
    import_id     INTEGER REFERENCES imports (id) ON DELETE SET NULL,
    source        TEXT NOT NULL CHECK (source IN ('bulk', 'import', 'api')),
    nonce         TEXT NOT NULL,
    sends         INTEGER NOT NULL DEFAULT 1,
    expires_at    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    sent_at       INTEGER NOT NULL,
    opened_at     INTEGER,
    accepted_at   INTEGER,
    revoked_at    INTEGER,
    created_by    TEXT NOT NULL
);
CREATE INDEX invites_merchant ON invites (merchant_id, created_at);
CREATE INDEX invites_email ON invites (merchant_id, email);

-- Klaviyo events outbox (NOTES §7), worked like the sync outbox: due while `due_at` is set,
-- held under a lease. `unique_id` makes a resent event count once in Klaviyo.
CREATE TABLE klaviyo_events (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    metric        TEXT NOT NULL,
    email         TEXT NOT NULL,
    unique_id     TEXT NOT NULL,
    properties    TEXT NOT NULL,
    invite_id     INTEGER REFERENCES invites (id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'retrying', 'sent', 'failed')),
    reason        TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_at        INTEGER,
    lease_owner   TEXT,
    lease_until   INTEGER,
    sent_at       INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CONSTRAINT klaviyo_events_unique_key UNIQUE (merchant_id, unique_id)
);
CREATE INDEX klaviyo_events_due ON klaviyo_events (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX klaviyo_events_invite ON klaviyo_events (invite_id);
