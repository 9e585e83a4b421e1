//! "My questions" (`/me`): the link a reader asks for by email, the
//! session it opens, and what the page lists for one address (their
//! comments, the coach's replies to them, their coaching requests, their
//! reply notifications). Links and sessions are stored as hashes, in the
//! database, so every instance honours them and a restart keeps them.
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::coaching::RequestRow;
use super::comments::{lower, CommentRow};
use super::mail::Subscription;
use super::schema::{
    coaching_requests, comments, mail_outbox, mail_subscriptions, reader_links, reader_sessions,
};
use super::Db;

/// Stores a new link (the hash of its token) for `email`, valid until
/// `expires_at`.
pub fn create_link(
    conn: &mut Db,
    token_hash: &str,
    email: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(reader_links::table)
        .values((
            reader_links::token_hash.eq(token_hash),
            reader_links::email.eq(email.trim().to_lowercase()),
            reader_links::created_at.eq(now),
            reader_links::expires_at.eq(expires_at),
        ))
        .execute(conn)
}

/// Whether the link is one that may still be opened (for the page that
/// asks before opening it; nothing is used up).
pub fn link_is_open(conn: &mut Db, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let found: i64 = reader_links::table
        .filter(reader_links::token_hash.eq(token_hash))
        .filter(reader_links::used_at.is_null())
        .filter(reader_links::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// Uses the link up and starts a session for its address in one
/// transaction: the address, or None when the link is unknown, expired or
/// used (of two tabs opening it at once, one wins).
pub fn open_link(
    conn: &mut Db,
    token_hash: &str,
    session_key_hash: &str,
    now: NaiveDateTime,
    session_expires_at: NaiveDateTime,
) -> QueryResult<Option<String>> {
    super::transaction(conn, |conn| {
        let used = diesel::update(
            reader_links::table
                .filter(reader_links::token_hash.eq(token_hash))
                .filter(reader_links::used_at.is_null())
                .filter(reader_links::expires_at.gt(now)),
        )
        .set(reader_links::used_at.eq(Some(now)))
        .execute(conn)?;
        if used == 0 {
            return Ok(None);
        }
        let email: String = reader_links::table
            .filter(reader_links::token_hash.eq(token_hash))
            .select(reader_links::email)
            .first(conn)?;
        diesel::insert_into(reader_sessions::table)
            .values((
                reader_sessions::key_hash.eq(session_key_hash),
                reader_sessions::email.eq(&email),
                reader_sessions::created_at.eq(now),
                reader_sessions::expires_at.eq(session_expires_at),
            ))
            .execute(conn)?;
        Ok(Some(email))
    })
}

/// The address of a session that has not expired.
pub fn session_email(
    conn: &mut Db,
    key_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    reader_sessions::table
        .filter(reader_sessions::key_hash.eq(key_hash))
        .filter(reader_sessions::expires_at.gt(now))
        .select(reader_sessions::email)
        .first(conn)
        .optional()
}

/// Ends one session.
pub fn end_session(conn: &mut Db, key_hash: &str) -> QueryResult<usize> {
    diesel::delete(reader_sessions::table.filter(reader_sessions::key_hash.eq(key_hash)))
        .execute(conn)
}

/// Deletes expired links and sessions; how many.
pub fn purge_expired(conn: &mut Db, now: NaiveDateTime) -> QueryResult<usize> {
    Ok(
        diesel::delete(reader_links::table.filter(reader_links::expires_at.le(now)))
            .execute(conn)?
            + diesel::delete(reader_sessions::table.filter(reader_sessions::expires_at.le(now)))
                .execute(conn)?,
    )
}

/// Whether the site holds anything for `email` (a link is only mailed
/// then; the page answers the same either way).
pub fn holds_anything(conn: &mut Db, email: &str) -> QueryResult<bool> {
    let email = email.trim().to_lowercase();
    let comments: i64 = comments::table
        .filter(lower(comments::author_email).eq(&email))
        .filter(comments::is_coach.eq(false))
        .count()
        .get_result(conn)?;
    if comments > 0 {
        return Ok(true);
    }
    let requests: i64 = coaching_requests::table
        .filter(lower(coaching_requests::email).eq(&email))
        .filter(coaching_requests::anonymized_at.is_null())
        .count()
        .get_result(conn)?;
    if requests > 0 {
        return Ok(true);
    }
    let subscriptions: i64 = mail_subscriptions::table
        .filter(lower(mail_subscriptions::email).eq(&email))
        .count()
        .get_result(conn)?;
    Ok(subscriptions > 0)
}

/// Everything the page lists for one address.
#[derive(Debug)]
pub struct Corner {
    /// The reader's own comments (never the coach's), newest first.
    pub comments: Vec<CommentRow>,
    /// The coach's replies to them (private answers included), newest first.
    pub coach_replies: Vec<CommentRow>,
    /// Their coaching requests (not anonymised ones), newest first.
    pub requests: Vec<RequestRow>,
    pub subscription: Option<Subscription>,
    /// Emails sent or waiting to be sent to the address.
    pub emails: i64,
}

pub fn corner(conn: &mut Db, email: &str) -> QueryResult<Corner> {
    let email = email.trim().to_lowercase();
    let own: Vec<CommentRow> = comments::table
        .filter(lower(comments::author_email).eq(&email))
        .filter(comments::is_coach.eq(false))
        .order(comments::id.desc())
        .select(CommentRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = own.iter().map(|c| c.id).collect();
    let coach_replies = coach_replies_to(conn, &ids)?;
    let requests = coaching_requests::table
        .filter(lower(coaching_requests::email).eq(&email))
        .filter(coaching_requests::anonymized_at.is_null())
        .order(coaching_requests::id.desc())
        .select(RequestRow::as_select())
        .load(conn)?;
    let subscription = mail_subscriptions::table
        .filter(lower(mail_subscriptions::email).eq(&email))
        .select(Subscription::as_select())
        .first(conn)
        .optional()?;
    let emails = mail_outbox::table
        .filter(lower(mail_outbox::recipient).eq(&email))
        .count()
        .get_result(conn)?;
    Ok(Corner {
        comments: own,
        coach_replies,
        requests,
        subscription,
        emails,
    })
}

/// The coach's replies (published, trash and spam left out) to the
/// comments `ids`, newest first.
fn coach_replies_to(conn: &mut Db, ids: &[i64]) -> QueryResult<Vec<CommentRow>> {
    comments::table
        .filter(comments::is_coach.eq(true))
        .filter(comments::reply_to_id.eq_any(ids))
        .filter(comments::status.eq(super::comments::APPROVED))
        .order(comments::id.desc())
        .select(CommentRow::as_select())
        .load(conn)
}

/// Turns reply notifications off for the reader's comments in one thread
/// (`root`: the thread's first comment); how many comments changed.
pub fn notifications_off_in_thread(conn: &mut Db, email: &str, root: i64) -> QueryResult<usize> {
    let email = email.trim().to_lowercase();
    diesel::update(
        comments::table
            .filter(lower(comments::author_email).eq(&email))
            .filter(comments::id.eq(root).or(comments::root_id.eq(root)))
            .filter(comments::notify_replies.eq(true)),
    )
    .set(comments::notify_replies.eq(false))
    .execute(conn)
}

/// Turns every reply notification of `email` off, and ends its
/// subscription (a new one needs confirming again).
pub fn notifications_off_everywhere(
    conn: &mut Db,
    email: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let email = email.trim().to_lowercase();
    super::transaction(conn, |conn| {
        let changed = diesel::update(
            comments::table
                .filter(lower(comments::author_email).eq(&email))
                .filter(comments::notify_replies.eq(true)),
        )
        .set(comments::notify_replies.eq(false))
        .execute(conn)?;
        diesel::update(
            mail_subscriptions::table
                .filter(lower(mail_subscriptions::email).eq(&email))
                .filter(mail_subscriptions::unsubscribed_at.is_null()),
        )
        .set(mail_subscriptions::unsubscribed_at.eq(Some(now)))
        .execute(conn)?;
        Ok(changed)
    })
}
