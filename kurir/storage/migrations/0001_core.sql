-- kurir core schema. Written once for both engines; {autoid} and {blob} are filled in by
-- the migration runner (sqlite: INTEGER PRIMARY KEY / BLOB; postgres: identity / BYTEA).
-- Times are Unix seconds. Flags are INTEGER 0/1 so both engines read them back alike.

CREATE TABLE users (
    id             {autoid},
    username       TEXT,
    username_key   TEXT UNIQUE,          -- lower(username): uniqueness is case-insensitive
    display_name   TEXT NOT NULL,
    bio            TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,
    is_bot         INTEGER NOT NULL DEFAULT 0,
    owner_id       BIGINT,               -- for bots: who created it
    created        BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX users_display_name_key ON users (lower(display_name));

-- The head of each user's update log; the row is locked while a transaction appends.
CREATE TABLE user_states (
    user_id  BIGINT PRIMARY KEY REFERENCES users (id),
    pts      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id           {autoid},
    user_id      BIGINT NOT NULL REFERENCES users (id),
    token_hash   {blob} NOT NULL UNIQUE,   -- sha256 of the bearer token; the token is never stored
    device       TEXT NOT NULL,
    created      BIGINT NOT NULL,
    last_active  BIGINT NOT NULL,
    ip           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE chats (
    id           {autoid},
    type         TEXT NOT NULL,          -- private | group (supergroup, channel: issue 3)
    title        TEXT NOT NULL DEFAULT '',
    about        TEXT NOT NULL DEFAULT '',
    creator_id   BIGINT,
    top_id       BIGINT NOT NULL DEFAULT 0,  -- the last message id handed out (row locked on send)
    last_date    BIGINT NOT NULL DEFAULT 0,
    created      BIGINT NOT NULL,
    pinned_id    BIGINT,
    private_lo   BIGINT,                 -- private chats: the two user ids, lower first
    private_hi   BIGINT,
    UNIQUE (private_lo, private_hi)
);

CREATE TABLE chat_members (
    chat_id      BIGINT NOT NULL REFERENCES chats (id),
    user_id      BIGINT NOT NULL REFERENCES users (id),
    role         TEXT NOT NULL DEFAULT 'member',   -- owner | admin | member
    status       TEXT NOT NULL DEFAULT 'member',   -- member | left | kicked
    inviter_id   BIGINT,
    joined       BIGINT NOT NULL,
    read_max_id  BIGINT NOT NULL DEFAULT 0,        -- read up to this message id
    history_from BIGINT NOT NULL DEFAULT 0,        -- sees messages above this id (joined then)
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members (user_id, status);

CREATE TABLE messages (
    gid          {autoid},               -- a stable row id for the full-text index
    chat_id      BIGINT NOT NULL REFERENCES chats (id),
    id           BIGINT NOT NULL,        -- 1, 2, 3, … inside the chat
    from_id      BIGINT NOT NULL,
    date         BIGINT NOT NULL,
    text         TEXT NOT NULL,
    entities     TEXT,                   -- JSON
    reply_to     BIGINT,
    fwd_from     TEXT,                   -- JSON
    edit_date    BIGINT,
    reactions    TEXT,                   -- JSON summary [{emoji, count}]
    media        TEXT,                   -- JSON
    reply_markup TEXT,                   -- JSON
    action       TEXT,                   -- JSON, service messages
    deleted      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (chat_id, id)
);

-- A client's random_id makes a send idempotent per sender.
CREATE TABLE message_random_ids (
    user_id      BIGINT NOT NULL,
    random_id    BIGINT NOT NULL,
    chat_id      BIGINT NOT NULL,
    message_id   BIGINT NOT NULL,
    PRIMARY KEY (user_id, random_id)
);

-- "Delete for me": the message stays for the others.
CREATE TABLE hidden_messages (
    user_id      BIGINT NOT NULL,
    chat_id      BIGINT NOT NULL,
    message_id   BIGINT NOT NULL,
    PRIMARY KEY (user_id, chat_id, message_id)
);

CREATE TABLE reactions (
    chat_id      BIGINT NOT NULL,
    message_id   BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    emoji        TEXT NOT NULL,
    date         BIGINT NOT NULL,
    PRIMARY KEY (chat_id, message_id, user_id)
);

CREATE TABLE invites (
    hash         TEXT PRIMARY KEY,
    chat_id      BIGINT NOT NULL REFERENCES chats (id),
    creator_id   BIGINT NOT NULL,
    created      BIGINT NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0,
    usage        BIGINT NOT NULL DEFAULT 0,
    usage_limit  BIGINT,
    expire_date  BIGINT
);
CREATE INDEX invites_chat ON invites (chat_id);

-- The update log. A change that many users must learn of is encoded once (update_bodies)
-- and each recipient's log gets a row with its own pts pointing at it.
CREATE TABLE update_bodies (
    id           {autoid},
    body         {blob} NOT NULL         -- the Update as JSON, without its pts
);

CREATE TABLE user_updates (
    user_id      BIGINT NOT NULL,
    pts          BIGINT NOT NULL,
    body_id      BIGINT NOT NULL,
    date         BIGINT NOT NULL,
    PRIMARY KEY (user_id, pts)
);

CREATE INDEX chats_private_hi ON chats (private_hi);
