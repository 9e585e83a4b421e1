-- The full-text index of what a stranger may read in the comments
-- (published, not private: readers' comments and the coach's public
-- answers), for the site search. A contentless FTS5 table keyed by the
-- comment's id, kept by triggers in the same transaction as every change
-- to comments (approve, edit, trash, delete, erase, import, the coach's
-- reply), so a comment leaves the index the moment it stops being public.
-- `unicode61` without removing diacritics and without stemming: words
-- split and lower-cased as PostgreSQL's `simple` configuration does, so
-- both backends find the same comments (see src/db/comment_search.rs).
-- Plain contentless FTS5 (no `contentless_delete`, which needs SQLite
-- 3.43): a row leaves the index by the 'delete' command with the words it
-- was indexed with, so only a row that is in the index (it was public) is
-- ever deleted, with its old text; older sqlite3 tools (Debian's 3.40, the
-- browser suite's seeding script) can still write to comments.
CREATE VIRTUAL TABLE comment_search USING fts5(
    body,
    content = '',
    tokenize = 'unicode61 remove_diacritics 0'
);

INSERT INTO comment_search (rowid, body)
SELECT id, body_markdown FROM comments
WHERE status = 'approved' AND NOT is_private;

CREATE TRIGGER comment_search_insert AFTER INSERT ON comments
WHEN NEW.status = 'approved' AND NOT NEW.is_private
BEGIN
    INSERT INTO comment_search (rowid, body) VALUES (NEW.id, NEW.body_markdown);
END;

CREATE TRIGGER comment_search_update AFTER UPDATE OF id, status, is_private, body_markdown ON comments
BEGIN
    INSERT INTO comment_search (comment_search, rowid, body)
    SELECT 'delete', OLD.id, OLD.body_markdown
    WHERE OLD.status = 'approved' AND NOT OLD.is_private;
    INSERT INTO comment_search (rowid, body)
    SELECT NEW.id, NEW.body_markdown
    WHERE NEW.status = 'approved' AND NOT NEW.is_private;
END;

CREATE TRIGGER comment_search_delete AFTER DELETE ON comments
WHEN OLD.status = 'approved' AND NOT OLD.is_private
BEGIN
    INSERT INTO comment_search (comment_search, rowid, body)
    VALUES ('delete', OLD.id, OLD.body_markdown);
END;
