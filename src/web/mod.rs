//! Thin handlers: extract -> parse -> look up -> page.

pub mod admin;
pub mod articles;
pub mod coaching;
pub mod comments;
pub mod errors;
pub mod feeds;
pub mod health;
pub mod me;
pub mod metrics;
pub mod no_contact;
pub mod notifications;
pub mod page_cache;
pub mod reader_form;
pub mod redirects;
pub mod request;
pub mod request_log;
pub mod respond;
pub mod search;
pub mod state;
pub mod static_files;
pub mod tags;

// The shorthand of handlers (`use super::{AppState, see_other}`). `state`,
// `respond`, `request` and `page_cache` import from each other directly,
// never through here, so the module graph has no cycle.
pub use request::*;
pub use respond::*;
pub use state::*;
