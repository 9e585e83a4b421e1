-- The full-text index of what a stranger may read in the comments
-- (published, not private: readers' comments and the coach's public
-- answers), for the site search. A generated column holds the words of a
-- public comment (NULL otherwise), so PostgreSQL keeps it in the same
-- statement as every change to comments (approve, edit, trash, delete,
-- erase, import, the coach's reply, a restore with triggers off), and a
-- partial GIN index finds them. The `simple` configuration (lower case,
-- no stemming, no stop words) splits words as SQLite's `unicode61` does,
-- so both backends find the same comments in English and German (see
-- src/db/comment_search.rs). Adding the column indexes the comments
-- already published.
ALTER TABLE comments ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (
        CASE WHEN status = 'approved' AND NOT is_private
             THEN to_tsvector('simple'::regconfig, body_markdown)
        END
    ) STORED;

CREATE INDEX comments_search_words ON comments USING GIN (search_words)
    WHERE search_words IS NOT NULL;
