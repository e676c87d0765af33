CREATE UNIQUE INDEX chats_username ON chats (lower(username));
