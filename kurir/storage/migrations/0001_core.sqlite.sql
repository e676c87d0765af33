-- Full-text search with FTS5, kept in step with messages by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content='messages', content_rowid='gid', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.gid, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.gid, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.gid, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.gid, new.text);
END;
