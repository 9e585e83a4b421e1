//! Page structs of "My questions" (`/me`): a reader's own page by emailed
//! link.
use askama::Template;

use super::{Date, Layout};
use crate::content::comment_markdown::SafeHtml;

/// The form asking for the link (and what happened to the last ask).
#[derive(Template)]
#[template(path = "me/ask.html")]
pub struct AskPage<'a> {
    pub layout: Layout<'a>,
    pub form_token: String,
    pub email: String,
    pub error: Option<String>,
    /// A notice at the top (link sent, everything deleted, signed out).
    pub notice: Option<(&'a str, &'a str)>,
}

/// The page an emailed link opens: a button that uses it up (so a mail
/// program that opens every link does not), or why it no longer works.
#[derive(Template)]
#[template(path = "me/open.html")]
pub struct OpenPage<'a> {
    pub layout: Layout<'a>,
    /// None: the link is unknown, used or expired.
    pub token: Option<String>,
    pub form_token: String,
}

/// One of the reader's comments, with the coach's answers to it.
pub struct MyComment {
    pub id: i64,
    pub article_title: String,
    /// In its thread when published, else the article.
    pub url: String,
    pub in_thread: bool,
    /// The key of its status's words (`me.status.*`) and its CSS modifier.
    pub status_key: &'static str,
    pub status_class: &'static str,
    pub date: Date,
    pub body: SafeHtml,
    pub answers: Vec<CoachAnswer>,
}

/// The coach's reply to one of the reader's comments, as on the article.
pub struct CoachAnswer {
    pub id: i64,
    pub name: String,
    pub date: Date,
    pub body: SafeHtml,
    pub private: bool,
}

/// One coaching request.
pub struct MyRequest {
    pub option_title: String,
    pub sent: Date,
    pub status_label: String,
    pub status_url: String,
}

/// A thread whose replies the reader hears about by email.
pub struct NotifiedThread {
    /// The thread's first comment.
    pub root: i64,
    pub article_title: String,
}

#[derive(Template)]
#[template(path = "me/page.html")]
pub struct CornerPage<'a> {
    pub layout: Layout<'a>,
    pub email: String,
    pub notice: Option<&'a str>,
    pub form_token: String,
    pub comments: Vec<MyComment>,
    pub requests: Vec<MyRequest>,
    /// The words (key) of the subscription's state.
    pub subscription_key: &'static str,
    pub threads: Vec<NotifiedThread>,
    /// Anything left to turn off.
    pub can_turn_off_all: bool,
}

/// The confirmation before deleting everything: exactly what goes.
#[derive(Template)]
#[template(path = "me/delete.html")]
pub struct DeletePage<'a> {
    pub layout: Layout<'a>,
    pub form_token: String,
    /// What goes, in the site's language, one line each.
    pub items: Vec<String>,
}
