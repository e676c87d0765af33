-- Files (issue 4): resumable uploads in parts, content stored once by its SHA-256, each
-- owner's file counted against their own quota.

CREATE TABLE uploads (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    name         TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    size         BIGINT NOT NULL,
    part_size    BIGINT NOT NULL,
    parts        BIGINT NOT NULL,        -- how many parts make the file
    created      BIGINT NOT NULL,
    file_id      TEXT                    -- set when finished
);
CREATE INDEX uploads_user ON uploads (user_id, created);

CREATE TABLE upload_parts (
    upload_id    TEXT NOT NULL,
    part         BIGINT NOT NULL,
    size         BIGINT NOT NULL,
    PRIMARY KEY (upload_id, part)
);

-- Content, once however many files point at it.
CREATE TABLE blobs (
    sha256       TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    created      BIGINT NOT NULL
);

CREATE TABLE files (
    id           TEXT PRIMARY KEY,       -- the file_id clients use
    owner_id     BIGINT NOT NULL,
    sha256       TEXT NOT NULL REFERENCES blobs (sha256),
    size         BIGINT NOT NULL,
    name         TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    created      BIGINT NOT NULL,
    meta         TEXT                    -- JSON: width, height, thumbs, duration, waveform
);
CREATE INDEX files_owner ON files (owner_id);

-- A photo made from an upload is made once per owner: a retried send finds it.
CREATE TABLE photo_sources (
    owner_id     BIGINT NOT NULL,
    source_sha   TEXT NOT NULL,
    file_id      TEXT NOT NULL,
    PRIMARY KEY (owner_id, source_sha)
);

-- Which messages carry a file: who may see one of them may download it.
CREATE TABLE message_files (
    file_id      TEXT NOT NULL,
    chat_id      BIGINT NOT NULL,
    message_id   BIGINT NOT NULL,
    PRIMARY KEY (file_id, chat_id, message_id)
);
