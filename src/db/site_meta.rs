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
