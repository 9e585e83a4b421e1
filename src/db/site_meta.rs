//! Facts about this installation, kept in the database so every app
//! instance agrees on them.
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::site_meta;
use super::Db;

/// When the database was first set up; recorded on first start.
pub fn installed_at(conn: &mut Db) -> QueryResult<Option<String>> {
    site_meta::table
        .filter(site_meta::key.eq("installed_at"))
        .select(site_meta::value)
        .first::<String>(conn)
        .optional()
}

/// Records the install time once; later calls change nothing.
pub fn record_installation(conn: &mut Db) -> QueryResult<()> {
    super::transaction(conn, |conn| {
        if installed_at(conn)?.is_none() {
            let now: NaiveDateTime = Utc::now().naive_utc();
            diesel::insert_into(site_meta::table)
                .values((
                    site_meta::key.eq("installed_at"),
                    site_meta::value.eq(now.and_utc().to_rfc3339()),
                    site_meta::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// A tiny write for readiness checks: the time of the last check.
pub fn record_probe(conn: &mut Db, now: NaiveDateTime) -> QueryResult<()> {
    let value = now.and_utc().to_rfc3339();
    let updated = diesel::update(site_meta::table.filter(site_meta::key.eq("ready_checked_at")))
        .set((site_meta::value.eq(&value), site_meta::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(site_meta::table)
            .values((
                site_meta::key.eq("ready_checked_at"),
                site_meta::value.eq(&value),
                site_meta::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Claims the lease `name` for `holder` until `now + hold`, if nobody holds
/// it now: one conditional UPDATE (or, the first time, one INSERT that a
/// concurrent one loses on the key), so of several app instances asking
/// at once exactly one gets it. Works alike on both backends; the lease
/// lives in `site_meta` as `lease:<name>` with its end in `updated_at`.
pub fn claim_lease(
    conn: &mut Db,
    name: &str,
    holder: &str,
    now: NaiveDateTime,
    hold: chrono::Duration,
) -> QueryResult<bool> {
    let key = format!("lease:{name}");
    let until = now + hold;
    let claimed = diesel::update(
        site_meta::table
            .filter(site_meta::key.eq(&key))
            .filter(site_meta::updated_at.lt(now)),
    )
    .set((site_meta::value.eq(holder), site_meta::updated_at.eq(until)))
    .execute(conn)?;
    if claimed == 1 {
        return Ok(true);
    }
    let exists = site_meta::table
        .filter(site_meta::key.eq(&key))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
    match diesel::insert_into(site_meta::table)
        .values((
            site_meta::key.eq(&key),
            site_meta::value.eq(holder),
            site_meta::updated_at.eq(until),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// True when a trivial query answers (for `/readyz`).
pub fn ping(conn: &mut super::Db) -> super::QueryResult<()> {
    installed_at(conn).map(|_| ())
}
