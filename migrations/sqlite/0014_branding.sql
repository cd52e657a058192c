-- A campaign's landing-page look. Images live in the database (not on one instance's disk), so
-- every instance behind a load balancer serves them; an image is deleted once no campaign uses it.
CREATE TABLE brand_images (
    id           INTEGER PRIMARY KEY,
    merchant_id  INTEGER NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    -- Hex SHA-256 of the bytes: the image's public name, so its address never changes meaning.
    sha256       TEXT NOT NULL,
    format       TEXT NOT NULL CHECK (format IN ('png', 'jpeg', 'webp', 'gif')),
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (merchant_id, sha256)
);
CREATE INDEX brand_images_sha256 ON brand_images (sha256);

ALTER TABLE campaigns ADD COLUMN brand_color TEXT;
ALTER TABLE campaigns ADD COLUMN logo_image_id INTEGER REFERENCES brand_images (id) ON DELETE SET NULL;
ALTER TABLE campaigns ADD COLUMN hero_image_id INTEGER REFERENCES brand_images (id) ON DELETE SET NULL;
