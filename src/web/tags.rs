//! Topic pages.
use actix_web::{web, HttpRequest, HttpResponse};

use super::articles::{paginate, ListQuery};
use super::page_cache::Depends;
use super::{page_number, render_html, AppState, Caching, PAGE_SIZE};
use crate::error::AppError;
use crate::views::{ArticleCard, ArticleListPage, Nav, Pagination, TagsPage};
use askama::Template;

pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let library = state.content.library();
    let t = &state.strings;
    let layout = state.layout(
        Some(t.s("tags.title")),
        t.s("tags.description"),
        "/tags",
        Nav::Topics,
    );
    render_html(
        &req,
        &TagsPage {
            layout,
            tags: library.tags(state.clock.now()),
        },
        Caching::Revalidate,
    )
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page_number(query.page.as_deref(), &state.strings)?;
    let library = state.content.library();
    let key = format!("/tags/{slug}?page={page}");
    super::cached_page(
        &req,
        &state,
        &key,
        Depends::AnyComments,
        Caching::Revalidate,
        super::HTML,
        || async {
            let now = state.clock.now();
            let tag = library.tag(&slug, now).ok_or(AppError::NotFound)?;
            let matching = library
                .published(now)
                .filter(|a| a.has_tag(&tag.slug))
                .collect();
            let (articles, total_pages) = paginate(matching, page, PAGE_SIZE)?;
            let counts = super::articles::comment_section::counts(&state).await;
            let base = format!("/tags/{}", tag.slug);
            let path = if page == 1 {
                base.clone()
            } else {
                format!("{base}?page={page}")
            };
            let t = &state.strings;
            let title = t.f("tags.articles_about", "tag", &tag.name);
            let layout = state.layout(
                Some(&title),
                &t.f("tags.description_about", "tag", &tag.name),
                &path,
                Nav::Topics,
            );
            let body = ArticleListPage {
                layout,
                heading: if total_pages > 1 {
                    t.f2(
                        "tags.articles_about_page",
                        "page",
                        &page,
                        "pages",
                        &total_pages,
                    )
                    .replace("{tag}", &tag.name)
                } else {
                    title
                },
                intro: None,
                coach: None,
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
                pagination: Pagination::new(page, total_pages, &base),
                is_home: false,
            }
            .render()
            .map_err(AppError::internal)?;
            Ok((body, None))
        },
    )
    .await
}
