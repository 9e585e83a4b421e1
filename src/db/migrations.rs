//! Migrations are embedded per backend (same folder names on both sides)
//! and applied at start.
use diesel::connection::SimpleConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::Db;

pub(crate) const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(crate) const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// An arbitrary constant: the advisory lock that keeps several instances
/// starting at once from migrating the same PostgreSQL database together.
const PG_MIGRATION_LOCK: i64 = 0x6b69_6e74_7375;

pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration; returns how many ran.
pub fn run_pending(conn: &mut Db) -> Result<usize, MigrationError> {
    let applied = match conn {
        Db::Sqlite(c) => c.run_pending_migrations(SQLITE)?.len(),
        Db::Pg(c) => {
            // Waiting for another instance's migration, or for a table lock
            // a migration needs, may take longer than a request may wait.
            c.batch_execute("SET lock_timeout = 0")?;
            c.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))?;
            let result = c.run_pending_migrations(POSTGRES).map(|v| v.len());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))?;
            c.batch_execute(&format!(
                "SET lock_timeout = {}",
                super::LOCK_WAIT.as_millis()
            ))?;
            result?
        }
    };
    super::site_meta::record_installation(conn)?;
    Ok(applied)
}

/// Applies pending migrations (on the blocking pool); returns how many ran.
pub async fn migrate(pool: &super::Pool) -> Result<usize, super::DbError> {
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        run_pending(&mut conn).map_err(|e| super::DbError::Migration(e.to_string()))
    })
    .await
    .map_err(|_| super::DbError::Canceled)?
}
