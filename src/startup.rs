//! Builds the application: every route and middleware, in one table.
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};

use crate::assets::Assets;
use crate::config::Settings;
use crate::content::{ContentError, ContentStore};
use crate::db;
use crate::error::AppError;
use crate::web::admin::session::{cookie_name, DbSessionStore};
use crate::web::{self as handlers, admin, AppState};
use actix_session::config::{CookieContentSecurity, PersistentSession, TtlExtensionPolicy};
use actix_session::SessionMiddleware;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::SameSite;

/// The release and the commit it was built from, e.g. `0.1.0 (952b6b7ab1c2
/// 2026-11-30)` (see `src/build.rs`): `kintsugi --version` and the start log.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KINTSUGI_BUILD_INFO"),
    ")"
);

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the content has {} problem(s):\n{}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Content(Vec<ContentError>),
    #[error(transparent)]
    Strings(#[from] crate::i18n::StringsError),
    #[error("cannot open the database: {0}")]
    Database(String),
    #[error("{0}")]
    MissingDatabase(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A Content-Security-Policy that forbids inline code and third parties.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<AppState>,
    setup_link: Option<String>,
}

impl Application {
    /// Loads content, opens the database (applying migrations), binds the
    /// listener. Does not start serving until [`Application::run`].
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let strings = Arc::new(crate::i18n::Strings::load(
            &settings.site.language,
            &settings.content_dir,
        )?);
        let content_dir = settings.content_dir.clone();
        let words = crate::content::markdown::ContentWords::in_language(&strings);
        let media_cache = settings.data_dir.join(crate::content::media::CACHE_DIR);
        let content =
            web::block(move || ContentStore::load_serving(&content_dir, words, Some(media_cache)))
                .await
                .map_err(|e| StartError::Database(e.to_string()))?
                .map_err(StartError::Content)?;
        let content = Arc::new(content);
        let mut settings = settings;
        // Crisis words of the site's language count as well as the English
        // ones (readers write in either).
        for phrase in strings.s("crisis.phrases").lines().map(str::trim) {
            let rules = &mut settings.comments.rules;
            if !phrase.is_empty() && !rules.crisis_phrases.iter().any(|p| p == phrase) {
                rules.crisis_phrases.push(phrase.to_string());
            }
        }
        if settings.comments.crisis_resources.is_empty() {
            settings.comments.crisis_resources = strings
                .s("crisis.default_resources")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
        }
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let pool = open_database_observed(&settings, Some(metrics.pool_events())).await?;
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let watch = settings.watch_content;
        let key = crate::keys::SiteKey::load(settings.secret_key.as_ref(), &settings.data_dir)
            .map_err(|e| StartError::Database(e.to_string()))?;
        let transport = crate::mail::Transport::from_settings(&settings.mail, &settings.data_dir)
            .map_err(|e| StartError::Database(format!("mail: {e}")))?;
        tracing::info!(transport = transport.describe(), "mail");
        // The time of everything that decides by time (tests move it).
        let clock = crate::clock::Clock::default();
        let mail_wake = crate::mail::spawn_worker(
            pool.clone(),
            transport,
            settings.mail.from.clone(),
            Duration::from_secs(2),
            metrics.clone(),
            clock.clone(),
        );
        let pool_for_writer = pool.clone();
        let batch_postgres = settings.db_group_commit;
        // The file opened now is the one writes must go to (SQLite).
        let database_watch = Arc::new(db::watch::DatabaseWatch::of(&settings.database_url));
        database_watch.spawn_checks(Duration::from_secs(2));
        let pages = Arc::new(handlers::page_cache::PageCache::new(
            settings.cache.pages_bytes(),
        ));
        // Changes other instances announce drop this instance's pages at
        // once (PostgreSQL); the thread ends with the cache.
        let heard = Arc::downgrade(&pages);
        let held = Arc::downgrade(&pages);
        pages.announce_through(db::page_events::spawn(
            &settings.database_url,
            instance_name(port),
            move |what| {
                if let Some(pages) = heard.upgrade() {
                    pages.changed_elsewhere(what);
                }
            },
            move || held.strong_count() > 0,
        ));
        let state = web::Data::new(AppState {
            settings,
            content: content.clone(),
            pool,
            assets: Assets::load(),
            key,
            mail_wake,
            clock,
            page_cache: pages,
            writer: db::writer::Writer::start_observed(
                &pool_for_writer,
                batch_postgres,
                metrics.writer_batches(),
            )
            .watching(database_watch),
            strings,
            metrics,
        });
        let setup_link = handlers::admin::auth::issue_setup_link(&state)
            .await
            .map_err(|e| StartError::Database(e.to_string()))?;
        crate::content::spawn_reloaders(content, watch);
        spawn_maintenance(state.clone(), instance_name(port));
        let server = serve(listener, state.clone()).map_err(|source| StartError::Bind {
            addr: "listener".into(),
            source,
        })?;
        Ok(Self {
            server,
            port,
            state,
            setup_link,
        })
    }

    /// The first-run setup link, when no coach account existed at start.
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Opens the pool and applies pending migrations.
pub async fn open_database(settings: &Settings) -> Result<db::Pool, StartError> {
    open_database_observed(settings, None).await
}

/// As [`open_database`], the pool reporting its waits to `events`.
async fn open_database_observed(
    settings: &Settings,
    events: Option<Box<dyn r2d2::HandleEvent>>,
) -> Result<db::Pool, StartError> {
    let pool = db::pool_with(
        &settings.database_url,
        settings.db_pool_size,
        Duration::from_millis(settings.db_connect_timeout_ms),
        crate::db::PgSession::of(settings),
        events,
    )
    .map_err(|e| StartError::Database(e.to_string()))?;
    let applied = db::migrations::migrate(&pool).await.map_err(|e| {
        StartError::Database(format!("{} ({})", e, settings.database_url.describe()))
    })?;
    if applied > 0 {
        tracing::info!(applied, database = %settings.database_url.describe(), "database migrations applied");
    }
    Ok(pool)
}

/// A pool on the database as it is, with no migration and no new file:
/// for a dry run that must write nothing. `None` when there is no
/// database yet (nothing was imported before).
pub async fn open_database_read_only(settings: &Settings) -> Option<db::Pool> {
    if let crate::config::DatabaseUrl::Sqlite(path) = &settings.database_url {
        if !path.is_file() {
            return None;
        }
    }
    db::pool(
        &settings.database_url,
        1,
        Duration::from_millis(settings.db_connect_timeout_ms),
    )
    .ok()
}

/// How this process names itself in logs and leases: several instances
/// may share one database (and one machine).
pub fn instance_name(port: u16) -> String {
    format!("pid {} port {port}", std::process::id())
}

/// How often the clean-up runs.
const MAINTENANCE_PERIOD: Duration = Duration::from_secs(3600);

/// One hourly clean-up (and one at start): coaching requests past their
/// retention lose their personal details, and rate-limit events, ended
/// sessions, expired setup links and old sent mail are deleted, so no table
/// grows for ever. Every instance asks each hour; only the one that claims
/// the lease in the database ([`claim_maintenance`]) runs it.
pub fn spawn_maintenance(state: web::Data<AppState>, instance: String) {
    actix_web::rt::spawn(async move {
        loop {
            match claim_maintenance(&state, &instance).await {
                Ok(true) => {
                    tracing::info!(instance = %instance, "this instance runs the clean-up");
                    if let Err(e) = run_maintenance(&state).await {
                        tracing::warn!(error = %e, "the hourly clean-up failed; will retry");
                    }
                }
                Ok(false) => {
                    tracing::info!(instance = %instance, "the clean-up ran on another instance this period")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim the clean-up lease; will retry")
                }
            }
            actix_web::rt::time::sleep(MAINTENANCE_PERIOD).await;
        }
    });
}

/// Claims the clean-up for `instance` for (a minute less than) one period,
/// so of several instances on one database one runs it each period; the
/// holder may claim it again at its next turn, and if it stops, another
/// instance takes over within a period.
pub async fn claim_maintenance(state: &AppState, instance: &str) -> Result<bool, AppError> {
    let now = state.clock.now_naive();
    let hold = chrono::Duration::seconds(MAINTENANCE_PERIOD.as_secs() as i64 - 60);
    let holder = instance.to_string();
    Ok(db::run(&state.pool, move |conn| {
        db::site_meta::claim_lease(conn, "maintenance", &holder, now, hold)
    })
    .await?)
}

/// The clean-up [`spawn_maintenance`] runs (tests call it directly).
pub async fn run_maintenance(state: &AppState) -> Result<db::maintenance::Purged, AppError> {
    handlers::coaching::purge_expired(state).await?;
    let now = state.clock.now_naive();
    let keep = db::maintenance::Retention {
        session_max_age: chrono::Duration::hours(state.settings.admin.session_max_hours),
        ..Default::default()
    };
    let purged = db::run(&state.pool, move |conn| {
        db::maintenance::purge_expired(conn, now, keep)
    })
    .await?;
    // "My questions" links and sessions past their time.
    let reader_links = db::run(&state.pool, move |conn| {
        db::reader_corner::purge_expired(conn, now)
    })
    .await?;
    if reader_links > 0 {
        tracing::info!(
            reader_links,
            "expired my questions links and sessions deleted"
        );
    }
    if purged.total() > 0 {
        tracing::info!(
            rate_limit_events = purged.rate_limit_events,
            sessions = purged.sessions,
            setup_tokens = purged.setup_tokens,
            sent_mail = purged.sent_mail,
            "expired rows deleted"
        );
    }
    Ok(purged)
}

/// Memory arenas glibc's allocator may make: by default up to 8 per CPU,
/// each thread that allocates under contention gets one, and every arena
/// keeps the memory freed in it. Under load on two CPUs that held about
/// twice the live heap (`bench/soak.sh`). Two cost about 5% of read
/// throughput in the same soak. `MALLOC_ARENA_MAX` in the environment still wins.
const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's arenas at [`MALLOC_ARENAS`] unless `MALLOC_ARENA_MAX` is
/// set. Call at start, before any other thread exists.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no thread has
        // allocated concurrently yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// Raises the soft open-file limit to the hard limit (each connection
/// holds a file descriptor); returns the soft limit in force afterwards.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::info!(
                from = limit.rlim_cur,
                to = limit.rlim_max,
                "raised the open-file limit"
            );
            return Some(limit.rlim_max);
        }
        tracing::warn!(limit = limit.rlim_cur, "cannot raise the open-file limit");
    }
    Some(limit.rlim_cur)
}

/// The soft open-file limit now in force.
fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit.rlim_cur)
}

/// File descriptors kept for everything but client connections: the
/// database pool, the WAL, logs, content files, mail.
const RESERVED_FILES: u64 = 256;

/// Connections each of `workers` workers may hold so that together they
/// stay below the open-file `limit`: beyond it, accepting fails and every
/// request stalls. At least 16 per worker, at most actix's own default
/// (25,000).
pub fn connection_cap(limit: u64, workers: usize) -> usize {
    let workers = workers.max(1) as u64;
    let spare = limit.saturating_sub(RESERVED_FILES);
    (spare / workers).clamp(16, 25_000) as usize
}

/// Refuses every request that would write (anything but GET, HEAD and
/// OPTIONS) while the database file is lost: 503, nothing acknowledged.
async fn refuse_writes_when_database_lost(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::Method;
    // The no-contact counter's form writes nothing: it counts all the same.
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.path() == "/no-contact";
    if !reads {
        if let Some(state) = req.app_data::<web::Data<AppState>>() {
            if state.writer.watch().is_lost() {
                let why = state
                    .writer
                    .watch()
                    .check()
                    .err()
                    .unwrap_or_else(|| "the database file was lost".into());
                return Err(AppError::Unavailable(anyhow::anyhow!(why)).into());
            }
        }
    }
    next.call(req).await
}

/// actix-session over our own session table: the cookie holds a random
/// key (signed with the site key), the state lives in the database.
fn sessions(state: &AppState) -> SessionMiddleware<DbSessionStore> {
    let https = state.settings.base_url.is_https();
    let admin = &state.settings.admin;
    let store = DbSessionStore {
        pool: state.pool.clone(),
        clock: state.clock.clone(),
        idle: chrono::Duration::minutes(admin.session_idle_minutes),
        max_age: chrono::Duration::hours(admin.session_max_hours),
    };
    SessionMiddleware::builder(store, state.key.cookie_key())
        .cookie_name(cookie_name(https))
        .cookie_secure(https)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Strict)
        .cookie_path("/".into())
        .cookie_domain(None)
        .cookie_content_security(CookieContentSecurity::Signed)
        .session_lifecycle(
            PersistentSession::default()
                .session_ttl(CookieDuration::hours(admin.session_max_hours))
                .session_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
        )
        .build()
}

/// The headers every answer carries besides those added below:
/// `Strict-Transport-Security` when the site is served over https.
fn security_headers(state: &AppState) -> DefaultHeaders {
    let headers = DefaultHeaders::new();
    match state.settings.hsts_header() {
        Some(value) => headers.add(("Strict-Transport-Security", value)),
        None => headers,
    }
}

/// Every route under `/admin`, in one table: registered on the one scope
/// its guard protects ([`admin::session::guard`]: no session, no handler),
/// and listed in [`ADMIN_ROUTES`] for the test that asks each without one.
macro_rules! admin_routes {
    (@get) => {
        handlers::get()
    };
    (@post) => {
        web::post()
    };
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// (method, path) of every route under `/admin`.
        pub const ADMIN_ROUTES: &[(&str, &str)] =
            &[$((stringify!($method), concat!("/admin", $path))),*];

        fn admin_scope() -> impl actix_web::dev::HttpServiceFactory {
            web::scope("/admin")
                .wrap(from_fn(admin::session::guard))
                $(.route($path, admin_routes!(@$method).to($handler)))*
        }
    };
}

admin_routes! {
    get "" => admin::moderation::dashboard;
    get "/login" => admin::auth::sign_in_form;
    post "/login" => admin::auth::sign_in;
    post "/logout" => admin::auth::sign_out;
    get "/setup" => admin::auth::setup_form;
    post "/setup" => admin::auth::setup;
    get "/comments" => admin::moderation::queue;
    post "/comments/bulk" => admin::moderation::bulk;
    get "/comments/{id}" => admin::moderation::show;
    post "/comments/{id}/reply" => admin::moderation::reply;
    get "/comments/{id}/edit" => admin::moderation::edit_form;
    post "/comments/{id}/edit" => admin::moderation::edit;
    get "/comments/{id}/delete" => admin::moderation::delete_form;
    get "/audit" => admin::moderation::audit;
    get "/requests" => admin::requests::inbox;
    get "/requests/export.{format}" => admin::requests::export_all;
    get "/requests/{id}" => admin::requests::show;
    get "/requests/{id}/export.{format}" => admin::requests::export_one;
    post "/requests/{id}/status" => admin::requests::set_status;
    post "/requests/{id}/reply" => admin::requests::reply;
    post "/requests/{id}/notes" => admin::requests::add_note;
    post "/requests/{id}/delete" => admin::requests::delete;
}

fn serve(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let workers = state.settings.workers;
    let worker_count = workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let max_connections = state.settings.max_connections.unwrap_or_else(|| {
        open_files_limit().map_or(25_000, |limit| connection_cap(limit, worker_count))
    });
    tracing::debug!(
        max_connections,
        workers = worker_count,
        "connections per worker"
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(|err, req| {
                tracing::info!(error = %err, "a query could not be read");
                let words = req
                    .app_data::<web::Data<AppState>>()
                    .map(|state| state.strings.s("errors.query_unreadable").to_string())
                    .unwrap_or_else(|| "The address has a query we could not read.".into());
                AppError::BadRequest(words).into()
            }))
            .app_data(web::PayloadConfig::new(64 * 1024))
            .app_data(
                web::PathConfig::default().error_handler(|_err, _req| AppError::NotFound.into()),
            )
            .wrap(sessions(&state))
            .wrap(from_fn(refuse_writes_when_database_lost))
            // Inside the error pages: a 404 for an old address becomes a
            // 301 before it would be rendered.
            .wrap(from_fn(handlers::redirects::old_addresses))
            .wrap(from_fn(handlers::errors::error_pages))
            .wrap(
                security_headers(&state)
                    .add(("Content-Security-Policy", CSP))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin"))
                    .add(("X-Frame-Options", "DENY"))
                    .add((
                        "Permissions-Policy",
                        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
                    ))
                    .add(("Cross-Origin-Opener-Policy", "same-origin")),
            )
            .wrap(from_fn(crate::web::request_log::log_requests))
            .route("/", handlers::get().to(handlers::articles::home))
            .route(
                "/articles/{slug}",
                handlers::get().to(handlers::articles::show),
            )
            .route(
                "/articles/{slug}/comments",
                web::post().to(handlers::comments::post),
            )
            .route(
                "/articles/{slug}/comments.xml",
                handlers::get().to(handlers::feeds::article_comments),
            )
            .route(
                "/comments.xml",
                handlers::get().to(handlers::feeds::site_comments),
            )
            .route(
                "/comments/{id}/edit",
                handlers::get().to(handlers::comments::edit_form),
            )
            .route(
                "/comments/{id}/edit",
                web::post().to(handlers::comments::edit),
            )
            .route(
                "/comments/{id}/delete",
                web::post().to(handlers::comments::delete),
            )
            .route(
                "/notifications/confirm/{token}",
                handlers::get().to(handlers::notifications::confirm),
            )
            .route(
                "/notifications/unsubscribe/{token}",
                handlers::get().to(handlers::notifications::unsubscribe_form),
            )
            .route(
                "/notifications/unsubscribe/{token}",
                web::post().to(handlers::notifications::unsubscribe),
            )
            .service(admin_scope())
            .route("/coaching", handlers::get().to(handlers::coaching::form))
            .route("/coaching", web::post().to(handlers::coaching::send))
            .route(
                "/coaching/resend",
                web::post().to(handlers::coaching::resend),
            )
            .route(
                "/coaching/thanks",
                handlers::get().to(handlers::coaching::thanks),
            )
            .route(
                "/requests/{token}",
                handlers::get().to(handlers::coaching::status),
            )
            .route(
                "/requests/{token}/messages",
                web::post().to(handlers::coaching::add_message),
            )
            .route(
                "/requests/{token}/withdraw",
                handlers::get().to(handlers::coaching::withdraw_form),
            )
            .route(
                "/requests/{token}/withdraw",
                web::post().to(handlers::coaching::withdraw),
            )
            .route(
                "/requests/{token}/delete",
                handlers::get().to(handlers::coaching::delete_form),
            )
            .route(
                "/requests/{token}/delete",
                web::post().to(handlers::coaching::delete),
            )
            .route(
                "/no-contact",
                handlers::get().to(handlers::no_contact::page),
            )
            .route("/no-contact", web::post().to(handlers::no_contact::count))
            // "My questions": a reader's own page by emailed link.
            .route("/me", handlers::get().to(handlers::me::show))
            .route("/me", web::post().to(handlers::me::ask))
            .route("/me/open", handlers::get().to(handlers::me::open_form))
            .route("/me/open", web::post().to(handlers::me::open))
            .route(
                "/me/notifications",
                web::post().to(handlers::me::notifications),
            )
            .route("/me/export.json", handlers::get().to(handlers::me::export))
            .route("/me/delete", handlers::get().to(handlers::me::delete_form))
            .route("/me/delete", web::post().to(handlers::me::delete))
            .route("/me/leave", web::post().to(handlers::me::leave))
            .route("/tags", handlers::get().to(handlers::tags::index))
            .route("/tags/{slug}", handlers::get().to(handlers::tags::show))
            .route("/search", handlers::get().to(handlers::search::search))
            .route("/feed.xml", handlers::get().to(handlers::feeds::atom))
            .route("/sitemap.xml", handlers::get().to(handlers::feeds::sitemap))
            .route("/robots.txt", handlers::get().to(handlers::feeds::robots))
            .route(
                "/favicon.ico",
                handlers::get().to(handlers::static_files::at_root),
            )
            .route(
                "/apple-touch-icon.png",
                handlers::get().to(handlers::static_files::at_root),
            )
            .route(
                "/manifest.webmanifest",
                handlers::get().to(handlers::static_files::manifest),
            )
            .route(
                "/images/{file}",
                handlers::get().to(handlers::static_files::content_image),
            )
            .route(
                "/media/{path:.*}",
                handlers::get().to(handlers::static_files::media),
            )
            .route("/healthz", handlers::get().to(handlers::health::healthz))
            .route("/readyz", handlers::get().to(handlers::health::readyz))
            .route("/metrics", handlers::get().to(handlers::metrics::metrics))
            .route(
                "/static/{tail:.*}",
                handlers::get().to(handlers::static_files::serve),
            )
            .route(
                "/{slug}",
                handlers::get().to(handlers::articles::standalone),
            )
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::NotFound)
            }))
    });
    let server = match workers {
        Some(n) => server.workers(n),
        None => server,
    };
    let server = server
        .max_connections(max_connections)
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
    Ok(server)
}

/// An existing site (its key file is there) whose SQLite database file is
/// missing: the data folder was moved or the file deleted. Starting would
/// create an empty database, so this says what is wrong instead (unless
/// `init`, the operator's word that a new database is wanted).
pub fn check_existing_database(settings: &Settings, init: bool) -> Result<(), StartError> {
    let crate::config::DatabaseUrl::Sqlite(path) = &settings.database_url else {
        return Ok(());
    };
    let key = settings.data_dir.join("secret.key");
    if init || path.exists() || !key.exists() {
        return Ok(());
    }
    Err(StartError::MissingDatabase(format!(
        "the site key {} exists but the database {} does not: the data folder was moved or the database deleted. \
         Put the database back (or restore a backup), point KINTSUGI_DATABASE_URL at it, \
         or start with `kintsugi serve --init` to create a new, empty database",
        key.display(),
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::connection_cap;

    #[test]
    fn connections_stay_below_the_open_file_limit() {
        // 1,024 files, 2 workers: (1024 - 256) / 2 each.
        assert_eq!(connection_cap(1024, 2), 384);
        assert!(connection_cap(1024, 2) * 2 + 256 <= 1024);
        // A large limit is capped at actix's default; a tiny one still serves.
        assert_eq!(connection_cap(1 << 20, 1), 25_000);
        assert_eq!(connection_cap(100, 4), 16);
        assert_eq!(connection_cap(20_000, 0), 19_744);
    }
}
