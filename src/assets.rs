//! Static files, compiled into the binary and served under content-hashed
//! names (`/static/css/site.3f2a9c01d4.css`) so browsers may keep them for a
//! year.
use std::collections::HashMap;

use actix_web::web::Bytes;
use sha2::{Digest, Sha256};

/// One static file as served: plain, gzip and brotli, made once at start.
pub type Asset = crate::encoded::Encoded;

/// Every static file, by hashed URL and by source name.
pub struct Assets {
    by_url: HashMap<String, Asset>,
    urls: HashMap<&'static str, String>,
    root: HashMap<&'static str, Asset>,
}

const FILES: &[(&str, &[u8], &str)] = &[
    (
        "css/site.css",
        include_bytes!("../static/css/site.css"),
        "text/css; charset=utf-8",
    ),
    (
        "css/admin.css",
        include_bytes!("../static/css/admin.css"),
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
        "js/no-contact.js",
        include_bytes!("../static/js/no-contact.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "favicon.svg",
        include_bytes!("../static/favicon.svg"),
        "image/svg+xml",
    ),
    (
        "icons/favicon.ico",
        include_bytes!("../static/icons/favicon.ico"),
        "image/x-icon",
    ),
    (
        "icons/apple-touch-icon.png",
        include_bytes!("../static/icons/apple-touch-icon.png"),
        "image/png",
    ),
    (
        "icons/icon-192.png",
        include_bytes!("../static/icons/icon-192.png"),
        "image/png",
    ),
    (
        "icons/icon-512.png",
        include_bytes!("../static/icons/icon-512.png"),
        "image/png",
    ),
    (
        "icons/icon-maskable-512.png",
        include_bytes!("../static/icons/icon-maskable-512.png"),
        "image/png",
    ),
    (
        "icons/share.png",
        include_bytes!("../static/icons/share.png"),
        "image/png",
    ),
];

/// CSS without its comments and the whitespace a browser does not need.
/// Strings are copied as they are; whitespace that separates words
/// (`margin: 0 auto`, descendant selectors) stays as one space.
pub fn minify_css(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut pending_space = false;
    // Next to these, no space is ever needed.
    let tight = |c: char| matches!(c, '{' | '}' | ';' | ':' | ',' | '>' | '(' | ')');
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                pending_space = true;
            }
            c if c.is_whitespace() => pending_space = true,
            '"' | '\'' => {
                if pending_space && !out.is_empty() && !out.ends_with(tight) {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c);
                let mut escaped = false;
                for s in chars.by_ref() {
                    out.push(s);
                    if escaped {
                        escaped = false;
                    } else if s == '\\' {
                        escaped = true;
                    } else if s == c {
                        break;
                    }
                }
            }
            c => {
                // A space before `(` matters after `and` in a media query
                // (`and (min-width...)`).
                // After `)` a word needs its space (`) and (`, `url(x) top`).
                let needs_space = pending_space
                    && !out.is_empty()
                    && (!out.ends_with(tight) || out.ends_with(')'))
                    // `a :hover` (a descendant) is not `a:hover`: a space
                    // before `:` stays.
                    && (!tight(c) || c == '(' || c == ':');
                if needs_space {
                    out.push(' ');
                }
                pending_space = false;
                if c == '}' && out.ends_with(';') {
                    out.pop();
                }
                out.push(c);
            }
        }
    }
    out
}

/// Files browsers ask for at fixed addresses (`/favicon.ico`): served
/// from there too, cached for a day since their name cannot change.
const AT_ROOT: &[(&str, &str)] = &[
    ("/favicon.ico", "icons/favicon.ico"),
    ("/apple-touch-icon.png", "icons/apple-touch-icon.png"),
];

impl Assets {
    pub fn load() -> Self {
        let started = chrono::Utc::now();
        let mut by_url = HashMap::new();
        let mut urls = HashMap::new();
        let mut root = HashMap::new();
        for &(name, bytes, content_type) in FILES {
            // Stylesheets are minified once, here.
            let bytes = if content_type.starts_with("text/css") {
                Bytes::from(minify_css(&String::from_utf8_lossy(bytes)))
            } else {
                Bytes::from_static(bytes)
            };
            let digest = Sha256::digest(&bytes);
            let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            let url = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("/static/{stem}.{hash}.{ext}"),
                None => format!("/static/{name}.{hash}"),
            };
            for (path, _) in AT_ROOT.iter().filter(|(_, file)| *file == name) {
                let asset = Asset::new(
                    bytes.clone(),
                    &hash,
                    content_type,
                    "public, max-age=86400",
                    started,
                );
                root.insert(*path, asset);
            }
            let asset = Asset::new(
                bytes,
                &hash,
                content_type,
                "public, max-age=31536000, immutable",
                started,
            );
            by_url.insert(url.clone(), asset);
            urls.insert(name, url);
        }
        Self { by_url, urls, root }
    }

    /// A file served at a fixed address, such as `/favicon.ico`.
    pub fn at_root(&self, path: &str) -> Option<&Asset> {
        self.root.get(path)
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
    fn css_loses_comments_and_spaces_but_keeps_its_meaning() {
        let css = "/* a */\n.a  >  .b ,\n.c:hover, .d :focus {\n  margin: 0 auto;\n  content: \"a  /* b */ c\";\n}\n@media (min-width: 30em) and (max-width: 40em) {\n  .d .e { color: red; }\n}\n";
        assert_eq!(
            minify_css(css),
            ".a>.b,.c:hover,.d :focus{margin:0 auto;content:\"a  /* b */ c\"}@media (min-width:30em) and (max-width:40em){.d .e{color:red}}"
        );
    }

    #[test]
    fn the_site_css_shrinks_and_keeps_every_rule() {
        let css = include_str!("../static/css/site.css");
        let small = minify_css(css);
        assert!(
            small.len() < css.len() * 3 / 4,
            "{} -> {}",
            css.len(),
            small.len()
        );
        let in_comments: usize = css
            .split("/*")
            .skip(1)
            .filter_map(|rest| rest.split("*/").next())
            .map(|comment| comment.matches('{').count())
            .sum();
        assert_eq!(
            css.matches('{').count() - in_comments,
            small.matches('{').count()
        );
    }

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
