//! Logging, as text or one JSON object a line (`KINTSUGI_LOG_FORMAT`),
//! and what a logged path may show. Every request is one line (written by
//! `web::request_log`) at info level with a request id (also sent
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
