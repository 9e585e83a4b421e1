//! Atom feed, sitemap and robots.txt.
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};

use super::page_cache::Depends;
use super::{AppState, Caching};
use crate::content::comment_markdown::SafeHtml;
use crate::db::{self, comments::CommentRow};
// Every feed and the sitemap pass through this: a character XML forbids,
// from any stored row, would make the whole document unreadable.
use crate::domain::text::xml_safe;
use crate::error::AppError;
use crate::views::{
    AtomFeed, CommentFeedEntry, CommentsFeed, FeedEntry, Robots, Sitemap, SitemapUrl,
};

/// Entries in the feed.
const FEED_ENTRIES: usize = 20;

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub async fn atom(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    super::cached_page(
        &req,
        &state,
        "/feed.xml",
        Depends::Content,
        Caching::Revalidate,
        super::ATOM,
        || async {
            let library = state.content.library();
            let now = state.clock.now();
            let base = &state.settings.base_url;
            let entries = library
                .published(now)
                .take(FEED_ENTRIES)
                .map(|a| FeedEntry {
                    url: base.join(&a.url()),
                    title: &a.title,
                    published: rfc3339(a.date),
                    updated: rfc3339(a.last_changed()),
                    summary: &a.summary_text,
                    content_html: &a.html,
                    tags: &a.tags,
                })
                .collect();
            let feed = AtomFeed {
                site: &state.settings.site,
                home_url: base.join("/"),
                self_url: base.join("/feed.xml"),
                updated: rfc3339(
                    library
                        .last_changed(now)
                        .unwrap_or_else(|| DateTime::<Utc>::from_timestamp(0, 0).unwrap_or(now)),
                ),
                entries,
            };
            let body = xml_safe(feed.render().map_err(AppError::internal)?);
            Ok((body, None))
        },
    )
    .await
}

pub async fn sitemap(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    super::cached_page(
        &req,
        &state,
        "/sitemap.xml",
        Depends::Content,
        Caching::Revalidate,
        "application/xml; charset=utf-8",
        || async {
            let library = state.content.library();
            let now = state.clock.now();
            let base = &state.settings.base_url;
            let day = |at: DateTime<Utc>| at.format("%Y-%m-%d").to_string();
            let mut urls = vec![SitemapUrl {
                loc: base.join("/"),
                lastmod: library.last_changed(now).map(day),
            }];
            let mut pages: Vec<_> = library.pages().collect();
            pages.sort_by(|a, b| a.slug.cmp(&b.slug));
            urls.extend(pages.into_iter().map(|p| SitemapUrl {
                loc: base.join(&p.url()),
                lastmod: p.updated.map(day),
            }));
            urls.push(SitemapUrl {
                loc: base.join("/tags"),
                lastmod: None,
            });
            urls.extend(library.tags(now).into_iter().map(|(t, _)| SitemapUrl {
                loc: base.join(&format!("/tags/{}", t.slug)),
                lastmod: None,
            }));
            urls.extend(library.published(now).map(|a| SitemapUrl {
                loc: base.join(&a.url()),
                lastmod: Some(day(a.last_changed())),
            }));
            let body = xml_safe(Sitemap { urls }.render().map_err(AppError::internal)?);
            Ok((body, None))
        },
    )
    .await
}

pub async fn robots(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    super::cached_page(
        &req,
        &state,
        "/robots.txt",
        Depends::Content,
        Caching::Revalidate,
        "text/plain; charset=utf-8",
        || async {
            let body = Robots {
                sitemap_url: state.settings.base_url.join("/sitemap.xml"),
            }
            .render()
            .map_err(AppError::internal)?;
            Ok((body, None))
        },
    )
    .await
}

/// Entries in a comments feed.
const COMMENT_FEED_ENTRIES: i64 = 50;

/// `/comments.xml`: the newest approved comments on the site.
pub async fn site_comments(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    super::cached_page(
        &req,
        &state,
        "/comments.xml",
        Depends::AnyComments,
        Caching::Revalidate,
        super::ATOM,
        || async {
            let rows = db::run(&state.pool, |conn| {
                db::comments::latest_public(conn, None, COMMENT_FEED_ENTRIES)
            })
            .await?;
            let title = state
                .strings
                .f("feeds.site_comments", "site", &state.settings.site.title);
            let body = comments_feed(&state, title, "/".into(), "/comments.xml".into(), rows)?;
            Ok((body, None))
        },
    )
    .await
}

/// `/articles/{slug}/comments.xml`: the newest approved comments on one article.
pub async fn article_comments(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = format!("/articles/{slug}/comments.xml");
    let depends = Depends::CommentsOf(slug.to_string());
    super::cached_page(
        &req,
        &state,
        &key,
        depends,
        Caching::Revalidate,
        super::ATOM,
        || async {
            let library = state.content.library();
            let article = library
                .article(&slug, state.clock.now())
                .ok_or(AppError::NotFound)?;
            let owned_slug = article.slug.clone();
            let rows = db::run(&state.pool, move |conn| {
                db::comments::latest_public(conn, Some(&owned_slug), COMMENT_FEED_ENTRIES)
            })
            .await?;
            let url = article.url();
            let body = comments_feed(
                &state,
                state
                    .strings
                    .f("feeds.article_comments", "title", &article.title),
                url.clone(),
                format!("{url}/comments.xml"),
                rows,
            )?;
            Ok((body, None))
        },
    )
    .await
}

fn comments_feed(
    state: &AppState,
    title: String,
    alternate_path: String,
    self_path: String,
    rows: Vec<CommentRow>,
) -> Result<String, AppError> {
    let library = state.content.library();
    let now = state.clock.now();
    let base = &state.settings.base_url;
    let entries: Vec<CommentFeedEntry> = rows
        .into_iter()
        .filter_map(|row| {
            // Comments on articles no longer published stay out.
            let article = library.article(&row.article_slug, now)?;
            let created = row.created_at.and_utc();
            Some(CommentFeedEntry {
                url: base.join(&format!("{}#comment-{}", article.url(), row.id)),
                title: state.strings.f2(
                    "feeds.comment",
                    "title",
                    &article.title,
                    "name",
                    &row.author_name,
                ),
                author: row.author_name,
                published: rfc3339(created),
                updated: rfc3339(row.edited_at.map_or(created, |e| e.and_utc())),
                content: SafeHtml::from_stored(row.body_html),
            })
        })
        .collect();
    let updated = entries
        .iter()
        .map(|e| e.updated.clone())
        .max()
        .unwrap_or_else(|| rfc3339(library.last_changed(now).unwrap_or(now)));
    CommentsFeed {
        site: &state.settings.site,
        title,
        alternate_url: base.join(&alternate_path),
        self_url: base.join(&self_path),
        updated,
        entries,
    }
    .render()
    .map(xml_safe)
    .map_err(AppError::internal)
}
