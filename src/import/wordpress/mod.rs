//! `kintsugi import wordpress EXPORT.xml [--media DIR] [--dry-run] [--overwrite]`
//!
//! Two streaming passes over the export, so memory holds an index of the
//! posts and pictures (a few hundred bytes each) and one item at a time:
//!
//! 1. **Index**: every post, page and attachment (ids, slugs, links,
//!    dates), the authors and terms; the whole file is checked here (not
//!    WXR, truncated, bad dates), so a bad file writes nothing.
//! 2. **Write**: each post or page becomes a Markdown file, its pictures
//!    are copied into `content/media/`, its comments are stored in one
//!    transaction per post, and the old addresses go into
//!    `content/redirects.toml`.
//!
//! WordPress ids are kept in the `import_map` table, so running it again
//! (or on a newer export of the same site) adds only what is new.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

use crate::content::markdown::slugify;
use crate::content::media::{self, ImageKind};
use crate::content::redirects::RedirectMap;
use crate::db::{self, comments as stored, imports, Pool};

mod error;
pub mod html;
pub mod wxr;

pub use error::ImportError;

use html::{Resolver, NOTE_END, NOTE_START};
use wxr::{Channel, Item};

/// How to run an import.
#[derive(Debug, Clone)]
pub struct Options {
    pub export: PathBuf,
    pub content_dir: PathBuf,
    /// A copy of the old site's `wp-content/uploads`.
    pub media: Option<PathBuf>,
    pub dry_run: bool,
    pub overwrite: bool,
}

/// What an import did (or would do, in a dry run).
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub articles: usize,
    pub drafts: usize,
    pub scheduled: usize,
    pub pages: usize,
    pub comments: usize,
    pub pending: usize,
    pub spam: usize,
    pub trash: usize,
    pub coach_replies: usize,
    pub pings_skipped: usize,
    pub comments_known: usize,
    pub images: usize,
    pub redirects: usize,
    pub unchanged: usize,
    /// `file:line: what` for everything left out or changed on the way.
    pub notes: Vec<String>,
    /// Things done in a dry run (`would write …`), in order.
    pub actions: Vec<String>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn summary(&self, dry_run: bool) -> String {
        let verb = if dry_run { "Would import" } else { "Imported" };
        let mut extra = Vec::new();
        if self.drafts > 0 {
            extra.push(format!("{} draft{}", self.drafts, plural(self.drafts)));
        }
        if self.scheduled > 0 {
            extra.push(format!("{} scheduled", self.scheduled));
        }
        let articles = if extra.is_empty() {
            format!("{} article{}", self.articles, plural(self.articles))
        } else {
            format!(
                "{} article{} ({})",
                self.articles,
                plural(self.articles),
                extra.join(", ")
            )
        };
        let mut about = Vec::new();
        if self.pending > 0 {
            about.push(format!("{} pending", self.pending));
        }
        if self.spam > 0 {
            about.push(format!("{} spam", self.spam));
        }
        if self.trash > 0 {
            about.push(format!("{} trash", self.trash));
        }
        if self.coach_replies > 0 {
            about.push(format!("{} by the coach", self.coach_replies));
        }
        let mut comments = format!("{} comment{}", self.comments, plural(self.comments));
        let mut inside = about.join(", ");
        if self.pings_skipped > 0 {
            if !inside.is_empty() {
                inside.push_str("; ");
            }
            inside.push_str(&format!(
                "{} pingback{} skipped",
                self.pings_skipped,
                plural(self.pings_skipped)
            ));
        }
        if !inside.is_empty() {
            comments.push_str(&format!(" ({inside})"));
        }
        let mut line = format!(
            "{verb} {articles}, {} page{}, {comments}, {} image{}, {} redirect{}",
            self.pages,
            plural(self.pages),
            self.images,
            plural(self.images),
            self.redirects,
            plural(self.redirects)
        );
        if self.unchanged > 0 || self.comments_known > 0 {
            line.push_str(&format!(
                "; already imported before: {} file{}, {} comment{}",
                self.unchanged,
                plural(self.unchanged),
                self.comments_known,
                plural(self.comments_known)
            ));
        }
        line.push('.');
        line
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A post or page as the first pass saw it.
#[derive(Debug, Clone)]
struct Entry {
    id: i64,
    page: bool,
    status: String,
    /// `post_name`, percent-decoded.
    wp_slug: String,
    title: String,
    /// The path of `<link>` (readers' address) when the post was public.
    link_path: Option<String>,
    date: DateTime<FixedOffset>,
    old_slugs: Vec<String>,
    /// Assigned after the first pass.
    slug: String,
}

impl Entry {
    fn imported(&self) -> bool {
        matches!(
            self.status.as_str(),
            "publish" | "draft" | "pending" | "private" | "future"
        )
    }
    fn public(&self) -> bool {
        self.status == "publish"
    }
    fn url(&self) -> String {
        if self.page {
            format!("/{}", self.slug)
        } else {
            format!("/articles/{}", self.slug)
        }
    }
    fn content_link(&self) -> String {
        if self.page {
            format!("@/pages/{}.md", self.slug)
        } else {
            format!("@/articles/{}.md", self.slug)
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Attachment {
    /// Path under the uploads folder (`2024/05/x.jpg`).
    rel: String,
    alt: String,
    caption: String,
    title: String,
    link_path: Option<String>,
}

/// Everything the first pass learned.
#[derive(Default)]
struct Index {
    channel: Channel,
    entries: Vec<Entry>,
    by_id: HashMap<i64, usize>,
    attachments: HashMap<i64, Attachment>,
    /// Attachment by its path under uploads.
    attachment_by_rel: HashMap<String, i64>,
    /// Readers' old paths (normalised) to entries.
    by_path: HashMap<String, usize>,
    /// Post ids with a featured image.
    thumbnails: HashMap<i64, i64>,
    /// Category term ids and tag slugs, for redirects.
    used_terms: HashSet<(String, String)>,
    /// Authors who wrote posts, by login: how many.
    post_authors: HashMap<String, usize>,
}

/// Names the site's own routes use: a page cannot have them.
const RESERVED_PAGES: &[&str] = &[
    "articles",
    "tags",
    "search",
    "coaching",
    "admin",
    "static",
    "media",
    "images",
    "requests",
    "comments",
    "notifications",
    "healthz",
    "readyz",
    "metrics",
    "feed",
    "sitemap",
    "robots",
];

/// Runs the import and returns its report. `pool` is `None` in a dry run
/// without a database (then every comment counts as new).
pub async fn run(options: &Options, pool: Option<&Pool>) -> Result<Report, ImportError> {
    let mut report = Report::default();
    if !options.export.is_file() {
        return Err(ImportError::plain(format!(
            "there is no file {}",
            options.export.display()
        )));
    }
    if !wxr::looks_like_xml(&options.export) {
        return Err(ImportError::plain(format!(
            "{} is not an XML file; a WordPress export (Tools → Export) is one",
            options.export.display()
        )));
    }
    if let Some(media) = &options.media {
        if !media.is_dir() {
            return Err(ImportError::plain(format!(
                "the media folder {} does not exist (it should be a copy of the old site's wp-content/uploads)",
                media.display()
            )));
        }
    }
    // The redirect file is added to at the end: a broken one stops the
    // import now, before anything is written.
    if let Ok(text) = std::fs::read_to_string(options.content_dir.join("redirects.toml")) {
        let (_, problems) = RedirectMap::parse_keeping_good_entries(&text);
        if let Some(p) = problems.first() {
            return Err(ImportError::plain(format!(
                "content/redirects.toml:{}: {}; fix it and import again",
                p.line, p.message
            )));
        }
    }
    let export = options.export.clone();
    let mut index = tokio::task::spawn_blocking(move || first_pass(&export))
        .await
        .map_err(|e| ImportError::plain(e.to_string()))??;
    let version = index.channel.wxr_version.clone();
    if !matches!(version.as_str(), "1.0" | "1.1" | "1.2") {
        report.warnings.push(format!(
            "this export says WXR version {version}; versions 1.0 to 1.2 are known, trying anyway"
        ));
    }
    let source = source_of(&index.channel);
    let mapped = match pool {
        Some(pool) => {
            let source = source.clone();
            match db::run(pool, move |conn| imports::mapped_posts(conn, &source)).await {
                Ok(mapped) => mapped,
                // A dry run on a database older than the import: nothing
                // was imported before.
                Err(_) if options.dry_run => Vec::new(),
                Err(e) => return Err(ImportError::plain(format!("cannot read the database: {e}"))),
            }
        }
        None => Vec::new(),
    };
    assign_slugs(&mut index, &mapped, &mut report);
    let options = options.clone();
    let pool = pool.cloned();
    tokio::task::spawn_blocking(move || {
        let mut conn = match &pool {
            Some(pool) => match pool.get() {
                Ok(conn) => Some(conn),
                // A dry run can do without: every comment then counts as new.
                Err(_) if options.dry_run => None,
                Err(e) => {
                    return Err(ImportError::plain(format!(
                        "cannot reach the database: {e}"
                    )))
                }
            },
            None => None,
        };
        second_pass(
            &options,
            conn.as_deref_mut(),
            &index,
            &source,
            &mapped,
            &mut report,
        )?;
        Ok(report)
    })
    .await
    .map_err(|e| ImportError::plain(e.to_string()))?
}

/// Which site an export is from, for the id map.
fn source_of(channel: &Channel) -> String {
    let base = if channel.base_blog_url.is_empty() {
        &channel.base_site_url
    } else {
        &channel.base_blog_url
    };
    let host = host_of(base).unwrap_or_default();
    format!("wordpress {host}")
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    Some(host.trim_start_matches("www.").to_ascii_lowercase())
}

/// Percent-decodes (WordPress stores non-Latin slugs encoded).
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&crate::content::redirects::percent_decode(s.as_bytes())).into_owned()
}

/// The path of an address on the old site, normalised for matching:
/// decoded, lower case, no trailing slash (`/` stays `/`).
fn path_key(path: &str) -> String {
    let decoded = percent_decode(path).to_lowercase();
    let trimmed = decoded.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

/// Splits an old-site address into (path, query) when it is on the old
/// site (or site-relative).
fn old_site_path(url: &str, site_host: &str) -> Option<(String, String)> {
    let url = url.trim();
    let rest = if let Some(r) = url.strip_prefix("//") {
        Some(r)
    } else {
        url.split_once("://").map(|(scheme, r)| {
            let _ = scheme;
            r
        })
    };
    let path_and_query = match rest {
        Some(rest) => {
            let (host, tail) = match rest.find(['/', '?', '#']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let host = host
                .rsplit_once('@')
                .map(|(_, h)| h)
                .unwrap_or(host)
                .trim_start_matches("www.")
                .to_ascii_lowercase();
            let host = host.split(':').next().unwrap_or("").to_string();
            if host != site_host {
                return None;
            }
            tail.to_string()
        }
        None if url.starts_with('/') || url.starts_with('?') => url.to_string(),
        None => return None,
    };
    let without_fragment = path_and_query.split('#').next().unwrap_or("");
    let (path, query) = match without_fragment.split_once('?') {
        Some((p, q)) => (p, q),
        None => (without_fragment, ""),
    };
    let path = if path.is_empty() { "/" } else { path };
    Some((path.to_string(), query.to_string()))
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `YYYY-MM-DD HH:MM:SS` date; `None` for WordPress's zero date.
fn wp_date(text: &str) -> Result<Option<NaiveDateTime>, ()> {
    let text = text.trim();
    if text.is_empty() || text.starts_with("0000-00-00") {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .map(Some)
        .map_err(|_| ())
}

/// The site's offset at a moment: local minus UTC, in whole minutes.
fn offset_between(local: NaiveDateTime, utc: NaiveDateTime) -> Option<FixedOffset> {
    let minutes = (local - utc).num_minutes();
    if minutes.abs() > 14 * 60 {
        return None;
    }
    FixedOffset::east_opt((minutes * 60) as i32)
}

fn bad_date(line: usize, what: &str, value: &str) -> ImportError {
    ImportError::at(
        line,
        format!("{what} `{value}` is not a date like 2024-05-14 09:30:00"),
    )
}

/// A post's date with the site's offset at that time.
fn entry_date(item: &Item) -> Result<DateTime<FixedOffset>, ImportError> {
    let local = wp_date(&item.post_date)
        .map_err(|_| bad_date(item.line, "the post date", &item.post_date))?;
    let gmt = wp_date(&item.post_date_gmt)
        .map_err(|_| bad_date(item.line, "the post date (GMT)", &item.post_date_gmt))?;
    let modified = wp_date(&item.post_modified)
        .map_err(|_| bad_date(item.line, "the modified date", &item.post_modified))?;
    let modified_gmt = wp_date(&item.post_modified_gmt).map_err(|_| {
        bad_date(
            item.line,
            "the modified date (GMT)",
            &item.post_modified_gmt,
        )
    })?;
    let offset = match (local, gmt) {
        (Some(l), Some(g)) => offset_between(l, g),
        _ => None,
    }
    .or_else(|| match (modified, modified_gmt) {
        (Some(l), Some(g)) => offset_between(l, g),
        _ => None,
    })
    .unwrap_or_else(|| chrono::Offset::fix(&Utc));
    let local = local
        .or(modified)
        .ok_or_else(|| ImportError::at(item.line, "the post has no date".into()))?;
    offset
        .from_local_datetime(&local)
        .single()
        .ok_or_else(|| bad_date(item.line, "the post date", &item.post_date))
}

fn modified_date(item: &Item) -> Option<DateTime<FixedOffset>> {
    let local = wp_date(&item.post_modified).ok().flatten()?;
    let gmt = wp_date(&item.post_modified_gmt).ok().flatten()?;
    let offset = offset_between(local, gmt)?;
    offset.from_local_datetime(&local).single()
}

/// The part of an uploads address under `wp-content/uploads/`.
fn uploads_rel(url: &str) -> Option<String> {
    let marker = "/wp-content/uploads/";
    let at = url.find(marker)?;
    let mut rel = &url[at + marker.len()..];
    // Multisite: uploads/sites/N/…
    if let Some(rest) = rel.strip_prefix("sites/") {
        if let Some((n, tail)) = rest.split_once('/') {
            if n.chars().all(|c| c.is_ascii_digit()) {
                rel = tail;
            }
        }
    }
    let rel = rel.split(['?', '#']).next().unwrap_or("");
    let rel = percent_decode(rel);
    let safe = !rel.is_empty()
        && rel
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.starts_with('.'));
    safe.then_some(rel)
}

/// `photo-300x200.jpg` → `photo.jpg` (WordPress's resized copies).
fn without_size_suffix(rel: &str) -> Option<String> {
    let (stem, ext) = rel.rsplit_once('.')?;
    let (base, size) = stem.rsplit_once('-')?;
    let (w, h) = size.split_once('x')?;
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    (digits(w) && digits(h)).then(|| format!("{base}.{ext}"))
}

fn first_pass(export: &Path) -> Result<Index, ImportError> {
    let mut index = Index::default();
    let channel = wxr::read(export, |item, channel| {
        let site_host = host_of(&channel.base_blog_url)
            .or_else(|| host_of(&channel.base_site_url))
            .or_else(|| host_of(&channel.link))
            .unwrap_or_default();
        match item.post_type.as_str() {
            "post" | "page" => {
                if item.status == "auto-draft" || item.status == "inherit" {
                    return Ok(());
                }
                let date = entry_date(&item)?;
                for c in &item.comments {
                    wp_date(&c.date)
                        .map_err(|_| bad_date(item.line, "a comment's date", &c.date))?;
                    wp_date(&c.date_gmt)
                        .map_err(|_| bad_date(item.line, "a comment's date (GMT)", &c.date_gmt))?;
                }
                let public = item.status == "publish";
                let link_path = if public {
                    old_site_path(&item.link, &site_host).map(|(p, _)| p)
                } else {
                    None
                };
                let entry = Entry {
                    id: item.post_id,
                    page: item.post_type == "page",
                    status: if !item.post_password.is_empty() && item.status == "publish" {
                        "private".into()
                    } else {
                        item.status.clone()
                    },
                    wp_slug: percent_decode(&item.post_name),
                    title: html::plain_text(&item.title),
                    link_path: link_path.clone(),
                    date,
                    old_slugs: item.metas("_wp_old_slug").map(percent_decode).collect(),
                    slug: String::new(),
                };
                if let Some(thumb) = item
                    .meta("_thumbnail_id")
                    .and_then(|t| t.trim().parse().ok())
                {
                    index.thumbnails.insert(item.post_id, thumb);
                }
                if entry.imported() && !entry.page {
                    *index.post_authors.entry(item.creator.clone()).or_default() += 1;
                }
                if entry.public() {
                    for t in &item.terms {
                        index
                            .used_terms
                            .insert((t.domain.clone(), t.nicename.clone()));
                    }
                }
                let at = index.entries.len();
                index.by_id.insert(item.post_id, at);
                if let Some(path) = &link_path {
                    index.by_path.entry(path_key(path)).or_insert(at);
                }
                index.entries.push(entry);
            }
            "attachment" => {
                let url = if item.attachment_url.is_empty() {
                    item.meta("_wp_attached_file")
                        .map(|f| format!("/wp-content/uploads/{f}"))
                        .unwrap_or_default()
                } else {
                    item.attachment_url.clone()
                };
                let Some(rel) = uploads_rel(&url) else {
                    return Ok(());
                };
                let link_path = old_site_path(&item.link, &site_host)
                    .map(|(p, _)| p)
                    .filter(|p| uploads_rel(p).is_none());
                index.attachment_by_rel.insert(rel.clone(), item.post_id);
                index.attachments.insert(
                    item.post_id,
                    Attachment {
                        rel,
                        alt: item
                            .meta("_wp_attachment_image_alt")
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                        caption: html::plain_text(&item.excerpt),
                        title: html::plain_text(&item.title),
                        link_path,
                    },
                );
            }
            _ => {}
        }
        Ok(())
    })?;
    index.channel = channel;
    Ok(index)
}

/// A slug Kintsugi accepts (lower-case ASCII letters, digits, hyphens),
/// from WordPress's (which may hold any letter): accents are folded,
/// other scripts dropped.
fn ascii_slug(text: &str) -> String {
    let mut folded = String::new();
    for c in text.chars() {
        let s: &str = match c {
            'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' => {
                "a"
            }
            'ä' | 'Ä' | 'æ' | 'Æ' => "ae",
            'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => "c",
            'ď' | 'đ' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' => {
                "e"
            }
            'ğ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
            'ł' | 'Ł' | 'ľ' => "l",
            'ñ' | 'ń' | 'ň' | 'Ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'ō' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' => {
                "o"
            }
            'ö' | 'Ö' | 'œ' | 'Œ' => "oe",
            'ř' => "r",
            'ś' | 'š' | 'ş' | 'Ś' | 'Š' => "s",
            'ß' => "ss",
            'ť' | 'ţ' => "t",
            'ù' | 'ú' | 'û' | 'ū' | 'ů' | 'ű' | 'Ù' | 'Ú' | 'Û' => "u",
            'ü' | 'Ü' => "ue",
            'ý' | 'ÿ' | 'Ý' => "y",
            'ž' | 'ź' | 'ż' | 'Ž' => "z",
            _ => {
                folded.push(c);
                continue;
            }
        };
        folded.push_str(s);
    }
    let mut out = String::new();
    let mut dash = false;
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else if c != '\'' && c != '’' {
            dash = true;
        }
    }
    out.chars()
        .take(80)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Gives every imported post and page its slug: the one a previous import
/// gave it, else WordPress's (folded to ASCII), else one from the title.
/// Two posts with one slug: the earliest keeps it, later ones get their
/// year, then a number (reported).
fn assign_slugs(index: &mut Index, mapped: &[imports::Mapped], report: &mut Report) {
    let previous: HashMap<i64, String> = mapped
        .iter()
        .map(|m| (m.old_id, m.new_key.clone()))
        .collect();
    let mut taken: HashSet<(bool, String)> = HashSet::new();
    for e in &index.entries {
        if let Some(slug) = previous.get(&e.id) {
            taken.insert((e.page, slug.clone()));
        }
    }
    let mut order: Vec<usize> = (0..index.entries.len())
        .filter(|i| index.entries[*i].imported())
        .collect();
    order.sort_by_key(|i| (index.entries[*i].date, index.entries[*i].id));
    for i in order {
        let e = &index.entries[i];
        if let Some(slug) = previous.get(&e.id) {
            index.entries[i].slug = slug.clone();
            continue;
        }
        let mut base = ascii_slug(e.wp_slug.trim_end_matches("__trashed"));
        if base.is_empty() {
            base = ascii_slug(&e.title);
        }
        if base.is_empty() {
            base = format!("{}-{}", if e.page { "page" } else { "post" }, e.id);
        }
        if e.page && RESERVED_PAGES.contains(&base.as_str()) {
            base = format!("{base}-page");
        }
        let mut slug = base.clone();
        if taken.contains(&(e.page, slug.clone())) {
            slug = format!("{base}-{}", e.date.format("%Y"));
            let mut n = 2;
            while taken.contains(&(e.page, slug.clone())) {
                slug = format!("{base}-{n}");
                n += 1;
            }
            report.notes.push(format!(
                "{} {} \"{}\" has the slug `{base}` of an earlier one: it becomes `{slug}` (its old address redirects there)",
                if e.page { "page" } else { "post" },
                e.id,
                e.title
            ));
        }
        taken.insert((e.page, slug.clone()));
        index.entries[i].slug = slug;
    }
}

/// The second pass's state: what it resolves links and pictures with.
struct Writer<'a> {
    options: &'a Options,
    index: &'a Index,
    site_host: String,
    /// Pictures copied (or found already there) by path under uploads.
    copied: HashMap<String, Result<String, String>>,
    /// Files written (or, in a dry run, that would be): a resized copy's
    /// address and the original's are one file.
    copied_names: HashSet<String>,
    report_images: usize,
    actions: Vec<String>,
}

impl Writer<'_> {
    /// Copies one upload into `content/media/` (once), checking by content
    /// that it is a picture; its `@/media/…` path, or why not.
    fn media(&mut self, rel: &str) -> Result<String, String> {
        if let Some(done) = self.copied.get(rel) {
            return done.clone();
        }
        let result = self.copy_media(rel);
        self.copied.insert(rel.to_string(), result.clone());
        result
    }

    fn copy_media(&mut self, rel: &str) -> Result<String, String> {
        let Some(media) = &self.options.media else {
            return Err(format!(
                "the picture wp-content/uploads/{rel} was left out: give the old site's uploads folder with --media"
            ));
        };
        // A resized copy WordPress made (`-300x200`) is not needed: the
        // original is, and Kintsugi makes its own smaller sizes.
        let candidates: Vec<String> = match without_size_suffix(rel) {
            Some(original) => vec![original, rel.to_string()],
            None => vec![rel.to_string()],
        };
        let Some((found, path)) = candidates
            .iter()
            .map(|c| (c.clone(), media.join(c)))
            .find(|(_, p)| p.is_file())
        else {
            return Err(format!(
                "the picture wp-content/uploads/{rel} is not in {}: left out",
                media.display()
            ));
        };
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read {}: {e}; left out", path.display()))?;
        let Some(kind) = ImageKind::sniff(&bytes) else {
            return Err(format!(
                "wp-content/uploads/{found} is not a JPEG, PNG, WebP or GIF picture (it looks like {}): left out",
                media::looks_like(&bytes)
            ));
        };
        // Photos can hold where they were taken (EXIF GPS): not published.
        let bytes = if kind == ImageKind::Jpeg {
            media::strip_jpeg_metadata(&bytes).unwrap_or(bytes)
        } else {
            bytes
        };
        let name = media_name(&found);
        let target = self.options.content_dir.join("media").join(&name);
        let md = format!("@/media/{name}");
        if target.is_file() || !self.copied_names.insert(name.clone()) {
            return Ok(md);
        }
        if self.options.dry_run {
            self.actions
                .push(format!("would copy {}", target.display()));
        } else {
            write_file(&target, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
        self.report_images += 1;
        Ok(md)
    }

    fn entry_for(&self, path: &str, query: &str) -> Option<&Entry> {
        let by_id = |id: &str| {
            id.parse::<i64>()
                .ok()
                .and_then(|id| self.index.by_id.get(&id))
                .map(|i| &self.index.entries[*i])
        };
        if path == "/" || path.ends_with("/index.php") {
            if let Some(e) = query_param(query, "p").and_then(by_id) {
                return Some(e);
            }
            if let Some(e) = query_param(query, "page_id").and_then(by_id) {
                return Some(e);
            }
        }
        let key = path_key(path);
        if let Some(i) = self.index.by_path.get(&key) {
            return Some(&self.index.entries[*i]);
        }
        // `/slug` without its date: WordPress finds the post by its name.
        let last = key.rsplit('/').next().unwrap_or("");
        if key.matches('/').count() == 1 && !last.is_empty() {
            return self
                .index
                .entries
                .iter()
                .filter(|e| e.imported() && !e.page)
                .find(|e| e.wp_slug.to_lowercase() == last);
        }
        None
    }
}

impl Resolver for Writer<'_> {
    fn link(&mut self, href: &str) -> String {
        let Some((path, query)) = old_site_path(href, &self.site_host) else {
            return href.to_string();
        };
        let fragment = href.split_once('#').map(|(_, f)| f.to_string());
        if let Some(e) = self.entry_for(&path, &query) {
            if e.imported() {
                let link = e.content_link();
                return match fragment {
                    Some(f) if !f.is_empty() => format!("{link}#{f}"),
                    _ => link,
                };
            }
        }
        if let Some(rel) = uploads_rel(&path) {
            if sniff_name_is_image(&rel) {
                if let Ok(md) = self.media(&rel) {
                    return md.replacen("@/", "/", 1);
                }
            }
            return href.to_string();
        }
        // Another address on the old site (a category, an archive): keep
        // it on this site, where the redirects answer for it.
        let mut local = path;
        if !query.is_empty() {
            local.push('?');
            local.push_str(&query);
        }
        local
    }

    fn image(&mut self, src: &str) -> Result<(String, Option<String>), String> {
        let on_site = old_site_path(src, &self.site_host).is_some();
        let rel = if on_site { uploads_rel(src) } else { None };
        let Some(rel) = rel else {
            return Err(format!(
                "a picture from another site ({}) was left out: readers' browsers would fetch it from there",
                html_short(src)
            ));
        };
        let md = self.media(&rel)?;
        let original = without_size_suffix(&rel).unwrap_or_else(|| rel.clone());
        let alt = [&original, &rel]
            .iter()
            .find_map(|r| self.index.attachment_by_rel.get(*r))
            .and_then(|id| self.index.attachments.get(id))
            .map(|a| {
                [&a.alt, &a.caption, &a.title]
                    .into_iter()
                    .find(|s| !s.trim().is_empty())
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| humanised_name(&original));
        Ok((md, Some(alt)))
    }

    fn gallery(&mut self, ids: &[i64]) -> Vec<(String, String, String)> {
        ids.iter()
            .filter_map(|id| self.index.attachments.get(id))
            .map(|a| {
                (
                    format!("/wp-content/uploads/{}", a.rel),
                    a.alt.clone(),
                    a.caption.clone(),
                )
            })
            .collect()
    }
}

fn html_short(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

fn sniff_name_is_image(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".webp", ".gif"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// `evening-walk_2.jpg` → "evening walk 2" (alt text of last resort,
/// reported so the coach can describe the picture).
fn humanised_name(rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
    stem.replace(['-', '_'], " ").trim().to_string()
}

/// A path under `content/media/` the site serves: each part of the
/// uploads path in plain ASCII letters, digits, `.`, `_` and `-` (WordPress
/// keeps accents and spaces that some uploads have).
fn media_name(rel: &str) -> String {
    rel.split('/')
        .map(|part| {
            let (stem, ext) = match part.rsplit_once('.') {
                Some((s, e)) if !s.is_empty() => (s, Some(e)),
                _ => (part, None),
            };
            let keep = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
            let stem = if stem.chars().all(keep) {
                stem.to_string()
            } else {
                match ascii_slug(stem) {
                    s if s.is_empty() => "picture".to_string(),
                    s => s,
                }
            };
            match ext {
                Some(e) => format!("{stem}.{}", e.to_ascii_lowercase()),
                None => stem,
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes a file whole or not at all (a temporary file renamed into
/// place), creating its folder.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!(
        "{}.importing",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Finds the notes' markers in the written text: `file:line: note` each,
/// and the text without them.
fn place_notes(markdown: &str, notes: &[String], file: &str, out: &mut Vec<String>) -> String {
    let mut clean = String::with_capacity(markdown.len());
    let mut line = 1;
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        if c == NOTE_START {
            let mut n = String::new();
            for d in chars.by_ref() {
                if d == NOTE_END {
                    break;
                }
                n.push(d);
            }
            if let Some(note) = n.parse::<usize>().ok().and_then(|i| notes.get(i)) {
                out.push(format!("{file}:{line}: {note}"));
            }
            continue;
        }
        if c == '\n' {
            line += 1;
        }
        clean.push(c);
    }
    // A block that was only a marker leaves a gap: close it up.
    // A line break left dangling where a marker was (`text\` then
    // nothing) is taken off too.
    let lines: Vec<&str> = clean.split('\n').collect();
    let mut tidy = String::with_capacity(clean.len());
    let mut blank_run = 0;
    for (i, l) in lines.iter().enumerate() {
        let mut l = l.trim_end();
        let next_blank = lines.get(i + 1).is_none_or(|n| n.trim().is_empty());
        if next_blank && l.ends_with('\\') && !l.ends_with("\\\\") {
            l = l[..l.len() - 1].trim_end();
        }
        if l.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        tidy.push_str(l);
        tidy.push('\n');
    }
    tidy.trim().to_string()
}

#[allow(clippy::too_many_arguments)]
fn second_pass(
    options: &Options,
    mut conn: Option<&mut db::Db>,
    index: &Index,
    source: &str,
    mapped: &[imports::Mapped],
    report: &mut Report,
) -> Result<(), ImportError> {
    let channel = &index.channel;
    let site_host = host_of(&channel.base_blog_url)
        .or_else(|| host_of(&channel.base_site_url))
        .or_else(|| host_of(&channel.link))
        .unwrap_or_default();
    let previously: HashSet<i64> = mapped.iter().map(|m| m.old_id).collect();
    // The coach: the author of most posts. Their replies get the badge,
    // and other authors' posts say who wrote them.
    let coach_login = index
        .post_authors
        .iter()
        .max_by_key(|(login, n)| (**n, std::cmp::Reverse((*login).clone())))
        .map(|(l, _)| l.clone())
        .unwrap_or_default();
    let authors: HashMap<&str, &wxr::Author> = channel
        .authors
        .iter()
        .map(|a| (a.login.as_str(), a))
        .collect();
    let author_ids: HashSet<i64> = channel.authors.iter().map(|a| a.id).collect();
    let author_emails: HashSet<String> = channel
        .authors
        .iter()
        .map(|a| a.email.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    let coach = authors.get(coach_login.as_str()).copied();
    let mut writer = Writer {
        options,
        index,
        site_host: site_host.clone(),
        copied: HashMap::new(),
        copied_names: HashSet::new(),
        report_images: 0,
        actions: Vec::new(),
    };
    let now = Utc::now();
    let mut redirects: BTreeMap<String, String> = BTreeMap::new();
    // Entries whose comments go into the database: written now, or
    // written by an earlier import.
    let mut comment_targets: HashMap<i64, String> = HashMap::new();
    let mut pages_written: HashSet<String> = HashSet::new();

    let export = options.export.clone();
    let mut failure: Option<ImportError> = None;
    wxr::read(&export, |item, _| {
        if failure.is_some() {
            return Ok(());
        }
        if item.post_type == "attachment" {
            if let Some(a) = index.attachments.get(&item.post_id) {
                let copied = writer.media(&a.rel);
                match copied {
                    Ok(md) => {
                        let url = md.replacen("@/", "/", 1);
                        redirects.insert(format!("/?attachment_id={}", item.post_id), url.clone());
                        if let Some(p) = &a.link_path {
                            redirects.insert(p.clone(), url);
                        }
                    }
                    Err(why) => report
                        .notes
                        .push(format!("{}: {why}", export_name(options))),
                }
            }
            return Ok(());
        }
        if item.post_type != "post" && item.post_type != "page" {
            return Ok(());
        }
        let Some(entry) = index.by_id.get(&item.post_id).map(|i| &index.entries[*i]) else {
            return Ok(());
        };
        if !entry.imported() {
            if entry.status == "trash" {
                report.notes.push(format!(
                    "{}: post {} \"{}\" is in the trash: skipped, with its {} comment(s)",
                    export_name(options),
                    entry.id,
                    entry.title,
                    item.comments.len()
                ));
            }
            return Ok(());
        }
        let folder = if entry.page { "pages" } else { "articles" };
        let rel_file = format!("{folder}/{}.md", entry.slug);
        let file = options.content_dir.join(&rel_file);
        let shown = format!("content/{rel_file}");
        let known = previously.contains(&entry.id);
        let exists = file.exists();
        let write = if known && exists && !options.overwrite {
            report.unchanged += 1;
            false
        } else if exists && !options.overwrite {
            report.notes.push(format!(
                "{shown}: already exists, not overwritten (\"{}\" from WordPress skipped; use --overwrite to replace it)",
                entry.title
            ));
            false
        } else {
            true
        };
        if write {
            match render_entry(
                &mut writer,
                &item,
                entry,
                index,
                coach_login.as_str(),
                &authors,
                &shown,
                report,
            ) {
                Ok(text) => {
                    // The id map first, then the file: a run stopped
                    // between the two finds the post mapped but its file
                    // missing, and writes it (the other order would find an
                    // unknown file in the way and skip the post for good).
                    if let Some(conn) = conn.as_deref_mut().filter(|_| !options.dry_run) {
                        if let Err(e) = imports::record_post(
                            conn,
                            source,
                            entry.id,
                            &entry.slug,
                            now.naive_utc(),
                        ) {
                            failure = Some(ImportError::part_way(format!(
                                "cannot write to the database: {e}"
                            )));
                            return Ok(());
                        }
                    }
                    if options.dry_run {
                        writer.actions.push(format!("would write {shown}"));
                    } else if let Err(e) = write_file(&file, text.as_bytes()) {
                        failure = Some(ImportError::part_way(format!("cannot write {shown}: {e}")));
                        return Ok(());
                    }
                    if entry.page {
                        report.pages += 1;
                        pages_written.insert(entry.slug.clone());
                    } else {
                        report.articles += 1;
                        if entry.status == "future" {
                            report.scheduled += 1;
                        } else if entry.status != "publish" {
                            report.drafts += 1;
                        }
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    return Ok(());
                }
            }
        }
        if entry.public() {
            let url = entry.url();
            if let Some(path) = &entry.link_path {
                redirects.insert(path.clone(), url.clone());
                for old in &entry.old_slugs {
                    if let Some(old_path) = replace_last_segment(path, &entry.wp_slug, old) {
                        redirects.insert(old_path, url.clone());
                    }
                }
            }
            // WordPress also finds a post by its name alone (`/slug/`,
            // whatever the permalink structure): the first post with a
            // name keeps it, and a page's own address wins.
            if !entry.page && !entry.wp_slug.is_empty() {
                redirects
                    .entry(format!("/{}/", entry.wp_slug))
                    .or_insert_with(|| url.clone());
            }
            let key = if entry.page { "page_id" } else { "p" };
            redirects.insert(format!("/?{key}={}", entry.id), url);
        }
        if write || known {
            if !entry.page {
                comment_targets.insert(entry.id, entry.slug.clone());
            }
        } else if !item.comments.is_empty() {
            report.notes.push(format!(
                "{shown}: the {} comment(s) of \"{}\" were not imported, as the article was not",
                item.comments.len(),
                entry.title
            ));
        }
        if entry.page && !item.comments.is_empty() {
            report.notes.push(format!(
                "{shown}: pages have no comments in Kintsugi: its {} comment(s) were skipped",
                item.comments.len()
            ));
            return Ok(());
        }
        let Some(slug) = comment_targets.get(&entry.id).cloned() else {
            return Ok(());
        };
        // Comments, in one transaction per post.
        let post_offset = *entry.date.offset();
        let mut thread = Vec::new();
        let in_file: HashSet<i64> = item.comments.iter().map(|c| c.id).collect();
        for c in &item.comments {
            if matches!(c.kind.as_str(), "pingback" | "trackback") {
                report.pings_skipped += 1;
                continue;
            }
            let status = match c.approved.as_str() {
                "1" | "approve" | "approved" => stored::APPROVED,
                "0" | "hold" => stored::PENDING,
                "spam" => stored::SPAM,
                "trash" => stored::TRASH,
                "post-trashed" => continue,
                other => {
                    report.notes.push(format!(
                        "{shown}: comment {} has the status `{other}`: imported as waiting for moderation",
                        c.id
                    ));
                    stored::PENDING
                }
            };
            let previous_status = if status == stored::TRASH || status == stored::SPAM {
                match c
                    .meta
                    .iter()
                    .find(|(k, _)| k == "_wp_trash_meta_status")
                    .map(|(_, v)| v.trim())
                {
                    Some("1") => Some(stored::APPROVED),
                    _ => Some(stored::PENDING),
                }
            } else {
                None
            };
            let email_raw = c.author_email.trim().to_lowercase();
            let is_coach = (c.user_id != 0 && author_ids.contains(&c.user_id))
                || (!email_raw.is_empty() && author_emails.contains(&email_raw));
            let created = match (
                wp_date(&c.date_gmt).ok().flatten(),
                wp_date(&c.date).ok().flatten(),
            ) {
                (Some(gmt), _) => gmt,
                (None, Some(local)) => {
                    local - chrono::Duration::seconds(post_offset.local_minus_utc() as i64)
                }
                (None, None) => entry.date.naive_utc(),
            };
            let converted = html::comment_to_markdown(&c.content, &mut writer);
            let body = place_notes(&converted.markdown, &converted.notes, "", &mut Vec::new());
            for n in &converted.notes {
                report.notes.push(format!("{shown}: comment {}: {n}", c.id));
            }
            let body = if body.trim().is_empty() {
                "…".to_string()
            } else {
                body
            };
            let body_html = crate::content::comment_markdown::render_comment(&body).into_string();
            let author_name = {
                let name = html::plain_text(&c.author);
                if name.is_empty() {
                    "Anonymous".to_string()
                } else {
                    name.chars().take(80).collect()
                }
            };
            let (author_name, author_email) = if is_coach {
                // The site user who wrote it (by id, then email); the
                // coach when neither is known.
                let a = channel
                    .authors
                    .iter()
                    .find(|a| c.user_id != 0 && a.id == c.user_id)
                    .or_else(|| {
                        channel.authors.iter().find(|a| {
                            !email_raw.is_empty() && a.email.trim().to_lowercase() == email_raw
                        })
                    })
                    .or(coach);
                (
                    a.map(|a| html::plain_text(&a.display_name))
                        .filter(|n| !n.is_empty())
                        .unwrap_or(author_name),
                    a.map(|a| a.email.clone())
                        .unwrap_or_else(|| c.author_email.clone()),
                )
            } else {
                (author_name, c.author_email.clone())
            };
            let author_email = match crate::domain::comment::Email::parse(&author_email) {
                Ok(e) => e.as_str().to_string(),
                Err(_) => String::new(),
            };
            if c.parent != 0 && !in_file.contains(&c.parent) {
                report.notes.push(format!(
                    "{shown}: comment {} answers comment {}, which is not in the export: imported at the top level",
                    c.id, c.parent
                ));
            }
            thread.push(imports::ImportedComment {
                old_id: c.id,
                old_parent: if in_file.contains(&c.parent) {
                    c.parent
                } else {
                    0
                },
                article_slug: slug.clone(),
                author_name,
                author_email,
                body_markdown: body,
                body_html,
                status,
                previous_status,
                is_coach,
                created_at: created,
            });
        }
        if thread.is_empty() {
            return Ok(());
        }
        let coach_ids: HashSet<i64> = thread
            .iter()
            .filter(|c| c.is_coach)
            .map(|c| c.old_id)
            .collect();
        match conn.as_deref_mut() {
            Some(conn) if options.dry_run => {
                // Only read: which of these an earlier import stored.
                let ids: Vec<i64> = thread.iter().map(|c| c.old_id).collect();
                let known: HashSet<i64> = imports::mapped(conn, source, imports::COMMENT, &ids)
                    .map(|m| m.into_iter().map(|m| m.old_id).collect())
                    .unwrap_or_default();
                let new: Vec<(i64, &'static str)> = thread
                    .iter()
                    .filter(|c| !known.contains(&c.old_id))
                    .map(|c| (c.old_id, c.status))
                    .collect();
                count_comments(report, &new, &coach_ids);
                report.comments_known += known.len();
            }
            Some(conn) => match imports::import_thread(conn, source, &thread, now.naive_utc()) {
                Ok(done) => {
                    count_comments(report, &done.stored, &coach_ids);
                    report.comments_known += done.known;
                }
                Err(e) => {
                    failure = Some(ImportError::part_way(format!(
                            "cannot store the comments of {shown}: {e} (nothing of that thread was stored; run the import again to continue)"
                        )));
                }
            },
            _ => {
                let stored: Vec<(i64, &'static str)> =
                    thread.iter().map(|c| (c.old_id, c.status)).collect();
                count_comments(report, &stored, &coach_ids);
            }
        }
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(conn) = conn.filter(|_| !options.dry_run) {
        imports::after_explicit_ids(conn)
            .map_err(|e| ImportError::part_way(format!("cannot write to the database: {e}")))?;
    }
    // Terms and authors.
    let about_exists =
        options.content_dir.join("pages/about.md").is_file() || pages_written.contains("about");
    term_redirects(index, &mut redirects);
    if about_exists {
        if let Some(c) = coach {
            redirects.insert(format!("/author/{}/", c.login), "/about".into());
            redirects.insert(format!("/?author={}", c.id), "/about".into());
        }
    }
    report.images = writer.report_images;
    report.actions.append(&mut writer.actions);
    report.redirects = write_redirects(options, &redirects, report)?;
    Ok(())
}

fn export_name(options: &Options) -> String {
    options
        .export
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn count_comments(
    report: &mut Report,
    stored_now: &[(i64, &'static str)],
    coach_ids: &HashSet<i64>,
) {
    for (id, status) in stored_now {
        report.comments += 1;
        match *status {
            s if s == stored::PENDING => report.pending += 1,
            s if s == stored::SPAM => report.spam += 1,
            s if s == stored::TRASH => report.trash += 1,
            _ => {}
        }
        if coach_ids.contains(id) {
            report.coach_replies += 1;
        }
    }
}

fn replace_last_segment(path: &str, current: &str, old: &str) -> Option<String> {
    let trailing = path.ends_with('/');
    let trimmed = path.trim_end_matches('/');
    let (head, last) = trimmed.rsplit_once('/')?;
    if percent_decode(last) != current {
        return None;
    }
    Some(format!("{head}/{old}{}", if trailing { "/" } else { "" }))
}

/// `/category/parent/child/` and `/tag/x/` (and `?cat=`, `?tag=`) to the
/// tag pages, for terms used by a public post.
fn term_redirects(index: &Index, redirects: &mut BTreeMap<String, String>) {
    let cats: HashMap<&str, &wxr::Category> = index
        .channel
        .categories
        .iter()
        .map(|c| (c.nicename.as_str(), c))
        .collect();
    for c in &index.channel.categories {
        if c.nicename == "uncategorized"
            || !index
                .used_terms
                .contains(&("category".to_string(), c.nicename.clone()))
        {
            continue;
        }
        let tag = slugify(&html::plain_text(&c.name));
        if tag.is_empty() {
            continue;
        }
        let mut chain = vec![c.nicename.clone()];
        let mut parent = c.parent.clone();
        let mut guard = 0;
        while let Some(p) = cats
            .get(parent.as_str())
            .filter(|_| !parent.is_empty() && guard < 16)
        {
            chain.insert(0, p.nicename.clone());
            parent = p.parent.clone();
            guard += 1;
        }
        let target = format!("/tags/{tag}");
        redirects.insert(format!("/category/{}/", chain.join("/")), target.clone());
        if chain.len() > 1 {
            redirects.insert(format!("/category/{}/", c.nicename), target.clone());
        }
        if c.term_id != 0 {
            redirects.insert(format!("/?cat={}", c.term_id), target);
        }
    }
    for t in &index.channel.tags {
        if !index
            .used_terms
            .contains(&("post_tag".to_string(), t.slug.clone()))
        {
            continue;
        }
        let tag = slugify(&html::plain_text(&t.name));
        if tag.is_empty() {
            continue;
        }
        let target = format!("/tags/{tag}");
        redirects.insert(format!("/tag/{}/", percent_decode(&t.slug)), target.clone());
        redirects.insert(format!("/?tag={}", percent_decode(&t.slug)), target);
    }
}

/// The Markdown file of one post or page.
#[allow(clippy::too_many_arguments)]
fn render_entry(
    writer: &mut Writer,
    item: &Item,
    entry: &Entry,
    index: &Index,
    coach_login: &str,
    authors: &HashMap<&str, &wxr::Author>,
    shown: &str,
    report: &mut Report,
) -> Result<String, ImportError> {
    let converted = html::post_to_markdown(&item.content, writer);
    let mut fm = String::from("+++\n");
    fm.push_str(&format!("title = {}\n", toml_string(&entry.title)));
    if !entry.page {
        fm.push_str(&format!("date = {}\n", entry.date.to_rfc3339()));
    }
    if let Some(updated) = modified_date(item) {
        if (updated.naive_utc() - entry.date.naive_utc()).num_minutes() >= 1
            && entry.status != "future"
        {
            fm.push_str(&format!("updated = {}\n", updated.to_rfc3339()));
        }
    }
    if !entry.page {
        fm.push_str(&format!("slug = {}\n", toml_string(&entry.slug)));
    }
    let excerpt = html::plain_text(&item.excerpt);
    if !excerpt.is_empty() {
        fm.push_str(&format!("summary = {}\n", toml_string(&excerpt)));
    }
    if !entry.page {
        let mut tags: Vec<String> = Vec::new();
        for t in &item.terms {
            let is_uncategorized = t.domain == "category" && t.nicename == "uncategorized";
            if (t.domain == "category" || t.domain == "post_tag") && !is_uncategorized {
                let name = html::plain_text(&t.name);
                if !name.is_empty() && !tags.iter().any(|x| slugify(x) == slugify(&name)) {
                    tags.push(name);
                }
            }
        }
        tags.sort_by_key(|t| t.to_lowercase());
        if !tags.is_empty() {
            let list: Vec<String> = tags.iter().map(|t| toml_string(t)).collect();
            fm.push_str(&format!("tags = [{}]\n", list.join(", ")));
        }
        if !matches!(entry.status.as_str(), "publish" | "future") {
            fm.push_str("draft = true\n");
            let why = match entry.status.as_str() {
                "private" if !item.post_password.is_empty() => "was protected by a password",
                "private" => "was private",
                "pending" => "was waiting for review",
                _ => "was a draft",
            };
            if why != "was a draft" {
                report.notes.push(format!(
                    "{shown}:1: the post {why}: imported as a draft, so it stays hidden"
                ));
            }
        }
        if item.creator != coach_login && !item.creator.is_empty() {
            let name = authors
                .get(item.creator.as_str())
                .map(|a| html::plain_text(&a.display_name))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| item.creator.clone());
            fm.push_str(&format!("author = {}\n", toml_string(&name)));
        }
        if let Some(thumb) = index.thumbnails.get(&entry.id) {
            match index.attachments.get(thumb) {
                Some(a) => match writer.media(&a.rel) {
                    Ok(md) => {
                        let alt = [&a.alt, &a.caption, &a.title]
                            .into_iter()
                            .find(|s| !s.trim().is_empty())
                            .cloned()
                            .unwrap_or_else(|| humanised_name(&a.rel));
                        fm.push_str(&format!("image = {}\n", toml_string(&md)));
                        fm.push_str(&format!("image_alt = {}\n", toml_string(&alt)));
                    }
                    Err(why) => report.notes.push(format!("{shown}:1: featured image: {why}")),
                },
                None => report.notes.push(format!(
                    "{shown}:1: the featured image (attachment {thumb}) is not in the export: left out"
                )),
            }
        }
        if item.is_sticky {
            report.notes.push(format!(
                "{shown}:1: the post was sticky (pinned to the top); Kintsugi lists articles by date"
            ));
        }
    }
    fm.push_str("+++\n\n");
    let body_first_line = fm.matches('\n').count() + 1;
    let mut notes = Vec::new();
    let body = place_notes(&converted.markdown, &converted.notes, shown, &mut notes);
    // The notes counted lines from the body's start.
    for n in notes {
        if let Some((file_line, what)) = n
            .strip_prefix(shown)
            .and_then(|r| r.strip_prefix(':'))
            .and_then(|r| r.split_once(':'))
        {
            let line: usize = file_line.parse().unwrap_or(1);
            report
                .notes
                .push(format!("{shown}:{}:{what}", line + body_first_line - 1));
        } else {
            report.notes.push(n);
        }
    }
    Ok(format!("{fm}{body}\n"))
}

/// Adds the redirects to `content/redirects.toml`, keeping what is there
/// (a coach's own lines, earlier imports): only new old addresses are
/// appended. Returns how many were added.
fn write_redirects(
    options: &Options,
    redirects: &BTreeMap<String, String>,
    report: &mut Report,
) -> Result<usize, ImportError> {
    let path = options.content_dir.join("redirects.toml");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ImportError::part_way(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let existing_map = match &existing {
        Some(text) => {
            let (map, problems) = RedirectMap::parse_keeping_good_entries(text);
            if let Some(p) = problems.first() {
                return Err(ImportError::part_way(format!(
                    "content/redirects.toml:{}: {}; fix it and import again",
                    p.line, p.message
                )));
            }
            map
        }
        None => RedirectMap::default(),
    };
    let mut added_keys: HashSet<String> = HashSet::new();
    let mut lines = String::new();
    let mut added = 0;
    for (old, new) in redirects {
        let Some(key) = RedirectMap::normalise_key(old) else {
            continue;
        };
        if old == new || RedirectMap::validate_target(new).is_err() {
            continue;
        }
        if existing_map.contains(old) || !added_keys.insert(key) {
            continue;
        }
        lines.push_str(&format!("{} = {}\n", toml_string(old), toml_string(new)));
        added += 1;
    }
    if added == 0 {
        return Ok(0);
    }
    let mut text = existing.unwrap_or_else(|| {
        "# Old addresses and their new home on this site: each answers 301.\n# Written by `kintsugi import wordpress`; edit freely (for example after\n# renaming an article).\n[redirects]\n".to_string()
    });
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&lines);
    if options.dry_run {
        report.actions.push(format!(
            "would add {added} redirect(s) to {}",
            path.display()
        ));
    } else {
        write_file(&path, text.as_bytes())
            .map_err(|e| ImportError::part_way(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_to_ascii() {
        assert_eq!(
            ascii_slug("naïve Hope — Trennungsschmerz"),
            "naive-hope-trennungsschmerz"
        );
        assert_eq!(ascii_slug("心の傷"), "");
        assert_eq!(ascii_slug("Ärger über Öl"), "aerger-ueber-oel");
    }

    #[test]
    fn uploads_and_sizes() {
        assert_eq!(
            uploads_rel("https://x.example/wp-content/uploads/2024/05/a-300x200.jpg").as_deref(),
            Some("2024/05/a-300x200.jpg")
        );
        assert_eq!(
            uploads_rel("https://x.example/wp-content/uploads/../etc/passwd"),
            None
        );
        assert_eq!(
            without_size_suffix("2024/05/a-300x200.jpg").as_deref(),
            Some("2024/05/a.jpg")
        );
        assert_eq!(without_size_suffix("2024/05/a-b.jpg"), None);
    }

    #[test]
    fn old_addresses() {
        assert_eq!(
            old_site_path("http://www.old.example/starting-over", "old.example"),
            Some(("/starting-over".into(), String::new()))
        );
        assert_eq!(
            old_site_path("/?p=105#x", "old.example"),
            Some(("/".into(), "p=105".into()))
        );
        assert_eq!(
            old_site_path("https://elsewhere.example/a", "old.example"),
            None
        );
        assert_eq!(path_key("/tag/%E5%BF%83/"), "/tag/心");
    }

    #[test]
    fn media_names_are_plain_ascii() {
        assert_eq!(
            media_name("2024/05/Café au lait.JPG"),
            "2024/05/cafe-au-lait.jpg"
        );
        assert_eq!(
            media_name("2024/05/evening-walk.jpg"),
            "2024/05/evening-walk.jpg"
        );
        assert_eq!(media_name("2024/05/心.png"), "2024/05/picture.png");
    }
}
