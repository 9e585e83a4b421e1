//! The hourly clean-up that keeps every table bounded: rows that no rule
//! reads any more are deleted.
use chrono::{Duration, NaiveDateTime};

use super::{admins, mail, rate_limits, Db, QueryResult};

/// How long each kind of row is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Rate-limit events (the longest rule, an account's sign-in failures,
    /// looks back one day).
    pub rate_limit_events: Duration,
    /// A session ends this long after sign-in at the latest.
    pub session_max_age: Duration,
    /// Sent mail is kept this long (unsent and failing mail stays).
    pub sent_mail: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            rate_limit_events: Duration::days(1),
            session_max_age: Duration::days(7),
            sent_mail: Duration::days(30),
        }
    }
}

/// What one clean-up deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub rate_limit_events: usize,
    pub sessions: usize,
    pub setup_tokens: usize,
    pub sent_mail: usize,
}

impl Purged {
    pub fn total(&self) -> usize {
        self.rate_limit_events + self.sessions + self.setup_tokens + self.sent_mail
    }
}

/// Deletes expired rate-limit events, ended sessions, expired setup links
/// and old sent mail.
pub fn purge_expired(conn: &mut Db, now: NaiveDateTime, keep: Retention) -> QueryResult<Purged> {
    Ok(Purged {
        rate_limit_events: rate_limits::purge_before(conn, now - keep.rate_limit_events)?,
        sessions: admins::purge_expired_sessions(conn, now, keep.session_max_age)?,
        setup_tokens: admins::purge_expired_setup_tokens(conn, now)?,
        sent_mail: mail::purge_sent_before(conn, now - keep.sent_mail)?,
    })
}
