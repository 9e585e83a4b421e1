//! Reply notifications: confirming an address (double opt-in) and the
//! one-click unsubscribe.
use actix_web::{web, HttpRequest, HttpResponse};

use super::{render_html, AppState, Caching};
use crate::db;
use crate::error::AppError;
use crate::notify::verify_signed_id;
use crate::views::{Nav, NotificationsPage};

/// The page saying `{key}` (its heading) and `{key}_text`.
fn page(
    req: &HttpRequest,
    state: &AppState,
    key: &str,
    unsubscribe_action: Option<String>,
) -> Result<HttpResponse, AppError> {
    let heading = state.strings.s(key);
    let message = state.strings.s(&format!("{key}_text")).to_string();
    let mut layout = state.layout(Some(heading), "", "/", Nav::None);
    layout.noindex = true;
    render_html(
        req,
        &NotificationsPage {
            layout,
            heading,
            message: &message,
            unsubscribe_action,
        },
        Caching::NoStore,
    )
}

fn bad_link(state: &AppState) -> AppError {
    AppError::BadRequest(state.strings.s("notifications.bad_link").to_string())
}

/// GET /notifications/confirm/{token}
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = verify_signed_id(&state.key, "confirm", &token).ok_or_else(|| bad_link(&state))?;
    let now = state.clock.now_naive();
    db::run(&state.pool, move |conn| db::mail::confirm(conn, id, now)).await?;
    page(&req, &state, "notifications.confirmed", None)
}

/// GET /notifications/unsubscribe/{token}: asks first, so link scanners
/// that open every link do not unsubscribe anyone.
pub async fn unsubscribe_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    verify_signed_id(&state.key, "unsubscribe", &token).ok_or_else(|| bad_link(&state))?;
    page(
        &req,
        &state,
        "notifications.stop",
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
    let id = verify_signed_id(&state.key, "unsubscribe", &token).ok_or_else(|| bad_link(&state))?;
    let now = state.clock.now_naive();
    db::run(&state.pool, move |conn| {
        db::mail::unsubscribe(conn, id, now)
    })
    .await?;
    page(&req, &state, "notifications.stopped", None)
}
