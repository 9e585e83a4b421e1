//! Probes for load balancers: `/healthz` (the process answers) and
//! `/readyz` (content loaded, the database answers reads, and a write can
//! commit: not read-only, not full, not locked past the timeout, and the
//! database file still the one opened at start).
use std::time::Duration;

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
    let database = db::run(&state.pool, db::site_meta::ping).await;
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness check: database unreachable");
    }
    // Reads failing says enough; otherwise try a write (cached a second).
    let writes = match &database {
        Ok(()) => {
            let timeout = Duration::from_millis(state.settings.db_connect_timeout_ms.max(100));
            let result = state.writer.can_write(&state.pool, timeout).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "readiness check: writes cannot succeed");
            }
            Some(result)
        }
        Err(_) => None,
    };
    let ready = matches!(writes, Some(Ok(())));
    let mut res = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "content: ok ({articles} articles)\ndatabase: {}\nwrites: {}\n",
            if database.is_ok() {
                "ok"
            } else {
                "unreachable"
            },
            match &writes {
                Some(Ok(())) => "ok",
                Some(Err(_)) => "failing",
                None => "unknown",
            }
        ))
}
