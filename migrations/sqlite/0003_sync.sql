-- The Klaviyo sync outbox: one row per (affiliate, list), written in the same transaction as the
-- approval that causes it, then worked by the sync worker. A row is due while `due_at` is set;
-- terminal rows (succeeded, failed, blocked) have no `due_at`. A worker holds a row only while its
-- lease runs, so a crashed worker's rows come back on their own.
CREATE TABLE klaviyo_syncs (
    id             INTEGER PRIMARY KEY,
    merchant_id    INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    affiliate_id   INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    list_id        TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'verifying', 'succeeded',
                       'awaiting_confirmation', 'retrying', 'failed', 'blocked')),
    -- Why it is retrying, failed or blocked, in words a merchant can act on.
    reason         TEXT,
    -- Sends so far (each resend after a retryable failure or an unverified job counts).
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- Read-backs since the last send.
    checks         INTEGER NOT NULL DEFAULT 0,
    due_at         INTEGER,
    lease_owner    TEXT,
    lease_until    INTEGER,
    sent_at        INTEGER,
    verify_until   INTEGER,
    -- The list's opt-in process as read at the last send ('single_opt_in' / 'double_opt_in').
    list_opt_in    TEXT,
    import_job_id  TEXT,
    profile_id     TEXT,
    -- Hash of the names and properties last written, so a re-sync sends nothing when nothing changed.
    fields_hash    TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CONSTRAINT klaviyo_syncs_key UNIQUE (affiliate_id, list_id)
);
CREATE INDEX klaviyo_syncs_due ON klaviyo_syncs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX klaviyo_syncs_merchant ON klaviyo_syncs (merchant_id, state);
CREATE INDEX klaviyo_syncs_changes ON klaviyo_syncs (merchant_id, updated_at);

-- Every Klaviyo call made for an affiliate: what, when, and how it went.
CREATE TABLE klaviyo_sync_log (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    sync_id       INTEGER NOT NULL REFERENCES klaviyo_syncs (id) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    endpoint      TEXT NOT NULL,
    -- HTTP status, or NULL when no answer came (network failure).
    status        INTEGER,
    -- How many affiliates the call covered (batches share one call).
    batch_size    INTEGER NOT NULL,
    error_code    TEXT,
    error         TEXT
);
CREATE INDEX klaviyo_sync_log_sync ON klaviyo_sync_log (sync_id, id);

-- The last error a sync met, for the health panel.
ALTER TABLE klaviyo_connections ADD COLUMN last_sync_error TEXT;
ALTER TABLE klaviyo_connections ADD COLUMN last_sync_error_at INTEGER;
