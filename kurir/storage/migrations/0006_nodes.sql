-- Many server processes (issue 7). Each process that serves clients is a node with a row,
-- refreshed while it lives; a node whose heartbeat stopped is swept by the others.
CREATE TABLE nodes (
    id        BIGINT PRIMARY KEY,
    pid       BIGINT NOT NULL,
    started   BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
);

-- Who has a socket open on which node: online while any row is left.
CREATE TABLE online (
    user_id BIGINT NOT NULL,
    node_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, node_id)
);
CREATE INDEX online_node ON online (node_id);

-- The node delivering a bot's webhook, and until when that lease holds: one deliverer.
ALTER TABLE bots ADD COLUMN webhook_node BIGINT NOT NULL DEFAULT 0;
ALTER TABLE bots ADD COLUMN webhook_lease BIGINT NOT NULL DEFAULT 0;
