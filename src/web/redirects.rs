//! Old addresses keep working: a GET or HEAD the site would answer with a
//! 404 (no route, or a handler's "no such article/page/tag") is looked up
//! in the redirect map (`content::redirects`) and answered with a `301`
//! instead. `/` with a query (`/?p=101`) is looked up before the home page,
//! which would otherwise show itself.
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::AppState;
use crate::content::redirects::Redirect;

/// How long browsers and proxies may remember a redirect: a day, so a
/// coach's fix of `content/redirects.toml` takes effect soon.
const CACHE_CONTROL: &str = "public, max-age=86400";

pub async fn old_addresses(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let passthrough = |res: ServiceResponse<_>| res.map_into_boxed_body().map_into_left_body();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    let (Some(state), true) = (state, readable) else {
        return next.call(req).await.map(passthrough);
    };
    let lookup = |path: &str, query: &str| state.content.library().redirects().lookup(path, query);
    if req.path() == "/" && !req.query_string().is_empty() {
        if let Some(redirect) = lookup(req.path(), req.query_string()) {
            return Ok(req.into_response(moved(&redirect)).map_into_right_body());
        }
    }
    let res = next.call(req).await?;
    if res.status() != StatusCode::NOT_FOUND {
        return Ok(passthrough(res));
    }
    let found = lookup(res.request().path(), res.request().query_string());
    match found {
        Some(redirect) => Ok(res.into_response(moved(&redirect)).map_into_right_body()),
        None => Ok(passthrough(res)),
    }
}

fn moved(redirect: &Redirect) -> HttpResponse {
    tracing::debug!(
        location = redirect.location(),
        explicit = redirect.is_explicit(),
        "old address"
    );
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, redirect.location()))
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .finish()
}
