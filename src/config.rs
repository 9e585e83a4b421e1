//! Typed settings, read from `KINTSUGI_*` environment variables over an
//! optional `kintsugi.toml`. Settings are passed in, never global.
use std::fmt;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::domain::moderation::ModerationRules;

/// A value that must never end up in logs or error pages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the data lives: the embedded default or the scale-out store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(Secret),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(Secret::new(raw)));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.is_empty() || path.contains("://") {
            return Err(ConfigError::Invalid {
                key: "KINTSUGI_DATABASE_URL",
                message:
                    "expected postgres://user@host/db, sqlite://path/to/file.sqlite3 or a file path"
                        .into(),
            });
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// A description safe to log (no password).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite at {}", path.display()),
            Self::Postgres(_) => "PostgreSQL".to_string(),
        }
    }
}

/// The public address of the site, without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let trimmed = raw.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                Ok(Self(trimmed.to_string()))
            }
            _ => Err(ConfigError::Invalid {
                key: "KINTSUGI_BASE_URL",
                message: format!("`{raw}` is not an http:// or https:// address"),
            }),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
    /// `path` must start with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

/// What readers see of the site as a whole.
#[derive(Clone, Debug)]
pub struct SiteSettings {
    pub title: String,
    pub tagline: String,
    pub author: String,
    pub language: String,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub bind: String,
    pub base_url: BaseUrl,
    pub content_dir: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub secret_key: Option<Secret>,
    pub watch_content: bool,
    pub db_pool_size: u32,
    pub db_connect_timeout_ms: u64,
    /// PostgreSQL: a statement running longer is cancelled (0: never).
    pub db_statement_timeout_ms: u64,
    /// PostgreSQL: a session idle inside a transaction this long is ended
    /// by the server, releasing its locks (0: never).
    pub db_idle_in_transaction_timeout_ms: u64,
    /// PostgreSQL: queue writes and commit them in batches on one
    /// connection per instance (group commit), as on SQLite.
    pub db_group_commit: bool,
    /// Threads serving requests; `None` means one per CPU the process may use.
    pub workers: Option<usize>,
    /// `Strict-Transport-Security` lifetime in seconds, sent only when the
    /// base URL is https; 0: not sent. Default one year on https.
    pub hsts_max_age: u64,
    /// Open connections each worker accepts at most; `None`: derived from
    /// the open-file limit (see `startup::connection_cap`).
    pub max_connections: Option<usize>,
    pub site: SiteSettings,
    pub comments: CommentSettings,
    pub mail: MailSettings,
    pub admin: AdminSettings,
    pub coaching: CoachingSettings,
    pub cache: CacheSettings,
}

/// What the process keeps in memory to answer faster.
#[derive(Clone, Debug)]
pub struct CacheSettings {
    /// The page cache (public pages and searches as bytes, in every
    /// encoding) holds at most this many MiB; past it, the entries used
    /// longest ago go.
    pub pages_mb: usize,
}

impl CacheSettings {
    pub fn pages_bytes(&self) -> usize {
        self.pages_mb.saturating_mul(1024 * 1024)
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            pages_mb: crate::web::page_cache::DEFAULT_MAX_BYTES / (1024 * 1024),
        }
    }
}

/// Coaching requests.
#[derive(Clone, Debug)]
pub struct CoachingSettings {
    /// Closed or withdrawn requests lose their personal details this many
    /// days later.
    pub retention_days: i64,
}

impl Default for CoachingSettings {
    fn default() -> Self {
        Self {
            retention_days: 180,
        }
    }
}

/// The coach's sessions.
#[derive(Clone, Debug)]
pub struct AdminSettings {
    /// A session unused this long ends (default 2 hours).
    pub session_idle_minutes: i64,
    /// A session ends this long after sign-in, used or not (default 7 days).
    pub session_max_hours: i64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: 120,
            session_max_hours: 7 * 24,
        }
    }
}

/// Where mail goes.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://user:pass@host:587` (STARTTLS) or `smtps://...` (TLS); None:
    /// messages are written as `.eml` files to `<data_dir>/outbox`.
    pub smtp_url: Option<Secret>,
    /// The From address, like `Golden Seams <hello@example.com>`.
    pub from: String,
    /// Where moderation alerts go; None: no alerts.
    pub coach_email: Option<String>,
    /// A reader's email about their coaching request waits this long, so
    /// several changes in a row (a reply, then a new status) go out as one.
    pub update_delay_seconds: i64,
}

/// How comments are moderated and protected.
#[derive(Clone, Debug)]
pub struct CommentSettings {
    pub rules: ModerationRules,
    /// Lines shown in the calm crisis box; empty: those of the site's
    /// language (`crisis.default_resources` in its strings).
    pub crisis_resources: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// A form sent sooner than this after the page was served is a bot's.
    pub min_seconds_to_post: u64,
    /// A form older than this must be sent again.
    pub max_form_age_hours: u64,
}

impl Default for CommentSettings {
    fn default() -> Self {
        Self {
            rules: ModerationRules::default(),
            // None set: the site's language gives them (`crisis.default_resources`).
            crisis_resources: Vec::new(),
            trusted_proxies: Vec::new(),
            min_seconds_to_post: 3,
            max_form_age_hours: 24,
        }
    }
}

fn parse_proxies(key: &'static str, raw: &str) -> Result<Vec<IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    key,
                    message: format!("`{item}` is not an IP address or CIDR range"),
                })
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// The optional `kintsugi.toml`: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    base_url: Option<String>,
    content_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    watch_content: Option<bool>,
    db_pool_size: Option<u32>,
    db_connect_timeout_ms: Option<u64>,
    db_statement_timeout_ms: Option<u64>,
    db_idle_in_transaction_timeout_ms: Option<u64>,
    db_group_commit: Option<bool>,
    workers: Option<usize>,
    hsts_max_age: Option<u64>,
    max_connections: Option<usize>,
    #[serde(default)]
    site: FileSiteSettings,
    #[serde(default)]
    comments: FileCommentSettings,
    #[serde(default)]
    mail: FileMailSettings,
    #[serde(default)]
    admin: FileAdminSettings,
    #[serde(default)]
    coaching: FileCoachingSettings,
    #[serde(default)]
    cache: FileCacheSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCacheSettings {
    pages_mb: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCoachingSettings {
    retention_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAdminSettings {
    session_idle_minutes: Option<i64>,
    session_max_hours: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMailSettings {
    from: Option<String>,
    coach_email: Option<String>,
    update_delay_seconds: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCommentSettings {
    blocklist: Option<Vec<String>>,
    crisis_phrases: Option<Vec<String>>,
    crisis_resources: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    min_seconds_to_post: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSiteSettings {
    title: Option<String>,
    tagline: Option<String>,
    author: Option<String>,
    language: Option<String>,
}

impl Settings {
    /// Reads the process environment and `kintsugi.toml` (or the file named
    /// by `KINTSUGI_CONFIG`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(|key| std::env::var(key).ok())
    }

    /// Builds settings from a lookup function, so tests can pass their own.
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = match env("KINTSUGI_CONFIG") {
            Some(path) => read_file(Path::new(&path))?,
            None if Path::new("kintsugi.toml").exists() => read_file(Path::new("kintsugi.toml"))?,
            None => FileSettings::default(),
        };
        let bind = env("KINTSUGI_BIND")
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let base_url = match env("KINTSUGI_BASE_URL").or(file.base_url) {
            Some(raw) => BaseUrl::parse(&raw)?,
            None => BaseUrl::parse(&format!("http://{bind}"))?,
        };
        let content_dir = env("KINTSUGI_CONTENT_DIR")
            .map(PathBuf::from)
            .or(file.content_dir)
            .unwrap_or_else(|| PathBuf::from("content"));
        let data_dir = env("KINTSUGI_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = match env("KINTSUGI_DATABASE_URL").or(file.database_url) {
            Some(raw) => DatabaseUrl::parse(&raw)?,
            None => DatabaseUrl::Sqlite(data_dir.join("kintsugi.sqlite3")),
        };
        let watch_content = match env("KINTSUGI_WATCH_CONTENT") {
            Some(raw) => parse_bool("KINTSUGI_WATCH_CONTENT", &raw)?,
            None => file.watch_content.unwrap_or(true),
        };
        let db_pool_size = match env("KINTSUGI_DB_POOL_SIZE") {
            Some(raw) => parse_number("KINTSUGI_DB_POOL_SIZE", &raw)?,
            None => file.db_pool_size.unwrap_or(8),
        }
        .max(1);
        let db_connect_timeout_ms = match env("KINTSUGI_DB_CONNECT_TIMEOUT_MS") {
            Some(raw) => parse_number("KINTSUGI_DB_CONNECT_TIMEOUT_MS", &raw)?,
            None => file.db_connect_timeout_ms.unwrap_or(3000),
        };
        let db_statement_timeout_ms = match env("KINTSUGI_DB_STATEMENT_TIMEOUT_MS") {
            Some(raw) => parse_number("KINTSUGI_DB_STATEMENT_TIMEOUT_MS", &raw)?,
            None => file
                .db_statement_timeout_ms
                .unwrap_or(DEFAULT_STATEMENT_TIMEOUT_MS),
        };
        let db_idle_in_transaction_timeout_ms =
            match env("KINTSUGI_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS") {
                Some(raw) => parse_number("KINTSUGI_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", &raw)?,
                None => file
                    .db_idle_in_transaction_timeout_ms
                    .unwrap_or(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS),
            };
        let db_group_commit = match env("KINTSUGI_DB_GROUP_COMMIT") {
            Some(raw) => parse_bool("KINTSUGI_DB_GROUP_COMMIT", &raw)?,
            None => file.db_group_commit.unwrap_or(true),
        };
        let workers = match env("KINTSUGI_WORKERS") {
            Some(raw) => Some(parse_number("KINTSUGI_WORKERS", &raw)?),
            None => file.workers,
        }
        .filter(|&n: &usize| n > 0);
        let max_connections = match env("KINTSUGI_MAX_CONNECTIONS") {
            Some(raw) => Some(parse_number("KINTSUGI_MAX_CONNECTIONS", &raw)?),
            None => file.max_connections,
        }
        .filter(|&n: &usize| n > 0);
        let hsts_max_age = match env("KINTSUGI_HSTS_MAX_AGE") {
            Some(raw) => parse_number("KINTSUGI_HSTS_MAX_AGE", &raw)?,
            None => file.hsts_max_age.unwrap_or(DEFAULT_HSTS_MAX_AGE),
        };
        let site = SiteSettings {
            title: env("KINTSUGI_SITE_TITLE")
                .or(file.site.title)
                .unwrap_or_else(|| "Golden Seams".to_string()),
            tagline: env("KINTSUGI_SITE_TAGLINE")
                .or(file.site.tagline)
                .unwrap_or_else(|| "Kind, direct breakup coaching with Maya Brennan".to_string()),
            author: env("KINTSUGI_SITE_AUTHOR")
                .or(file.site.author)
                .unwrap_or_else(|| "Maya Brennan".to_string()),
            language: env("KINTSUGI_SITE_LANGUAGE")
                .or(file.site.language)
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| "en".to_string()),
        };
        let mut comments = CommentSettings::default();
        if let Some(words) = file.comments.blocklist {
            comments.rules.blocklist = words;
        }
        if let Some(phrases) = file.comments.crisis_phrases {
            comments.rules.crisis_phrases = phrases;
        }
        if let Some(lines) = file.comments.crisis_resources {
            comments.crisis_resources = lines;
        }
        if let Some(proxies) = file.comments.trusted_proxies {
            comments.trusted_proxies = parse_proxies("trusted_proxies", &proxies.join(","))?;
        }
        if let Some(raw) = env("KINTSUGI_TRUSTED_PROXIES") {
            comments.trusted_proxies = parse_proxies("KINTSUGI_TRUSTED_PROXIES", &raw)?;
        }
        comments.min_seconds_to_post = match env("KINTSUGI_COMMENT_MIN_SECONDS") {
            Some(raw) => parse_number("KINTSUGI_COMMENT_MIN_SECONDS", &raw)?,
            None => file
                .comments
                .min_seconds_to_post
                .unwrap_or(comments.min_seconds_to_post),
        };
        let mail = MailSettings {
            smtp_url: env("KINTSUGI_SMTP_URL")
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            from: env("KINTSUGI_MAIL_FROM")
                .or(file.mail.from)
                .unwrap_or_else(|| format!("{} <noreply@localhost>", site.title)),
            coach_email: env("KINTSUGI_COACH_EMAIL")
                .or(file.mail.coach_email)
                .filter(|s| !s.trim().is_empty()),
            update_delay_seconds: match env("KINTSUGI_MAIL_UPDATE_DELAY_SECONDS") {
                Some(raw) => parse_number("KINTSUGI_MAIL_UPDATE_DELAY_SECONDS", &raw)?,
                None => file.mail.update_delay_seconds.unwrap_or(60),
            }
            .clamp(0, 3600),
        };
        let defaults = AdminSettings::default();
        let admin = AdminSettings {
            session_idle_minutes: match env("KINTSUGI_SESSION_IDLE_MINUTES") {
                Some(raw) => parse_number("KINTSUGI_SESSION_IDLE_MINUTES", &raw)?,
                None => file
                    .admin
                    .session_idle_minutes
                    .unwrap_or(defaults.session_idle_minutes),
            }
            .max(1),
            session_max_hours: match env("KINTSUGI_SESSION_MAX_HOURS") {
                Some(raw) => parse_number("KINTSUGI_SESSION_MAX_HOURS", &raw)?,
                None => file
                    .admin
                    .session_max_hours
                    .unwrap_or(defaults.session_max_hours),
            }
            .max(1),
        };
        let coaching = CoachingSettings {
            retention_days: match env("KINTSUGI_REQUEST_RETENTION_DAYS") {
                Some(raw) => parse_number("KINTSUGI_REQUEST_RETENTION_DAYS", &raw)?,
                None => file
                    .coaching
                    .retention_days
                    .unwrap_or(CoachingSettings::default().retention_days),
            }
            .max(1),
        };
        let cache = CacheSettings {
            pages_mb: match env("KINTSUGI_PAGE_CACHE_MB") {
                Some(raw) => parse_number("KINTSUGI_PAGE_CACHE_MB", &raw)?,
                None => file
                    .cache
                    .pages_mb
                    .unwrap_or(CacheSettings::default().pages_mb),
            },
        };
        Ok(Self {
            cache,
            coaching,
            admin,
            mail,
            comments,
            bind,
            base_url,
            content_dir,
            data_dir,
            database_url,
            secret_key: env("KINTSUGI_SECRET_KEY")
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            watch_content,
            db_pool_size,
            db_connect_timeout_ms,
            db_statement_timeout_ms,
            db_idle_in_transaction_timeout_ms,
            db_group_commit,
            workers,
            max_connections,
            hsts_max_age,
            site,
        })
    }
}

/// PostgreSQL's statement timeout by default: far above any page's
/// queries (milliseconds), well below a client giving up.
const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30_000;

/// A transaction left open this long (a stuck client, a hung thread) is
/// ended by PostgreSQL, so its row locks cannot hold up every instance.
const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS: u64 = 60_000;

impl Settings {
    /// What each PostgreSQL connection is set up with.
    pub fn pg_session(&self) -> crate::db::PgSession {
        crate::db::PgSession {
            statement_timeout: std::time::Duration::from_millis(self.db_statement_timeout_ms),
            idle_in_transaction_timeout: std::time::Duration::from_millis(
                self.db_idle_in_transaction_timeout_ms,
            ),
        }
    }
}

/// A year: what HSTS preload lists ask for.
const DEFAULT_HSTS_MAX_AGE: u64 = 31_536_000;

impl Settings {
    /// The `Strict-Transport-Security` value to send, if any: only for an
    /// https base URL (browsers ignore it over plain http) and a lifetime
    /// above 0.
    pub fn hsts_header(&self) -> Option<String> {
        (self.base_url.is_https() && self.hsts_max_age > 0)
            .then(|| format!("max-age={}", self.hsts_max_age))
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        message: e.message().to_string(),
    })
}

fn parse_bool(key: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            key,
            message: format!("`{raw}` is not true or false"),
        }),
    }
}

fn parse_number<T: std::str::FromStr>(key: &'static str, raw: &str) -> Result<T, ConfigError> {
    raw.trim().parse().map_err(|_| ConfigError::Invalid {
        key,
        message: format!("`{raw}` is not a number"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_picks_the_backend_from_the_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/x.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("data/x.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/x.db"))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:pw@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let url = DatabaseUrl::parse("postgres://u:hunter2@h/db").unwrap();
        assert!(!format!("{url:?}").contains("hunter2"));
    }

    #[test]
    fn base_url_drops_the_trailing_slash() {
        let url = BaseUrl::parse("https://coach.example/").unwrap();
        assert_eq!(url.join("/feed.xml"), "https://coach.example/feed.xml");
        assert!(BaseUrl::parse("coach.example").is_err());
    }

    #[test]
    fn env_overrides_defaults() {
        let s = Settings::load(|k| match k {
            "KINTSUGI_BIND" => Some("0.0.0.0:9000".into()),
            "KINTSUGI_DATA_DIR" => Some("/tmp/k".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(
            s.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/k/kintsugi.sqlite3"))
        );
        assert!(
            Settings::load(|k| (k == "KINTSUGI_WATCH_CONTENT").then(|| "maybe".into())).is_err()
        );
    }

    #[test]
    fn hsts_is_sent_on_https_only_and_can_be_set_or_turned_off() {
        let hsts = |base: &str, age: Option<&str>| {
            let (base, age) = (base.to_string(), age.map(str::to_string));
            Settings::load(move |k| match k {
                "KINTSUGI_BASE_URL" => Some(base.clone()),
                "KINTSUGI_HSTS_MAX_AGE" => age.clone(),
                _ => None,
            })
            .unwrap()
            .hsts_header()
        };
        assert_eq!(
            hsts("https://coach.example", None).as_deref(),
            Some("max-age=31536000")
        );
        assert_eq!(
            hsts("https://coach.example", Some("600")).as_deref(),
            Some("max-age=600")
        );
        assert_eq!(hsts("https://coach.example", Some("0")), None);
        assert_eq!(hsts("http://127.0.0.1:8080", None), None);
        assert!(
            Settings::load(|k| (k == "KINTSUGI_HSTS_MAX_AGE").then(|| "a year".into())).is_err()
        );
    }

    #[test]
    fn the_page_cache_bound_comes_from_env_or_file() {
        assert_eq!(Settings::load(|_| None).unwrap().cache.pages_mb, 32);
        let s = Settings::load(|k| (k == "KINTSUGI_PAGE_CACHE_MB").then(|| " 8 ".into())).unwrap();
        assert_eq!(s.cache.pages_bytes(), 8 * 1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kintsugi.toml");
        std::fs::write(&file, "[cache]\npages_mb = 64\n").unwrap();
        let path = file.display().to_string();
        let s = Settings::load(move |k| (k == "KINTSUGI_CONFIG").then(|| path.clone())).unwrap();
        assert_eq!(s.cache.pages_mb, 64);
        let err = Settings::load(|k| (k == "KINTSUGI_PAGE_CACHE_MB").then(|| "lots".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("KINTSUGI_PAGE_CACHE_MB"), "{err}");
    }

    #[test]
    fn postgres_timeouts_have_defaults_and_come_from_env_or_file() {
        let s = Settings::load(|_| None).unwrap();
        assert_eq!(s.db_pool_size, 8);
        assert_eq!(s.db_connect_timeout_ms, 3000);
        assert_eq!(s.db_statement_timeout_ms, 30_000);
        assert_eq!(s.db_idle_in_transaction_timeout_ms, 60_000);
        assert!(s.db_group_commit);
        let session = s.pg_session();
        assert_eq!(session.statement_timeout.as_millis(), 30_000);
        assert_eq!(session.idle_in_transaction_timeout.as_millis(), 60_000);

        let s = Settings::load(|k| match k {
            "KINTSUGI_DB_STATEMENT_TIMEOUT_MS" => Some(" 250 ".into()),
            "KINTSUGI_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS" => Some("0".into()),
            "KINTSUGI_DB_GROUP_COMMIT" => Some("false".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.db_statement_timeout_ms, 250);
        assert_eq!(s.db_idle_in_transaction_timeout_ms, 0);
        assert!(!s.db_group_commit);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kintsugi.toml");
        std::fs::write(
            &file,
            "db_statement_timeout_ms = 5000\ndb_idle_in_transaction_timeout_ms = 9000\ndb_group_commit = false\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let s = Settings::load(move |k| (k == "KINTSUGI_CONFIG").then(|| path.clone())).unwrap();
        assert_eq!(s.db_statement_timeout_ms, 5000);
        assert_eq!(s.db_idle_in_transaction_timeout_ms, 9000);
        assert!(!s.db_group_commit);

        for name in [
            "KINTSUGI_DB_STATEMENT_TIMEOUT_MS",
            "KINTSUGI_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        ] {
            let err = Settings::load(move |k| (k == name).then(|| "30s".into()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{err}");
        }
        assert!(
            Settings::load(|k| (k == "KINTSUGI_DB_GROUP_COMMIT").then(|| "sometimes".into()))
                .is_err()
        );
    }

    #[test]
    fn workers_default_to_one_per_cpu() {
        let workers = |raw: &str| {
            let raw = raw.to_string();
            Settings::load(move |k| (k == "KINTSUGI_WORKERS").then(|| raw.clone()))
                .map(|s| s.workers)
        };
        assert_eq!(Settings::load(|_| None).unwrap().workers, None);
        assert_eq!(workers("1").unwrap(), Some(1));
        assert_eq!(workers(" 3 ").unwrap(), Some(3));
        assert_eq!(workers("0").unwrap(), None);
        let err = workers("two").unwrap_err().to_string();
        assert!(err.contains("KINTSUGI_WORKERS"), "{err}");
    }
}
