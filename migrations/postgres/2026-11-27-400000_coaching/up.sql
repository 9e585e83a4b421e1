-- Coaching requests: the most sensitive data the site holds. No IP
-- address is stored. The status link's token and the form token are
-- stored only as hashes.
CREATE TABLE coaching_requests (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    -- The status link is an HMAC of this with the site key (so later emails
    -- can carry it again); the database alone cannot produce it.
    token_nonce TEXT NOT NULL,
    form_token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    option_slug TEXT NOT NULL,
    option_title TEXT NOT NULL,
    ended_by TEXT NOT NULL,
    together_for TEXT NOT NULL,
    ended_ago TEXT NOT NULL,
    contact_now TEXT NOT NULL,
    no_contact_since TEXT,
    hope TEXT NOT NULL,
    situation TEXT NOT NULL,
    talk_via TEXT NOT NULL,
    time_zone TEXT,
    source_article TEXT,
    source_comment_id BIGINT,
    consent_at TIMESTAMP NOT NULL,
    privacy_version TEXT NOT NULL,
    is_urgent BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    anonymized_at TIMESTAMP
);
CREATE INDEX coaching_requests_status ON coaching_requests (status, id);
CREATE INDEX coaching_requests_email ON coaching_requests (email);
CREATE INDEX coaching_requests_finished ON coaching_requests (finished_at);

-- Messages between the reader and the coach, and the coach's private
-- notes (kind = 'note', never shown to the reader).
CREATE TABLE request_messages (
    id BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES coaching_requests (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    author_name TEXT NOT NULL,
    body_markdown TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX request_messages_request ON request_messages (request_id, id);
