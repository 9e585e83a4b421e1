DROP TABLE rate_limit_events;
DROP TABLE comments;
