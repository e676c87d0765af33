-- Full-text search: a generated tsvector with the 'simple' configuration (no stemming, so
-- every language is treated alike) and a GIN index.
ALTER TABLE messages ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED;
CREATE INDEX messages_tsv ON messages USING GIN (tsv);
CREATE INDEX users_username_prefix ON users (username_key text_pattern_ops);
