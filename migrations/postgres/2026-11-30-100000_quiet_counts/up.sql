-- Every comment posted used to lock its article's comment_counts row and
-- rewrite it with a change of zero when it is held (a first comment is),
-- so on PostgreSQL all posts on one article queued behind each other's
-- commit, across every instance (bench/instances.sh: fewer posts per second
-- with more instances). A change that keeps the comment out of public view
-- before and after cannot change a count; it now returns at once.
CREATE OR REPLACE FUNCTION comment_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    slug TEXT;
    was_public INT := 0;
    was_head INT := 0;
    is_public INT := 0;
    is_head INT := 0;
    replies BIGINT := 0;
BEGIN
    -- A change that leaves the comment out of public view before and after
    -- (a held or private comment posted, held -> spam, a held one deleted)
    -- changes no count, whatever else runs at the same time: it neither
    -- locks nor rewrites the article's row.
    IF (TG_OP = 'DELETE' OR NOT (NEW.status = 'approved' AND NOT NEW.is_private))
       AND (TG_OP = 'INSERT' OR NOT (OLD.status = 'approved' AND NOT OLD.is_private)) THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
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
