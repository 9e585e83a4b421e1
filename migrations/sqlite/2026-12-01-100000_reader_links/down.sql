DROP TABLE reader_sessions;
DROP TABLE reader_links;
