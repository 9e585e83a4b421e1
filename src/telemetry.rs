//! Logging. Request logs carry a request id, the method, the path (never
//! the query string, which may hold what a reader searched for), the status
//! and the time taken; never emails, names or bodies. Secrets in a path
//! (a reader's status link, unsubscribe and confirmation links, setup and
//! other tokens) are replaced by [`REDACTED`] at every level.
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("KINTSUGI_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Logs one line per request.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = redact_path(req.path());
    let id = next_request_id();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(request = id, %method, %path, status, ms, "request failed");
    } else {
        tracing::debug!(request = id, %method, %path, status, ms, "request");
    }
    Ok(res)
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

fn next_request_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
