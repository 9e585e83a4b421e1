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
/// the caller's transaction: [`check`], then [`record`] when allowed.
/// `Ok(Err(seconds))`: refused (nothing recorded), retry after.
pub fn take(
    conn: &mut Db,
    bucket: &str,
    key_hash: &str,
    limits: PostLimits,
    now: NaiveDateTime,
) -> QueryResult<Result<(), i64>> {
    if let Err(wait) = check(conn, bucket, key_hash, limits, now)? {
        return Ok(Err(wait));
    }
    record(conn, bucket, key_hash, now)?;
    Ok(Ok(()))
}

/// Whether `key_hash` may post in `bucket` now, inside the caller's
/// transaction, writing nothing: a caller with more checks to make records
/// the post ([`record`]) only once they all pass, so a refused post needs
/// no rollback. On PostgreSQL an advisory lock per key, held to the end of
/// the transaction, serialises concurrent posts from one address (on
/// SQLite the immediate transaction already does). Old events are left to
/// [`purge_before`] (the hourly maintenance). `Ok(Err(seconds))`: refused,
/// retry after.
pub fn check(
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
    // Earlier posts from this address in the last minute.
    let earlier: Vec<NaiveDateTime> = rate_limit_events::table
        .filter(rate_limit_events::bucket.eq(bucket))
        .filter(rate_limit_events::key_hash.eq(key_hash))
        .filter(rate_limit_events::created_at.gt(now - Duration::seconds(60)))
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

/// Records a post by `key_hash` in `bucket` (after [`check`] allowed it,
/// in the same transaction).
pub fn record(conn: &mut Db, bucket: &str, key_hash: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(rate_limit_events::table)
        .values((
            rate_limit_events::bucket.eq(bucket),
            rate_limit_events::key_hash.eq(key_hash),
            rate_limit_events::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
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
