//! `spawn_app()` and friends.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use kintsugi::config::Settings;
use kintsugi::startup::Application;
use tempfile::TempDir;

pub const BASE_URL: &str = "https://coach.example";

/// Which database the tests run on.
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// PostgreSQL when `KINTSUGI_TEST_DATABASE_URL` is set, else SQLite.
pub fn backend() -> Backend {
    match std::env::var("KINTSUGI_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Backend::Postgres(url),
        _ => Backend::Sqlite,
    }
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty PostgreSQL database on the test server; returns its URL.
pub fn fresh_postgres_database(server_url: &str) -> String {
    let name = format!("kintsugi_test_{}", unique_suffix());
    let mut admin = diesel::PgConnection::establish(server_url).unwrap_or_else(|e| {
        panic!("KINTSUGI_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
    });
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create the test database");
    let (without_query, query) = match server_url.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (server_url, String::new()),
    };
    let (prefix, _) = without_query
        .rsplit_once('/')
        .expect("a postgres URL with a database name");
    format!("{prefix}/{name}{query}")
}

pub struct TestApp {
    pub address: String,
    pub pool: kintsugi::db::Pool,
    pub state: actix_web::web::Data<kintsugi::web::AppState>,
    pub data_dir: PathBuf,
    pub client: reqwest::Client,
    pub content_dir: PathBuf,
    pub database_url: String,
    /// The first-run setup link the app printed (no account existed).
    pub setup_link: Option<String>,
    _dirs: Vec<TempDir>,
}

/// How to start a test app.
pub struct Options {
    pub content: Content,
    pub watch: bool,
    pub database_url: Option<String>,
    pub env: Vec<(&'static str, String)>,
}

pub enum Content {
    /// A copy of the repository's sample content.
    Sample,
    /// An empty content folder the test fills in before starting.
    Custom(Box<dyn FnOnce(&Path)>),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            content: Content::Sample,
            watch: false,
            database_url: None,
            env: Vec::new(),
        }
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn sample_content_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("content")
}

/// Settings for a test: port 0, temp folders, the chosen backend.
pub fn test_settings(
    content_dir: &Path,
    data_dir: &Path,
    database_url: &str,
    watch: bool,
) -> Settings {
    test_settings_with(content_dir, data_dir, database_url, watch, &[])
}

/// As [`test_settings`], with more variables (later ones win).
pub fn test_settings_with(
    content_dir: &Path,
    data_dir: &Path,
    database_url: &str,
    watch: bool,
    extra: &[(&'static str, String)],
) -> Settings {
    let mut vars = vec![
        ("KINTSUGI_BIND", "127.0.0.1:0".to_string()),
        ("KINTSUGI_BASE_URL", BASE_URL.to_string()),
        ("KINTSUGI_CONTENT_DIR", content_dir.display().to_string()),
        ("KINTSUGI_DATA_DIR", data_dir.display().to_string()),
        ("KINTSUGI_DATABASE_URL", database_url.to_string()),
        ("KINTSUGI_WATCH_CONTENT", watch.to_string()),
        ("KINTSUGI_DB_POOL_SIZE", "4".to_string()),
        // Tests post at once, from addresses given in X-Forwarded-For.
        ("KINTSUGI_COMMENT_MIN_SECONDS", "0".to_string()),
        ("KINTSUGI_TRUSTED_PROXIES", "127.0.0.1".to_string()),
        // A reader's request emails go out at once (one test sets a delay
        // to see changes merged).
        ("KINTSUGI_MAIL_UPDATE_DELAY_SECONDS", "0".to_string()),
    ];
    vars.extend(extra.iter().cloned());
    Settings::load(|key| {
        vars.iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    })
    .expect("test settings")
}

/// A database URL for a new test database on the chosen backend.
pub fn fresh_database_url(data_dir: &Path) -> String {
    match backend() {
        Backend::Sqlite => format!("sqlite://{}", data_dir.join("test.sqlite3").display()),
        Backend::Postgres(server) => fresh_postgres_database(&server),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with_content(write: impl FnOnce(&Path) + 'static) -> TestApp {
    spawn_with(Options {
        content: Content::Custom(Box::new(write)),
        ..Options::default()
    })
    .await
}

pub async fn spawn_with(options: Options) -> TestApp {
    let content = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    match options.content {
        Content::Sample => copy_dir(&sample_content_dir(), content.path()),
        Content::Custom(write) => write(content.path()),
    }
    let database_url = options
        .database_url
        .unwrap_or_else(|| fresh_database_url(data.path()));
    let settings = test_settings_with(
        content.path(),
        data.path(),
        &database_url,
        options.watch,
        &options.env,
    );
    let app = Application::build(settings).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let setup_link = app.setup_link().map(str::to_string);
    let state = app.state();
    let pool = state.pool.clone();
    actix_web::rt::spawn(app.run());
    TestApp {
        address,
        pool,
        state,
        data_dir: data.path().to_path_buf(),
        client: client(),
        content_dir: content.path().to_path_buf(),
        database_url,
        setup_link,
        _dirs: vec![content, data],
    }
}

/// A browser-like client: keeps cookies, never follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request")
    }

    /// GET returning (status, body).
    pub async fn page(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    pub fn write_article(&self, file: &str, front_matter: &str, body: &str) {
        write_article(&self.content_dir, file, front_matter, body);
    }
}

/// Writes `articles/<file>` with the given TOML front matter and body.
pub fn write_article(dir: &Path, file: &str, front_matter: &str, body: &str) {
    let path = dir.join("articles").join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("+++\n{}\n+++\n\n{}\n", front_matter.trim(), body),
    )
    .unwrap();
}

pub fn write_page(dir: &Path, file: &str, title: &str, body: &str) {
    let path = dir.join("pages").join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("+++\ntitle = \"{title}\"\n+++\n\n{body}\n")).unwrap();
}

/// Polls `check` for up to 10 seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Counts non-overlapping occurrences.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The comment form token of a freshly served article page, as `client`
/// (a browser) gets it.
pub async fn comment_form_token(app: &TestApp, client: &reqwest::Client, slug: &str) -> String {
    let body = client
        .get(format!("{}/articles/{slug}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.split("name=\"token\" value=\"")
        .nth(1)
        .expect("a comment form")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// Decodes a quoted-printable body (headers stay as they are).
pub fn readable(eml: &str) -> String {
    let Some((headers, body)) = eml.split_once("\r\n\r\n") else {
        return eml.to_string();
    };
    if !headers.contains("Content-Transfer-Encoding: quoted-printable") {
        return eml.to_string();
    }
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            if let Some(b) = joined
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    format!("{headers}\r\n\r\n{}", String::from_utf8_lossy(&out))
}

/// The real `kintsugi serve` on a free port, started and answering; killed
/// when dropped.
pub struct Binary {
    pub child: std::process::Child,
    pub base: String,
    pub database_url: String,
}

impl Binary {
    /// Starts the binary on `content_dir` and `data_dir` with a fresh
    /// database of the backend under test, the content watcher off, and
    /// `env` on top; waits until `/healthz` answers.
    pub async fn start(content_dir: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let database_url = fresh_database_url(data_dir);
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"));
        command
            .arg("serve")
            .env("KINTSUGI_BIND", format!("127.0.0.1:{port}"))
            .env("KINTSUGI_CONTENT_DIR", content_dir)
            .env("KINTSUGI_DATA_DIR", data_dir)
            .env("KINTSUGI_DATABASE_URL", &database_url)
            .env("KINTSUGI_WATCH_CONTENT", "false")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let binary = Self {
            child: command.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            database_url,
        };
        let client = client();
        eventually("the server starts", || async {
            client.get(binary.url("/healthz")).send().await.is_ok()
        })
        .await;
        binary
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a signal (`HUP`, `KILL`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `kintsugi` command (not `serve`) on the test app's content,
/// data and database, with `stdin` as its input.
pub fn cli(
    app: &TestApp,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    use std::io::Write;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"));
    command
        .args(args)
        .env("KINTSUGI_CONTENT_DIR", &app.content_dir)
        .env("KINTSUGI_DATA_DIR", &app.data_dir)
        .env("KINTSUGI_DATABASE_URL", &app.database_url)
        .env_remove("KINTSUGI_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The id of the comment a post stored, from its 303's location
/// (`...?posted=N#comment-N`, or `#crisis-help` when it matched the crisis
/// phrases).
pub fn posted_id(res: &reqwest::Response) -> i64 {
    assert_eq!(res.status(), 303);
    posted_id_in(res.headers()["location"].to_str().unwrap())
}

/// The `posted=N` of a location.
pub fn posted_id_in(location: &str) -> i64 {
    location
        .split("posted=")
        .nth(1)
        .and_then(|rest| rest.split(['#', '&']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no posted id in {location}"))
}

/// Another process's transaction holding the write lock on the test's
/// database, as a backup tool or a stuck script would: on SQLite an
/// exclusive transaction on the file, on PostgreSQL every table the
/// readers write locked against writes (reads still go on). Released when
/// dropped.
pub struct WriteLock(kintsugi::db::Db);

impl WriteLock {
    pub fn hold(database_url: &str) -> Self {
        use kintsugi::config::DatabaseUrl;
        use kintsugi::db::Db;
        let mut conn = match DatabaseUrl::parse(database_url).unwrap() {
            DatabaseUrl::Sqlite(path) => {
                let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
                // The server may be writing this moment: wait for it.
                c.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE")
                    .unwrap();
                Db::Sqlite(c)
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = diesel::PgConnection::establish(url.expose()).unwrap();
                c.batch_execute(
                    "BEGIN; LOCK TABLE comments, rate_limit_events, coaching_requests, \
                     request_messages, mail_outbox IN EXCLUSIVE MODE",
                )
                .unwrap();
                Db::Pg(c)
            }
        };
        // Proof the lock is held: nothing else could take it meanwhile.
        conn.batch_execute("SELECT 1").unwrap();
        Self(conn)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.batch_execute("ROLLBACK");
    }
}

/// The value of `name="NAME" value="..."` in a page (the first such field).
pub fn field_value(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} field in:\n{html}"))
        .split('"')
        .next()
        .unwrap()
        .to_string()
}
