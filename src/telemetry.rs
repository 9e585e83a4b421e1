//! Logging, as text or one JSON object a line (`KINTSUGI_LOG_FORMAT`).
//! Every request is one line at info level with a request id (also sent
//! back as `X-Request-Id`), the method, the path (never the query string,
//! which may hold what a reader searched for), the route pattern, the
//! status and the time taken; never emails, names or bodies. Secrets in a
//! path (a reader's status link, unsubscribe and confirmation links, setup
//! and other tokens) are replaced by [`REDACTED`] at every level.
//!
//! Static files and the machines' own requests (health probes, metrics
//! scrapes) that went well are logged at debug level instead: they are
//! fingerprinted and long-cached or come every few seconds, say nothing
//! about readers, and would otherwise make up most of the log. Their
//! failures (4xx, 5xx) are logged like any other request's.
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Starts logging to stderr, as `KINTSUGI_LOG_FORMAT` says (text when it
/// is unset or unreadable; `Settings` refuses an unreadable one after).
pub fn init() {
    let format =
        LogFormat::parse(std::env::var("KINTSUGI_LOG_FORMAT").ok().as_deref()).unwrap_or_default();
    init_with(format);
}

/// Starts logging to stderr in `format`.
pub fn init_with(format: LogFormat) {
    let filter = EnvFilter::try_from_env("KINTSUGI_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The response header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";

/// Logs one line per request, counts it in the metrics and sends its
/// request id back.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = redact_path(req.path());
    let state = req
        .app_data::<actix_web::web::Data<crate::web::AppState>>()
        .cloned();
    let trusted = state
        .as_ref()
        .map(|s| s.settings.comments.trusted_proxies.as_slice())
        .unwrap_or_default();
    let id = request_id(&req, trusted);
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span).await?;
    let took = started.elapsed();
    let status = res.status().as_u16();
    let route = res.request().match_pattern();
    let route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED);
    if let Some(state) = &state {
        state.metrics.request(route, method.as_str(), status, took);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    let ms = took.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(request_id = %id, %method, %path, route, status, ms, "request failed");
    } else if status < 400 && is_quiet(route) {
        tracing::debug!(request_id = %id, %method, %path, route, status, ms, "request");
    } else {
        tracing::info!(request_id = %id, %method, %path, route, status, ms, "request");
    }
    Ok(res)
}

/// Routes whose successful requests are logged at debug level (see the
/// module's documentation).
fn is_quiet(route: &str) -> bool {
    const PREFIXES: &[&str] = &["/static/", "/media/", "/images/"];
    const ROUTES: &[&str] = &[
        "/favicon.ico",
        "/apple-touch-icon.png",
        "/manifest.webmanifest",
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    ROUTES.contains(&route) || PREFIXES.iter().any(|p| route.starts_with(p))
}

/// The request's id: the one a trusted proxy sent in `X-Request-Id` when
/// it looks like an id (at most 64 letters, digits and hyphens), else a
/// new random one, so the proxy's log and ours can be matched up.
fn request_id(req: &ServiceRequest, trusted: &[ipnet::IpNet]) -> String {
    let from_proxy = req
        .peer_addr()
        .is_some_and(|peer| trusted.iter().any(|net| net.contains(&peer.ip())));
    if from_proxy {
        if let Some(sent) = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_sane_id(v))
        {
            return sent.to_string();
        }
    }
    new_request_id()
}

/// Short, and only letters, digits and hyphens: nothing that could forge
/// a log line or a JSON field.
fn is_sane_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// 16 random hex digits (a counter if the system has no randomness).
fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        bytes = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a secret in a logged path is replaced by.
pub const REDACTED: &str = "[redacted]";

/// Path prefixes whose next segment is a secret (a bearer token).
const SECRET_SEGMENT_AFTER: &[&str] = &[
    "/requests/",
    "/notifications/unsubscribe/",
    "/notifications/confirm/",
    "/admin/setup/",
];

/// `path` (with or without its query) as it may be logged: the secret
/// segment of a status, unsubscribe, confirmation or setup link, and the
/// value of any `token` (or `*_token`) query parameter, replaced by
/// [`REDACTED`].
pub fn redact_path(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let mut out = String::with_capacity(path_and_query.len());
    let mut rest = path;
    // The prefixes are matched case-insensitively, as a router that folds
    // case would match them; a secret never reaches the log either way.
    let lower = path.to_ascii_lowercase();
    if let Some(prefix) = SECRET_SEGMENT_AFTER
        .iter()
        .find(|prefix| lower.starts_with(*prefix) && lower.len() > prefix.len())
    {
        out.push_str(&path[..prefix.len()]);
        out.push_str(REDACTED);
        let secret_and_after = &path[prefix.len()..];
        rest = secret_and_after
            .find('/')
            .map_or("", |i| &secret_and_after[i..]);
    }
    out.push_str(rest);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_key(key) => format!("{key}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "token" || key.ends_with("_token") || key.ends_with("%5ftoken")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_request_ids_are_reused() {
        assert!(is_sane_id("3f2a-9b"));
        assert!(is_sane_id(&"a".repeat(64)));
        assert!(!is_sane_id(&"a".repeat(65)));
        assert!(!is_sane_id(""));
        assert!(!is_sane_id("id\"injected"));
        assert!(!is_sane_id("a b"));
        assert_eq!(new_request_id().len(), 16);
        assert_ne!(new_request_id(), new_request_id());
    }

    #[test]
    fn secrets_in_paths_are_redacted() {
        let token = "a".repeat(64);
        for (path, expected) in [
            (
                format!("/requests/{token}"),
                "/requests/[redacted]".to_string(),
            ),
            (
                format!("/requests/{token}/withdraw"),
                "/requests/[redacted]/withdraw".to_string(),
            ),
            (
                format!("/notifications/unsubscribe/{token}"),
                "/notifications/unsubscribe/[redacted]".to_string(),
            ),
            (
                format!("/notifications/confirm/{token}"),
                "/notifications/confirm/[redacted]".to_string(),
            ),
            (
                format!("/admin/setup?token={token}"),
                "/admin/setup?token=[redacted]".to_string(),
            ),
            (
                format!("/search?q=grief&token={token}&form_token={token}"),
                "/search?q=grief&token=[redacted]&form_token=[redacted]".to_string(),
            ),
            (
                format!("/REQUESTS/{token}"),
                "/REQUESTS/[redacted]".to_string(),
            ),
        ] {
            assert_eq!(redact_path(&path), expected);
            assert!(!redact_path(&path).contains(&token));
        }
        for plain in [
            "/",
            "/requests",
            "/requests/",
            "/articles/going-no-contact",
            "/admin/requests/12",
        ] {
            assert_eq!(redact_path(plain), plain);
        }
    }
}
