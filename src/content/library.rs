//! The loaded site: articles by slug, tags, pages and the search index,
//! all rendered once at load and shared cheaply.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::front_matter::{self, ArticleFrontMatter, PageFrontMatter};
use super::markdown::{self, TocEntry};
use super::media::{Media, MediaFile};
use super::redirects::{self, RedirectMap, SiteAddresses};
use super::search::{Query, SearchIndex};

pub use super::error::ContentError;

/// A tag as written by the coach and as it appears in URLs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    pub name: String,
    pub slug: String,
}

#[derive(Debug)]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub date: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
    pub summary_html: String,
    pub summary_text: String,
    pub tags: Vec<Tag>,
    pub draft: bool,
    pub author: Option<String>,
    pub html: String,
    pub toc: Vec<TocEntry>,
    pub reading_minutes: u32,
    pub plain_text: String,
    pub source: PathBuf,
    pub image: Option<ContentImage>,
}

/// A picture from `content/images/`, served at `/images/{file}`, or from
/// the media library (`@/media/2024/05/photo.jpg` in front matter).
#[derive(Debug, Clone)]
pub struct ContentImage {
    /// As written in front matter.
    pub file: String,
    pub alt: String,
    /// The media library's picture (size, hashed address, smaller copies);
    /// `None` for a file of `content/images/`.
    pub media: Option<Arc<MediaFile>>,
}

impl PartialEq for ContentImage {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file && self.alt == other.alt
    }
}

impl Eq for ContentImage {}

impl ContentImage {
    pub fn url(&self) -> String {
        match &self.media {
            Some(m) => m.url(),
            None => format!("/images/{}", self.file),
        }
    }
}

/// The kinds of picture `/images/` serves, by file extension.
pub const IMAGE_TYPES: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
];

/// The content type of a picture's file name, when `/images/` may serve it:
/// a plain name (no folders, no hidden files) with a known extension.
pub fn image_type(file: &str) -> Option<&'static str> {
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
    IMAGE_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .filter(|_| plain)
        .map(|(_, t)| *t)
}

fn checked_image(
    content_dir: &Path,
    media: &Media,
    image: Option<String>,
    alt: Option<String>,
) -> Result<Option<ContentImage>, String> {
    let Some(file) = image else {
        return match alt {
            Some(_) => Err("`image_alt` without an `image`".into()),
            None => Ok(None),
        };
    };
    let alt = alt.map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
    if let Some(path) = file.strip_prefix("@/media/") {
        let picture = media
            .lookup(path)
            .map_err(|problem| format!("the image `{file}`: {problem}"))?;
        return match alt {
            Some(alt) => Ok(Some(ContentImage {
                file,
                alt,
                media: Some(picture),
            })),
            None => Err(format!(
                "the image `{file}` needs `image_alt`: a few words saying what it shows, for readers who cannot see it"
            )),
        };
    }
    if image_type(&file).is_none() {
        return Err(format!(
            "the image `{file}` must be a file name in content/images/ ending in .jpg, .jpeg, .png, .webp, .avif, .gif or .svg"
        ));
    }
    if !content_dir.join("images").join(&file).is_file() {
        return Err(format!("the image `{file}` is not in content/images/"));
    }
    match alt {
        Some(alt) => Ok(Some(ContentImage {
            file,
            alt,
            media: None,
        })),
        None => Err(format!(
            "the image `{file}` needs `image_alt`: a few words saying what it shows, for readers who cannot see it"
        )),
    }
}

impl Article {
    pub fn is_published(&self, now: DateTime<Utc>) -> bool {
        !self.draft && self.date <= now
    }
    pub fn url(&self) -> String {
        format!("/articles/{}", self.slug)
    }
    /// The later of the publication and update dates.
    pub fn last_changed(&self) -> DateTime<Utc> {
        self.updated.map_or(self.date, |u| u.max(self.date))
    }
    pub fn has_tag(&self, slug: &str) -> bool {
        self.tags.iter().any(|t| t.slug == slug)
    }
}

#[derive(Debug)]
pub struct Page {
    /// Which text the reader saw: the `updated` date, else a short hash
    /// of the file (stored with consents to the privacy page).
    pub version: String,
    pub slug: String,
    pub title: String,
    pub summary_text: String,
    pub updated: Option<DateTime<Utc>>,
    pub html: String,
    pub toc: Vec<TocEntry>,
    /// One line of what the coach offers (the about page's `intro`).
    pub intro: Option<String>,
    pub image: Option<ContentImage>,
}

impl Page {
    pub fn url(&self) -> String {
        format!("/{}", self.slug)
    }
}

/// Everything the content folder says, validated and pre-rendered.
#[derive(Debug, Default)]
pub struct Library {
    /// Newest first, drafts and scheduled articles included: whether an
    /// article is published is decided at request time.
    articles: Vec<Arc<Article>>,
    by_slug: HashMap<String, usize>,
    pages: HashMap<String, Arc<Page>>,
    search: SearchIndex,
    /// What the coach offers (`content/coaching/`), in order.
    coaching: Vec<Arc<CoachingOption>>,
    /// Reply templates (`content/plans/`), by title.
    plans: Vec<Arc<PlanTemplate>>,
    /// The pictures of `content/media/`.
    media: Media,
    /// Old addresses and their new home (`content/redirects.toml`).
    redirects: RedirectMap,
    /// The no-contact counter's words (`content/no-contact.md`), when
    /// the coach offers it.
    no_contact: Option<Arc<super::no_contact::NoContactGuide>>,
}

/// One way to work with the coach.
#[derive(Debug)]
pub struct CoachingOption {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub includes: Vec<String>,
    pub price: String,
    pub format: String,
    /// Trusted HTML of the file's body (may be empty).
    pub html: String,
}

/// A reusable reply: Markdown the coach edits before sending.
#[derive(Debug)]
pub struct PlanTemplate {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub markdown: String,
}

fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// One content file as read: where it is, how `@/` links name it, and its
/// text. Every problem found in it is reported against its path.
struct Source {
    path: PathBuf,
    /// `articles/x.md` or `pages/x.md`, as written in `@/` links.
    key: String,
    text: String,
}

impl Source {
    /// A problem at `line` of this file.
    fn problem(&self, line: usize, message: impl Into<String>) -> ContentError {
        ContentError {
            file: self.path.clone(),
            line,
            message: message.into(),
        }
    }

    /// Problems the front matter or Markdown found at lines of this file.
    fn problems(
        &self,
        found: Vec<front_matter::LineError>,
    ) -> impl Iterator<Item = ContentError> + '_ {
        found.into_iter().map(|e| self.problem(e.line, e.message))
    }

    /// Splits the file and parses its front matter as `T`.
    fn front_matter<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<(front_matter::Split<'_>, T), ContentError> {
        front_matter::split(&self.text)
            .and_then(|split| front_matter::parse(split.toml).map(|fm| (split, fm)))
            .map_err(|e| self.problem(e.line, e.message))
    }

    /// The file's name (without `.md`) when it is a valid slug; `named`
    /// says what the name is in the problem ("file name", "page file name").
    fn file_slug(&self, named: &str) -> Result<String, ContentError> {
        let slug = file_stem(&self.path);
        if is_valid_slug(&slug) {
            Ok(slug)
        } else {
            Err(self.problem(
                1,
                format!("the {named} `{slug}` may only use lower-case letters, digits and hyphens"),
            ))
        }
    }
}

fn read_folder(content_dir: &Path, sub: &str, errors: &mut Vec<ContentError>) -> Vec<Source> {
    let dir = content_dir.join(sub);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            errors.push(ContentError {
                file: dir,
                line: 0,
                message: format!("cannot read the folder: {e}"),
            });
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "md"))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(Source {
                    key: format!("{sub}/{name}"),
                    path,
                    text,
                }),
                Err(e) => {
                    errors.push(ContentError {
                        file: path,
                        line: 0,
                        message: format!("cannot read the file as UTF-8 text: {e}"),
                    });
                    None
                }
            }
        })
        .collect()
}

/// 8 hex digits of a SHA-256: enough to tell two versions of a page apart.
fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What rendering a body needs from the rest of the site: where each `@/`
/// link goes (every article and page is known before any body renders),
/// the media library's pictures, and the markup's own words.
struct Site<'a> {
    content_dir: &'a Path,
    /// `articles/x.md` (as written in `@/` links) to its address.
    links: &'a HashMap<String, String>,
    media: &'a Media,
    words: &'a markdown::ContentWords,
}

impl Site<'_> {
    /// Where an `@/` link goes: a content file's address, or a picture of
    /// the media library.
    fn resolve(&self, key: &str) -> Option<String> {
        let key = key.trim_start_matches('/');
        match key.strip_prefix("media/") {
            Some(path) => self.media.get(path).map(|m| m.url()),
            None => self.links.get(key).cloned(),
        }
    }

    /// Renders an article's or a page's body, pictures of the media library
    /// included; its problems are added to `problems`. The first picture
    /// loads at once unless the file has a featured `image` (that one is
    /// on the first screen instead).
    fn render(
        &self,
        src: &Source,
        body: &str,
        first_line: usize,
        featured_image: bool,
        problems: &mut Vec<ContentError>,
    ) -> markdown::Rendered {
        let resolve = |key: &str| self.resolve(key);
        let lookup = |path: &str| self.media.lookup(path);
        let mut rendered = markdown::render_with_media(
            body,
            first_line,
            &resolve,
            &markdown::MediaImages {
                lookup: &lookup,
                first_eager: !featured_image,
            },
            self.words,
        );
        problems.extend(src.problems(std::mem::take(&mut rendered.errors)));
        rendered
    }

    /// Checks front matter's `image` and `image_alt`; a problem is
    /// reported against the front matter.
    fn image(
        &self,
        src: &Source,
        image: Option<String>,
        alt: Option<String>,
    ) -> Result<Option<ContentImage>, ContentError> {
        checked_image(self.content_dir, self.media, image, alt)
            .map_err(|message| src.problem(1, message))
    }
}

/// An article file with its front matter read and checked: the first of
/// its two steps. The second, [`ArticleFile::render`], needs every
/// article's and page's address for the links, so it waits until all
/// files took the first.
struct ArticleFile<'a> {
    src: &'a Source,
    body: &'a str,
    body_first_line: usize,
    front: ArticleFrontMatter,
    slug: String,
    /// Where a duplicate slug is reported: the `slug` line, else line 1.
    slug_line: usize,
    /// Problems of the front matter. Such an article is still rendered
    /// (its links are checked too) but never published.
    problems: Vec<ContentError>,
}

impl<'a> ArticleFile<'a> {
    /// Reads an article's front matter; `Err` when it cannot be read at
    /// all, else the file with the problems of its fields.
    fn parse(src: &'a Source) -> Result<Self, ContentError> {
        let (split, front) = src.front_matter::<ArticleFrontMatter>()?;
        let line_of_key = |key: &str| {
            split
                .toml
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 2)
        };
        let slug = front.slug.clone().unwrap_or_else(|| file_stem(&src.path));
        let mut problems = Vec::new();
        if !is_valid_slug(&slug) {
            problems.push(src.problem(
                line_of_key("slug"),
                format!("the slug `{slug}` may only use lower-case letters, digits and single hyphens (rename the file or set `slug = \"...\"`)"),
            ));
        }
        if front.title.trim().is_empty() {
            problems.push(src.problem(line_of_key("title"), "the title is empty"));
        }
        for tag in &front.tags {
            if markdown::slugify(tag).is_empty() {
                problems.push(src.problem(
                    line_of_key("tags"),
                    format!("the tag `{tag}` has no letters or digits"),
                ));
            }
        }
        Ok(Self {
            src,
            body: split.body,
            body_first_line: split.body_first_line,
            slug_line: line_of_key("slug"),
            front,
            slug,
            problems,
        })
    }

    /// Renders the body and builds the article: `None` when the front
    /// matter or its image is wrong. Every problem of the file found in
    /// this step comes with it.
    fn render(self, site: &Site) -> (Option<Article>, Vec<ContentError>) {
        let Self {
            src,
            body,
            body_first_line,
            front: fm,
            slug,
            problems: front_matter_problems,
            ..
        } = self;
        let mut problems = Vec::new();
        let rendered = site.render(
            src,
            body,
            body_first_line,
            fm.image.is_some(),
            &mut problems,
        );
        if !front_matter_problems.is_empty() {
            return (None, problems);
        }
        let (summary_html, summary_text) = match fm.summary {
            Some(text) => (format!("<p>{}</p>", crate::html::escape(&text)), text),
            None => (rendered.summary_html, rendered.summary_text),
        };
        let mut tags: Vec<Tag> = Vec::new();
        for name in fm.tags {
            let tag = Tag {
                slug: markdown::slugify(&name),
                name: name.trim().to_string(),
            };
            if !tags.iter().any(|t| t.slug == tag.slug) {
                tags.push(tag);
            }
        }
        let image = match site.image(src, fm.image, fm.image_alt) {
            Ok(image) => image,
            Err(problem) => {
                problems.push(problem);
                return (None, problems);
            }
        };
        let article = Article {
            slug,
            title: markdown::smart_text(&fm.title),
            date: fm.date.0,
            updated: fm.updated.map(|d| d.0),
            summary_html,
            summary_text,
            tags,
            draft: fm.draft,
            author: fm.author,
            html: rendered.html,
            toc: rendered.toc,
            reading_minutes: markdown::reading_minutes(rendered.word_count),
            plain_text: rendered.plain_text,
            source: src.path.clone(),
            image,
        };
        (Some(article), problems)
    }
}

/// Every article whose slug another article uses too, reported at each of
/// them.
fn duplicate_slugs(files: &[ArticleFile]) -> Vec<ContentError> {
    let mut owners: BTreeMap<&str, Vec<&ArticleFile>> = BTreeMap::new();
    for file in files {
        owners.entry(&file.slug).or_default().push(file);
    }
    let mut problems = Vec::new();
    for (slug, files) in owners.into_iter().filter(|(_, files)| files.len() > 1) {
        for file in &files {
            let others: Vec<String> = files
                .iter()
                .filter(|other| other.src.path != file.src.path)
                .map(|other| other.src.path.display().to_string())
                .collect();
            problems.push(file.src.problem(
                file.slug_line,
                format!("duplicate slug `{slug}`: {} uses it too", others.join(", ")),
            ));
        }
    }
    problems
}

/// A page file (`content/pages/`) with its front matter read: the first of
/// its two steps, as for articles.
struct PageFile<'a> {
    src: &'a Source,
    body: &'a str,
    body_first_line: usize,
    front: PageFrontMatter,
    slug: String,
}

impl<'a> PageFile<'a> {
    fn parse(src: &'a Source) -> Result<Self, ContentError> {
        let (split, front) = src.front_matter::<PageFrontMatter>()?;
        Ok(Self {
            slug: src.file_slug("page file name")?,
            src,
            body: split.body,
            body_first_line: split.body_first_line,
            front,
        })
    }

    /// Renders the body and builds the page (without its image when that
    /// is wrong), with the problems found.
    fn render(self, site: &Site) -> (Page, Vec<ContentError>) {
        let Self {
            src,
            body,
            body_first_line,
            front: fm,
            slug,
        } = self;
        let mut problems = Vec::new();
        let rendered = site.render(
            src,
            body,
            body_first_line,
            fm.image.is_some(),
            &mut problems,
        );
        let version = match fm.updated {
            Some(d) => d.0.format("%Y-%m-%d").to_string(),
            None => short_hash(&src.text),
        };
        let image = site
            .image(src, fm.image, fm.image_alt)
            .unwrap_or_else(|problem| {
                problems.push(problem);
                None
            });
        let page = Page {
            version,
            slug,
            title: markdown::smart_text(&fm.title),
            summary_text: fm.summary.unwrap_or(rendered.summary_text),
            updated: fm.updated.map(|d| d.0),
            html: rendered.html,
            toc: rendered.toc,
            intro: fm
                .intro
                .map(|i| i.trim().to_string())
                .filter(|i| !i.is_empty()),
            image,
        };
        (page, problems)
    }
}

impl CoachingOption {
    /// One file of `content/coaching/`, with its `weight` (the order).
    fn from_source(src: &Source, site: &Site) -> Result<(i64, Self), Vec<ContentError>> {
        let (split, fm) = src
            .front_matter::<front_matter::CoachingOptionFrontMatter>()
            .map_err(|e| vec![e])?;
        let slug = src.file_slug("file name").map_err(|e| vec![e])?;
        let mut problems = Vec::new();
        for (key, value) in [
            ("title", &fm.title),
            ("summary", &fm.summary),
            ("price", &fm.price),
            ("format", &fm.format),
        ] {
            if value.trim().is_empty() {
                problems.push(src.problem(1, format!("`{key}` is empty")));
            }
        }
        let resolve = |key: &str| site.resolve(key);
        let rendered = markdown::render(split.body, split.body_first_line, &resolve, site.words);
        problems.extend(src.problems(rendered.errors));
        if !problems.is_empty() {
            return Err(problems);
        }
        let option = Self {
            slug,
            title: markdown::smart_text(&fm.title),
            summary: markdown::smart_text(&fm.summary),
            includes: fm
                .includes
                .iter()
                .map(|i| markdown::smart_text(i))
                .collect(),
            price: fm.price,
            format: markdown::smart_text(&fm.format),
            html: rendered.html,
        };
        Ok((fm.weight, option))
    }
}

fn load_coaching_options(
    content_dir: &Path,
    site: &Site,
    errors: &mut Vec<ContentError>,
) -> Vec<Arc<CoachingOption>> {
    let mut options = Vec::new();
    for src in read_folder(content_dir, "coaching", errors) {
        match CoachingOption::from_source(&src, site) {
            Ok((weight, option)) => options.push((weight, Arc::new(option))),
            Err(problems) => errors.extend(problems),
        }
    }
    options.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.slug.cmp(&b.1.slug)));
    options.into_iter().map(|(_, o)| o).collect()
}

impl PlanTemplate {
    /// One file of `content/plans/`.
    fn from_source(src: &Source) -> Result<Self, ContentError> {
        let (split, fm) = src.front_matter::<front_matter::PlanFrontMatter>()?;
        Ok(Self {
            slug: src.file_slug("file name")?,
            title: fm.title,
            summary: fm.summary.unwrap_or_default(),
            markdown: split.body.trim().to_string(),
        })
    }
}

fn load_plans(content_dir: &Path, errors: &mut Vec<ContentError>) -> Vec<Arc<PlanTemplate>> {
    let mut plans = Vec::new();
    for src in read_folder(content_dir, "plans", errors) {
        match PlanTemplate::from_source(&src) {
            Ok(plan) => plans.push(Arc::new(plan)),
            Err(problem) => errors.push(problem),
        }
    }
    plans.sort_by(|a, b| a.title.cmp(&b.title));
    plans
}

/// The site's own addresses as the content defines them, for checking
/// redirect targets.
struct ContentAddresses<'a> {
    articles: &'a [Arc<Article>],
    pages: &'a HashMap<String, Arc<Page>>,
}

impl SiteAddresses for ContentAddresses<'_> {
    fn has_article(&self, slug: &str) -> bool {
        self.articles.iter().any(|a| a.slug == slug)
    }
    fn has_page(&self, slug: &str) -> bool {
        self.pages.contains_key(slug)
    }
    fn has_tag(&self, slug: &str) -> bool {
        self.articles.iter().any(|a| a.has_tag(slug))
    }
}

/// `content/redirects.toml` (absent: no entries), checked against the
/// articles, pages and tags just loaded.
fn load_redirects(
    content_dir: &Path,
    articles: &[Arc<Article>],
    pages: &HashMap<String, Arc<Page>>,
    errors: &mut Vec<ContentError>,
) -> RedirectMap {
    let path = redirects::file_in(content_dir);
    let problem = |e: front_matter::LineError| ContentError {
        file: path.clone(),
        line: e.line,
        message: e.message,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            errors.push(ContentError {
                file: path.clone(),
                line: 0,
                message: format!("cannot read the file: {e}"),
            });
            return RedirectMap::default();
        }
    };
    // Entries with problems are reported; the good ones are checked
    // against the site too, so one run lists everything.
    let (mut map, problems) = RedirectMap::parse_keeping_good_entries(&text);
    errors.extend(problems.into_iter().map(problem));
    let site = ContentAddresses { articles, pages };
    errors.extend(map.check_against(&site).into_iter().map(problem));
    map.set_media_dir(content_dir.join("media"));
    map
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

impl Library {
    /// Loads and validates every file; returns every problem found, not
    /// just the first.
    /// Loads the content with the article markup's words in English.
    pub fn load(content_dir: &Path) -> Result<Self, Vec<ContentError>> {
        Self::load_in(content_dir, &markdown::ContentWords::default())
    }

    /// Loads the content; `words` are the article markup's own words (a
    /// footnote's label, "Link to the section ...") in the site's language.
    pub fn load_in(
        content_dir: &Path,
        words: &markdown::ContentWords,
    ) -> Result<Self, Vec<ContentError>> {
        Self::load_with(content_dir, words, None)
    }

    /// Loads for `kintsugi check`: as [`Library::load`], and files of
    /// `content/media/` that will not be served are problems too.
    pub fn load_checked(content_dir: &Path) -> Result<Self, Vec<ContentError>> {
        let library = Self::load(content_dir)?;
        match library.media.problems() {
            [] => Ok(library),
            problems => Err(problems.to_vec()),
        }
    }

    /// Loads the content; with `media_cache` (when serving), the media
    /// library's smaller copies are made there, or found from an earlier
    /// start. Files of `content/media/` that are not pictures do not stop
    /// the load (they are never served; see [`Media::problems`]), but when
    /// the load fails for other problems they are listed with them.
    ///
    /// Each kind of file has its own steps (`ArticleFile`, `PageFile`,
    /// `CoachingOption::from_source`, `PlanTemplate::from_source`,
    /// `load_redirects`, [`Media::scan`]); this only puts them in order.
    pub fn load_with(
        content_dir: &Path,
        words: &markdown::ContentWords,
        media_cache: Option<&Path>,
    ) -> Result<Self, Vec<ContentError>> {
        if !content_dir.is_dir() {
            return Err(vec![ContentError {
                file: content_dir.to_path_buf(),
                line: 0,
                message: "the content folder does not exist (set KINTSUGI_CONTENT_DIR)".into(),
            }]);
        }
        let mut errors = Vec::new();
        let media = Media::scan(content_dir, media_cache);
        let article_sources = read_folder(content_dir, "articles", &mut errors);
        let page_sources = read_folder(content_dir, "pages", &mut errors);

        // Step 1: every file's front matter, so every address is known
        // before any body renders.
        let mut links: HashMap<String, String> = HashMap::new();
        let mut article_files = Vec::new();
        for src in &article_sources {
            match ArticleFile::parse(src) {
                Ok(file) => {
                    errors.extend(file.problems.iter().cloned());
                    links.insert(src.key.clone(), format!("/articles/{}", file.slug));
                    article_files.push(file);
                }
                Err(problem) => errors.push(problem),
            }
        }
        errors.extend(duplicate_slugs(&article_files));
        let mut page_files = Vec::new();
        for src in &page_sources {
            match PageFile::parse(src) {
                Ok(file) => {
                    links.insert(src.key.clone(), format!("/{}", file.slug));
                    page_files.push(file);
                }
                Err(problem) => errors.push(problem),
            }
        }

        // Step 2: render, checking internal links.
        let site = Site {
            content_dir,
            links: &links,
            media: &media,
            words,
        };
        let mut articles = Vec::new();
        for file in article_files {
            let (article, problems) = file.render(&site);
            errors.extend(problems);
            articles.extend(article.map(Arc::new));
        }
        let mut pages = HashMap::new();
        for file in page_files {
            let (page, problems) = file.render(&site);
            errors.extend(problems);
            pages.insert(page.slug.clone(), Arc::new(page));
        }
        let coaching = load_coaching_options(content_dir, &site, &mut errors);
        let plans = load_plans(content_dir, &mut errors);
        let redirects = load_redirects(content_dir, &articles, &pages, &mut errors);
        let resolve = |key: &str| site.resolve(key);
        let no_contact =
            super::no_contact::load(content_dir, &resolve, words, &mut errors).map(Arc::new);
        if !errors.is_empty() {
            errors.extend(media.problems().iter().cloned());
            errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            return Err(errors);
        }
        let mut library = Self::from_parts(articles, pages);
        library.coaching = coaching;
        library.plans = plans;
        library.media = media;
        library.redirects = redirects;
        library.no_contact = no_contact;
        Ok(library)
    }

    /// The pictures of `content/media/`.
    pub fn media(&self) -> &Media {
        &self.media
    }

    /// Old addresses and where they go (`content/redirects.toml` and the
    /// built-in WordPress rules).
    pub fn redirects(&self) -> &RedirectMap {
        &self.redirects
    }

    /// The coaching options, in the coach's order.
    pub fn coaching_options(&self) -> &[Arc<CoachingOption>] {
        &self.coaching
    }

    pub fn coaching_option(&self, slug: &str) -> Option<&Arc<CoachingOption>> {
        self.coaching.iter().find(|o| o.slug == slug)
    }

    /// The no-contact counter's words, when `content/no-contact.md` is there.
    pub fn no_contact(&self) -> Option<&Arc<super::no_contact::NoContactGuide>> {
        self.no_contact.as_ref()
    }

    pub fn plans(&self) -> &[Arc<PlanTemplate>] {
        &self.plans
    }

    pub fn plan(&self, slug: &str) -> Option<&Arc<PlanTemplate>> {
        self.plans.iter().find(|p| p.slug == slug)
    }

    fn from_parts(mut articles: Vec<Arc<Article>>, pages: HashMap<String, Arc<Page>>) -> Self {
        articles.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.slug.cmp(&b.slug)));
        let by_slug = articles
            .iter()
            .enumerate()
            .map(|(i, a)| (a.slug.clone(), i))
            .collect();
        let search = SearchIndex::build(articles.iter().map(|a| {
            (
                a.title.as_str(),
                a.summary_text.as_str(),
                a.plain_text.as_str(),
            )
        }));
        Self {
            articles,
            by_slug,
            pages,
            search,
            coaching: Vec::new(),
            plans: Vec::new(),
            media: Media::default(),
            redirects: RedirectMap::default(),
            no_contact: None,
        }
    }

    /// How many articles the content holds, drafts included.
    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    /// Published articles, newest first.
    pub fn published(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Arc<Article>> {
        self.articles.iter().filter(move |a| a.is_published(now))
    }

    /// A published article by slug.
    pub fn article(&self, slug: &str, now: DateTime<Utc>) -> Option<&Arc<Article>> {
        let a = self.articles.get(*self.by_slug.get(slug)?)?;
        a.is_published(now).then_some(a)
    }

    pub fn page(&self, slug: &str) -> Option<&Arc<Page>> {
        self.pages.get(slug)
    }

    pub fn pages(&self) -> impl Iterator<Item = &Arc<Page>> {
        self.pages.values()
    }

    /// The published articles just older and just newer than `article`.
    pub fn neighbours(
        &self,
        article: &Article,
        now: DateTime<Utc>,
    ) -> (Option<&Arc<Article>>, Option<&Arc<Article>>) {
        let Some(&i) = self.by_slug.get(&article.slug) else {
            return (None, None);
        };
        let older = self.articles[i + 1..].iter().find(|a| a.is_published(now));
        let newer = self.articles[..i]
            .iter()
            .rev()
            .find(|a| a.is_published(now));
        (older, newer)
    }

    /// Up to `n` published articles sharing the most tags, newest first
    /// among equals.
    pub fn related(&self, article: &Article, now: DateTime<Utc>, n: usize) -> Vec<&Arc<Article>> {
        let mut scored: Vec<(usize, usize, &Arc<Article>)> = self
            .published(now)
            .enumerate()
            .filter(|(_, a)| a.slug != article.slug)
            .map(|(i, a)| {
                let shared = a.tags.iter().filter(|t| article.has_tag(&t.slug)).count();
                (shared, i, a)
            })
            .filter(|(shared, _, _)| *shared > 0)
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(n).map(|(_, _, a)| a).collect()
    }

    /// Every tag on a published article with its article count, by name.
    pub fn tags(&self, now: DateTime<Utc>) -> Vec<(Tag, usize)> {
        let mut counts: BTreeMap<String, (Tag, usize)> = BTreeMap::new();
        for a in self.published(now) {
            for t in &a.tags {
                counts
                    .entry(t.slug.clone())
                    .or_insert_with(|| (t.clone(), 0))
                    .1 += 1;
            }
        }
        let mut tags: Vec<(Tag, usize)> = counts.into_values().collect();
        tags.sort_by_key(|(tag, _)| tag.name.to_lowercase());
        tags
    }

    /// The tag with this slug, if a published article carries it.
    pub fn tag(&self, slug: &str, now: DateTime<Utc>) -> Option<Tag> {
        self.published(now)
            .flat_map(|a| a.tags.iter())
            .find(|t| t.slug == slug)
            .cloned()
    }

    /// Published articles matching the query, best first.
    pub fn search(&self, query: &Query, now: DateTime<Utc>) -> Vec<&Arc<Article>> {
        self.search
            .search(query)
            .into_iter()
            .filter_map(|hit| self.articles.get(hit.doc as usize))
            .filter(|a| a.is_published(now))
            .collect()
    }

    /// When the published content last changed (for feeds).
    pub fn last_changed(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.published(now).map(|a| a.last_changed()).max()
    }

    /// The next moment a scheduled article goes live, if any.
    pub fn next_scheduled(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.articles
            .iter()
            .filter(|a| !a.draft && a.date > now)
            .map(|a| a.date)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reports_every_problem_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "articles/a.md",
            "+++\ntitle = \"A\"\ndate = 2026-01-01\n+++\n\nSee [b](@/articles/missing.md).\n",
        );
        write(
            dir.path(),
            "articles/b.md",
            "+++\ntitle = \"B\"\ndate = 2026-01-01\nslug = \"a\"\n+++\nBody\n",
        );
        write(
            dir.path(),
            "articles/c.md",
            "+++\ndate = 2026-01-01\n+++\nBody\n",
        );
        write(
            dir.path(),
            "articles/d.md",
            "+++\ntitle = \"D\"\ndate = 2026-01-01\ncolour = \"red\"\n+++\nBody\n",
        );
        let errors = Library::load(dir.path()).unwrap_err();
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 5, "{lines:#?}");
        assert!(lines.iter().any(|l| l.ends_with("articles/a.md:6: broken internal link `@/articles/missing.md`: there is no content file `articles/missing.md`")), "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("articles/b.md:4: duplicate slug `a`")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("articles/c.md:") && l.contains("title")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("articles/d.md:4:") && l.contains("colour")),
            "{lines:#?}"
        );
    }

    /// A file as read from `content/<key>`.
    fn source(key: &str, text: &str) -> Source {
        Source {
            path: Path::new("content").join(key),
            key: key.into(),
            text: text.into(),
        }
    }

    /// Renders with no other content, no media and English words.
    fn alone<T>(render: impl FnOnce(&Site) -> T) -> T {
        let (links, media, words) = (
            HashMap::new(),
            Media::default(),
            markdown::ContentWords::default(),
        );
        render(&Site {
            content_dir: Path::new("content"),
            links: &links,
            media: &media,
            words: &words,
        })
    }

    fn lines(problems: &[ContentError]) -> Vec<String> {
        problems.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn an_article_file_names_each_front_matter_problem_at_its_line() {
        let src = source(
            "articles/Bad Name.md",
            "+++\ntitle = \" \"\ndate = 2026-01-01\ntags = [\"ok\", \"!!\"]\n+++\nSee [x](@/articles/gone.md).\n",
        );
        let file = ArticleFile::parse(&src).unwrap();
        assert_eq!(
            lines(&file.problems),
            [
                "content/articles/Bad Name.md:1: the slug `Bad Name` may only use lower-case letters, digits and single hyphens (rename the file or set `slug = \"...\"`)",
                "content/articles/Bad Name.md:2: the title is empty",
                "content/articles/Bad Name.md:4: the tag `!!` has no letters or digits",
            ]
        );
        // Still rendered, so its links are checked too; no article comes of it.
        let (article, problems) = alone(|site| file.render(site));
        assert!(article.is_none());
        assert_eq!(
            lines(&problems),
            ["content/articles/Bad Name.md:6: broken internal link `@/articles/gone.md`: there is no content file `articles/gone.md`"]
        );
        // Front matter that cannot be read at all.
        let unreadable = source("articles/x.md", "title = \"X\"\n");
        let problem = ArticleFile::parse(&unreadable).err().unwrap();
        assert_eq!(
            (problem.line, problem.file.as_path()),
            (1, unreadable.path.as_path())
        );
    }

    #[test]
    fn a_valid_article_file_becomes_an_article() {
        let src = source(
            "articles/mended.md",
            "+++\ntitle = \"Mended\"\ndate = 2026-01-01\nsummary = \"Gold & <glue>\"\ntags = [\"No contact\", \"no contact\"]\n+++\nBody.\n",
        );
        let file = ArticleFile::parse(&src).unwrap();
        assert!(file.problems.is_empty());
        let (article, problems) = alone(|site| file.render(site));
        assert!(problems.is_empty(), "{problems:?}");
        let article = article.unwrap();
        assert_eq!(article.slug, "mended");
        assert_eq!(article.summary_html, "<p>Gold &amp; &lt;glue&gt;</p>");
        assert_eq!(article.tags.len(), 1, "one tag per slug");
    }

    #[test]
    fn a_page_file_needs_a_plain_file_name() {
        let src = source("pages/About_Us.md", "+++\ntitle = \"About\"\n+++\nHi\n");
        let problem = PageFile::parse(&src).err().unwrap();
        assert_eq!(
            problem.to_string(),
            "content/pages/About_Us.md:1: the page file name `About_Us` may only use lower-case letters, digits and hyphens"
        );
    }

    #[test]
    fn a_coaching_option_reports_every_empty_field_and_broken_link() {
        let src = source(
            "coaching/call.md",
            "+++\ntitle = \"Call\"\nsummary = \"\"\nprice = \" \"\nformat = \"Video\"\n+++\n\nSee [x](@/pages/gone.md).\n",
        );
        let problems = alone(|site| CoachingOption::from_source(&src, site))
            .err()
            .unwrap();
        assert_eq!(
            lines(&problems),
            [
                "content/coaching/call.md:1: `summary` is empty",
                "content/coaching/call.md:1: `price` is empty",
                "content/coaching/call.md:8: broken internal link `@/pages/gone.md`: there is no content file `pages/gone.md`",
            ]
        );
    }

    #[test]
    fn a_plan_names_an_unknown_field_at_its_line() {
        let src = source(
            "plans/thirty-days.md",
            "+++\ntitle = \"30 days\"\ncolour = \"red\"\n+++\nDay one.\n",
        );
        let problem = PlanTemplate::from_source(&src).err().unwrap();
        assert_eq!(problem.line, 3, "{problem}");
        assert!(problem.message.contains("colour"), "{problem}");
        let ok = source(
            "plans/thirty-days.md",
            "+++\ntitle = \"30 days\"\n+++\nDay one.\n",
        );
        assert_eq!(PlanTemplate::from_source(&ok).unwrap().markdown, "Day one.");
    }

    #[test]
    fn drafts_and_future_articles_are_hidden_until_their_time() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "articles/old.md",
            "+++\ntitle = \"Old\"\ndate = 2020-01-01\ntags = [\"No contact\"]\n+++\nx\n",
        );
        write(
            dir.path(),
            "articles/draft.md",
            "+++\ntitle = \"Draft\"\ndate = 2020-01-02\ndraft = true\n+++\nx\n",
        );
        write(
            dir.path(),
            "articles/later.md",
            "+++\ntitle = \"Later\"\ndate = 2099-01-01\ntags = [\"no contact\"]\n+++\nx\n",
        );
        let lib = Library::load(dir.path()).unwrap();
        let now = Utc::now();
        assert_eq!(lib.published(now).count(), 1);
        assert!(lib.article("draft", now).is_none());
        assert!(lib.article("later", now).is_none());
        let future = "2099-06-01T00:00:00Z".parse().unwrap();
        assert!(lib.article("later", future).is_some());
        assert_eq!(
            lib.tags(now),
            vec![(
                Tag {
                    name: "No contact".into(),
                    slug: "no-contact".into()
                },
                1
            )]
        );
        assert_eq!(
            lib.next_scheduled(now).unwrap().to_rfc3339(),
            "2099-01-01T00:00:00+00:00"
        );
    }
}
