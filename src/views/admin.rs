//! Page structs of the coach's admin area.
use askama::Template;

use super::{Date, Layout, Pagination};
use crate::content::comment_markdown::SafeHtml;

/// Field messages of the account form.
#[derive(Default, Debug, Clone)]
pub struct AccountErrors {
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: Option<String>,
}

impl AccountErrors {
    pub fn any(&self) -> bool {
        self.email.is_some() || self.name.is_some() || self.password.is_some()
    }
}

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
pub struct SignInPage<'a> {
    pub layout: Layout<'a>,
    pub token: String,
    pub next: String,
    pub email: String,
    pub problem: Option<String>,
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/setup.html")]
pub struct SetupPage<'a> {
    pub layout: Layout<'a>,
    pub invalid: bool,
    pub token: String,
    pub email: String,
    pub name: String,
    pub errors: AccountErrors,
}

/// The admin area's own navigation, on every admin page.
pub struct AdminNav {
    pub coach_name: String,
    pub csrf: String,
    /// Which item is current: dashboard, comments, audit.
    pub current: &'static str,
    pub pending: i64,
    /// Coaching requests nobody has opened yet.
    pub new_requests: i64,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
pub struct DashboardPage<'a> {
    pub layout: Layout<'a>,
    pub nav: AdminNav,
    pub counts: crate::db::comments::QueueCounts,
    pub new_requests: i64,
    /// Emails given up on, and the newest of them.
    pub failed_mail: i64,
    pub failed_mails: Vec<FailedMailView>,
}

/// An email that could not be sent: who it was for, its subject, the
/// mailer's last error (never its body).
pub struct FailedMailView {
    pub to_coach: bool,
    pub subject: String,
    pub queued: String,
    pub error: String,
}

/// One comment in the queue or on its own page.
pub struct QueueItem {
    pub id: i64,
    pub article_title: String,
    pub article_url: String,
    pub name: String,
    pub email: String,
    /// The state's code (`pending`, `approved`, `spam`, `trash`): CSS
    /// classes and conditions use it.
    pub status: String,
    /// The state in the site's language.
    pub status_label: String,
    pub is_coach: bool,
    pub private: bool,
    pub urgent: bool,
    pub edited: bool,
    pub edited_by_coach: bool,
    /// Why it waits, in the site's language.
    pub reasons: Vec<String>,
    pub date: Date,
    pub relative: String,
    pub body: SafeHtml,
    /// The comment it answers: (id, name, text).
    pub context: Option<(i64, String, SafeHtml)>,
}

/// A tab of the moderation queue.
pub struct QueueTab {
    pub key: &'static str,
    pub label: String,
    pub url: String,
    pub count: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/comments.html")]
pub struct QueuePage<'a> {
    pub layout: Layout<'a>,
    pub nav: AdminNav,
    pub tabs: Vec<QueueTab>,
    pub current_tab: &'static str,
    pub heading: String,
    pub query: String,
    pub email: String,
    pub items: Vec<QueueItem>,
    pub total: i64,
    pub pagination: Option<Pagination>,
    /// Where actions return to.
    pub back: String,
    pub done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/comment.html")]
pub struct CommentPage<'a> {
    pub layout: Layout<'a>,
    pub nav: AdminNav,
    pub item: QueueItem,
    pub replies: Vec<QueueItem>,
    pub history: Vec<AuditView>,
    pub reply_body: String,
    pub reply_error: Option<String>,
    pub back: String,
    pub done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/edit_comment.html")]
pub struct EditPage<'a> {
    pub layout: Layout<'a>,
    pub nav: AdminNav,
    pub item: QueueItem,
    pub body: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/delete_comment.html")]
pub struct DeletePage<'a> {
    pub layout: Layout<'a>,
    pub nav: AdminNav,
    pub items: Vec<QueueItem>,
    /// Replies that stay, without their parent.
    pub replies: usize,
    pub back: String,
}

/// Asks before publishing comments that matched the crisis phrases.
#[derive(Template)]
#[template(path = "admin/approve_urgent.html")]
pub struct ApproveUrgentPage<'a> {
    pub layout: Layout<'a>,
    pub nav: AdminNav,
    pub items: Vec<QueueItem>,
    pub back: String,
}

/// One line of the audit log.
pub struct AuditView {
    pub who: String,
    pub action: String,
    pub comment_id: Option<i64>,
    pub detail: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage<'a> {
    pub layout: Layout<'a>,
    pub nav: AdminNav,
    pub entries: Vec<AuditView>,
    pub pagination: Option<Pagination>,
}
