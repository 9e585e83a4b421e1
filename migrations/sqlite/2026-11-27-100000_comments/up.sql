CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    article_slug TEXT NOT NULL,
    parent_id BIGINT REFERENCES comments (id) ON DELETE SET NULL,
    root_id BIGINT,
    reply_to_id BIGINT,
    depth INTEGER NOT NULL DEFAULT 0,
    reply_to_name TEXT,
    author_name TEXT NOT NULL,
    author_email TEXT NOT NULL,
    body_markdown TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL,
    is_private BOOLEAN NOT NULL DEFAULT FALSE,
    is_urgent BOOLEAN NOT NULL DEFAULT FALSE,
    is_coach BOOLEAN NOT NULL DEFAULT FALSE,
    held_reasons TEXT NOT NULL DEFAULT '',
    notify_replies BOOLEAN NOT NULL DEFAULT FALSE,
    owner_token_hash TEXT,
    ip_hash TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    edited_at TIMESTAMP
);
CREATE INDEX comments_article_status ON comments (article_slug, status, id);
CREATE INDEX comments_email ON comments (author_email, status);
CREATE INDEX comments_root ON comments (root_id);

CREATE TABLE rate_limit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    bucket TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX rate_limit_events_key ON rate_limit_events (bucket, key_hash, created_at);
