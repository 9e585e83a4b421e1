//! Public pages rendered once and kept as bytes, plain and precompressed
//! (gzip and brotli), so a popular article costs about what a static file
//! costs.
//!
//! Freshness: a change this process makes (a comment approved, moderated,
//! edited; content reloaded) removes exactly the entries it affects, so
//! the very next request renders anew. On PostgreSQL the change is also
//! announced to the other app instances (`db::page_events`, LISTEN/NOTIFY),
//! which drop the same entries as soon as they hear of it (within about
//! 50 ms). Entries also expire after a second: that keeps the comment
//! form's issue time honest and bounds how long a change made by *another*
//! app instance can stay unseen if an announcement is lost.
//!
//! Only the shared page is cached. An article page is also kept as
//! segments (`segments`), so readers' own parts go into it per request
//! (`web::articles`) without compressing the shared bytes again: their
//! remembered name and email in place of the form's fields, their own
//! comments (held ones in their place, their links) among the list's,
//! threaded from the list the entry keeps (`listed`) and their own few
//! rows. Only the signed-in coach, and the rare reader whose
//! comments would move threads between pages (a held question when there
//! are several pages, public replies to a hidden comment of theirs), get
//! the page rendered.
//!
//! Size: the entries' bytes (all encodings, and what each keeps beside
//! them) are bounded by `[cache] pages_mb`. Every distinct search is an
//! entry, so without a bound the cache grows with the queries readers
//! (and crawlers) make up; past it, the entries used longest ago go.
pub mod segments;

use crate::encoded::Encoded;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

/// Which changes make an entry stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Depends {
    /// Only content (and time).
    Content,
    /// The comments of one article (its page, its comments feed).
    CommentsOf(String),
    /// Comments anywhere (lists with counts, the site's comments feed).
    AnyComments,
}

/// One page as bytes in every encoding.
pub struct CachedPage {
    /// The page in every encoding, with its validators.
    pub body: Encoded,
    /// Of the page without its per-second form token, so a reload a few
    /// seconds later still gets a 304.
    hash: String,
    /// The second it was rendered in.
    second: i64,
    content_generation: u64,
    depends: Depends,
    refreshing: AtomicBool,
    /// An article page's comments as listed, for putting a reader's own
    /// comments into it.
    pub listed: Option<Arc<crate::domain::thread::ListedThreads>>,
    /// An article page's segments, compressed, for readers' own pages.
    segments: Option<segments::Segments>,
    /// What this entry remembers for its readers (their own part of the
    /// page, read once), exactly as fresh as the entry: dropped with it.
    readers: std::sync::Mutex<HashMap<String, Arc<dyn std::any::Any + Send + Sync>>>,
    /// The cache's use counter when this entry was last served (least
    /// recently used entries are evicted first).
    last_used: AtomicU64,
}

/// Readers an entry remembers a part for, at most (each a few kilobytes).
pub const READERS_PER_ENTRY: usize = 64;
/// Seconds an entry is served before it is rendered again.
const MAX_AGE_SECONDS: i64 = 1;
/// The default bound of the entries' bytes (`[cache] pages_mb`).
pub const DEFAULT_MAX_BYTES: usize = crate::config::DEFAULT_PAGE_CACHE_BYTES;
/// What an entry costs besides its bytes and key: the entry itself, its
/// header values, the map's slot, the allocator's rounding.
const ENTRY_OVERHEAD: usize = 512;

pub struct PageCache {
    entries: RwLock<Entries>,
    /// Past this many bytes, the least recently used entries go.
    max_bytes: usize,
    /// Counts lookups and stores: the order entries were last used in.
    uses: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Tells the other instances what changed here (set once at start).
    announcer: std::sync::OnceLock<crate::db::page_events::Announcer>,
}

/// The entries and the sum of their sizes.
#[derive(Default)]
struct Entries {
    map: HashMap<String, Arc<CachedPage>>,
    bytes: usize,
}

impl Entries {
    fn insert(&mut self, key: String, entry: Arc<CachedPage>) {
        self.bytes += entry.size(&key);
        if let Some(old) = self.map.get(&key) {
            self.bytes -= old.size(&key);
        }
        self.map.insert(key, entry);
    }

    fn retain(&mut self, keep: impl Fn(&CachedPage) -> bool) {
        let mut bytes = 0;
        self.map.retain(|key, e| {
            let kept = keep(e);
            if kept {
                bytes += e.size(key);
            }
            kept
        });
        self.bytes = bytes;
    }

    /// Evicts the least recently used entries until the rest fit in
    /// three quarters of `max_bytes` (so eviction, which sorts, runs
    /// once per many stores, not on each).
    fn evict(&mut self, max_bytes: usize) {
        if self.bytes <= max_bytes {
            return;
        }
        let target = max_bytes / 4 * 3;
        let mut by_use: Vec<(u64, usize, &String)> = self
            .map
            .iter()
            .map(|(key, e)| (e.last_used.load(Ordering::Relaxed), e.size(key), key))
            .collect();
        by_use.sort_unstable_by_key(|(used, _, _)| *used);
        let mut bytes = self.bytes;
        let mut gone = Vec::new();
        for (_, size, key) in by_use {
            if bytes <= target {
                break;
            }
            bytes -= size;
            gone.push(key.clone());
        }
        for key in gone {
            self.map.remove(&key);
        }
        self.bytes = bytes;
    }
}

impl Default for PageCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

/// Lookups since start: served from the cache, or rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// A rendered page on its way into the cache.
pub struct NewPage {
    pub key: String,
    pub body: String,
    /// The part that changes every second (the form token): left out of
    /// the ETag.
    pub volatile: Option<String>,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    pub depends: Depends,
    pub content_generation: u64,
    pub now: DateTime<Utc>,
    pub listed: Option<crate::domain::thread::ListedThreads>,
    /// Where `body`'s segments are (`segments::split`), for an article page.
    pub cuts: Option<Vec<(segments::Kind, std::ops::Range<usize>)>>,
}

/// What a lookup found.
pub enum Lookup {
    /// Fresh: serve it.
    Hit(Arc<CachedPage>),
    /// Old but usable while this request renders the new one.
    Refresh(Arc<CachedPage>),
    Miss,
}

impl PageCache {
    /// A cache whose entries hold at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: RwLock::default(),
            max_bytes,
            uses: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            announcer: std::sync::OnceLock::new(),
        }
    }

    /// From now on, changes made here are also announced through
    /// `announcer` (the first one set stays).
    pub fn announce_through(&self, announcer: crate::db::page_events::Announcer) {
        let _ = self.announcer.set(announcer);
    }

    fn announce(&self, slug: &str) {
        if let Some(a) = self.announcer.get() {
            a.announce(slug);
        }
    }

    pub fn lookup(&self, key: &str, content_generation: u64, now: DateTime<Utc>) -> Lookup {
        let found = self.find(key, content_generation, now);
        let counter = match found {
            Lookup::Miss => &self.misses,
            _ => &self.hits,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn find(&self, key: &str, content_generation: u64, now: DateTime<Utc>) -> Lookup {
        let entry = match self.entries.read() {
            Ok(entries) => entries.map.get(key).cloned(),
            Err(_) => None,
        };
        let Some(entry) = entry else {
            return Lookup::Miss;
        };
        entry
            .last_used
            .store(self.uses.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        if entry.content_generation != content_generation {
            return Lookup::Miss;
        }
        if now.timestamp() - entry.second < MAX_AGE_SECONDS {
            return Lookup::Hit(entry);
        }
        // Expired: one request renders anew, the others keep serving this
        // one meanwhile.
        if entry
            .refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            Lookup::Miss
        } else {
            Lookup::Refresh(entry)
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Stores a rendered page, compressing it first. That takes a
    /// millisecond or more for a long page, so callers on the async workers
    /// go through [`PageCache::store_off_thread`].
    pub fn store(&self, page: NewPage) -> Arc<CachedPage> {
        let NewPage {
            key,
            body,
            volatile,
            content_type,
            cache_control,
            depends,
            content_generation,
            now,
            listed,
            cuts,
        } = page;
        let hash = match volatile.as_deref() {
            Some(v) if !v.is_empty() => crate::encoded::body_hash(body.replace(v, "").as_bytes()),
            _ => crate::encoded::body_hash(body.as_bytes()),
        };
        let previous = self
            .entries
            .read()
            .ok()
            .and_then(|e| e.map.get(&key).cloned());
        let last_modified = match &previous {
            Some(p) if p.hash == hash => p.body.last_modified(),
            _ => now,
        };
        let mut entry = CachedPage::new(
            Bytes::from(body),
            hash,
            content_type,
            cache_control,
            last_modified,
            now.timestamp(),
            content_generation,
            depends,
        );
        entry.listed = listed.map(Arc::new);
        entry.segments = cuts.and_then(|cuts| segments::Segments::compress(entry.plain(), &cuts));
        entry.last_used = AtomicU64::new(self.uses.fetch_add(1, Ordering::Relaxed));
        let entry = Arc::new(entry);
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(key, entry.clone());
            entries.evict(self.max_bytes);
        }
        entry
    }

    /// [`PageCache::store`] on the blocking pool: hashing and compressing
    /// a page must not hold up the worker's other connections (it showed
    /// as a p99 spike once a second, when entries renew).
    pub async fn store_off_thread(
        self: &Arc<Self>,
        page: NewPage,
    ) -> Result<Arc<CachedPage>, actix_web::error::BlockingError> {
        let cache = self.clone();
        actix_web::web::block(move || cache.store(page)).await
    }

    /// A comment on `slug` changed: its article pages, its feed, and every
    /// list with comment counts are rendered anew, here and (announced) on
    /// the other instances.
    pub fn comments_changed(&self, slug: &str) {
        self.drop_comments_of(slug);
        self.announce(slug);
    }

    /// Comments changed somewhere (a bulk action): everything that shows
    /// comments is rendered anew, here and on the other instances.
    pub fn all_comments_changed(&self) {
        self.drop_all_comments();
        self.announce(crate::db::page_events::ALL);
    }

    /// Another instance announced a change (a slug, or `*` for all): drops
    /// the same entries here, announcing nothing.
    pub fn changed_elsewhere(&self, what: &str) {
        if what == crate::db::page_events::ALL {
            self.drop_all_comments();
        } else {
            self.drop_comments_of(what);
        }
    }

    fn drop_comments_of(&self, slug: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|e| match &e.depends {
                Depends::Content => true,
                Depends::AnyComments => false,
                Depends::CommentsOf(s) => s != slug,
            });
        }
    }

    fn drop_all_comments(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|e| e.depends == Depends::Content);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.map.len()).unwrap_or(0)
    }

    /// What the entries hold, as counted against the bound.
    pub fn bytes(&self) -> usize {
        self.entries.read().map(|e| e.bytes).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CachedPage {
    /// A page (or static file) in every encoding, compressed now.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plain: Bytes,
        hash: String,
        content_type: &'static str,
        cache_control: &'static str,
        last_modified: DateTime<Utc>,
        second: i64,
        content_generation: u64,
        depends: Depends,
    ) -> Self {
        Self {
            body: Encoded::new(plain, &hash, content_type, cache_control, last_modified),
            hash,
            second,
            content_generation,
            depends,
            refreshing: AtomicBool::new(false),
            listed: None,
            segments: None,
            readers: Default::default(),
            last_used: AtomicU64::new(0),
        }
    }

    /// What this entry costs the cache under `key`.
    fn size(&self, key: &str) -> usize {
        let listed = self.listed.as_ref().map_or(0, |l| {
            l.items.capacity() * std::mem::size_of::<(i64, Option<i64>)>()
        });
        self.body.len()
            + self.hash.len()
            + key.len()
            + listed
            + self.segments.as_ref().map_or(0, segments::Segments::size)
            + ENTRY_OVERHEAD
    }

    /// The response for `req`: the best encoding it accepts, or a 304 when
    /// it already has this version.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        self.body.respond(req)
    }

    /// The kinds of an article page's segments, in page order (None: not
    /// kept as segments).
    pub fn segment_kinds(&self) -> Option<impl Iterator<Item = segments::Kind> + '_> {
        self.segments.as_ref().map(segments::Segments::kinds)
    }

    /// The page made of `parts` (this entry's segments and a reader's own
    /// parts) for one reader: gzip when they take it (one member, the
    /// shared segments as compressed when stored), else as is; private to
    /// them, with an ETag of the shared page's version and their parts, so
    /// a reload with nothing changed is a 304 as for the shared page. None
    /// when the entry has no segments (or `parts` names one it lacks).
    pub fn respond_personal(
        &self,
        req: &HttpRequest,
        parts: &[segments::Part],
    ) -> Option<HttpResponse> {
        use std::hash::{Hash, Hasher};
        let segments = self.segments.as_ref()?;
        let gzip = crate::encoded::accepts(req, "gzip");
        // Their parts' CRCs go into the ETag (no second pass over their
        // text) and into the gzip trailer.
        let theirs: Vec<u32> = parts
            .iter()
            .filter_map(|part| match part {
                segments::Part::Theirs(text) => Some(segments::theirs_crc(text)),
                segments::Part::Shared(_) => None,
            })
            .collect();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash.hash(&mut hasher);
        // Runs of consecutive shared pieces go in as (first, length): a
        // hundred comments are one run, not a hundred writes.
        let mut crcs = theirs.iter();
        let mut run: Option<(usize, usize)> = None;
        for part in parts {
            match part {
                segments::Part::Shared(i) => {
                    run = match run {
                        Some((first, len)) if first + len == *i => Some((first, len + 1)),
                        Some(done) => {
                            (0u8, done).hash(&mut hasher);
                            Some((*i, 1))
                        }
                        None => Some((*i, 1)),
                    }
                }
                segments::Part::Theirs(text) => {
                    if let Some(done) = run.take() {
                        (0u8, done).hash(&mut hasher);
                    }
                    (1u8, text.len(), crcs.next()).hash(&mut hasher)
                }
            }
        }
        if let Some(done) = run {
            (0u8, done).hash(&mut hasher);
        }
        let etag = format!(
            "\"{:016x}-p{}\"",
            hasher.finish(),
            if gzip { "-gz" } else { "" }
        );
        let cache_control = crate::encoded::Caching::Private.header();
        if crate::encoded::if_none_match(req, &etag) {
            return Some(
                HttpResponse::NotModified()
                    .insert_header((header::ETAG, etag))
                    .insert_header((header::CACHE_CONTROL, cache_control))
                    .insert_header((header::VARY, "Accept-Encoding"))
                    .finish(),
            );
        }
        let body = if gzip {
            segments.gzip(self.body.plain(), parts, &theirs)?
        } else {
            segments.plain(self.body.plain(), parts)?
        };
        let mut res = HttpResponse::Ok();
        res.insert_header((
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(self.body.content_type),
        ))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Accept-Encoding"));
        if gzip {
            res.insert_header((header::CONTENT_ENCODING, "gzip"));
        }
        Some(res.body(body))
    }

    /// What this entry remembers for the reader `key`, if anything.
    pub fn reader_part<T: std::any::Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        let part = self.readers.lock().ok()?.get(key).cloned()?;
        part.downcast::<T>().ok()
    }

    /// Remembers `part` for the reader `key` while this entry lives (for
    /// [`READERS_PER_ENTRY`] readers at most; past that, nothing more).
    pub fn keep_reader_part<T: std::any::Any + Send + Sync>(&self, key: String, part: Arc<T>) {
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < READERS_PER_ENTRY || readers.contains_key(&key) {
                readers.insert(key, part);
            }
        }
    }

    /// The bytes as rendered (for tests and benchmarks).
    pub fn plain(&self) -> &Bytes {
        self.body.plain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(key: &str, body: String, now: DateTime<Utc>) -> NewPage {
        NewPage {
            key: key.to_string(),
            body,
            volatile: None,
            content_type: super::super::HTML,
            cache_control: "no-store",
            depends: Depends::Content,
            content_generation: 0,
            now,
            listed: None,
            cuts: None,
        }
    }

    /// Distinct text, so compression cannot make it small.
    fn body(n: usize, len: usize) -> String {
        let mut s = String::with_capacity(len + 32);
        let mut x = n as u64 + 1;
        while s.len() < len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push_str(&format!("{:x} ", x >> 20));
        }
        s
    }

    #[test]
    fn many_distinct_searches_stay_within_the_byte_bound() {
        let max = 256 * 1024;
        let cache = PageCache::new(max);
        let now = Utc::now();
        // The home page, read between searches, stays.
        cache.store(page("/?page=1", body(0, 8 * 1024), now));
        for n in 1..=500 {
            cache.store(page(
                &format!("/search?q=word+{n}&page=1"),
                body(n, 8 * 1024),
                now,
            ));
            assert!(
                cache.bytes() <= max,
                "{} bytes after {n} searches",
                cache.bytes()
            );
            assert!(matches!(cache.lookup("/?page=1", 0, now), Lookup::Hit(_)));
        }
        // Evicted down to three quarters, not emptied: recent searches stay.
        assert!(cache.len() >= 10, "{} entries", cache.len());
        assert!(cache.len() < 500 / 4, "{} entries", cache.len());
        assert!(matches!(
            cache.lookup("/search?q=word+500&page=1", 0, now),
            Lookup::Hit(_)
        ));
        assert!(matches!(
            cache.lookup("/search?q=word+1&page=1", 0, now),
            Lookup::Miss
        ));
    }

    #[test]
    fn bytes_follow_replacements_and_invalidation() {
        let cache = PageCache::new(DEFAULT_MAX_BYTES);
        let now = Utc::now();
        cache.store(page("/a", body(1, 4096), now));
        let one = cache.bytes();
        cache.store(page("/a", body(2, 4096), now));
        assert_eq!(cache.len(), 1);
        assert!(
            cache.bytes().abs_diff(one) < 1024,
            "{} vs {one}",
            cache.bytes()
        );
        let mut other = page("/articles/x?cpage=1", body(3, 4096), now);
        other.depends = Depends::CommentsOf("x".into());
        cache.store(other);
        assert!(cache.bytes() > one);
        cache.comments_changed("x");
        assert_eq!(cache.len(), 1);
        assert!(cache.bytes().abs_diff(one) < 1024);
        cache.all_comments_changed();
        assert_eq!(cache.len(), 1);
    }
}
