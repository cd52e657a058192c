-- Klaviyo connection per merchant. The private key is sealed with AES-256-GCM (nonce || ciphertext,
-- bound to the merchant by the associated data); only a hint like "pk_…ab12" is kept in clear.
CREATE TABLE klaviyo_connections (
    merchant_id          BIGINT PRIMARY KEY REFERENCES merchants (id) ON DELETE CASCADE,
    key_sealed           BYTEA NOT NULL,
    key_hint             TEXT NOT NULL,
    account_id           TEXT NOT NULL,
    account_name         TEXT NOT NULL,
    test_account         BOOLEAN NOT NULL,
    -- Comma-separated key-screen permissions and how far each was proven (see KeyScope/ScopeState).
    scope_checks         TEXT NOT NULL,
    verified_at          BIGINT NOT NULL,
    default_list_id      TEXT,
    default_list_name    TEXT,
    default_list_opt_in  TEXT,
    default_list_missing BOOLEAN NOT NULL DEFAULT FALSE,
    list_checked_at      BIGINT,
    connected_at         BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

-- The last account a merchant connected, kept after a disconnect, so a key from another account is flagged.
ALTER TABLE merchants ADD COLUMN klaviyo_account_id TEXT;
ALTER TABLE merchants ADD COLUMN klaviyo_account_name TEXT;

-- A campaign may send its affiliates to its own list instead of the merchant's default.
ALTER TABLE campaigns ADD COLUMN klaviyo_list_id TEXT;
ALTER TABLE campaigns ADD COLUMN klaviyo_list_name TEXT;
ALTER TABLE campaigns ADD COLUMN klaviyo_list_opt_in TEXT;
ALTER TABLE campaigns ADD COLUMN klaviyo_list_missing BOOLEAN NOT NULL DEFAULT FALSE;
