//! The database layer on both backends.
use kintsugi::db;

use crate::helpers::*;

#[actix_web::test]
async fn migrations_apply_once_and_a_second_instance_shares_the_database() {
    let first = spawn_app().await;
    // A second instance on the same database starts cleanly (nothing to
    // migrate) and is ready too.
    let second = spawn_with(Options {
        database_url: Some(first.database_url.clone()),
        ..Options::default()
    })
    .await;
    for app in [&first, &second] {
        let (status, body) = app.page("/readyz").await;
        assert_eq!(status, 200, "{body}");
    }
}

#[actix_web::test]
async fn sqlite_connections_are_durable_and_enforce_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let url = kintsugi::config::DatabaseUrl::Sqlite(dir.path().join("nested/folder/k.sqlite3"));
    let pool = db::pool(&url, 2, std::time::Duration::from_secs(2)).unwrap();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(db::migrate(&pool).await.unwrap(), migrations);
    assert_eq!(
        db::migrate(&pool).await.unwrap(),
        0,
        "nothing left to apply"
    );
    let pragmas = db::run(&pool, db::sqlite_pragmas).await.unwrap();
    assert_eq!(pragmas.journal_mode, "wal");
    assert!(pragmas.foreign_keys);
    assert_eq!(pragmas.synchronous, 2, "FULL");
    assert!(pragmas.busy_timeout_ms >= 1000);
}

#[actix_web::test]
async fn postgres_backend_is_ready() {
    let Backend::Postgres(server) = backend() else {
        eprintln!("skipped: set KINTSUGI_TEST_DATABASE_URL to run the PostgreSQL tests");
        return;
    };
    let url = fresh_postgres_database(&server);
    let app = spawn_with(Options {
        database_url: Some(url),
        ..Options::default()
    })
    .await;
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(app.database_url.starts_with("postgres"));
}
