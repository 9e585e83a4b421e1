//! One log line, one metrics sample and one `X-Request-Id` per request
//! (what is logged, and at which level, is told in `crate::telemetry`).
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::telemetry::redact_path;

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
        .app_data::<actix_web::web::Data<super::AppState>>()
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
}
