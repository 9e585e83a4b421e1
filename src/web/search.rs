//! Full-text search over the published articles, then over what readers
//! and the coach wrote under them in public (`db::comment_search`): a
//! reader finds the threads where someone was in their situation, and
//! what the coach answered.
use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::page_cache::Depends;
use super::{page_number, AppState, Caching};
use crate::content::comment_markdown::SafeHtml;
use crate::content::search::{highlight, snippet, Query, Segment};
use crate::db;
use crate::db::comment_search::{FoundComment, Terms};
use crate::error::AppError;
use crate::views::{
    Date, FoundCommentView, FoundInArticleView, FoundThreadView, Nav, Pagination, SearchPage,
    SearchResultView,
};
use askama::Template;

/// Results per page.
const RESULTS_PER_PAGE: usize = 20;
/// Longer queries are cut here; nobody types more into a search box.
const MAX_QUERY_CHARS: usize = 200;
/// Threads shown under one article at most (the best ones).
const THREADS_PER_ARTICLE: usize = 3;
/// Words of a found comment shown around its first match.
const COMMENT_WORDS: usize = 40;
/// Words of the coach's answer shown under it.
const ANSWER_WORDS: usize = 60;

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
    // Results depend on the content and on the comments: kept as bytes
    // like other pages, dropped when comments change anywhere (here or on
    // another instance), and never stored by the browser (a search can be
    // a private thing).
    let key = format!("/search?q={}&page={page}", encode_query(&raw));
    super::cached_page(
        &req,
        &state,
        &key,
        Depends::AnyComments,
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
            let found = found_comments(&state, &raw, &query).await;
            // Only comments under articles a reader can open.
            let groups: Vec<Group> = found
                .into_iter()
                .filter_map(|g| library.article(&g.slug, now).map(|a| (a, g)))
                .map(|(article, group)| Group {
                    article_url: article.url(),
                    article_title: article.title.clone(),
                    ..group
                })
                .collect();
            let total = hits.len() + groups.len();
            // One list, articles first: a page shows what falls in its range.
            let total_pages = total.div_ceil(RESULTS_PER_PAGE).max(1);
            if page > total_pages {
                return Err(AppError::NotFound);
            }
            let start = (page - 1) * RESULTS_PER_PAGE;
            let end = start + RESULTS_PER_PAGE;
            let article_total = hits.len();
            let comment_total: usize = groups.iter().map(|g| g.comments).sum();
            let hits: Vec<_> = hits
                .into_iter()
                .skip(start)
                .take(end.min(article_total).saturating_sub(start))
                .collect();
            let groups: Vec<Group> = groups
                .into_iter()
                .skip(start.saturating_sub(article_total))
                .take(end.saturating_sub(start.max(article_total)))
                .collect();
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
            let comments = comment_views(&state, groups, &query).await;
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
            let mut result_count = Vec::new();
            if article_total > 0 || comment_total == 0 {
                result_count.push(t.n("search.count", &article_total).replace("{query}", &raw));
            }
            if comment_total > 0 {
                result_count.push(t.n("search.comment_count", &comment_total));
            }
            let body = SearchPage {
                layout,
                query: raw.clone(),
                total,
                results,
                comments,
                pagination,
                suggestions,
                result_count: result_count.join(" "),
            }
            .render()
            .map_err(AppError::internal)?;
            Ok((body, None))
        },
    )
    .await
}

/// One thread the search found: a reader's comment (None when only the
/// coach's answer is public) and the coach's public answers to it.
#[derive(Debug, Clone)]
struct Thread {
    comment: Option<FoundComment>,
    answers: Vec<FoundComment>,
    score: u32,
    /// The newest matching comment's id (ties go to the newest).
    newest: i64,
}

/// The threads found under one article, best first.
#[derive(Debug, Clone, Default)]
struct Group {
    slug: String,
    article_url: String,
    article_title: String,
    threads: Vec<Thread>,
    /// Matching comments under this article (before the cut to
    /// [`THREADS_PER_ARTICLE`] threads).
    comments: usize,
}

/// The public comments matching the query, as threads grouped by article
/// (best group first). A database that cannot answer costs the comment
/// results only: the articles are still found.
async fn found_comments(state: &AppState, raw: &str, query: &Query) -> Vec<Group> {
    let terms = Terms::parse(raw);
    if terms.is_empty() || query.is_empty() {
        return Vec::new();
    }
    match db::run(&state.pool, move |conn| {
        db::comment_search::search(conn, &terms)
    })
    .await
    {
        Ok(found) => group(found, query, raw),
        Err(e) => {
            tracing::warn!(error = %e, "comment search unavailable; showing articles only");
            Vec::new()
        }
    }
}

/// Plain text of a stored comment.
fn text_of(c: &FoundComment) -> String {
    SafeHtml::from_stored(c.row.body_html.clone()).plain_text()
}

/// Lower-cased words of a text, split as the index splits them.
fn words(text: &str) -> Vec<String> {
    db::comment_search::split_words(text).collect()
}

/// How well a text matches: the matched words, and far more when the
/// query's words stand together in the order typed ("we live together").
fn relevance(text: &str, query: &Query, phrase: &[String]) -> u32 {
    let matched = highlight(text, query).iter().filter(|s| s.hit).count() as u32;
    let together = phrase.len() > 1
        && words(text).windows(phrase.len()).any(|w| {
            w.iter().zip(phrase).all(|(word, term)| {
                word == term || (term.chars().count() >= 3 && word.starts_with(term.as_str()))
            })
        });
    matched.min(20) + if together { 100 } else { 0 }
}

/// Threads from what the database found, grouped by article: groups by
/// their best thread, threads by score, then newest first.
fn group(found: db::comment_search::Found, query: &Query, raw: &str) -> Vec<Group> {
    let phrase = words(raw);
    let context: HashMap<i64, &FoundComment> =
        found.context.iter().map(|c| (c.row.id, c)).collect();
    let mut threads: HashMap<i64, Thread> = HashMap::new();
    let mut order: Vec<i64> = Vec::new();
    let mut counted: HashMap<String, usize> = HashMap::new();
    for hit in &found.hits {
        *counted.entry(hit.row.article_slug.clone()).or_default() += 1;
        // Scored on the stored Markdown: no HTML to parse for every
        // candidate (only the comments shown are turned into text).
        let score = relevance(&hit.body_markdown, query, &phrase);
        // The coach's answer stands under the comment it answers.
        let (key, comment) = if hit.row.is_coach {
            match hit.row.reply_to_id.and_then(|id| context.get(&id)) {
                Some(asked) => (asked.row.id, Some((*asked).clone())),
                None => (hit.row.id, None),
            }
        } else {
            (hit.row.id, Some(hit.clone()))
        };
        let thread = threads.entry(key).or_insert_with(|| {
            order.push(key);
            Thread {
                comment,
                answers: Vec::new(),
                score: 0,
                newest: hit.row.id,
            }
        });
        thread.score = thread.score.max(score);
        thread.newest = thread.newest.max(hit.row.id);
        if hit.row.is_coach && !thread.answers.iter().any(|a| a.row.id == hit.row.id) {
            thread.answers.push(hit.clone());
        }
    }
    // The coach's other public answers to the comments found.
    for answer in found.context.iter().filter(|c| c.row.is_coach) {
        if let Some(thread) = answer.row.reply_to_id.and_then(|id| threads.get_mut(&id)) {
            if thread.comment.is_some() && !thread.answers.iter().any(|a| a.row.id == answer.row.id)
            {
                thread.answers.push(answer.clone());
            }
        }
    }
    let mut groups: Vec<Group> = Vec::new();
    for key in order {
        let Some(mut thread) = threads.remove(&key) else {
            continue;
        };
        thread.answers.sort_by_key(|a| a.row.id);
        let slug = thread
            .comment
            .as_ref()
            .or(thread.answers.first())
            .map(|c| c.row.article_slug.clone())
            .unwrap_or_default();
        match groups.iter_mut().find(|g| g.slug == slug) {
            Some(g) => g.threads.push(thread),
            None => groups.push(Group {
                comments: counted.get(&slug).copied().unwrap_or_default(),
                slug,
                threads: vec![thread],
                ..Group::default()
            }),
        }
    }
    for g in &mut groups {
        g.threads
            .sort_by(|a, b| b.score.cmp(&a.score).then(b.newest.cmp(&a.newest)));
        g.threads.truncate(THREADS_PER_ARTICLE);
    }
    let best = |g: &Group| g.threads.first().map_or((0, 0), |t| (t.score, t.newest));
    groups.sort_by_key(|g| std::cmp::Reverse(best(g)));
    groups
}

/// The groups as the page shows them, each comment linked on the page of
/// its article's threads that holds it.
async fn comment_views(
    state: &AppState,
    groups: Vec<Group>,
    query: &Query,
) -> Vec<FoundInArticleView> {
    use super::articles::comment_section::THREADS_PER_PAGE;
    // Where each thread's comment is: most articles have one page of
    // threads (no lookup); on longer ones, the page that holds it.
    let wanted: Vec<(String, i64)> = groups
        .iter()
        .flat_map(|g| {
            g.threads.iter().filter_map(|t| {
                t.comment
                    .as_ref()
                    .or(t.answers.first())
                    .map(|c| (g.slug.clone(), c.row.id))
            })
        })
        .collect();
    let pages: HashMap<i64, i64> = db::run(&state.pool, move |conn| {
        let per_page = THREADS_PER_PAGE as i64;
        let mut pages = HashMap::new();
        let mut threads_of: HashMap<String, i64> = HashMap::new();
        for (slug, id) in wanted {
            let threads = match threads_of.get(&slug) {
                Some(n) => *n,
                None => {
                    let (_, n) = db::comments::counts(conn, &slug)?;
                    threads_of.insert(slug.clone(), n);
                    n
                }
            };
            if threads > per_page {
                if let Some(page) = db::comments::page_of(conn, &slug, &[], id, per_page)? {
                    pages.insert(id, page);
                }
            }
        }
        Ok(pages)
    })
    .await
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "comment pages unavailable; linking to the first");
        HashMap::new()
    });
    let t = &state.strings;
    let view = |c: &FoundComment, page: i64, words: usize| {
        let text = text_of(c);
        let url = if page > 0 {
            format!(
                "/articles/{}?cpage={}#comment-{}",
                c.row.article_slug,
                page + 1,
                c.row.id
            )
        } else {
            format!("/articles/{}#comment-{}", c.row.article_slug, c.row.id)
        };
        FoundCommentView {
            url,
            author: c.row.author_name.clone(),
            is_coach: c.row.is_coach,
            date: Date::new(c.row.created_at.and_utc(), t),
            // A short comment whole (its last words and punctuation too).
            text: if text.split_whitespace().count() <= words {
                highlight(&text, query)
            } else {
                snippet(&text, query, words).unwrap_or_else(|| excerpt(&text, words))
            },
        }
    };
    groups
        .into_iter()
        .map(|g| FoundInArticleView {
            article_url: g.article_url,
            article_title: g.article_title,
            threads: g
                .threads
                .iter()
                .map(|thread| {
                    let head = thread.comment.as_ref().or(thread.answers.first());
                    let page = head
                        .and_then(|c| pages.get(&c.row.id))
                        .copied()
                        .unwrap_or(0);
                    FoundThreadView {
                        comment: thread
                            .comment
                            .as_ref()
                            .map(|c| view(c, page, COMMENT_WORDS)),
                        answers: thread
                            .answers
                            .iter()
                            .map(|a| view(a, page, ANSWER_WORDS))
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect()
}

/// The first `words` words of a text, unmarked.
fn excerpt(text: &str, words: usize) -> Vec<Segment> {
    let all: Vec<&str> = text.split_whitespace().collect();
    let mut shown = all[..all.len().min(words)].join(" ");
    if all.len() > words {
        shown.push_str(" …");
    }
    vec![Segment {
        text: shown,
        hit: false,
    }]
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
