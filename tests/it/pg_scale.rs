//! Several instances on one PostgreSQL: connection settings, lock order,
//! batched writes. Most tests here need PostgreSQL and skip on SQLite.
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use actix_web::ResponseError;
use diesel::sql_types::Text;
use diesel::RunQueryDsl;
use kintsugi::db;

use crate::helpers::*;

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

fn show(conn: &mut db::Db, name: &str) -> String {
    diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
        .get_result::<Setting>(conn)
        .unwrap()
        .value
}

/// Every connection runs with the configured statement and idle timeouts;
/// a statement over its timeout is cancelled and answers 503 ("try again
/// soon") instead of holding the connection.
#[actix_web::test]
async fn a_statement_over_the_timeout_is_cancelled_with_a_503() {
    if !matches!(backend(), Backend::Postgres(_)) {
        eprintln!("skipped: PostgreSQL only");
        return;
    }
    let app = spawn_with(Options {
        env: vec![
            ("KINTSUGI_DB_STATEMENT_TIMEOUT_MS", "300".into()),
            ("KINTSUGI_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", "4000".into()),
        ],
        ..Options::default()
    })
    .await;
    let (statement, idle) = db::run(&app.pool, |conn| {
        Ok((
            show(conn, "statement_timeout"),
            show(conn, "idle_in_transaction_session_timeout"),
        ))
    })
    .await
    .unwrap();
    assert_eq!(statement, "300ms");
    assert_eq!(idle, "4s");

    let started = Instant::now();
    let err = db::run(&app.pool, |conn| {
        diesel::sql_query("SELECT pg_sleep(10)").execute(conn)
    })
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "cancelled after {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("statement timeout"), "{err}");
    let answer = kintsugi::error::AppError::from(err);
    assert_eq!(answer.status_code().as_u16(), 503);

    // The connection is fine afterwards, and so is the site.
    db::run(&app.pool, db::site_meta::ping).await.unwrap();
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 200, "{body}");
}

fn seed(conn: &mut db::Db, slug: &str, n: i64) -> i64 {
    let record = db::comments::NewCommentRecord {
        article_slug: slug.to_string(),
        reply_to: None,
        author_name: format!("Reader {n}"),
        author_email: format!("reader{n}@example.com"),
        body_markdown: format!("Comment {n} on {slug}"),
        body_html: format!("<p>Comment {n} on {slug}</p>"),
        is_private: false,
        is_urgent: false,
        held_reasons: Vec::new(),
        spam: false,
        notify_replies: false,
        owner_token_hash: format!("owner{n}"),
        ip_hash: format!("ip{n}"),
        now: chrono::Utc::now().naive_utc(),
    };
    let stored = db::comments::post(conn, &record, db::comments::PostLimits::default()).unwrap();
    db::comments::approve(conn, stored.id).unwrap();
    stored.id
}

/// Two coaches (or two tabs) trash and restore comments on two articles at
/// once, one selection going A then B and the other B then A (each in the
/// order of its ids, as the bulk action does). Each change locks its
/// article's count row, so without a fixed lock order they deadlock and
/// PostgreSQL cancels one; with it, they queue. Every action succeeds and
/// the kept counts equal a recount.
#[actix_web::test]
async fn bulk_moderation_on_two_articles_in_opposite_orders_does_not_deadlock() {
    if !matches!(backend(), Backend::Postgres(_)) {
        eprintln!("skipped: PostgreSQL only");
        return;
    }
    let app = spawn_app().await;
    let pool = app.pool.clone();
    // Ids in this order: a1 (A), b2 (B), b1 (B), a2 (A), so the first
    // selection [a1, b1] goes A then B and the second [b2, a2] B then A.
    let mut conn = pool.get().unwrap();
    let a1 = seed(&mut conn, "alpha", 1);
    let b2 = seed(&mut conn, "beta", 2);
    let b1 = seed(&mut conn, "beta", 3);
    let a2 = seed(&mut conn, "alpha", 4);
    assert!(a1 < b2 && b2 < b1 && b1 < a2);
    drop(conn);

    const ROUNDS: usize = 150;
    let barrier = Arc::new(Barrier::new(2));
    let worker = |ids: Vec<i64>| {
        let pool = pool.clone();
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            let mut conn = pool.get().unwrap();
            let mut failures = Vec::new();
            for _ in 0..ROUNDS {
                for action in [
                    db::comments::Moderation::Trash,
                    db::comments::Moderation::Restore,
                ] {
                    barrier.wait();
                    match db::comments::moderate(&mut conn, &ids, action) {
                        Ok(changed) if changed == ids => {}
                        Ok(changed) => {
                            failures.push(format!("{action:?} changed only {changed:?}"))
                        }
                        Err(e) => failures.push(format!("{action:?}: {e}")),
                    }
                }
            }
            failures
        })
    };
    let started = Instant::now();
    let first = worker(vec![a1, b1]);
    let second = worker(vec![b2, a2]);
    let mut failures = first.join().unwrap();
    failures.extend(second.join().unwrap());
    assert!(
        failures.is_empty(),
        "{} of {} actions failed after {:?}, e.g. {}",
        failures.len(),
        4 * ROUNDS,
        started.elapsed(),
        failures[0]
    );

    let mut conn = pool.get().unwrap();
    for slug in ["alpha", "beta"] {
        let kept = db::comments::counts(&mut conn, slug).unwrap();
        let recounted = db::comments::recount(&mut conn, slug).unwrap();
        assert_eq!(kept, recounted, "{slug}");
        assert_eq!(kept, (2, 2), "{slug}: both restored, both published");
    }
}
