//! `GET /metrics`: the Prometheus text format, off unless
//! `KINTSUGI_METRICS=on`, and then only for a client address in
//! `KINTSUGI_METRICS_ALLOW` (default loopback) or a request carrying
//! `Authorization: Bearer <KINTSUGI_METRICS_TOKEN>`.
//!
//! Everyone else gets the site's ordinary 404, exactly as when metrics are
//! off: a scanner learns nothing (not even that there is something to
//! guess a token for), and the answer does not depend on the setting. The
//! operator sees why in the log (`metrics refused` at debug level, plus
//! the request line with its 404).
use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::config::Settings;
use crate::db;
use crate::error::AppError;
use crate::metrics::Snapshot;

pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    if !state.settings.metrics.enabled {
        return Err(AppError::NotFound);
    }
    if let Err(why) = may_read(&req, &state.settings) {
        tracing::debug!(why, "metrics refused");
        return Err(AppError::NotFound);
    }
    let pool = state.pool.state();
    let pages = state.page_cache.stats();
    let mail_unsent = db::run(&state.pool, db::mail::unsent_count).await.ok();
    let text = state
        .metrics
        .render(Snapshot {
            page_cache_hits: pages.hits,
            page_cache_misses: pages.misses,
            page_cache_bytes: state.page_cache.bytes(),
            page_cache_entries: state.page_cache.len(),
            db_connections: pool.connections,
            db_idle: pool.idle_connections,
            db_pool_max: state.pool.max_size(),
            mail_unsent,
        })
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}

/// Whether this request may read the metrics: a bearer token, when one is
/// sent, must be the right one (wherever it comes from); without one, the
/// client's address must be allowed.
fn may_read(req: &HttpRequest, settings: &Settings) -> Result<(), &'static str> {
    let metrics = &settings.metrics;
    if let Some(sent) = bearer_token(req) {
        let Some(token) = &metrics.token else {
            return Err("a bearer token was sent but KINTSUGI_METRICS_TOKEN is not set");
        };
        return if same_secret(sent, token.expose()) {
            Ok(())
        } else {
            Err("wrong bearer token")
        };
    }
    let address = client_address(req, &settings.comments.trusted_proxies)
        .ok_or("the client's address is unknown")?;
    if metrics.allow.iter().any(|net| net.contains(&address)) {
        Ok(())
    } else {
        Err("the client's address is not in KINTSUGI_METRICS_ALLOW")
    }
}

/// The address the request came from. Through a trusted proxy, the
/// address it forwarded; through a proxy that is not trusted (the request
/// carries forwarding headers), none: a proxy on the same machine would
/// otherwise make every visitor look like loopback.
fn client_address(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if trusted.iter().any(|net| net.contains(&peer)) {
        return super::request::client_ip(req, trusted);
    }
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|name| req.headers().contains_key(*name));
    (!forwarded).then_some(peer)
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Compares in constant time, the length included (both sides are hashed
/// first).
fn same_secret(sent: &str, expected: &str) -> bool {
    let sent = Sha256::digest(sent.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    sent.as_slice().ct_eq(expected.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-toke", "s3cret-token"));
        assert!(!same_secret("", "s3cret-token"));
        assert!(!same_secret("S3cret-token", "s3cret-token"));
    }
}
