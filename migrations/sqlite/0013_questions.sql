-- A campaign's own application questions. A question taken off the form is retired rather than
-- deleted, so the answers given to it keep their wording.
CREATE TABLE campaign_questions (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    campaign_id  INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('short_text', 'long_text', 'choice', 'checkbox')),
    label        TEXT NOT NULL,
    -- The choices of a choice question, one a line.
    choices      TEXT NOT NULL DEFAULT '',
    required     BOOLEAN NOT NULL DEFAULT FALSE,
    retired_at   INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX campaign_questions_campaign ON campaign_questions (campaign_id, position);

-- What an applicant answered; erased with the rest of their personal data.
CREATE TABLE application_answers (
    affiliate_id INTEGER NOT NULL REFERENCES affiliates (id) ON DELETE CASCADE,
    question_id  INTEGER NOT NULL REFERENCES campaign_questions (id) ON DELETE CASCADE,
    answer       TEXT NOT NULL,
    PRIMARY KEY (affiliate_id, question_id)
);
