//! Probes for load balancers: `/healthz` (the process answers) and
//! `/readyz` (content loaded and the database reachable).
use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::AppState;
use crate::db;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let articles = state.content.library().len();
    let database = db::run(&state.pool, db::ping).await;
    let mut res = match &database {
        Ok(()) => HttpResponse::Ok(),
        Err(_) => HttpResponse::ServiceUnavailable(),
    };
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness check: database unreachable");
    }
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "content: ok ({articles} articles)\ndatabase: {}\n",
            if database.is_ok() {
                "ok"
            } else {
                "unreachable"
            }
        ))
}
