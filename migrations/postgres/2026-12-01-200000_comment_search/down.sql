DROP INDEX comments_search_words;
ALTER TABLE comments DROP COLUMN search_words;
