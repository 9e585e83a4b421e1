//! Posting comments (POST /articles/{slug}/comments) and building the
//! comment section of an article page.
use std::net::IpAddr;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

use super::articles::{article_response, ArticleView};
use super::reader_form::{self, Stamp};
use super::AppState;
use crate::content::comment_markdown::{render_comment, SafeHtml};
use crate::db::{self, comments::CommentRow};
use crate::domain::comment::{CommentForm, NewComment};
use crate::domain::moderation::{reasons_from_text, HoldReason};
use crate::domain::thread;
use crate::error::AppError;
use crate::keys::{self, FormToken};
use crate::pages::{relative_time, CommentFormView, CommentView, Date, Pagination, PostNotice};

/// Cookie listing the reader's own comments as `id.token` pairs
/// (`__Host-kintsugi_own` on https, see [`reader_cookie_name`]).
pub const OWN_COOKIE: &str = "kintsugi_own";
/// Cookie remembering the reader's name and email (opt-in).
pub const REMEMBER_COOKIE: &str = "kintsugi_commenter";

/// A reader cookie's name on this site: on https it carries the
/// `__Host-` prefix, so browsers keep it only when it is `Secure`, for
/// `Path=/` and without `Domain`: no other host (a sibling subdomain) and
/// no plain-http answer can set or shadow it.
pub fn reader_cookie_name(https: bool, name: &str) -> String {
    if https {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// The reader cookie `name` this request carries, under this site's name
/// for it.
pub fn reader_cookie(req: &HttpRequest, name: &str) -> Option<Cookie<'static>> {
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.base_url.is_https());
    req.cookie(&reader_cookie_name(https, name))
}
/// Top-level threads per comment page.
pub const THREADS_PER_PAGE: usize = 50;
/// Minutes a writer may change or delete their comment after posting.
pub const EDIT_WINDOW_MINUTES: i64 = 15;
/// How many own comments the cookie remembers.
const OWN_COOKIE_ENTRIES: usize = 20;

/// The reader's address: the socket's, or, when the socket is a trusted
/// proxy, the last address in `X-Forwarded-For` that is not a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| item.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

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

fn cookie(state: &AppState, name: &str, value: String, max_age_days: i64) -> Cookie<'static> {
    let https = state.settings.base_url.is_https();
    Cookie::build(reader_cookie_name(https, name), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.base_url.is_https())
        .max_age(actix_web::cookie::time::Duration::days(max_age_days))
        .finish()
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

fn form_scope(slug: &str) -> String {
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

/// The comments of a shared page as (id, parent), in the order shown,
/// with the page's number and the article's threads in all.
#[derive(Debug, Clone, Default)]
pub struct ListedThreads {
    pub items: Vec<(i64, Option<i64>)>,
    pub threads: usize,
    pub page: usize,
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

/// POST /articles/{slug}/comments
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: CommentForm = super::parse_form(&req, &body)?;
    let checked = reader_form::check(
        &req,
        &state,
        &reader_form::COMMENT,
        reader_form::Fields {
            scope: &form_scope(&slug),
            token: &form.token,
            honeypot: &form.website,
        },
    )?;
    let library = state.content.library();
    let now = state.clock.now();
    let article = library
        .article(&slug, now)
        .ok_or(AppError::NotFound)?
        .clone();
    let article_url = article.url();
    if checked.bot {
        // The honeypot: only bots fill it. Not stored, nothing to tell.
        tracing::info!("comment honeypot filled; discarded");
        return Ok(super::see_other(&format!("{article_url}#comments")));
    }
    let settings = &state.settings.comments;
    let mut view = CommentFormView {
        token: FormToken::issue(&state.key, &form_scope(&article.slug), now.timestamp()),
        name: form.name.clone(),
        email: form.email.clone(),
        body: form.body.clone(),
        notify: form.notify.is_some(),
        remember: form.remember.is_some(),
        private: form.private.is_some(),
        ..CommentFormView::default()
    };
    let parent_id = form
        .parent
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok());
    match checked.stamp {
        Stamp::Expired => {
            view.problem = Some(state.strings.s("comment_form.problem.expired").to_string());
        }
        Stamp::Unverified => {
            view.problem = Some(
                state
                    .strings
                    .s("comment_form.problem.unverified")
                    .to_string(),
            );
        }
        Stamp::Fresh | Stamp::TooQuick => {}
    }
    // Too quick for a person: kept, but as spam.
    let too_fast = checked.stamp == Stamp::TooQuick;
    let new = NewComment::try_from(&form);
    if let Err(errors) = &new {
        view.errors = errors.clone();
    }
    let new = match new {
        Ok(new) if view.problem.is_none() => new,
        _ => {
            return form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let assessment = settings.rules.assess(new.body.as_str(), new.private);
    let owner_token = keys::random_hex(32).map_err(AppError::internal)?;
    let record = db::comments::NewCommentRecord {
        article_slug: article.slug.clone(),
        reply_to: new.parent_id,
        author_name: new.name.as_str().to_string(),
        author_email: new.email.as_str().to_string(),
        body_markdown: new.body.as_str().to_string(),
        body_html: render_comment(new.body.as_str()).into_string(),
        is_private: new.private,
        is_urgent: assessment.urgent,
        held_reasons: assessment.reasons,
        spam: too_fast,
        notify_replies: new.notify_replies,
        owner_token_hash: keys::token_hash(&owner_token),
        ip_hash: checked.ip_hash,
        now: now.naive_utc(),
    };
    let outcome = state
        .writer
        .write(&state.pool, move |conn| {
            match db::comments::post_within(conn, &record, db::comments::PostLimits::default()) {
                Ok(stored) => Ok(Ok(stored)),
                Err(db::comments::PostRefused::Db(e)) => Err(e),
                Err(refused) => Ok(Err(refused)),
            }
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            super::unsaved(e, "a comment")?;
            view.problem = Some(super::unsaved_problem(&state));
            let page = form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await?;
            return Ok(super::unsaved_page(page));
        }
    };
    let stored = match outcome {
        Ok(stored) => stored,
        Err(db::comments::PostRefused::RateLimited(wait)) => {
            view.problem = Some(state.strings.n("comment_form.problem.too_fast", &wait));
            let res = form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await?;
            return Ok(reader_form::retry_after(res, wait));
        }
        Err(db::comments::PostRefused::Duplicate) => {
            view.problem = Some(
                state
                    .strings
                    .s("comment_form.problem.duplicate")
                    .to_string(),
            );
            return form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(db::comments::PostRefused::BadParent) | Err(db::comments::PostRefused::Db(_)) => {
            view.problem = Some(
                state
                    .strings
                    .s("comment_form.problem.gone_parent")
                    .to_string(),
            );
            return form_again(
                &req,
                &state,
                &article,
                view,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    tracing::info!(comment = stored.id, status = %stored.status, "comment stored");
    state.metrics.comment_created(&stored.status);
    if stored.status == db::comments::APPROVED {
        state.pages.comments_changed(&article.slug);
    }
    crate::notify::after_post(&state.mail(), stored.id, &stored.status, new.notify_replies).await;

    let mut own: Vec<String> = vec![format!("{}.{}", stored.id, owner_token)];
    own.extend(
        own_comments(&req)
            .into_iter()
            .filter(|(id, _)| *id != stored.id)
            .take(OWN_COOKIE_ENTRIES - 1)
            .map(|(id, token)| format!("{id}.{token}")),
    );
    let mut res = super::see_other(&posted_url(
        &state,
        &article_url,
        stored.id,
        assessment.urgent,
    ));
    let _ = res.add_cookie(&cookie(&state, OWN_COOKIE, own.join("_"), 30));
    if new.remember {
        let value = keys::hex(format!("{}\n{}", new.name.as_str(), new.email.as_str()).as_bytes());
        let _ = res.add_cookie(&cookie(&state, REMEMBER_COOKIE, value, 365));
    } else if reader_cookie(&req, REMEMBER_COOKIE).is_some() {
        let mut gone = cookie(&state, REMEMBER_COOKIE, String::new(), 0);
        gone.make_removal();
        let _ = res.add_cookie(&gone);
    }
    Ok(res)
}

/// Where a writer lands after posting or changing a comment: at their
/// comment, or, when it matched the crisis phrases, at the crisis
/// resources, which the page shows first (above the article). The crisis
/// link is signed, so the resources show even when this browser keeps no
/// cookie to know the comment by.
fn posted_url(state: &AppState, article_url: &str, id: i64, urgent: bool) -> String {
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

/// The article again, with the reader's input and what needs fixing.
async fn form_again(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    article: &crate::content::Article,
    mut form: CommentFormView,
    parent_id: Option<i64>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    form.reply_to = parent_id.map(|id| crate::pages::ReplyTo {
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

/// The reader's own comment while its edit window is open: (row, its
/// Markdown, the stored token hash).
async fn own_editable(
    req: &HttpRequest,
    state: &AppState,
    id: i64,
) -> Result<(CommentRow, String, String), AppError> {
    let token = own_comments(req)
        .into_iter()
        .find(|(own_id, _)| *own_id == id)
        .map(|(_, token)| token)
        .ok_or_else(|| AppError::Forbidden(state.strings.s("edit.not_yours").to_string()))?;
    let (row, markdown) = db::run(&state.pool, move |conn| db::comments::find(conn, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let hash = keys::token_hash(&token);
    if row.owner_token_hash.as_deref() != Some(hash.as_str()) {
        return Err(AppError::Forbidden(
            state.strings.s("edit.not_yours").to_string(),
        ));
    }
    if state.clock.now() - row.created_at.and_utc()
        >= chrono::Duration::minutes(EDIT_WINDOW_MINUTES)
    {
        return Err(AppError::Forbidden(state.strings.f(
            "edit.too_late",
            "minutes",
            &EDIT_WINDOW_MINUTES,
        )));
    }
    Ok((row, markdown, hash))
}

fn edit_page(
    req: &HttpRequest,
    state: &AppState,
    row: &CommentRow,
    body: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let library = state.content.library();
    let article = library
        .article(&row.article_slug, state.clock.now())
        .ok_or(AppError::NotFound)?;
    let path = format!("/comments/{}/edit", row.id);
    let mut layout = state.layout(
        Some(state.strings.s("edit.title")),
        "",
        &path,
        crate::pages::Nav::None,
    );
    layout.noindex = true;
    let left = EDIT_WINDOW_MINUTES - (state.clock.now() - row.created_at.and_utc()).num_minutes();
    let mut res = super::render_html(
        req,
        &crate::pages::EditCommentPage {
            layout,
            id: row.id,
            article_title: &article.title,
            article_url: article.url(),
            body,
            error,
            minutes_left: left.max(1),
        },
        super::Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// GET /comments/{id}/edit
pub async fn edit_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (row, markdown, _) = own_editable(&req, &state, *id).await?;
    edit_page(&req, &state, &row, markdown, None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct EditForm {
    #[serde(default)]
    body: String,
}

/// POST /comments/{id}/edit
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: EditForm = super::parse_form(&req, &body)?;
    reader_form::check(
        &req,
        &state,
        &reader_form::OWN_COMMENT,
        reader_form::Fields::NONE,
    )?;
    let (row, _, hash) = own_editable(&req, &state, *id).await?;
    let text = match crate::domain::comment::CommentBody::parse(&form.body) {
        Ok(text) => text,
        Err(message) => {
            return edit_page(
                &req,
                &state,
                &row,
                form.body,
                Some(message.text(&state.strings)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let assessment = state
        .settings
        .comments
        .rules
        .assess(text.as_str(), row.is_private);
    let html = render_comment(text.as_str()).into_string();
    let id = row.id;
    let markdown = text.as_str().to_string();
    let now = state.clock.now_naive();
    let saved = state
        .writer
        .write(&state.pool, move |conn| {
            db::comments::update_own(
                conn,
                id,
                &hash,
                &db::comments::CommentEdit {
                    body_markdown: &markdown,
                    body_html: &html,
                    reasons: &assessment.reasons,
                    urgent: assessment.urgent,
                    now,
                },
            )
        })
        .await;
    if let Err(e) = saved {
        super::unsaved(e, "a comment's change")?;
        let page = edit_page(
            &req,
            &state,
            &row,
            form.body,
            Some(super::unsaved_problem(&state)),
            StatusCode::SERVICE_UNAVAILABLE,
        )?;
        return Ok(super::unsaved_page(page));
    }
    state.pages.comments_changed(&row.article_slug);
    if assessment.urgent && !row.is_urgent {
        // Words of crisis added by the change: the coach hears at once.
        crate::notify::after_urgent_edit(&state.mail(), id).await;
    }
    Ok(super::see_other(&posted_url(
        &state,
        &format!("/articles/{}", row.article_slug),
        id,
        row.is_urgent || assessment.urgent,
    )))
}

/// POST /comments/{id}/delete
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    reader_form::check(
        &req,
        &state,
        &reader_form::OWN_COMMENT,
        reader_form::Fields::NONE,
    )?;
    let (row, _, hash) = own_editable(&req, &state, *id).await?;
    let id = row.id;
    state
        .writer
        .write(&state.pool, move |conn| {
            db::comments::delete_own(conn, id, &hash)
        })
        .await?;
    tracing::info!(comment = id, "comment deleted by its writer");
    state.pages.comments_changed(&row.article_slug);
    Ok(super::see_other(&format!(
        "/articles/{}#comments",
        row.article_slug
    )))
}
