-- Foundation: merchants and their users, sessions, campaigns, affiliates and the audit trail.
-- Times are unix milliseconds in 64-bit integers in both engines, so comparisons and ordering behave alike.
-- Money is integer minor units plus an ISO currency code; rates are basis points.

CREATE TABLE merchants (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT merchants_slug_key UNIQUE (slug)
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- Only a hash of the cookie value is stored: a copy of the database can't be replayed as a session.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE campaigns (
    id               INTEGER PRIMARY KEY,
    merchant_id      INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    slug             TEXT NOT NULL,
    pitch            TEXT NOT NULL,
    terms            TEXT NOT NULL,
    -- Bumped whenever the terms text changes; an affiliate's consent names the version accepted.
    terms_version    INTEGER NOT NULL DEFAULT 1,
    commission_kind  TEXT NOT NULL CHECK (commission_kind IN ('percent', 'flat')),
    commission_bps   INTEGER CHECK (commission_bps BETWEEN 1 AND 10000),
    commission_minor INTEGER CHECK (commission_minor > 0),
    currency         TEXT NOT NULL,
    cookie_days      INTEGER NOT NULL CHECK (cookie_days BETWEEN 1 AND 365),
    destination_url  TEXT,
    auto_approve     BOOLEAN NOT NULL DEFAULT FALSE,
    accepting        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CONSTRAINT campaigns_slug_key UNIQUE (merchant_id, slug),
    CHECK ((commission_kind = 'percent' AND commission_bps IS NOT NULL)
        OR (commission_kind = 'flat' AND commission_minor IS NOT NULL))
);

-- An affiliate is one person for one merchant, from the moment they apply.
CREATE TABLE affiliates (
    id                    INTEGER PRIMARY KEY,
    merchant_id           INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id           INTEGER NOT NULL REFERENCES campaigns (id),
    email                 TEXT NOT NULL,
    full_name             TEXT NOT NULL,
    first_name            TEXT NOT NULL,
    last_name             TEXT,
    website               TEXT,
    message               TEXT,
    state                 TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'disabled')),
    referral_code         TEXT,
    source                TEXT NOT NULL CHECK (source IN ('form', 'invite', 'import')),
    -- The consent later sent to Klaviyo: which terms, when, and how it was given.
    consent_terms_version INTEGER,
    consent_at            INTEGER,
    consent_source        TEXT,
    applied_at            INTEGER NOT NULL,
    decided_at            INTEGER,
    decided_by            TEXT,
    CONSTRAINT affiliates_email_key UNIQUE (merchant_id, email)
);
-- Codes are compared case-insensitively, so `?via=Ana` and `?via=ana` can't name two people.
CREATE UNIQUE INDEX affiliates_referral_code_key ON affiliates (merchant_id, lower(referral_code));
CREATE INDEX affiliates_queue ON affiliates (merchant_id, state, applied_at);
CREATE INDEX affiliates_campaign ON affiliates (campaign_id, state);

-- Who changed what, and when. `actor` is a user's email or a system actor ("applicant", "auto-approve").
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    merchant_id   INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    affiliate_id  INTEGER REFERENCES affiliates (id) ON DELETE CASCADE,
    from_state    TEXT,
    to_state      TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX audit_log_affiliate ON audit_log (affiliate_id, at);
