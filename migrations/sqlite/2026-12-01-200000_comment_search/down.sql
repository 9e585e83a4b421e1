DROP TRIGGER comment_search_delete;
DROP TRIGGER comment_search_update;
DROP TRIGGER comment_search_insert;
DROP TABLE comment_search;
