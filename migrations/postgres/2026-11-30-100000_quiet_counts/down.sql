-- The trigger function as the comment_counts migration made it.
CREATE OR REPLACE FUNCTION comment_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
