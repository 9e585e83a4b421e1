//! Per-address limits on posting (comments, coaching requests), kept in
//! the database so every app instance enforces the same limits.
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::schema::rate_limit_events;
use super::Db;

/// Limits on how often one address may post.
#[derive(Debug, Clone, Copy)]
pub struct PostLimits {
    pub per_minute: i64,
    pub min_interval_seconds: i64,
}

impl Default for PostLimits {
    fn default() -> Self {
        Self {
            per_minute: 3,
            min_interval_seconds: 15,
        }
    }
}

/// Records a post by `key_hash` in `bucket` and checks the limits, inside
/// the caller's transaction. On PostgreSQL an advisory lock per key
/// serialises concurrent posts from one address (on SQLite the immediate
/// transaction already does). `Ok(Err(seconds))`: refused, retry after.
pub fn take(
    conn: &mut Db,
    bucket: &str,
    key_hash: &str,
    limits: PostLimits,
    now: NaiveDateTime,
) -> QueryResult<Result<(), i64>> {
    if let Db::Pg(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(lock_key(key_hash))
            .execute(pg)?;
    }
    let event_id: i64 = diesel::insert_into(rate_limit_events::table)
        .values((
            rate_limit_events::bucket.eq(bucket),
            rate_limit_events::key_hash.eq(key_hash),
            rate_limit_events::created_at.eq(now),
        ))
        .returning(rate_limit_events::id)
        .get_result(conn)?;
    // Old events of this address are no longer needed.
    diesel::delete(rate_limit_events::table)
        .filter(rate_limit_events::bucket.eq(bucket))
        .filter(rate_limit_events::key_hash.eq(key_hash))
        .filter(rate_limit_events::created_at.lt(now - Duration::hours(1)))
        .execute(conn)?;
    // Earlier posts from this address in the last minute.
    let earlier: Vec<NaiveDateTime> = rate_limit_events::table
        .filter(rate_limit_events::bucket.eq(bucket))
        .filter(rate_limit_events::key_hash.eq(key_hash))
        .filter(rate_limit_events::created_at.gt(now - Duration::seconds(60)))
        .filter(rate_limit_events::id.ne(event_id))
        .select(rate_limit_events::created_at)
        .order(rate_limit_events::created_at.asc())
        .load(conn)?;
    if let Some(last) = earlier.last() {
        let wait = limits.min_interval_seconds - (now - *last).num_seconds();
        if wait > 0 {
            return Ok(Err(wait));
        }
    }
    if earlier.len() as i64 >= limits.per_minute {
        let oldest = earlier[earlier.len() - limits.per_minute as usize];
        let wait = 60 - (now - oldest).num_seconds();
        return Ok(Err(wait.max(1)));
    }
    Ok(Ok(()))
}

fn lock_key(ip_hash: &str) -> i64 {
    let bytes = ip_hash.as_bytes();
    let mut key = [0u8; 8];
    for (i, b) in bytes.iter().take(16).enumerate() {
        key[i % 8] ^= *b;
    }
    i64::from_le_bytes(key)
}

/// Deletes events recorded before `before` (the maintenance task: events of
/// addresses that never post again would otherwise stay for ever); returns
/// how many.
pub fn purge_before(conn: &mut Db, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_limit_events::table.filter(rate_limit_events::created_at.lt(before)))
        .execute(conn)
}
