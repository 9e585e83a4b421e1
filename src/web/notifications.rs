//! Reply notifications: confirming an address (double opt-in) and the
//! one-click unsubscribe.
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::{render_html, AppState, Caching};
use crate::db;
use crate::error::AppError;
use crate::notify::verify_signed_id;
use crate::pages::{Nav, NotificationsPage};

fn page(
    req: &HttpRequest,
    state: &AppState,
    heading: &'static str,
    message: &'static str,
    unsubscribe_action: Option<String>,
) -> Result<HttpResponse, AppError> {
    let mut layout = state.layout(Some(heading), "", "/", Nav::None);
    layout.noindex = true;
    render_html(
        req,
        &NotificationsPage {
            layout,
            heading,
            message,
            unsubscribe_action,
        },
        Caching::NoStore,
    )
}

fn bad_link() -> AppError {
    AppError::BadRequest("This link is not valid. Please use the whole link from the email.".into())
}

/// GET /notifications/confirm/{token}
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = verify_signed_id(&state.key, "confirm", &token).ok_or_else(bad_link)?;
    let now = Utc::now().naive_utc();
    db::run(&state.pool, move |conn| db::mail::confirm(conn, id, now)).await?;
    page(
        &req,
        &state,
        "Your address is confirmed",
        "You will get an email when someone replies to a comment where you asked for it. Every email has a link to stop them.",
        None,
    )
}

/// GET /notifications/unsubscribe/{token}: asks first, so link scanners
/// that open every link do not unsubscribe anyone.
pub async fn unsubscribe_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    verify_signed_id(&state.key, "unsubscribe", &token).ok_or_else(bad_link)?;
    page(
        &req,
        &state,
        "Stop reply emails?",
        "You will get no more emails about replies to your comments. Your comments stay as they are.",
        Some(format!("/notifications/unsubscribe/{token}")),
    )
}

/// POST /notifications/unsubscribe/{token}: also the RFC 8058 one-click
/// target that mail programs post to.
pub async fn unsubscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = verify_signed_id(&state.key, "unsubscribe", &token).ok_or_else(bad_link)?;
    let now = Utc::now().naive_utc();
    db::run(&state.pool, move |conn| {
        db::mail::unsubscribe(conn, id, now)
    })
    .await?;
    page(
        &req,
        &state,
        "You will get no more reply emails",
        "Done. If you ask for replies on a new comment, we will ask you to confirm your address again.",
        None,
    )
}
