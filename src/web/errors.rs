//! Turns every error status into a friendly page: a 404 that helps (search
//! box, latest articles), a 5xx with no internals (the cause is logged).
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::AppState;
use crate::error::AppError;
use crate::html;
use crate::views::{ArticleLink, ErrorPage, Nav};

/// The strings (`errors.{name}.heading` and `.text`) for `status`.
fn words_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        422 => "unprocessable",
        429 => "too_many_requests",
        503 => "unavailable",
        s if s >= 500 => "server",
        _ => "other",
    }
}

/// Renders the error page for `status` (used by the middleware, and
/// testable on its own).
pub fn render_error_page(
    state: &AppState,
    status: StatusCode,
    detail: Option<&str>,
) -> Result<String, askama::Error> {
    let t = &state.strings;
    let name = words_for(status);
    let heading = t.s(&format!("errors.{name}.heading")).to_string();
    let message = t.s(&format!("errors.{name}.text")).to_string();
    let library = state.content.library();
    let not_found = status == StatusCode::NOT_FOUND;
    let latest: Vec<ArticleLink> = if not_found {
        library
            .published(state.clock.now())
            .take(5)
            .map(|a| ArticleLink::new(a))
            .collect()
    } else {
        Vec::new()
    };
    let mut layout = state.layout(Some(&heading), &message, "/", Nav::None);
    layout.noindex = true;
    let show_search = not_found || status.is_client_error();
    // One search box on the page: the one in it.
    layout.header_search = !show_search;
    ErrorPage {
        layout,
        status: status.as_u16(),
        heading,
        message: detail.map_or(message, str::to_string),
        latest: latest
            .iter()
            .map(|l| ArticleLink {
                url: l.url.clone(),
                title: l.title,
            })
            .collect(),
        show_search,
    }
    .render()
}

pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let status = res.status();
    let Some(error) = res.response().error() else {
        return Ok(res.map_into_boxed_body().map_into_left_body());
    };
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_boxed_body().map_into_left_body());
    }
    let app_error = error.as_error::<AppError>();
    if status.is_server_error() {
        match app_error {
            Some(AppError::Internal(cause)) | Some(AppError::Unavailable(cause)) => {
                tracing::error!(status = status.as_u16(), error = %format!("{cause:#}"), "request failed");
            }
            _ => tracing::error!(status = status.as_u16(), error = %error, "request failed"),
        }
    }
    let detail = app_error
        .and_then(|e| e.public_message())
        .map(str::to_string);
    let Some(state) = state else {
        return Ok(res.map_into_boxed_body().map_into_left_body());
    };
    let body = match render_error_page(&state, status, detail.as_deref()) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "cannot render the error page");
            let t = &state.strings;
            format!(
                "<!doctype html><html lang=\"{}\"><title>{}</title><p>{}</p>",
                html::escape(t.tag()),
                html::escape(t.s("errors.fallback_title")),
                html::escape(t.s("errors.fallback"))
            )
        }
    };
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    let new = new
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body);
    Ok(ServiceResponse::new(req, new).map_into_right_body())
}
