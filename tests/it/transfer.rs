//! `kintsugi migrate-data`: a site's SQLite database, filled through the
//! real forms and admin pages, copied to PostgreSQL and back (SQLite to
//! SQLite when no PostgreSQL is given) with every row of every table
//! unchanged; and the refusals.
use std::path::Path;
use std::process::{Command, Output};

use kintsugi::config::DatabaseUrl;
use kintsugi::db;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";
const EMAIL: &str = "coach@example.com";
const PASSWORD: &str = "tide lantern orchard 42";

/// `kintsugi migrate-data ARGS`, in an empty folder, with no database
/// configured otherwise.
fn migrate_data(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .arg("migrate-data")
        .args(args)
        .current_dir(dir.path())
        .env("KINTSUGI_DATA_DIR", dir.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .env_remove("KINTSUGI_CONFIG")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

fn dump(url: &str) -> Vec<(String, Vec<String>)> {
    db::transfer::canonical_rows(&DatabaseUrl::parse(url).unwrap()).unwrap()
}

/// The rows of every table of `url`, once the site has stopped writing
/// (mail sent, sessions touched): two reads a while apart agree.
async fn settled_dump(url: &str) -> Vec<(String, Vec<String>)> {
    let mut last = dump(url);
    for _ in 0..60 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = dump(url);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the database kept changing");
}

async fn admin_post(
    app: &TestApp,
    coach: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let dashboard = coach
        .get(format!("{}/admin", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field_value(&dashboard, "csrf");
    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    form.extend_from_slice(fields);
    coach
        .post(format!("{}{path}", app.address))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn reader_comment(app: &TestApp, n: u32, body: &str, extra: &[(&str, &str)]) -> i64 {
    let reader = client();
    let token = comment_form_token(app, &reader, SLUG).await;
    let email = format!("reader{n}@example.com");
    let mut form = vec![
        ("name", "Sam"),
        ("email", email.as_str()),
        ("body", body),
        ("token", token.as_str()),
    ];
    form.extend_from_slice(extra);
    let res = reader
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("X-Forwarded-For", format!("203.0.113.{n}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    posted_id(&res)
}

/// A site on SQLite with something in every table, written the way the
/// site writes it: the first-run setup link, the coach's account and
/// session, readers' comments (a reply, a subscription to replies),
/// moderation with its audit trail and a coach reply, a coaching request
/// with the reader's message, the coach's reply and note, mail sent and
/// mail still waiting, and a WordPress import (comments with the other
/// system's ids, the import map).
async fn seeded_site(dir: &Path) -> (TestApp, String) {
    let url = sqlite_url(dir, "first.sqlite3");
    let app = spawn_with(Options {
        database_url: Some(url.clone()),
        env: vec![
            ("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string()),
            ("KINTSUGI_COACH_EMAIL", EMAIL.to_string()),
            // The reader's update about their request waits in the queue.
            ("KINTSUGI_MAIL_UPDATE_DELAY_SECONDS", "3600".to_string()),
        ],
        ..Options::default()
    })
    .await;
    assert!(app.setup_link.is_some(), "a setup link row");
    let out = cli(
        &app,
        &[
            "admin",
            "create",
            "--email",
            EMAIL,
            "--name",
            "Maya Brennan",
        ],
        "",
        &[("KINTSUGI_ADMIN_PASSWORD", PASSWORD)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let coach = client();
    let (_, login) = app.page("/admin/login").await;
    let res = coach
        .post(format!("{}/admin/login", app.address))
        .header("X-Forwarded-For", "198.51.100.1")
        .form(&[
            ("email", EMAIL),
            ("password", PASSWORD),
            ("token", &field_value(&login, "token")),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    // Comments and their moderation.
    let first = reader_comment(&app, 1, "The mornings are the hardest.", &[]).await;
    let spam = reader_comment(&app, 2, "Buy cheap watches now", &[]).await;
    let question = reader_comment(&app, 3, "Should I block them?", &[("notify", "1")]).await;
    let res = admin_post(
        &app,
        &coach,
        "/admin/comments/bulk",
        &[("one", &format!("approve:{first}"))],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = admin_post(
        &app,
        &coach,
        "/admin/comments/bulk",
        &[("one", &format!("spam:{spam}"))],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = admin_post(
        &app,
        &coach,
        &format!("/admin/comments/{question}/reply"),
        &[("body", "Muting may be enough. **You decide.**")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let parent = first.to_string();
    reader_comment(&app, 4, "Same here, every day.", &[("parent", &parent)]).await;

    // A coaching request, worked on by the coach.
    let (_, form_page) = app.page("/coaching").await;
    let mut form: Vec<(&str, String)> = [
        ("name", "Robin"),
        ("email", "robin@example.com"),
        ("option", "written-plan"),
        ("ended_by", "they-did"),
        ("together_for", "1-to-3-years"),
        ("ended_ago", "under-a-month"),
        ("contact_now", "no-contact"),
        ("no_contact_since", "2026-11-01"),
        ("hope", "not-sure"),
        ("situation", "Three years. He left in October. 💔"),
        ("talk_via", "email"),
        ("time_zone", "Europe/Berlin"),
        ("adult", "1"),
        ("consent", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    form.push(("token", field_value(&form_page, "token")));
    let res = client()
        .post(format!("{}/coaching", app.address))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let request = db::run(&app.pool, db::coaching::all).await.unwrap()[0].id;
    for (path, body) in [
        ("reply", "Dear Robin, here is **your plan**."),
        ("notes", "Ready for a firm boundary."),
    ] {
        let res = admin_post(
            &app,
            &coach,
            &format!("/admin/requests/{request}/{path}"),
            &[("body", body)],
        )
        .await;
        assert_eq!(res.status(), 303, "{path}");
    }

    // A WordPress import: comments keep the other system's ids.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wordpress");
    let out = cli(
        &app,
        &[
            "import",
            "wordpress",
            fixture.join("export.xml").to_str().unwrap(),
        ],
        "",
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    (app, url)
}

/// The number of rows of each table in a dump.
fn counts(rows: &[(String, Vec<String>)]) -> Vec<(String, usize)> {
    rows.iter().map(|(t, r)| (t.clone(), r.len())).collect()
}

fn copy(from: &str, to: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--from", from, "--to", to];
    args.extend_from_slice(extra);
    migrate_data(&args)
}

#[actix_web::test]
async fn a_site_moves_to_postgresql_and_back_with_every_row_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (app, first_url) = seeded_site(dir.path()).await;
    let first = settled_dump(&first_url).await;
    // Something in every table that is copied.
    for (table, n) in counts(&first) {
        assert!(n > 0, "{table} is empty in the seeded database");
    }
    let last_url = sqlite_url(dir.path(), "last.sqlite3");
    let middle_url = match backend() {
        Backend::Postgres(server) => fresh_postgres_database(&server),
        Backend::Sqlite => sqlite_url(dir.path(), "middle.sqlite3"),
    };
    let there = copy(&first_url, &middle_url, &[]);
    assert!(there.status.success(), "{}", text(&there));
    let report = String::from_utf8_lossy(&there.stdout).to_string();
    for table in db::transfer::COPIED {
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("{table} ")))
            .unwrap_or_else(|| panic!("no line for {table} in:\n{report}"));
        assert!(line.contains(" ok"), "{line}");
    }
    assert!(report.contains("comment_counts"), "{report}");
    let middle = dump(&middle_url);
    assert_eq!(counts(&middle), counts(&first));
    assert_eq!(middle, first);

    let back = copy(&middle_url, &last_url, &[]);
    assert!(back.status.success(), "{}", text(&back));
    let last = dump(&last_url);
    for ((table, a), (_, b)) in first.iter().zip(&last) {
        assert_eq!(a, b, "{table} differs after the round trip");
    }
    assert_eq!(last, first);
    drop(app);

    // The copy serves: the thread and its count, and a new comment gets a
    // new id (PostgreSQL's sequences were moved past the copied ids).
    for url in [middle_url, last_url] {
        let site = spawn_with(Options {
            database_url: Some(url.clone()),
            env: vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())],
            ..Options::default()
        })
        .await;
        let (status, page) = site.page(&format!("/articles/{SLUG}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("The mornings are the hardest."), "{url}");
        assert!(page.contains("<span class=\"badge\">Coach</span>"));
        assert!(!page.contains("cheap watches"));
        let id = reader_comment(&site, 7, "A new comment after the move.", &[]).await;
        let copied = &first.iter().find(|(t, _)| t == "comments").unwrap().1;
        assert!(
            !copied.iter().any(|row| row.starts_with(&format!("[{id},"))),
            "the new comment's id {id} was taken"
        );
    }
}

#[actix_web::test]
async fn a_target_with_rows_is_refused_unless_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_url(dir.path(), "source.sqlite3");
    let other = sqlite_url(dir.path(), "other.sqlite3");
    // Two sites, one comment each.
    for url in [&source, &other] {
        let site = spawn_with(Options {
            database_url: Some(url.clone()),
            ..Options::default()
        })
        .await;
        reader_comment(&site, 1, &format!("Hello from {url}"), &[]).await;
    }
    let target = match backend() {
        Backend::Postgres(server) => fresh_postgres_database(&server),
        Backend::Sqlite => sqlite_url(dir.path(), "target.sqlite3"),
    };
    let out = copy(&other, &target, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let before = dump(&target);

    let out = copy(&source, &target, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already holds rows") && stderr.contains("comments (1)"),
        "{stderr}"
    );
    assert!(stderr.contains("--replace"), "{stderr}");
    assert_eq!(dump(&target), before, "nothing written");

    let out = copy(&source, &target, &["--replace"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(dump(&target), dump(&source));
}

#[test]
fn the_same_database_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.sqlite3");
    let url = format!("sqlite://{}", path.display());
    db::backup::migrate(&DatabaseUrl::parse(&url).unwrap()).unwrap();
    // The same file by another name.
    let other_name = format!("{}/./site.sqlite3", dir.path().display());
    let out = copy(&url, &other_name, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("are the same database"),
        "{}",
        text(&out)
    );
    if let Backend::Postgres(server) = backend() {
        let pg = fresh_postgres_database(&server);
        db::backup::migrate(&DatabaseUrl::parse(&pg).unwrap()).unwrap();
        let out = copy(&pg, &pg, &[]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("are the same database"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn bad_urls_missing_sources_and_passwords_get_plain_messages() {
    let dir = tempfile::tempdir().unwrap();
    let target = sqlite_url(dir.path(), "t.sqlite3");
    let out = copy("mysql://root@localhost/site", &target, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--from: not a database URL; expected sqlite://"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));

    let missing = sqlite_url(dir.path(), "nothing-here.sqlite3");
    let out = copy(&missing, &target, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("there is no SQLite database at"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("nothing-here.sqlite3").exists());

    // Nothing listens on port 1: the error names the target, never the
    // password.
    let source = sqlite_url(dir.path(), "s.sqlite3");
    db::backup::migrate(&DatabaseUrl::parse(&source).unwrap()).unwrap();
    let out = copy(
        &source,
        "postgres://kintsugi:hunter2secret@127.0.0.1:1/site",
        &[],
    );
    assert!(!out.status.success());
    let all = text(&out);
    assert!(
        all.contains("cannot connect to the target database"),
        "{all}"
    );
    assert!(
        all.contains("postgres://kintsugi@127.0.0.1:1/site"),
        "{all}"
    );
    assert!(!all.contains("hunter2secret"), "{all}");
    assert!(!all.contains("panicked"), "{all}");
}

#[test]
fn an_older_source_is_refused_until_migrated() {
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_url(dir.path(), "old.sqlite3");
    db::backup::migrate(&DatabaseUrl::parse(&source).unwrap()).unwrap();
    // As if the newest migration had not run yet.
    let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(
        &dir.path().join("old.sqlite3").to_string_lossy(),
    )
    .unwrap();
    conn.batch_execute(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
    )
    .unwrap();
    let out = copy(&source, &sqlite_url(dir.path(), "new.sqlite3"), &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the source database is at migration")
            && stderr.contains("kintsugi migrate"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("new.sqlite3").exists(),
        "no target file is made for a refused copy"
    );
}

#[test]
fn a_reply_with_a_lower_id_than_its_parent_is_copied_and_counted() {
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().unwrap();
    let source = sqlite_url(dir.path(), "imported.sqlite3");
    db::backup::migrate(&DatabaseUrl::parse(&source).unwrap()).unwrap();
    // Another system's ids: the reply (10) is older than its parent (20).
    let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(
        &dir.path().join("imported.sqlite3").to_string_lossy(),
    )
    .unwrap();
    let comment = |id: i64, parent: &str| {
        format!(
            "INSERT INTO comments (id, article_slug, parent_id, author_name, author_email, \
             body_markdown, body_html, status, created_at) VALUES ({id}, '{SLUG}', {parent}, \
             'Sam', '', 'x', '<p>x</p>', 'approved', '2020-01-01 00:00:00');"
        )
    };
    conn.batch_execute(&format!(
        "PRAGMA foreign_keys = ON; {}{}{}",
        comment(20, "NULL"),
        comment(10, "20"),
        comment(30, "10")
    ))
    .unwrap();
    let target = match backend() {
        Backend::Postgres(server) => fresh_postgres_database(&server),
        Backend::Sqlite => sqlite_url(dir.path(), "copy.sqlite3"),
    };
    let out = copy(&source, &target, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("equals a recount"),
        "{}",
        text(&out)
    );
    let copied = dump(&target);
    assert_eq!(copied, dump(&source));
    let counts = &copied
        .iter()
        .find(|(t, _)| t == "comment_counts")
        .unwrap()
        .1;
    assert_eq!(counts, &vec![format!("[{SLUG:?},3,1]")]);
}
