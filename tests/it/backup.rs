//! `kintsugi backup` and `kintsugi restore`: a backup taken while readers
//! post comments restores into a fresh instance with every acknowledged
//! write, a clean database, and the same site key.
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

use kintsugi::db;
use kintsugi::startup::Application;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";
const EMAIL: &str = "coach@example.com";
const PASSWORD: &str = "tide lantern orchard 42";
/// Plain http, so the test client sends the session cookie back.
const HTTP_BASE: &str = "http://127.0.0.1";

/// A `kintsugi` command on the given folders and database.
fn kintsugi_on(
    content: &Path,
    data: &Path,
    database_url: &str,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .args(args)
        .env("KINTSUGI_CONTENT_DIR", content)
        .env("KINTSUGI_DATA_DIR", data)
        .env("KINTSUGI_DATABASE_URL", database_url)
        .env_remove("KINTSUGI_SECRET_KEY")
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Signs the coach in at `base`; returns the `kintsugi_admin=...` cookie.
async fn sign_in(base: &str) -> String {
    let client = client();
    let page = client
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = client
        .post(format!("{base}/admin/login"))
        .header("X-Forwarded-For", "198.51.100.7")
        .form(&[
            ("email", EMAIL),
            ("password", PASSWORD),
            ("token", &field_value(&page, "token")),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "sign-in at {base}");
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("kintsugi_admin="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Posts a comment with `token` from address `ip`; the stored id on 303.
async fn post_comment(base: &str, token: &str, n: u32) -> Option<i64> {
    let res = client()
        .post(format!("{base}/articles/{SLUG}/comments"))
        .header(
            "X-Forwarded-For",
            format!("10.{}.{}.{}", n / 65536 % 256, n / 256 % 256, n % 256),
        )
        .form(&[
            ("name", "Load".to_string()),
            ("email", format!("load{n}@example.com")),
            ("body", format!("Comment number {n} under load.")),
            ("token", token.to_string()),
        ])
        .send()
        .await
        .ok()?;
    (res.status() == 303).then(|| posted_id(&res))
}

fn archives_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    found.sort();
    found
}

#[actix_web::test]
async fn a_backup_under_write_load_restores_into_a_fresh_instance() {
    let app = Rc::new(
        spawn_with(Options {
            env: vec![("KINTSUGI_BASE_URL", HTTP_BASE.to_string())],
            ..Options::default()
        })
        .await,
    );
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
    // Signed before the backup: a session cookie and a comment form token.
    let session = sign_in(&app.address).await;
    let early_token = comment_form_token(&app, &client(), SLUG).await;

    // Readers post all along: (id, when the 303 arrived).
    let stop = Rc::new(AtomicBool::new(false));
    let counter = Rc::new(AtomicU32::new(1));
    let acked = Rc::new(std::cell::RefCell::new(Vec::<(i64, Instant)>::new()));
    let mut writers = Vec::new();
    for _ in 0..3 {
        let (app, stop, counter, acked) =
            (app.clone(), stop.clone(), counter.clone(), acked.clone());
        writers.push(actix_web::rt::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let token = comment_form_token(&app, &client(), SLUG).await;
                if let Some(id) = post_comment(&app.address, &token, n).await {
                    acked.borrow_mut().push((id, Instant::now()));
                }
            }
        }));
    }
    eventually("comments are being written", || {
        let acked = acked.clone();
        async move { acked.borrow().len() >= 20 }
    })
    .await;

    let started = Instant::now();
    let backup = tokio::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .args(["backup", "--keep", "5"])
        .env("KINTSUGI_CONTENT_DIR", &app.content_dir)
        .env("KINTSUGI_DATA_DIR", &app.data_dir)
        .env("KINTSUGI_DATABASE_URL", &app.database_url)
        .output()
        .await
        .unwrap();
    let took = started.elapsed();
    // A little more load after the backup, then stop.
    let after_backup = acked.borrow().len();
    eventually("comments are written after the backup", || {
        let acked = acked.clone();
        async move { acked.borrow().len() > after_backup + 3 }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(backup.status.success(), "{}", text(&backup));
    let before: Vec<i64> = acked
        .borrow()
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(id, _)| *id)
        .collect();
    assert!(before.len() >= 20);

    // One archive under the default name, private, nothing half-written.
    let backups = app.data_dir.join("backups");
    let files = archives_in(&backups);
    assert_eq!(files.len(), 1, "{files:?}");
    let archive = files[0].clone();
    let name = archive.file_name().unwrap().to_str().unwrap();
    assert!(kintsugi::backup::is_archive_name(name), "{name}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&archive).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let size = std::fs::metadata(&archive).unwrap().len();
    eprintln!(
        "backup under load: {:.0} ms, {size} bytes, {} comments acknowledged before it",
        took.as_secs_f64() * 1000.0,
        before.len()
    );

    // A fresh instance: empty data folder, content folder and database.
    let content = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url(data.path());
    let archive_arg = archive.to_str().unwrap();
    let out = kintsugi_on(
        content.path(),
        data.path(),
        &database_url,
        &["restore", archive_arg],
    );
    assert!(out.status.success(), "{}", text(&out));
    // A second restore into the now full folder is refused without --force.
    let again = kintsugi_on(
        content.path(),
        data.path(),
        &database_url,
        &["restore", archive_arg],
    );
    assert!(!again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        text(&again)
    );
    assert!(data.path().join("secret.key").is_file());
    assert!(content.path().join("articles").is_dir());

    if let Backend::Sqlite = backend() {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let path = database_url.strip_prefix("sqlite://").unwrap();
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        conn.batch_execute("SELECT 1").unwrap();
        let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut conn)
            .unwrap();
        let results: Vec<&str> = rows.iter().map(|r| r.integrity_check.as_str()).collect();
        assert_eq!(results, ["ok"]);
    }

    let settings = test_settings_with(
        content.path(),
        data.path(),
        &database_url,
        false,
        &[("KINTSUGI_BASE_URL", HTTP_BASE.to_string())],
    );
    let restored = Application::build(settings)
        .await
        .expect("the restored site starts");
    let base = format!("http://127.0.0.1:{}", restored.port());
    let pool = restored.state().pool.clone();
    actix_web::rt::spawn(restored.run());

    // Every comment acknowledged before the backup started is there.
    let ids = before.clone();
    let mut found: Vec<i64> = db::run(&pool, move |conn| db::comments::find_many(conn, &ids))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    found.sort();
    let mut expected = before.clone();
    expected.sort();
    assert_eq!(found, expected);

    // The session signed before the backup still opens the admin.
    let res = client()
        .get(format!("{base}/admin"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the old session works after restore");
    // The coach signs in with their password.
    sign_in(&base).await;
    // A form token signed before the backup is accepted, and the new
    // comment gets a new id.
    let new_id = post_comment(&base, &early_token, 999_999)
        .await
        .expect("the early form token verifies on the restored site");
    assert!(new_id > *expected.last().unwrap());
    let res = client()
        .get(format!("{base}/articles/{SLUG}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn backup_keep_rotates_only_its_own_archives_and_restore_refuses_a_full_folder() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "kintsugi-backup-20200101T000000Z.tar.gz",
        "kintsugi-backup-20200102T000000Z.tar.gz",
        "kintsugi-backup-20200103T000000Z.tar.gz",
        "notes.txt",
    ] {
        std::fs::write(dir.path().join(name), b"old").unwrap();
    }
    let target = dir.path().to_str().unwrap();
    let out = cli(&app, &["backup", target, "--keep", "2"], "", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let left: Vec<String> = archives_in(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert_eq!(left[0], "kintsugi-backup-20200103T000000Z.tar.gz");
    assert!(kintsugi::backup::is_archive_name(&left[1]), "{left:?}");
    assert_eq!(left[2], "notes.txt");

    // Restoring over the running site's own folder is refused.
    let archive = dir.path().join(&left[1]);
    let out = cli(&app, &["restore", archive.to_str().unwrap()], "", &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        text(&out)
    );
}
