-- Tracking and earning: clicks on tracking links, attributed orders (conversions), refunds,
-- commissions with a hold period, the affiliate portal's magic links and sessions, and API tokens
-- for the conversion API.

-- Per campaign: which click wins when there were several, and how long a commission waits (past
-- the shop's refund window) before it can be paid.
ALTER TABLE campaigns ADD COLUMN attribution TEXT NOT NULL DEFAULT 'last' CHECK (attribution IN ('last', 'first'));
ALTER TABLE campaigns ADD COLUMN hold_days INTEGER NOT NULL DEFAULT 30 CHECK (hold_days BETWEEN 0 AND 365);

-- Per affiliate: a coupon code that attributes orders without a click, and a rate override (the
-- "rate bump") that wins over the campaign's rule: a percentage or a flat amount, never both.
ALTER TABLE affiliates ADD COLUMN coupon_code TEXT;
ALTER TABLE affiliates ADD COLUMN rate_bps INTEGER CHECK (rate_bps BETWEEN 1 AND 10000);
ALTER TABLE affiliates ADD COLUMN rate_minor INTEGER CHECK (rate_minor > 0);
CREATE UNIQUE INDEX affiliates_coupon_key ON affiliates (merchant_id, lower(coupon_code));

-- Tracking links are `/r/{code}` with no shop in the path, so a code names one affiliate on the
-- whole instance, not only within a merchant. Where two merchants' affiliates share a code (imports
-- could bring one), the first holder keeps it and the others get their id appended.
DROP INDEX affiliates_referral_code_key;
UPDATE affiliates SET referral_code = referral_code || '-' || CAST(id AS TEXT)
WHERE referral_code IS NOT NULL
  AND id NOT IN (SELECT MIN(id) FROM affiliates WHERE referral_code IS NOT NULL GROUP BY lower(referral_code));
CREATE UNIQUE INDEX affiliates_referral_code_key ON affiliates (lower(referral_code));

-- The Shopify app's webhook signing secret, sealed like the Klaviyo key.
ALTER TABLE merchants ADD COLUMN shopify_secret BLOB;

-- One counted click. `visitor` is 64 bits of a keyed hash (never the address or the cookie itself).
-- Each instance counts a visitor once an hour in memory; reports count distinct (visitor, hour),
-- so a repeat another instance also wrote counts once. The table takes tens of thousands of rows
-- a second: no foreign keys (a lookup per row; its ids come from the code lookup) and no index on
-- the random visitor hash (every row would dirty a random page): rows only append.
CREATE TABLE clicks (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL,
    campaign_id   INTEGER NOT NULL,
    affiliate_id  INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    hour          INTEGER NOT NULL,
    visitor       INTEGER NOT NULL,
    device        TEXT NOT NULL CHECK (device IN ('desktop', 'mobile', 'other'))
);
CREATE INDEX clicks_merchant_at ON clicks (merchant_id, at);
CREATE INDEX clicks_affiliate_at ON clicks (affiliate_id, at);

-- An attributed order. One per (merchant, order id): a replayed webhook changes nothing.
-- `channel`: shopify or api; `via`: the tracking link (ref/via) or a coupon code.
CREATE TABLE conversions (
    id              INTEGER PRIMARY KEY,
    merchant_id     INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id),
    affiliate_id    INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    order_id        TEXT NOT NULL,
    order_name      TEXT,
    channel         TEXT NOT NULL CHECK (channel IN ('shopify', 'api')),
    via             TEXT NOT NULL CHECK (via IN ('link', 'coupon')),
    subtotal_minor  INTEGER NOT NULL CHECK (subtotal_minor >= 0),
    currency        TEXT NOT NULL,
    refunded_minor  INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    self_referral   BOOLEAN NOT NULL DEFAULT FALSE,
    ordered_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    CONSTRAINT conversions_order_key UNIQUE (merchant_id, order_id)
);
CREATE INDEX conversions_affiliate ON conversions (affiliate_id, ordered_at);
CREATE INDEX conversions_merchant_at ON conversions (merchant_id, ordered_at);

-- One refund, once per (merchant, refund id). Shopify doesn't promise to deliver a refund after its
-- order: a refund of an order not recorded yet is kept (no conversion) and applied when it arrives.
CREATE TABLE refunds (
    id             INTEGER PRIMARY KEY,
    merchant_id    INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    conversion_id  INTEGER REFERENCES conversions (id) ON DELETE CASCADE,
    order_id       TEXT NOT NULL,
    refund_id      TEXT NOT NULL,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor >= 0),
    created_at     INTEGER NOT NULL,
    CONSTRAINT refunds_refund_key UNIQUE (merchant_id, refund_id)
);
CREATE INDEX refunds_order ON refunds (merchant_id, order_id);

-- What an affiliate earns. The sale line (refund_id NULL, one per conversion) is reduced in place
-- by refunds while unpaid; once paid, a refund adds a negative line (refund_id set) that the next
-- payout nets. pending → approved at approve_at (the hold period) → paid; voided when fully
-- refunded before payment; held (self-referral) until the merchant decides.
CREATE TABLE commissions (
    id              INTEGER PRIMARY KEY,
    merchant_id     INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id),
    affiliate_id    INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    conversion_id   INTEGER NOT NULL REFERENCES conversions (id) ON DELETE CASCADE,
    refund_id       INTEGER REFERENCES refunds (id) ON DELETE CASCADE,
    amount_minor    INTEGER NOT NULL,
    original_minor  INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    rule            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'paid', 'voided', 'held')),
    held_reason     TEXT,
    approve_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    paid_at         INTEGER,
    payout_ref      TEXT
);
CREATE UNIQUE INDEX commissions_sale_key ON commissions (conversion_id) WHERE refund_id IS NULL;
CREATE INDEX commissions_due ON commissions (state, approve_at);
CREATE INDEX commissions_affiliate ON commissions (affiliate_id, state);
CREATE INDEX commissions_merchant_at ON commissions (merchant_id, created_at);

-- Affiliate portal: single-use sign-in links (only a hash stored) and the sessions they open.
CREATE TABLE portal_links (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    affiliate_id  INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    CONSTRAINT portal_links_token_key UNIQUE (token_hash)
);
CREATE TABLE portal_sessions (
    token_hash    TEXT PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    affiliate_id  INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

-- Bearer tokens for the merchant's own systems (the conversion API now, the REST API later).
-- Only a hash is stored; the prefix lets the merchant tell tokens apart.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);

-- A request made with an Idempotency-Key: a retry with the same key gets the first answer; the
-- same key with a different body is refused. `status` 0: the first request is still running.
CREATE TABLE idempotency_keys (
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    response      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
