-- Full-text search: a generated tsvector with the 'simple' configuration (no stemming, so
-- every language is treated alike) and a GIN index. Punctuation splits words first, as
-- SQLite's unicode61 tokenizer does, so "kurir.dev" is found by "kurir" and "dev".
ALTER TABLE messages ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (
        to_tsvector('simple', regexp_replace(text, '[^[:alnum:]]+', ' ', 'g'))
    ) STORED;
CREATE INDEX messages_tsv ON messages USING GIN (tsv);
CREATE INDEX users_username_prefix ON users (username_key text_pattern_ops);
