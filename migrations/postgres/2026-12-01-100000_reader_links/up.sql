-- "My questions" (/me): the link a reader asks for by email (valid 30
-- minutes, opened once) and the session it opens (a few hours, for /me
-- only). Only hashes of the link token and of the session key are stored:
-- a copy of the database opens nobody's page. Both live in the database
-- so every instance honours them and they survive a restart.
CREATE TABLE reader_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX reader_links_expires ON reader_links (expires_at);
CREATE INDEX reader_links_email ON reader_links (email);

CREATE TABLE reader_sessions (
    key_hash TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX reader_sessions_expires ON reader_sessions (expires_at);
CREATE INDEX reader_sessions_email ON reader_sessions (email);
