//! Full-text search over the published articles.
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::articles::paginate;
use super::page_cache::Depends;
use super::{page_number, AppState, Caching};
use crate::content::search::{highlight, snippet, Query};
use crate::error::AppError;
use crate::views::{Date, Nav, Pagination, SearchPage, SearchResultView};
use askama::Template;

/// Results per page.
const RESULTS_PER_PAGE: usize = 20;
/// Longer queries are cut here; nobody types more into a search box.
const MAX_QUERY_CHARS: usize = 200;

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    page: Option<String>,
}

pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page_number(params.page.as_deref(), &state.strings)?;
    let raw: String = params
        .q
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_QUERY_CHARS)
        .collect();
    let raw = raw.trim().to_string();
    // Results depend on the content only: kept as bytes like other pages,
    // but never stored by the browser (a search can be a private thing).
    let key = format!("/search?q={}&page={page}", encode_query(&raw));
    super::cached_page(
        &req,
        &state,
        &key,
        Depends::Content,
        Caching::NoStore,
        super::HTML,
        || async {
            let query = Query::parse(&raw);
            let library = state.content.library();
            let now = state.clock.now();
            let hits = if query.is_empty() {
                Vec::new()
            } else {
                library.search(&query, now)
            };
            let total = hits.len();
            let (hits, total_pages) = paginate(hits, page, RESULTS_PER_PAGE)?;
            let results = hits
                .into_iter()
                .map(|a| SearchResultView {
                    url: a.url(),
                    title: highlight(&a.title, &query),
                    snippet: snippet(&a.plain_text, &query, 36)
                        .unwrap_or_else(|| highlight(&a.summary_text, &query)),
                    date: Date::new(a.date, &state.strings),
                    tags: &a.tags,
                })
                .collect();
            let t = &state.strings;
            let title = if raw.is_empty() {
                t.s("search.title").to_string()
            } else {
                t.f("search.title_query", "query", &raw)
            };
            let mut layout = state.layout(
                Some(&title),
                t.s("search.description"),
                "/search",
                Nav::None,
            );
            layout.query = raw.clone();
            layout.noindex = true;
            // One search box on the page: the one in it.
            layout.header_search = false;
            let base = format!("/search?q={}", encode_query(&raw));
            let mut pagination = Pagination::new(page, total_pages, &base);
            // The base already has a query string: page links continue it.
            pagination.prev_url = (page > 1).then(|| {
                if page == 2 {
                    base.clone()
                } else {
                    format!("{base}&page={}", page - 1)
                }
            });
            pagination.next_url = (page < total_pages).then(|| format!("{base}&page={}", page + 1));
            let suggestions = if total == 0 {
                library.tags(now)
            } else {
                Vec::new()
            };
            let body = SearchPage {
                layout,
                query: raw.clone(),
                total,
                results,
                pagination,
                suggestions,
                result_count: t.n("search.count", &total).replace("{query}", &raw),
            }
            .render()
            .map_err(AppError::internal)?;
            Ok((body, None))
        },
    )
    .await
}

/// Percent-encodes a query-string value.
fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
