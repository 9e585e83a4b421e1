//! Reading a request: the reader's address and cookies, forms, page
//! numbers, whether it came from this site.
use super::state::AppState;
use crate::error::AppError;
use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{guard, web, HttpRequest};
use std::net::IpAddr;

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
