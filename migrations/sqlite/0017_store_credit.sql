-- Payouts paid as Shopify store credit: one row per payout of a run the merchant chose to pay
-- that way, worked as an outbox row. `attempted_at` is set before a credit is sent, so an attempt
-- after a lost answer first reads the customer's account (a credit is never sent twice).
CREATE TABLE store_credits (
    id             INTEGER PRIMARY KEY,
    payout_id      INTEGER NOT NULL REFERENCES payouts (id) ON DELETE CASCADE,
    merchant_id    INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    run_id         INTEGER NOT NULL REFERENCES payout_runs (id) ON DELETE CASCADE,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'credited', 'failed')),
    customer_id    TEXT,
    transaction_id TEXT,
    error          TEXT,
    attempted_at   INTEGER,
    attempts       INTEGER NOT NULL DEFAULT 0,
    due_at         INTEGER,
    lease_owner    TEXT,
    lease_until    INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX store_credits_payout ON store_credits (payout_id);
CREATE INDEX store_credits_run ON store_credits (run_id);
CREATE INDEX store_credits_due ON store_credits (due_at) WHERE due_at IS NOT NULL;

-- Missed orders recovered: orders updated since `orders_cursor` (unix ms) are read from Shopify
-- every few minutes and recorded like a webhook would have (idempotent with it). A backfill moves
-- the cursor back.
ALTER TABLE shopify_connections ADD COLUMN orders_cursor INTEGER;
ALTER TABLE shopify_connections ADD COLUMN orders_checked_at INTEGER;
ALTER TABLE shopify_connections ADD COLUMN orders_recovered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shopify_connections ADD COLUMN orders_error TEXT;
