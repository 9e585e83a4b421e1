//! The dashboard, the moderation queue, the coach's replies and edits,
//! and the audit log.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::session::{self, Coach};
use super::{admin_layout, nav, see_other, Say};
use crate::content::comment_markdown::{render_comment, SafeHtml};
use crate::db::{self, comments::CommentRow, comments::Moderation, comments::Queue};
use crate::domain::audit as audit_log;
use crate::domain::comment::CommentBody;
use crate::domain::moderation::reasons_from_text;
use crate::error::AppError;
use crate::views::admin::{
    ApproveUrgentPage, AuditPage, AuditView, CommentPage, DashboardPage, DeletePage, EditPage,
    QueueItem, QueuePage, QueueTab,
};
use crate::views::{relative_time, Date, Pagination};
use crate::web::{render_html, AppState, Caching};

/// Comments per queue page.
pub const QUEUE_PAGE_SIZE: i64 = 25;
/// Audit entries per page.
pub const AUDIT_PAGE_SIZE: i64 = 50;

/// The queue's tabs: (key, its label's key, its heading's key, the list).
const TABS: &[(&str, &str, &str, Queue)] = &[
    (
        "pending",
        "admin.queue.tab.pending",
        "admin.queue.heading.pending",
        Queue::Pending,
    ),
    (
        "urgent",
        "admin.queue.tab.urgent",
        "admin.queue.heading.urgent",
        Queue::Urgent,
    ),
    (
        "private",
        "admin.queue.tab.private",
        "admin.queue.heading.private",
        Queue::Private,
    ),
    (
        "unanswered",
        "admin.queue.tab.unanswered",
        "admin.queue.heading.unanswered",
        Queue::Unanswered,
    ),
    (
        "approved",
        "admin.queue.tab.approved",
        "admin.queue.heading.approved",
        Queue::Approved,
    ),
    (
        "spam",
        "admin.queue.tab.spam",
        "admin.queue.heading.spam",
        Queue::Spam,
    ),
    (
        "trash",
        "admin.queue.tab.trash",
        "admin.queue.heading.trash",
        Queue::Trash,
    ),
    (
        "all",
        "admin.queue.tab.all",
        "admin.queue.heading.all",
        Queue::All,
    ),
];

/// The key of a comment state's name (`admin.item.status.*`).
fn status_key(status: &str) -> Option<&'static str> {
    match status {
        db::comments::PENDING => Some("admin.item.status.pending"),
        db::comments::APPROVED => Some("admin.item.status.approved"),
        db::comments::SPAM => Some("admin.item.status.spam"),
        db::comments::TRASH => Some("admin.item.status.trash"),
        _ => None,
    }
}

/// GET /admin
pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    let counts = super::counts(&state).await?;
    let (failed_mail, failed) = db::run(&state.pool, |conn| db::mail::failed(conn, 10)).await?;
    let t = &state.strings;
    let failed_mails = failed
        .into_iter()
        .map(|m| crate::views::admin::FailedMailView {
            to_coach: m.to_coach(),
            queued: t.date_time(m.created_at.and_utc(), None),
            error: m
                .last_error
                .clone()
                .unwrap_or_else(|| t.s("admin.dashboard.failed_no_error").to_string()),
            subject: m.subject,
        })
        .collect();
    render_html(
        &req,
        &DashboardPage {
            layout: admin_layout(&state, state.strings.s("admin.dashboard.title"), "/admin"),
            nav: super::nav_from(&coach, "dashboard", &counts),
            counts: counts.queue,
            new_requests: counts.new_requests,
            failed_mail,
            failed_mails,
        },
        Caching::NoStore,
    )
}

/// Turns stored rows into what the admin templates show.
fn items(
    state: &AppState,
    rows: Vec<(CommentRow, String)>,
    context: &HashMap<i64, CommentRow>,
) -> Vec<QueueItem> {
    let library = state.content.library();
    let now = state.clock.now();
    let t = &state.strings;
    rows.into_iter()
        .map(|(row, _markdown)| {
            let created = row.created_at.and_utc();
            let (article_title, article_url) = match library.article(&row.article_slug, now) {
                Some(a) => (a.title.clone(), a.url()),
                None => (
                    t.f("admin.item.not_published", "slug", &row.article_slug),
                    format!("/articles/{}", row.article_slug),
                ),
            };
            let context_row = row.reply_to_id.and_then(|id| context.get(&id));
            QueueItem {
                id: row.id,
                article_title,
                article_url: format!("{article_url}#comment-{}", row.id),
                name: row.author_name,
                email: row.author_email,
                is_coach: row.is_coach,
                private: row.is_private,
                urgent: row.is_urgent,
                edited: row.edited_at.is_some(),
                edited_by_coach: row.edited_by_coach,
                reasons: reasons_from_text(&row.held_reasons)
                    .iter()
                    .map(|r| r.label().text(t))
                    .collect(),
                date: Date::new(created, t),
                relative: relative_time(created, now, t),
                body: SafeHtml::from_stored(row.body_html),
                context: context_row.map(|c| {
                    (
                        c.id,
                        c.author_name.clone(),
                        SafeHtml::from_stored(c.body_html.clone()),
                    )
                }),
                status_label: status_key(&row.status)
                    .map_or_else(|| row.status.clone(), |key| t.s(key).to_string()),
                status: row.status,
            }
        })
        .collect()
}

/// Loads the comments the given rows answer, in one query.
fn context_of(
    conn: &mut db::Db,
    rows: &[(CommentRow, String)],
) -> db::QueryResult<HashMap<i64, CommentRow>> {
    let ids: Vec<i64> = rows.iter().filter_map(|(r, _)| r.reply_to_id).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(db::comments::find_many(conn, &ids)?
        .into_iter()
        .map(|r| (r.id, r))
        .collect())
}

#[derive(serde::Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    tab: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// GET /admin/comments
pub async fn queue(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    let search = query.q.clone().unwrap_or_default().trim().to_string();
    let email = query
        .email
        .clone()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let default_tab = if email.is_empty() { "pending" } else { "all" };
    let tab_key = query.tab.as_deref().unwrap_or(default_tab);
    let t = &state.strings;
    let &(tab_key, _, heading_key, queue) = TABS
        .iter()
        .find(|(key, _, _, _)| *key == tab_key)
        .ok_or_else(|| AppError::BadRequest(t.s("admin.queue.no_such_tab").into()))?;
    let page = crate::web::page_number(query.page.as_deref(), &state.strings)? as i64;
    let filter = db::comments::QueueFilter {
        search: (!search.is_empty()).then(|| search.clone()),
        email: (!email.is_empty()).then(|| email.clone()),
    };
    let offset = (page - 1) * QUEUE_PAGE_SIZE;
    let (rows, total, context) = db::run(&state.pool, move |conn| {
        let (rows, total) =
            db::comments::queue_page(conn, queue, &filter, offset, QUEUE_PAGE_SIZE)?;
        let context = context_of(conn, &rows)?;
        Ok((rows, total, context))
    })
    .await?;
    let all_counts = super::counts(&state).await?;
    let counts = &all_counts.queue;
    let total_pages = (total as usize).div_ceil(QUEUE_PAGE_SIZE as usize).max(1);
    if page as usize > total_pages {
        return Err(AppError::NotFound);
    }
    let url = |tab: &str, page: usize| {
        let page = if page > 1 {
            page.to_string()
        } else {
            String::new()
        };
        let q = query_string(&[
            ("tab", tab),
            ("q", &search),
            ("email", &email),
            ("page", &page),
        ]);
        format!("/admin/comments?{q}")
    };
    let tabs = TABS
        .iter()
        .map(|(key, label, _, _)| QueueTab {
            key,
            label: t.s(label).to_string(),
            url: url(key, 1),
            count: match *key {
                "pending" => Some(counts.pending),
                "urgent" => Some(counts.urgent),
                "private" => Some(counts.private),
                "unanswered" => Some(counts.unanswered),
                _ => None,
            }
            .filter(|n| *n > 0),
        })
        .collect();
    let heading = if !email.is_empty() {
        t.f("admin.queue.from_email", "email", &email)
    } else if !search.is_empty() {
        t.f2(
            "admin.queue.matching",
            "heading",
            &t.s(heading_key),
            "query",
            &search,
        )
    } else {
        t.s(heading_key).to_string()
    };
    let pagination = (total_pages > 1).then(|| Pagination {
        page: page as usize,
        total_pages,
        prev_url: (page > 1).then(|| url(tab_key, page as usize - 1)),
        next_url: ((page as usize) < total_pages).then(|| url(tab_key, page as usize + 1)),
    });
    render_html(
        &req,
        &QueuePage {
            layout: admin_layout(&state, &heading, "/admin/comments"),
            nav: super::nav_from(&coach, "comments", &all_counts),
            tabs,
            current_tab: tab_key,
            heading,
            query: search.clone(),
            email: email.clone(),
            items: items(&state, rows, &context),
            total,
            pagination,
            back: url(tab_key, page as usize),
            done: query.done.clone(),
        },
        Caching::NoStore,
    )
}

/// A page's "back" link, if it is one of ours.
fn safe_back(back: &str, fallback: &str) -> String {
    let ok = (back.starts_with("/admin") || back.starts_with("/articles/"))
        && !back.contains("//")
        && !back.contains('\\')
        && !back.chars().any(char::is_control);
    if ok {
        back.to_string()
    } else {
        fallback.to_string()
    }
}

/// Adds `done=message` to a local URL (before any `#fragment`).
fn with_done(url: &str, message: &str) -> String {
    let (path, fragment) = match url.split_once('#') {
        Some((p, f)) => (p, format!("#{f}")),
        None => (url, String::new()),
    };
    let mut pairs: Vec<(String, String)> = match path.split_once('?') {
        Some((_, q)) => serde_urlencoded::from_str(q).unwrap_or_default(),
        None => Vec::new(),
    };
    pairs.retain(|(k, _)| k != "done");
    pairs.push(("done".into(), message.into()));
    let base = path.split('?').next().unwrap_or(path);
    format!(
        "{base}?{}{fragment}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

async fn load_one(
    state: &AppState,
    id: i64,
) -> Result<(QueueItem, Vec<QueueItem>, Vec<AuditView>), AppError> {
    let (row, replies, context, history) = db::run(&state.pool, move |conn| {
        let Some(row) = db::comments::find(conn, id)? else {
            return Err(db::DbQueryError::NotFound);
        };
        let replies = db::comments::replies_to(conn, id)?;
        let mut all = replies.clone();
        all.push(row.clone());
        let context = context_of(conn, &all)?;
        let (history, _) = db::admins::audit_page(conn, Some(id), 0, 100)?;
        Ok((row, replies, context, history))
    })
    .await?;
    let item = items(state, vec![row], &context)
        .pop()
        .ok_or(AppError::NotFound)?;
    Ok((
        item,
        items(state, replies, &context),
        audit_views(history, &state.strings),
    ))
}

fn audit_views(rows: Vec<db::admins::AuditRow>, t: &crate::i18n::Strings) -> Vec<AuditView> {
    rows.into_iter()
        .map(|r| AuditView {
            who: r.admin_name,
            action: audit_log::shown(&r.action, t),
            comment_id: r.comment_id,
            detail: r.detail,
            at: r
                .created_at
                .and_utc()
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
        })
        .collect()
}

#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// GET /admin/comments/{id}
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    comment_page(
        &req,
        &state,
        &coach,
        *id,
        String::new(),
        None,
        query.done.clone(),
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn comment_page(
    req: &HttpRequest,
    state: &AppState,
    coach: &Coach,
    id: i64,
    reply_body: String,
    reply_error: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (item, replies, history) = load_one(state, id).await?;
    let back = if item.private {
        "/admin/comments?tab=private".to_string()
    } else {
        match item.status.as_str() {
            "approved" => "/admin/comments?tab=approved",
            "spam" => "/admin/comments?tab=spam",
            "trash" => "/admin/comments?tab=trash",
            _ => "/admin/comments?tab=pending",
        }
        .to_string()
    };
    let mut res = render_html(
        req,
        &CommentPage {
            layout: admin_layout(
                state,
                &state.strings.f("admin.comment.heading", "name", &item.name),
                "/admin/comments",
            ),
            nav: nav(state, coach, "comments").await?,
            item,
            replies,
            history,
            reply_body,
            reply_error,
            back,
            done,
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// Parses the bulk form by hand: `ids` repeats.
struct BulkForm {
    back: String,
    ids: Vec<i64>,
    action: String,
    confirmed: bool,
}

fn parse_bulk(pairs: Vec<(String, String)>) -> BulkForm {
    let mut form = BulkForm {
        back: String::new(),
        ids: Vec::new(),
        action: String::new(),
        confirmed: false,
    };
    let mut one: Option<(String, i64)> = None;
    for (key, value) in pairs {
        match key.as_str() {
            "back" => form.back = value,
            "action" => form.action = value,
            "confirmed" => form.confirmed = value == "1",
            "ids" => {
                if let Ok(id) = value.trim().parse() {
                    form.ids.push(id);
                }
            }
            "one" => {
                one = value
                    .split_once(':')
                    .and_then(|(a, id)| Some((a.to_string(), id.parse().ok()?)));
            }
            _ => {}
        }
    }
    // A button on one comment acts on that comment only.
    if let Some((action, id)) = one {
        form.action = action;
        form.ids = vec![id];
    }
    form.ids.sort_unstable();
    form.ids.dedup();
    form
}

/// Whether any of these comments waits and matched the crisis phrases.
async fn any_urgent_pending(state: &AppState, ids: &[i64]) -> Result<bool, AppError> {
    let ids = ids.to_vec();
    let rows = db::run(&state.pool, move |conn| db::comments::find_many(conn, &ids)).await?;
    Ok(rows
        .iter()
        .any(|row| row.is_urgent && row.status == db::comments::PENDING))
}

/// POST /admin/comments/bulk: approve, spam, trash, restore or delete the
/// selected comments (or the one whose button was pressed).
pub async fn bulk(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, pairs): (Coach, Vec<(String, String)>) =
        session::verified_form(&req, &state, &body).await?;
    let form = parse_bulk(pairs);
    let back = safe_back(&form.back, "/admin/comments");
    let t = &state.strings;
    if form.ids.is_empty() {
        return Ok(see_other(&with_done(
            &back,
            t.s("admin.done.nothing_selected"),
        )));
    }
    let now = state.clock.now_naive();
    let ids = form.ids.clone();
    let message = match form.action.as_str() {
        "approve" if !form.confirmed && any_urgent_pending(&state, &ids).await? => {
            return approve_urgent_confirmation(&req, &state, &coach, form.ids, back).await;
        }
        "approve" => {
            let mut n = 0;
            for id in &ids {
                if approve_comment(&state, *id, Some((coach.id, coach.name.clone()))).await? {
                    n += 1;
                }
            }
            t.n("admin.done.approved", &n)
        }
        "spam" | "trash" | "restore" => {
            let (action, done, recorded) = match form.action.as_str() {
                "spam" => (Moderation::Spam, "admin.done.spam", audit_log::SPAM),
                "trash" => (Moderation::Trash, "admin.done.trash", audit_log::TRASH),
                _ => (
                    Moderation::Restore,
                    "admin.done.restored",
                    audit_log::RESTORED,
                ),
            };
            let (admin_id, admin_name) = (coach.id, coach.name.clone());
            let n = db::run(&state.pool, move |conn| {
                db::transaction_retrying(conn, |conn| {
                    let changed = db::comments::moderate(conn, &ids, action)?;
                    for id in &changed {
                        db::admins::audit(
                            conn,
                            &db::admins::AuditEntry::new(admin_id, &admin_name, recorded, now)
                                .on_comment(*id),
                        )?;
                    }
                    Ok(changed.len())
                })
            })
            .await?;
            t.n(done, &n)
        }
        "delete" if !form.confirmed => {
            return delete_confirmation(&req, &state, &coach, form.ids, back).await;
        }
        "delete" => {
            let (admin_id, admin_name) = (coach.id, coach.name.clone());
            let n = db::run(&state.pool, move |conn| {
                db::transaction_retrying(conn, |conn| {
                    for id in &ids {
                        db::admins::audit(
                            conn,
                            &db::admins::AuditEntry::new(
                                admin_id,
                                &admin_name,
                                audit_log::DELETED,
                                now,
                            )
                            .on_comment(*id),
                        )?;
                    }
                    db::comments::delete_forever(conn, &ids)
                })
            })
            .await?;
            let back = if back.starts_with(&format!("/admin/comments/{}", form.ids[0])) {
                "/admin/comments".to_string()
            } else {
                back
            };
            state.page_cache.all_comments_changed();
            tracing::info!(admin = coach.id, deleted = n, "comments deleted forever");
            return Ok(see_other(&with_done(&back, &t.n("admin.done.deleted", &n))));
        }
        _ => {
            return Err(AppError::BadRequest(
                t.s("admin.queue.no_such_action").into(),
            ))
        }
    };
    state.page_cache.all_comments_changed();
    tracing::info!(admin = coach.id, action = %form.action, "moderation");
    Ok(see_other(&with_done(&back, &message)))
}

/// The comments a confirmation page is about (and how many replies to them
/// are not among them).
async fn confirmation_items(
    state: &AppState,
    ids: Vec<i64>,
) -> Result<(Vec<QueueItem>, usize), AppError> {
    let lookup = ids;
    let (rows, replies, context) = db::run(&state.pool, move |conn| {
        let mut rows = Vec::new();
        let mut replies = 0;
        for id in &lookup {
            if let Some(row) = db::comments::find(conn, *id)? {
                rows.push(row);
            }
            replies += db::comments::replies_to(conn, *id)?
                .iter()
                .filter(|(r, _)| !lookup.contains(&r.id))
                .count();
        }
        let context = context_of(conn, &rows)?;
        Ok((rows, replies, context))
    })
    .await?;
    if rows.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok((items(state, rows, &context), replies))
}

async fn delete_confirmation(
    req: &HttpRequest,
    state: &AppState,
    coach: &Coach,
    ids: Vec<i64>,
    back: String,
) -> Result<HttpResponse, AppError> {
    let (items, replies) = confirmation_items(state, ids).await?;
    render_html(
        req,
        &DeletePage {
            layout: admin_layout(
                state,
                state.strings.s("admin.delete.title"),
                "/admin/comments",
            ),
            nav: nav(state, coach, "comments").await?,
            items,
            replies,
            back,
        },
        Caching::NoStore,
    )
}

/// Approving a comment that matched the crisis phrases asks first: its
/// writer may need an answer more than an audience.
async fn approve_urgent_confirmation(
    req: &HttpRequest,
    state: &AppState,
    coach: &Coach,
    ids: Vec<i64>,
    back: String,
) -> Result<HttpResponse, AppError> {
    let (items, _) = confirmation_items(state, ids).await?;
    render_html(
        req,
        &ApproveUrgentPage {
            layout: admin_layout(
                state,
                state.strings.s("admin.approve_urgent.title"),
                "/admin/comments",
            ),
            nav: nav(state, coach, "comments").await?,
            items,
            back,
        },
        Caching::NoStore,
    )
}

/// GET /admin/comments/{id}/delete: asks first.
pub async fn delete_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    delete_confirmation(
        &req,
        &state,
        &coach,
        vec![*id],
        format!("/admin/comments/{id}"),
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct TextForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    back: String,
}

/// POST /admin/comments/{id}/reply: the coach's answer, published at once
/// with the Coach badge; a pending comment it answers is approved first.
pub async fn reply(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, form): (Coach, TextForm) = session::verified_form(&req, &state, &body).await?;
    let parent_id = *id;
    let text = match CommentBody::parse(&form.body) {
        Ok(text) => text,
        Err(message) => {
            return comment_page(
                &req,
                &state,
                &coach,
                parent_id,
                form.body,
                Some(message.say(&state.strings)),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let (parent, _) = db::run(&state.pool, move |conn| db::comments::find(conn, parent_id))
        .await?
        .ok_or(AppError::NotFound)?;
    if parent.status == db::comments::SPAM || parent.status == db::comments::TRASH {
        return comment_page(
            &req,
            &state,
            &coach,
            parent_id,
            form.body,
            Some(state.strings.s("admin.comment.cannot_reply").into()),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if parent.status == db::comments::PENDING {
        approve_comment(&state, parent_id, Some((coach.id, coach.name.clone()))).await?;
    }
    let html = render_comment(text.as_str()).into_string();
    let now = state.clock.now_naive();
    let (name, email, admin_id) = (coach.name.clone(), coach.email.clone(), coach.id);
    let markdown = text.as_str().to_string();
    let stored = state
        .writer
        .write(&state.pool, move |conn| {
            let reply = db::comments::post_coach_reply(
                conn,
                &db::comments::CoachReply {
                    reply_to: parent_id,
                    author_name: &name,
                    author_email: &email,
                    body_markdown: &markdown,
                    body_html: &html,
                    now,
                },
            );
            let reply_id = match reply {
                Ok(id) => id,
                Err(db::comments::PostRefused::Db(e)) => return Err(e),
                Err(_) => return Ok(None),
            };
            db::admins::audit(
                conn,
                &db::admins::AuditEntry::new(admin_id, &name, audit_log::REPLIED, now)
                    .on_comment(reply_id),
            )?;
            Ok(Some(reply_id))
        })
        .await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(e) => {
            crate::web::unsaved(e, "the coach's reply")?;
            let page = comment_page(
                &req,
                &state,
                &coach,
                parent_id,
                form.body,
                Some(crate::web::unsaved_problem(&state)),
                None,
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await?;
            return Ok(crate::web::unsaved_page(page));
        }
    };
    let Some(reply_id) = stored else {
        return comment_page(
            &req,
            &state,
            &coach,
            parent_id,
            form.body,
            Some(state.strings.s("admin.comment.reply_failed").into()),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    tracing::info!(admin = coach.id, comment = reply_id, "coach replied");
    state.page_cache.comments_changed(&parent.article_slug);
    crate::notify::after_post(
        &state.mail(),
        reply_id,
        crate::db::comments::APPROVED,
        false,
    )
    .await;
    if form.back.starts_with("/articles/") {
        return Ok(see_other(&format!(
            "/articles/{}#comment-{reply_id}",
            parent.article_slug
        )));
    }
    Ok(see_other(&with_done(
        &format!("/admin/comments/{parent_id}"),
        state.strings.s("admin.done.reply_published"),
    )))
}

/// GET /admin/comments/{id}/edit
pub async fn edit_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    let id = *id;
    let (_, markdown) = db::run(&state.pool, move |conn| db::comments::find(conn, id))
        .await?
        .ok_or(AppError::NotFound)?;
    edit_page(&req, &state, &coach, id, markdown, None, StatusCode::OK).await
}

async fn edit_page(
    req: &HttpRequest,
    state: &AppState,
    coach: &Coach,
    id: i64,
    body: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (item, _, _) = load_one(state, id).await?;
    let mut res = render_html(
        req,
        &EditPage {
            layout: admin_layout(
                state,
                state.strings.s("admin.edit.title"),
                "/admin/comments",
            ),
            nav: nav(state, coach, "comments").await?,
            item,
            body,
            error,
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// POST /admin/comments/{id}/edit: the new text is published as "edited
/// by the coach"; the old text goes to the audit log.
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, form): (Coach, TextForm) = session::verified_form(&req, &state, &body).await?;
    let id = *id;
    let text = match CommentBody::parse(&form.body) {
        Ok(text) => text,
        Err(message) => {
            return edit_page(
                &req,
                &state,
                &coach,
                id,
                form.body,
                Some(message.say(&state.strings)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let html = render_comment(text.as_str()).into_string();
    let markdown = text.as_str().to_string();
    let now = state.clock.now_naive();
    let (admin_id, admin_name) = (coach.id, coach.name.clone());
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let original = db::comments::edit_by_coach(conn, id, &markdown, &html, now)?;
            if original != markdown {
                db::admins::audit(
                    conn,
                    &db::admins::AuditEntry::new(admin_id, &admin_name, audit_log::EDITED, now)
                        .on_comment(id)
                        .replacing(&original),
                )?;
            }
            Ok(())
        })
    })
    .await?;
    // The new text shows at once wherever the comment is shown (its
    // article, feeds, the search results), here and on other instances.
    state.page_cache.all_comments_changed();
    tracing::info!(
        admin = coach.id,
        comment = id,
        "comment edited by the coach"
    );
    Ok(see_other(&with_done(
        &format!("/admin/comments/{id}"),
        state.strings.s("admin.done.edited"),
    )))
}

#[derive(serde::Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<String>,
}

/// GET /admin/audit
pub async fn audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    let page = crate::web::page_number(query.page.as_deref(), &state.strings)? as i64;
    let offset = (page - 1) * AUDIT_PAGE_SIZE;
    let (rows, total) = db::run(&state.pool, move |conn| {
        db::admins::audit_page(conn, None, offset, AUDIT_PAGE_SIZE)
    })
    .await?;
    let total_pages = (total as usize).div_ceil(AUDIT_PAGE_SIZE as usize).max(1);
    if page as usize > total_pages {
        return Err(AppError::NotFound);
    }
    let pagination =
        (total_pages > 1).then(|| Pagination::new(page as usize, total_pages, "/admin/audit"));
    render_html(
        &req,
        &AuditPage {
            layout: admin_layout(&state, state.strings.s("admin.audit.title"), "/admin/audit"),
            nav: nav(&state, &coach, "audit").await?,
            entries: audit_views(rows, &state.strings),
            pagination,
        },
        Caching::NoStore,
    )
}

/// Publishes a held comment (`notify::approve_comment`: its emails are
/// queued) and drops the cached pages of its article; whether it was held.
pub async fn approve_comment(
    state: &AppState,
    id: i64,
    by: Option<(i64, String)>,
) -> Result<bool, AppError> {
    let changed = crate::notify::approve_comment(&state.mail(), id, by).await?;
    if let Some(slug) = &changed {
        state.page_cache.comments_changed(slug);
    }
    Ok(changed.is_some())
}
