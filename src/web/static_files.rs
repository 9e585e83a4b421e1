//! `/static/...`: fingerprinted files, cached for a year, in the best
//! encoding the browser takes (compressed once at start).
use actix_web::{web, HttpRequest, HttpResponse};

use super::AppState;
use crate::error::AppError;

pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let asset = state.assets.get(req.path()).ok_or(AppError::NotFound)?;
    Ok(asset.respond(&req))
}
