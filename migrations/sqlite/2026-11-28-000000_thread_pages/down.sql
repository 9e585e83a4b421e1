DROP INDEX comments_article_public;
DROP INDEX comments_thread_walk;
