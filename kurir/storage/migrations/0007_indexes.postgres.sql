-- Name search (storage/users.search, storage/channels.search_public) matches "contains",
-- LIKE '%x%', which no btree serves: every search read the whole users or chats table.
-- Trigram indexes (pg_trgm: PostgreSQL's contrib, a trusted extension since 13) serve LIKE
-- with any pattern; they replace the two btrees that were meant for it and could not.
-- Where pg_trgm cannot be installed, search keeps working as a sequential scan.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%): name search stays a sequential scan', SQLERRM;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX users_display_name_trgm ON users
            USING gin (lower(display_name) gin_trgm_ops);
        -- the username prefix has its btree (users_username_prefix), but a prepared
        -- statement's generic plan cannot use it with the pattern a parameter, and an OR
        -- with one arm unindexed is a sequential scan
        CREATE INDEX users_username_trgm ON users USING gin (username_key gin_trgm_ops);
        -- public chats only: the others (all private chats, most groups) are never searched
        CREATE INDEX chats_public_title_trgm ON chats
            USING gin (lower(title) gin_trgm_ops) WHERE username IS NOT NULL;
        CREATE INDEX chats_public_username_trgm ON chats
            USING gin (lower(username) gin_trgm_ops) WHERE username IS NOT NULL;
        DROP INDEX users_display_name_key;
        DROP INDEX chats_title_search;
    END IF;
EXCEPTION WHEN undefined_object THEN  -- pg_trgm installed in a schema not on search_path
    RAISE NOTICE 'gin_trgm_ops not found (%): name search stays a sequential scan', SQLERRM;
END
$$;
