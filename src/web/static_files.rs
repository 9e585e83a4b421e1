//! `/static/...`: fingerprinted files, cached for a year.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{if_none_match, AppState};
use crate::error::AppError;

pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let asset = state.assets.get(req.path()).ok_or(AppError::NotFound)?;
    let cache = "public, max-age=31536000, immutable";
    if if_none_match(&req, &asset.etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, asset.etag.clone()))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::ETAG, asset.etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(asset.bytes))
}
