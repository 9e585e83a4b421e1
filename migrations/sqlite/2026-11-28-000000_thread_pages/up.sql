-- Comment pages walk an article's comments in id order and stop at the end
-- of the page (db::comments::thread_page); the walk and the count of
-- threads read this index alone, and only parents are looked up by id.
CREATE INDEX comments_thread_walk ON comments (article_slug, id, parent_id, status, is_private);
-- The public comment count of an article, from the index alone.
CREATE INDEX comments_article_public ON comments (article_slug, status, is_private);
