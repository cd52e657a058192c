-- Klaviyo is the source of truth for consent: the reconcile job re-reads synced affiliates and
-- records what changed there since Rekomi last made it true, and when Rekomi noticed.
-- drift: 'unsubscribed' | 'suppressed' | 'removed' (from the list) | 'deleted' (the profile).
ALTER TABLE klaviyo_syncs ADD COLUMN drift TEXT CHECK (drift IN ('unsubscribed', 'suppressed', 'removed', 'deleted'));
ALTER TABLE klaviyo_syncs ADD COLUMN drift_at INTEGER;
-- When the reconcile job last read this row's state back.
ALTER TABLE klaviyo_syncs ADD COLUMN checked_at INTEGER;
-- When Rekomi last saw the approved affiliate in the list. A later sync that finds them out of it
-- (or the profile gone) reads that as a change made in Klaviyo and does not undo it.
ALTER TABLE klaviyo_syncs ADD COLUMN in_list_at INTEGER;
UPDATE klaviyo_syncs SET in_list_at = updated_at
WHERE state = 'succeeded' AND affiliate_id IN (SELECT id FROM affiliates WHERE state = 'approved');
CREATE INDEX klaviyo_syncs_drift ON klaviyo_syncs (merchant_id, affiliate_id) WHERE drift IS NOT NULL;
-- The check walks a merchant's syncs in id order.
CREATE INDEX klaviyo_syncs_merchant_id ON klaviyo_syncs (merchant_id, id);

-- One reconcile pass per merchant, worked in slices under a lease like the outbox: `after_sync_id` is the
-- last sync row checked in the running pass, so a pass survives restarts and other instances.
CREATE TABLE klaviyo_reconciles (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL UNIQUE REFERENCES merchants (id) ON DELETE CASCADE,
    after_sync_id    INTEGER NOT NULL DEFAULT 0,
    pass_started_at  INTEGER,
    checked          INTEGER NOT NULL DEFAULT 0,
    drifted          INTEGER NOT NULL DEFAULT 0,
    last_finished_at INTEGER,
    last_checked     INTEGER,
    last_drifted     INTEGER,
    last_error       TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    due_at           INTEGER,
    lease_owner      TEXT,
    lease_until      INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX klaviyo_reconciles_due ON klaviyo_reconciles (due_at) WHERE due_at IS NOT NULL;
-- Merchants connected before this release get their first pass now.
INSERT INTO klaviyo_reconciles (merchant_id, due_at, created_at, updated_at)
SELECT merchant_id, 0, 0, 0 FROM klaviyo_connections;

-- Lifecycle events that happen while Klaviyo is disconnected (after it was connected once) are kept,
-- not due, and sent when it is connected again if under 7 days old; the merchant may drop them instead.
ALTER TABLE merchants ADD COLUMN keep_events_offline INTEGER NOT NULL DEFAULT 1;
