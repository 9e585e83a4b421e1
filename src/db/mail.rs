//! The mail queue and reply-notification subscriptions. Both live in the
//! database so any number of app instances share them; an instance claims
//! a message before sending it, so each goes out once.
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{mail_outbox, mail_subscriptions};
use super::Db;

/// A message waiting to go out.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct QueuedMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub kind: String,
    pub list_unsubscribe: Option<String>,
    pub attempts: i32,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// What it is, for logs and tests: `confirm`, `reply`, `approved`, `coach`
    /// (`request-update:{id}` names the request, so changes can be merged).
    pub kind: std::borrow::Cow<'static, str>,
    /// The one-click unsubscribe URL, when the message is a notification.
    pub list_unsubscribe: Option<String>,
}

pub fn enqueue(conn: &mut Db, mail: &NewMail, now: NaiveDateTime) -> QueryResult<i64> {
    enqueue_due(conn, mail, now, now)
}

/// Queues a message to go out at `due` (not before).
pub fn enqueue_due(
    conn: &mut Db,
    mail: &NewMail,
    created: NaiveDateTime,
    due: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::recipient.eq(&mail.recipient),
            mail_outbox::subject.eq(&mail.subject),
            mail_outbox::body.eq(&mail.body),
            mail_outbox::kind.eq(mail.kind.as_ref()),
            mail_outbox::list_unsubscribe.eq(&mail.list_unsubscribe),
            mail_outbox::created_at.eq(created),
            mail_outbox::next_attempt_at.eq(due),
        ))
        .returning(mail_outbox::id)
        .get_result(conn)
}

/// Takes back the messages of `kind` that wait and nobody is sending yet
/// (to send one message in their place). Returns when the oldest of them
/// was queued and their kinds.
pub fn take_waiting(
    conn: &mut Db,
    kind_prefix: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(NaiveDateTime, Vec<String>)>> {
    // One statement, so a message a worker claims meanwhile is left to it.
    let taken: Vec<(NaiveDateTime, String)> = diesel::delete(
        mail_outbox::table
            .filter(mail_outbox::kind.like(format!("{kind_prefix}%")))
            .filter(mail_outbox::sent_at.is_null())
            .filter(mail_outbox::attempts.eq(0))
            .filter(
                mail_outbox::claimed_until
                    .is_null()
                    .or(mail_outbox::claimed_until.lt(now)),
            ),
    )
    .returning((mail_outbox::created_at, mail_outbox::kind))
    .get_results(conn)?;
    let oldest = taken.iter().map(|(at, _)| *at).min();
    Ok(oldest.map(|at| (at, taken.into_iter().map(|(_, kind)| kind).collect())))
}

/// When the last message of `kind_prefix` went out (or `now` while one is
/// being sent); None when none did.
pub fn last_sent_or_sending(
    conn: &mut Db,
    kind_prefix: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    let sending: i64 = mail_outbox::table
        .filter(mail_outbox::kind.like(format!("{kind_prefix}%")))
        .filter(mail_outbox::sent_at.is_null())
        .filter(mail_outbox::claimed_until.ge(now))
        .count()
        .get_result(conn)?;
    if sending > 0 {
        return Ok(Some(now));
    }
    mail_outbox::table
        .filter(mail_outbox::kind.like(format!("{kind_prefix}%")))
        .select(diesel::dsl::max(mail_outbox::sent_at))
        .first(conn)
}

/// Claims up to `limit` due messages for `lease` seconds; returns those this
/// caller won (another instance may win some of the same).
pub fn claim_due(
    conn: &mut Db,
    now: NaiveDateTime,
    limit: i64,
    lease: i64,
) -> QueryResult<Vec<QueuedMail>> {
    let due: Vec<i64> = mail_outbox::table
        .filter(mail_outbox::sent_at.is_null())
        .filter(mail_outbox::attempts.lt(MAX_ATTEMPTS))
        .filter(mail_outbox::next_attempt_at.le(now))
        .filter(
            mail_outbox::claimed_until
                .is_null()
                .or(mail_outbox::claimed_until.lt(now)),
        )
        .order(mail_outbox::id.asc())
        .limit(limit)
        .select(mail_outbox::id)
        .load(conn)?;
    let mut won = Vec::new();
    for id in due {
        let claimed = diesel::update(
            mail_outbox::table
                .filter(mail_outbox::id.eq(id))
                .filter(mail_outbox::sent_at.is_null())
                .filter(
                    mail_outbox::claimed_until
                        .is_null()
                        .or(mail_outbox::claimed_until.lt(now)),
                ),
        )
        .set(mail_outbox::claimed_until.eq(Some(now + Duration::seconds(lease))))
        .execute(conn)?;
        if claimed == 1 {
            won.push(
                mail_outbox::table
                    .filter(mail_outbox::id.eq(id))
                    .select(QueuedMail::as_select())
                    .first(conn)?,
            );
        }
    }
    Ok(won)
}

pub fn mark_sent(conn: &mut Db, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    let sent = diesel::update(mail_outbox::table.filter(mail_outbox::id.eq(id)))
        .set((
            mail_outbox::sent_at.eq(Some(now)),
            mail_outbox::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    // A "My questions" link opens a reader's page: once sent, its text
    // (the only place the token was ever whole) is not kept.
    diesel::update(
        mail_outbox::table
            .filter(mail_outbox::id.eq(id))
            .filter(mail_outbox::kind.eq(READER_LINK)),
    )
    .set(mail_outbox::body.eq(""))
    .execute(conn)?;
    Ok(sent)
}

/// The kind of the mail carrying a "My questions" link.
pub const READER_LINK: &str = "me-link";

/// How many times a message is tried before it counts as failed (kept,
/// unsent, and shown to the coach on the dashboard).
pub const MAX_ATTEMPTS: i32 = 8;

/// Seconds before the next try after `attempts` earlier failures: 30 s,
/// 2 min, 8 min, 32 min, about 2 h, then 6 h (eight tries span about 15 h).
pub fn retry_wait_seconds(attempts: i32) -> i64 {
    (30i64 << (2 * attempts.clamp(0, 10))).min(6 * 3600)
}

/// Records a failure; the next try waits longer each time, and after
/// [`MAX_ATTEMPTS`] there is none.
pub fn mark_failed(
    conn: &mut Db,
    id: i64,
    attempts: i32,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let wait = retry_wait_seconds(attempts);
    diesel::update(mail_outbox::table.filter(mail_outbox::id.eq(id)))
        .set((
            mail_outbox::attempts.eq(attempts + 1),
            mail_outbox::last_error.eq(Some(error)),
            mail_outbox::next_attempt_at.eq(now + Duration::seconds(wait)),
            mail_outbox::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Messages not sent yet (for the dashboard and tests).
pub fn unsent_count(conn: &mut Db) -> QueryResult<i64> {
    mail_outbox::table
        .filter(mail_outbox::sent_at.is_null())
        .count()
        .get_result(conn)
}

/// A message given up on after [`MAX_ATTEMPTS`] tries: what the coach sees
/// (never its body).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct FailedMail {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub created_at: NaiveDateTime,
    pub last_error: Option<String>,
}

impl FailedMail {
    /// True when the message was for the coach (alerts), not a reader.
    pub fn to_coach(&self) -> bool {
        self.kind == "coach" || self.kind.starts_with("request-coach")
    }
}

/// How many messages failed for good, and the newest `limit` of them.
pub fn failed(conn: &mut Db, limit: i64) -> QueryResult<(i64, Vec<FailedMail>)> {
    let failed = || {
        mail_outbox::table
            .filter(mail_outbox::sent_at.is_null())
            .filter(mail_outbox::attempts.ge(MAX_ATTEMPTS))
    };
    let count = failed().count().get_result(conn)?;
    let newest = failed()
        .order(mail_outbox::id.desc())
        .limit(limit)
        .select(FailedMail::as_select())
        .load(conn)?;
    Ok((count, newest))
}

/// A reader's reply-notification subscription.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_subscriptions)]
pub struct Subscription {
    pub id: i64,
    pub email: String,
    pub confirmed_at: Option<NaiveDateTime>,
    pub unsubscribed_at: Option<NaiveDateTime>,
}

impl Subscription {
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some() && self.unsubscribed_at.is_none()
    }
}

pub fn subscription_by_email(conn: &mut Db, email: &str) -> QueryResult<Option<Subscription>> {
    mail_subscriptions::table
        .filter(mail_subscriptions::email.eq(email))
        .select(Subscription::as_select())
        .first(conn)
        .optional()
}

pub fn subscription(conn: &mut Db, id: i64) -> QueryResult<Option<Subscription>> {
    mail_subscriptions::table
        .filter(mail_subscriptions::id.eq(id))
        .select(Subscription::as_select())
        .first(conn)
        .optional()
}

/// The subscription for `email`, created unconfirmed when new. A reader
/// who unsubscribed and asks again starts over (unconfirmed).
pub fn subscribe(conn: &mut Db, email: &str, now: NaiveDateTime) -> QueryResult<Subscription> {
    if let Some(existing) = subscription_by_email(conn, email)? {
        if existing.unsubscribed_at.is_some() {
            diesel::update(
                mail_subscriptions::table.filter(mail_subscriptions::id.eq(existing.id)),
            )
            .set((
                mail_subscriptions::unsubscribed_at.eq(None::<NaiveDateTime>),
                mail_subscriptions::confirmed_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
            return subscription(conn, existing.id)?.ok_or(diesel::result::Error::NotFound);
        }
        return Ok(existing);
    }
    let inserted = diesel::insert_into(mail_subscriptions::table)
        .values((
            mail_subscriptions::email.eq(email),
            mail_subscriptions::created_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        // Another request subscribed the same address at the same moment.
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => subscription_by_email(conn, email)?.ok_or(diesel::result::Error::NotFound),
        Err(e) => Err(e),
    }
}

pub fn confirm(conn: &mut Db, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        mail_subscriptions::table
            .filter(mail_subscriptions::id.eq(id))
            .filter(mail_subscriptions::confirmed_at.is_null()),
    )
    .set(mail_subscriptions::confirmed_at.eq(Some(now)))
    .execute(conn)
}

pub fn unsubscribe(conn: &mut Db, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        mail_subscriptions::table
            .filter(mail_subscriptions::id.eq(id))
            .filter(mail_subscriptions::unsubscribed_at.is_null()),
    )
    .set(mail_subscriptions::unsubscribed_at.eq(Some(now)))
    .execute(conn)
}

/// Attempts so far of each unsent message (for tests and the dashboard).
pub fn attempts_of_unsent(conn: &mut Db) -> QueryResult<Vec<i32>> {
    mail_outbox::table
        .filter(mail_outbox::sent_at.is_null())
        .select(mail_outbox::attempts)
        .load(conn)
}

/// Deletes messages sent before `before` (unsent and failing ones stay);
/// returns how many.
pub fn purge_sent_before(conn: &mut Db, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        mail_outbox::table
            .filter(mail_outbox::sent_at.is_not_null())
            .filter(mail_outbox::sent_at.lt(before)),
    )
    .execute(conn)
}
