//! The coach's accounts, the one-time setup link, sessions shared by every
//! app instance, sign-in failure counts and the audit log.
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{admin_audit, admin_sessions, admin_setup_tokens, admins, rate_limit_events};
use super::Db;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admins)]
pub struct AdminRow {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub last_sign_in_at: Option<NaiveDateTime>,
}

pub fn count(conn: &mut Db) -> QueryResult<i64> {
    admins::table.count().get_result(conn)
}

/// Why an account was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateRefused {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub fn create(
    conn: &mut Db,
    email: &str,
    display_name: &str,
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<i64, CreateRefused> {
    super::transaction(conn, |conn| {
        if find_by_email(conn, email)?.is_some() {
            return Err(CreateRefused::EmailTaken);
        }
        Ok(insert_admin(
            conn,
            &NewAdminRow {
                email,
                display_name,
                password_hash,
                created_at: now,
            },
        )?)
    })
}

/// A new account as stored, by the CLI and by the first-run setup alike.
#[derive(Debug, Insertable)]
#[diesel(table_name = admins)]
struct NewAdminRow<'a> {
    email: &'a str,
    display_name: &'a str,
    password_hash: &'a str,
    created_at: NaiveDateTime,
}

fn insert_admin(conn: &mut Db, row: &NewAdminRow) -> QueryResult<i64> {
    diesel::insert_into(admins::table)
        .values(row)
        .returning(admins::id)
        .get_result(conn)
}

/// The account for an email (compared case-insensitively: emails are
/// stored lower-cased).
pub fn find_by_email(conn: &mut Db, email: &str) -> QueryResult<Option<AdminRow>> {
    admins::table
        .filter(admins::email.eq(email.trim().to_lowercase()))
        .select(AdminRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut Db, id: i64) -> QueryResult<Option<AdminRow>> {
    admins::table
        .filter(admins::id.eq(id))
        .select(AdminRow::as_select())
        .first(conn)
        .optional()
}

/// Stores a new password hash and ends every session of the account.
pub fn set_password(conn: &mut Db, id: i64, password_hash: &str) -> QueryResult<usize> {
    super::transaction(conn, |conn| {
        diesel::delete(admin_sessions::table.filter(admin_sessions::admin_id.eq(id)))
            .execute(conn)?;
        diesel::update(admins::table.filter(admins::id.eq(id)))
            .set(admins::password_hash.eq(password_hash))
            .execute(conn)
    })
}

/// A successful sign-in: the time, a possibly upgraded hash, and the
/// account's failure count cleared.
pub fn signed_in(
    conn: &mut Db,
    id: i64,
    account_key: &str,
    new_hash: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    super::transaction(conn, |conn| {
        diesel::update(admins::table.filter(admins::id.eq(id)))
            .set(admins::last_sign_in_at.eq(Some(now)))
            .execute(conn)?;
        if let Some(hash) = new_hash {
            diesel::update(admins::table.filter(admins::id.eq(id)))
                .set(admins::password_hash.eq(hash))
                .execute(conn)?;
        }
        diesel::delete(
            rate_limit_events::table
                .filter(rate_limit_events::bucket.eq(ACCOUNT_FAILURES))
                .filter(rate_limit_events::key_hash.eq(account_key)),
        )
        .execute(conn)?;
        Ok(())
    })
}

const IP_FAILURES: &str = "sign-in-ip";
const ACCOUNT_FAILURES: &str = "sign-in-account";
const DEVICE_FAILURES: &str = "sign-in-device";

/// Failed sign-ins that count against an address and an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Failures from one address allowed in `ip_window`.
    pub ip_failures: i64,
    pub ip_window: Duration,
    /// Failures for one account before it has to wait.
    pub account_failures: i64,
    /// The longest wait an account can get.
    pub account_max_wait: Duration,
    /// Failures a trusted browser may make in `device_window` before its
    /// device cookie stops exempting it from the account's wait.
    pub device_failures: i64,
    pub device_window: Duration,
    /// An address with no failures in this long may sign in with the right
    /// password even while the account waits.
    pub clean_address_window: Duration,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            ip_failures: 10,
            ip_window: Duration::minutes(15),
            account_failures: 20,
            account_max_wait: Duration::minutes(15),
            device_failures: 10,
            device_window: Duration::minutes(15),
            clean_address_window: Duration::days(1),
        }
    }
}

/// Seconds until the next sign-in attempt is allowed from this address or
/// for this account (`account_key` is a salted hash of the email typed,
/// whether or not such an account exists, so waits reveal nothing).
/// Returns (ip wait, account wait); 0 means go ahead.
pub fn sign_in_wait(
    conn: &mut Db,
    ip_key: &str,
    account_key: &str,
    limits: SignInLimits,
    now: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    let ip_failures: Vec<NaiveDateTime> = rate_limit_events::table
        .filter(rate_limit_events::bucket.eq(IP_FAILURES))
        .filter(rate_limit_events::key_hash.eq(ip_key))
        .filter(rate_limit_events::created_at.gt(now - limits.ip_window))
        .select(rate_limit_events::created_at)
        .order(rate_limit_events::created_at.asc())
        .load(conn)?;
    let ip_wait = if ip_failures.len() as i64 >= limits.ip_failures {
        let oldest = ip_failures[ip_failures.len() - limits.ip_failures as usize];
        ((oldest + limits.ip_window - now).num_milliseconds() + 999)
            .div_euclid(1000)
            .max(1)
    } else {
        0
    };
    let account_failures: Vec<NaiveDateTime> = rate_limit_events::table
        .filter(rate_limit_events::bucket.eq(ACCOUNT_FAILURES))
        .filter(rate_limit_events::key_hash.eq(account_key))
        .filter(rate_limit_events::created_at.gt(now - Duration::days(1)))
        .select(rate_limit_events::created_at)
        .order(rate_limit_events::created_at.asc())
        .load(conn)?;
    let n = account_failures.len() as i64;
    let account_wait = match account_failures.last() {
        Some(last) if n >= limits.account_failures => {
            // 5 s after the 20th failure, then 10, 20, 40... up to the cap.
            let exponent = (n - limits.account_failures).min(20) as u32;
            let wait = Duration::seconds(5 * (1i64 << exponent)).min(limits.account_max_wait);
            let left_ms = (*last + wait - now).num_milliseconds();
            (left_ms + 999).div_euclid(1000).max(0)
        }
        _ => 0,
    };
    Ok((ip_wait, account_wait))
}

/// Failures from this address since `since` (an address with none may
/// sign in with the right password even while the account waits).
pub fn address_failures_since(
    conn: &mut Db,
    ip_key: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    rate_limit_events::table
        .filter(rate_limit_events::bucket.eq(IP_FAILURES))
        .filter(rate_limit_events::key_hash.eq(ip_key))
        .filter(rate_limit_events::created_at.gt(since))
        .count()
        .get_result(conn)
}

/// True while a trusted browser (device cookie) has too many failures of
/// its own: it is then treated like any other browser.
pub fn device_locked(
    conn: &mut Db,
    device_key: &str,
    limits: SignInLimits,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let failures: i64 = rate_limit_events::table
        .filter(rate_limit_events::bucket.eq(DEVICE_FAILURES))
        .filter(rate_limit_events::key_hash.eq(device_key))
        .filter(rate_limit_events::created_at.gt(now - limits.device_window))
        .count()
        .get_result(conn)?;
    Ok(failures >= limits.device_failures)
}

/// Who a failed sign-in counts against besides its address: the account
/// typed, or (for a trusted browser) that browser's device cookie alone, so
/// the owner's own typos never slow the account for everyone.
#[derive(Debug, Clone, Copy)]
pub enum FailureAgainst<'a> {
    Account(&'a str),
    Device(&'a str),
}

/// Records a failed sign-in against the address and the account typed
/// (or the trusted device).
pub fn sign_in_failed(
    conn: &mut Db,
    ip_key: &str,
    against: FailureAgainst,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let second = match against {
        FailureAgainst::Account(key) => (ACCOUNT_FAILURES, key),
        FailureAgainst::Device(key) => (DEVICE_FAILURES, key),
    };
    super::transaction(conn, |conn| {
        for (bucket, key) in [(IP_FAILURES, ip_key), second] {
            diesel::insert_into(rate_limit_events::table)
                .values((
                    rate_limit_events::bucket.eq(bucket),
                    rate_limit_events::key_hash.eq(key),
                    rate_limit_events::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        diesel::delete(
            rate_limit_events::table
                .filter(
                    rate_limit_events::bucket
                        .eq(IP_FAILURES)
                        .or(rate_limit_events::bucket.eq(ACCOUNT_FAILURES))
                        .or(rate_limit_events::bucket.eq(DEVICE_FAILURES)),
                )
                .filter(rate_limit_events::created_at.lt(now - Duration::days(1))),
        )
        .execute(conn)?;
        Ok(())
    })
}

// ---- The one-time setup link -------------------------------------------

pub fn create_setup_token(
    conn: &mut Db,
    token_hash: &str,
    now: NaiveDateTime,
    valid_for: Duration,
) -> QueryResult<()> {
    diesel::insert_into(admin_setup_tokens::table)
        .values((
            admin_setup_tokens::token_hash.eq(token_hash),
            admin_setup_tokens::created_at.eq(now),
            admin_setup_tokens::expires_at.eq(now + valid_for),
        ))
        .execute(conn)
        .map(|_| ())
}

/// True when the setup token is unused, unexpired, and no account exists.
pub fn setup_token_valid(conn: &mut Db, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    if count(conn)? > 0 {
        return Ok(false);
    }
    let found: i64 = admin_setup_tokens::table
        .filter(admin_setup_tokens::token_hash.eq(token_hash))
        .filter(admin_setup_tokens::used_at.is_null())
        .filter(admin_setup_tokens::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// Uses the setup token and creates the first account, in one
/// transaction; None when the token is no longer good.
pub fn create_first_admin(
    conn: &mut Db,
    token_hash: &str,
    email: &str,
    display_name: &str,
    password_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    super::transaction(conn, |conn| {
        if !setup_token_valid(conn, token_hash, now)? {
            return Ok(None);
        }
        diesel::update(
            admin_setup_tokens::table.filter(admin_setup_tokens::token_hash.eq(token_hash)),
        )
        .set(admin_setup_tokens::used_at.eq(Some(now)))
        .execute(conn)?;
        let id = insert_admin(
            conn,
            &NewAdminRow {
                email,
                display_name,
                password_hash,
                created_at: now,
            },
        )?;
        Ok(Some(id))
    })
}

// ---- Sessions ------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_sessions)]
pub struct SessionRow {
    pub key_hash: String,
    pub admin_id: Option<i64>,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// A live session: not idle past its expiry, not older than `max_age`.
/// Expired ones are deleted on sight.
pub fn load_session(
    conn: &mut Db,
    key_hash: &str,
    max_age: Duration,
    now: NaiveDateTime,
) -> QueryResult<Option<SessionRow>> {
    let row: Option<SessionRow> = admin_sessions::table
        .filter(admin_sessions::key_hash.eq(key_hash))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) if row.expires_at > now && row.created_at + max_age > now => Ok(Some(row)),
        Some(_) => {
            delete_session(conn, key_hash)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

pub fn insert_session(
    conn: &mut Db,
    key_hash: &str,
    admin_id: Option<i64>,
    state: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    super::transaction(conn, |conn| {
        // Expired sessions of anyone go when a new one starts.
        diesel::delete(admin_sessions::table.filter(admin_sessions::expires_at.lt(now)))
            .execute(conn)?;
        diesel::insert_into(admin_sessions::table)
            .values((
                admin_sessions::key_hash.eq(key_hash),
                admin_sessions::admin_id.eq(admin_id),
                admin_sessions::state.eq(state),
                admin_sessions::created_at.eq(now),
                admin_sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .map(|_| ())
    })
}

/// Changes a session's state; false when it no longer exists.
pub fn update_session(
    conn: &mut Db,
    key_hash: &str,
    admin_id: Option<i64>,
    state: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(admin_sessions::table.filter(admin_sessions::key_hash.eq(key_hash)))
        .set((
            admin_sessions::admin_id.eq(admin_id),
            admin_sessions::state.eq(state),
            admin_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn touch_session(conn: &mut Db, key_hash: &str, expires_at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(admin_sessions::table.filter(admin_sessions::key_hash.eq(key_hash)))
        .set(admin_sessions::expires_at.eq(expires_at))
        .execute(conn)
        .map(|_| ())
}

pub fn delete_session(conn: &mut Db, key_hash: &str) -> QueryResult<()> {
    diesel::delete(admin_sessions::table.filter(admin_sessions::key_hash.eq(key_hash)))
        .execute(conn)
        .map(|_| ())
}

// ---- Audit log -------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_audit)]
pub struct AuditRow {
    pub id: i64,
    pub admin_id: Option<i64>,
    pub admin_name: String,
    pub action: String,
    pub comment_id: Option<i64>,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

/// Who did what; `detail` may hold the text an edit replaced. Built by
/// [`AuditEntry::new`] (and `on_comment` / `replacing`), stored as is by
/// [`audit`].
#[derive(Debug, Insertable)]
#[diesel(table_name = admin_audit)]
pub struct AuditEntry<'a> {
    admin_id: Option<i64>,
    admin_name: &'a str,
    action: &'a str,
    comment_id: Option<i64>,
    detail: &'a str,
    created_at: NaiveDateTime,
}

impl<'a> AuditEntry<'a> {
    /// `action` by the coach `admin_id` (named `admin_name`) at `now`, on
    /// no comment and with no detail.
    pub fn new(admin_id: i64, admin_name: &'a str, action: &'a str, now: NaiveDateTime) -> Self {
        Self {
            admin_id: Some(admin_id),
            admin_name,
            action,
            comment_id: None,
            detail: "",
            created_at: now,
        }
    }

    /// The comment the action was on.
    pub fn on_comment(self, comment_id: i64) -> Self {
        Self {
            comment_id: Some(comment_id),
            ..self
        }
    }

    /// The text the action replaced (an edit keeps the original here).
    pub fn replacing(self, detail: &'a str) -> Self {
        Self { detail, ..self }
    }
}

pub fn audit(conn: &mut Db, entry: &AuditEntry) -> QueryResult<()> {
    diesel::insert_into(admin_audit::table)
        .values(entry)
        .execute(conn)
        .map(|_| ())
}

/// The audit log, newest first, a page at a time; (rows, total).
pub fn audit_page(
    conn: &mut Db,
    comment_id: Option<i64>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<AuditRow>, i64)> {
    let mut query = admin_audit::table.into_boxed();
    let mut count = admin_audit::table.into_boxed();
    if let Some(id) = comment_id {
        query = query.filter(admin_audit::comment_id.eq(id));
        count = count.filter(admin_audit::comment_id.eq(id));
    }
    let rows = query
        .order(admin_audit::id.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok((rows, count.count().get_result(conn)?))
}

/// Deletes sessions that have ended (idle past `expires_at`, or older than
/// `max_age`); returns how many.
pub fn purge_expired_sessions(
    conn: &mut Db,
    now: NaiveDateTime,
    max_age: Duration,
) -> QueryResult<usize> {
    diesel::delete(
        admin_sessions::table.filter(
            admin_sessions::expires_at
                .lt(now)
                .or(admin_sessions::created_at.lt(now - max_age)),
        ),
    )
    .execute(conn)
}

/// Deletes setup links past their validity, used or not; returns how many.
pub fn purge_expired_setup_tokens(conn: &mut Db, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(admin_setup_tokens::table.filter(admin_setup_tokens::expires_at.lt(now)))
        .execute(conn)
}
