-- A person's data-protection request: the affiliate row keeps only a pseudonym (money records stay
-- attached to it) and when it was erased.
ALTER TABLE affiliates ADD COLUMN erased_at INTEGER;

-- What Klaviyo still owes an erased affiliate: the profile taken out of the lists Rekomi put it in
-- and the properties Rekomi wrote unset. The email is held only until Klaviyo has done it; then the
-- row is deleted, and the audit log records only that the erasure happened.
CREATE TABLE klaviyo_erasures (
    id          INTEGER PRIMARY KEY,
    merchant_id INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    -- The lists Rekomi had synced the affiliate to, comma-separated.
    list_ids    TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued', 'retrying', 'failed')),
    reason      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER,
    lease_owner TEXT,
    lease_until INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX klaviyo_erasures_due ON klaviyo_erasures (due_at) WHERE due_at IS NOT NULL;
