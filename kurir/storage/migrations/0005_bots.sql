-- Bots (issue 5): accounts of their own kind (users.is_bot, users.owner_id), spoken to
-- through the Telegram Bot API. A bot's token is a session of the bot's (its hash in
-- `sessions`), so revoking it is ending that session.

CREATE TABLE bots (
    user_id           BIGINT PRIMARY KEY REFERENCES users (id),
    owner_id          BIGINT NOT NULL REFERENCES users (id),
    privacy           INTEGER NOT NULL DEFAULT 1,   -- in groups: commands, replies, mentions only
    description       TEXT NOT NULL DEFAULT '',
    short_description TEXT NOT NULL DEFAULT '',
    -- the Bot API queue: the bot's own update log read up to here (user pts) …
    user_pts          BIGINT NOT NULL DEFAULT 0,
    -- … and the update_id the next queued Bot API update gets
    next_update_id    BIGINT NOT NULL DEFAULT 1,
    allowed_updates   TEXT,                          -- JSON list; NULL: the default set
    webhook_url       TEXT NOT NULL DEFAULT '',
    webhook_secret    TEXT NOT NULL DEFAULT '',
    webhook_max_connections BIGINT NOT NULL DEFAULT 40,
    webhook_error_date BIGINT NOT NULL DEFAULT 0,
    webhook_error     TEXT NOT NULL DEFAULT '',
    created           BIGINT NOT NULL
);
CREATE INDEX bots_owner ON bots (owner_id);

-- Where the bot has read each channel's or supergroup's log up to.
CREATE TABLE bot_channels (
    bot_id   BIGINT NOT NULL,
    chat_id  BIGINT NOT NULL,
    pts      BIGINT NOT NULL,
    PRIMARY KEY (bot_id, chat_id)
);
-- a channel's bots: its admin bots hear of member changes (storage/channels.admin_bots)
CREATE INDEX bot_channels_chat ON bot_channels (chat_id);

-- The Bot API updates not yet confirmed (getUpdates with a higher offset) or delivered
-- (a webhook answered 2xx), as the bot will get them: Bot API JSON with the update_id.
CREATE TABLE bot_updates (
    bot_id     BIGINT NOT NULL,
    update_id  BIGINT NOT NULL,
    body       TEXT NOT NULL,
    date       BIGINT NOT NULL,
    PRIMARY KEY (bot_id, update_id)
);

-- setMyCommands: a list per scope and language ('' for all).
CREATE TABLE bot_commands (
    bot_id         BIGINT NOT NULL,
    scope          TEXT NOT NULL,
    language_code  TEXT NOT NULL,
    commands       TEXT NOT NULL,                    -- JSON [{command, description}]
    PRIMARY KEY (bot_id, scope, language_code)
);
