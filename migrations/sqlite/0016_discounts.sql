-- A discount code per affiliate, made in the merchant's Shopify store.
--
-- Per campaign: the customer's discount (percent or fixed amount, once per customer, a minimum
-- subtotal, what it combines with, an end date) and the code pattern. In Shopify it is one basic
-- code discount per campaign that holds every affiliate's code, so codes are added 250 to a call
-- and a change of terms is one update. The row is also the outbox row for that discount: due when
-- the terms changed (`version` > `synced_version`) or the shop changed.
CREATE TABLE campaign_discounts (
    campaign_id         INTEGER PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    merchant_id         INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    kind                TEXT NOT NULL CHECK (kind IN ('percent', 'amount')),
    -- percent: basis points (1000 = 10 %); amount: minor units of `currency`.
    value               INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    once_per_customer   BOOLEAN NOT NULL DEFAULT TRUE,
    min_subtotal_minor  INTEGER,
    combines_order      BOOLEAN NOT NULL DEFAULT FALSE,
    combines_product    BOOLEAN NOT NULL DEFAULT FALSE,
    combines_shipping   BOOLEAN NOT NULL DEFAULT TRUE,
    ends_at             INTEGER,
    pattern             TEXT NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    -- What Shopify holds: the discount's id, the shop it is in, the terms version it carries.
    shopify_id          TEXT,
    shop_domain         TEXT,
    synced_version      INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX campaign_discounts_merchant ON campaign_discounts (merchant_id);

-- Each affiliate's code and where it stands in Shopify. The row is its own outbox row: due
-- (`due_at`) whenever the affiliate's state or the campaign's discount changed; the job compares
-- what should be (an approved affiliate has its code, anyone else has none) with what Shopify holds
-- and reads the result back. `candidate` counts the codes tried: one Shopify refuses (taken,
-- invalid) is followed by the pattern's next, and `note` tells the merchant what happened.
CREATE TABLE affiliate_discounts (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id  INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    affiliate_id INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    code         TEXT,
    candidate    INTEGER NOT NULL DEFAULT 0,
    -- The Shopify code and the discount holding it (a campaign's discount, or an earlier one).
    redeem_id    TEXT,
    discount_id  TEXT,
    state        TEXT NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'active', 'removed', 'paused', 'failed', 'typed')),
    note         TEXT,
    last_error   TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER,
    lease_owner  TEXT,
    lease_until  INTEGER,
    checked_at   INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX affiliate_discounts_affiliate ON affiliate_discounts (affiliate_id);
CREATE INDEX affiliate_discounts_due ON affiliate_discounts (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX affiliate_discounts_campaign ON affiliate_discounts (campaign_id, state);

-- The custom pixel's report of a completed checkout: the order it became, its checkout token
-- (which the order webhook carries too: a report counts only when they match, so nobody can claim
-- an order by guessing its id) and the referral the visitor carried. The order webhook stays the
-- source of money; this only links order to click. First report wins.
-- An order that arrived first without a referral is kept briefly (`unattributed_orders`), so a
-- report that comes after it can still attribute it.
CREATE TABLE shopify_pixel_touches (
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    order_id       TEXT NOT NULL,
    checkout_token TEXT NOT NULL,
    touches        TEXT NOT NULL,
    customer_id  TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, order_id)
);
CREATE TABLE unattributed_orders (
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    order_id     TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, order_id)
);
