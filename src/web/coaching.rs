//! The coaching request form (`/coaching`), the thank-you page, and the
//! reader's private status page (`/requests/{token}`).
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::reader_form::{self, Stamp};
use super::{render_html, AppState, Caching};
use crate::content::comment_markdown::render_message;
use crate::db::{self, coaching::RequestRow};
use crate::domain::coaching::{
    self as domain, CoachingForm, NewCoachingRequest, RequestErrors, RequestStatus,
};
use crate::error::AppError;
use crate::keys::{self, FormToken};
use crate::views::coaching::{
    answers_in, message_views, ChoiceGroup, CoachingPage, ConfirmRequestPage, RequestFormView,
    StatusPage, ThanksPage,
};
use crate::views::{Date, Nav, NotificationsPage};

const FORM_SCOPE: &str = "coaching";

#[derive(serde::Deserialize, Default)]
pub struct FormQuery {
    #[serde(default)]
    option: String,
    #[serde(default)]
    article: String,
    #[serde(default)]
    comment: String,
}

/// The coaching page with the form as given.
fn form_page(
    req: &HttpRequest,
    state: &AppState,
    values: CoachingForm,
    errors: RequestErrors,
    problem: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let t = &state.strings;
    let library = state.content.library();
    let page = library.page("coaching");
    let mut layout = state.layout(
        Some(page.map_or(t.s("coaching.title"), |p| p.title.as_str())),
        page.map_or("", |p| p.summary_text.as_str()),
        "/coaching",
        Nav::Coaching,
    );
    layout.description = page.map_or(String::new(), |p| p.summary_text.clone());
    let source_title = library
        .article(values.article.trim(), state.clock.now())
        .map(|a| a.title.clone());
    let mut choose_query = String::new();
    for (key, value) in [("article", &values.article), ("comment", &values.comment)] {
        if !value.trim().is_empty() {
            choose_query.push('&');
            choose_query
                .push_str(&serde_urlencoded::to_string([(key, value.trim())]).unwrap_or_default());
        }
    }
    let form = RequestFormView {
        token: FormToken::issue(&state.key, FORM_SCOPE, state.clock.now().timestamp()),
        values,
        errors,
        problem,
        source_title,
    };
    let group = |field, legend, choices| ChoiceGroup {
        field,
        legend,
        choices,
    };
    let groups_before = vec![
        group("ended_by", "coaching.question.ended_by", domain::ENDED_BY),
        group(
            "together_for",
            "coaching.question.together_for",
            domain::TOGETHER_FOR,
        ),
        group(
            "ended_ago",
            "coaching.question.ended_ago",
            domain::ENDED_AGO,
        ),
        group(
            "contact_now",
            "coaching.question.contact_now",
            domain::CONTACT_NOW,
        ),
    ];
    let hope = group("hope", "coaching.question.hope", domain::HOPE);
    let talk_via = group("talk_via", "coaching.question.talk_via", domain::TALK_VIA);
    // The error summary links each problem to its field, in the form's
    // order; a group of choices by its first choice.
    let first_option = library
        .coaching_options()
        .first()
        .map_or(String::new(), |o| o.slug.clone());
    let mut order: Vec<(&str, String)> = vec![
        ("name", "request-name".into()),
        ("email", "request-email".into()),
        ("option", format!("request-option-{first_option}")),
    ];
    for g in &groups_before {
        let first = g.choices.first().map_or("", |(value, _)| *value);
        order.push((g.field, format!("request-{}-{first}", g.field)));
        if g.field == "contact_now" {
            order.push(("no_contact_since", "request-no-contact-since".into()));
        }
    }
    for g in [&hope, &talk_via] {
        let first = g.choices.first().map_or("", |(value, _)| *value);
        order.push((g.field, format!("request-{}-{first}", g.field)));
        if g.field == "hope" {
            order.push(("situation", "request-situation".into()));
        }
    }
    order.extend([
        ("time_zone", "request-time-zone".into()),
        ("adult", "request-adult".into()),
        ("consent", "request-consent".into()),
    ]);
    let error_links: Vec<(String, String)> = order
        .into_iter()
        .filter_map(|(field, anchor)| form.errors.get(field).map(|e| (anchor, e.text(t))))
        .collect();
    if form.has_errors() {
        layout.title = t.f("coaching.form.error_title", "title", &layout.title);
    }
    let mut res = render_html(
        req,
        &CoachingPage {
            layout,
            page: page.map(|p| p.as_ref()),
            options: library.coaching_options(),
            choose_query,
            form,
            error_links,
            today: latest_today(state.clock.now())
                .format("%Y-%m-%d")
                .to_string(),
            groups_before,
            hope,
            talk_via,
            time_zones: domain::TIME_ZONES,
            crisis_resources: &state.settings.comments.crisis_resources,
            timezone_js: state.assets.url("js/timezone.js"),
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// GET /coaching
pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<FormQuery>,
) -> Result<HttpResponse, AppError> {
    let values = CoachingForm {
        option: query.option.clone(),
        article: query.article.clone(),
        comment: query.comment.clone(),
        ..CoachingForm::default()
    };
    form_page(
        &req,
        &state,
        values,
        RequestErrors::default(),
        None,
        StatusCode::OK,
    )
}

/// POST /coaching
pub async fn send(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: CoachingForm = super::parse_form(&req, &body)?;
    let checked = reader_form::check(
        &req,
        &state,
        &reader_form::COACHING_REQUEST,
        reader_form::Fields {
            scope: FORM_SCOPE,
            token: &form.token,
            honeypot: &form.website,
        },
    )?;
    if checked.bot {
        tracing::info!("coaching honeypot filled; discarded");
        return Ok(super::see_other("/coaching/thanks"));
    }
    let now = state.clock.now();
    let settings = &state.settings.comments;
    let unprocessable = |form: CoachingForm, errors, problem: &str| {
        form_page(
            &req,
            &state,
            form,
            errors,
            Some(state.strings.s(problem).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let problem = match checked.stamp {
        Stamp::Fresh => None,
        Stamp::Expired => Some("coaching.problem.expired"),
        Stamp::TooQuick => Some("coaching.problem.too_quick"),
        Stamp::Unverified => Some("coaching.problem.unverified"),
    };
    if let Some(problem) = problem {
        return unprocessable(form, RequestErrors::default(), problem);
    }
    let library = state.content.library();
    let slugs: Vec<&str> = library
        .coaching_options()
        .iter()
        .map(|o| o.slug.as_str())
        .collect();
    let mut request = match NewCoachingRequest::parse(&form, &slugs, latest_today(now)) {
        Ok(request) => request,
        Err(errors) => {
            return form_page(
                &req,
                &state,
                form,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    // The comment the request came from: only a published one, or one
    // this browser wrote (its owner token), may be attached; anything else
    // (somebody's private question, a made-up id) is left out.
    if let Some(cid) = request.source_comment {
        let own: Vec<(i64, String)> = super::articles::comment_section::own_comments(&req)
            .into_iter()
            .filter(|(id, _)| *id == cid)
            .map(|(id, token)| (id, keys::token_hash(&token)))
            .collect();
        // Unreadable just now: left out rather than losing the request
        // (whose own write then decides whether it is kept).
        let attachable = db::run(&state.pool, move |conn| {
            Ok(match db::comments::find(conn, cid)? {
                Some((row, _)) => row.is_public() || !db::comments::owned(conn, &own)?.is_empty(),
                None => false,
            })
        })
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot check the comment a coaching request names; left out");
            false
        });
        if !attachable {
            tracing::info!("a coaching request named a comment not its sender's; left out");
            request.source_comment = None;
        }
    }
    let option_title = library
        .coaching_option(&request.option)
        .map(|o| o.title.clone())
        .unwrap_or_default();
    let privacy_version = library
        .page("privacy")
        .map_or_else(|| "none".to_string(), |p| p.version.clone());
    let urgent = settings.rules.assess(&request.situation, false).urgent;
    let ip_hash = checked.ip_hash;
    let nonce = keys::random_hex(32).map_err(AppError::internal)?;
    let token_hash = keys::token_hash(&crate::notify::request_token(&state.key, &nonce));
    let form_token_hash = keys::token_hash(&form.token);
    let stored_request = request.clone();
    let now_naive = now.naive_utc();
    let outcome = state
        .writer
        .write(&state.pool, move |conn| {
            let record = db::coaching::NewRequestRecord {
                token_hash: &token_hash,
                token_nonce: &nonce,
                form_token_hash: &form_token_hash,
                request: &stored_request,
                option_title: &option_title,
                privacy_version: &privacy_version,
                is_urgent: urgent,
                ip_hash: &ip_hash,
                now: now_naive,
            };
            match db::coaching::create(conn, &record, db::rate_limits::PostLimits::default()) {
                Ok(created) => Ok(Ok(created)),
                Err(db::coaching::RequestRefused::Db(e)) => Err(e),
                Err(db::coaching::RequestRefused::RateLimited(wait)) => Ok(Err(wait)),
            }
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            super::unsaved(e, "a coaching request")?;
            let page = form_page(
                &req,
                &state,
                form,
                RequestErrors::default(),
                Some(super::unsaved_problem(&state)),
                StatusCode::SERVICE_UNAVAILABLE,
            )?;
            return Ok(super::unsaved_page(page));
        }
    };
    let id = match outcome {
        Ok((id, true)) => {
            tracing::info!(request = id, urgent, "coaching request stored");
            state.metrics.coaching_request_created();
            crate::notify::after_request(&state.mail(), id).await;
            id
        }
        Ok((id, false)) => {
            tracing::info!(
                request = id,
                "the same coaching form was sent twice; stored once"
            );
            id
        }
        Err(wait) => {
            let res = form_page(
                &req,
                &state,
                form,
                RequestErrors::default(),
                Some(state.strings.n("coaching.problem.too_many_requests", &wait)),
                StatusCode::TOO_MANY_REQUESTS,
            )?;
            return Ok(reader_form::retry_after(res, wait));
        }
    };
    let mut res = super::see_other("/coaching/thanks");
    let _ = res.add_cookie(&sent_cookie(&state, id, now.timestamp()));
    Ok(res)
}

/// Cookie telling the thank-you page which request this browser just sent
/// (signed, for an hour): the page shows where the link went, and the
/// crisis resources first when the request matched the crisis phrases.
const SENT_COOKIE: &str = "kintsugi_sent";
const SENT_COOKIE_SECONDS: i64 = 3600;
const SENT_PURPOSE: &str = "request-sent";
const RESEND_SCOPE: &str = "coaching-resend";

fn sent_cookie(state: &AppState, id: i64, now_unix: i64) -> Cookie<'static> {
    let message = format!("{id}.{now_unix}");
    let value = format!("{message}.{}", state.key.sign(SENT_PURPOSE, &message));
    let https = state.settings.base_url.is_https();
    // Path=/ as the `__Host-` prefix (on https) asks.
    Cookie::build(
        super::request::reader_cookie_name(https, SENT_COOKIE),
        value,
    )
    .path("/")
    .http_only(true)
    .same_site(SameSite::Lax)
    .secure(state.settings.base_url.is_https())
    .max_age(actix_web::cookie::time::Duration::seconds(
        SENT_COOKIE_SECONDS,
    ))
    .finish()
}

/// The request this browser sent in the last hour, from its cookie.
fn sent_request(req: &HttpRequest, state: &AppState) -> Option<i64> {
    let cookie = super::request::reader_cookie(req, SENT_COOKIE)?;
    let (message, signature) = cookie.value().rsplit_once('.')?;
    let (id, at) = message.split_once('.')?;
    let (id, at) = (id.parse::<i64>().ok()?, at.parse::<i64>().ok()?);
    let age = state.clock.now().timestamp() - at;
    ((0..=SENT_COOKIE_SECONDS).contains(&age) && state.key.verify(SENT_PURPOSE, message, signature))
        .then_some(id)
}

/// What the thank-you page shows besides its text.
#[derive(Default)]
struct ThanksView {
    resend_email: String,
    resend_error: Option<String>,
    resent: bool,
}

async fn thanks_page(
    req: &HttpRequest,
    state: &AppState,
    view: ThanksView,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let sent = match sent_request(req, state) {
        Some(id) => db::run(&state.pool, move |conn| db::coaching::find(conn, id))
            .await?
            .filter(|row| row.anonymized_at.is_none()),
        None => None,
    };
    let t = &state.strings;
    let mut layout = state.layout(
        Some(t.s("coaching.thanks.title")),
        "",
        "/coaching/thanks",
        Nav::Coaching,
    );
    layout.noindex = true;
    if view.resend_error.is_some() {
        layout.title = t.f("coaching.form.error_title", "title", &layout.title);
    }
    let page = ThanksPage {
        layout,
        crisis: sent.as_ref().is_some_and(|row| row.is_urgent),
        crisis_resources: &state.settings.comments.crisis_resources,
        resend_email: if view.resend_email.is_empty() {
            sent.as_ref()
                .map(|row| row.email.clone())
                .unwrap_or_default()
        } else {
            view.resend_email
        },
        sent_to: sent.map(|row| row.email),
        resend_token: FormToken::issue(&state.key, RESEND_SCOPE, state.clock.now().timestamp()),
        resend_error: view.resend_error,
        resent: view.resent,
    };
    // Says a request was just sent from this browser (and where its link
    // went): kept out of every cache, like the rest of coaching.
    let mut res = render_html(req, &page, Caching::NoStore)?;
    *res.status_mut() = status;
    Ok(res)
}

/// GET /coaching/thanks
pub async fn thanks(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    thanks_page(&req, &state, ThanksView::default(), StatusCode::OK).await
}

#[derive(serde::Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    email: String,
}

/// POST /coaching/resend: the private link of the newest request from an
/// address, sent again. The answer is the same whether or not a request
/// came from that address; each network may ask a few times a minute and
/// each address once every five minutes.
pub async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: ResendForm = super::parse_form(&req, &body)?;
    let checked = reader_form::check(
        &req,
        &state,
        &reader_form::LINK_AGAIN,
        reader_form::Fields {
            scope: RESEND_SCOPE,
            token: &form.form_token,
            honeypot: "",
        },
    )?;
    let now = state.clock.now();
    let email = match crate::domain::comment::Email::parse(&form.email) {
        Ok(email) => email,
        Err(message) => {
            let view = ThanksView {
                resend_email: form.email,
                resend_error: Some(message.text(&state.strings)),
                resent: false,
            };
            return thanks_page(&req, &state, view, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let ip_hash = checked.ip_hash;
    let email_hash = keys::token_hash(&email.as_str().to_lowercase());
    let now_naive = now.naive_utc();
    let limited = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            let by_network = db::rate_limits::take(
                conn,
                "resend-link",
                &ip_hash,
                db::rate_limits::PostLimits::default(),
                now_naive,
            )?;
            if let Err(wait) = by_network {
                return Ok(Some(wait));
            }
            // Quietly once per five minutes per address: never an answer
            // that tells whether the address wrote here.
            let by_address = db::rate_limits::take(
                conn,
                "resend-link-email",
                &email_hash,
                db::rate_limits::PostLimits {
                    per_minute: 1,
                    min_interval_seconds: 300,
                },
                now_naive,
            )?;
            Ok(by_address.err().map(|_| 0))
        })
    })
    .await?;
    match limited {
        Some(wait) if wait > 0 => {
            let view = ThanksView {
                resend_email: email.as_str().to_string(),
                resend_error: Some(state.strings.n("coaching.problem.too_many_links", &wait)),
                resent: false,
            };
            let res = thanks_page(&req, &state, view, StatusCode::TOO_MANY_REQUESTS).await?;
            return Ok(reader_form::retry_after(res, wait));
        }
        Some(_) => tracing::info!("a request link was asked for again too soon; not sent"),
        None => {
            let queued =
                crate::notify::resend_request_link(&state.mail(), email.as_str().to_string())
                    .await?;
            tracing::info!(queued, "a request link was asked for again");
        }
    }
    let view = ThanksView {
        resend_email: email.as_str().to_string(),
        resend_error: None,
        resent: true,
    };
    thanks_page(&req, &state, view, StatusCode::OK).await
}

// ---- The private status page ------------------------------------------------

/// The request behind a status token, or 404 (a wrong guess learns
/// nothing else).
async fn by_token(state: &AppState, token: &str) -> Result<RequestRow, AppError> {
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let hash = keys::token_hash(token);
    db::run(&state.pool, move |conn| {
        db::coaching::find_by_token(conn, &hash)
    })
    .await?
    .ok_or(AppError::NotFound)
}

fn status_of(row: &RequestRow) -> RequestStatus {
    RequestStatus::from_code(&row.status).unwrap_or(RequestStatus::Received)
}

fn form_scope(row: &RequestRow) -> String {
    format!(
        "request:{}",
        &row.token_hash[..16.min(row.token_hash.len())]
    )
}

#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    /// What the reader just did: `message-sent` or `withdrawn`.
    #[serde(default)]
    done: Option<String>,
}

/// The notice for what the reader just did (`?done=`), in the site's
/// language; nothing for anything else.
fn done_notice<'a>(t: &'a crate::i18n::Strings, done: Option<&str>) -> Option<&'a str> {
    match done? {
        "message-sent" => Some(t.s("coaching.status.done.message_sent")),
        "withdrawn" => Some(t.s("coaching.status.done.withdrawn")),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn status_page(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    row: RequestRow,
    message_body: String,
    message_error: Option<String>,
    done: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let id = row.id;
    let messages = db::run(&state.pool, move |conn| {
        db::coaching::messages(conn, id, false)
    })
    .await?;
    let request_status = status_of(&row);
    let t = &state.strings;
    let mut layout = state.layout(
        Some(t.s("coaching.status.title")),
        "",
        "/requests",
        Nav::None,
    );
    layout.noindex = true;
    let mut res = render_html(
        req,
        &StatusPage {
            layout,
            token: token.to_string(),
            option_title: row.option_title.clone(),
            status_label: t.s(request_status.label_key()),
            status_explanation: t.s(request_status.explanation_key()),
            sent: Date::new(row.created_at.and_utc(), &state.strings),
            open: !request_status.is_finished(),
            answers: answers_in(&row, t),
            situation: row.situation.clone(),
            messages: message_views(messages, &state.strings, row.time_zone.as_deref()),
            form_token: FormToken::issue(
                &state.key,
                &form_scope(&row),
                state.clock.now().timestamp(),
            ),
            message_body,
            message_error,
            done: done_notice(t, done),
            crisis: row.is_urgent && !request_status.is_finished(),
            crisis_resources: &state.settings.comments.crisis_resources,
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// GET /requests/{token}
pub async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    let row = by_token(&state, &token).await?;
    status_page(
        &req,
        &state,
        &token,
        row,
        String::new(),
        None,
        query.done.as_deref(),
        StatusCode::OK,
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct ReaderForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    body: String,
}

/// Checks a status-page form: same site, and a token this page issued.
fn check_reader_form(
    req: &HttpRequest,
    state: &AppState,
    row: &RequestRow,
    form_token: &str,
) -> Result<reader_form::Checked, AppError> {
    reader_form::check(
        req,
        state,
        &reader_form::REQUEST_PAGE,
        reader_form::Fields {
            scope: &form_scope(row),
            token: form_token,
            honeypot: "",
        },
    )
}

/// POST /requests/{token}/messages
pub async fn add_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: ReaderForm = super::parse_form(&req, &body)?;
    let row = by_token(&state, &token).await?;
    let checked = check_reader_form(&req, &state, &row, &form.form_token)?;
    if status_of(&row).is_finished() {
        return Err(AppError::Forbidden(
            state.strings.s("coaching.problem.closed").to_string(),
        ));
    }
    let text = match domain::check_message(&form.body) {
        Ok(text) => text,
        Err(problem) => {
            return status_page(
                &req,
                &state,
                &token,
                row,
                form.body,
                Some(problem.text(&state.strings)),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let html = render_message(&text).into_string();
    let ip_hash = checked.ip_hash;
    let (id, name, now) = (row.id, row.name.clone(), state.clock.now_naive());
    // A message in crisis words makes the request urgent: its page shows the
    // crisis resources first, and the coach's alert says URGENT.
    let urgent = state.settings.comments.rules.assess(&text, false).urgent;
    // Like every reader form: a few messages a minute from one network, and
    // as few for one request (whoever holds its link, from any network).
    let limited = state
        .writer
        .write(&state.pool, move |conn| {
            let limits = db::rate_limits::PostLimits::default();
            let by_network = db::rate_limits::take(conn, "request-message", &ip_hash, limits, now)?;
            let by_request = db::rate_limits::take(
                conn,
                "request-message-request",
                &format!("request-{id}"),
                limits,
                now,
            )?;
            if let Some(wait) = by_network.err().into_iter().chain(by_request.err()).max() {
                return Ok(Some(wait));
            }
            db::coaching::add_message(conn, id, db::coaching::READER, &name, &text, &html, now)?;
            if urgent {
                db::coaching::mark_urgent(conn, id)?;
            }
            Ok(None)
        })
        .await;
    let limited = match limited {
        Ok(limited) => limited,
        Err(e) => {
            super::unsaved(e, "a message on a request")?;
            let page = status_page(
                &req,
                &state,
                &token,
                row,
                form.body,
                Some(super::unsaved_problem(&state)),
                None,
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await?;
            return Ok(super::unsaved_page(page));
        }
    };
    if let Some(wait) = limited {
        let wait = wait.max(1);
        let message = state.strings.n("coaching.problem.too_many_messages", &wait);
        let res = status_page(
            &req,
            &state,
            &token,
            row,
            form.body,
            Some(message),
            None,
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await?;
        return Ok(reader_form::retry_after(res, wait));
    }
    crate::notify::request_event(&state.mail(), id, crate::notify::NEW_MESSAGE_EVENT).await;
    Ok(super::see_other(&format!(
        "/requests/{}?done=message-sent#{}",
        token.as_str(),
        if urgent { "crisis-help" } else { "messages" },
    )))
}

/// POST /requests/{token}/withdraw
pub async fn withdraw(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: ReaderForm = super::parse_form(&req, &body)?;
    let row = by_token(&state, &token).await?;
    check_reader_form(&req, &state, &row, &form.form_token)?;
    let id = row.id;
    let now = state.clock.now_naive();
    let changed = db::run(&state.pool, move |conn| {
        db::coaching::set_status(conn, id, RequestStatus::Withdrawn, now)
    })
    .await?;
    if changed.is_some() {
        tracing::info!(request = id, "coaching request withdrawn by the reader");
        crate::notify::request_event(&state.mail(), id, "emails.request_alert.event.withdrawn")
            .await;
    }
    Ok(super::see_other(&format!(
        "/requests/{}?done=withdrawn",
        token.as_str(),
    )))
}

/// A page that asks before withdrawing or deleting a request.
async fn confirm_page(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
    withdraw: bool,
) -> Result<HttpResponse, AppError> {
    let row = by_token(state, token).await?;
    let title = state.strings.s(if withdraw {
        "coaching.withdraw.title"
    } else {
        "coaching.delete.title"
    });
    let mut layout = state.layout(Some(title), "", "/requests", Nav::None);
    layout.noindex = true;
    render_html(
        req,
        &ConfirmRequestPage {
            layout,
            token: token.to_string(),
            form_token: FormToken::issue(
                &state.key,
                &form_scope(&row),
                state.clock.now().timestamp(),
            ),
            withdraw,
        },
        Caching::NoStore,
    )
}

/// GET /requests/{token}/withdraw: asks first.
pub async fn withdraw_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    confirm_page(&req, &state, &token, true).await
}

/// GET /requests/{token}/delete: asks first.
pub async fn delete_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    confirm_page(&req, &state, &token, false).await
}

/// POST /requests/{token}/delete: erases the request and its messages.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: ReaderForm = super::parse_form(&req, &body)?;
    let row = by_token(&state, &token).await?;
    check_reader_form(&req, &state, &row, &form.form_token)?;
    crate::notify::request_event(&state.mail(), row.id, "emails.request_alert.event.deleted").await;
    let (id, now) = (row.id, state.clock.now_naive());
    db::run(&state.pool, move |conn| db::coaching::delete(conn, id, now)).await?;
    tracing::info!(request = id, "coaching request deleted by the reader");
    let t = &state.strings;
    let mut layout = state.layout(
        Some(t.s("coaching.deleted.title")),
        "",
        "/requests",
        Nav::None,
    );
    layout.noindex = true;
    render_html(
        &req,
        &NotificationsPage {
            layout,
            heading: t.s("coaching.deleted.heading"),
            message: t.s("coaching.deleted.message"),
            unsubscribe_action: None,
        },
        Caching::NoStore,
    )
}

/// Removes the personal details of requests closed or withdrawn longer
/// than the retention period ago; returns how many.
pub async fn purge_expired(state: &AppState) -> Result<usize, AppError> {
    let days = state.settings.coaching.retention_days;
    let now = state.clock.now_naive();
    let before = now - chrono::Duration::days(days);
    let n = db::run(&state.pool, move |conn| {
        db::coaching::purge_finished(conn, before, now)
    })
    .await?;
    if n > 0 {
        tracing::info!(
            requests = n,
            days,
            "removed personal details of finished coaching requests"
        );
    }
    Ok(n)
}

/// The latest date it is anywhere on earth (UTC+14): a reader east of UTC
/// may name their today before it is today in UTC.
fn latest_today(now: chrono::DateTime<Utc>) -> chrono::NaiveDate {
    (now + chrono::Duration::hours(14)).date_naive()
}
