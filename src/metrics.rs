//! The operator's numbers, in the Prometheus text format (`GET /metrics`,
//! see `web::metrics` for who may read them).
//!
//! One [`prometheus::Registry`] per application, held in the app state and
//! never global: tests run many apps in one process, and each must count
//! only its own requests (the `metrics` facade records through one global
//! recorder, which is why this uses the `prometheus` crate).
//!
//! Labels never hold what a reader sent: requests are labelled by the
//! route's pattern (`/articles/{slug}`), never the path.
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// What `/metrics` answers with: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// The label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Every metric of one application.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    page_cache_hits: IntCounter,
    page_cache_misses: IntCounter,
    page_cache_bytes: IntGauge,
    page_cache_entries: IntGauge,
    db_connections: IntGaugeVec,
    db_pool_max: IntGauge,
    db_pool: PoolEvents,
    comments_created: IntCounterVec,
    coaching_requests_created: IntCounter,
    mail_sent: IntCounter,
    mail_failed: IntCounter,
    mail_unsent: IntGauge,
    writer_batch_size: Histogram,
    /// Scrapes one at a time: the counters copied from elsewhere at
    /// scrape time (the page cache's) are brought up to date under it.
    scrape: Mutex<()>,
}

/// What is read afresh at every scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct Snapshot {
    /// Page cache lookups since start that were served from it / rendered.
    pub page_cache_hits: u64,
    pub page_cache_misses: u64,
    pub page_cache_bytes: usize,
    pub page_cache_entries: usize,
    /// Database pool: open connections, of which idle, and the most it opens.
    pub db_connections: u32,
    pub db_idle: u32,
    pub db_pool_max: u32,
    /// Mail not yet sent (waiting, due or failing); None: the database
    /// could not say.
    pub mail_unsent: Option<i64>,
}

/// Times a request waited for a database connection, and how often it
/// gave up (r2d2's events, set on the pool when it is built).
#[derive(Clone)]
pub struct PoolEvents {
    wait_seconds: Histogram,
    timeouts: IntCounter,
}

impl std::fmt::Debug for PoolEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolEvents")
    }
}

impl r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        self.wait_seconds.observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, event: r2d2::event::TimeoutEvent) {
        self.timeouts.inc();
        self.wait_seconds.observe(event.timeout().as_secs_f64());
    }
}

/// Latency buckets in seconds: a cached page takes well under a
/// millisecond, a comment post (group commit) tens of milliseconds.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics, registered, at zero. Called at start; the names and
    /// labels are constants (a unit test builds them), so this cannot fail
    /// later.
    pub fn new() -> Self {
        Self::try_new().expect("the metric definitions are valid")
    }

    fn try_new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("kintsugi".into()), None)?;
        let r = &registry;
        let requests = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "Requests answered, by route pattern, method and status code.",
                ),
                &["route", "method", "status"],
            )?,
        )?;
        let request_seconds = register(
            r,
            HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "Time from receiving a request to its response headers, by route pattern and method.",
                )
                .buckets(SECONDS.to_vec()),
                &["route", "method"],
            )?,
        )?;
        let page_cache_hits = register(
            r,
            IntCounter::new(
                "page_cache_hits_total",
                "Page cache lookups served from the cache.",
            )?,
        )?;
        let page_cache_misses = register(
            r,
            IntCounter::new(
                "page_cache_misses_total",
                "Page cache lookups that had to render the page.",
            )?,
        )?;
        let page_cache_bytes = register(
            r,
            IntGauge::new(
                "page_cache_bytes",
                "Bytes the page cache holds (every encoding).",
            )?,
        )?;
        let page_cache_entries = register(
            r,
            IntGauge::new("page_cache_entries", "Pages in the page cache.")?,
        )?;
        let db_connections = register(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "db_pool_connections",
                    "Open database connections, in use or idle.",
                ),
                &["state"],
            )?,
        )?;
        let db_pool_max = register(
            r,
            IntGauge::new(
                "db_pool_max_connections",
                "The most connections the pool opens (KINTSUGI_DB_POOL_SIZE).",
            )?,
        )?;
        let db_pool = PoolEvents {
            wait_seconds: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "db_pool_wait_seconds",
                        "Time spent waiting for a database connection from the pool.",
                    )
                    .buckets(SECONDS.to_vec()),
                )?,
            )?,
            timeouts: register(
                r,
                IntCounter::new(
                    "db_pool_timeouts_total",
                    "Waits for a database connection that ran out of time (answered 503).",
                )?,
            )?,
        };
        let comments_created = register(
            r,
            IntCounterVec::new(
                Opts::new(
                    "comments_created_total",
                    "Comments stored, by the status they got (approved, pending, spam).",
                ),
                &["status"],
            )?,
        )?;
        // Every status from the start, so a rate is defined before the
        // first comment of each kind.
        for status in [
            crate::db::comments::APPROVED,
            crate::db::comments::PENDING,
            crate::db::comments::SPAM,
        ] {
            comments_created.with_label_values(&[status]);
        }
        let coaching_requests_created = register(
            r,
            IntCounter::new(
                "coaching_requests_created_total",
                "Coaching requests stored.",
            )?,
        )?;
        let mail_sent = register(
            r,
            IntCounter::new("mail_sent_total", "Emails handed to the transport.")?,
        )?;
        let mail_failed = register(
            r,
            IntCounter::new(
                "mail_failed_total",
                "Attempts to send an email that failed (each retry counts).",
            )?,
        )?;
        let mail_unsent = register(
            r,
            IntGauge::new(
                "mail_unsent",
                "Emails queued and not sent yet (waiting, due or failing).",
            )?,
        )?;
        let writer_batch_size = register(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "db_writer_batch_size",
                    "Writes committed together in one transaction by the SQLite writer.",
                )
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
            )?,
        )?;
        let build_info = register(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "build_info",
                    "The running build: always 1, its version as a label.",
                ),
                &["version"],
            )?,
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let started = register(
            r,
            IntGauge::new(
                "process_start_time_seconds",
                "When the application started, in seconds since 1970.",
            )?,
        )?;
        started.set(chrono::Utc::now().timestamp());
        Ok(Self {
            registry,
            requests,
            request_seconds,
            page_cache_hits,
            page_cache_misses,
            page_cache_bytes,
            page_cache_entries,
            db_connections,
            db_pool_max,
            db_pool,
            comments_created,
            coaching_requests_created,
            mail_sent,
            mail_failed,
            mail_unsent,
            writer_batch_size,
            scrape: Mutex::new(()),
        })
    }

    /// One request answered: `route` is the matched pattern (or
    /// [`UNMATCHED`]), never the path.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let method = known_method(method);
        let code = status.to_string();
        self.requests
            .with_label_values(&[route, method, code.as_str()])
            .inc();
        self.request_seconds
            .with_label_values(&[route, method])
            .observe(took.as_secs_f64());
    }

    /// A comment was stored with `status` (approved, pending, spam).
    pub fn comment_created(&self, status: &str) {
        self.comments_created.with_label_values(&[status]).inc();
    }

    /// A coaching request was stored.
    pub fn coaching_request_created(&self) {
        self.coaching_requests_created.inc();
    }

    /// An email was handed to the transport.
    pub fn mail_sent(&self) {
        self.mail_sent.inc();
    }

    /// An attempt to send an email failed.
    pub fn mail_failed(&self) {
        self.mail_failed.inc();
    }

    /// What the database pool reports to (see `db::pool_with`).
    pub fn pool_events(&self) -> Box<dyn r2d2::HandleEvent> {
        Box::new(self.db_pool.clone())
    }

    /// What the SQLite writer calls with the size of each committed batch.
    pub fn writer_batches(&self) -> crate::db::writer::OnBatch {
        let histogram = self.writer_batch_size.clone();
        std::sync::Arc::new(move |writes| histogram.observe(writes as f64))
    }

    /// Every metric in the text format, with `now`'s readings.
    pub fn render(&self, now: Snapshot) -> Result<String, prometheus::Error> {
        let _one_at_a_time = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        catch_up(&self.page_cache_hits, now.page_cache_hits);
        catch_up(&self.page_cache_misses, now.page_cache_misses);
        self.page_cache_bytes.set(as_i64(now.page_cache_bytes));
        self.page_cache_entries.set(as_i64(now.page_cache_entries));
        let in_use = now.db_connections.saturating_sub(now.db_idle);
        self.db_connections
            .with_label_values(&["in_use"])
            .set(i64::from(in_use));
        self.db_connections
            .with_label_values(&["idle"])
            .set(i64::from(now.db_idle));
        self.db_pool_max.set(i64::from(now.db_pool_max));
        if let Some(unsent) = now.mail_unsent {
            self.mail_unsent.set(unsent);
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

fn register<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: T,
) -> prometheus::Result<T> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// Raises `counter` to `total` (a count kept elsewhere since start).
fn catch_up(counter: &IntCounter, total: u64) {
    let seen = counter.get();
    if total > seen {
        counter.inc_by(total - seen);
    }
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The method as a label: the usual ones by name, anything else `other`,
/// so a client cannot make up new label values.
fn known_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "OPTIONS" => "OPTIONS",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_defined_and_rendered() {
        let metrics = Metrics::try_new().unwrap();
        metrics.request("/articles/{slug}", "GET", 200, Duration::from_millis(3));
        metrics.request(UNMATCHED, "BREW", 404, Duration::from_millis(1));
        metrics.comment_created("pending");
        metrics.writer_batches()(3);
        let text = metrics
            .render(Snapshot {
                page_cache_hits: 5,
                page_cache_misses: 2,
                db_connections: 3,
                db_idle: 1,
                db_pool_max: 8,
                mail_unsent: Some(4),
                ..Snapshot::default()
            })
            .unwrap();
        for line in [
            r#"kintsugi_http_requests_total{method="GET",route="/articles/{slug}",status="200"} 1"#,
            r#"kintsugi_http_requests_total{method="other",route="unmatched",status="404"} 1"#,
            "kintsugi_page_cache_hits_total 5",
            "kintsugi_page_cache_misses_total 2",
            r#"kintsugi_db_pool_connections{state="in_use"} 2"#,
            r#"kintsugi_db_pool_connections{state="idle"} 1"#,
            "kintsugi_mail_unsent 4",
            r#"kintsugi_comments_created_total{status="pending"} 1"#,
            "kintsugi_db_writer_batch_size_count 1",
            concat!(
                r#"kintsugi_build_info{version=""#,
                env!("CARGO_PKG_VERSION"),
                r#""} 1"#
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        // A later scrape with the cache's larger totals catches up.
        let text = metrics
            .render(Snapshot {
                page_cache_hits: 9,
                ..Snapshot::default()
            })
            .unwrap();
        assert!(text
            .lines()
            .any(|l| l == "kintsugi_page_cache_hits_total 9"));
    }
}
