//! Helpers that read a request: the reader's address, their cookies.
use std::net::IpAddr;

use actix_web::cookie::Cookie;
use actix_web::{web, HttpRequest};

use super::AppState;

/// A reader cookie's name on this site: on https it carries the
/// `__Host-` prefix, so browsers keep it only when it is `Secure`, for
/// `Path=/` and without `Domain`: no other host (a sibling subdomain) and
/// no plain-http answer can set or shadow it.
pub fn reader_cookie_name(https: bool, name: &str) -> String {
    if https {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// The reader cookie `name` this request carries, under this site's name
/// for it.
pub fn reader_cookie(req: &HttpRequest, name: &str) -> Option<Cookie<'static>> {
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.base_url.is_https());
    req.cookie(&reader_cookie_name(https, name))
}

/// The reader's address: the socket's, or, when the socket is a trusted
/// proxy, the last address in `X-Forwarded-For` that is not a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| item.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}
