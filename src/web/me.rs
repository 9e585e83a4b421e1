//! "My questions" (`/me`): a reader types their email address and gets a
//! link (30 minutes, opened once) that opens their own page for a few
//! hours: their comments with the coach's answers (private ones too),
//! their coaching requests, their reply notifications, a download of
//! everything (`kintsugi export`) and deleting everything
//! (`kintsugi erase`).
//!
//! - The form answers the same for every address (a link is only mailed
//!   when the site holds something for it), and is rate-limited per
//!   network (429 with Retry-After) and quietly per address.
//! - The link's token is in the query (`?token=`, which the request log
//!   redacts); only its hash is stored. Opening it asks first (a button),
//!   so mail programs that open every link do not use it up.
//! - The session is its own cookie, `Path=/me`, HttpOnly, SameSite=Lax
//!   (the link comes from a mail program), Secure with a `__Secure-` name
//!   on https; its key's hash and the address live in the database, so
//!   every instance knows it and a restart keeps it. Nothing logged here
//!   names the address.
use std::collections::BTreeMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::reader_form::{self, Fields};
use super::{render_html, AppState, Caching};
use crate::content::comment_markdown::SafeHtml;
use crate::db;
use crate::domain::coaching::RequestStatus;
use crate::error::AppError;
use crate::keys::{self, FormToken};
use crate::views::me::{
    AskPage, CoachAnswer, CornerPage, DeletePage, MyComment, MyRequest, NotifiedThread, OpenPage,
};
use crate::views::{Date, Nav};

/// How long a session opened by a link lasts.
pub const SESSION_HOURS: i64 = 3;
const COOKIE: &str = "kintsugi_me";
const ASK_SCOPE: &str = "me-ask";
const OPEN_SCOPE: &str = "me-open";
const PAGE_SCOPE: &str = "me-page";

/// The session cookie's name: a `Path=/me` cookie cannot be `__Host-`,
/// so on https it is `__Secure-` (sent only over https, set only by it).
fn cookie_name(https: bool) -> String {
    if https {
        format!("__Secure-{COOKIE}")
    } else {
        COOKIE.to_string()
    }
}

fn session_cookie(state: &AppState, value: String, seconds: i64) -> Cookie<'static> {
    let https = state.settings.base_url.is_https();
    Cookie::build(cookie_name(https), value)
        .path("/me")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(actix_web::cookie::time::Duration::seconds(seconds))
        .finish()
}

/// The session key this browser holds, if any.
fn session_key(req: &HttpRequest, state: &AppState) -> Option<String> {
    let https = state.settings.base_url.is_https();
    let cookie = req.cookie(&cookie_name(https))?;
    let key = cookie.value();
    (key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())).then(|| key.to_string())
}

/// The address whose page this browser has open: (the key's hash, the
/// address).
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(String, String)>, AppError> {
    let Some(key) = session_key(req, state) else {
        return Ok(None);
    };
    let hash = keys::token_hash(&key);
    let now = state.clock.now_naive();
    let lookup = hash.clone();
    let email = db::run(&state.pool, move |conn| {
        db::reader_corner::session_email(conn, &lookup, now)
    })
    .await?;
    Ok(email.map(|email| (hash, email)))
}

fn layout<'a>(state: &'a AppState, title: &'a str, path: &str) -> crate::views::Layout<'a> {
    let mut layout = state.layout(Some(title), "", path, Nav::None);
    layout.noindex = true;
    layout
}

fn form_token(state: &AppState, scope: &str) -> String {
    FormToken::issue(&state.key, scope, state.clock.now().timestamp())
}

/// The form asking for the link.
fn ask_page(
    req: &HttpRequest,
    state: &AppState,
    email: String,
    error: Option<String>,
    notice: Option<(&str, &str)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let t = &state.strings;
    let mut layout = layout(state, t.s("me.title"), "/me");
    if error.is_some() {
        layout.title = t.f("coaching.form.error_title", "title", &layout.title);
    }
    let mut res = render_html(
        req,
        &AskPage {
            layout,
            form_token: form_token(state, ASK_SCOPE),
            email,
            error,
            notice,
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

#[derive(serde::Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    sent: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// GET /me: the reader's page when this browser has it open, else the
/// form asking for the link.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    let t = &state.strings;
    let Some((_, email)) = signed_in(&req, &state).await? else {
        let notice = match (query.sent.is_some(), query.done.as_deref()) {
            (true, _) => Some((t.s("me.ask.sent_heading"), t.s("me.ask.sent"))),
            (_, Some("deleted")) => Some(("", t.s("me.ask.deleted"))),
            (_, Some("closed")) => Some(("", t.s("me.ask.signed_out"))),
            _ => None,
        };
        return ask_page(&req, &state, String::new(), None, notice, StatusCode::OK);
    };
    let notice = match query.done.as_deref() {
        Some("thread") => Some(t.s("me.page.done_notifications")),
        Some("all") => Some(t.s("me.page.done_all")),
        _ => None,
    };
    let lookup = email.clone();
    let corner = db::run(&state.pool, move |conn| {
        db::reader_corner::corner(conn, &lookup)
    })
    .await?;
    let library = state.content.library();
    let now = state.clock.now();
    let title_of = |slug: &str| {
        library
            .article(slug, now)
            .map_or_else(|| slug.to_string(), |a| a.title.clone())
    };
    let date = |at: chrono::NaiveDateTime| Date::new(at.and_utc(), t);
    let mut answers: BTreeMap<i64, Vec<CoachAnswer>> = BTreeMap::new();
    for row in corner.coach_replies {
        if let Some(to) = row.reply_to_id {
            answers.entry(to).or_default().push(CoachAnswer {
                id: row.id,
                name: row.author_name,
                date: date(row.created_at),
                body: SafeHtml::from_stored(row.body_html),
                private: row.is_private,
            });
        }
    }
    let mut threads: Vec<NotifiedThread> = Vec::new();
    for row in corner.comments.iter().filter(|c| c.notify_replies) {
        let root = row.root_id.unwrap_or(row.id);
        if !threads.iter().any(|th| th.root == root) {
            threads.push(NotifiedThread {
                root,
                article_title: title_of(&row.article_slug),
            });
        }
    }
    let comments = corner
        .comments
        .into_iter()
        .map(|row| {
            let (status_key, status_class) = match (row.status.as_str(), row.is_private) {
                (db::comments::APPROVED, false) => ("me.status.published", "published"),
                (db::comments::APPROVED, true) => ("me.status.private", "private"),
                (db::comments::PENDING, true) => ("me.status.private_pending", "pending"),
                (db::comments::PENDING, false) => ("me.status.pending", "pending"),
                _ => ("me.status.removed", "removed"),
            };
            let in_thread = row.is_public();
            let url = if in_thread {
                format!("/articles/{}#comment-{}", row.article_slug, row.id)
            } else {
                format!("/articles/{}", row.article_slug)
            };
            MyComment {
                id: row.id,
                article_title: title_of(&row.article_slug),
                url,
                in_thread,
                status_key,
                status_class,
                date: date(row.created_at),
                answers: answers.remove(&row.id).unwrap_or_default(),
                body: SafeHtml::from_stored(row.body_html),
            }
        })
        .collect();
    let requests = corner
        .requests
        .iter()
        .map(|row| MyRequest {
            option_title: row.option_title.clone(),
            sent: date(row.created_at),
            status_label: RequestStatus::from_code(&row.status)
                .map_or_else(|| row.status.clone(), |s| t.s(s.label_key()).to_string()),
            status_url: format!(
                "/requests/{}",
                crate::notify::request_token(&state.key, &row.token_nonce)
            ),
        })
        .collect();
    let subscription_key = match &corner.subscription {
        Some(sub) if sub.is_active() => "me.page.subscription_on",
        Some(sub) if sub.unsubscribed_at.is_none() => "me.page.subscription_unconfirmed",
        _ => "me.page.subscription_off",
    };
    let can_turn_off_all = !threads.is_empty()
        || corner
            .subscription
            .as_ref()
            .is_some_and(|s| s.unsubscribed_at.is_none());
    let page = CornerPage {
        layout: layout(&state, t.s("me.title"), "/me"),
        email,
        notice,
        form_token: form_token(&state, PAGE_SCOPE),
        comments,
        requests,
        subscription_key,
        threads,
        can_turn_off_all,
    };
    render_html(&req, &page, Caching::NoStore)
}

#[derive(serde::Deserialize)]
pub struct AskForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    website: String,
}

/// POST /me: mails the link when the site holds anything for the
/// address; the answer is the same either way.
pub async fn ask(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: AskForm = super::parse_form(&req, &body)?;
    let checked = reader_form::check(
        &req,
        &state,
        &reader_form::MY_QUESTIONS_LINK,
        Fields {
            scope: ASK_SCOPE,
            token: &form.form_token,
            honeypot: &form.website,
        },
    )?;
    if checked.bot {
        tracing::info!("my questions honeypot filled; discarded");
        return Ok(super::see_other("/me?sent=1"));
    }
    let email = match crate::domain::comment::Email::parse(&form.email) {
        Ok(email) => email.as_str().trim().to_lowercase(),
        Err(message) => {
            return ask_page(
                &req,
                &state,
                form.email,
                Some(message.text(&state.strings)),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let now = state.clock.now_naive();
    let ip_hash = checked.ip_hash;
    let email_hash = keys::token_hash(&email);
    let limited = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let by_network = db::rate_limits::take(
                conn,
                "me-link",
                &ip_hash,
                db::rate_limits::PostLimits::default(),
                now,
            )?;
            if let Err(wait) = by_network {
                return Ok(Some(wait));
            }
            // Quietly once a minute per address: the answer never tells
            // whether the address wrote here.
            let by_address = db::rate_limits::take(
                conn,
                "me-link-email",
                &email_hash,
                db::rate_limits::PostLimits {
                    per_minute: 1,
                    min_interval_seconds: 60,
                },
                now,
            )?;
            Ok(by_address.err().map(|_| 0))
        })
    })
    .await?;
    match limited {
        Some(wait) if wait > 0 => {
            let res = ask_page(
                &req,
                &state,
                email,
                Some(state.strings.n("me.ask.too_many", &wait)),
                None,
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            return Ok(reader_form::retry_after(res, wait));
        }
        Some(_) => tracing::info!("a my questions link was asked for again too soon; not sent"),
        None => {
            let token = keys::random_hex(32).map_err(AppError::internal)?;
            let queued = crate::notify::reader_link(&state.mail(), email, token).await?;
            tracing::info!(queued, "a my questions link was asked for");
        }
    }
    Ok(super::see_other("/me?sent=1"))
}

#[derive(serde::Deserialize)]
pub struct OpenQuery {
    #[serde(default)]
    token: String,
}

fn is_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn open_page(
    req: &HttpRequest,
    state: &AppState,
    token: Option<String>,
) -> Result<HttpResponse, AppError> {
    let t = &state.strings;
    let gone = token.is_none();
    let title = if gone {
        t.s("me.open.gone_title")
    } else {
        t.s("me.open.title")
    };
    let mut res = render_html(
        req,
        &OpenPage {
            layout: layout(state, title, "/me"),
            token,
            form_token: form_token(state, OPEN_SCOPE),
        },
        Caching::NoStore,
    )?;
    if gone {
        *res.status_mut() = StatusCode::GONE;
    }
    Ok(res)
}

/// GET /me/open?token=: asks before using the link up.
pub async fn open_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<OpenQuery>,
) -> Result<HttpResponse, AppError> {
    let token = query.into_inner().token;
    let open = if is_token(&token) {
        let hash = keys::token_hash(&token);
        let now = state.clock.now_naive();
        db::run(&state.pool, move |conn| {
            db::reader_corner::link_is_open(conn, &hash, now)
        })
        .await?
    } else {
        false
    };
    open_page(&req, &state, open.then_some(token))
}

#[derive(serde::Deserialize)]
pub struct OpenForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    token: String,
}

/// POST /me/open: uses the link up and opens the page in this browser.
pub async fn open(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: OpenForm = super::parse_form(&req, &body)?;
    reader_form::check(
        &req,
        &state,
        &reader_form::MY_QUESTIONS_PAGE,
        Fields {
            scope: OPEN_SCOPE,
            token: &form.form_token,
            honeypot: "",
        },
    )?;
    if !is_token(&form.token) {
        return open_page(&req, &state, None);
    }
    let link_hash = keys::token_hash(&form.token);
    let key = keys::random_hex(32).map_err(AppError::internal)?;
    let key_hash = keys::token_hash(&key);
    let now = state.clock.now_naive();
    let until = now + chrono::Duration::hours(SESSION_HOURS);
    let opened = db::run(&state.pool, move |conn| {
        db::reader_corner::open_link(conn, &link_hash, &key_hash, now, until)
    })
    .await?;
    if opened.is_none() {
        tracing::info!("a used or expired my questions link was opened");
        return open_page(&req, &state, None);
    }
    // Never the address: only that a page was opened.
    tracing::info!("a reader opened their my questions page");
    let mut res = super::see_other("/me");
    res.add_cookie(&session_cookie(&state, key, SESSION_HOURS * 3600))
        .map_err(AppError::internal)?;
    Ok(res)
}

#[derive(serde::Deserialize)]
pub struct PageForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    thread: Option<i64>,
    #[serde(default)]
    all: Option<String>,
}

/// Checks a form of the open page; the session's (key hash, address), or
/// None when the page is not open in this browser (any more).
async fn page_form(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<Option<(String, String, PageForm)>, AppError> {
    let form: PageForm = super::parse_form(req, body)?;
    reader_form::check(
        req,
        state,
        &reader_form::MY_QUESTIONS_PAGE,
        Fields {
            scope: PAGE_SCOPE,
            token: &form.form_token,
            honeypot: "",
        },
    )?;
    Ok(signed_in(req, state)
        .await?
        .map(|(hash, email)| (hash, email, form)))
}

/// POST /me/notifications: reply notifications off for one thread
/// (`thread`) or everywhere (`all`).
pub async fn notifications(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let Some((_, email, form)) = page_form(&req, &state, &body).await? else {
        return Ok(super::see_other("/me"));
    };
    let now = state.clock.now_naive();
    let done = match (form.all.is_some(), form.thread) {
        (true, _) => {
            db::run(&state.pool, move |conn| {
                db::reader_corner::notifications_off_everywhere(conn, &email, now)
            })
            .await?;
            "all"
        }
        (false, Some(root)) => {
            db::run(&state.pool, move |conn| {
                db::reader_corner::notifications_off_in_thread(conn, &email, root)
            })
            .await?;
            "thread"
        }
        (false, None) => {
            return Err(AppError::BadRequest(
                state.strings.s("errors.form_unreadable").into(),
            ))
        }
    };
    tracing::info!(what = done, "a reader turned reply notifications off");
    Ok(super::see_other(&format!("/me?done={done}")))
}

/// GET /me/export.json: everything held about the address, as
/// `kintsugi export` prints it.
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some((_, email)) = signed_in(&req, &state).await? else {
        return Ok(super::see_other("/me"));
    };
    let data = db::run(&state.pool, move |conn| {
        db::coaching::export_person(conn, &email)
    })
    .await?;
    let body = serde_json::to_vec_pretty(&data).map_err(AppError::internal)?;
    tracing::info!("a reader downloaded their data");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"my-data.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// GET /me/delete: says exactly what deleting everything removes.
pub async fn delete_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some((_, email)) = signed_in(&req, &state).await? else {
        return Ok(super::see_other("/me"));
    };
    let corner = db::run(&state.pool, move |conn| {
        db::reader_corner::corner(conn, &email)
    })
    .await?;
    let t = &state.strings;
    let mut items = Vec::new();
    if !corner.comments.is_empty() {
        items.push(t.n("me.delete.comments", &corner.comments.len()));
    }
    if !corner.coach_replies.is_empty() {
        items.push(t.n("me.delete.replies", &corner.coach_replies.len()));
    }
    if !corner.requests.is_empty() {
        items.push(t.n("me.delete.requests", &corner.requests.len()));
    }
    if corner.subscription.is_some() {
        items.push(t.s("me.delete.subscription_item").to_string());
    }
    if corner.emails > 0 {
        items.push(t.s("me.delete.emails_item").to_string());
    }
    items.push(t.s("me.delete.links_item").to_string());
    let page = DeletePage {
        layout: layout(&state, t.s("me.delete.title"), "/me/delete"),
        form_token: form_token(&state, PAGE_SCOPE),
        items,
    };
    render_html(&req, &page, Caching::NoStore)
}

/// POST /me/delete: `kintsugi erase` for the address; the page closes.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let Some((_, email, _)) = page_form(&req, &state, &body).await? else {
        return Ok(super::see_other("/me"));
    };
    let (slugs, erased) = db::run(&state.pool, move |conn| {
        let slugs: Vec<String> = db::coaching::export_person(conn, &email)?
            .comments
            .into_iter()
            .map(|c| c.article_slug)
            .collect();
        Ok((slugs, db::coaching::erase_person(conn, &email)?))
    })
    .await?;
    let mut slugs = slugs;
    slugs.sort();
    slugs.dedup();
    for slug in &slugs {
        state.page_cache.comments_changed(slug);
    }
    tracing::info!(
        comments = erased.comments,
        coach_replies = erased.coach_replies,
        coaching_requests = erased.coaching_requests,
        "a reader deleted everything the site held about them"
    );
    let mut res = super::see_other("/me?done=deleted");
    res.add_cookie(&session_cookie(&state, String::new(), 0))
        .map_err(AppError::internal)?;
    Ok(res)
}

/// POST /me/leave: closes the page in this browser.
pub async fn leave(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if let Some((hash, _, _)) = page_form(&req, &state, &body).await? {
        db::run(&state.pool, move |conn| {
            db::reader_corner::end_session(conn, &hash)
        })
        .await?;
    }
    let mut res = super::see_other("/me?done=closed");
    res.add_cookie(&session_cookie(&state, String::new(), 0))
        .map_err(AppError::internal)?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_token_never_reaches_the_log() {
        let token = "ab".repeat(32);
        let logged = crate::telemetry::redact_path(&format!("/me/open?token={token}"));
        assert!(!logged.contains(&token), "{logged}");
        assert_eq!(logged, "/me/open?token=[redacted]");
    }

    #[test]
    fn the_session_cookie_is_scoped_to_the_page() {
        assert_eq!(cookie_name(false), "kintsugi_me");
        assert_eq!(cookie_name(true), "__Secure-kintsugi_me");
        assert!(is_token(&"0f".repeat(32)));
        assert!(!is_token("short"));
        assert!(!is_token(&"zz".repeat(32)));
    }
}
