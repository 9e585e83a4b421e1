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
    assert_eq!(db::migrations::migrate(&pool).await.unwrap(), migrations);
    assert_eq!(
        db::migrations::migrate(&pool).await.unwrap(),
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

/// An installation upgraded with comments already stored: the
/// `comment_counts` migration counts them as a full recount would. The
/// earlier migrations' SQL is applied by hand, seeded discussions are added,
/// then the counting migration runs.
#[actix_web::test]
async fn the_comment_counts_migration_counts_the_comments_already_there() {
    use diesel::connection::SimpleConnection;
    let data = tempfile::tempdir().unwrap();
    let url = kintsugi::config::DatabaseUrl::parse(&fresh_database_url(data.path())).unwrap();
    let side = match backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    let mut folders: Vec<_> =
        std::fs::read_dir(format!("{}/migrations/{side}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
    folders.sort();
    let counting = folders
        .iter()
        .position(|f| f.to_string_lossy().ends_with("_comment_counts"))
        .expect("the comment_counts migration");
    let pool = db::pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    let up = |folder: &std::path::Path| std::fs::read_to_string(folder.join("up.sql")).unwrap();
    for folder in &folders[..counting] {
        conn.batch_execute(&up(folder)).unwrap();
    }
    let mut seed: u64 = 7;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let slugs = ["one", "two", "three"];
    let statuses = ["approved", "approved", "pending", "spam", "trash"];
    let mut placed: Vec<(usize, usize)> = Vec::new(); // (id, slug)
    for i in 0..600 {
        let slug = next() % slugs.len();
        let same: Vec<usize> = placed
            .iter()
            .filter(|(_, s)| *s == slug)
            .map(|(id, _)| *id)
            .collect();
        let parent = match (same.is_empty(), next() % 3) {
            (false, 1 | 2) => same[next() % same.len()].to_string(),
            _ => "NULL".to_string(),
        };
        let private = if next() % 10 == 0 { "TRUE" } else { "FALSE" };
        conn.batch_execute(&format!(
            "INSERT INTO comments (article_slug, parent_id, depth, author_name, author_email, \
             body_markdown, body_html, status, is_private, created_at) VALUES ('{}', {parent}, \
             0, 'N', 'n@example.com', 'b', '<p>b</p>', '{}', {private}, CURRENT_TIMESTAMP)",
            slugs[slug],
            statuses[next() % statuses.len()]
        ))
        .unwrap();
        placed.push((i + 1, slug));
    }
    conn.batch_execute(&up(&folders[counting])).unwrap();
    for slug in slugs {
        let kept = db::comments::counts(&mut conn, slug).unwrap();
        assert!(kept.0 > 0 && kept.1 > 0, "{slug}: {kept:?}");
        assert_eq!(
            kept,
            db::comments::recount(&mut conn, slug).unwrap(),
            "{slug}"
        );
    }
}
