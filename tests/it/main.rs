//! Integration tests: the real server on port 0, a real database per test
//! (SQLite by default; PostgreSQL when KINTSUGI_TEST_DATABASE_URL is set).
mod admin;
mod backup;
mod caching;
mod cli;
mod clock;
mod coaching;
mod comments;
mod content_reload;
mod database;
mod errors;
mod faults;
mod feeds;
mod fuzz_corpus;
mod helpers;
mod import;
mod instances;
mod layout;
mod mail;
mod media;
mod operating;
mod pg_scale;
mod reading;
mod redirects;
mod search;
mod security;
mod transfer;
