//! Bytes as they are served: plain, gzip and brotli, compressed once, with
//! their validators (an ETag per encoding, Last-Modified) made once, and
//! the answer to a request for them (the best encoding it accepts, or a
//! 304). The static files (`crate::assets`) and the page cache
//! (`web::page_cache`) both serve through here.
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

/// One body in every encoding, ready to serve.
pub struct Encoded {
    pub content_type: &'static str,
    pub cache_control: &'static str,
    plain: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
    etags: [HeaderValue; 3],
    last_modified: DateTime<Utc>,
    last_modified_header: HeaderValue,
}

impl Encoded {
    /// `plain` compressed now; `hash` names this version (its ETags).
    pub fn new(
        plain: Bytes,
        hash: &str,
        content_type: &'static str,
        cache_control: &'static str,
        last_modified: DateTime<Utc>,
    ) -> Self {
        let (gzip, brotli) = compress(&plain);
        Self {
            content_type,
            cache_control,
            plain,
            gzip,
            brotli,
            etags: etags(hash),
            last_modified,
            last_modified_header: http_date(last_modified),
        }
    }

    /// The uncompressed bytes.
    pub fn plain(&self) -> &Bytes {
        &self.plain
    }

    /// The bytes held, in all encodings.
    pub fn len(&self) -> usize {
        self.plain.len()
            + self.gzip.as_ref().map_or(0, Bytes::len)
            + self.brotli.as_ref().map_or(0, Bytes::len)
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty()
    }

    /// When this version was first served.
    pub fn last_modified(&self) -> DateTime<Utc> {
        self.last_modified
    }

    /// The response for `req`: the best encoding it accepts, or a 304 when
    /// it already has this version.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let (body, encoding, etag) = match (&self.brotli, &self.gzip) {
            (Some(br), _) if accepts(req, "br") => (br, Some("br"), &self.etags[2]),
            (_, Some(gz)) if accepts(req, "gzip") => (gz, Some("gzip"), &self.etags[1]),
            _ => (&self.plain, None, &self.etags[0]),
        };
        let not_modified = if req.headers().contains_key(header::IF_NONE_MATCH) {
            etag.to_str().is_ok_and(|etag| if_none_match(req, etag))
        } else {
            req.headers()
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                .is_some_and(|since| since.timestamp() >= self.last_modified.timestamp())
        };
        let mut res = if not_modified {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        // `from_static`: a `&str` header value would be copied into a new
        // allocation on every response (dhat showed three per hit).
        res.insert_header((header::ETAG, etag.clone()))
            .insert_header((header::LAST_MODIFIED, self.last_modified_header.clone()))
            .insert_header((
                header::CACHE_CONTROL,
                HeaderValue::from_static(self.cache_control),
            ))
            .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
        if not_modified {
            return res.finish();
        }
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        ));
        if let Some(encoding) = encoding {
            res.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static(encoding)));
        }
        res.body(body.clone())
    }
}

/// The ETags of a version named `hash`: plain, gzip, brotli.
fn etags(hash: &str) -> [HeaderValue; 3] {
    let etag = |suffix: &str| {
        HeaderValue::from_str(&format!("\"{hash}{suffix}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
    };
    [etag(""), etag("-gz"), etag("-br")]
}

/// `at` as an HTTP date (`Last-Modified`).
pub fn http_date(at: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

/// Gzip and brotli of `body`, made once (none for bodies under 1 KB,
/// where they would save nothing worth a header).
pub fn compress(body: &[u8]) -> (Option<Bytes>, Option<Bytes>) {
    if body.len() < 1024 {
        return (None, None);
    }
    let gzip = gzip_at(body, flate2::Compression::new(6));
    let brotli = {
        let mut out = Vec::with_capacity(body.len() / 4);
        let params = brotli::enc::BrotliEncoderParams {
            quality: 5,
            lgwin: 22,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &body[..], &mut out, &params)
            .ok()
            .map(|_| out)
    };
    (gzip.map(Bytes::from), brotli.map(Bytes::from))
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

/// True when the request's If-None-Match lists `etag` (or `*`).
pub fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
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

/// A strong ETag value for some bytes (not cryptographic: it only tells
/// versions apart).
pub fn body_hash(body: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(body, &mut hasher);
    format!(
        "{:016x}{:08x}",
        std::hash::Hasher::finish(&hasher),
        body.len()
    )
}
