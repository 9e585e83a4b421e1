//! Static files, compiled into the binary and served under content-hashed
//! names (`/static/css/site.3f2a9c01d4.css`) so browsers may keep them for a
//! year.
use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// One static file as served: plain, gzip and brotli, made once at start.
pub type Asset = crate::web::page_cache::CachedPage;

/// Every static file, by hashed URL and by source name.
pub struct Assets {
    by_url: HashMap<String, Asset>,
    urls: HashMap<&'static str, String>,
}

const FILES: &[(&str, &[u8], &str)] = &[
    (
        "css/site.css",
        include_bytes!("../static/css/site.css"),
        "text/css; charset=utf-8",
    ),
    (
        "css/print.css",
        include_bytes!("../static/css/print.css"),
        "text/css; charset=utf-8",
    ),
    (
        "js/timezone.js",
        include_bytes!("../static/js/timezone.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "js/reply.js",
        include_bytes!("../static/js/reply.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "favicon.svg",
        include_bytes!("../static/favicon.svg"),
        "image/svg+xml",
    ),
];

impl Assets {
    pub fn load() -> Self {
        let started = chrono::Utc::now();
        let mut by_url = HashMap::new();
        let mut urls = HashMap::new();
        for &(name, bytes, content_type) in FILES {
            let digest = Sha256::digest(bytes);
            let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            let url = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("/static/{stem}.{hash}.{ext}"),
                None => format!("/static/{name}.{hash}"),
            };
            by_url.insert(
                url.clone(),
                Asset::static_file(bytes, hash, content_type, started),
            );
            urls.insert(name, url);
        }
        Self { by_url, urls }
    }

    /// The hashed URL of a source file such as `css/site.css`.
    pub fn url(&self, name: &str) -> &str {
        self.urls
            .get(name)
            .map(String::as_str)
            .unwrap_or("/static/missing")
    }

    pub fn get(&self, url: &str) -> Option<&Asset> {
        self.by_url.get(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_a_content_hash() {
        let assets = Assets::load();
        let url = assets.url("css/site.css");
        assert!(
            url.starts_with("/static/css/site.") && url.ends_with(".css") && url.len() > 25,
            "{url}"
        );
        assert!(assets.get(url).is_some());
    }
}
