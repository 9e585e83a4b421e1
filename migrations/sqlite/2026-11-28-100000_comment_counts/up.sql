-- Each article's public comment count and number of threads (for the
-- stranger: published, not private comments whose parent is not), kept by
-- triggers in the same transaction as every change to comments, so a
-- comment page costs what its own comments cost, not the whole article's.
-- A thread's head is a public comment without a public parent; each
-- trigger adds the change of that sum the row makes: its own part, and
-- its public replies', which stop or start heading threads when its
-- visibility changes. Rows are taken one at a time (as SQLite does), and
-- ON DELETE SET NULL runs after the parent row is gone.
CREATE TABLE comment_counts (
    article_slug TEXT PRIMARY KEY NOT NULL,
    public_comments BIGINT NOT NULL DEFAULT 0,
    public_threads BIGINT NOT NULL DEFAULT 0
);
-- Replies of a comment: for the triggers, and for ON DELETE SET NULL.
CREATE INDEX comments_parent ON comments (parent_id);

INSERT INTO comment_counts (article_slug, public_comments, public_threads)
SELECT c.article_slug,
       SUM(c.status = 'approved' AND NOT c.is_private),
       SUM(c.status = 'approved' AND NOT c.is_private AND NOT EXISTS (
           SELECT 1 FROM comments p
           WHERE p.id = c.parent_id AND p.status = 'approved' AND NOT p.is_private))
FROM comments c
GROUP BY c.article_slug;

CREATE TRIGGER comment_counts_insert AFTER INSERT ON comments
BEGIN
    INSERT INTO comment_counts (article_slug)
    SELECT NEW.article_slug
    WHERE NOT EXISTS (SELECT 1 FROM comment_counts WHERE article_slug = NEW.article_slug);
    UPDATE comment_counts SET
        public_comments = public_comments + (NEW.status = 'approved' AND NOT NEW.is_private),
        public_threads = public_threads + (NEW.status = 'approved' AND NOT NEW.is_private AND NOT EXISTS (
            SELECT 1 FROM comments p
            WHERE p.id = NEW.parent_id AND p.status = 'approved' AND NOT p.is_private))
    WHERE article_slug = NEW.article_slug;
END;

CREATE TRIGGER comment_counts_update AFTER UPDATE OF status, is_private, parent_id ON comments
BEGIN
    INSERT INTO comment_counts (article_slug)
    SELECT NEW.article_slug
    WHERE NOT EXISTS (SELECT 1 FROM comment_counts WHERE article_slug = NEW.article_slug);
    UPDATE comment_counts SET
        public_comments = public_comments
            + (NEW.status = 'approved' AND NOT NEW.is_private)
            - (OLD.status = 'approved' AND NOT OLD.is_private),
        public_threads = public_threads
            + (NEW.status = 'approved' AND NOT NEW.is_private AND NOT EXISTS (
                SELECT 1 FROM comments p
                WHERE p.id = NEW.parent_id AND p.status = 'approved' AND NOT p.is_private))
            - (OLD.status = 'approved' AND NOT OLD.is_private AND NOT EXISTS (
                SELECT 1 FROM comments p
                WHERE p.id = OLD.parent_id AND p.status = 'approved' AND NOT p.is_private))
            - ((NEW.status = 'approved' AND NOT NEW.is_private)
               - (OLD.status = 'approved' AND NOT OLD.is_private))
              * (SELECT count(*) FROM comments r
                 WHERE r.parent_id = NEW.id AND r.status = 'approved' AND NOT r.is_private)
    WHERE article_slug = NEW.article_slug;
END;

-- Before the row goes: its replies still point at it.
CREATE TRIGGER comment_counts_delete BEFORE DELETE ON comments
WHEN OLD.status = 'approved' AND NOT OLD.is_private
BEGIN
    UPDATE comment_counts SET
        public_comments = public_comments - 1,
        public_threads = public_threads
            - (NOT EXISTS (
                SELECT 1 FROM comments p
                WHERE p.id = OLD.parent_id AND p.status = 'approved' AND NOT p.is_private))
            + (SELECT count(*) FROM comments r
               WHERE r.parent_id = OLD.id AND r.status = 'approved' AND NOT r.is_private)
    WHERE article_slug = OLD.article_slug;
END;
