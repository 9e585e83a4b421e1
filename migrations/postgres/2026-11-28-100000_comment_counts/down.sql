DROP TRIGGER comment_counts_delete ON comments;
DROP TRIGGER comment_counts_update ON comments;
DROP TRIGGER comment_counts_insert ON comments;
DROP FUNCTION comment_counts_change();
DROP INDEX comments_parent;
DROP TABLE comment_counts;
