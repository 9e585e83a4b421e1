//! Which emails a comment causes, queued in the database after the
//! comment is stored (the mail worker sends them).
use askama::Template;

use crate::config::BaseUrl;
use crate::db::{self, comments::CommentRow, mail::NewMail, Db, QueryResult};
use crate::domain::moderation::{reasons_from_text, HoldReason};
use crate::emails::{ApprovedEmail, CoachAlertEmail, ConfirmEmail, ReplyEmail};
use crate::error::AppError;
use crate::keys::SiteKey;

/// What queueing mail needs (the database, the mail worker's bell, the
/// site's address, title, key, words and clock), owned so it can move to
/// the blocking pool; the web layer builds it from its state
/// (`AppState::mail`), so this module never sees the whole app.
#[derive(Clone)]
pub struct MailContext {
    pub pool: db::Pool,
    /// Rung when mail was queued: wakes the mail worker.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
    pub clock: crate::clock::Clock,
    /// Seconds a coaching-request update waits before it is mailed (a
    /// second change within it is folded in).
    pub update_delay_seconds: i64,
    pub base: BaseUrl,
    pub site_title: String,
    pub coach_email: Option<String>,
    pub key: SiteKey,
    /// Article titles by slug (published ones).
    pub library: std::sync::Arc<crate::content::Library>,
    /// The words of the site's language, for subjects and bodies.
    pub t: std::sync::Arc<crate::i18n::Strings>,
}

/// Signed links: `{id}.{hmac}` per purpose.
pub fn signed_id(key: &SiteKey, purpose: &str, id: i64) -> String {
    format!("{id}.{}", key.sign(purpose, &id.to_string()))
}

pub fn verify_signed_id(key: &SiteKey, purpose: &str, token: &str) -> Option<i64> {
    let (id, sig) = token.split_once('.')?;
    let id: i64 = id.parse().ok()?;
    key.verify(purpose, &id.to_string(), sig).then_some(id)
}

impl MailContext {
    fn title(&self, slug: &str) -> String {
        self.library
            .article(slug, self.clock.now())
            .map(|a| a.title.clone())
            .unwrap_or_else(|| slug.to_string())
    }

    /// The reader's "My questions" page, where every email to a reader
    /// leads.
    fn me_url(&self) -> String {
        self.base.join("/me")
    }

    /// Where a comment is read: in its thread, or, for a private one
    /// (the coach's private answer), on the reader's own page.
    fn comment_url(&self, row: &CommentRow) -> String {
        if row.is_private {
            return self.me_url();
        }
        self.base.join(&format!(
            "/articles/{}#comment-{}",
            row.article_slug, row.id
        ))
    }

    fn enqueue(&self, conn: &mut Db, mail: NewMail) -> QueryResult<()> {
        db::mail::enqueue(conn, &mail, self.clock.now_naive()).map(|_| ())
    }

    /// Tells the author of the comment this one answers, if they asked and
    /// confirmed their address.
    fn reply_notification(
        &self,
        conn: &mut Db,
        row: &CommentRow,
        markdown: &str,
    ) -> QueryResult<()> {
        let Some(parent_id) = row.reply_to_id else {
            return Ok(());
        };
        let Some((parent, _)) = db::comments::find(conn, parent_id)? else {
            return Ok(());
        };
        if !parent.notify_replies || parent.author_email == row.author_email {
            return Ok(());
        }
        let Some(sub) = db::mail::subscription_by_email(conn, &parent.author_email)? else {
            return Ok(());
        };
        if !sub.is_active() {
            return Ok(());
        }
        let title = self.title(&row.article_slug);
        let unsubscribe_url = self.base.join(&format!(
            "/notifications/unsubscribe/{}",
            signed_id(&self.key, "unsubscribe", sub.id)
        ));
        let body = ReplyEmail {
            t: &self.t,
            name: &parent.author_name,
            replier: &row.author_name,
            is_coach: row.is_coach,
            article_title: &title,
            reply_text: markdown,
            comment_url: self.comment_url(row),
            unsubscribe_url: unsubscribe_url.clone(),
            site_title: &self.site_title,
            me_url: self.me_url(),
        }
        .render()
        .map_err(render_error)?;
        self.enqueue(
            conn,
            NewMail {
                recipient: parent.author_email.clone(),
                subject: self.t.f("emails.reply.subject", "name", &row.author_name),
                body,
                kind: "reply".into(),
                list_unsubscribe: Some(unsubscribe_url),
            },
        )
    }
}

fn render_error(e: askama::Error) -> db::DbQueryError {
    db::other_error(e)
}

impl MailContext {
    /// Tells the coach a comment waits for them (urgent, private or to
    /// review), with why it waits and its text.
    fn coach_alert(
        &self,
        conn: &mut Db,
        row: &CommentRow,
        markdown: &str,
        title: &str,
    ) -> QueryResult<()> {
        let Some(coach) = &self.coach_email else {
            return Ok(());
        };
        let reasons = HoldReason::explain_all(&reasons_from_text(&row.held_reasons), &self.t);
        let body = CoachAlertEmail {
            t: &self.t,
            urgent: row.is_urgent,
            private: row.is_private,
            article_title: title,
            name: &row.author_name,
            email: &row.author_email,
            reasons,
            body: markdown,
            comment_url: self.base.join(&format!("/admin/comments/{}", row.id)),
        }
        .render()
        .map_err(render_error)?;
        let subject = self.t.f(
            if row.is_urgent {
                "emails.coach.subject_urgent"
            } else if row.is_private {
                "emails.coach.subject_private"
            } else {
                "emails.coach.subject"
            },
            "title",
            &title,
        );
        self.enqueue(
            conn,
            NewMail {
                recipient: coach.clone(),
                subject,
                body,
                kind: "coach".into(),
                list_unsubscribe: None,
            },
        )
    }
}

/// A writer changed their comment so that it now matches the crisis
/// phrases: the coach hears of it at once, as of a new urgent comment.
pub async fn after_urgent_edit(mail: &MailContext, id: i64) {
    let ctx = mail.clone();
    let result = db::run(&mail.pool, move |conn| {
        let Some((row, markdown)) = db::comments::find(conn, id)? else {
            return Ok(());
        };
        let title = ctx.title(&row.article_slug);
        ctx.coach_alert(conn, &row, &markdown, &title)
    })
    .await;
    match result {
        Ok(()) => mail.wake.notify_one(),
        Err(e) => tracing::error!(comment = id, error = %e, "could not queue the coach's alert"),
    }
}

/// Queues what a newly stored comment causes: the double opt-in message,
/// the coach's alert, and (when published at once) the reply notification.
/// Failures are logged, never shown to the reader: the comment is stored.
/// `status` and `notify_replies` are the stored comment's.
pub async fn after_post(mail: &MailContext, id: i64, status: &str, notify_replies: bool) {
    // Most posts on a busy site are first comments with no reply
    // notifications asked for and, without a coach address, no mail at
    // all: they cost neither a read nor a wake of the mail worker.
    let may_mail = match status {
        db::comments::SPAM => false,
        db::comments::PENDING => notify_replies || mail.coach_email.is_some(),
        _ => true,
    };
    if !may_mail {
        return;
    }
    let ctx = mail.clone();
    let result = db::run(&mail.pool, move |conn| {
        let Some((row, markdown)) = db::comments::find(conn, id)? else {
            return Ok(());
        };
        if row.status == db::comments::SPAM {
            return Ok(());
        }
        let title = ctx.title(&row.article_slug);
        if row.notify_replies {
            let sub = db::mail::subscribe(conn, &row.author_email, ctx.clock.now_naive())?;
            if sub.confirmed_at.is_none() {
                let confirm_url = ctx.base.join(&format!(
                    "/notifications/confirm/{}",
                    signed_id(&ctx.key, "confirm", sub.id)
                ));
                let body = ConfirmEmail {
                    t: &ctx.t,
                    name: &row.author_name,
                    article_title: &title,
                    confirm_url,
                    site_title: &ctx.site_title,
                    me_url: ctx.me_url(),
                }
                .render()
                .map_err(render_error)?;
                ctx.enqueue(
                    conn,
                    NewMail {
                        recipient: row.author_email.clone(),
                        subject: ctx.t.f("emails.confirm.subject", "site", &ctx.site_title),
                        body,
                        kind: "confirm".into(),
                        list_unsubscribe: None,
                    },
                )?;
            }
        }
        if row.status == db::comments::PENDING {
            ctx.coach_alert(conn, &row, &markdown, &title)?;
        }
        if row.status == db::comments::APPROVED {
            ctx.reply_notification(conn, &row, &markdown)?;
        }
        Ok(())
    })
    .await;
    match result {
        Ok(()) => mail.wake.notify_one(),
        Err(e) => tracing::error!(comment = id, error = %e, "could not queue the comment's emails"),
    }
}

/// Publishes a held comment and queues its emails: the writer hears it is
/// published, and the author it answers hears of the reply.
/// `by` is the admin who approved it (for the audit log). Returns the
/// article whose comments changed (the caller drops its cached pages), or
/// None when there was nothing to approve.
pub async fn approve_comment(
    mail: &MailContext,
    id: i64,
    by: Option<(i64, String)>,
) -> Result<Option<String>, AppError> {
    let ctx = mail.clone();
    let now = mail.clock.now_naive();
    let changed = db::run(&mail.pool, move |conn| {
        db::transaction_retrying(conn, |conn| {
            if db::comments::approve(conn, id)? == 0 {
                return Ok(None);
            }
            if let Some((admin_id, admin_name)) = &by {
                db::admins::audit(
                    conn,
                    &db::admins::AuditEntry::new(
                        *admin_id,
                        admin_name,
                        crate::domain::audit::APPROVED,
                        now,
                    )
                    .on_comment(id),
                )?;
            }
            let Some((row, markdown)) = db::comments::find(conn, id)? else {
                return Ok(None);
            };
            if row.is_private {
                return Ok(Some(row.article_slug));
            }
            let title = ctx.title(&row.article_slug);
            let body = ApprovedEmail {
                t: &ctx.t,
                name: &row.author_name,
                article_title: &title,
                comment_url: ctx.comment_url(&row),
                site_title: &ctx.site_title,
                me_url: ctx.me_url(),
            }
            .render()
            .map_err(render_error)?;
            ctx.enqueue(
                conn,
                NewMail {
                    recipient: row.author_email.clone(),
                    subject: ctx.t.f("emails.approved.subject", "site", &ctx.site_title),
                    body,
                    kind: "approved".into(),
                    list_unsubscribe: None,
                },
            )?;
            ctx.reply_notification(conn, &row, &markdown)?;
            Ok(Some(row.article_slug))
        })
    })
    .await?;
    mail.wake.notify_one();
    Ok(changed)
}

// ---- Coaching requests ------------------------------------------------------

/// The private status link's token of a request: an HMAC of its stored
/// nonce, so later emails can carry the link again while the database
/// alone cannot produce it.
pub fn request_token(key: &SiteKey, nonce: &str) -> String {
    key.sign("request-status", nonce)
}

impl MailContext {
    fn status_url(&self, row: &db::coaching::RequestRow) -> String {
        self.base.join(&format!(
            "/requests/{}",
            request_token(&self.key, &row.token_nonce)
        ))
    }

    /// Tells the coach something happened (`what`: the key of an
    /// `emails.request_alert.event`), without any of the reader's text.
    fn request_alert(
        &self,
        conn: &mut Db,
        row: &db::coaching::RequestRow,
        what: &str,
        batch: bool,
    ) -> QueryResult<()> {
        let Some(coach) = &self.coach_email else {
            return Ok(());
        };
        let what = self.t.s(what);
        let body = crate::emails::RequestAlertEmail {
            t: &self.t,
            urgent: row.is_urgent,
            what,
            option_title: &row.option_title,
            admin_url: self.base.join(&format!("/admin/requests/{}", row.id)),
        }
        .render()
        .map_err(render_error)?;
        let subject = self.t.f2(
            if row.is_urgent {
                "emails.request_alert.subject_urgent"
            } else {
                "emails.request_alert.subject"
            },
            "what",
            &what,
            "option",
            &row.option_title,
        );
        let mut mail = NewMail {
            recipient: coach.clone(),
            subject,
            body,
            kind: "request-coach".into(),
            list_unsubscribe: None,
        };
        // An urgent request's alerts never wait.
        if !batch || row.is_urgent {
            return self.enqueue(conn, mail);
        }
        // At most one alert per request every few minutes: one still
        // waiting is taken back and sent once, after the interval since the
        // last one that went out.
        let prefix = format!("request-coach:{}:", row.id);
        let now = self.clock.now_naive();
        let waiting = db::mail::take_waiting(conn, &prefix, now)?;
        let created = waiting.map_or(now, |(first, _)| first);
        let due = match db::mail::last_sent_or_sending(conn, &prefix, now)? {
            Some(last) => (last + COACH_ALERT_INTERVAL).max(now),
            None => now,
        };
        mail.kind = format!("{prefix}event").into();
        db::mail::enqueue_due(conn, &mail, created, due).map(|_| ())
    }
}

/// The shortest time between two alerts to the coach about one request's
/// messages.
pub const COACH_ALERT_INTERVAL: chrono::Duration = chrono::Duration::minutes(5);

/// The reader's confirmation of a request, with its private link.
fn request_received(
    ctx: &MailContext,
    conn: &mut Db,
    row: &db::coaching::RequestRow,
    again: bool,
) -> QueryResult<()> {
    let body = crate::emails::RequestReceivedEmail {
        t: &ctx.t,
        name: &row.name,
        option_title: &row.option_title,
        status_url: ctx.status_url(row),
        site_title: &ctx.site_title,
        me_url: ctx.me_url(),
        again,
    }
    .render()
    .map_err(render_error)?;
    ctx.enqueue(
        conn,
        NewMail {
            recipient: row.email.clone(),
            subject: ctx.t.f(
                if again {
                    "emails.request_received.subject_again"
                } else {
                    "emails.request_received.subject"
                },
                "site",
                &ctx.site_title,
            ),
            body,
            kind: "request-received".into(),
            list_unsubscribe: None,
        },
    )
}

/// Queues what a new request causes: the reader's confirmation with the
/// private link, and the coach's alert (urgent when the crisis list
/// matched). Logged, never shown: the request is stored either way.
pub async fn after_request(mail: &MailContext, id: i64) {
    let ctx = mail.clone();
    let result = db::run(&mail.pool, move |conn| {
        let Some(row) = db::coaching::find(conn, id)? else {
            return Ok(());
        };
        db::transaction(conn, |conn| {
            request_received(&ctx, conn, &row, false)?;
            ctx.request_alert(conn, &row, "emails.request_alert.event.new_request", false)
        })
    })
    .await;
    match result {
        Ok(()) => mail.wake.notify_one(),
        Err(e) => tracing::error!(request = id, error = %e, "could not queue the request's emails"),
    }
}

/// Sends the private link of the newest request from `email` again, when
/// there is one (the reader asked: the first email never arrived).
/// Returns whether a mail was queued; the reader is never told.
pub async fn resend_request_link(mail: &MailContext, email: String) -> Result<bool, AppError> {
    let ctx = mail.clone();
    let queued = db::run(
        &mail.pool,
        move |conn| match db::coaching::newest_for_email(conn, &email)? {
            Some(row) => request_received(&ctx, conn, &row, true).map(|()| true),
            None => Ok(false),
        },
    )
    .await?;
    if queued {
        mail.wake.notify_one();
    }
    Ok(queued)
}

/// How long a "My questions" link may be opened.
pub const READER_LINK_MINUTES: i64 = 30;

/// Stores a "My questions" link for `email` (the hash of `token`) and
/// mails it, when the site holds anything for that address. Returns
/// whether a mail was queued; the reader is never told.
pub async fn reader_link(
    mail: &MailContext,
    email: String,
    token: String,
) -> Result<bool, AppError> {
    let ctx = mail.clone();
    let now = mail.clock.now_naive();
    let queued = db::run(&mail.pool, move |conn| {
        db::transaction(conn, |conn| {
            if !db::reader_corner::holds_anything(conn, &email)? {
                return Ok(false);
            }
            db::reader_corner::create_link(
                conn,
                &crate::keys::token_hash(&token),
                &email,
                now,
                now + chrono::Duration::minutes(READER_LINK_MINUTES),
            )?;
            let body = crate::emails::MeLinkEmail {
                t: &ctx.t,
                open_url: ctx.base.join(&format!("/me/open?token={token}")),
                site_title: &ctx.site_title,
            }
            .render()
            .map_err(render_error)?;
            ctx.enqueue(
                conn,
                NewMail {
                    recipient: email.clone(),
                    subject: ctx.t.f("emails.me_link.subject", "site", &ctx.site_title),
                    body,
                    kind: db::mail::READER_LINK.into(),
                    list_unsubscribe: None,
                },
            )?;
            Ok(true)
        })
    })
    .await?;
    if queued {
        mail.wake.notify_one();
    }
    Ok(queued)
}

/// Queues the reader's email about a coach message and/or a new status.
/// It waits `[mail] update_delay_seconds` (a minute by default): a change
/// within that time is merged into it, so a reply followed by a new status
/// reaches the reader as one email, with every message since the first.
/// `at` is when the change was stored (a message's own time).
pub async fn request_update(
    mail: &MailContext,
    id: i64,
    message: Option<String>,
    status: Option<crate::domain::coaching::RequestStatus>,
    at: chrono::NaiveDateTime,
) {
    if message.is_none() && status.is_none() {
        return;
    }
    let ctx = mail.clone();
    let now = at;
    let delay = chrono::Duration::seconds(mail.update_delay_seconds);
    let result = db::run(&mail.pool, move |conn| {
        db::transaction(conn, |conn| {
            let Some(row) = db::coaching::find(conn, id)? else {
                return Ok(());
            };
            if row.anonymized_at.is_some() || row.email.is_empty() {
                return Ok(());
            }
            let kind = format!("request-update:{id}:");
            let waiting = db::mail::take_waiting(conn, &kind, now)?;
            let status_changed = status.is_some()
                || waiting
                    .as_ref()
                    .is_some_and(|(_, kinds)| kinds.iter().any(|k| k.ends_with(":status")));
            // Every message of the coach since the first change not yet sent.
            let messages: Vec<String> = match &waiting {
                Some((since, _)) => db::coaching::messages(conn, id, false)?
                    .into_iter()
                    .filter(|m| m.kind == db::coaching::COACH && m.created_at >= *since)
                    .map(|m| m.body_markdown)
                    .collect(),
                None => message.into_iter().collect(),
            };
            let current = crate::domain::coaching::RequestStatus::from_code(&row.status)
                .filter(|_| status_changed);
            let t = &ctx.t;
            // The email's own words for the status: the page's speak of a
            // message "below", which an email about a status alone lacks.
            let explanation_key =
                current.map(|s| format!("emails.request_update.explanation.{}", s.code()));
            let body = crate::emails::RequestUpdateEmail {
                t,
                name: &row.name,
                option_title: &row.option_title,
                messages: &messages,
                status_label: current.map(|s| t.s(s.label_key())),
                status_explanation: explanation_key.as_deref().map_or("", |k| t.s(k)),
                status_url: ctx.status_url(&row),
                site_title: &ctx.site_title,
                me_url: ctx.me_url(),
            }
            .render()
            .map_err(render_error)?;
            let subject = match (messages.is_empty(), current) {
                (false, Some(s)) => t.f(
                    "emails.request_update.subject_answered_status",
                    "status",
                    &t.s(s.label_key()),
                ),
                (false, None) => t.s("emails.request_update.subject_answered").to_string(),
                (true, Some(s)) => t.f(
                    "emails.request_update.subject_status",
                    "status",
                    &t.s(s.label_key()),
                ),
                (true, None) => return Ok(()),
            };
            let first = waiting.map_or(now, |(since, _)| since);
            db::mail::enqueue_due(
                conn,
                &NewMail {
                    recipient: row.email.clone(),
                    subject,
                    body,
                    kind: format!(
                        "{kind}{}",
                        if status_changed { "status" } else { "message" }
                    )
                    .into(),
                    list_unsubscribe: None,
                },
                first,
                first + delay,
            )
            .map(|_| ())
        })
    })
    .await;
    match result {
        Ok(()) => mail.wake.notify_one(),
        Err(e) => {
            tracing::error!(request = id, error = %e, "could not queue the request update email")
        }
    }
}

/// Tells the coach the reader did something (`what`: the key of an
/// `emails.request_alert.event`, such as
/// `emails.request_alert.event.withdrawn`).
/// The event of a reader's message: its alerts are batched per request.
pub const NEW_MESSAGE_EVENT: &str = "emails.request_alert.event.new_message";

pub async fn request_event(mail: &MailContext, id: i64, what: &'static str) {
    let ctx = mail.clone();
    let result = db::run(&mail.pool, move |conn| {
        match db::coaching::find(conn, id)? {
            Some(row) => db::transaction(conn, |conn| {
                ctx.request_alert(conn, &row, what, what == NEW_MESSAGE_EVENT)
            }),
            None => Ok(()),
        }
    })
    .await;
    match result {
        Ok(()) => mail.wake.notify_one(),
        Err(e) => tracing::error!(request = id, error = %e, "could not queue the coach's email"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emails::{RequestAlertEmail, RequestReceivedEmail, RequestUpdateEmail};
    use crate::i18n::Strings;

    /// Every email in `t`'s language: (its name, its text).
    fn every_email(t: &Strings) -> Vec<(&'static str, String)> {
        let messages = vec!["Hier ist dein Plan.".to_string()];
        let reasons = HoldReason::explain_all(&[HoldReason::FirstComment, HoldReason::Links], t);
        vec![
            (
                "approved",
                ApprovedEmail {
                    t,
                    name: "Sam",
                    article_title: "Kontaktsperre",
                    comment_url: "https://example.com/a#comment-1".into(),
                    site_title: "Goldene Nähte",
                    me_url: "https://example.com/me".into(),
                }
                .render()
                .unwrap(),
            ),
            (
                "confirm",
                ConfirmEmail {
                    t,
                    name: "Sam",
                    article_title: "Kontaktsperre",
                    confirm_url: "https://example.com/c".into(),
                    site_title: "Goldene Nähte",
                    me_url: "https://example.com/me".into(),
                }
                .render()
                .unwrap(),
            ),
            (
                "reply",
                ReplyEmail {
                    t,
                    name: "Sam",
                    replier: "Maya",
                    is_coach: true,
                    article_title: "Kontaktsperre",
                    reply_text: "Danke dir.",
                    comment_url: "https://example.com/a#comment-2".into(),
                    unsubscribe_url: "https://example.com/u".into(),
                    site_title: "Goldene Nähte",
                    me_url: "https://example.com/me".into(),
                }
                .render()
                .unwrap(),
            ),
            (
                "coach",
                CoachAlertEmail {
                    t,
                    urgent: true,
                    private: true,
                    article_title: "Kontaktsperre",
                    name: "Sam",
                    email: "sam@example.com",
                    reasons,
                    body: "Eine Frage.",
                    comment_url: "https://example.com/admin/comments/1".into(),
                }
                .render()
                .unwrap(),
            ),
            (
                "request_received",
                RequestReceivedEmail {
                    t,
                    name: "Sam",
                    option_title: "Plan",
                    status_url: "https://example.com/requests/x".into(),
                    site_title: "Goldene Nähte",
                    me_url: "https://example.com/me".into(),
                    again: false,
                }
                .render()
                .unwrap(),
            ),
            (
                "request_alert",
                RequestAlertEmail {
                    t,
                    urgent: true,
                    what: t.s("emails.request_alert.event.new_request"),
                    option_title: "Plan",
                    admin_url: "https://example.com/admin/requests/1".into(),
                }
                .render()
                .unwrap(),
            ),
            (
                "request_update",
                RequestUpdateEmail {
                    t,
                    name: "Sam",
                    option_title: "Plan",
                    messages: &messages,
                    status_label: Some(t.s("coaching.status.label.plan-ready")),
                    status_explanation: t.s("emails.request_update.explanation.plan-ready"),
                    status_url: "https://example.com/requests/x".into(),
                    site_title: "Goldene Nähte",
                    me_url: "https://example.com/me".into(),
                }
                .render()
                .unwrap(),
            ),
        ]
    }

    #[test]
    fn every_reader_email_leads_to_my_questions_and_its_link_email_speaks_the_language() {
        let dir = tempfile::tempdir().unwrap();
        let de = Strings::load("de", dir.path()).unwrap();
        for (name, text) in every_email(&de) {
            let to_reader = !matches!(name, "coach" | "request_alert");
            assert_eq!(
                text.contains("\nhttps://example.com/me\n"),
                to_reader,
                "{name}: {text}"
            );
        }
        let link = crate::emails::MeLinkEmail {
            t: &de,
            open_url: "https://example.com/me/open?token=x".into(),
            site_title: "Goldene Nähte",
        }
        .render()
        .unwrap();
        assert!(!link.contains("emails.") && !link.contains('{'), "{link}");
        for english in ["Hello", "Warmly", "Your ", "Please "] {
            assert!(
                !link.contains(english),
                "the link email says “{english}”: {link}"
            );
        }
        assert!(link.starts_with("Hallo,\n\n"), "{link}");
        assert!(
            link.contains("\nhttps://example.com/me/open?token=x\n"),
            "{link}"
        );
    }

    #[test]
    fn every_email_reads_as_a_person_wrote_it_in_the_site_language() {
        let dir = tempfile::tempdir().unwrap();
        let de = Strings::load("de", dir.path()).unwrap();
        for (name, text) in every_email(&de) {
            assert!(
                !text.contains("emails.") && !text.contains('{'),
                "{name}: {text}"
            );
            for english in ["Hello", "Warmly", "URGENT", "the coach", "Your ", "Please "] {
                assert!(!text.contains(english), "{name} says “{english}”: {text}");
            }
            // Readers get a greeting and one sign-off; the coach gets neither.
            let to_reader = !matches!(name, "coach" | "request_alert");
            assert_eq!(
                text.starts_with("Hallo Sam,\n\n"),
                to_reader,
                "{name}: {text}"
            );
            assert_eq!(
                text.matches("\nHerzlich,\nGoldene Nähte").count(),
                usize::from(to_reader),
                "{name}: {text}"
            );
        }
        let en = Strings::english();
        for (name, text) in every_email(&en) {
            assert!(
                !text.contains("emails.") && !text.contains('{'),
                "{name}: {text}"
            );
        }
        let reply = &every_email(&de)[2].1;
        assert!(
            reply.contains("Maya (Coach) hat auf deinen Kommentar zu „Kontaktsperre“ geantwortet:")
        );
        let coach = &every_email(&de)[3].1;
        assert!(coach.contains("Von: Sam <sam@example.com>\nDer Beitrag wartet, weil er der erste Beitrag von dieser E-Mail-Adresse ist und er zwei oder mehr Links enthält.\n"), "{coach}");
        let update = &every_email(&de)[6].1;
        assert!(
            update.contains("Neuer Stand deiner Anfrage: Plan ist fertig. Dein Plan ist fertig:"),
            "{update}"
        );
    }
}
