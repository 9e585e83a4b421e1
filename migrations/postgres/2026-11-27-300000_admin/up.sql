-- The coach's accounts, sessions (shared by every app instance), the
-- one-time setup link, and the audit log of admin actions.
CREATE TABLE admins (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_sign_in_at TIMESTAMP
);

-- Only a hash of the session key is stored: a copy of the database does
-- not sign anyone in.
CREATE TABLE admin_sessions (
    key_hash TEXT PRIMARY KEY NOT NULL,
    admin_id BIGINT REFERENCES admins (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

CREATE TABLE admin_setup_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

CREATE TABLE admin_audit (
    id BIGSERIAL PRIMARY KEY,
    admin_id BIGINT,
    admin_name TEXT NOT NULL,
    action TEXT NOT NULL,
    comment_id BIGINT,
    detail TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX admin_audit_comment ON admin_audit (comment_id);

-- Restoring from spam or trash returns a comment to where it was; a
-- coach's edit is shown as such.
ALTER TABLE comments ADD COLUMN previous_status TEXT;
ALTER TABLE comments ADD COLUMN edited_by_coach BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX comments_status_id ON comments (status, id);
