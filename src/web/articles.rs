//! The home page, article pages and standalone pages.
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

use super::page_cache::Depends;
use super::{comments, page_number, render_html, AppState, Caching, PAGE_SIZE};
use crate::error::AppError;
use crate::pages::{
    ArticleCard, ArticleLink, ArticleListPage, ArticlePage, CoachControls, CommentFormView,
    CommentSection, Date, JsonLd, Nav, Pagination, StandalonePage,
};
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
    let page = page_number(query.page.as_deref())?;
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
            let now = Utc::now();
            let (articles, total_pages) =
                paginate(library.published(now).collect(), page, PAGE_SIZE)?;
            let counts = comments::counts(&state).await;
            let path = if page == 1 {
                "/".to_string()
            } else {
                format!("/?page={page}")
            };
            let mut layout = state.layout(
                (page > 1)
                    .then(|| format!("Articles, page {page}"))
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
                    "Latest articles".to_string()
                } else {
                    format!("Latest articles, page {page} of {total_pages}")
                },
                intro: (page == 1).then(|| state.settings.site.tagline.clone()),
                articles: articles
                    .iter()
                    .map(|a| ArticleCard::new(a, counts.get(&a.slug).copied().unwrap_or(0)))
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
}

/// What an article page shows besides the article.
pub struct ArticleView {
    /// The comment form as the reader left it (None: a fresh form).
    pub form: Option<CommentFormView>,
    pub status: StatusCode,
    pub comment_page: usize,
    pub posted: Option<i64>,
    pub reply_to: Option<i64>,
    /// Set when the page has no personal part: it is served from, and
    /// stored in, the page cache under this key.
    pub cache_key: Option<String>,
}

impl Default for ArticleView {
    fn default() -> Self {
        Self {
            form: None,
            status: StatusCode::OK,
            comment_page: 1,
            posted: None,
            reply_to: None,
            cache_key: None,
        }
    }
}

/// True when the reader has something of their own on article pages: their
/// comments, remembered details, or a coach session.
fn has_personal_part(req: &HttpRequest) -> bool {
    use super::admin::session::{COOKIE, SECURE_COOKIE};
    [
        comments::OWN_COOKIE,
        comments::REMEMBER_COOKIE,
        COOKIE,
        SECURE_COOKIE,
    ]
    .iter()
    .any(|name| req.cookie(name).is_some())
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    query: web::Query<ArticleQuery>,
) -> Result<HttpResponse, AppError> {
    let id = |raw: &Option<String>| raw.as_deref().and_then(|v| v.parse::<i64>().ok());
    let mut view = ArticleView {
        comment_page: page_number(query.cpage.as_deref())?,
        posted: id(&query.posted),
        reply_to: id(&query.replyto),
        ..ArticleView::default()
    };
    if query.posted.is_none() && query.replyto.is_none() && !has_personal_part(&req) {
        let key = format!("/articles/{slug}?cpage={}", view.comment_page);
        if let super::page_cache::Lookup::Hit(entry) | super::page_cache::Lookup::Refresh(entry) =
            state
                .pages
                .lookup(&key, state.content.generation(), Utc::now())
        {
            return Ok(entry.respond(&req));
        }
        view.cache_key = Some(key);
    }
    article_response(&req, &state, &slug, view).await
}

/// Renders an article page with its comment section.
pub async fn article_response(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    slug: &str,
    view: ArticleView,
) -> Result<HttpResponse, AppError> {
    let generation = state.content.generation();
    let library = state.content.library();
    let now = Utc::now();
    let article = library.article(slug, now).ok_or(AppError::NotFound)?;
    let loaded =
        comments::load_section(req, state, &article.slug, view.comment_page, view.posted).await?;
    let coach = super::admin::session::current(req, state)
        .await
        .unwrap_or_default()
        .map(|c| CoachControls {
            name: c.name,
            csrf: c.csrf,
        });
    let mut form = view
        .form
        .unwrap_or_else(|| comments::blank_form(req, state, &article.slug));
    let reply_to = form.reply_to.as_ref().map(|(id, _)| *id).or(view.reply_to);
    form.reply_to = reply_to.and_then(|id| {
        loaded
            .views
            .iter()
            .find(|c| c.id == id && !c.pending)
            .map(|c| (id, c.name.clone()))
    });
    let loaded_unavailable = loaded.unavailable;
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
    let page = ArticlePage {
        layout,
        slug: &article.slug,
        title: &article.title,
        date: Date::new(article.date),
        updated: article.updated.filter(|u| *u > article.date).map(Date::new),
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
            comments: loaded.views,
            pagination: loaded.pagination,
            newest_url: loaded.newest_url,
            notice: loaded.notice,
            form,
            crisis_resources: &state.settings.comments.crisis_resources,
            unavailable: loaded.unavailable,
            coach,
        },
    };
    if let (Some(key), StatusCode::OK, None, false) = (
        &view.cache_key,
        view.status,
        &page.comments.coach,
        loaded_unavailable,
    ) {
        let token = page.comments.form.token.clone();
        let body = page.render().map_err(AppError::internal)?;
        let entry = state.pages.store(
            key,
            body,
            Some(&token),
            "text/html; charset=utf-8",
            Caching::Revalidate.header(),
            Depends::CommentsOf(article.slug.clone()),
            generation,
            now,
        );
        return Ok(entry.respond(req));
    }
    if view.status == StatusCode::OK && page.comments.coach.is_none() {
        return render_html(req, &page, Caching::Private);
    }
    // A form sent back with problems: never a 304, never stored.
    let mut res = render_html(req, &page, Caching::NoStore)?;
    *res.status_mut() = view.status;
    Ok(res)
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
            updated: page.updated.map(Date::new),
            is_coaching: page.slug == "coaching",
        },
        Caching::Revalidate,
    )
}
