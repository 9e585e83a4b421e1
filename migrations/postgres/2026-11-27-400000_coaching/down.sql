DROP TABLE request_messages;
DROP TABLE coaching_requests;
