//! The coach's session: actix-session with its state kept in our own
//! database (so signing out really ends it, and every app instance shares
//! it), plus the typed view handlers use and the CSRF checks.
use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_session::{Session, SessionExt};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use chrono::Duration;

use crate::clock::Clock;
use crate::db::{self, Pool};
use crate::error::AppError;
use crate::keys;
use crate::web::AppState;

/// Session keys.
const ADMIN_ID: &str = "admin_id";
const CSRF: &str = "csrf";

/// Stores sessions in the `admin_sessions` table. The cookie carries a
/// random key; only its hash is stored.
#[derive(Clone)]
pub struct DbSessionStore {
    pub pool: Pool,
    pub clock: Clock,
    /// A session unused this long is over.
    pub idle: Duration,
    /// A session this old is over, used or not.
    pub max_age: Duration,
}

fn admin_id_of(state: &HashMap<String, String>) -> Option<i64> {
    state
        .get(ADMIN_ID)
        .and_then(|v| serde_json::from_str::<i64>(v).ok())
}

impl DbSessionStore {
    async fn insert(&self, state: HashMap<String, String>) -> anyhow::Result<SessionKey> {
        let key = keys::random_hex(32)?;
        let hash = keys::token_hash(&key);
        let json = serde_json::to_string(&state)?;
        let now = self.clock.now_naive();
        let expires = now + self.idle;
        db::run(&self.pool, move |conn| {
            db::admins::insert_session(conn, &hash, admin_id_of(&state), &json, now, expires)
        })
        .await?;
        SessionKey::try_from(key).map_err(anyhow::Error::from)
    }
}

impl SessionStore for DbSessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        let hash = keys::token_hash(session_key.as_ref());
        let now = self.clock.now_naive();
        let max_age = self.max_age;
        let row = db::run(&self.pool, move |conn| {
            db::admins::load_session(conn, &hash, max_age, now)
        })
        .await
        .map_err(|e| LoadError::Other(e.into()))?;
        match row {
            None => Ok(None),
            Some(row) => serde_json::from_str(&row.state)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        self.insert(session_state).await.map_err(SaveError::Other)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let hash = keys::token_hash(session_key.as_ref());
        let json = serde_json::to_string(&session_state)
            .map_err(|e| UpdateError::Serialization(e.into()))?;
        let expires = self.clock.now_naive() + self.idle;
        let admin_id = admin_id_of(&session_state);
        let found = db::run(&self.pool, move |conn| {
            db::admins::update_session(conn, &hash, admin_id, &json, expires)
        })
        .await
        .map_err(|e| UpdateError::Other(e.into()))?;
        if found {
            Ok(session_key)
        } else {
            self.insert(session_state).await.map_err(UpdateError::Other)
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        _ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        let hash = keys::token_hash(session_key.as_ref());
        let expires = self.clock.now_naive() + self.idle;
        db::run(&self.pool, move |conn| {
            db::admins::touch_session(conn, &hash, expires)
        })
        .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let hash = keys::token_hash(session_key.as_ref());
        db::run(&self.pool, move |conn| {
            db::admins::delete_session(conn, &hash)
        })
        .await?;
        Ok(())
    }
}

/// The session cookie's names: `__Host-` prefixed whenever it is Secure.
pub const COOKIE: &str = "kintsugi_admin";
pub const SECURE_COOKIE: &str = "__Host-kintsugi_admin";

pub fn cookie_name(https: bool) -> String {
    if https { SECURE_COOKIE } else { COOKIE }.to_string()
}

/// The signed-in coach, as handlers see them.
#[derive(Debug, Clone)]
pub struct Coach {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// The token every state-changing form carries.
    pub csrf: String,
}

/// The coach signed in on this request, if any (the account must still
/// exist).
pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<Coach>, AppError> {
    let session = req.get_session();
    let Ok(Some(id)) = session.get::<i64>(ADMIN_ID) else {
        return Ok(None);
    };
    let Ok(Some(csrf)) = session.get::<String>(CSRF) else {
        return Ok(None);
    };
    let Some(admin) = db::run(&state.pool, move |conn| db::admins::find(conn, id)).await? else {
        session.purge();
        return Ok(None);
    };
    Ok(Some(Coach {
        id: admin.id,
        name: admin.display_name,
        email: admin.email,
        csrf,
    }))
}

/// The signed-in coach, or a redirect to the sign-in page that comes back
/// here afterwards. Under `/admin` the [`guard`] has already found them:
/// its answer is reused, not read again.
pub async fn require(req: &HttpRequest, state: &AppState) -> Result<Coach, AppError> {
    let found = req.extensions().get::<Coach>().cloned();
    if let Some(coach) = found {
        return Ok(coach);
    }
    match current(req, state).await? {
        Some(coach) => Ok(coach),
        None => {
            let next = match req.uri().path_and_query() {
                Some(pq) if req.method() == actix_web::http::Method::GET => pq.as_str().to_string(),
                _ => "/admin".to_string(),
            };
            Err(AppError::SignInRequired(next))
        }
    }
}

/// The only pages under `/admin` a signed-out visitor may reach: signing
/// in and the first-run setup. Signing out needs a session like the rest
/// (its handler answers a stranger with the sign-in page too).
pub const PUBLIC: &[&str] = &["/admin/login", "/admin/setup"];

/// The `/admin` scope's guard (`startup`): every request under it, but
/// for [`PUBLIC`], needs a signed-in coach, or is answered with the
/// sign-in redirect before any handler runs, so a route added to the
/// scope is protected even if its handler forgot to ask. Handlers still
/// take the coach with [`require`] or [`verified_form`] (which finds them
/// here, and checks CSRF on forms).
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if PUBLIC.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let Some(state) = req.app_data::<actix_web::web::Data<AppState>>().cloned() else {
        let missing = AppError::internal(anyhow::anyhow!("the app state is missing"));
        return Ok(req.error_response(missing).map_into_right_body());
    };
    match require(req.request(), &state).await {
        Ok(coach) => {
            req.extensions_mut().insert(coach);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refused) => Ok(req.error_response(refused).map_into_right_body()),
    }
}

/// Starts a fresh session for `admin_id`: a new key (the old one, if any,
/// is deleted, so a key planted before sign-in is worthless after it).
pub fn start(session: &Session, admin_id: i64) -> Result<(), AppError> {
    session.renew();
    session.clear();
    session
        .insert(ADMIN_ID, admin_id)
        .map_err(|e| AppError::internal(anyhow::anyhow!("session: {e}")))?;
    session
        .insert(CSRF, keys::random_hex(32).map_err(AppError::internal)?)
        .map_err(|e| AppError::internal(anyhow::anyhow!("session: {e}")))?;
    Ok(())
}

/// Refuses a state-changing request without the session's token, or sent
/// from another site.
pub fn check_csrf(
    req: &HttpRequest,
    state: &AppState,
    coach: &Coach,
    token: &str,
) -> Result<(), AppError> {
    let forbidden = || {
        tracing::warn!(
            admin = coach.id,
            "refused an admin request: bad CSRF token or cross-site origin"
        );
        AppError::Forbidden(state.strings.s("admin.session.unverified").into())
    };
    if !crate::web::same_origin(req, state) {
        return Err(forbidden());
    }
    let a = keys::token_hash(token);
    let b = keys::token_hash(&coach.csrf);
    // Comparing hashes keeps the comparison's time independent of the token.
    if token.is_empty() || a != b {
        return Err(forbidden());
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// The signed-in coach and their form `T`, once the form's CSRF token and
/// origin are checked: the start of every state-changing admin handler.
pub async fn verified_form<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
) -> Result<(Coach, T), AppError> {
    let coach = require(req, state).await?;
    let form: T = crate::web::parse_form(req, body)?;
    let CsrfField { csrf } = crate::web::parse_form(req, body)?;
    check_csrf(req, state, &coach, &csrf)?;
    Ok((coach, form))
}
