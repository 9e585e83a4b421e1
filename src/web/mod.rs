//! Thin handlers: extract -> parse -> look up -> page.
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{guard, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Datelike;

use crate::assets::Assets;
use crate::config::Settings;
use crate::content::ContentStore;
use crate::db::Pool;
use crate::error::AppError;
use crate::pages::{Layout, Nav};

pub mod admin;
pub mod articles;
pub mod coaching;
pub mod comments;
pub mod errors;
pub mod feeds;
pub mod health;
pub mod metrics;
pub mod notifications;
pub mod page_cache;
pub mod reader_form;
pub mod redirects;
pub mod request;
pub mod request_log;
pub mod search;
pub mod static_files;
pub mod tags;

/// Shared by every handler.
pub struct AppState {
    pub settings: Settings,
    pub content: Arc<ContentStore>,
    pub pool: Pool,
    pub assets: Assets,
    pub key: crate::keys::SiteKey,
    /// Wakes the mail worker when mail was queued.
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// The time of everything that decides by time: sessions, links and
    /// form tokens that expire, rate limits, edit windows, what is
    /// published, page freshness, mail retries (tests move it).
    pub clock: crate::clock::Clock,
    /// Public pages as bytes, plain and precompressed.
    pub pages: std::sync::Arc<page_cache::PageCache>,
    /// Group commit of comment posts (SQLite).
    pub writer: crate::db::writer::Writer,
    /// The words of the site in its language (`[site] language`).
    pub strings: Arc<crate::i18n::Strings>,
    /// What `GET /metrics` reports (this app's own registry).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Articles per list page.
pub const PAGE_SIZE: usize = 10;

impl AppState {
    /// What the mail code needs to queue mail (`crate::notify`).
    pub fn mail(&self) -> crate::notify::MailContext {
        crate::notify::MailContext {
            pool: self.pool.clone(),
            wake: self.mail_wake.clone(),
            clock: self.clock.clone(),
            update_delay_seconds: self.settings.mail.update_delay_seconds,
            base: self.settings.base_url.clone(),
            site_title: self.settings.site.title.clone(),
            coach_email: self.settings.mail.coach_email.clone(),
            key: self.key.clone(),
            library: self.content.library(),
            t: self.strings.clone(),
        }
    }

    /// The frame of a page at `path` titled `title` (None: the home page).
    pub fn layout(
        &self,
        title: Option<&str>,
        description: &str,
        path: &str,
        nav: Nav,
    ) -> Layout<'_> {
        let site = &self.settings.site;
        Layout {
            site,
            t: &self.strings,
            css_url: self.assets.url("css/site.css"),
            print_css_url: self.assets.url("css/print.css"),
            admin_css_url: self.assets.url("css/admin.css"),
            favicon_url: self.assets.url("favicon.svg"),
            title: match title {
                Some(t) => format!("{t} · {}", site.title),
                None => format!("{} · {}", site.title, site.tagline),
            },
            description: if description.is_empty() {
                site.tagline.clone()
            } else {
                description.to_string()
            },
            canonical: self.settings.base_url.join(path),
            feed_url: self.settings.base_url.join("/feed.xml"),
            og_type: "website",
            image: self
                .settings
                .base_url
                .join(self.assets.url("icons/share.png")),
            image_alt: site.title.clone(),
            nav,
            query: String::new(),
            json_ld: None,
            noindex: false,
            admin: false,
            header_search: true,
            year: self.clock.now().year(),
        }
    }
}

pub const HTML: &str = "text/html; charset=utf-8";
pub const ATOM: &str = "application/atom+xml; charset=utf-8";

/// Serves `key` from the page cache when fresh; otherwise renders it with
/// `render` (which returns the page and its per-second part, if any),
/// stores and serves it.
pub async fn cached_page<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    key: &str,
    depends: page_cache::Depends,
    caching: Caching,
    content_type: &'static str,
    render: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(String, Option<String>), AppError>>,
{
    use page_cache::Lookup;
    let generation = state.content.generation();
    let now = state.clock.now();
    match state.pages.lookup(key, generation, now) {
        Lookup::Hit(entry) | Lookup::Refresh(entry) => return Ok(entry.respond(req)),
        Lookup::Miss => {}
    }
    let (body, volatile) = render().await?;
    let entry = state
        .pages
        .store_off_thread(page_cache::NewPage {
            key: key.to_string(),
            body,
            volatile,
            content_type,
            cache_control: caching.header(),
            depends,
            content_generation: generation,
            now,
            listed: None,
            cuts: None,
        })
        .await
        .map_err(AppError::internal)?;
    Ok(entry.respond(req))
}

/// How long a reader is asked to wait before sending a form again after
/// the database could not take it (the page says "in a minute").
pub const RETRY_UNSAVED_SECONDS: u32 = 60;

/// A write that failed with "not now" (the database locked, full,
/// read-only, lost or unreachable): logs the real cause and answers
/// `Ok`, so the handler shows the reader's form again, filled in, through
/// [`unsaved_page`]. Any other failure stays an error.
pub fn unsaved(e: crate::db::DbError, what: &str) -> Result<(), crate::error::AppError> {
    use crate::error::AppError;
    match AppError::from(e) {
        AppError::Unavailable(cause) => {
            tracing::warn!(error = %format!("{cause:#}"), "{what} not saved; the form is shown again, filled in, with a 503");
            Ok(())
        }
        other => Err(other),
    }
}

/// The words a form shown again by [`unsaved`] carries.
pub fn unsaved_problem(state: &AppState) -> String {
    state.strings.s("errors.unavailable.unsaved").to_string()
}

/// A page holding the reader's unsaved form: 503 with `Retry-After`.
pub fn unsaved_page(mut res: HttpResponse) -> HttpResponse {
    *res.status_mut() = actix_web::http::StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(RETRY_UNSAVED_SECONDS),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// Post/Redirect/Get: a 303 to `location`, never stored.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// GET and HEAD (HEAD answers the same headers without a body).
pub fn get() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// Parses `?page=N` (absent means 1).
pub fn page_number(raw: Option<&str>, t: &crate::i18n::Strings) -> Result<usize, AppError> {
    match raw {
        None => Ok(1),
        Some(s) => s
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| AppError::BadRequest(t.s("errors.page_number").to_string())),
    }
}

/// How a page may be cached by browsers and proxies.
#[derive(Clone, Copy)]
pub enum Caching {
    /// Public content: anyone may keep it but must revalidate (cheap 304s).
    Revalidate,
    /// Has a part for this reader only: their browser may keep it and
    /// revalidate, shared caches may not.
    Private,
    /// Never stored anywhere.
    NoStore,
}

impl Caching {
    /// The `Cache-Control` value.
    pub fn header(self) -> &'static str {
        match self {
            Caching::Revalidate => "public, max-age=0, must-revalidate",
            Caching::Private => "private, no-cache",
            Caching::NoStore => "no-store",
        }
    }
}

/// Renders a template as an HTML response with a strong ETag, answering
/// 304 when the browser already has these exact bytes.
pub fn render_html(
    req: &HttpRequest,
    page: &impl Template,
    caching: Caching,
) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(AppError::internal)?;
    Ok(respond(
        req,
        body.into_bytes(),
        "text/html; charset=utf-8",
        caching,
    ))
}

/// Same as [`render_html`] for any rendered bytes. Text of 1 KiB or more
/// is gzipped for clients that accept it (each encoding has its own ETag).
pub fn respond(
    req: &HttpRequest,
    body: Vec<u8>,
    content_type: &'static str,
    caching: Caching,
) -> HttpResponse {
    let cache_control = caching.header();
    let hash = body_hash(&body);
    let gzipped = if body.len() >= 1024 && accepts(req, "gzip") {
        gzip(&body)
    } else {
        None
    };
    let etag = match gzipped {
        Some(_) => format!("\"{hash}-gz\""),
        None => format!("\"{hash}\""),
    };
    if !matches!(caching, Caching::NoStore) && if_none_match(req, &etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .insert_header((header::VARY, "Accept-Encoding"))
            .finish();
    }
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Accept-Encoding"));
    match gzipped {
        Some(compressed) => res
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(compressed),
        None => res.body(body),
    }
}

/// A strong ETag value for some bytes (not cryptographic: it only tells
/// versions apart).
pub fn body_hash(body: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("{:016x}{:08x}", hasher.finish(), body.len())
}

/// True when `Accept-Encoding` allows `coding` (and does not give it q=0).
pub fn accepts(req: &HttpRequest, coding: &str) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
        })
}

/// Fast gzip (level 1: most of the saving for little CPU), for pages
/// compressed on every request.
pub fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    gzip_at(bytes, flate2::Compression::fast())
}

/// Gzip at a chosen level (the page cache compresses once, so harder).
pub fn gzip_at(bytes: &[u8], level: flate2::Compression) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), level);
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// True when the request's If-None-Match lists `etag` (or `*`).
pub fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// Parses an `application/x-www-form-urlencoded` body strictly: bytes that
/// do not decode to UTF-8 (which the usual parsers silently replace) and
/// NUL bytes (which no database column takes) are a 400, so nothing the
/// reader sent is quietly changed.
pub fn parse_form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, AppError> {
    // The reader is told plainly; the technical reason goes to the log.
    let bad = |why: &str| {
        tracing::info!(why, "a form could not be read");
        let words = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.strings.s("errors.form_unreadable").to_string())
            .unwrap_or_else(|| "The form could not be read. Please go back and try again.".into());
        AppError::BadRequest(words)
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(bad("it was not sent as a form"));
    }
    for part in body.split(|b| *b == b'&') {
        let decoded = percent_decode(part).ok_or_else(|| bad("broken percent-encoding"))?;
        if std::str::from_utf8(&decoded).is_err() {
            return Err(bad("text that is not valid UTF-8"));
        }
        if decoded.contains(&0) {
            return Err(bad("a NUL byte, which cannot be stored"));
        }
    }
    serde_urlencoded::from_bytes(body).map_err(|e| bad(&e.to_string()))
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// False when the browser says the request came from another site.
/// Readers' forms and the admin's are checked alike.
pub fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    let header_str = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    if let Some(site) = header_str("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    if let Some(origin) = header_str(header::ORIGIN.as_str()) {
        let base = state.settings.base_url.as_str().to_ascii_lowercase();
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let scheme = if state.settings.base_url.is_https() {
            "https"
        } else {
            "http"
        };
        let own = host.map(|h| format!("{scheme}://{h}"));
        let matches_base = origin == base || base.starts_with(&format!("{origin}/"));
        if !(matches_base || own.as_deref() == Some(origin.as_str())) {
            return false;
        }
    }
    true
}
