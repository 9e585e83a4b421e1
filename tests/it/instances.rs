//! Several app instances on one database: the hourly clean-up runs on one
//! of them per period (a lease in the database), and on PostgreSQL a
//! change made on one drops the other's cached pages at once.
use std::time::{Duration, Instant};

use crate::helpers::*;

const SLUG: &str = "going-no-contact";

/// A second app on the first one's database (its own data folder).
async fn second_instance(first: &TestApp) -> TestApp {
    spawn_with(Options {
        database_url: Some(first.database_url.clone()),
        ..Options::default()
    })
    .await
}

async fn claim(app: &TestApp, name: &'static str, holder: &'static str) -> bool {
    let now = app.state.clock.now_naive();
    kintsugi::db::run(&app.pool, move |conn| {
        kintsugi::db::site_meta::claim_lease(conn, name, holder, now, chrono::Duration::minutes(59))
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn one_instance_claims_a_lease_until_it_runs_out() {
    let a = spawn_app().await;
    let b = second_instance(&a).await;
    assert!(claim(&a, "test", "a").await, "the first claim wins");
    assert!(
        !claim(&b, "test", "b").await,
        "the second within the period is refused"
    );
    assert!(!claim(&a, "test", "a").await, "held, even for its holder");
    // An hour later (on b's clock) the lease has run out: b takes it.
    b.state.clock.advance(chrono::Duration::hours(1));
    assert!(claim(&b, "test", "b").await);
    assert!(!claim(&a, "test", "a").await);
}

#[actix_web::test]
async fn the_clean_up_runs_on_one_instance_per_period() {
    let a = spawn_app().await;
    let b = second_instance(&a).await;
    // Both asked at start; one holds the lease now, so neither may run it
    // again within the period.
    eventually("the start-up claim", || async {
        let held = kintsugi::db::run(&a.pool, |conn| {
            kintsugi::db::site_meta::claim_lease(
                conn,
                "maintenance",
                "probe",
                chrono::Utc::now().naive_utc(),
                chrono::Duration::seconds(1),
            )
        })
        .await
        .unwrap();
        !held
    })
    .await;
    assert!(!kintsugi::startup::claim_maintenance(&a.state, "a")
        .await
        .unwrap());
    assert!(!kintsugi::startup::claim_maintenance(&b.state, "b")
        .await
        .unwrap());
    // The next period: the first to ask runs it, the other does not.
    a.state.clock.advance(chrono::Duration::hours(1));
    b.state.clock.advance(chrono::Duration::hours(1));
    assert!(kintsugi::startup::claim_maintenance(&b.state, "b")
        .await
        .unwrap());
    assert!(!kintsugi::startup::claim_maintenance(&a.state, "a")
        .await
        .unwrap());
}

/// Posts a comment on `app` (held: the writer is new) and returns its id.
async fn post_held_comment(app: &TestApp, body: &str) -> i64 {
    let reader = client();
    let token = comment_form_token(app, &reader, SLUG).await;
    let res = reader
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&[
            ("name", "Sam"),
            ("email", "sam@example.com"),
            ("body", body),
            ("token", &token),
        ])
        .send()
        .await
        .unwrap();
    posted_id(&res)
}

#[actix_web::test]
async fn approving_on_one_instance_drops_the_others_cached_page_at_once() {
    if let Backend::Sqlite = backend() {
        return; // one SQLite file serves one instance; nothing to announce
    }
    let a = spawn_app().await;
    let b = second_instance(&a).await;
    let id = post_held_comment(&a, "Words from instance A.").await;
    // Give both listeners time to connect, then warm b's cache.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let (_, before) = b.page(&format!("/articles/{SLUG}")).await;
    assert!(!before.contains("Words from instance A."));
    let (_, _) = b.page("/").await;
    let cached = b.state.page_cache.len();
    assert!(cached >= 2, "b keeps the article and the home page");

    let approved = Instant::now();
    kintsugi::web::admin::moderation::approve_comment(&a.state, id, None)
        .await
        .unwrap();
    let mut dropped = None;
    while approved.elapsed() < Duration::from_secs(2) {
        if b.state.page_cache.len() < cached {
            dropped = Some(approved.elapsed());
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    let dropped = dropped.expect("b dropped its cached pages");
    eprintln!(
        "b dropped its pages {} ms after a approved",
        dropped.as_millis()
    );
    assert!(dropped < Duration::from_millis(500), "{dropped:?}");
    let (_, after) = b.page(&format!("/articles/{SLUG}")).await;
    assert!(after.contains("Words from instance A."));
    // b's own changes are not announced back to itself, but reach a.
    let (_, _) = a.page(&format!("/articles/{SLUG}")).await;
    let on_a = a.state.page_cache.len();
    b.state.page_cache.comments_changed(SLUG);
    eventually("a hears b's change", || async {
        a.state.page_cache.len() < on_a
    })
    .await;

    // A lost listener connection is made again, and announcements flow.
    use diesel::{Connection, RunQueryDsl};
    let mut admin = diesel::PgConnection::establish(&a.database_url).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Pids {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        pids: String,
    }
    // The listeners' connections, except those in `old` (a list of pids).
    let listeners = |conn: &mut diesel::PgConnection, old: &str| {
        diesel::sql_query(format!(
            "SELECT count(*) AS n, coalesce(string_agg(pid::text, ','), '') AS pids \
             FROM pg_stat_activity WHERE application_name = '{}' \
             AND datname = current_database() AND NOT pid = ANY('{{{old}}}'::int[])",
            kintsugi::db::page_events::APPLICATION_NAME
        ))
        .get_result::<Pids>(conn)
        .unwrap()
    };
    let before = listeners(&mut admin, "");
    assert_eq!(before.n, 2, "one listener per instance");
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY('{{{}}}'::int[])",
        before.pids
    ))
    .execute(&mut admin)
    .unwrap();
    eventually("both listeners connected again", || {
        let n = listeners(&mut admin, &before.pids).n;
        async move { n == 2 }
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    eventually("b hears a's change after both reconnected", || async {
        let (_, _) = b.page(&format!("/articles/{SLUG}")).await;
        let on_b = b.state.page_cache.len();
        a.state.page_cache.comments_changed(SLUG);
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        b.state.page_cache.len() < on_b
    })
    .await;
}
