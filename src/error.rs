//! One error type for handlers. It maps to a status; the error-page
//! middleware (`web::errors`) turns every error status into a friendly
//! page. 5xx causes are logged there, never shown.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// The reader's request was malformed; the message is shown to them.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Not allowed for this reader; the message is shown to them.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A dependency (the database) is down or overloaded.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// The coach must sign in first; holds the path to return to.
    #[error("sign-in required")]
    SignInRequired(String),
}

impl AppError {
    /// What the reader may be told, beyond the status's own words.
    pub fn public_message(&self) -> Option<&str> {
        match self {
            Self::BadRequest(message) | Self::Forbidden(message) => Some(message),
            _ => None,
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            DbError::Unavailable(_) | DbError::Canceled | DbError::Lost(_) | DbError::Busy(_) => {
                Self::Unavailable(e.into())
            }
            // Locked, full, read-only, timed out or disconnected: the next
            // try (on a fresh connection) may succeed, so "try again soon",
            // not "broken".
            DbError::Query(ref q) if crate::db::is_transient(q) => Self::Unavailable(e.into()),
            DbError::Query(_) | DbError::Migration(_) | DbError::Commit(_) => {
                Self::Internal(e.into())
            }
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::SignInRequired(_) => StatusCode::SEE_OTHER,
        }
    }

    /// A bare status; `web::errors::error_pages` renders the page.
    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        match self {
            Self::Unavailable(_) => {
                res.insert_header(("Retry-After", "5"));
            }
            Self::SignInRequired(next) => {
                let query =
                    serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
                res.insert_header(("Location", format!("/admin/login?{query}")))
                    .insert_header(("Cache-Control", "no-store"));
            }
            _ => {}
        }
        res.finish()
    }
}
