//! Turns every error status into a friendly page: a 404 that helps (search
//! box, latest articles), a 5xx with no internals (the cause is logged).
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;

use super::AppState;
use crate::error::AppError;
use crate::pages::{ArticleLink, ErrorPage, Nav};

fn words_for(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("That request did not make sense to us", "Something in the address or the form was not quite right."),
        403 => ("That is not allowed", "You do not have permission to do that."),
        404 => ("We could not find that page", "The page may have moved, or the address may have a typo. Searching might help, or start with one of the latest articles."),
        405 => ("That is not allowed here", "This address does not accept that kind of request."),
        413 => ("That was too much to send", "Please send something shorter."),
        422 => ("Please check what you sent", "Something in the form needs another look."),
        429 => ("Slow down a little", "You have sent a lot of requests. Please wait a moment and try again."),
        503 => ("We are briefly unavailable", "The site is having a moment. Please try again in a minute; nothing you did caused this."),
        s if s >= 500 => ("Something went wrong on our side", "It is not your fault. The problem has been logged, and trying again in a moment often helps."),
        _ => ("Something was not right", "Please go back and try again."),
    }
}

/// Renders the error page for `status` (used by the middleware, and
/// testable on its own).
pub fn render_error_page(
    state: &AppState,
    status: StatusCode,
    detail: Option<&str>,
) -> Result<String, askama::Error> {
    let (heading, message) = words_for(status);
    let library = state.content.library();
    let not_found = status == StatusCode::NOT_FOUND;
    let latest: Vec<ArticleLink> = if not_found {
        library
            .published(Utc::now())
            .take(5)
            .map(|a| ArticleLink::new(a))
            .collect()
    } else {
        Vec::new()
    };
    let mut layout = state.layout(Some(heading), message, "/", Nav::None);
    layout.noindex = true;
    let show_search = not_found || status.is_client_error();
    // One search box on the page: the one in it.
    layout.header_search = !show_search;
    ErrorPage {
        layout,
        status: status.as_u16(),
        heading,
        message: detail.unwrap_or(message).to_string(),
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
            "<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>"
                .to_string()
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
