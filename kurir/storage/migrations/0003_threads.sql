-- Threads (issue 3): comment threads under channel posts (in the linked discussion
-- supergroup) and forum topics in supergroups. A thread is named by its root message's id
-- in the same chat; a message in it carries that id.

ALTER TABLE messages ADD COLUMN thread_id BIGINT;
ALTER TABLE messages ADD COLUMN replies TEXT;         -- JSON {count, chat_id, root_id}, roots only
CREATE INDEX messages_thread ON messages (chat_id, thread_id, id);

ALTER TABLE chats ADD COLUMN forum INTEGER NOT NULL DEFAULT 0;
-- an upgraded group's past stays hidden from who joins the supergroup later
ALTER TABLE chats ADD COLUMN prehistory_upto BIGINT NOT NULL DEFAULT 0;

CREATE TABLE topics (
    chat_id      BIGINT NOT NULL,
    id           BIGINT NOT NULL,        -- the id of the topic's creation message
    title        TEXT NOT NULL,
    creator_id   BIGINT NOT NULL,
    created      BIGINT NOT NULL,
    top_id       BIGINT NOT NULL,        -- the newest message in the topic
    closed       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, id)
);

-- Read markers per topic: each topic has its own unread count.
CREATE TABLE topic_reads (
    chat_id      BIGINT NOT NULL,
    topic_id     BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    read_max_id  BIGINT NOT NULL,
    PRIMARY KEY (chat_id, topic_id, user_id)
);
