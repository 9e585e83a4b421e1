//! The coach's inbox of coaching requests: list, filters, statistics,
//! detail with messages, notes, status, replies, templates, exports.
use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Duration};

use super::session::{self, Coach};
use super::{admin_layout, nav, see_other, Say};
use crate::content::comment_markdown::{render_message, SafeHtml};
use crate::db::{self, coaching::RequestRow};
use crate::domain::audit::{self as audit_log, status_key};
use crate::domain::coaching::{check_message, RequestStatus};
use crate::error::AppError;
use crate::views::coaching::{answers_in, message_views};
use crate::views::coaching::{InboxPage, InboxRow, RequestPage, StatLine, StatTable};
use crate::views::{relative_time, Date, Pagination};
use crate::web::{render_html, AppState, Caching};

pub const INBOX_PAGE_SIZE: i64 = 25;

fn status_of(code: &str) -> RequestStatus {
    RequestStatus::from_code(code).unwrap_or(RequestStatus::Received)
}

/// The states to choose from: (code, the key of its name; the
/// templates say it with `layout.t.s`).
fn statuses(all: bool) -> Vec<(&'static str, &'static str)> {
    let list: &[RequestStatus] = if all {
        &RequestStatus::ALL
    } else {
        &RequestStatus::COACH_SETS
    };
    list.iter().map(|s| (s.code(), status_key(*s))).collect()
}

/// Adds `done=message` to a local path (before any `#fragment`).
fn with_done(path: &str, message: &str, fragment: &str) -> String {
    format!(
        "{path}?{}{fragment}",
        serde_urlencoded::to_string([("done", message)]).unwrap_or_default()
    )
}

#[derive(serde::Deserialize, Default)]
pub struct InboxQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    option: String,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

fn lines(counts: Vec<(String, usize)>) -> Vec<StatLine> {
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    counts
        .into_iter()
        .map(|(label, count)| StatLine {
            label,
            count,
            percent: count * 100 / max,
        })
        .collect()
}

/// GET /admin/requests
pub async fn inbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    let t = &state.strings;
    let page = crate::web::page_number(query.page.as_deref(), &state.strings)? as i64;
    let filter = db::coaching::InboxFilter {
        status: Some(query.status.trim().to_string()).filter(|s| !s.is_empty()),
        option: Some(query.option.trim().to_string()).filter(|s| !s.is_empty()),
    };
    if let Some(s) = &filter.status {
        if RequestStatus::from_code(s).is_none() {
            return Err(AppError::BadRequest(
                t.s("admin.requests.no_such_status").into(),
            ));
        }
    }
    let offset = (page - 1) * INBOX_PAGE_SIZE;
    let ((rows, total), stats_rows) = db::run(&state.pool, move |conn| {
        Ok((
            db::coaching::inbox(conn, &filter, offset, INBOX_PAGE_SIZE)?,
            db::coaching::statistics_rows(conn)?,
        ))
    })
    .await?;
    let total_pages = (total as usize).div_ceil(INBOX_PAGE_SIZE as usize).max(1);
    if page as usize > total_pages {
        return Err(AppError::NotFound);
    }
    let library = state.content.library();
    let now = state.clock.now();
    let title_of = |slug: &str| {
        library
            .article(slug, now)
            .map_or_else(|| slug.to_string(), |a| a.title.clone())
    };
    // Statistics: the last 12 weeks (Monday first), options, articles.
    let this_monday =
        now.date_naive() - Duration::days(now.weekday().num_days_from_monday() as i64);
    let mut weeks: Vec<(String, usize)> = (0..12)
        .rev()
        .map(|i| {
            let monday = (this_monday - Duration::weeks(i))
                .and_time(chrono::NaiveTime::MIN)
                .and_utc();
            (t.date(monday), 0)
        })
        .collect();
    let mut per_option: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_article: BTreeMap<String, usize> = BTreeMap::new();
    for (created, option, article) in &stats_rows {
        let days_back = (this_monday - created.date()).num_days();
        let week = if days_back <= 0 {
            0
        } else {
            (days_back + 6) / 7
        };
        if (0..12).contains(&week) {
            weeks[11 - week as usize].1 += 1;
        }
        *per_option.entry(option.clone()).or_default() += 1;
        if let Some(slug) = article {
            *per_article.entry(title_of(slug)).or_default() += 1;
        }
    }
    let mut per_article: Vec<(String, usize)> = per_article.into_iter().collect();
    per_article.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    per_article.truncate(10);
    let url = |p: usize| {
        let mut pairs = vec![];
        if !query.status.is_empty() {
            pairs.push(("status", query.status.clone()));
        }
        if !query.option.is_empty() {
            pairs.push(("option", query.option.clone()));
        }
        if p > 1 {
            pairs.push(("page", p.to_string()));
        }
        format!(
            "/admin/requests?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    };
    let pagination = (total_pages > 1).then(|| Pagination {
        page: page as usize,
        total_pages,
        prev_url: (page > 1).then(|| url(page as usize - 1)),
        next_url: ((page as usize) < total_pages).then(|| url(page as usize + 1)),
    });
    render_html(
        &req,
        &InboxPage {
            layout: admin_layout(&state, t.s("admin.requests.title"), "/admin/requests"),
            nav: nav(&state, &coach, "requests").await?,
            rows: rows
                .into_iter()
                .map(|r| {
                    let created = r.created_at.and_utc();
                    InboxRow {
                        id: r.id,
                        name: r.name,
                        option_title: r.option_title,
                        status_label: status_key(status_of(&r.status)),
                        status: r.status,
                        urgent: r.is_urgent,
                        date: Date::new(created, t),
                        relative: relative_time(created, now, t),
                        source: r.source_article.as_deref().map(title_of),
                    }
                })
                .collect(),
            total,
            statuses: statuses(true),
            options: library
                .coaching_options()
                .iter()
                .map(|o| (o.slug.clone(), o.title.clone()))
                .collect(),
            status: query.status.clone(),
            option: query.option.clone(),
            pagination,
            // Titles and columns are keys: the template says them.
            stats: vec![
                StatTable {
                    title: "admin.requests.per_week",
                    column: "admin.requests.week_of",
                    lines: if stats_rows.is_empty() {
                        Vec::new()
                    } else {
                        lines(weeks)
                    },
                },
                StatTable {
                    title: "admin.requests.per_option",
                    column: "admin.requests.option",
                    lines: lines(per_option.into_iter().collect()),
                },
                StatTable {
                    title: "admin.requests.per_article",
                    column: "admin.requests.article",
                    lines: lines(per_article),
                },
            ],
            done: query.done.clone(),
        },
        Caching::NoStore,
    )
}

#[derive(serde::Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    delete: Option<String>,
}

async fn load(state: &AppState, id: i64) -> Result<RequestRow, AppError> {
    db::run(&state.pool, move |conn| db::coaching::find(conn, id))
        .await?
        .ok_or(AppError::NotFound)
}

#[allow(clippy::too_many_arguments)]
async fn detail_page(
    req: &HttpRequest,
    state: &AppState,
    coach: &Coach,
    row: RequestRow,
    reply_body: String,
    reply_error: Option<String>,
    note_error: Option<String>,
    done: Option<String>,
    confirm_delete: bool,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let id = row.id;
    let comment_id = row.source_comment_id;
    let (messages, comment) = db::run(&state.pool, move |conn| {
        let messages = db::coaching::messages(conn, id, true)?;
        let comment = match comment_id {
            Some(cid) => db::comments::find(conn, cid)?,
            None => None,
        };
        Ok((messages, comment))
    })
    .await?;
    let (notes, messages): (Vec<_>, Vec<_>) = messages
        .into_iter()
        .partition(|m| m.kind == db::coaching::NOTE);
    let library = state.content.library();
    let source_article =
        row.source_article
            .as_deref()
            .map(|slug| match library.article(slug, state.clock.now()) {
                Some(a) => (a.url(), a.title.clone()),
                None => (format!("/articles/{slug}"), slug.to_string()),
            });
    let request_status = status_of(&row.status);
    let t = &state.strings;
    let mut res = render_html(
        req,
        &RequestPage {
            layout: admin_layout(state, t.s("admin.request.title"), "/admin/requests"),
            nav: nav(state, coach, "requests").await?,
            id: row.id,
            answers: answers_in(&row, &state.strings),
            name: row.name.clone(),
            email: row.email.clone(),
            option_title: row.option_title.clone(),
            status: row.status.clone(),
            status_label: status_key(request_status),
            urgent: row.is_urgent,
            anonymized: row.anonymized_at.is_some(),
            sent: t.date_time(row.created_at.and_utc(), None),
            consent: t.f2(
                "admin.request.consent_given",
                "date",
                &t.date_time(row.consent_at.and_utc(), None),
                "version",
                &row.privacy_version,
            ),
            situation: render_message(&row.situation),
            source_article,
            // A private question is shown only beside a request from its
            // own writer (the same address).
            source_comment: comment
                .filter(|(c, _)| {
                    !c.is_private || c.author_email.eq_ignore_ascii_case(row.email.trim())
                })
                .map(|(c, _)| (c.id, c.author_name, SafeHtml::from_stored(c.body_html))),
            messages: message_views(messages, &state.strings, None),
            notes: message_views(notes, &state.strings, None),
            statuses: statuses(row.status == "withdrawn"),
            plans: library
                .plans()
                .iter()
                .map(|p| (p.slug.clone(), p.title.clone()))
                .collect(),
            reply_body,
            reply_error,
            note_error,
            done,
            confirm_delete,
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// GET /admin/requests/{id}
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    let row = load(&state, *id).await?;
    let library = state.content.library();
    let reply_body = match query.template.as_deref() {
        Some(slug) => library
            .plan(slug)
            .map(|p| p.markdown.replace("[name]", &row.name))
            .ok_or(AppError::NotFound)?,
        None => String::new(),
    };
    // Opening a request changes nothing (a GET); "Start working on it" is
    // an explicit POST to the status form.
    detail_page(
        &req,
        &state,
        &coach,
        row,
        reply_body,
        None,
        None,
        query.done.clone(),
        query.delete.is_some(),
        StatusCode::OK,
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct CoachForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    status: String,
}

/// POST /admin/requests/{id}/status
pub async fn set_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, form): (Coach, CoachForm) = session::verified_form(&req, &state, &body).await?;
    let status = RequestStatus::from_code(&form.status)
        .filter(|s| RequestStatus::COACH_SETS.contains(s))
        .ok_or_else(|| {
            AppError::BadRequest(state.strings.s("admin.request.not_settable").into())
        })?;
    let id = *id;
    load(&state, id).await?;
    let now = state.clock.now_naive();
    let action = audit_log::request_status(id, status);
    let who = coach.clone();
    let changed = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let changed = db::coaching::set_status(conn, id, status, now)?;
            if changed.is_some() {
                db::admins::audit(
                    conn,
                    &db::admins::AuditEntry::new(who.id, &who.name, &action, now),
                )?;
            }
            Ok(changed)
        })
    })
    .await?;
    if changed.is_some() {
        crate::notify::request_update(&state.mail(), id, None, Some(status), now).await;
    }
    let done = if changed.is_some() {
        "admin.request.done.status_changed"
    } else {
        "admin.request.done.status_same"
    };
    Ok(see_other(&with_done(
        &format!("/admin/requests/{id}"),
        state.strings.s(done),
        "",
    )))
}

/// POST /admin/requests/{id}/reply: emailed and shown on the status page.
pub async fn reply(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, form): (Coach, CoachForm) = session::verified_form(&req, &state, &body).await?;
    let row = load(&state, *id).await?;
    if row.anonymized_at.is_some() {
        return Err(AppError::BadRequest(
            state.strings.s("admin.request.anonymized_no_reply").into(),
        ));
    }
    let text = match check_message(&form.body) {
        Ok(text) => text,
        Err(message) => {
            return detail_page(
                &req,
                &state,
                &coach,
                row,
                form.body,
                Some(message.say(&state.strings)),
                None,
                None,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let html = render_message(&text).into_string();
    let (rid, now, who) = (row.id, state.clock.now_naive(), coach.clone());
    let markdown = text.clone();
    let action = audit_log::request_reply(rid);
    let saved = state
        .writer
        .write(&state.pool, move |conn| {
            db::coaching::add_message(
                conn,
                rid,
                db::coaching::COACH,
                &who.name,
                &markdown,
                &html,
                now,
            )?;
            db::admins::audit(
                conn,
                &db::admins::AuditEntry::new(who.id, &who.name, &action, now),
            )
        })
        .await;
    if let Err(e) = saved {
        crate::web::unsaved(e, "the coach's reply to a request")?;
        let page = detail_page(
            &req,
            &state,
            &coach,
            row,
            form.body,
            Some(crate::web::unsaved_problem(&state)),
            None,
            None,
            false,
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await?;
        return Ok(crate::web::unsaved_page(page));
    }
    crate::notify::request_update(&state.mail(), rid, Some(text), None, now).await;
    Ok(see_other(&with_done(
        &format!("/admin/requests/{rid}"),
        state.strings.s("admin.request.done.reply_sent"),
        "#messages",
    )))
}

/// POST /admin/requests/{id}/notes: private, never shown to the reader.
pub async fn add_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, form): (Coach, CoachForm) = session::verified_form(&req, &state, &body).await?;
    let row = load(&state, *id).await?;
    let text = match check_message(&form.body) {
        Ok(text) => text,
        Err(message) => {
            return detail_page(
                &req,
                &state,
                &coach,
                row,
                String::new(),
                None,
                Some(message.say(&state.strings)),
                None,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let html = render_message(&text).into_string();
    let (rid, now, name) = (row.id, state.clock.now_naive(), coach.name.clone());
    db::run(&state.pool, move |conn| {
        db::coaching::add_message(conn, rid, db::coaching::NOTE, &name, &text, &html, now)
    })
    .await?;
    Ok(see_other(&with_done(
        &format!("/admin/requests/{rid}"),
        state.strings.s("admin.request.done.note_saved"),
        "#notes",
    )))
}

/// POST /admin/requests/{id}/delete: the request and all its messages.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, _): (Coach, Vec<(String, String)>) =
        session::verified_form(&req, &state, &body).await?;
    let id = *id;
    load(&state, id).await?;
    let (now, who) = (state.clock.now_naive(), coach.clone());
    let action = audit_log::request_deleted(id);
    db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            db::coaching::delete(conn, id, now)?;
            db::admins::audit(
                conn,
                &db::admins::AuditEntry::new(who.id, &who.name, &action, now),
            )
        })
    })
    .await?;
    tracing::info!(admin = coach.id, request = id, "coaching request deleted");
    Ok(see_other(&with_done(
        "/admin/requests",
        state.strings.s("admin.request.done.deleted"),
        "",
    )))
}

// ---- Exports -----------------------------------------------------------------

const CSV_COLUMNS: &[&str] = &[
    "id",
    "created_at",
    "status",
    "name",
    "email",
    "option",
    "ended_by",
    "together_for",
    "ended_ago",
    "contact_now",
    "no_contact_since",
    "hope",
    "talk_via",
    "time_zone",
    "source_article",
    "source_comment_id",
    "urgent",
    "consent_at",
    "privacy_version",
    "situation",
    "messages",
];

fn csv_field(value: &str) -> String {
    // Quote everything; neutralise spreadsheet formulas.
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

fn to_csv(rows: &[(RequestRow, Vec<db::coaching::MessageRow>)]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for (r, messages) in rows {
        let messages: Vec<String> = messages
            .iter()
            .map(|m| {
                format!(
                    "[{} {} {}] {}",
                    m.created_at.format("%Y-%m-%d %H:%M"),
                    m.kind,
                    m.author_name,
                    m.body_markdown
                )
            })
            .collect();
        let fields = [
            r.id.to_string(),
            r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.status.clone(),
            r.name.clone(),
            r.email.clone(),
            r.option_title.clone(),
            r.ended_by.clone(),
            r.together_for.clone(),
            r.ended_ago.clone(),
            r.contact_now.clone(),
            r.no_contact_since.clone().unwrap_or_default(),
            r.hope.clone(),
            r.talk_via.clone(),
            r.time_zone.clone().unwrap_or_default(),
            r.source_article.clone().unwrap_or_default(),
            r.source_comment_id
                .map(|c| c.to_string())
                .unwrap_or_default(),
            r.is_urgent.to_string(),
            r.consent_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.privacy_version.clone(),
            r.situation.clone(),
            messages.join("\n"),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

#[derive(serde::Serialize)]
struct ExportedRequest {
    #[serde(flatten)]
    request: RequestRow,
    messages: Vec<db::coaching::MessageRow>,
}

fn download(body: Vec<u8>, content_type: &'static str, file: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: Option<i64>,
    format: &str,
) -> Result<HttpResponse, AppError> {
    let coach = session::require(&req, &state).await?;
    let rows = db::run(&state.pool, move |conn| {
        let requests = match id {
            Some(id) => db::coaching::find(conn, id)?.into_iter().collect(),
            None => db::coaching::all(conn)?,
        };
        requests
            .into_iter()
            .map(|r| {
                let messages = db::coaching::messages(conn, r.id, true)?;
                Ok((r, messages))
            })
            .collect::<db::QueryResult<Vec<_>>>()
    })
    .await?;
    if id.is_some() && rows.is_empty() {
        return Err(AppError::NotFound);
    }
    tracing::info!(
        admin = coach.id,
        requests = rows.len(),
        format,
        "coaching requests exported"
    );
    let stem = match id {
        Some(id) => format!("coaching-request-{id}"),
        None => format!("coaching-requests-{}", state.clock.now().format("%Y-%m-%d")),
    };
    Ok(match format {
        "csv" => download(
            to_csv(&rows).into_bytes(),
            "text/csv; charset=utf-8",
            &format!("{stem}.csv"),
        ),
        _ => {
            let list: Vec<ExportedRequest> = rows
                .into_iter()
                .map(|(request, messages)| ExportedRequest { request, messages })
                .collect();
            let json = serde_json::to_vec_pretty(&list).map_err(AppError::internal)?;
            download(json, "application/json", &format!("{stem}.json"))
        }
    })
}

/// GET /admin/requests/export.{csv,json}
pub async fn export_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    format: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    match format.as_str() {
        "csv" | "json" => export(req, state, None, &format.clone()).await,
        _ => Err(AppError::NotFound),
    }
}

/// GET /admin/requests/{id}/export.{csv,json}
pub async fn export_one(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, format) = path.into_inner();
    match format.as_str() {
        "csv" | "json" => export(req, state, Some(id), &format).await,
        _ => Err(AppError::NotFound),
    }
}
