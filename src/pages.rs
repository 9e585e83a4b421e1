//! askama page structs: what each page needs, nothing more. View models
//! here turn library items into ready-to-print strings.
use askama::Template;
use chrono::{DateTime, Utc};

use crate::config::SiteSettings;
use crate::content::markdown::TocEntry;
use crate::content::search::Segment;
use crate::content::{Article, Page, Tag};

/// What every HTML page's frame needs.
pub struct Layout<'a> {
    pub site: &'a SiteSettings,
    pub css_url: &'a str,
    pub print_css_url: &'a str,
    pub favicon_url: &'a str,
    /// The `<title>`: page title and site name.
    pub title: String,
    pub description: String,
    pub canonical: String,
    pub feed_url: String,
    pub og_type: &'static str,
    /// Which main navigation item is current, if any.
    pub nav: Nav,
    /// Prefills the header search box.
    pub query: String,
    pub json_ld: Option<JsonLd>,
    pub noindex: bool,
    pub year: i32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    None,
    Articles,
    Topics,
    Coaching,
    About,
}

impl Layout<'_> {
    pub fn is(&self, item: &str) -> bool {
        matches!(
            (self.nav, item),
            (Nav::Articles, "articles")
                | (Nav::Topics, "topics")
                | (Nav::Coaching, "coaching")
                | (Nav::About, "about")
        )
    }
}

/// JSON for a `<script type="application/ld+json">` block, escaped so it
/// can never close the script element.
pub struct JsonLd(String);

impl JsonLd {
    pub fn new(value: &serde_json::Value) -> Self {
        let text = value
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        Self(text)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A date as a machine reads it and as a person does.
pub struct Date {
    pub iso: String,
    pub human: String,
}

impl Date {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            iso: at.format("%Y-%m-%d").to_string(),
            human: at.format("%B %-d, %Y").to_string(),
        }
    }
}

/// An article in a list.
pub struct ArticleCard<'a> {
    pub url: String,
    pub title: &'a str,
    pub date: Date,
    pub reading_minutes: u32,
    /// Trusted: rendered from the coach's Markdown.
    pub summary_html: &'a str,
    pub tags: &'a [Tag],
}

impl<'a> ArticleCard<'a> {
    pub fn new(a: &'a Article) -> Self {
        Self {
            url: a.url(),
            title: &a.title,
            date: Date::new(a.date),
            reading_minutes: a.reading_minutes,
            summary_html: &a.summary_html,
            tags: &a.tags,
        }
    }
}

/// Links to a list's other pages.
pub struct Pagination {
    pub page: usize,
    pub total_pages: usize,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
}

impl Pagination {
    pub fn new(page: usize, total_pages: usize, base: &str) -> Self {
        let url = |p: usize| {
            if p == 1 {
                base.to_string()
            } else {
                format!("{base}?page={p}")
            }
        };
        Self {
            page,
            total_pages,
            prev_url: (page > 1).then(|| url(page - 1)),
            next_url: (page < total_pages).then(|| url(page + 1)),
        }
    }
}

#[derive(Template)]
#[template(path = "articles/index.html")]
pub struct ArticleListPage<'a> {
    pub layout: Layout<'a>,
    pub heading: String,
    pub intro: Option<String>,
    pub articles: Vec<ArticleCard<'a>>,
    pub pagination: Pagination,
    pub is_home: bool,
}

/// A neighbouring or related article.
pub struct ArticleLink<'a> {
    pub url: String,
    pub title: &'a str,
}

impl<'a> ArticleLink<'a> {
    pub fn new(a: &'a Article) -> Self {
        Self {
            url: a.url(),
            title: &a.title,
        }
    }
}

#[derive(Template)]
#[template(path = "articles/show.html")]
pub struct ArticlePage<'a> {
    pub layout: Layout<'a>,
    pub title: &'a str,
    pub date: Date,
    pub updated: Option<Date>,
    pub author: &'a str,
    pub reading_minutes: u32,
    pub tags: &'a [Tag],
    pub toc: &'a [TocEntry],
    /// Trusted: rendered from the coach's Markdown at load.
    pub body_html: &'a str,
    pub older: Option<ArticleLink<'a>>,
    pub newer: Option<ArticleLink<'a>>,
    pub related: Vec<ArticleLink<'a>>,
}

#[derive(Template)]
#[template(path = "pages/show.html")]
pub struct StandalonePage<'a> {
    pub layout: Layout<'a>,
    pub page: &'a Page,
    pub updated: Option<Date>,
    pub is_coaching: bool,
}

#[derive(Template)]
#[template(path = "tags/index.html")]
pub struct TagsPage<'a> {
    pub layout: Layout<'a>,
    pub tags: Vec<(Tag, usize)>,
}

pub struct SearchResultView<'a> {
    pub url: String,
    pub title: Vec<Segment>,
    pub snippet: Vec<Segment>,
    pub date: Date,
    pub tags: &'a [Tag],
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage<'a> {
    pub layout: Layout<'a>,
    pub query: String,
    pub total: usize,
    pub results: Vec<SearchResultView<'a>>,
    pub pagination: Pagination,
    pub suggestions: Vec<(Tag, usize)>,
}

#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage<'a> {
    pub layout: Layout<'a>,
    pub status: u16,
    pub heading: &'static str,
    pub message: String,
    pub latest: Vec<ArticleLink<'a>>,
    pub show_search: bool,
}

/// One entry of the Atom feed.
pub struct FeedEntry<'a> {
    pub url: String,
    pub title: &'a str,
    pub published: String,
    pub updated: String,
    pub summary: &'a str,
    /// Trusted article HTML, escaped into the XML by the template.
    pub content_html: &'a str,
    pub tags: &'a [Tag],
}

#[derive(Template)]
#[template(path = "feed.xml")]
pub struct AtomFeed<'a> {
    pub site: &'a SiteSettings,
    pub home_url: String,
    pub self_url: String,
    pub updated: String,
    pub entries: Vec<FeedEntry<'a>>,
}

pub struct SitemapUrl {
    pub loc: String,
    pub lastmod: Option<String>,
}

#[derive(Template)]
#[template(path = "sitemap.xml")]
pub struct Sitemap {
    pub urls: Vec<SitemapUrl>,
}

#[derive(Template)]
#[template(path = "robots.txt")]
pub struct Robots {
    pub sitemap_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_cannot_close_its_script() {
        let v = serde_json::json!({ "headline": "</script><script>alert(1)</script> & more" });
        let j = JsonLd::new(&v);
        assert!(!j.as_str().contains('<') && !j.as_str().contains('&'));
        let back: serde_json::Value = serde_json::from_str(j.as_str()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn pagination_links() {
        let p = Pagination::new(1, 3, "/");
        assert_eq!(p.prev_url, None);
        assert_eq!(p.next_url.as_deref(), Some("/?page=2"));
        let p = Pagination::new(2, 3, "/tags/grief");
        assert_eq!(p.prev_url.as_deref(), Some("/tags/grief"));
    }
}
