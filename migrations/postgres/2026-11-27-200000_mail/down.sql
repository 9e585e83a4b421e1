DROP TABLE mail_subscriptions;
DROP TABLE mail_outbox;
