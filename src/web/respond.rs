//! Answers: HTML pages with ETags and 304s, the page cache, redirects, encodings.
use super::state::AppState;
use crate::error::AppError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

pub const HTML: &str = "text/html; charset=utf-8";

pub const ATOM: &str = "application/atom+xml; charset=utf-8";

/// Serves `key` from the page cache when fresh; otherwise renders it with
/// `render` (which returns the page and its per-second part, if any),
/// stores and serves it.
pub async fn cached_page<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    key: &str,
    depends: super::page_cache::Depends,
    caching: Caching,
    content_type: &'static str,
    render: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(String, Option<String>), AppError>>,
{
    use super::page_cache::Lookup;
    let generation = state.content.generation();
    let now = state.clock.now();
    match state.page_cache.lookup(key, generation, now) {
        Lookup::Hit(entry) | Lookup::Refresh(entry) => return Ok(entry.respond(req)),
        Lookup::Miss => {}
    }
    let (body, volatile) = render().await?;
    let entry = state
        .page_cache
        .store_off_thread(super::page_cache::NewPage {
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

pub use crate::encoded::{accepts, body_hash, gzip, gzip_at, if_none_match, Caching};
