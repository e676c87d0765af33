CREATE UNIQUE INDEX chats_username ON chats (lower(username));
CREATE INDEX chats_title_search ON chats (lower(title) text_pattern_ops);
