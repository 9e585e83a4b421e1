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
    pub metrics: MetricsSettings,
    /// How log lines are written (`KINTSUGI_LOG_FORMAT`).
    pub log_format: LogFormat,
}

/// `GET /metrics` (Prometheus): off unless turned on, and then answered
/// only to trusted addresses or the bearer token.
#[derive(Clone, Debug)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// Client addresses that may read the metrics (default: loopback).
    pub allow: Vec<IpNet>,
    /// `Authorization: Bearer <token>` is let in from anywhere.
    pub token: Option<Secret>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            allow: vec![
                IpNet::new_assert(std::net::IpAddr::from([127, 0, 0, 0]), 8),
                IpNet::new_assert(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST), 128),
            ],
            token: None,
        }
    }
}

/// How log lines are written: readable text, or one JSON object a line
/// (for a log collector).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// `text` or `json` (any case); none: text.
    pub fn parse(raw: Option<&str>) -> Result<Self, ConfigError> {
        match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(ConfigError::Invalid {
                key: "KINTSUGI_LOG_FORMAT",
                message: format!("`{other}` is not text or json"),
            }),
        }
    }
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
            pages_mb: DEFAULT_PAGE_CACHE_BYTES / (1024 * 1024),
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
    /// `smtps://user:pass@host` (TLS) or `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS; without `tls=` lettre speaks plain text); None:
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
    #[serde(default)]
    metrics: FileMetricsSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetricsSettings {
    enabled: Option<bool>,
    allow: Option<Vec<String>>,
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
        let mut metrics = MetricsSettings {
            enabled: match env("KINTSUGI_METRICS") {
                Some(raw) => parse_bool("KINTSUGI_METRICS", &raw)?,
                None => file.metrics.enabled.unwrap_or(false),
            },
            token: env("KINTSUGI_METRICS_TOKEN")
                .filter(|s| !s.trim().is_empty())
                .map(|s| Secret::new(s.trim())),
            ..MetricsSettings::default()
        };
        if let Some(nets) = file.metrics.allow {
            metrics.allow = parse_proxies("[metrics] allow", &nets.join(","))?;
        }
        if let Some(raw) = env("KINTSUGI_METRICS_ALLOW") {
            metrics.allow = parse_proxies("KINTSUGI_METRICS_ALLOW", &raw)?;
        }
        let log_format = LogFormat::parse(env("KINTSUGI_LOG_FORMAT").as_deref())?;
        Ok(Self {
            metrics,
            log_format,
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

/// The page cache's size unless `[cache] pages_mb` says otherwise.
pub const DEFAULT_PAGE_CACHE_BYTES: usize = 32 * 1024 * 1024;

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

/// Where a setting's value came from, for `kintsugi config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Env,
    File,
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Env => "env",
            Self::File => "kintsugi.toml",
            Self::Default => "default",
        })
    }
}

/// How bad a configuration problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Works, but probably not what was meant.
    Warning,
    /// `kintsugi config` fails; `serve` starts and logs it as a warning.
    Error,
    /// `serve` refuses to start too.
    Fatal,
}

/// One mistake in the configuration, with how to fix it.
#[derive(Clone, Debug)]
pub struct Problem {
    pub severity: Severity,
    pub key: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error | Severity::Fatal => "error",
        };
        write!(f, "{level}: {}: {}", self.key, self.message)
    }
}

/// One line of `kintsugi config`: a setting, its value (secrets as `***`)
/// and where the value came from.
#[derive(Clone, Debug)]
pub struct Shown {
    pub name: &'static str,
    pub value: String,
    pub origin: Origin,
}

/// A URL with its password (and a `password=` query value) shown as `***`.
pub fn mask_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "*** (not a URL)".to_string();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string().replace("%2A%2A%2A", "***")
}

/// Whether `host` (from a URL, brackets allowed) names this machine.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A trusted range so wide that clients on the internet could be in it,
/// and so choose the address they are counted under.
fn too_wide(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => n.prefix_len() < 8,
        IpNet::V6(n) => {
            // ::ffff:0:0/96 is every IPv4 address (as a dual-stack socket
            // sees it); fc00::/7 holds only private (unique local) ones.
            let (Ok(mapped), Ok(private)) = (
                "::ffff:0:0/96".parse::<ipnet::Ipv6Net>(),
                "fc00::/7".parse::<ipnet::Ipv6Net>(),
            ) else {
                return n.prefix_len() < 16;
            };
            (n.prefix_len() < 16 && !private.contains(n))
                || (mapped.contains(&n.network()) && n.prefix_len() < 104)
        }
    }
}

impl Settings {
    /// Every setting with its effective value, secrets as `***`. `env` is
    /// the lookup [`Settings::load`] was given (to say where values came
    /// from).
    pub fn shown(&self, env: impl Fn(&str) -> Option<String>) -> Vec<Shown> {
        let file_path = env("KINTSUGI_CONFIG").map(PathBuf::from).or_else(|| {
            Path::new("kintsugi.toml")
                .exists()
                .then(|| PathBuf::from("kintsugi.toml"))
        });
        let table: toml::Table = file_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default();
        let in_file = |key: &str| {
            let mut at: Option<&toml::Value> = None;
            for (i, part) in key.split('.').enumerate() {
                at = if i == 0 {
                    table.get(part)
                } else {
                    at.and_then(|v| v.get(part))
                };
            }
            at.is_some()
        };
        let origin = |name: &str, key: &str| {
            if env(name).is_some_and(|v| !v.is_empty()) {
                Origin::Env
            } else if !key.is_empty() && in_file(key) {
                Origin::File
            } else {
                Origin::Default
            }
        };
        let or_none = |v: &Option<String>, none: &str| v.clone().unwrap_or_else(|| none.into());
        let list = |items: &[String], none: &str| {
            if items.is_empty() {
                none.to_string()
            } else {
                items.join(", ")
            }
        };
        let millis_or_off = |ms: u64| {
            if ms == 0 {
                "0 (off)".to_string()
            } else {
                ms.to_string()
            }
        };
        let c = &self.comments;
        let rows: Vec<(&'static str, &str, String)> = vec![
            (
                "KINTSUGI_CONFIG",
                "",
                file_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "none (no kintsugi.toml here)".into()),
            ),
            ("KINTSUGI_BIND", "bind", self.bind.clone()),
            (
                "KINTSUGI_BASE_URL",
                "base_url",
                self.base_url.as_str().to_string(),
            ),
            (
                "KINTSUGI_HSTS_MAX_AGE",
                "hsts_max_age",
                match self.hsts_header() {
                    Some(h) => format!("{} (sent: {h})", self.hsts_max_age),
                    None if self.base_url.is_https() => "0 (not sent)".into(),
                    None => format!("{} (not sent: the base URL is http)", self.hsts_max_age),
                },
            ),
            (
                "KINTSUGI_CONTENT_DIR",
                "content_dir",
                self.content_dir.display().to_string(),
            ),
            (
                "KINTSUGI_DATA_DIR",
                "data_dir",
                self.data_dir.display().to_string(),
            ),
            (
                "KINTSUGI_DATABASE_URL",
                "database_url",
                match &self.database_url {
                    DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
                    DatabaseUrl::Postgres(url) => mask_url(url.expose()),
                },
            ),
            (
                "KINTSUGI_SECRET_KEY",
                "",
                match &self.secret_key {
                    Some(_) => "***".into(),
                    None => format!(
                        "not set: {} (made when first needed)",
                        self.data_dir.join("secret.key").display()
                    ),
                },
            ),
            (
                "KINTSUGI_WATCH_CONTENT",
                "watch_content",
                self.watch_content.to_string(),
            ),
            (
                "KINTSUGI_DB_POOL_SIZE",
                "db_pool_size",
                self.db_pool_size.to_string(),
            ),
            (
                "KINTSUGI_DB_CONNECT_TIMEOUT_MS",
                "db_connect_timeout_ms",
                self.db_connect_timeout_ms.to_string(),
            ),
            (
                "KINTSUGI_DB_STATEMENT_TIMEOUT_MS",
                "db_statement_timeout_ms",
                millis_or_off(self.db_statement_timeout_ms),
            ),
            (
                "KINTSUGI_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                "db_idle_in_transaction_timeout_ms",
                millis_or_off(self.db_idle_in_transaction_timeout_ms),
            ),
            (
                "KINTSUGI_DB_GROUP_COMMIT",
                "db_group_commit",
                self.db_group_commit.to_string(),
            ),
            (
                "KINTSUGI_WORKERS",
                "workers",
                self.workers
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "one per CPU".into()),
            ),
            (
                "KINTSUGI_MAX_CONNECTIONS",
                "max_connections",
                self.max_connections
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "from the open-file limit".into()),
            ),
            ("KINTSUGI_SITE_TITLE", "site.title", self.site.title.clone()),
            (
                "KINTSUGI_SITE_TAGLINE",
                "site.tagline",
                self.site.tagline.clone(),
            ),
            (
                "KINTSUGI_SITE_AUTHOR",
                "site.author",
                self.site.author.clone(),
            ),
            (
                "KINTSUGI_SITE_LANGUAGE",
                "site.language",
                self.site.language.clone(),
            ),
            (
                "KINTSUGI_LOG",
                "",
                env("KINTSUGI_LOG").unwrap_or_else(|| "info".into()),
            ),
            (
                "KINTSUGI_LOG_FORMAT",
                "",
                match self.log_format {
                    LogFormat::Text => "text".into(),
                    LogFormat::Json => "json".into(),
                },
            ),
            (
                "KINTSUGI_METRICS",
                "metrics.enabled",
                if self.metrics.enabled { "on" } else { "off" }.into(),
            ),
            (
                "KINTSUGI_METRICS_ALLOW",
                "metrics.allow",
                self.metrics
                    .allow
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "KINTSUGI_METRICS_TOKEN",
                "",
                match &self.metrics.token {
                    Some(_) => "***".into(),
                    None => "none".into(),
                },
            ),
            (
                "KINTSUGI_TRUSTED_PROXIES",
                "comments.trusted_proxies",
                list(
                    &c.trusted_proxies
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>(),
                    "none (every client's own address counts)",
                ),
            ),
            (
                "KINTSUGI_COMMENT_MIN_SECONDS",
                "comments.min_seconds_to_post",
                c.min_seconds_to_post.to_string(),
            ),
            (
                "[comments] blocklist",
                "comments.blocklist",
                format!("{} word(s)", c.rules.blocklist.len()),
            ),
            (
                "[comments] crisis_phrases",
                "comments.crisis_phrases",
                format!(
                    "{} phrase(s) (and the site language's own)",
                    c.rules.crisis_phrases.len()
                ),
            ),
            (
                "[comments] crisis_resources",
                "comments.crisis_resources",
                if c.crisis_resources.is_empty() {
                    "the site language's helplines".into()
                } else {
                    format!("{} line(s)", c.crisis_resources.len())
                },
            ),
            (
                "KINTSUGI_SMTP_URL",
                "",
                match &self.mail.smtp_url {
                    Some(url) => mask_url(url.expose()),
                    None => format!(
                        "none: mail is written to {}",
                        self.data_dir.join("outbox").display()
                    ),
                },
            ),
            ("KINTSUGI_MAIL_FROM", "mail.from", self.mail.from.clone()),
            (
                "KINTSUGI_COACH_EMAIL",
                "mail.coach_email",
                or_none(&self.mail.coach_email, "none"),
            ),
            (
                "KINTSUGI_MAIL_UPDATE_DELAY_SECONDS",
                "mail.update_delay_seconds",
                self.mail.update_delay_seconds.to_string(),
            ),
            (
                "KINTSUGI_SESSION_IDLE_MINUTES",
                "admin.session_idle_minutes",
                self.admin.session_idle_minutes.to_string(),
            ),
            (
                "KINTSUGI_SESSION_MAX_HOURS",
                "admin.session_max_hours",
                self.admin.session_max_hours.to_string(),
            ),
            (
                "KINTSUGI_REQUEST_RETENTION_DAYS",
                "coaching.retention_days",
                self.coaching.retention_days.to_string(),
            ),
            (
                "KINTSUGI_PAGE_CACHE_MB",
                "cache.pages_mb",
                self.cache.pages_mb.to_string(),
            ),
        ];
        rows.into_iter()
            .map(|(name, key, value)| Shown {
                name,
                value,
                origin: if name.starts_with('[') {
                    origin("", key)
                } else if name == "KINTSUGI_CONFIG" {
                    origin(name, "")
                } else {
                    origin(name, key)
                },
            })
            .collect()
    }

    /// The mistakes an operator is likely to make, each with how to fix
    /// it. `serve` refuses to start on a [`Severity::Fatal`] one.
    pub fn problems(&self) -> Vec<Problem> {
        let mut found = Vec::new();
        let mut add = |severity, key, message: String| {
            found.push(Problem {
                severity,
                key,
                message,
            })
        };
        use Severity::{Error, Fatal, Warning};

        // The public address.
        let base = self.base_url.as_str();
        match url::Url::parse(base) {
            Ok(url) => {
                let host = url.host_str().unwrap_or("");
                if url.path() != "/" && !url.path().is_empty() {
                    add(Error, "KINTSUGI_BASE_URL", format!(
                        "`{base}` has a path (`{}`): Kintsugi answers at the root of its address, so links, cookies and the cross-site check would be wrong. Give the site its own host name (e.g. https://coach.example) and leave the path out",
                        url.path()
                    ));
                }
                if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
                    add(Error, "KINTSUGI_BASE_URL", format!(
                        "`{base}` has a user name, a query (`?`) or a fragment (`#`): give only the scheme, host and port, e.g. https://coach.example"
                    ));
                }
                if url.scheme() == "http" && !is_loopback_host(host) {
                    add(Error, "KINTSUGI_BASE_URL", format!(
                        "`{base}` is not https: cookies are sent without `Secure` (and without the `__Host-` prefix), no Strict-Transport-Security header is sent, and the feed, sitemap and emails link to http. Put Kintsugi behind a reverse proxy with HTTPS (README, \"Running it on a server\") and set KINTSUGI_BASE_URL=https://{}",
                        // An address (the default, from KINTSUGI_BIND) is no name to suggest.
                        url.host()
                            .filter(|h| matches!(h, url::Host::Domain(_)))
                            .map_or("your.domain".to_string(), |h| h.to_string())
                    ));
                }
            }
            Err(e) => add(
                Error,
                "KINTSUGI_BASE_URL",
                format!("`{base}` is not a valid address: {e}"),
            ),
        }

        // Where it listens, and whom it believes.
        let bind_addr: Option<std::net::SocketAddr> = self.bind.parse().ok();
        let port_ok = self
            .bind
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            add(Error, "KINTSUGI_BIND", format!(
                "`{}` is not an address and port: write e.g. 127.0.0.1:8080 (behind a proxy on this machine) or [::1]:8080",
                self.bind
            ));
        }
        for net in &self.comments.trusted_proxies {
            if too_wide(net) {
                add(Fatal, "KINTSUGI_TRUSTED_PROXIES", format!(
                    "`{net}` is far too wide: anyone inside it may send X-Forwarded-For and choose the address their comments, sign-ins and coaching requests are counted under, so the rate limits would not hold. List only your proxies' own addresses, e.g. KINTSUGI_TRUSTED_PROXIES=127.0.0.1 for a proxy on this machine"
                ));
            }
        }
        let everywhere = bind_addr.is_some_and(|a| a.ip().is_unspecified());
        if everywhere && (!self.comments.trusted_proxies.is_empty() || self.base_url.is_https()) {
            add(Warning, "KINTSUGI_BIND", format!(
                "`{}` listens on every network interface although a reverse proxy is in front: readers can reach Kintsugi directly, around the proxy's HTTPS. Bind it to 127.0.0.1:{} (or the address only the proxy reaches) or close the port in the firewall",
                self.bind,
                bind_addr.map(|a| a.port()).unwrap_or(8080)
            ));
        }
        let loopback_bind =
            bind_addr.is_some_and(|a| a.ip().is_loopback()) || self.bind.starts_with("localhost:");
        if self.base_url.is_https() && loopback_bind && self.comments.trusted_proxies.is_empty() {
            add(Warning, "KINTSUGI_TRUSTED_PROXIES",
                "not set, while the site is served over https from a local address (so through a proxy on this machine): every reader shares the proxy's address for the rate limits, and one busy reader slows everyone. Set KINTSUGI_TRUSTED_PROXIES=127.0.0.1 (the proxy's address) and have the proxy set X-Forwarded-For".to_string());
        }

        // The site key.
        if self
            .secret_key
            .as_ref()
            .is_some_and(|k| k.expose().len() < 32)
        {
            add(Error, "KINTSUGI_SECRET_KEY",
                "is shorter than 32 characters: make one with `openssl rand -hex 32`, or unset it to use the key Kintsugi keeps in its data folder".to_string());
        }
        if let DatabaseUrl::Postgres(url) = &self.database_url {
            if url::Url::parse(url.expose()).is_err() {
                add(Error, "KINTSUGI_DATABASE_URL",
                    "is not a valid URL (a password with @, : or / must be percent-encoded: @ is %40)".to_string());
            }
        }

        // Mail.
        let smtp_remote = match &self.mail.smtp_url {
            Some(raw) => smtp_problems(raw.expose(), &mut add),
            None => false,
        };
        match self.mail.from.parse::<lettre::message::Mailbox>() {
            Ok(from) => {
                if smtp_remote && is_loopback_host(from.email.domain()) {
                    add(Error, "KINTSUGI_MAIL_FROM", format!(
                        "`{}` is a local address: mail providers refuse or bin mail from it. Set a sender on your own domain that your provider allows, e.g. KINTSUGI_MAIL_FROM=\"{} <hello@coach.example>\"",
                        self.mail.from, self.site.title
                    ));
                }
            }
            Err(e) => add(Error, "KINTSUGI_MAIL_FROM", format!(
                "`{}` is not an email address ({e}): write e.g. \"Golden Seams <hello@coach.example>\"",
                self.mail.from
            )),
        }
        match &self.mail.coach_email {
            Some(email) => {
                if email.parse::<lettre::Address>().is_err() {
                    add(Error, "KINTSUGI_COACH_EMAIL", format!("`{email}` is not an email address"));
                }
            }
            None => add(Warning, "KINTSUGI_COACH_EMAIL",
                "not set: nobody is told by email about comments waiting for review or urgent ones. Set it to the coach's address".to_string()),
        }
        found
    }
}

/// What is wrong with an SMTP URL, read the way lettre's `from_url` reads
/// it: `smtps://` is TLS from the first byte (port 465), `smtp://` is
/// plain text unless `?tls=required` (STARTTLS, port 587) or
/// `?tls=opportunistic` (STARTTLS when offered). Returns whether the
/// server is on another machine.
fn smtp_problems(raw: &str, add: &mut impl FnMut(Severity, &'static str, String)) -> bool {
    use Severity::{Error, Warning};
    const KEY: &str = "KINTSUGI_SMTP_URL";
    let url = match url::Url::parse(raw) {
        Ok(url) => url,
        Err(e) => {
            add(
                Error,
                KEY,
                format!(
                "is not a URL ({e}); a password with @, : or / must be percent-encoded (@ is %40)"
            ),
            );
            return false;
        }
    };
    let host = url.host_str().unwrap_or("").to_string();
    let shown = mask_url(raw);
    let remote = !is_loopback_host(&host);
    let tls: Option<String> = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let port = url.port();
    match (url.scheme(), tls.as_deref()) {
        ("smtps", _) => {
            if port == Some(587) || port == Some(25) {
                add(Error, KEY, format!(
                    "`{shown}`: port {} speaks STARTTLS, but smtps:// expects TLS from the first byte, so every send would fail. Use smtps://…:465, or smtp://…:587?tls=required",
                    port.unwrap_or(587)
                ));
            }
        }
        ("smtp", None) if remote => add(Error, KEY, format!(
            "`{shown}` is plain SMTP without TLS: the password and every email would cross the network unencrypted. Use smtps://user:password@{host} (TLS, port 465) or smtp://user:password@{host}:587?tls=required (STARTTLS)"
        )),
        ("smtp", None) => {}
        ("smtp", Some("required")) => {
            if port == Some(465) {
                add(Error, KEY, format!(
                    "`{shown}`: port 465 expects TLS from the first byte, not STARTTLS: use smtps://…:465, or port 587 with ?tls=required"
                ));
            }
        }
        ("smtp", Some("opportunistic")) => {
            if remote {
                add(Warning, KEY, format!(
                    "`{shown}`: tls=opportunistic sends in plain text when the server does not offer STARTTLS, and someone in between can make it seem so. Use ?tls=required"
                ));
            }
        }
        (scheme, tls) => add(Error, KEY, format!(
            "`{shown}`: unknown scheme `{scheme}` or tls=`{}`: use smtps://… or smtp://…?tls=required",
            tls.unwrap_or("")
        )),
    }
    if remote && url.password().is_none() {
        add(Warning, KEY, format!(
            "`{shown}` has no user name and password: most providers want them (user:password@ before the host; percent-encode @ as %40)"
        ));
    }
    remote
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
        let session = crate::db::PgSession::of(&s);
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
    fn settings_with(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(move |key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
            .unwrap()
    }

    fn problem_keys(s: &Settings, at_least: Severity) -> Vec<&'static str> {
        s.problems()
            .into_iter()
            .filter(|p| p.severity >= at_least)
            .map(|p| p.key)
            .collect()
    }

    #[test]
    fn a_local_default_setup_has_no_errors() {
        let s = settings_with(&[]);
        assert!(
            problem_keys(&s, Severity::Error).is_empty(),
            "{:?}",
            s.problems()
        );
    }

    #[test]
    fn a_good_production_setup_has_no_problems() {
        let s = settings_with(&[
            ("KINTSUGI_BASE_URL", "https://coach.example"),
            ("KINTSUGI_BIND", "127.0.0.1:8080"),
            ("KINTSUGI_TRUSTED_PROXIES", "127.0.0.1, ::1"),
            ("KINTSUGI_SMTP_URL", "smtps://maya:pw@smtp.example.com"),
            ("KINTSUGI_MAIL_FROM", "Golden Seams <hello@coach.example>"),
            ("KINTSUGI_COACH_EMAIL", "maya@coach.example"),
        ]);
        assert!(s.problems().is_empty(), "{:?}", s.problems());
    }

    #[test]
    fn wide_trusted_proxies_stop_the_start() {
        for wide in ["0.0.0.0/0", "::/0", "0.0.0.0/1", "::ffff:0:0/96"] {
            let s = settings_with(&[("KINTSUGI_TRUSTED_PROXIES", wide)]);
            assert_eq!(
                problem_keys(&s, Severity::Fatal),
                ["KINTSUGI_TRUSTED_PROXIES"],
                "{wide}"
            );
        }
        for fine in ["127.0.0.1", "10.0.0.0/8", "104.16.0.0/13", "fd00::/8"] {
            let s = settings_with(&[("KINTSUGI_TRUSTED_PROXIES", fine)]);
            assert!(problem_keys(&s, Severity::Fatal).is_empty(), "{fine}");
        }
    }

    #[test]
    fn base_url_mistakes_are_errors() {
        for bad in [
            "http://coach.example",
            "https://coach.example/blog",
            "https://coach.example/?x=1",
        ] {
            let s = settings_with(&[("KINTSUGI_BASE_URL", bad)]);
            assert!(
                problem_keys(&s, Severity::Error).contains(&"KINTSUGI_BASE_URL"),
                "{bad}"
            );
        }
        for fine in [
            "http://localhost:8080",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
        ] {
            let s = settings_with(&[("KINTSUGI_BASE_URL", fine)]);
            assert!(
                !problem_keys(&s, Severity::Warning).contains(&"KINTSUGI_BASE_URL"),
                "{fine}"
            );
        }
    }

    #[test]
    fn smtp_urls_are_read_as_lettre_reads_them() {
        let smtp = |url: &str| {
            let s = settings_with(&[
                ("KINTSUGI_SMTP_URL", url),
                ("KINTSUGI_MAIL_FROM", "Golden Seams <hello@coach.example>"),
                ("KINTSUGI_COACH_EMAIL", "maya@coach.example"),
            ]);
            s.problems()
                .into_iter()
                .map(|p| (p.severity, p.message))
                .collect::<Vec<_>>()
        };
        let worst = |url: &str| smtp(url).into_iter().map(|(s, _)| s).max();
        // Plain text to another machine: refused; to this machine: fine.
        assert_eq!(
            worst("smtp://u:p@smtp.example.com:587"),
            Some(Severity::Error)
        );
        assert_eq!(worst("smtp://127.0.0.1:25"), None);
        assert_eq!(worst("smtp://u:p@smtp.example.com:587?tls=required"), None);
        assert_eq!(worst("smtps://u:p@smtp.example.com"), None);
        assert_eq!(
            worst("smtp://u:p@smtp.example.com?tls=opportunistic"),
            Some(Severity::Warning)
        );
        assert_eq!(
            worst("smtps://u:p@smtp.example.com:587"),
            Some(Severity::Error)
        );
        assert_eq!(
            worst("smtp://u:p@smtp.example.com:465?tls=required"),
            Some(Severity::Error)
        );
        assert_eq!(worst("imap://u:p@smtp.example.com"), Some(Severity::Error));
        // The password never shows.
        for (_, message) in smtp("smtp://maya:hunter2@smtp.example.com:587") {
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn shown_settings_hide_secrets_and_say_where_values_came_from() {
        let vars = [
            ("KINTSUGI_SECRET_KEY", "k".repeat(40)),
            (
                "KINTSUGI_DATABASE_URL",
                "postgres://kintsugi:hunter2@db/kintsugi".into(),
            ),
            (
                "KINTSUGI_SMTP_URL",
                "smtps://maya:hunter3@smtp.example.com".into(),
            ),
        ];
        let env = move |key: &str| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        let s = Settings::load(&env).unwrap();
        let shown = s.shown(&env);
        let text = format!("{shown:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("hunter3"),
            "{text}"
        );
        assert!(!text.contains("kkkk"), "{text}");
        let db = shown
            .iter()
            .find(|s| s.name == "KINTSUGI_DATABASE_URL")
            .unwrap();
        assert_eq!(db.value, "postgres://kintsugi:***@db/kintsugi");
        assert_eq!(db.origin, Origin::Env);
        let bind = shown.iter().find(|s| s.name == "KINTSUGI_BIND").unwrap();
        assert_eq!(bind.origin, Origin::Default);
    }
}
