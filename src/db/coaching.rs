//! Coaching requests, their messages and notes, retention and the
//! per-person export and erasure.
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::comments::lower;
use super::schema::{
    coaching_requests, comments, mail_outbox, mail_subscriptions, reader_links, reader_sessions,
    request_messages,
};
use super::Db;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = coaching_requests)]
pub struct RequestRow {
    pub id: i64,
    #[serde(skip)]
    pub token_hash: String,
    #[serde(skip)]
    pub token_nonce: String,
    #[serde(skip)]
    pub form_token_hash: String,
    pub name: String,
    pub email: String,
    pub option_slug: String,
    pub option_title: String,
    pub ended_by: String,
    pub together_for: String,
    pub ended_ago: String,
    pub contact_now: String,
    pub no_contact_since: Option<String>,
    pub hope: String,
    pub situation: String,
    pub talk_via: String,
    pub time_zone: Option<String>,
    pub source_article: Option<String>,
    pub source_comment_id: Option<i64>,
    pub consent_at: NaiveDateTime,
    pub privacy_version: String,
    pub is_urgent: bool,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub anonymized_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = request_messages)]
pub struct MessageRow {
    pub id: i64,
    pub request_id: i64,
    /// `reader`, `coach` or `note` (the coach's private note).
    pub kind: String,
    pub author_name: String,
    pub body_markdown: String,
    #[serde(skip)]
    pub body_html: String,
    pub created_at: NaiveDateTime,
}

pub const READER: &str = "reader";
pub const COACH: &str = "coach";
pub const NOTE: &str = "note";

/// Everything to store for a new request.
pub struct NewRequestRecord<'a> {
    pub token_hash: &'a str,
    pub token_nonce: &'a str,
    pub form_token_hash: &'a str,
    pub request: &'a crate::domain::coaching::NewCoachingRequest,
    pub option_title: &'a str,
    pub privacy_version: &'a str,
    pub is_urgent: bool,
    pub ip_hash: &'a str,
    pub now: NaiveDateTime,
}

/// Why a request was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RequestRefused {
    #[error("too many requests from this address; retry in {0} s")]
    RateLimited(i64),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

const RATE_BUCKET: &str = "coaching-request";

/// Stores a request in one immediate transaction. The same form sent
/// twice stores one request: the second gets the first's id back, and
/// `false` (not new).
pub fn create(
    conn: &mut Db,
    record: &NewRequestRecord,
    limits: super::rate_limits::PostLimits,
) -> Result<(i64, bool), RequestRefused> {
    super::transaction(conn, |conn| -> Result<(i64, bool), RequestRefused> {
        let existing: Option<i64> = coaching_requests::table
            .filter(coaching_requests::form_token_hash.eq(record.form_token_hash))
            .select(coaching_requests::id)
            .first(conn)
            .optional()?;
        if let Some(id) = existing {
            return Ok((id, false));
        }
        if let Err(wait) =
            super::rate_limits::take(conn, RATE_BUCKET, record.ip_hash, limits, record.now)?
        {
            return Err(RequestRefused::RateLimited(wait));
        }
        let r = record.request;
        let id = diesel::insert_into(coaching_requests::table)
            .values((
                coaching_requests::token_hash.eq(record.token_hash),
                coaching_requests::token_nonce.eq(record.token_nonce),
                coaching_requests::form_token_hash.eq(record.form_token_hash),
                coaching_requests::name.eq(r.name.as_str()),
                coaching_requests::email.eq(r.email.as_str()),
                coaching_requests::option_slug.eq(&r.option),
                coaching_requests::option_title.eq(record.option_title),
                coaching_requests::ended_by.eq(r.ended_by),
                coaching_requests::together_for.eq(r.together_for),
                coaching_requests::ended_ago.eq(r.ended_ago),
                coaching_requests::contact_now.eq(r.contact_now),
                coaching_requests::no_contact_since
                    .eq(r.no_contact_since.map(|d| d.format("%Y-%m-%d").to_string())),
                coaching_requests::hope.eq(r.hope),
                coaching_requests::situation.eq(&r.situation),
                coaching_requests::talk_via.eq(r.talk_via),
                coaching_requests::time_zone.eq(r.time_zone),
                coaching_requests::source_article.eq(&r.source_article),
                coaching_requests::source_comment_id.eq(r.source_comment),
                coaching_requests::consent_at.eq(record.now),
                coaching_requests::privacy_version.eq(record.privacy_version),
                coaching_requests::is_urgent.eq(record.is_urgent),
                coaching_requests::status.eq("received"),
                coaching_requests::created_at.eq(record.now),
                coaching_requests::updated_at.eq(record.now),
            ))
            .returning(coaching_requests::id)
            .get_result(conn)?;
        Ok((id, true))
    })
}

pub fn find(conn: &mut Db, id: i64) -> QueryResult<Option<RequestRow>> {
    coaching_requests::table
        .filter(coaching_requests::id.eq(id))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()
}

/// The newest request sent from `email` that still has its details (to
/// send its private link again).
pub fn newest_for_email(conn: &mut Db, email: &str) -> QueryResult<Option<RequestRow>> {
    coaching_requests::table
        .filter(lower(coaching_requests::email).eq(email.trim().to_lowercase()))
        .filter(coaching_requests::anonymized_at.is_null())
        .order(coaching_requests::id.desc())
        .select(RequestRow::as_select())
        .first(conn)
        .optional()
}

/// The request behind a status link (by the token's hash).
pub fn find_by_token(conn: &mut Db, token_hash: &str) -> QueryResult<Option<RequestRow>> {
    coaching_requests::table
        .filter(coaching_requests::token_hash.eq(token_hash))
        .filter(coaching_requests::anonymized_at.is_null())
        .select(RequestRow::as_select())
        .first(conn)
        .optional()
}

/// Messages of a request, oldest first; notes only when asked.
pub fn messages(conn: &mut Db, request_id: i64, with_notes: bool) -> QueryResult<Vec<MessageRow>> {
    let mut query = request_messages::table
        .filter(request_messages::request_id.eq(request_id))
        .into_boxed();
    if !with_notes {
        query = query.filter(request_messages::kind.ne(NOTE));
    }
    query
        .order(request_messages::id.asc())
        .select(MessageRow::as_select())
        .load(conn)
}

/// Adds a message or note; the request's update time moves on.
pub fn add_message(
    conn: &mut Db,
    request_id: i64,
    kind: &str,
    author_name: &str,
    body_markdown: &str,
    body_html: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    super::transaction(conn, |conn| {
        diesel::update(coaching_requests::table.filter(coaching_requests::id.eq(request_id)))
            .set(coaching_requests::updated_at.eq(now))
            .execute(conn)?;
        diesel::insert_into(request_messages::table)
            .values((
                request_messages::request_id.eq(request_id),
                request_messages::kind.eq(kind),
                request_messages::author_name.eq(author_name),
                request_messages::body_markdown.eq(body_markdown),
                request_messages::body_html.eq(body_html),
                request_messages::created_at.eq(now),
            ))
            .returning(request_messages::id)
            .get_result(conn)
    })
}

/// Sets the status; returns the old one when it changed.
pub fn set_status(
    conn: &mut Db,
    id: i64,
    status: crate::domain::coaching::RequestStatus,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    super::transaction(conn, |conn| {
        let old: String = coaching_requests::table
            .filter(coaching_requests::id.eq(id))
            .select(coaching_requests::status)
            .first(conn)?;
        if old == status.code() {
            return Ok(None);
        }
        let finished = status.is_finished().then_some(now);
        diesel::update(coaching_requests::table.filter(coaching_requests::id.eq(id)))
            .set((
                coaching_requests::status.eq(status.code()),
                coaching_requests::updated_at.eq(now),
                coaching_requests::finished_at.eq(finished),
            ))
            .execute(conn)?;
        Ok(Some(old))
    })
}

/// Deletes a request and all its messages and notes; `now` decides which
/// of its waiting emails no worker holds any more.
pub fn delete(conn: &mut Db, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    super::transaction(conn, |conn| {
        diesel::delete(request_messages::table.filter(request_messages::request_id.eq(id)))
            .execute(conn)?;
        // An update email still waiting to merge changes carries the
        // coach's words: it goes with the request.
        super::mail::take_waiting(conn, &format!("request-update:{id}:"), now)?;
        diesel::delete(coaching_requests::table.filter(coaching_requests::id.eq(id))).execute(conn)
    })
}

/// Marks a request urgent (a message of the reader's matched the crisis
/// phrases).
pub fn mark_urgent(conn: &mut Db, id: i64) -> QueryResult<usize> {
    diesel::update(coaching_requests::table.filter(coaching_requests::id.eq(id)))
        .set(coaching_requests::is_urgent.eq(true))
        .execute(conn)
}

/// Filters of the coach's inbox.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub status: Option<String>,
    pub option: Option<String>,
}

fn inbox_query(filter: &InboxFilter) -> coaching_requests::BoxedQuery<'_, super::DbBackend> {
    let mut query = coaching_requests::table.into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(coaching_requests::status.eq(status));
    }
    if let Some(option) = &filter.option {
        query = query.filter(coaching_requests::option_slug.eq(option));
    }
    query
}

/// A page of the inbox, newest first, and the total.
pub fn inbox(
    conn: &mut Db,
    filter: &InboxFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<RequestRow>, i64)> {
    let total = inbox_query(filter).count().get_result(conn)?;
    let rows = inbox_query(filter)
        .order(coaching_requests::id.desc())
        .offset(offset)
        .limit(limit)
        .select(RequestRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Every request (for exports), newest first.
pub fn all(conn: &mut Db) -> QueryResult<Vec<RequestRow>> {
    coaching_requests::table
        .order(coaching_requests::id.desc())
        .select(RequestRow::as_select())
        .load(conn)
}

/// New requests (status received), for the dashboard.
pub fn count_new(conn: &mut Db) -> QueryResult<i64> {
    coaching_requests::table
        .filter(coaching_requests::status.eq("received"))
        .count()
        .get_result(conn)
}

/// What the statistics panel counts: (created, option title, article).
pub fn statistics_rows(conn: &mut Db) -> QueryResult<Vec<(NaiveDateTime, String, Option<String>)>> {
    coaching_requests::table
        .select((
            coaching_requests::created_at,
            coaching_requests::option_title,
            coaching_requests::source_article,
        ))
        .load(conn)
}

/// Closed or withdrawn requests finished before `before` lose everything
/// personal: what remains is the option, the dates and the status.
pub fn purge_finished(
    conn: &mut Db,
    before: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    super::transaction(conn, |conn| {
        let ids: Vec<i64> = coaching_requests::table
            .filter(coaching_requests::finished_at.lt(before))
            .filter(coaching_requests::anonymized_at.is_null())
            .select(coaching_requests::id)
            .load(conn)?;
        if ids.is_empty() {
            return Ok(0);
        }
        diesel::delete(request_messages::table.filter(request_messages::request_id.eq_any(&ids)))
            .execute(conn)?;
        for id in &ids {
            diesel::update(coaching_requests::table.filter(coaching_requests::id.eq(id)))
                .set((
                    // Unique columns get a value nobody can guess or reuse.
                    coaching_requests::token_hash.eq(format!("erased-{id}")),
                    coaching_requests::token_nonce.eq(""),
                    coaching_requests::form_token_hash.eq(format!("erased-{id}")),
                    coaching_requests::name.eq(""),
                    coaching_requests::email.eq(""),
                    coaching_requests::ended_by.eq(""),
                    coaching_requests::together_for.eq(""),
                    coaching_requests::ended_ago.eq(""),
                    coaching_requests::contact_now.eq(""),
                    coaching_requests::no_contact_since.eq(None::<String>),
                    coaching_requests::hope.eq(""),
                    coaching_requests::situation.eq(""),
                    coaching_requests::time_zone.eq(None::<String>),
                    coaching_requests::source_comment_id.eq(None::<i64>),
                    coaching_requests::is_urgent.eq(false),
                    coaching_requests::anonymized_at.eq(Some(now)),
                ))
                .execute(conn)?;
        }
        Ok(ids.len())
    })
}

/// Moves a request's times into the past (for tests of retention).
pub fn backdate(conn: &mut Db, id: i64, by: Duration) -> QueryResult<usize> {
    let row = find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
    diesel::update(coaching_requests::table.filter(coaching_requests::id.eq(id)))
        .set((
            coaching_requests::created_at.eq(row.created_at - by),
            coaching_requests::finished_at.eq(row.finished_at.map(|f| f - by)),
        ))
        .execute(conn)
}

/// Everything the site holds about one person.
#[derive(Debug, serde::Serialize)]
pub struct PersonData {
    pub email: String,
    pub comments: Vec<PersonComment>,
    pub coaching_requests: Vec<RequestRow>,
    pub request_messages: Vec<MessageRow>,
    pub subscription: Option<PersonSubscription>,
    pub emails_queued_or_sent: i64,
}

#[derive(Debug, serde::Serialize, Queryable)]
pub struct PersonComment {
    pub id: i64,
    pub article_slug: String,
    pub author_name: String,
    pub body_markdown: String,
    pub status: String,
    pub is_private: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, serde::Serialize, Queryable)]
pub struct PersonSubscription {
    pub confirmed_at: Option<NaiveDateTime>,
    pub unsubscribed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn export_person(conn: &mut Db, email: &str) -> QueryResult<PersonData> {
    let email = email.trim().to_lowercase();
    let person_comments = comments::table
        .filter(lower(comments::author_email).eq(&email))
        .order(comments::id.asc())
        .select((
            comments::id,
            comments::article_slug,
            comments::author_name,
            comments::body_markdown,
            comments::status,
            comments::is_private,
            comments::created_at,
        ))
        .load(conn)?;
    let requests: Vec<RequestRow> = coaching_requests::table
        .filter(lower(coaching_requests::email).eq(&email))
        .order(coaching_requests::id.asc())
        .select(RequestRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let messages = request_messages::table
        .filter(request_messages::request_id.eq_any(&ids))
        .filter(request_messages::kind.ne(NOTE))
        .order(request_messages::id.asc())
        .select(MessageRow::as_select())
        .load(conn)?;
    let subscription = mail_subscriptions::table
        .filter(lower(mail_subscriptions::email).eq(&email))
        .select((
            mail_subscriptions::confirmed_at,
            mail_subscriptions::unsubscribed_at,
            mail_subscriptions::created_at,
        ))
        .first(conn)
        .optional()?;
    let mails = mail_outbox::table
        .filter(lower(mail_outbox::recipient).eq(&email))
        .count()
        .get_result(conn)?;
    Ok(PersonData {
        email,
        comments: person_comments,
        coaching_requests: requests,
        request_messages: messages,
        subscription,
        emails_queued_or_sent: mails,
    })
}

/// What erasing one person removed.
#[derive(Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct Erased {
    pub comments: usize,
    /// The coach's replies to those comments (they go with them).
    pub coach_replies: usize,
    pub coaching_requests: usize,
    pub subscriptions: usize,
    pub emails: usize,
}

/// Deletes everything held about `email`: comments with the coach's
/// replies to them (other readers' replies stay, detached), requests with
/// their messages, the subscription and mail.
pub fn erase_person(conn: &mut Db, email: &str) -> QueryResult<Erased> {
    let email = email.trim().to_lowercase();
    super::transaction(conn, |conn| {
        let comment_ids: Vec<i64> = comments::table
            .filter(lower(comments::author_email).eq(&email))
            .select(comments::id)
            .load(conn)?;
        super::comments::lock_counts_of(conn, &comment_ids)?;
        let coach_replies = diesel::delete(
            comments::table
                .filter(comments::is_coach.eq(true))
                .filter(comments::reply_to_id.eq_any(&comment_ids))
                .filter(lower(comments::author_email).ne(&email)),
        )
        .execute(conn)?;
        // Their "My questions" links and sessions end with it.
        diesel::delete(reader_sessions::table.filter(reader_sessions::email.eq(&email)))
            .execute(conn)?;
        diesel::delete(reader_links::table.filter(reader_links::email.eq(&email))).execute(conn)?;
        let ids: Vec<i64> = coaching_requests::table
            .filter(lower(coaching_requests::email).eq(&email))
            .select(coaching_requests::id)
            .load(conn)?;
        diesel::delete(request_messages::table.filter(request_messages::request_id.eq_any(&ids)))
            .execute(conn)?;
        Ok(Erased {
            coach_replies,
            coaching_requests: diesel::delete(
                coaching_requests::table.filter(coaching_requests::id.eq_any(&ids)),
            )
            .execute(conn)?,
            comments: diesel::delete(
                comments::table.filter(lower(comments::author_email).eq(&email)),
            )
            .execute(conn)?,
            subscriptions: diesel::delete(
                mail_subscriptions::table.filter(lower(mail_subscriptions::email).eq(&email)),
            )
            .execute(conn)?,
            emails: diesel::delete(
                mail_outbox::table.filter(lower(mail_outbox::recipient).eq(&email)),
            )
            .execute(conn)?,
        })
    })
}
