//! askama page structs: what each page needs, nothing more. View models
//! here turn library items into ready-to-print strings.
use askama::Template;
use chrono::{DateTime, Utc};

use crate::config::SiteSettings;
use crate::content::comment_markdown::SafeHtml;
use crate::content::markdown::TocEntry;
use crate::content::search::Segment;
use crate::content::{Article, Page, Tag};
use crate::domain::comment::FieldErrors;

pub mod admin;
pub mod coaching;
pub mod me;
pub mod no_contact;

/// What every HTML page's frame needs.
pub struct Layout<'a> {
    pub site: &'a SiteSettings,
    /// The words of the site (`templates/strings/`): `layout.t.s("key")`.
    pub t: &'a crate::i18n::Strings,
    pub css_url: &'a str,
    pub print_css_url: &'a str,
    /// The admin area's own stylesheet (admin pages only).
    pub admin_css_url: &'a str,
    pub favicon_url: &'a str,
    /// The `<title>`: page title and site name.
    pub title: String,
    pub description: String,
    pub canonical: String,
    pub feed_url: String,
    pub og_type: &'static str,
    /// `og:image`: the share picture (absolute URL) and its description.
    pub image: String,
    pub image_alt: String,
    /// Which main navigation item is current, if any.
    pub nav: Nav,
    /// Prefills the header search box.
    pub query: String,
    pub json_ld: Option<JsonLd>,
    pub noindex: bool,
    /// An admin page: the header leaves out the readers' navigation and
    /// search, and the skip link goes to the admin content.
    pub admin: bool,
    /// The search box in the header (off where the page has its own).
    pub header_search: bool,
    pub year: i32,
    /// The footer links to the no-contact counter (the coach offers it).
    pub no_contact: bool,
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
    /// A date as the site's language writes it (`i18n::Strings::date`).
    pub fn new(at: DateTime<Utc>, t: &crate::i18n::Strings) -> Self {
        Self {
            iso: at.format("%Y-%m-%d").to_string(),
            human: t.date(at),
        }
    }
}

/// "3 hours ago", in the site's language.
pub fn relative_time(at: DateTime<Utc>, now: DateTime<Utc>, t: &crate::i18n::Strings) -> String {
    t.relative(at, now)
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
    /// Approved public comments.
    pub comment_count: i64,
    /// The article's featured picture.
    pub image: Option<&'a crate::content::library::ContentImage>,
}

impl<'a> ArticleCard<'a> {
    pub fn new(a: &'a Article, comment_count: i64, t: &crate::i18n::Strings) -> Self {
        Self {
            url: a.url(),
            title: &a.title,
            date: Date::new(a.date, t),
            reading_minutes: a.reading_minutes,
            summary_html: &a.summary_html,
            tags: &a.tags,
            comment_count,
            image: a.image.as_ref(),
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
    /// The home page introduces the coach (from the about page).
    pub coach: Option<CoachIntro>,
    pub articles: Vec<ArticleCard<'a>>,
    pub pagination: Pagination,
    pub is_home: bool,
}

/// Who the coach is, on the home page: their name, one line of what they
/// offer and their picture (`content/pages/about.md`: `intro`, `image`).
pub struct CoachIntro {
    pub name: String,
    pub offer: Option<String>,
    /// (URL, description); None: the site's mended-bowl mark, decorative.
    pub picture: Option<(String, String)>,
    pub has_about: bool,
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
    /// The article's picture, under its title.
    pub image: Option<&'a crate::content::library::ContentImage>,
    /// The words again, as the partials rendered on their own name them.
    pub t: &'a crate::i18n::Strings,
    /// Moves the comment form under the comment a reader replies to.
    pub reply_js: &'a str,
    pub slug: &'a str,
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
    pub comments: CommentSection<'a>,
    /// Tagged for the no-contact counter: a link to it under the article.
    pub no_contact_link: bool,
}

/// One comment as shown in a thread.
pub struct CommentView {
    pub id: i64,
    pub depth: usize,
    pub name: String,
    pub is_coach: bool,
    pub reply_to_name: Option<String>,
    pub date: Date,
    pub relative: String,
    pub body: SafeHtml,
    /// Only its writer sees it, until the coach approves it.
    pub pending: bool,
    pub private: bool,
    pub edited: bool,
    pub edited_by_coach: bool,
    pub reply_url: String,
    /// Its writer may still change or delete it (within the edit window).
    pub can_edit: bool,
    /// Written by this reader (this browser).
    pub own: bool,
    /// Offers its writer a personal plan: their own comment, and never one
    /// held for crisis words (nor any on the page that shows the crisis
    /// resources).
    pub offer_plan: bool,
}

/// What the reader is told after posting.
pub struct PostNotice {
    pub published: bool,
    pub private: bool,
    pub first_comment: bool,
    pub personal_details: bool,
    pub crisis: bool,
    /// The comment could not be matched to this browser (cookies off).
    pub unknown: bool,
    /// The posted comment (its id and text), shown beside the crisis
    /// resources when it matched the crisis phrases.
    pub comment: Option<(i64, SafeHtml)>,
    /// The form came back (not sent) with words that matched the crisis
    /// phrases: the resources show all the same.
    pub refused: bool,
}

/// The comment form as the reader left it.
#[derive(Default)]
pub struct CommentFormView {
    pub token: String,
    pub name: String,
    pub email: String,
    pub body: String,
    pub notify: bool,
    pub remember: bool,
    pub private: bool,
    pub reply_to: Option<ReplyTo>,
    pub errors: FieldErrors,
    /// A problem with the whole form (expired, too many posts...).
    pub problem: Option<String>,
}

impl CommentFormView {
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.problem.is_some()
    }
}

/// The comment a reply form answers: the form is shown right under it,
/// quoting its first lines.
#[derive(Debug, Clone, Default)]
pub struct ReplyTo {
    pub id: i64,
    pub name: String,
    pub excerpt: String,
}

/// The reader's own fields of the comment form (name, email, comment,
/// checkboxes), also included by the article page. Rendered alone, it lets
/// a cached page take a remembered reader's details (`web::articles`).
#[derive(Template)]
#[template(path = "partials/comment_fields.html")]
pub struct CommentFields<'a> {
    pub form: &'a CommentFormView,
    /// The words (partials rendered on their own take them as `t`).
    pub t: &'a crate::i18n::Strings,
}

/// One comment of a thread, as the article page lists it.
#[derive(Template)]
#[template(path = "partials/comment.html")]
pub struct CommentItem<'a> {
    pub c: &'a CommentView,
    pub slug: &'a str,
    pub t: &'a crate::i18n::Strings,
}

pub struct CommentSection<'a> {
    pub slug: &'a str,
    /// Where the page's segments begin and end: marked in the page
    /// rendered for the cache, nothing in a page rendered for one reader.
    pub marks: SegmentMarks,
    pub action: String,
    pub article_url: String,
    pub count: usize,
    pub comments: Vec<CommentView>,
    pub pagination: Option<Pagination>,
    /// The last comment page, when it is not next to this one.
    pub newest_url: Option<String>,
    pub notice: Option<PostNotice>,
    pub form: CommentFormView,
    pub crisis_resources: &'a [String],
    /// The database could not be reached: the article is still shown.
    pub unavailable: bool,
    /// The signed-in coach: replies from this page carry the Coach badge.
    pub coach: Option<CoachControls>,
}

impl CommentSection<'_> {
    /// The reply form goes right under this comment.
    pub fn replying_to(&self, id: &i64) -> bool {
        self.form.reply_to.as_ref().is_some_and(|r| r.id == *id)
    }

    /// The crisis resources are shown for the comment just posted: the
    /// page then offers nothing paid.
    pub fn crisis_shown(&self) -> bool {
        self.notice.as_ref().is_some_and(|n| n.crisis)
    }
}

/// A boundary between the segments of a cached article page
/// (`web::page_cache::segments`), as the templates write it: an HTML
/// comment, which neither escaped text nor a sanitised comment (ammonia
/// drops comments) can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSegment {
    /// Before each comment of the list.
    Item,
    /// After the list's last comment.
    ListEnd,
    /// Before the comment form's fields (`partials/comment_fields.html`).
    Fields,
    /// After them.
    FieldsEnd,
}

impl PageSegment {
    /// What every mark starts with.
    pub const PREFIX: &'static str = "<!--kintsugi-segment:";
    pub const ALL: [PageSegment; 4] = [
        PageSegment::Item,
        PageSegment::ListEnd,
        PageSegment::Fields,
        PageSegment::FieldsEnd,
    ];

    /// The mark as written into the page.
    pub const fn mark(self) -> &'static str {
        match self {
            PageSegment::Item => "<!--kintsugi-segment:item-->",
            PageSegment::ListEnd => "<!--kintsugi-segment:list-end-->",
            PageSegment::Fields => "<!--kintsugi-segment:fields-->",
            PageSegment::FieldsEnd => "<!--kintsugi-segment:fields-end-->",
        }
    }
}

/// The marks a comment section writes at its segments' boundaries
/// (`partials/comments.html`, `partials/comment_form.html`): the real
/// ones in a page rendered for the cache, empty ones (the default)
/// otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct SegmentMarks {
    pub item: &'static str,
    pub list_end: &'static str,
    pub fields: &'static str,
    pub fields_end: &'static str,
}

impl SegmentMarks {
    pub const CACHED: Self = Self {
        item: PageSegment::Item.mark(),
        list_end: PageSegment::ListEnd.mark(),
        fields: PageSegment::Fields.mark(),
        fields_end: PageSegment::FieldsEnd.mark(),
    };
}

/// What the article page needs when the coach is signed in.
pub struct CoachControls {
    pub name: String,
    pub csrf: String,
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

/// A comment the search shows: who wrote it, when, its words with the
/// matches marked, and the link to it in its thread.
pub struct FoundCommentView {
    pub url: String,
    pub author: String,
    pub is_coach: bool,
    pub date: Date,
    pub text: Vec<Segment>,
}

/// A reader's comment the search found (or answered by a coach's answer it
/// found), with the coach's public answers under it.
pub struct FoundThreadView {
    pub comment: Option<FoundCommentView>,
    pub answers: Vec<FoundCommentView>,
}

/// The comments found under one article.
pub struct FoundInArticleView {
    pub article_url: String,
    pub article_title: String,
    pub threads: Vec<FoundThreadView>,
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage<'a> {
    pub layout: Layout<'a>,
    pub query: String,
    pub total: usize,
    pub results: Vec<SearchResultView<'a>>,
    /// Comment hits grouped by article, after every article hit.
    pub comments: Vec<FoundInArticleView>,
    pub pagination: Pagination,
    pub suggestions: Vec<(Tag, usize)>,
    /// "3 articles match “sleep”.", in the site's language.
    pub result_count: String,
}

#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage<'a> {
    pub layout: Layout<'a>,
    pub status: u16,
    pub heading: String,
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

/// One comment in a comments feed.
pub struct CommentFeedEntry {
    pub url: String,
    pub title: String,
    pub author: String,
    pub published: String,
    pub updated: String,
    /// Sanitised comment HTML, escaped into the XML by the template.
    pub content: SafeHtml,
}

#[derive(Template)]
#[template(path = "comments_feed.xml")]
pub struct CommentsFeed<'a> {
    pub site: &'a SiteSettings,
    pub title: String,
    pub alternate_url: String,
    pub self_url: String,
    pub updated: String,
    pub entries: Vec<CommentFeedEntry>,
}

#[derive(Template)]
#[template(path = "comments/edit.html")]
pub struct EditCommentPage<'a> {
    pub layout: Layout<'a>,
    pub id: i64,
    pub article_title: &'a str,
    pub article_url: String,
    pub body: String,
    pub error: Option<String>,
    pub minutes_left: i64,
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage<'a> {
    pub layout: Layout<'a>,
    pub heading: &'a str,
    pub message: &'a str,
    pub unsubscribe_action: Option<String>,
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

/// A `mailto:` link to one address: everything but letters, digits, `@`
/// and `.-_~` percent-encoded, so no `?cc=`, `&bcc=` or `#` can ride along.
pub fn mailto(email: &str) -> String {
    let mut href = String::from("mailto:");
    for b in email.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'-' | b'_' | b'~') {
            href.push(b as char);
        } else {
            href.push_str(&format!("%{b:02X}"));
        }
    }
    href
}

#[cfg(test)]
mod tests {
    #[test]
    fn mailto_links_carry_one_address_and_nothing_else() {
        assert_eq!(
            super::mailto("sam.j@example.com"),
            "mailto:sam.j@example.com"
        );
        assert_eq!(
            super::mailto("x?cc=evil@x.com&body=hi#f"),
            "mailto:x%3Fcc%3Devil@x.com%26body%3Dhi%23f"
        );
        assert_eq!(super::mailto("o'b+1@x.de"), "mailto:o%27b%2B1@x.de");
    }

    use super::*;

    #[test]
    fn segment_marks_share_their_prefix_and_are_html_comments() {
        for segment in PageSegment::ALL {
            let mark = segment.mark();
            assert!(mark.starts_with(PageSegment::PREFIX) && mark.ends_with("-->"));
            assert_eq!(
                PageSegment::ALL.iter().filter(|s| s.mark() == mark).count(),
                1
            );
        }
    }

    #[test]
    fn json_ld_cannot_close_its_script() {
        let v = serde_json::json!({ "headline": "</script><script>alert(1)</script> & more" });
        let j = JsonLd::new(&v);
        assert!(!j.as_str().contains('<') && !j.as_str().contains('&'));
        let back: serde_json::Value = serde_json::from_str(j.as_str()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn relative_times_read_naturally() {
        let now: DateTime<Utc> = "2026-05-10T12:00:00Z".parse().unwrap();
        let t = crate::i18n::Strings::english();
        let ago = |s: i64| relative_time(now - chrono::Duration::seconds(s), now, &t);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(7200), "2 hours ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(40 * 86_400), "on March 31, 2026");
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
