DROP INDEX comments_status_id;
ALTER TABLE comments DROP COLUMN edited_by_coach;
ALTER TABLE comments DROP COLUMN previous_status;
DROP TABLE admin_audit;
DROP TABLE admin_setup_tokens;
DROP TABLE admin_sessions;
DROP TABLE admins;
