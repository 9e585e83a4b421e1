//! Old addresses and their new home on this site: `content/redirects.toml`
//! (written by `kintsugi import wordpress`, editable by hand) plus the
//! built-in WordPress rules that need no entry (feeds, search, sitemaps,
//! uploads, and suffixes such as `/feed/` or `/comment-page-2/` on an old
//! address that is in the map).
//!
//! ```toml
//! # Old addresses and their new home on this site (301). Edit freely.
//! [redirects]
//! "/2024/05/14/first-month-after-a-breakup/" = "/articles/first-month-after-a-breakup"
//! "/?p=101" = "/articles/first-month-after-a-breakup"
//! "/category/healing/" = "/tags/healing"
//! ```
//!
//! Keys are old paths, optionally with one query parameter (see
//! [`QUERY_KEYS`]); they match in their [normalised](RedirectMap::normalise_key)
//! form. Values are addresses on this site: a redirect never points
//! off-site ([`RedirectMap::validate_target`]).
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::front_matter::LineError;

/// The query parameters an old address may be keyed on (`/?p=101`), in the
/// order they are looked for when an address carries several.
pub const QUERY_KEYS: [&str; 6] = ["p", "page_id", "attachment_id", "cat", "tag", "author"];

/// Where a request for an old address goes: a `301 Moved Permanently`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    location: String,
    explicit: bool,
}

impl Redirect {
    /// The new address, site-relative and percent-encoded (ready for a
    /// `Location` header): `/tags/na%C3%AFve-hope`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether an entry of the map decided it (not a built-in rule).
    pub fn is_explicit(&self) -> bool {
        self.explicit
    }
}

/// One entry of the map.
#[derive(Debug, Clone)]
struct Entry {
    /// The old address as written in the file.
    old: String,
    /// The target as written in the file.
    target: String,
    /// The target percent-encoded for `Location`.
    location: String,
    line: usize,
}

/// The parsed `content/redirects.toml`: normalised old address -> target.
#[derive(Debug, Clone, Default)]
pub struct RedirectMap {
    entries: HashMap<String, Entry>,
    /// `content/media/`, for `/wp-content/uploads/...` (None: that rule is
    /// off).
    media_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    redirects: Option<toml::Spanned<toml::Table>>,
}

/// What the site knows of its own addresses, for [`RedirectMap::check_against`].
pub trait SiteAddresses {
    /// An article with this slug exists (published, scheduled or draft).
    fn has_article(&self, slug: &str) -> bool;
    /// A page `content/pages/{slug}.md` exists.
    fn has_page(&self, slug: &str) -> bool;
    /// Some article carries a tag with this slug.
    fn has_tag(&self, slug: &str) -> bool;
}

impl RedirectMap {
    /// Parses the text of `content/redirects.toml`. Every problem is
    /// returned with its line: bad TOML, keys that are not paths, targets
    /// that are not addresses on this site, two keys that are the same
    /// address once normalised.
    pub fn parse(text: &str) -> Result<Self, Vec<LineError>> {
        let (map, errors) = Self::parse_keeping_good_entries(text);
        if errors.is_empty() {
            Ok(map)
        } else {
            Err(errors)
        }
    }

    /// As [`RedirectMap::parse`], but also returns the entries that are
    /// fine, so the site's checks can run on them and every problem is
    /// reported at once.
    pub fn parse_keeping_good_entries(text: &str) -> (Self, Vec<LineError>) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut map = Self::default();
        let file: File = match toml::from_str(text) {
            Ok(file) => file,
            Err(e) => {
                let error = LineError {
                    line: e.span().map_or(1, |span| line_at(text, span.start)),
                    message: format!("redirects: {}", e.message().trim()),
                };
                return (map, vec![error]);
            }
        };
        let mut errors = Vec::new();
        let Some(table) = file.redirects else {
            return (map, errors);
        };
        let table_line = line_at(text, table.span().start);
        let mut rows: Vec<(usize, &String, &toml::Value)> = table
            .get_ref()
            .iter()
            .map(|(key, value)| (key_line(text, key).unwrap_or(table_line), key, value))
            .collect();
        rows.sort_by_key(|(line, key, _)| (*line, key.as_str()));
        for (line, key, value) in rows {
            let err = |message: String| LineError { line, message };
            let Some(normal) = Self::normalise_key(key) else {
                errors.push(err(format!(
                    "`{key}` is not an old address: write a path starting with `/`, \
                     optionally with one of ?{}=",
                    QUERY_KEYS.join("=, ?")
                )));
                continue;
            };
            let Some(target) = value.as_str() else {
                errors.push(err(format!(
                    "the new address for `{key}` must be text in quotes, like \"/articles/slug\""
                )));
                continue;
            };
            if let Err(message) = Self::validate_target(target) {
                errors.push(err(format!("`{key}`: {message}")));
                continue;
            }
            if let Some(first) = map.entries.get(&normal) {
                errors.push(err(format!(
                    "`{key}` is the same old address as the one on line {} (case, \
                     percent-encoding and a trailing slash do not count)",
                    first.line
                )));
                continue;
            }
            map.entries.insert(
                normal,
                Entry {
                    old: key.to_string(),
                    target: target.to_string(),
                    location: encode_location(target),
                    line,
                },
            );
        }
        (map, errors)
    }

    /// Turns on the `/wp-content/uploads/{path}` rule: it redirects to
    /// `/media/{path}` when that file is in `dir` (`content/media/`).
    pub fn set_media_dir(&mut self, dir: impl Into<PathBuf>) {
        self.media_dir = Some(dir.into());
    }

    /// The form an old address is matched in, or None when it is not an
    /// old address (no leading `/`, a `#fragment`, control characters,
    /// broken UTF-8, or a query without one of [`QUERY_KEYS`]).
    ///
    /// The path is percent-decoded (kept decoded: `/tag/心の傷`), ASCII
    /// letters are put in lower case, trailing slashes are dropped (`/`
    /// stays `/`) and a leading `/index.php` is dropped (WordPress's
    /// "almost pretty" links). A query keeps only the first recognised
    /// parameter, decoded and in lower case: `/?p=101`, `/?tag=grief`.
    pub fn normalise_key(old: &str) -> Option<String> {
        if old.contains('#') {
            return None;
        }
        let (path, query) = split_query(old);
        let path = normal_path(&decode_path(path)?);
        match query {
            None => Some(path),
            Some(query) => {
                let (name, value) = recognised_param(query)?;
                Some(query_key(&path, name, &value))
            }
        }
    }

    /// Whether the map holds `old` (in any spelling that normalises the same).
    pub fn contains(&self, old: &str) -> bool {
        Self::normalise_key(old).is_some_and(|key| self.entries.contains_key(&key))
    }

    /// The target written for `old`, if the map holds it.
    pub fn target_of(&self, old: &str) -> Option<&str> {
        let key = Self::normalise_key(old)?;
        self.entries.get(&key).map(|e| e.target.as_str())
    }

    /// How many entries the map holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where a request for `path` (as sent, percent-encoded) with `query`
    /// (without the `?`, may be empty) goes: an entry of the map first,
    /// then an entry plus a WordPress suffix (`/feed/`, `/comment-page-2/`,
    /// `/2/`, `/amp/`, `/page/2/`), then the built-in rules. None: no
    /// redirect (archives such as `/2024/05/`, `/wp-login.php`, ...).
    pub fn lookup(&self, path: &str, query: &str) -> Option<Redirect> {
        let decoded = normal_path_keep_case(&decode_path(path)?);
        let lower = decoded.to_ascii_lowercase();
        let params = parse_query(query);
        let explicit = |location: String| {
            Some(Redirect {
                location: with_reply_anchor(location, &params),
                explicit: true,
            })
        };
        let built_in = |location: &str| {
            Some(Redirect {
                location: location.to_string(),
                explicit: false,
            })
        };
        if let Some((name, value)) = first_recognised(&params) {
            if let Some(entry) = self.entries.get(&query_key(&lower, name, value)) {
                return explicit(entry.location.clone());
            }
        }
        if lower != "/" {
            if let Some(entry) = self.entries.get(&lower) {
                return explicit(entry.location.clone());
            }
            if let Some(location) = self.with_suffix(&lower) {
                return explicit(location);
            }
        }
        if lower == "/" {
            let value = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            if let Some(feed) = value("feed") {
                return match feed.to_ascii_lowercase().as_str() {
                    "rss2" | "rss" | "atom" | "rdf" => built_in("/feed.xml"),
                    "comments-rss2" | "comments-atom" => built_in("/comments.xml"),
                    _ => None,
                };
            }
            if let Some(words) = value("s") {
                let words = words.trim();
                if words.is_empty() {
                    return built_in("/search");
                }
                let query = serde_urlencoded::to_string([("q", words)]).ok()?;
                return built_in(&format!("/search?{query}"));
            }
            return None;
        }
        match lower.as_str() {
            "/feed" | "/feed/rss2" | "/feed/rss" | "/feed/atom" | "/feed/rdf" | "/rss" => {
                return built_in("/feed.xml")
            }
            "/comments/feed" | "/comments/feed/rss2" | "/comments/feed/atom" => {
                return built_in("/comments.xml")
            }
            "/wp-sitemap.xml" | "/sitemap_index.xml" | "/sitemap.xml.gz" => {
                return built_in("/sitemap.xml")
            }
            _ => {}
        }
        if (lower.starts_with("/category/") || lower.starts_with("/tag/"))
            && strip_feed_suffix(&lower).is_some()
        {
            return built_in("/feed.xml");
        }
        if let Some(upload) = decoded.strip_prefix("/wp-content/uploads/") {
            return self
                .media_file(upload)
                .map(|file| built_in(&encode_location(&format!("/media/{file}"))))?;
        }
        None
    }

    /// `{old}/feed/`, `{old}/comment-page-N/`, `{old}/N/`, `{old}/amp/`,
    /// `{old}/page/N/` where `{old}` is in the map.
    fn with_suffix(&self, lower: &str) -> Option<String> {
        let base_entry = |base: &str| {
            (!base.is_empty() && base != "/")
                .then(|| self.entries.get(base))
                .flatten()
        };
        if let Some(base) = strip_feed_suffix(lower) {
            let entry = base_entry(base)?;
            let target = entry.target.as_str();
            let is_article = target
                .strip_prefix("/articles/")
                .is_some_and(|slug| !slug.is_empty() && !slug.contains(['/', '?', '#']));
            return Some(if is_article {
                format!("{}/comments.xml", entry.location)
            } else {
                "/feed.xml".to_string()
            });
        }
        let (base, last) = lower.rsplit_once('/')?;
        let paged = last.strip_prefix("comment-page-").is_some_and(all_digits);
        if last == "amp" || paged {
            return base_entry(base).map(|e| e.location.clone());
        }
        if all_digits(last) {
            if let Some(base) = base.strip_suffix("/page") {
                if let Some(entry) = base_entry(base) {
                    return Some(entry.location.clone());
                }
            }
            return base_entry(base).map(|e| e.location.clone());
        }
        None
    }

    /// The file under the media folder an old upload address names: the
    /// same path, or the original of a resized copy (`-300x200` before the
    /// extension).
    fn media_file(&self, upload: &str) -> Option<String> {
        let dir = self.media_dir.as_ref()?;
        let safe = !upload.is_empty()
            && upload
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(['\\', '\0']));
        if !safe {
            return None;
        }
        if dir.join(upload).is_file() {
            return Some(upload.to_string());
        }
        let original = without_size_suffix(upload)?;
        dir.join(&original).is_file().then_some(original)
    }

    /// Checks that a target is an address on this site: it starts with a
    /// single `/` (no `//`, no `/\`, no `scheme:`), holds no backslash,
    /// spaces or control characters, and does not turn into one of those
    /// when percent-decoded. A redirect never points off-site.
    pub fn validate_target(target: &str) -> Result<(), String> {
        if target.is_empty() {
            return Err("the new address is empty".into());
        }
        if !target.starts_with('/') {
            return Err(format!(
                "the new address `{target}` must start with `/` (an address on this site, \
                 like `/articles/slug`): a redirect never points to another site"
            ));
        }
        let off_site = |t: &str| t.starts_with("//") || t.contains('\\');
        if off_site(target) {
            return Err(format!(
                "the new address `{target}` would leave this site (it starts with `//` \
                 or holds a `\\`): a redirect never points to another site"
            ));
        }
        if target.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "the new address `{}` holds spaces or control characters (write a space as %20)",
                target.escape_debug()
            ));
        }
        let decoded = String::from_utf8_lossy(&percent_decode(target.as_bytes())).into_owned();
        if off_site(&decoded) || decoded.chars().any(char::is_control) {
            return Err(format!(
                "the new address `{target}` would leave this site once decoded: \
                 a redirect never points to another site"
            ));
        }
        Ok(())
    }

    /// The problems of the map against the site it belongs to: a target
    /// that is no page of this site (an article, page or tag that does not
    /// exist), and an old address the site serves itself (the redirect
    /// would never apply). Lines are the file's.
    pub fn check_against(&self, site: &dyn SiteAddresses) -> Vec<LineError> {
        let mut errors = Vec::new();
        let mut entries: Vec<(&String, &Entry)> = self.entries.iter().collect();
        entries.sort_by_key(|(key, e)| (e.line, key.as_str()));
        for (key, entry) in entries {
            let target_path = decode_path(path_part(&entry.target));
            let target_route = target_path.as_deref().map(|p| route(p, site));
            if !matches!(target_route, Some(Route::Live))
                && RedirectMap::normalise_key(&entry.target).as_ref() == Some(key)
            {
                errors.push(LineError {
                    line: entry.line,
                    message: format!(
                        "`{}` redirects to itself (the new address is the old one)",
                        entry.old
                    ),
                });
                continue;
            }
            match target_route {
                Some(Route::Live | Route::Files) => {}
                Some(Route::Missing(why)) => errors.push(LineError {
                    line: entry.line,
                    message: format!("`{}` is not on this site: {why}", entry.target),
                }),
                Some(Route::Unknown) | None => errors.push(LineError {
                    line: entry.line,
                    message: format!(
                        "`{}` is not an address this site serves (articles are at \
                         /articles/{{slug}}, pages at /{{name}}, tags at /tags/{{slug}})",
                        entry.target
                    ),
                }),
            }
            // A query key on `/` applies before the home page; any other
            // key only where the site answers 404.
            let (path, query) = split_query(&entry.old);
            if query.is_some() && normal_path(path) == "/" {
                continue;
            }
            let served = decode_path(path).is_some_and(|p| matches!(route(&p, site), Route::Live));
            if served {
                errors.push(LineError {
                    line: entry.line,
                    message: format!(
                        "`{}` is an address this site serves itself, so this redirect never applies",
                        entry.old
                    ),
                });
            }
        }
        errors
    }
}

/// What an address on this site is.
enum Route {
    /// Served (a page, an article, a fixed route).
    Live,
    /// Files (`/media/`, `/images/`, `/static/`): accepted as targets
    /// unchecked, never counted as served when an old address.
    Files,
    /// Would be served if it existed; why it does not.
    Missing(String),
    Unknown,
}

fn route(path: &str, site: &dyn SiteAddresses) -> Route {
    const FIXED: [&str; 10] = [
        "/",
        "/feed.xml",
        "/comments.xml",
        "/sitemap.xml",
        "/robots.txt",
        "/search",
        "/tags",
        "/favicon.ico",
        "/apple-touch-icon.png",
        "/manifest.webmanifest",
    ];
    if FIXED.contains(&path) || path == "/coaching" {
        return Route::Live;
    }
    if ["/media/", "/images/", "/static/"]
        .iter()
        .any(|p| path.starts_with(p) && path.len() > p.len())
    {
        return Route::Files;
    }
    if let Some(rest) = path.strip_prefix("/articles/") {
        let slug = rest.strip_suffix("/comments.xml").unwrap_or(rest);
        let Some(slug) = one_segment(slug) else {
            return Route::Unknown;
        };
        return if site.has_article(slug) {
            Route::Live
        } else {
            Route::Missing(format!("there is no article with the slug `{slug}`"))
        };
    }
    if let Some(rest) = path.strip_prefix("/tags/") {
        let Some(slug) = one_segment(rest) else {
            return Route::Unknown;
        };
        return if site.has_tag(slug) {
            Route::Live
        } else {
            Route::Missing(format!("no article has the tag `{slug}`"))
        };
    }
    if let Some(name) = path.strip_prefix('/').and_then(one_segment) {
        return if site.has_page(name) {
            Route::Live
        } else {
            Route::Missing(format!("there is no page content/pages/{name}.md"))
        };
    }
    Route::Unknown
}

/// `s` is a number: one or more ASCII digits.
fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `rest` when it is one non-empty path segment.
fn one_segment(rest: &str) -> Option<&str> {
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

/// `{base}/feed`, `{base}/feed/rss2`, ... -> `{base}`.
fn strip_feed_suffix(path: &str) -> Option<&str> {
    [
        "/feed",
        "/feed/rss2",
        "/feed/rss",
        "/feed/atom",
        "/feed/rdf",
    ]
    .iter()
    .find_map(|suffix| path.strip_suffix(suffix))
    .filter(|base| !base.is_empty())
}

/// `2024/05/evening-walk-300x200.jpg` -> `2024/05/evening-walk.jpg`.
fn without_size_suffix(file: &str) -> Option<String> {
    let (dir, name) = match file.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, file),
    };
    let (stem, ext) = name.rsplit_once('.')?;
    let (base, size) = stem.rsplit_once('-')?;
    let (w, h) = size.split_once('x')?;
    if base.is_empty() || !all_digits(w) || !all_digits(h) {
        return None;
    }
    Some(match dir {
        Some(dir) => format!("{dir}/{base}.{ext}"),
        None => format!("{base}.{ext}"),
    })
}

/// `#comment-N` for `?replytocom=N` (WordPress's reply links), unless the
/// target has a fragment of its own.
fn with_reply_anchor(location: String, params: &[(String, String)]) -> String {
    let reply = params
        .iter()
        .find(|(n, v)| n == "replytocom" && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    match reply {
        Some((_, id)) if !location.contains('#') => format!("{location}#comment-{id}"),
        _ => location,
    }
}

fn split_query(old: &str) -> (&str, Option<&str>) {
    match old.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (old, None),
    }
}

/// The path of an address, without its query and fragment.
fn path_part(address: &str) -> &str {
    address.split(['?', '#']).next().unwrap_or(address)
}

fn query_key(path: &str, name: &str, value: &str) -> String {
    format!("{path}?{name}={}", value.trim().to_ascii_lowercase())
}

/// A path percent-decoded, or None when it is not a path (no leading
/// `/`, broken UTF-8, control characters).
fn decode_path(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let decoded = String::from_utf8(percent_decode(path.as_bytes())).ok()?;
    (!decoded.chars().any(char::is_control)).then_some(decoded)
}

/// Trailing slashes and a leading `/index.php` dropped, case kept.
fn normal_path_keep_case(decoded: &str) -> String {
    let path = match decoded.get(..10) {
        Some(start) if start.eq_ignore_ascii_case("/index.php") => {
            let rest = &decoded[10..];
            if rest.is_empty() || rest.starts_with('/') {
                rest
            } else {
                decoded
            }
        }
        _ => decoded,
    };
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

fn normal_path(decoded: &str) -> String {
    normal_path_keep_case(decoded).to_ascii_lowercase()
}

/// The query's pairs, decoded (`+` is a space), names in lower case.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                String::from_utf8_lossy(&percent_decode(s.replace('+', " ").as_bytes()))
                    .into_owned()
            };
            (decode(name).to_ascii_lowercase(), decode(value))
        })
        .collect()
}

fn first_recognised(params: &[(String, String)]) -> Option<(&'static str, &str)> {
    QUERY_KEYS.iter().find_map(|name| {
        params
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| (*name, v.as_str()))
    })
}

fn recognised_param(query: &str) -> Option<(&'static str, String)> {
    let params = parse_query(query);
    let (name, value) = first_recognised(&params)?;
    if value.chars().any(char::is_control) {
        return None;
    }
    Some((name, value.to_string()))
}

/// `%XX` turned into bytes; anything else (a lone `%` too) kept.
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A site-relative address made fit for a `Location` header: bytes
/// outside printable ASCII (and `"<>\^`{|}` and space) percent-encoded,
/// `%XX` already there kept (in upper case), so `/tags/naïve-hope` and
/// `/tags/na%c3%afve-hope` both become `/tags/na%C3%AFve-hope`.
pub fn encode_location(target: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = target.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push('%');
                out.push(HEX[h as usize] as char);
                out.push(HEX[l as usize] as char);
                i += 3;
                continue;
            }
        }
        let plain = b.is_ascii_graphic() && !b"%\"<>\\^`{|}".contains(&b);
        if plain {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        }
        i += 1;
    }
    out
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    1 + text[..offset.min(text.len())].matches('\n').count()
}

/// The line a key is written on (quoted as `"key"` or `'key'`, or bare).
fn key_line(text: &str, key: &str) -> Option<usize> {
    let quoted = [format!("\"{key}\""), format!("'{key}'"), key.to_string()];
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            quoted.iter().any(|q| {
                line.strip_prefix(q.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        })
        .map(|i| i + 1)
}

/// `content/redirects.toml` in `content_dir`.
pub fn file_in(content_dir: &Path) -> PathBuf {
    content_dir.join("redirects.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# Old addresses and their new home on this site (301). Edit freely.
[redirects]
"/2024/05/14/first-month-after-a-breakup/" = "/articles/first-month-after-a-breakup"
"/?p=101" = "/articles/first-month-after-a-breakup"
"/?page_id=2" = "/about"
"/category/healing/" = "/tags/healing"
"/tag/%e5%bf%83%e3%81%ae%e5%82%b7/" = "/tags/心の傷"
"/tag/naive-hope/" = "/tags/naïve-hope"
"/my-old-name" = "/articles/new-name"
"#;

    fn sample() -> RedirectMap {
        RedirectMap::parse(SAMPLE).unwrap()
    }

    fn to(map: &RedirectMap, path: &str, query: &str) -> Option<String> {
        map.lookup(path, query).map(|r| r.location().to_string())
    }

    #[test]
    fn keys_normalise_case_encoding_and_slashes() {
        let n = |s| RedirectMap::normalise_key(s);
        assert_eq!(n("/2024/05/14/Slug/").as_deref(), Some("/2024/05/14/slug"));
        assert_eq!(n("/2024/05/14/slug").as_deref(), Some("/2024/05/14/slug"));
        assert_eq!(
            n("/tag/%E5%BF%83%E3%81%AE%E5%82%B7/"),
            n("/tag/%e5%bf%83%e3%81%ae%e5%82%b7")
        );
        assert_eq!(n("/tag/%e5%bf%83/").as_deref(), Some("/tag/心"));
        assert_eq!(n("/").as_deref(), Some("/"));
        assert_eq!(n("/?p=101&foo=bar").as_deref(), Some("/?p=101"));
        assert_eq!(n("/index.php?p=101").as_deref(), Some("/?p=101"));
        assert_eq!(n("/?utm=1&TAG=Grief").as_deref(), Some("/?tag=grief"));
        assert_eq!(n("/index.php/2024/x/").as_deref(), Some("/2024/x"));
        assert_eq!(n("/?foo=bar"), None);
        assert_eq!(n("relative/path"), None);
        assert_eq!(n("https://old.example/x"), None);
        assert_eq!(n("/x#comment-3"), None);
        assert_eq!(n("/x%0a"), None);
        assert_eq!(n("/%ff"), None);
    }

    #[test]
    fn explicit_entries_match_in_any_spelling() {
        let map = sample();
        let first = Some("/articles/first-month-after-a-breakup".to_string());
        assert_eq!(
            to(&map, "/2024/05/14/first-month-after-a-breakup/", ""),
            first
        );
        assert_eq!(
            to(&map, "/2024/05/14/First-Month-After-A-Breakup", ""),
            first
        );
        assert_eq!(to(&map, "/", "p=101"), first);
        assert_eq!(to(&map, "/", "p=101&utm_source=x"), first);
        assert_eq!(
            to(&map, "/", "p=101&replytocom=31").as_deref(),
            Some("/articles/first-month-after-a-breakup#comment-31")
        );
        assert_eq!(to(&map, "/", "page_id=2").as_deref(), Some("/about"));
        assert_eq!(
            to(&map, "/tag/%E5%BF%83%E3%81%AE%E5%82%B7/", "").as_deref(),
            Some("/tags/%E5%BF%83%E3%81%AE%E5%82%B7")
        );
        assert_eq!(
            to(&map, "/tag/naive-hope", "").as_deref(),
            Some("/tags/na%C3%AFve-hope")
        );
        assert!(map.contains("/MY-OLD-NAME/"));
        assert!(map.contains("/?p=101&replytocom=3"));
        assert!(!map.contains("/?p=102"));
        assert_eq!(map.target_of("/tag/心の傷"), Some("/tags/心の傷"));
        assert!(map
            .lookup("/2024/05/14/first-month-after-a-breakup/", "")
            .unwrap()
            .is_explicit());
    }

    #[test]
    fn suffixes_on_a_mapped_address() {
        let map = sample();
        let post = "/2024/05/14/first-month-after-a-breakup";
        let first = Some("/articles/first-month-after-a-breakup".to_string());
        assert_eq!(
            to(&map, &format!("{post}/feed/"), "").as_deref(),
            Some("/articles/first-month-after-a-breakup/comments.xml")
        );
        for suffix in ["/comment-page-2/", "/2/", "/amp/", "/amp", "/page/3/"] {
            assert_eq!(to(&map, &format!("{post}{suffix}"), ""), first, "{suffix}");
        }
        assert_eq!(
            to(&map, "/category/healing/page/2/", "").as_deref(),
            Some("/tags/healing")
        );
        assert_eq!(
            to(&map, "/category/healing/feed/", "").as_deref(),
            Some("/feed.xml")
        );
        assert_eq!(
            to(&map, "/my-old-name/feed", "").as_deref(),
            Some("/articles/new-name/comments.xml")
        );
        assert_eq!(to(&map, "/not-mapped/comment-page-2/", ""), None);
        assert_eq!(to(&map, &format!("{post}/extra/"), ""), None);
    }

    #[test]
    fn built_in_wordpress_rules() {
        let map = RedirectMap::default();
        for path in [
            "/feed/",
            "/feed/rss2/",
            "/feed/atom/",
            "/feed/rss/",
            "/rss/",
            "/feed",
        ] {
            assert_eq!(to(&map, path, "").as_deref(), Some("/feed.xml"), "{path}");
        }
        for query in ["feed=rss2", "feed=rss", "feed=atom"] {
            assert_eq!(to(&map, "/", query).as_deref(), Some("/feed.xml"));
        }
        assert_eq!(
            to(&map, "/comments/feed/", "").as_deref(),
            Some("/comments.xml")
        );
        assert_eq!(
            to(&map, "/", "feed=comments-rss2").as_deref(),
            Some("/comments.xml")
        );
        assert_eq!(
            to(&map, "/", "s=no+contact%20%26+more").as_deref(),
            Some("/search?q=no+contact+%26+more")
        );
        assert_eq!(to(&map, "/", "s=").as_deref(), Some("/search"));
        for path in ["/wp-sitemap.xml", "/sitemap_index.xml", "/sitemap.xml.gz"] {
            assert_eq!(to(&map, path, "").as_deref(), Some("/sitemap.xml"));
        }
        assert_eq!(
            to(&map, "/tag/grief/feed/", "").as_deref(),
            Some("/feed.xml")
        );
        assert!(!map.lookup("/feed/", "").unwrap().is_explicit());
        for path in [
            "/wp-login.php",
            "/wp-admin/",
            "/wp-admin/edit.php",
            "/xmlrpc.php",
            "/wp-json/wp/v2/posts",
            "/2024/",
            "/2024/05/",
            "/2024/05/14/",
            "/page/2/",
            "/",
            "/category/healing/",
            "/author/sam/",
            "/wp-content/uploads/2024/05/x.jpg",
        ] {
            assert_eq!(to(&map, path, ""), None, "{path}");
        }
        assert_eq!(to(&map, "/", "page=2"), None);
        assert_eq!(to(&map, "/", "p=120"), None);
    }

    #[test]
    fn uploads_go_to_media_files_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("2024/05")).unwrap();
        std::fs::write(dir.path().join("2024/05/evening-walk.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("2024/05/Chart Ü.png"), b"x").unwrap();
        let mut map = RedirectMap::default();
        map.set_media_dir(dir.path());
        let up = |p: &str| to(&map, &format!("/wp-content/uploads/{p}"), "");
        assert_eq!(
            up("2024/05/evening-walk.jpg").as_deref(),
            Some("/media/2024/05/evening-walk.jpg")
        );
        assert_eq!(
            up("2024/05/evening-walk-300x200.jpg").as_deref(),
            Some("/media/2024/05/evening-walk.jpg")
        );
        assert_eq!(
            up("2024/05/Chart%20%C3%9C.png").as_deref(),
            Some("/media/2024/05/Chart%20%C3%9C.png")
        );
        assert_eq!(up("2024/05/missing.jpg"), None);
        assert_eq!(up("2024/05/missing-300x200.jpg"), None);
        assert_eq!(up("../../etc/passwd"), None);
        assert_eq!(up("2024/%2e%2e/05/evening-walk.jpg"), None);
    }

    #[test]
    fn off_site_targets_are_refused() {
        for target in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/%2F/evil.example",
            "/%5Cevil.example",
            "/x\r\nSet-Cookie: a=b",
            "",
        ] {
            assert!(
                RedirectMap::validate_target(target).is_err(),
                "{target:?} accepted"
            );
            let text = format!("[redirects]\n\"/old\" = {}\n", toml::Value::from(target));
            let errors = RedirectMap::parse(&text).unwrap_err();
            assert_eq!(errors[0].line, 2, "{target:?}: {errors:?}");
        }
        for target in [
            "/articles/x",
            "/tags/naïve-hope",
            "/search?q=a%20b",
            "/articles/x#comment-3",
        ] {
            assert_eq!(RedirectMap::validate_target(target), Ok(()), "{target}");
        }
    }

    #[test]
    fn problems_name_their_line() {
        let text = "[redirects]\n\"/a/\" = \"/articles/a\"\n\"not-a-path\" = \"/x\"\n\"/A\" = \"/articles/b\"\n\"/n\" = 3\n\"/q?foo=1\" = \"/x\"\n";
        let errors = RedirectMap::parse(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6], "{errors:?}");
        assert!(errors[1].message.contains("line 2"), "{errors:?}");
        let errors = RedirectMap::parse("[redirects]\n\"/a\" = \"/b\n").unwrap_err();
        assert_eq!(errors[0].line, 2, "{errors:?}");
        let errors = RedirectMap::parse("[redirect]\n\"/a\" = \"/b\"\n").unwrap_err();
        assert_eq!(errors[0].line, 1, "{errors:?}");
        assert!(RedirectMap::parse("# nothing yet\n").unwrap().is_empty());
        assert!(RedirectMap::parse("[redirects]\n").unwrap().is_empty());
    }

    struct Site;
    impl SiteAddresses for Site {
        fn has_article(&self, slug: &str) -> bool {
            slug == "first-month-after-a-breakup" || slug == "new-name"
        }
        fn has_page(&self, slug: &str) -> bool {
            slug == "about"
        }
        fn has_tag(&self, slug: &str) -> bool {
            ["healing", "心の傷", "naïve-hope"].contains(&slug)
        }
    }

    #[test]
    fn targets_are_checked_against_the_site() {
        assert_eq!(sample().check_against(&Site), []);
        let text = "[redirects]\n\"/old/\" = \"/articles/gone\"\n\"/articles/new-name\" = \"/about\"\n\"/x\" = \"/tags/nope\"\n\"/y\" = \"/admin/comments\"\n\"/z\" = \"/media/2024/05/a.jpg\"\n\"/about/\" = \"/about\"\n\"/?p=3\" = \"/privacy\"\n\"/media/a.jpg/\" = \"/media/a.jpg\"\n";
        let errors = RedirectMap::parse(text).unwrap().check_against(&Site);
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 8, 9], "{errors:?}");
        assert!(errors[5].message.contains("itself"), "{errors:?}");
        assert!(errors[0]
            .message
            .contains("no article with the slug `gone`"));
        assert!(errors[1].message.contains("never applies"));
    }

    #[test]
    fn locations_are_encoded_once() {
        assert_eq!(encode_location("/tags/naïve-hope"), "/tags/na%C3%AFve-hope");
        assert_eq!(
            encode_location("/tags/na%c3%afve-hope"),
            "/tags/na%C3%AFve-hope"
        );
        assert_eq!(encode_location("/a b\"<>"), "/a%20b%22%3C%3E");
        assert_eq!(encode_location("/100%"), "/100%25");
        assert_eq!(encode_location("/search?q=a+b#x"), "/search?q=a+b#x");
    }

    #[test]
    fn size_suffixes() {
        assert_eq!(
            without_size_suffix("2024/05/a-b-300x200.jpg").as_deref(),
            Some("2024/05/a-b.jpg")
        );
        assert_eq!(without_size_suffix("a-300x.jpg"), None);
        assert_eq!(without_size_suffix("-300x200.jpg"), None);
        assert_eq!(without_size_suffix("a.jpg"), None);
    }
}
