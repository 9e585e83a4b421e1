//! The home page, article pages and standalone pages.
pub mod comment_section;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page_cache::segments::{self, Kind, Part};
use super::page_cache::{CachedPage, Depends, Lookup};
use super::{page_number, render_html, AppState, Caching, PAGE_SIZE};
use crate::error::AppError;
use crate::views::{
    ArticleCard, ArticleLink, ArticleListPage, ArticlePage, CoachControls, CoachIntro,
    CommentFields, CommentFormView, CommentItem, CommentSection, Date, JsonLd, Nav, Pagination,
    ReplyTo, SegmentMarks, StandalonePage,
};
use comment_section::{Listed, OwnPart};

/// How much of the comment a reply answers its form quotes.
const REPLY_QUOTE_CHARS: usize = 240;
use askama::Template;

#[derive(Deserialize)]
pub struct ListQuery {
    pub page: Option<String>,
}

/// Pages through `items`, refusing pages past the end (page 1 always
/// exists, even when empty).
pub fn paginate<T>(
    items: Vec<T>,
    page: usize,
    per_page: usize,
) -> Result<(Vec<T>, usize), AppError> {
    let total_pages = items.len().div_ceil(per_page).max(1);
    if page > total_pages {
        return Err(AppError::NotFound);
    }
    let slice = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    Ok((slice, total_pages))
}

pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page_number(query.page.as_deref(), &state.strings)?;
    let key = format!("/?page={page}");
    super::cached_page(
        &req,
        &state,
        &key,
        Depends::AnyComments,
        Caching::Revalidate,
        super::HTML,
        || async {
            let library = state.content.library();
            let now = state.clock.now();
            let (articles, total_pages) =
                paginate(library.published(now).collect(), page, PAGE_SIZE)?;
            let counts = comment_section::counts(&state).await;
            let path = if page == 1 {
                "/".to_string()
            } else {
                format!("/?page={page}")
            };
            let t = &state.strings;
            let mut layout = state.layout(
                (page > 1)
                    .then(|| t.f("articles.page_title", "page", &page))
                    .as_deref(),
                "",
                &path,
                Nav::Articles,
            );
            layout.json_ld = (page == 1).then(|| {
                JsonLd::new(&serde_json::json!({
                    "@context": "https://schema.org",
                    "@type": "WebSite",
                    "name": state.settings.site.title,
                    "url": state.settings.base_url.join("/"),
                    "potentialAction": {
                        "@type": "SearchAction",
                        "target": state.settings.base_url.join("/search?q={query}"),
                        "query-input": "required name=query",
                    },
                }))
            });
            let body = ArticleListPage {
                layout,
                heading: if page == 1 {
                    t.s("articles.latest").to_string()
                } else {
                    t.f2("articles.latest_page", "page", &page, "pages", &total_pages)
                },
                intro: (page == 1).then(|| state.settings.site.tagline.clone()),
                coach: (page == 1).then(|| {
                    let about = library.page("about");
                    CoachIntro {
                        name: state.settings.site.author.clone(),
                        offer: about.and_then(|p| p.intro.clone()),
                        picture: about
                            .and_then(|p| p.image.as_ref())
                            .map(|i| (i.url(), i.alt.clone())),
                        has_about: about.is_some(),
                    }
                }),
                articles: articles
                    .iter()
                    .map(|a| {
                        ArticleCard::new(
                            a,
                            counts.get(&a.slug).copied().unwrap_or(0),
                            &state.strings,
                        )
                    })
                    .collect(),
                pagination: Pagination::new(page, total_pages, "/"),
                is_home: true,
            }
            .render()
            .map_err(AppError::internal)?;
            Ok((body, None))
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct ArticleQuery {
    cpage: Option<String>,
    posted: Option<String>,
    replyto: Option<String>,
    /// The signature a crisis post's redirect carries (`comment_section::posted_url`).
    help: Option<String>,
}

/// What an article page shows besides the article.
pub struct ArticleView {
    /// The comment form as the reader left it (None: a fresh form).
    pub form: Option<CommentFormView>,
    pub status: StatusCode,
    pub comment_page: usize,
    pub posted: Option<i64>,
    pub reply_to: Option<i64>,
    /// The posted comment matched the crisis phrases (a signed redirect).
    pub crisis_signed: bool,
    /// Set when the page has no personal part: it is served from, and
    /// stored in, the page cache under this key.
    pub cache_key: Option<String>,
    /// The database just could not take the reader's comment: their form
    /// comes back at once, without waiting on the database again to read
    /// the comments (a lock or an outage would make them wait twice).
    pub database_down: bool,
}

impl Default for ArticleView {
    fn default() -> Self {
        Self {
            form: None,
            status: StatusCode::OK,
            comment_page: 1,
            posted: None,
            reply_to: None,
            crisis_signed: false,
            cache_key: None,
            database_down: false,
        }
    }
}

/// What of the reader's own an article page shows.
enum Personal {
    /// Nothing: the shared cached bytes.
    Nothing,
    /// Only their remembered name and email: the cached page with the
    /// form's fields swapped for theirs.
    Remembered(String, String),
    /// Their own comments, perhaps on this article (and maybe remembered
    /// details): the cached page with their comments put in (`splice_own`),
    /// when it can be done exactly.
    OwnComments(Option<(String, String)>),
    /// The coach's controls: the page is rendered for them.
    Rendered,
}

fn personal_part(req: &HttpRequest) -> Personal {
    use super::admin::session::{COOKIE, SECURE_COOKIE};
    if req.cookie(COOKIE).is_some() || req.cookie(SECURE_COOKIE).is_some() {
        return Personal::Rendered;
    }
    let remembered = comment_section::remembered(req);
    if !comment_section::own_comments(req).is_empty() {
        // Whether they are on this article is read with the page itself.
        return Personal::OwnComments(remembered);
    }
    match remembered {
        Some((name, email)) => Personal::Remembered(name, email),
        None => Personal::Nothing,
    }
}

/// The cached page as this reader gets it: as is, or made of its segments
/// with their own parts in place (their comments among the list's, their
/// remembered name and email in the form; private to them, see
/// `CachedPage::respond_personal`). None when that cannot be done exactly.
fn respond_cached(
    req: &HttpRequest,
    entry: &CachedPage,
    remembered: Option<(String, String)>,
    own: Option<(&[Listed], &str)>,
    t: &crate::i18n::Strings,
) -> Result<Option<HttpResponse>, AppError> {
    if remembered.is_none() && own.is_none() {
        return Ok(Some(entry.respond(req)));
    }
    Ok(personal_parts(entry, remembered, own, t)?
        .and_then(|parts| entry.respond_personal(req, &parts)))
}

/// The parts of this reader's page: the entry's segments, with the form's
/// fields rendered with their remembered name and email, and the list as
/// `own` has it (`comment_section::own_part`): the shared page's comments
/// as they are, theirs rendered. None unless the shared page lists
/// exactly its public comments, in the same order, one segment each.
fn personal_parts(
    entry: &CachedPage,
    remembered: Option<(String, String)>,
    own: Option<(&[Listed], &str)>,
    t: &crate::i18n::Strings,
) -> Result<Option<Vec<Part>>, AppError> {
    let Some(kinds) = entry.segment_kinds() else {
        return Ok(None);
    };
    let kinds: Vec<Kind> = kinds.collect();
    let items: Vec<usize> = (0..kinds.len())
        .filter(|i| kinds[*i] == Kind::Item)
        .collect();
    let mut parts = Vec::with_capacity(kinds.len() + 4);
    let mut listed = false;
    for (i, kind) in kinds.iter().enumerate() {
        match kind {
            Kind::Item if listed => {}
            Kind::Item => {
                listed = true;
                let Some((list, slug)) = own else {
                    parts.extend(items.iter().map(|i| Part::Shared(*i)));
                    continue;
                };
                let Some(shared) = entry.listed.as_deref() else {
                    return Ok(None);
                };
                let public = list.iter().filter_map(|item| match item {
                    Listed::Shared(id) => Some(*id),
                    Listed::Theirs(view) => (!view.pending).then_some(view.id),
                });
                if shared.items.len() != items.len()
                    || !public.eq(shared.items.iter().map(|(id, _)| *id))
                {
                    return Ok(None);
                }
                let mut next = items.iter();
                for item in list {
                    match item {
                        Listed::Shared(_) => match next.next() {
                            Some(i) => parts.push(Part::Shared(*i)),
                            None => return Ok(None),
                        },
                        Listed::Theirs(view) => {
                            // Their published comment, in place of the
                            // shared page's rendering of it.
                            if !view.pending {
                                next.next();
                            }
                            let item = CommentItem { c: view, slug, t }
                                .render()
                                .map_err(AppError::internal)?;
                            parts.push(Part::Theirs(item));
                        }
                    }
                }
            }
            Kind::Fields => match &remembered {
                Some((name, email)) => {
                    let fields = CommentFields {
                        form: &CommentFormView {
                            name: name.clone(),
                            email: email.clone(),
                            remember: true,
                            ..CommentFormView::default()
                        },
                        t,
                    }
                    .render()
                    .map_err(AppError::internal)?;
                    parts.push(Part::Theirs(fields));
                }
                None => parts.push(Part::Shared(i)),
            },
            Kind::Before | Kind::Between | Kind::After => parts.push(Part::Shared(i)),
        }
    }
    // Their comments on a page that lists none: rendered for them.
    if own.is_some() && !listed {
        return Ok(None);
    }
    Ok(Some(parts))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    query: web::Query<ArticleQuery>,
) -> Result<HttpResponse, AppError> {
    let id = |raw: &Option<String>| raw.as_deref().and_then(|v| v.parse::<i64>().ok());
    let mut view = ArticleView {
        comment_page: page_number(query.cpage.as_deref(), &state.strings)?,
        posted: id(&query.posted),
        reply_to: id(&query.replyto),
        ..ArticleView::default()
    };
    view.crisis_signed = match (view.posted, query.help.as_deref()) {
        (Some(posted), Some(help)) => comment_section::crisis_signed(&state, posted, help),
        _ => false,
    };
    let personal = if query.posted.is_none() && query.replyto.is_none() {
        personal_part(&req)
    } else {
        Personal::Rendered
    };
    let (remembered, own) = match personal {
        Personal::Rendered => return article_response(&req, &state, &slug, view).await,
        Personal::Nothing => (None, false),
        Personal::Remembered(name, email) => (Some((name, email)), false),
        Personal::OwnComments(remembered) => (remembered, true),
    };
    let comment_page = view.comment_page;
    let for_them = || ArticleView {
        comment_page,
        ..ArticleView::default()
    };
    let key = format!("/articles/{slug}?cpage={comment_page}");
    let entry = match state
        .page_cache
        .lookup(&key, state.content.generation(), state.clock.now())
    {
        Lookup::Hit(entry) | Lookup::Refresh(entry) => entry,
        Lookup::Miss => {
            view.cache_key = Some(key);
            match render_shared(&req, &state, &slug, view).await? {
                Ok(entry) => entry,
                // Not cacheable now (comments unavailable): rendered for
                // this reader only.
                Err(response) if remembered.is_none() && !own => return Ok(response),
                Err(_) => return article_response(&req, &state, &slug, for_them()).await,
            }
        }
    };
    // Their own comments put into the page's list: one read of their few
    // comments per version of the page (the entry remembers it), no read
    // of the page, no render. When they would move threads between pages,
    // the page is rendered for them.
    let part = match (own, &entry.listed) {
        (false, _) => None,
        (true, Some(listed)) => {
            let theirs = comment_section::own_comments(&req);
            let key = comment_section::own_key(&theirs);
            let part = match entry.reader_part::<OwnPart>(&key) {
                Some(part) => part,
                None => {
                    let part =
                        Arc::new(comment_section::own_part(&theirs, &state, &slug, listed).await?);
                    if !matches!(*part, OwnPart::Render) {
                        entry.keep_reader_part(key, part.clone());
                    }
                    part
                }
            };
            if matches!(*part, OwnPart::Render) {
                return article_response(&req, &state, &slug, for_them()).await;
            }
            Some(part)
        }
        (true, None) => return article_response(&req, &state, &slug, for_them()).await,
    };
    let own = part
        .as_deref()
        .and_then(OwnPart::list)
        .map(|list| (list, slug.as_str()));
    match respond_cached(&req, &entry, remembered, own, &state.strings)? {
        Some(response) => Ok(response),
        None => article_response(&req, &state, &slug, for_them()).await,
    }
}

/// Renders the shared page into the cache. `Err` holds the response when
/// the page could not be cached (its comments could not be read).
async fn render_shared(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    slug: &str,
    view: ArticleView,
) -> Result<Result<std::sync::Arc<CachedPage>, HttpResponse>, AppError> {
    match build_page(req, state, slug, view).await? {
        Built::Cached(entry) => Ok(Ok(entry)),
        Built::Response(response) => Ok(Err(response)),
    }
}

/// An article page, rendered: kept in the page cache, or for one reader.
enum Built {
    Cached(std::sync::Arc<CachedPage>),
    Response(HttpResponse),
}

/// Renders an article page with its comment section.
pub async fn article_response(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    slug: &str,
    view: ArticleView,
) -> Result<HttpResponse, AppError> {
    Ok(match build_page(req, state, slug, view).await? {
        Built::Cached(entry) => entry.respond(req),
        Built::Response(response) => response,
    })
}

async fn build_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    slug: &str,
    view: ArticleView,
) -> Result<Built, AppError> {
    let generation = state.content.generation();
    let library = state.content.library();
    let now = state.clock.now();
    let article = library.article(slug, now).ok_or(AppError::NotFound)?;
    // The shared page never shows anyone's own comments.
    let own = match view.cache_key {
        Some(_) => Vec::new(),
        None => comment_section::own_comments(req),
    };
    // Replying: the page holding the comment answered, wherever it is.
    let replying = view
        .form
        .as_ref()
        .and_then(|f| f.reply_to.as_ref().map(|r| r.id))
        .or(view.reply_to);
    let loaded = if view.database_down {
        comment_section::LoadedComments::unavailable()
    } else {
        comment_section::load_section(
            &own,
            state,
            &article.slug,
            view.comment_page,
            view.posted,
            replying,
            view.crisis_signed,
        )
        .await?
    };
    let coach = super::admin::session::current(req, state)
        .await
        .unwrap_or_default()
        .map(|c| CoachControls {
            name: c.name,
            csrf: c.csrf,
        });
    // The shared page never carries a reader's remembered details.
    let mut form = view.form.unwrap_or_else(|| match view.cache_key {
        Some(_) => comment_section::shared_form(state, &article.slug),
        None => comment_section::blank_form(req, state, &article.slug),
    });
    let reply_to = form.reply_to.as_ref().map(|r| r.id).or(view.reply_to);
    form.reply_to = if loaded.unavailable {
        // The comment answered cannot be read just now: the reply stays a
        // reply to it (by id), with no name or quote to show.
        reply_to.map(|id| ReplyTo {
            id,
            ..ReplyTo::default()
        })
    } else {
        reply_to.and_then(|id| {
            loaded
                .views
                .iter()
                .find(|c| c.id == id && !c.pending)
                .map(|c| ReplyTo {
                    id,
                    name: c.name.clone(),
                    excerpt: c.body.excerpt(REPLY_QUOTE_CHARS),
                })
        })
    };
    let loaded_unavailable = loaded.unavailable;
    let listed = loaded.listed;
    let (older, newer) = library.neighbours(article, now);
    let related = library.related(article, now, 3);
    let site = &state.settings.site;
    let author = article.author.as_deref().unwrap_or(&site.author);
    let url = article.url();
    let mut layout = state.layout(
        Some(&article.title),
        &article.summary_text,
        &url,
        Nav::Articles,
    );
    layout.og_type = "article";
    if let Some(image) = &article.image {
        layout.image = state.settings.base_url.join(&image.url());
        layout.image_alt = image.alt.clone();
    }
    if form.has_errors() {
        // Said first, so a screen reader hears it before anything else.
        layout.title = state.strings.f("errors.title", "title", &layout.title);
    }
    layout.json_ld = Some(JsonLd::new(&serde_json::json!({
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": article.title,
        "description": article.summary_text,
        "datePublished": article.date.to_rfc3339(),
        "dateModified": article.last_changed().to_rfc3339(),
        "author": { "@type": "Person", "name": author },
        "publisher": { "@type": "Organization", "name": site.title },
        "mainEntityOfPage": state.settings.base_url.join(&url),
        "url": state.settings.base_url.join(&url),
        "keywords": article.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
        "wordCount": article.plain_text.split_whitespace().count(),
        "commentCount": loaded.count,
        "inLanguage": site.language,
    })));
    // A form sent back (not stored) whose words matched the crisis phrases
    // shows the crisis resources all the same, above everything.
    let mut notice = loaded.notice;
    if notice.is_none()
        && view.status != StatusCode::OK
        && state
            .settings
            .comments
            .rules
            .assess(&form.body, form.private)
            .urgent
    {
        notice = Some(crate::views::PostNotice {
            published: false,
            private: form.private,
            first_comment: false,
            personal_details: false,
            crisis: true,
            unknown: false,
            comment: None,
            refused: true,
        });
    }
    // The page that shows the crisis resources offers nothing paid.
    let crisis = notice.as_ref().is_some_and(|n| n.crisis);
    let mut views = loaded.views;
    for v in &mut views {
        v.offer_plan &= !crisis;
    }
    // Kept in the cache (as segments) or rendered for one reader.
    let cached = match (&view.cache_key, view.status, &coach, loaded_unavailable) {
        (Some(key), StatusCode::OK, None, false) => Some(key),
        _ => None,
    };
    let mut page = ArticlePage {
        layout,
        image: article.image.as_ref(),
        t: &state.strings,
        reply_js: state.assets.url("js/reply.js"),
        slug: &article.slug,
        title: &article.title,
        date: Date::new(article.date, &state.strings),
        updated: article
            .updated
            .filter(|u| *u > article.date)
            .map(|u| Date::new(u, &state.strings)),
        author,
        reading_minutes: article.reading_minutes,
        tags: &article.tags,
        toc: if article.toc.len() >= 3 {
            &article.toc
        } else {
            &[]
        },
        body_html: &article.html,
        older: older.map(|a| ArticleLink::new(a)),
        newer: newer.map(|a| ArticleLink::new(a)),
        related: related.into_iter().map(|a| ArticleLink::new(a)).collect(),
        comments: CommentSection {
            slug: &article.slug,
            action: format!("{url}/comments"),
            article_url: url.clone(),
            count: loaded.count,
            comments: views,
            pagination: loaded.pagination,
            newest_url: loaded.newest_url,
            notice,
            form,
            crisis_resources: &state.settings.comments.crisis_resources,
            unavailable: loaded.unavailable,
            coach,
            marks: match cached {
                Some(_) => SegmentMarks::CACHED,
                None => SegmentMarks::default(),
            },
        },
        no_contact_link: library
            .no_contact()
            .is_some_and(|guide| guide.linked_from(article.tags.iter().map(|t| t.slug.as_str()))),
    };
    if let Some(key) = cached {
        let token = page.comments.form.token.clone();
        let marked = page.render().map_err(AppError::internal)?;
        let (body, cuts) = match segments::split(&marked) {
            Some(split) => (split.plain, Some(split.cuts)),
            // The article's own text carries a mark: kept whole.
            None => {
                page.comments.marks = SegmentMarks::default();
                (page.render().map_err(AppError::internal)?, None)
            }
        };
        let entry = state
            .page_cache
            .store_off_thread(super::page_cache::NewPage {
                key: key.clone(),
                body,
                volatile: Some(token),
                content_type: super::HTML,
                cache_control: Caching::Revalidate.header(),
                depends: Depends::CommentsOf(article.slug.clone()),
                content_generation: generation,
                now,
                listed: Some(listed),
                cuts,
            })
            .await
            .map_err(AppError::internal)?;
        return Ok(Built::Cached(entry));
    }
    if view.status == StatusCode::OK && page.comments.coach.is_none() {
        return render_html(req, &page, Caching::Private).map(Built::Response);
    }
    // A form sent back with problems: never a 304, never stored.
    let mut res = render_html(req, &page, Caching::NoStore)?;
    *res.status_mut() = view.status;
    Ok(Built::Response(res))
}

/// The article again, with the reader's comment form as they sent it and
/// what needs fixing (or that it could not be saved): the one way a form
/// comes back on an article page, whatever refused it.
pub async fn form_again(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    article: &crate::content::Article,
    mut form: CommentFormView,
    parent_id: Option<i64>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    form.reply_to = parent_id.map(|id| crate::views::ReplyTo {
        id,
        ..Default::default()
    });
    article_response(
        req,
        state,
        &article.slug,
        ArticleView {
            form: Some(form),
            status,
            database_down: status == StatusCode::SERVICE_UNAVAILABLE,
            ..ArticleView::default()
        },
    )
    .await
}

/// `/about`, `/privacy`, `/coaching` and any other `content/pages/*.md`.
pub async fn standalone(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let library = state.content.library();
    let page = library.page(&slug).ok_or(AppError::NotFound)?;
    let nav = match page.slug.as_str() {
        "coaching" => Nav::Coaching,
        "about" => Nav::About,
        _ => Nav::None,
    };
    let layout = state.layout(Some(&page.title), &page.summary_text, &page.url(), nav);
    render_html(
        &req,
        &StandalonePage {
            layout,
            page,
            updated: page.updated.map(|u| Date::new(u, &state.strings)),
            is_coaching: page.slug == "coaching",
        },
        Caching::Revalidate,
    )
}
