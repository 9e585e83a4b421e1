//! `/static/...`: fingerprinted files, cached for a year.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{accepts_gzip, if_none_match, AppState};
use crate::error::AppError;

pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let asset = state.assets.get(req.path()).ok_or(AppError::NotFound)?;
    let cache = "public, max-age=31536000, immutable";
    let gzipped = asset.gzipped.as_ref().filter(|_| accepts_gzip(&req));
    let etag = match gzipped {
        Some(_) => &asset.gzip_etag,
        None => &asset.etag,
    };
    if if_none_match(&req, etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag.clone()))
            .insert_header((header::CACHE_CONTROL, cache))
            .insert_header((header::VARY, "Accept-Encoding"))
            .finish());
    }
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::VARY, "Accept-Encoding"));
    Ok(match gzipped {
        Some(gz) => res
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gz.clone()),
        None => res.body(asset.bytes),
    })
}
