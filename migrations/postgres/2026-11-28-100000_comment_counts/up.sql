-- Each article's public comment count and number of threads (for the
-- stranger: published, not private comments whose parent is not), kept by
-- a trigger in the same transaction as every change to comments, so a
-- comment page costs what its own comments cost, not the whole article's.
-- A thread's head is a public comment without a public parent; the
-- trigger adds the change of that sum the row makes: its own part, and
-- its public replies', which stop or start heading threads when its
-- visibility changes.
--
-- BEFORE row triggers see the rows the statement changed before this
-- one, so a statement changing several rows is counted one row at a time,
-- as in SQLite; ON DELETE SET NULL runs at the end of the statement, after
-- the parent row is gone. The article's row is locked first: a second
-- transaction changing the same article waits, then reads what the first
-- committed (READ COMMITTED), so two at once cannot count the same
-- reply twice.
CREATE TABLE comment_counts (
    article_slug TEXT PRIMARY KEY NOT NULL,
    public_comments BIGINT NOT NULL DEFAULT 0,
    public_threads BIGINT NOT NULL DEFAULT 0
);
-- Replies of a comment: for the trigger, and for ON DELETE SET NULL.
CREATE INDEX comments_parent ON comments (parent_id);

INSERT INTO comment_counts (article_slug, public_comments, public_threads)
SELECT c.article_slug,
       COUNT(*) FILTER (WHERE c.status = 'approved' AND NOT c.is_private),
       COUNT(*) FILTER (WHERE c.status = 'approved' AND NOT c.is_private AND NOT EXISTS (
           SELECT 1 FROM comments p
           WHERE p.id = c.parent_id AND p.status = 'approved' AND NOT p.is_private))
FROM comments c
GROUP BY c.article_slug;

CREATE FUNCTION comment_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    slug TEXT;
    was_public INT := 0;
    was_head INT := 0;
    is_public INT := 0;
    is_head INT := 0;
    replies BIGINT := 0;
BEGIN
    IF TG_OP = 'DELETE' THEN slug := OLD.article_slug; ELSE slug := NEW.article_slug; END IF;
    INSERT INTO comment_counts (article_slug) VALUES (slug) ON CONFLICT (article_slug) DO NOTHING;
    PERFORM 1 FROM comment_counts WHERE article_slug = slug FOR UPDATE;
    IF TG_OP <> 'INSERT' AND OLD.status = 'approved' AND NOT OLD.is_private THEN
        was_public := 1;
        IF NOT EXISTS (SELECT 1 FROM comments p WHERE p.id = OLD.parent_id
                       AND p.status = 'approved' AND NOT p.is_private) THEN
            was_head := 1;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'approved' AND NOT NEW.is_private THEN
        is_public := 1;
        IF NOT EXISTS (SELECT 1 FROM comments p WHERE p.id = NEW.parent_id
                       AND p.status = 'approved' AND NOT p.is_private) THEN
            is_head := 1;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' AND was_public <> is_public THEN
        SELECT count(*) INTO replies FROM comments r
        WHERE r.parent_id = OLD.id AND r.status = 'approved' AND NOT r.is_private;
    END IF;
    UPDATE comment_counts SET
        public_comments = public_comments + is_public - was_public,
        public_threads = public_threads + is_head - was_head - (is_public - was_public) * replies
    WHERE article_slug = slug;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER comment_counts_insert AFTER INSERT ON comments
    FOR EACH ROW EXECUTE FUNCTION comment_counts_change();
CREATE TRIGGER comment_counts_update BEFORE UPDATE OF status, is_private, parent_id ON comments
    FOR EACH ROW EXECUTE FUNCTION comment_counts_change();
CREATE TRIGGER comment_counts_delete BEFORE DELETE ON comments
    FOR EACH ROW EXECUTE FUNCTION comment_counts_change();
