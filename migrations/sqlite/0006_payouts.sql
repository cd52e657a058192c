-- The merchant's API for Klaviyo flows, lifecycle events into Klaviyo, outgoing webhooks and
-- payouts.

-- A rate bump may end on its own (a win-back offer for 90 days) and says why it was given.
ALTER TABLE affiliates ADD COLUMN rate_expires_at INTEGER;
ALTER TABLE affiliates ADD COLUMN rate_reason TEXT;

-- Below this (in the campaign's currency) an affiliate's balance waits for a later payout run.
ALTER TABLE campaigns ADD COLUMN min_payout_minor INTEGER NOT NULL DEFAULT 0 CHECK (min_payout_minor >= 0);

-- Lifecycle events the merchant switched off (a row each); every other one is sent.
CREATE TABLE lifecycle_events_off (
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    metric       TEXT NOT NULL,
    PRIMARY KEY (merchant_id, metric)
);

-- Where the merchant wants to hear about affiliates, commissions and payouts. `topics` is a
-- comma-separated list; `secret` is sealed like the Klaviyo key and signs every delivery.
CREATE TABLE webhook_endpoints (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    topics        TEXT NOT NULL,
    secret        BLOB NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id);

-- One event for one endpoint: queued in the transaction that caused it, then sent by the webhook
-- worker under a lease and retried with backoff until `give_up_at` (a day).
CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    endpoint_id   INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    topic         TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'retrying', 'delivered', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    due_at        INTEGER,
    give_up_at    INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    last_status   INTEGER,
    last_error    TEXT,
    delivered_at  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CONSTRAINT webhook_deliveries_event_key UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX webhook_deliveries_merchant ON webhook_deliveries (merchant_id, id);

-- Each try of a delivery: the log the merchant reads.
CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY,
    delivery_id   INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    status        INTEGER,
    error         TEXT,
    duration_ms   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- A payout run: open while the merchant reviews and pays it, then paid (with their reference) or
-- cancelled (its commissions go back to approved for a later run).
CREATE TABLE payout_runs (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('open', 'paid', 'cancelled')),
    reference     TEXT,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    decided_at    INTEGER
);
CREATE INDEX payout_runs_merchant ON payout_runs (merchant_id, id);

-- What one affiliate gets in one currency in a run: the sum of its commission lines (negative
-- lines from refunds after an earlier payout included).
CREATE TABLE payouts (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    run_id        INTEGER NOT NULL REFERENCES payout_runs (id) ON DELETE CASCADE,
    affiliate_id  INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    currency      TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL CHECK (amount_minor > 0),
    lines         INTEGER NOT NULL,
    payout_email  TEXT NOT NULL,
    -- Where Wise pays (a Wise email from a Rewardful import, else the PayPal one, else their own).
    wise_email    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('open', 'paid', 'cancelled')),
    created_at    INTEGER NOT NULL,
    paid_at       INTEGER,
    CONSTRAINT payouts_run_key UNIQUE (run_id, affiliate_id, currency)
);
CREATE INDEX payouts_merchant ON payouts (merchant_id, id);
CREATE INDEX payouts_affiliate ON payouts (affiliate_id, id);

-- The payout a commission line is in (while its run is open, and for good once paid).
ALTER TABLE commissions ADD COLUMN payout_id INTEGER REFERENCES payouts (id) ON DELETE SET NULL;
CREATE INDEX commissions_payout ON commissions (payout_id);
CREATE INDEX commissions_merchant_id ON commissions (merchant_id, id);

-- Who holds an idempotency key while its request runs: a retry that takes over a key whose first
-- request seemed dead gets a new claim, and only the holder of the claim stores its answer.
ALTER TABLE idempotency_keys ADD COLUMN claim TEXT;
