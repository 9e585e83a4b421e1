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
use crate::web::{self as handlers, AppState};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the content has {} problem(s):\n{}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Content(Vec<ContentError>),
    #[error("cannot open the database: {0}")]
    Database(String),
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
}

impl Application {
    /// Loads content, opens the database (applying migrations), binds the
    /// listener. Does not start serving until [`Application::run`].
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let content_dir = settings.content_dir.clone();
        let content = web::block(move || ContentStore::load(&content_dir))
            .await
            .map_err(|e| StartError::Database(e.to_string()))?
            .map_err(StartError::Content)?;
        let content = Arc::new(content);
        let pool = open_database(&settings).await?;
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
        let mail_wake = crate::mail::spawn_worker(
            pool.clone(),
            transport,
            settings.mail.from.clone(),
            Duration::from_secs(2),
        );
        let state = web::Data::new(AppState {
            settings,
            content: content.clone(),
            pool,
            assets: Assets::load(),
            key,
            mail_wake,
        });
        crate::content::spawn_reloaders(content, watch);
        let server = serve(listener, state.clone()).map_err(|source| StartError::Bind {
            addr: "listener".into(),
            source,
        })?;
        Ok(Self {
            server,
            port,
            state,
        })
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
    let pool = db::pool(
        &settings.database_url,
        settings.db_pool_size,
        Duration::from_millis(settings.db_connect_timeout_ms),
    )
    .map_err(|e| StartError::Database(e.to_string()))?;
    let applied = db::migrate(&pool).await.map_err(|e| {
        StartError::Database(format!("{} ({})", e, settings.database_url.describe()))
    })?;
    if applied > 0 {
        tracing::info!(applied, database = %settings.database_url.describe(), "database migrations applied");
    }
    Ok(pool)
}

fn serve(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(|err, _req| {
                AppError::BadRequest(format!(
                    "The address has a query we could not read ({err})."
                ))
                .into()
            }))
            .app_data(web::PayloadConfig::new(64 * 1024))
            .app_data(
                web::PathConfig::default().error_handler(|_err, _req| AppError::NotFound.into()),
            )
            .wrap(from_fn(handlers::errors::error_pages))
            .wrap(
                DefaultHeaders::new()
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
            .wrap(from_fn(crate::telemetry::log_requests))
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
            .route("/tags", handlers::get().to(handlers::tags::index))
            .route("/tags/{slug}", handlers::get().to(handlers::tags::show))
            .route("/search", handlers::get().to(handlers::search::search))
            .route("/feed.xml", handlers::get().to(handlers::feeds::atom))
            .route("/sitemap.xml", handlers::get().to(handlers::feeds::sitemap))
            .route("/robots.txt", handlers::get().to(handlers::feeds::robots))
            .route("/healthz", handlers::get().to(handlers::health::healthz))
            .route("/readyz", handlers::get().to(handlers::health::readyz))
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
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}
