-- The merchant's shop as a connected app: a Dev Dashboard app's client credentials (the secret
-- sealed; it also signs the shop's webhooks), the current access token (sealed) and when it
-- expires, and what the last live check read: granted scopes, shop name, currency and plan.
CREATE TABLE shopify_connections (
    merchant_id      BIGINT PRIMARY KEY REFERENCES merchants (id) ON DELETE CASCADE,
    shop_domain      TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    client_secret    BYTEA NOT NULL,
    access_token     BYTEA,
    token_expires_at BIGINT,
    scopes           TEXT NOT NULL DEFAULT '',
    shop_name        TEXT NOT NULL DEFAULT '',
    currency         TEXT NOT NULL DEFAULT '',
    plan             TEXT NOT NULL DEFAULT '',
    -- 'uninstalled' after app/uninstalled or a refused token: shown, nothing is called.
    state            TEXT NOT NULL DEFAULT 'connected' CHECK (state IN ('connected', 'uninstalled')),
    checked_at       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
-- One merchant per shop: a second merchant can't receive another's orders.
CREATE UNIQUE INDEX shopify_connections_shop ON shopify_connections (shop_domain);

-- The webhook subscriptions Rekomi made in the shop, and what arrived on each topic.
CREATE TABLE shopify_webhooks (
    merchant_id      BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    topic            TEXT NOT NULL,
    subscription_id  TEXT,
    uri              TEXT NOT NULL,
    checked_at       BIGINT,
    last_received_at BIGINT,
    received         BIGINT NOT NULL DEFAULT 0,
    failures         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    PRIMARY KEY (merchant_id, topic)
);

-- Deliveries seen, by X-Shopify-Webhook-Id: Shopify retries and may deliver twice; a repeat is
-- answered 200 and not processed again. Pruned after a week.
CREATE TABLE shopify_deliveries (
    merchant_id BIGINT NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    webhook_id  TEXT NOT NULL,
    topic       TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, webhook_id)
);
