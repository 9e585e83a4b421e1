DROP TRIGGER comment_counts_delete;
DROP TRIGGER comment_counts_update;
DROP TRIGGER comment_counts_insert;
DROP INDEX comments_parent;
DROP TABLE comment_counts;
