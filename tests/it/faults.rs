//! Faults that must heal, or fail loudly (issue 13).
use std::path::{Path, PathBuf};
use std::time::Duration;

use kintsugi::config::DatabaseUrl;
use kintsugi::db;

use crate::helpers::*;

/// `chattr +i` (or `-i`) on each path that exists; false when the machine
/// cannot (not root, or a file system without the flag).
fn immutable(paths: &[PathBuf], on: bool) -> bool {
    paths.iter().filter(|p| p.exists()).all(|p| {
        std::process::Command::new("chattr")
            .arg(if on { "+i" } else { "-i" })
            .arg(p)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The database file with its WAL (the shared-memory file is left alone:
/// it is mapped into memory, and freezing it ends in SIGBUS).
fn sqlite_files(path: &Path) -> Vec<PathBuf> {
    ["", "-wal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
        .collect()
}

/// Undoes `chattr +i` even when the test fails, so the temp dir can go.
struct Mutable(Vec<PathBuf>);
impl Drop for Mutable {
    fn drop(&mut self) {
        immutable(&self.0, false);
    }
}

/// The database files become read-only for a moment (as root, file modes
/// are ignored, so the immutable flag stands in for `chmod a-w`):
/// connections opened meanwhile are read-only. Once the files are writable
/// again, every write succeeds again, through the pool and through the
/// SQLite writer thread.
#[actix_web::test]
async fn connections_opened_while_the_database_was_read_only_are_replaced() {
    if !matches!(backend(), Backend::Sqlite) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite3");
    let pool = db::pool(
        &DatabaseUrl::Sqlite(path.clone()),
        3,
        Duration::from_secs(2),
    )
    .unwrap();
    db::migrations::migrate(&pool).await.unwrap();
    let writer = db::writer::Writer::start(&pool, true);
    let write_direct = || {
        db::run(&pool, |conn| {
            db::site_meta::record_probe(conn, chrono::Utc::now().naive_utc())
        })
    };
    let write_batched = || {
        writer.write(&pool, |conn| {
            db::site_meta::record_probe(conn, chrono::Utc::now().naive_utc())
        })
    };
    write_direct().await.unwrap();
    write_batched().await.unwrap();

    let files = sqlite_files(&path);
    let _restore = Mutable(files.clone());
    if !immutable(&files, true) {
        eprintln!("skipped: chattr +i is not possible here");
        return;
    }
    // While read-only, writes fail (and the pool opens read-only
    // connections to replace the ones that failed).
    let mut failed = 0;
    for _ in 0..6 {
        failed += usize::from(write_direct().await.is_err());
        failed += usize::from(write_batched().await.is_err());
    }
    assert!(failed >= 10, "writes fail while read-only ({failed} of 12)");
    // Reads still work, so several read-only connections sit in the pool.
    let readers: Vec<_> = (0..3)
        .map(|_| db::run(&pool, db::site_meta::ping))
        .collect();
    for r in futures_util::future::join_all(readers).await {
        r.unwrap();
    }

    assert!(immutable(&files, false));
    // A connection that meets the read-only error is closed, so after a
    // few failures at most, all writes succeed.
    let mut healed = false;
    for _ in 0..10 {
        let direct = write_direct().await;
        let batched = write_batched().await;
        if direct.is_ok() && batched.is_ok() {
            healed = true;
            break;
        }
    }
    assert!(healed, "writes succeed again once the files are writable");
    for i in 0..20 {
        write_direct()
            .await
            .unwrap_or_else(|e| panic!("write {i} through the pool: {e}"));
        write_batched()
            .await
            .unwrap_or_else(|e| panic!("write {i} through the writer: {e}"));
    }
}

/// A database error as diesel reports it, with only a message.
fn db_error(
    kind: diesel::result::DatabaseErrorKind,
    message: &'static str,
) -> diesel::result::Error {
    struct Info(&'static str);
    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }
    diesel::result::Error::DatabaseError(kind, Box::new(Info(message)))
}

#[test]
fn read_only_disk_and_lost_table_errors_close_the_connection() {
    use diesel::result::{DatabaseErrorKind, Error};
    let err = db_error;
    for breaking in [
        err(
            DatabaseErrorKind::Unknown,
            "attempt to write a readonly database",
        ),
        err(DatabaseErrorKind::Unknown, "disk I/O error"),
        err(DatabaseErrorKind::Unknown, "no such table: comments"),
        err(
            DatabaseErrorKind::ReadOnlyTransaction,
            "cannot execute INSERT in a read-only transaction",
        ),
        err(DatabaseErrorKind::ClosedConnection, "server closed"),
    ] {
        assert!(db::breaks_connection(&breaking), "{breaking}");
    }
    for ordinary in [
        Error::NotFound,
        err(
            DatabaseErrorKind::UniqueViolation,
            "UNIQUE constraint failed",
        ),
        err(DatabaseErrorKind::Unknown, "database is locked"),
    ] {
        assert!(!db::breaks_connection(&ordinary), "{ordinary}");
    }
}

/// Readiness tries a write: read-only files make it 503 (reads still
/// work), and it is 200 again once they are writable.
#[actix_web::test]
async fn readiness_fails_while_writes_cannot_succeed() {
    if !matches!(backend(), Backend::Sqlite) {
        return;
    }
    let app = spawn_app().await;
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("writes: ok"), "{body}");
    let DatabaseUrl::Sqlite(path) = DatabaseUrl::parse(&app.database_url).unwrap() else {
        unreachable!()
    };
    let files = sqlite_files(&path);
    let _restore = Mutable(files.clone());
    if !immutable(&files, true) {
        eprintln!("skipped: chattr +i is not possible here");
        return;
    }
    // Past the one-second cache.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("writes: failing"), "{body}");
    assert!(immutable(&files, false));
    let app = &app;
    eventually("ready again", || async move {
        app.page("/readyz").await.0 == 200
    })
    .await;
}

/// The data folder's database is deleted while the server runs: readiness
/// and every post answer 503 (nothing is acknowledged into the deleted
/// file). A restart refuses to create a new, empty database in its place,
/// unless `--init` says so.
#[actix_web::test]
async fn a_deleted_database_is_noticed_and_not_silently_recreated() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("site.sqlite3");
    let url = format!("sqlite://{}", path.display());
    let env = [
        ("KINTSUGI_DATABASE_URL", url.as_str()),
        ("KINTSUGI_TRUSTED_PROXIES", "127.0.0.1"),
        ("KINTSUGI_COMMENT_MIN_SECONDS", "0"),
    ];
    let server = Binary::start(&sample_content_dir(), data.path(), &env).await;
    let reader = client();
    let status = |url: String| {
        let reader = reader.clone();
        async move { reader.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(server.url("/readyz")).await, 200);
    let page = reader
        .get(server.url("/articles/going-no-contact"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a comment form")
        .to_string();
    let post = |body: &'static str| {
        reader
            .post(server.url("/articles/going-no-contact/comments"))
            .header("X-Forwarded-For", "203.0.113.9")
            .form(&[
                ("name", "Sam"),
                ("email", "sam@example.com"),
                ("body", body),
                ("token", token.as_str()),
            ])
            .send()
    };
    assert_eq!(
        post("Before the file goes.").await.unwrap().status(),
        303,
        "a post is acknowledged while the file is there"
    );

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let started = std::time::Instant::now();
    let res = reader.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503, "{}", res.text().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(5));
    let res = post("After the file went.").await.unwrap();
    assert_eq!(res.status(), 503, "not acknowledged into a deleted file");
    drop(server);

    // A restart on the same data folder refuses, naming both paths.
    let mut restart = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .arg("serve")
        .env("KINTSUGI_BIND", "127.0.0.1:0")
        .env("KINTSUGI_CONTENT_DIR", sample_content_dir())
        .env("KINTSUGI_DATA_DIR", data.path())
        .env("KINTSUGI_DATABASE_URL", &url)
        .env("KINTSUGI_WATCH_CONTENT", "false")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while restart.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = restart.kill();
            panic!("the restart did not refuse to start");
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let out = restart.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--init"), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(
        stderr.contains(&data.path().join("secret.key").display().to_string()),
        "{stderr}"
    );
    assert!(!path.exists(), "no empty database was created");

    // With --init it starts on a new database.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .args(["serve", "--init"])
        .env("KINTSUGI_BIND", format!("127.0.0.1:{port}"))
        .env("KINTSUGI_CONTENT_DIR", sample_content_dir())
        .env("KINTSUGI_DATA_DIR", data.path())
        .env("KINTSUGI_DATABASE_URL", &url)
        .env("KINTSUGI_WATCH_CONTENT", "false")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    eventually("the server starts with --init", || {
        let reader = reader.clone();
        let ready = ready.clone();
        async move {
            reader
                .get(ready)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(path.exists());
}

/// The running server's soft open-file limit is raised to the hard limit.
#[actix_web::test]
async fn the_open_file_limit_is_raised_at_start() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Started from a shell whose soft limit is low, as under many init
    // systems (1,024).
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -S -n 512 && exec \"$0\" serve")
        .arg(env!("CARGO_BIN_EXE_kintsugi"))
        .env("KINTSUGI_BIND", format!("127.0.0.1:{port}"))
        .env("KINTSUGI_CONTENT_DIR", sample_content_dir())
        .env("KINTSUGI_DATA_DIR", data.path())
        .env("KINTSUGI_DATABASE_URL", fresh_database_url(data.path()))
        .env("KINTSUGI_WATCH_CONTENT", "false")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reader = client();
    let health = format!("http://127.0.0.1:{port}/healthz");
    eventually("the server starts", || {
        let reader = reader.clone();
        let health = health.clone();
        async move { reader.get(health).send().await.is_ok() }
    })
    .await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "soft = hard: {line}");
    assert_ne!(numbers[0], "512", "{line}");
}

/// The hourly clean-up deletes what no rule reads any more, and keeps the
/// rest (on the backend under test).
#[actix_web::test]
async fn the_hourly_clean_up_deletes_expired_rows_and_keeps_the_rest() {
    use chrono::Duration as Span;
    use db::schema::{admin_sessions, admin_setup_tokens, mail_outbox, rate_limit_events};
    use diesel::prelude::*;
    let app = spawn_app().await;
    let now = app.state.clock.now_naive();
    db::run(&app.pool, move |conn| {
        let limits = db::rate_limits::PostLimits::default();
        for (key, at) in [
            ("old", now - Span::days(2)),
            ("new", now - Span::minutes(5)),
        ] {
            db::rate_limits::take(conn, "comment", key, limits, at)?.ok();
        }
        // Alive, ended by idling, ended by age (inserting a session
        // deletes those expired at its own time, so the live one goes first).
        db::admins::insert_session(conn, "alive", None, "{}", now, now + Span::hours(1))?;
        db::admins::insert_session(
            conn,
            "idle",
            None,
            "{}",
            now - Span::hours(3),
            now - Span::hours(1),
        )?;
        db::admins::insert_session(
            conn,
            "aged",
            None,
            "{}",
            now - Span::days(8),
            now + Span::hours(1),
        )?;
        db::admins::create_setup_token(conn, "expired", now - Span::days(2), Span::hours(1))?;
        db::admins::create_setup_token(conn, "valid", now, Span::hours(1))?;
        let mail = |kind: &'static str| db::mail::NewMail {
            recipient: "reader@example.com".into(),
            subject: "s".into(),
            body: "b".into(),
            kind: kind.into(),
            list_unsubscribe: None,
        };
        let old_sent = db::mail::enqueue(conn, &mail("old-sent"), now - Span::days(40))?;
        db::mail::mark_sent(conn, old_sent, now - Span::days(40))?;
        let new_sent = db::mail::enqueue(conn, &mail("new-sent"), now - Span::days(2))?;
        db::mail::mark_sent(conn, new_sent, now - Span::days(2))?;
        let failing = db::mail::enqueue(conn, &mail("old-failing"), now - Span::days(40))?;
        db::mail::mark_failed(conn, failing, 9, "refused", now - Span::days(40))?;
        db::mail::enqueue(conn, &mail("old-unsent"), now - Span::days(40))?;
        Ok(())
    })
    .await
    .unwrap();

    // (The clean-up the app ran at start may still be going: what is left
    // is checked, not who deleted it.)
    kintsugi::startup::run_maintenance(&app.state)
        .await
        .unwrap();
    let (events, sessions, tokens, mail) = db::run(&app.pool, |conn| {
        let events: Vec<String> = rate_limit_events::table
            .select(rate_limit_events::key_hash)
            .load(conn)?;
        let sessions: Vec<String> = admin_sessions::table
            .select(admin_sessions::key_hash)
            .load(conn)?;
        let tokens: Vec<String> = admin_setup_tokens::table
            .select(admin_setup_tokens::token_hash)
            .load(conn)?;
        let mut mail: Vec<String> = mail_outbox::table.select(mail_outbox::kind).load(conn)?;
        mail.sort();
        Ok((events, sessions, tokens, mail))
    })
    .await
    .unwrap();
    assert_eq!(events, ["new"]);
    assert_eq!(sessions, ["alive"]);
    assert!(tokens.contains(&"valid".to_string()) && !tokens.contains(&"expired".to_string()));
    assert_eq!(mail, ["new-sent", "old-failing", "old-unsent"]);
    // Nothing more to do the second time.
    let again = kintsugi::startup::run_maintenance(&app.state)
        .await
        .unwrap();
    assert_eq!(again.total(), 0);
}

/// The text a page shows in its form field or textarea, as escaped HTML.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
}

/// Another process holds the write lock (a backup tool, a stuck script):
/// every reader posting at that moment is answered within about three
/// seconds (the lock wait, not queued one behind another) with a 503,
/// `Retry-After`, and the article with their comment form filled in and a
/// kind word, never a 500. Nothing is half-written, and once the lock is
/// gone the same words go through.
#[actix_web::test]
async fn a_locked_database_gives_the_comment_back_with_a_503_not_a_500() {
    const SLUG: &str = "going-no-contact";
    let app = spawn_app().await;
    let body = "I wrote this at 2 a.m. & I <really> do not want to lose it.";
    let before = db::run(&app.pool, db::comments::count_all).await.unwrap();
    let lock = WriteLock::hold(&app.database_url);
    let mut posts = Vec::new();
    for n in 0..4 {
        let (address, body) = (app.address.clone(), body.to_string());
        let c = client();
        let token = comment_form_token(&app, &c, SLUG).await;
        posts.push(actix_web::rt::spawn(async move {
            let started = std::time::Instant::now();
            let res = c
                .post(format!("{address}/articles/{SLUG}/comments"))
                .header("X-Forwarded-For", format!("10.0.0.{n}"))
                .form(&[
                    ("name", "Night owl"),
                    ("email", "owl@example.com"),
                    ("body", body.as_str()),
                    ("token", token.as_str()),
                ])
                .send()
                .await
                .unwrap();
            let retry_after = res.headers().get("retry-after").cloned();
            (
                started.elapsed(),
                res.status().as_u16(),
                retry_after,
                res.text().await.unwrap(),
            )
        }));
    }
    for post in posts {
        let (took, status, retry_after, page) = post.await.unwrap();
        assert_eq!(status, 503, "{page}");
        assert!(retry_after.is_some(), "Retry-After");
        // The lock wait is 2.5 s; the old busy wait was 5 s, and posts
        // queued behind each other waited 10.
        assert!(
            took < Duration::from_millis(4500),
            "answered after {took:?}"
        );
        assert!(page.contains("We could not save this just now"), "{page}");
        assert!(page.contains(&escaped(body)), "the comment is kept: {page}");
        assert!(page.contains("value=\"Night owl\""), "{page}");
    }
    assert_eq!(
        db::run(&app.pool, db::comments::count_all).await.unwrap(),
        before,
        "nothing stored while locked"
    );
    drop(lock);
    let c = client();
    let token = comment_form_token(&app, &c, SLUG).await;
    let res = c
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("X-Forwarded-For", "10.0.1.1")
        .form(&[
            ("name", "Night owl"),
            ("email", "owl@example.com"),
            ("body", body),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        db::run(&app.pool, db::comments::count_all).await.unwrap(),
        before + 1
    );
}

/// "Not now" errors (a lock held elsewhere, a full disk, timeouts, a server
/// going away) answer 503, not 500; a real fault in the query stays one.
#[test]
fn locked_full_and_timed_out_are_transient_errors() {
    use diesel::result::{DatabaseErrorKind, Error};
    use kintsugi::error::AppError;
    let err = db_error;
    let unavailable = |e: Error| {
        matches!(
            AppError::from(db::DbError::from(e)),
            AppError::Unavailable(_)
        )
    };
    for transient in [
        err(DatabaseErrorKind::Unknown, "database is locked"),
        err(DatabaseErrorKind::Unknown, "database or disk is full"),
        err(
            DatabaseErrorKind::Unknown,
            "canceling statement due to lock timeout",
        ),
        err(
            DatabaseErrorKind::Unknown,
            "canceling statement due to statement timeout",
        ),
        err(
            DatabaseErrorKind::Unknown,
            "terminating connection due to administrator command",
        ),
        err(
            DatabaseErrorKind::Unknown,
            "sorry, too many clients already",
        ),
        err(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access",
        ),
        err(
            DatabaseErrorKind::ClosedConnection,
            "server closed the connection unexpectedly",
        ),
    ] {
        assert!(db::is_transient(&transient), "{transient}");
        assert!(unavailable(transient));
    }
    for fault in [
        err(DatabaseErrorKind::Unknown, "no such column: bodyy"),
        err(DatabaseErrorKind::CheckViolation, "CHECK constraint failed"),
    ] {
        assert!(!db::is_transient(&fault), "{fault}");
        assert!(!unavailable(fault));
    }
    assert!(matches!(
        AppError::from(db::DbError::Busy("locked".into())),
        AppError::Unavailable(_)
    ));
}
