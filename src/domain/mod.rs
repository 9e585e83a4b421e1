//! Plain types with validating constructors: no actix, no diesel.
pub mod admin;
pub mod audit;
pub mod coaching;
pub mod comment;
pub mod moderation;
pub mod no_contact;
pub mod text;
pub mod thread;
