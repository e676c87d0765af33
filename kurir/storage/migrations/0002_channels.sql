-- Channels and supergroups (issue 3): a chat of these types has its own gap-free update
-- sequence (chats.pts, channel_updates), so a post is O(1) writes whatever the member count.

-- One namespace for @usernames of users and of public chats, as Telegram has.
CREATE TABLE usernames (
    key          TEXT PRIMARY KEY,       -- lower(username)
    user_id      BIGINT,
    chat_id      BIGINT
);
INSERT INTO usernames (key, user_id) SELECT username_key, id FROM users
    WHERE username_key IS NOT NULL;

ALTER TABLE chats ADD COLUMN pts BIGINT NOT NULL DEFAULT 0;           -- the channel's sequence
ALTER TABLE chats ADD COLUMN pts_date BIGINT NOT NULL DEFAULT 0;      -- when pts last moved
ALTER TABLE chats ADD COLUMN username TEXT;
ALTER TABLE chats ADD COLUMN signatures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN slow_mode BIGINT NOT NULL DEFAULT 0;     -- seconds between posts
ALTER TABLE chats ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;  -- kept for channels
ALTER TABLE chats ADD COLUMN default_banned BIGINT NOT NULL DEFAULT 0;  -- members' restrictions
ALTER TABLE chats ADD COLUMN linked_chat_id BIGINT;                   -- discussion group
CREATE INDEX chats_pts_date ON chats (pts_date);

ALTER TABLE chat_members ADD COLUMN admin_rights BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_members ADD COLUMN banned_rights BIGINT NOT NULL DEFAULT 0;
ALTER TABLE chat_members ADD COLUMN until_date BIGINT NOT NULL DEFAULT 0;   -- 0: for ever
ALTER TABLE chat_members ADD COLUMN promoted_by BIGINT;
ALTER TABLE chat_members ADD COLUMN last_post BIGINT NOT NULL DEFAULT 0;    -- for slow mode

CREATE TABLE channel_updates (
    chat_id      BIGINT NOT NULL,
    pts          BIGINT NOT NULL,
    body_id      BIGINT NOT NULL,
    date         BIGINT NOT NULL,
    PRIMARY KEY (chat_id, pts)
);

ALTER TABLE messages ADD COLUMN views BIGINT;
ALTER TABLE messages ADD COLUMN post_author TEXT;

-- A view counts once per user (Telegram's rule), so a post's counter is exact.
CREATE TABLE message_views (
    chat_id      BIGINT NOT NULL,
    message_id   BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    PRIMARY KEY (chat_id, message_id, user_id)
);
