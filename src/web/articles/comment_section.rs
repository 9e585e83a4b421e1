//! The article page's comment section as a reader sees it: the threads
//! of one comment page, the reader's own part (their comments, their
//! remembered name and email), the blank and remembered forms, and the
//! counts the lists show. Read here, shown by `web::articles`; the
//! handlers that change comments are in `web::comments`.
use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::content::comment_markdown::SafeHtml;
use crate::db::{self, comments::CommentRow};
use crate::domain::moderation::{reasons_from_text, HoldReason};
use crate::domain::thread::{self, ListedThreads};
use crate::error::AppError;
use crate::keys::{self, FormToken};
use crate::views::{relative_time, CommentFormView, CommentView, Date, Pagination, PostNotice};
use crate::web::request::reader_cookie;
use crate::web::AppState;

/// Cookie listing the reader's own comments as `id.token` pairs
/// (`__Host-kintsugi_own` on https, see [`reader_cookie_name`]).
pub const OWN_COOKIE: &str = "kintsugi_own";
/// Cookie remembering the reader's name and email (opt-in).
pub const REMEMBER_COOKIE: &str = "kintsugi_commenter";
/// Top-level threads per comment page.
pub const THREADS_PER_PAGE: usize = 50;
/// Minutes a writer may change or delete their comment after posting.
pub const EDIT_WINDOW_MINUTES: i64 = 15;
/// How many own comments the cookie remembers.
pub const OWN_COOKIE_ENTRIES: usize = 20;

/// The reader's own comments, from their cookie: (id, token).
pub fn own_comments(req: &HttpRequest) -> Vec<(i64, String)> {
    reader_cookie(req, OWN_COOKIE)
        .map(|c| {
            c.value()
                .split('_')
                .filter_map(|pair| {
                    let (id, token) = pair.split_once('.')?;
                    let id = id.parse::<i64>().ok()?;
                    (token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()))
                        .then(|| (id, token.to_string()))
                })
                .take(OWN_COOKIE_ENTRIES)
                .collect()
        })
        .unwrap_or_default()
}

/// Name and email remembered on this device, if the reader asked.
pub fn remembered(req: &HttpRequest) -> Option<(String, String)> {
    let raw = reader_cookie(req, REMEMBER_COOKIE)?;
    let bytes: Option<Vec<u8>> = (0..raw.value().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(raw.value().get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (name, email) = text.split_once('\n')?;
    Some((name.to_string(), email.to_string()))
}

/// A fresh, empty comment form, the same for every reader.
pub fn shared_form(state: &AppState, slug: &str) -> CommentFormView {
    CommentFormView {
        token: FormToken::issue(&state.key, &form_scope(slug), state.clock.now().timestamp()),
        ..CommentFormView::default()
    }
}

/// A fresh, empty comment form (prefilled from the remember cookie).
pub fn blank_form(req: &HttpRequest, state: &AppState, slug: &str) -> CommentFormView {
    let mut form = shared_form(state, slug);
    if let Some((name, email)) = remembered(req) {
        form.name = name;
        form.email = email;
        form.remember = true;
    }
    form
}

pub fn form_scope(slug: &str) -> String {
    format!("comment:{slug}")
}

/// The comments of an article for this reader, and the notice for the
/// comment they just posted.
pub struct LoadedComments {
    pub views: Vec<CommentView>,
    /// The same comments as (id, parent) with the page's place among all:
    /// kept with the shared page, so a reader's own comments can be put
    /// into it without reading the page again (`own_part`).
    pub listed: ListedThreads,
    pub count: usize,
    pub pagination: Option<Pagination>,
    pub newest_url: Option<String>,
    pub notice: Option<PostNotice>,
    pub unavailable: bool,
}

impl LoadedComments {
    /// The comments could not be read: the article is shown without them.
    pub fn unavailable() -> Self {
        Self {
            views: Vec::new(),
            listed: ListedThreads::default(),
            count: 0,
            pagination: None,
            newest_url: None,
            notice: None,
            unavailable: true,
        }
    }
}

/// The comments of one page of threads, read a page at a time
/// (`db::comments::thread_page`), so a long discussion costs about what a
/// short one does. With `posted`, the page holding that comment is shown
/// (and a notice about it); with `locate`, the page holding that comment.
/// `own` is the reader's own comments (`own_comments`), or nothing for the
/// page everyone shares.
pub async fn load_section(
    own: &[(i64, String)],
    state: &AppState,
    slug: &str,
    comment_page: usize,
    posted: Option<i64>,
    locate: Option<i64>,
    crisis_signed: bool,
) -> Result<LoadedComments, AppError> {
    let hashed = hashed_tokens(own);
    let slug_owned = slug.to_string();
    let unavailable = |e: db::DbError| {
        tracing::warn!(error = %e, "comments unavailable; showing the article without them");
        LoadedComments::unavailable()
    };
    let per_page = THREADS_PER_PAGE as i64;
    let loaded = db::run(&state.pool, move |conn| {
        // Only comments whose token matches count as theirs, for the
        // threads and pages too: a made-up cookie learns nothing.
        let own_ids = db::comments::owned(conn, &hashed)?;
        // After posting, the page holding the new comment; when replying,
        // the page holding the comment answered (the form goes under it).
        let page = match posted.or(locate) {
            Some(id) => db::comments::page_of(conn, &slug_owned, &own_ids, id, per_page)?
                .unwrap_or(comment_page as i64 - 1),
            None => comment_page as i64 - 1,
        };
        let mut found = db::comments::thread_page(conn, &slug_owned, &own_ids, page, per_page)?;
        // The posted comment's row even when it is not shown (its notice
        // says what happened to it).
        if let Some(id) = posted.filter(|id| !found.rows.iter().any(|r| r.id == *id)) {
            found.rows.extend(db::comments::rows_by_id(conn, &[id])?);
        }
        Ok((page as usize + 1, found, own_ids))
    })
    .await;
    let (comment_page, found, own_ids) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return Ok(unavailable(e)),
    };
    let count = found.public_count as usize;
    let total_threads = found.threads as usize;
    let total_pages = total_threads.div_ceil(THREADS_PER_PAGE).max(1);
    if comment_page > total_pages {
        return Err(AppError::NotFound);
    }
    let heads = found.heads;
    let rows = found.rows;
    // Their tokens were checked with the read (`owned`).
    let is_own = |row: &CommentRow| own_ids.contains(&row.id);
    let by_id: std::collections::HashMap<i64, CommentRow> = rows
        .into_iter()
        .filter(|r| r.is_public() || is_own(r))
        .map(|r| (r.id, r))
        .collect();
    let notice = posted.map(|id| match by_id.get(&id).filter(|r| is_own(r)) {
        Some(row) => {
            let reasons = reasons_from_text(&row.held_reasons);
            PostNotice {
                published: row.is_public(),
                private: row.is_private,
                first_comment: reasons.contains(&HoldReason::FirstComment),
                personal_details: reasons.contains(&HoldReason::PersonalDetails),
                crisis: row.is_urgent,
                unknown: false,
                comment: row
                    .is_urgent
                    .then(|| (row.id, SafeHtml::from_stored(row.body_html.clone()))),
                refused: false,
            }
        }
        // Not theirs to this browser (cookies off): still the crisis
        // resources when the redirect's signature says the words matched.
        None => PostNotice {
            published: false,
            private: false,
            first_comment: false,
            personal_details: false,
            crisis: crisis_signed,
            unknown: true,
            comment: None,
            refused: false,
        },
    });
    let now = state.clock.now();
    let article_url = format!("/articles/{slug}");
    // Threads of this page only: rows of other threads of the same trees
    // (and a posted comment shown elsewhere) start threads not listed.
    let shown: Vec<CommentRow> = by_id.into_values().collect();
    let mut threads: std::collections::HashMap<i64, Vec<(usize, CommentRow)>> =
        thread::threads(shown)
            .into_iter()
            .filter_map(|t| t.first().map(|(_, head)| head.id).map(|id| (id, t)))
            .filter(|(id, _)| heads.contains(id))
            .collect();
    let mut items = Vec::new();
    let views = heads
        .iter()
        .filter_map(|id| threads.remove(id))
        .flatten()
        .map(|(depth, row)| {
            items.push((row.id, row.parent_id));
            let own = is_own(&row);
            view_of(row, depth, own, now, &article_url, &state.strings)
        })
        .collect();
    let pagination = (total_pages > 1).then(|| {
        let url = |p: usize| format!("{article_url}?cpage={p}#comments");
        Pagination {
            page: comment_page,
            total_pages,
            prev_url: (comment_page > 1).then(|| url(comment_page - 1)),
            next_url: (comment_page < total_pages).then(|| url(comment_page + 1)),
        }
    });
    let newest_url = (comment_page + 1 < total_pages)
        .then(|| format!("{article_url}?cpage={total_pages}#comments"));
    Ok(LoadedComments {
        views,
        listed: ListedThreads {
            items,
            threads: total_threads,
            page: comment_page,
        },
        count,
        pagination,
        newest_url,
        notice,
        unavailable: false,
    })
}

/// The reader's own comments (`own_comments`) with their tokens hashed as
/// stored, for checking against the database.
fn hashed_tokens(own: &[(i64, String)]) -> Vec<(i64, String)> {
    own.iter()
        .map(|(id, token)| (*id, keys::token_hash(token)))
        .collect()
}

/// One comment as its reader sees it in a thread at `depth`; `own` when it
/// is theirs (its change, delete and personal-plan links).
fn view_of(
    row: CommentRow,
    depth: usize,
    own: bool,
    now: DateTime<Utc>,
    article_url: &str,
    t: &crate::i18n::Strings,
) -> CommentView {
    let created: DateTime<Utc> = row.created_at.and_utc();
    let can_edit = own && now - created < chrono::Duration::minutes(EDIT_WINDOW_MINUTES);
    CommentView {
        id: row.id,
        depth,
        pending: !row.is_public(),
        private: row.is_private,
        edited: row.edited_at.is_some(),
        edited_by_coach: row.edited_by_coach,
        is_coach: row.is_coach,
        reply_to_name: row.reply_to_name,
        date: Date::new(created, t),
        relative: relative_time(created, now, t),
        body: SafeHtml::from_stored(row.body_html),
        reply_url: format!("{article_url}?replyto={}#comment-form", row.id),
        can_edit,
        own: own && !row.is_coach,
        offer_plan: own && !row.is_coach && !row.is_urgent,
        name: row.author_name,
    }
}

/// One comment of a reader's list, put into the shared page: as the
/// shared page has it, or rendered for them.
pub enum Listed {
    Shared(i64),
    Theirs(CommentView),
}

/// What a reader's own comments make of a shared page.
pub enum OwnPart {
    /// None of them is on this page: the shared page as it is.
    NotHere,
    /// The page's list with theirs in it.
    List(Vec<Listed>),
    /// They change which threads are on which page (a held question of
    /// theirs with pagination, or public replies to a hidden comment of
    /// theirs): the page is rendered for them.
    Render,
}

impl OwnPart {
    /// The page's list with theirs in it, if that is what it is.
    pub fn list(&self) -> Option<&[Listed]> {
        match self {
            OwnPart::List(list) => Some(list),
            _ => None,
        }
    }
}

/// What names a reader's own comments (the page cache remembers their
/// part of a page under it): their cookie's pairs, in order.
pub fn own_key(own: &[(i64, String)]) -> String {
    own.iter()
        .map(|(id, token)| format!("{id}.{token}"))
        .collect::<Vec<_>>()
        .join("_")
}

/// The reader's own comments put into a shared page's list (`listed`):
/// one read of their few comments, no read of the page and no render.
/// Their hidden comments go into their threads, their published ones are
/// shown with their links, the rest stays as the shared page has it.
pub async fn own_part(
    own: &[(i64, String)],
    state: &AppState,
    slug: &str,
    listed: &ListedThreads,
) -> Result<OwnPart, AppError> {
    let hashed = hashed_tokens(own);
    let slug_owned = slug.to_string();
    let here = match db::run(&state.pool, move |conn| {
        db::comments::own_here(conn, &slug_owned, &hashed)
    })
    .await
    {
        Ok(here) => here,
        Err(e) => {
            tracing::warn!(error = %e, "own comments unavailable; rendering the page");
            return Ok(OwnPart::Render);
        }
    };
    if here.rows.is_empty() {
        return Ok(OwnPart::NotHere);
    }
    if here.adopted > 0 {
        return Ok(OwnPart::Render);
    }
    // A held question of theirs starts a thread: fine while every thread
    // fits on this one page, for them too.
    let one_page = listed.page == 1 && listed.threads + here.heads.len() <= THREADS_PER_PAGE;
    if !here.heads.is_empty() && !one_page {
        return Ok(OwnPart::Render);
    }
    enum Node {
        Shared(i64, Option<i64>),
        Theirs(Box<CommentRow>),
    }
    impl thread::Threaded for Node {
        fn id(&self) -> i64 {
            match self {
                Node::Shared(id, _) => *id,
                Node::Theirs(row) => row.id,
            }
        }
        fn parent_id(&self) -> Option<i64> {
            match self {
                Node::Shared(_, parent) => *parent,
                Node::Theirs(row) => row.parent_id,
            }
        }
    }
    let shared_ids: std::collections::HashSet<i64> =
        listed.items.iter().map(|(id, _)| *id).collect();
    let mut heads: std::collections::HashSet<i64> = listed
        .items
        .iter()
        .filter(|(_, parent)| !parent.is_some_and(|p| shared_ids.contains(&p)))
        .map(|(id, _)| *id)
        .collect();
    heads.extend(here.heads.iter().copied());
    let theirs: std::collections::HashSet<i64> = here.rows.iter().map(|r| r.id).collect();
    let mut nodes: Vec<Node> = listed
        .items
        .iter()
        .filter(|(id, _)| !theirs.contains(id))
        .map(|(id, parent)| Node::Shared(*id, *parent))
        .collect();
    nodes.extend(here.rows.into_iter().map(|row| Node::Theirs(Box::new(row))));
    let now = state.clock.now();
    let article_url = format!("/articles/{slug}");
    let list: Vec<Listed> = thread::threads(nodes)
        .into_iter()
        .filter(|t| {
            t.first()
                .is_some_and(|(_, head)| heads.contains(&thread::Threaded::id(head)))
        })
        .flatten()
        .map(|(depth, node)| match node {
            Node::Shared(id, _) => Listed::Shared(id),
            Node::Theirs(row) => Listed::Theirs(view_of(
                *row,
                depth,
                true,
                now,
                &article_url,
                &state.strings,
            )),
        })
        .collect();
    if list.iter().all(|item| matches!(item, Listed::Shared(_))) {
        return Ok(OwnPart::NotHere);
    }
    Ok(OwnPart::List(list))
}

/// Where a writer lands after posting or changing a comment: at their
/// comment, or, when it matched the crisis phrases, at the crisis
/// resources, which the page shows first (above the article). The crisis
/// link is signed, so the resources show even when this browser keeps no
/// cookie to know the comment by.
pub fn posted_url(state: &AppState, article_url: &str, id: i64, urgent: bool) -> String {
    if urgent {
        let help = state.key.sign(CRISIS_PURPOSE, &id.to_string());
        format!("{article_url}?posted={id}&help={help}#crisis-help")
    } else {
        format!("{article_url}?posted={id}#comment-{id}")
    }
}

const CRISIS_PURPOSE: &str = "crisis-help";

/// Whether `help` is the signature [`posted_url`] gave comment `id`.
pub fn crisis_signed(state: &AppState, id: i64, help: &str) -> bool {
    state.key.verify(CRISIS_PURPOSE, &id.to_string(), help)
}

/// Approved public comments per article slug (empty when the database is
/// unreachable: lists still render).
pub async fn counts(state: &AppState) -> std::collections::HashMap<String, i64> {
    match db::run(&state.pool, db::comments::approved_counts).await {
        Ok(rows) => rows.into_iter().collect(),
        Err(e) => {
            tracing::warn!(error = %e, "comment counts unavailable");
            Default::default()
        }
    }
}
