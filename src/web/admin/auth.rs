//! Signing in and out, and the first-run setup link.
use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;

use super::session::{self, Coach};
use super::{admin_layout, device, see_other, Say};
use crate::db;
use crate::domain::admin::{DisplayName, NewPassword};
use crate::domain::comment::Email;
use crate::error::AppError;
use crate::i18n::Strings;
use crate::keys::{self, FormToken, TokenCheck};
use crate::passwords::{self, Verified};
use crate::views::admin::{AccountErrors, SetupPage, SignInPage};
use crate::web::request::client_ip;
use crate::web::{render_html, AppState, Caching};
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};

/// How long a setup link works.
pub const SETUP_LINK_VALID_MINUTES: i64 = 60;
const SIGN_IN_SCOPE: &str = "sign-in";

/// A local path to return to after signing in; anything else goes to the
/// dashboard (no open redirects).
fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with("/admin/login")
        && !next.starts_with("/admin/logout");
    if ok {
        next.to_string()
    } else {
        "/admin".to_string()
    }
}

#[derive(serde::Deserialize, Default)]
pub struct SignInQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    signed_out: Option<String>,
}

fn sign_in_page(
    req: &HttpRequest,
    state: &AppState,
    next: &str,
    email: &str,
    problem: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut res = render_html(
        req,
        &SignInPage {
            layout: admin_layout(
                state,
                state.strings.s("admin.sign_in.title"),
                "/admin/login",
            ),
            token: FormToken::issue(&state.key, SIGN_IN_SCOPE, state.clock.now().timestamp()),
            next: safe_next(next),
            email: email.to_string(),
            problem,
            notice,
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// GET /admin/login
pub async fn sign_in_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, AppError> {
    if session::current(&req, &state).await?.is_some() {
        return Ok(see_other(&safe_next(&query.next)));
    }
    let notice = query
        .signed_out
        .as_ref()
        .map(|_| state.strings.s("admin.sign_in.signed_out").to_string());
    sign_in_page(&req, &state, &query.next, "", None, notice, StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    token: String,
}

/// A wait: "40 seconds", "12 minutes".
fn minutes_text(seconds: i64, t: &Strings) -> String {
    if seconds < 90 {
        t.n("admin.sign_in.seconds", &seconds.max(1))
    } else {
        t.n("admin.sign_in.minutes", &((seconds + 59) / 60))
    }
}

/// POST /admin/login
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: SignInForm = crate::web::parse_form(&req, &body)?;
    if !crate::web::same_origin(&req, &state) {
        tracing::warn!("refused a cross-site sign-in");
        return Err(AppError::Forbidden(
            state.strings.s("admin.sign_in.cross_site").into(),
        ));
    }
    let now = state.clock.now();
    match FormToken::check(&state.key, SIGN_IN_SCOPE, &form.token, now.timestamp()) {
        TokenCheck::Valid { age_seconds } if age_seconds <= 24 * 3600 => {}
        _ => {
            return sign_in_page(
                &req,
                &state,
                &form.next,
                &form.email,
                Some(state.strings.s("admin.sign_in.expired").into()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
    let ip = client_ip(&req, &state.settings.comments.trusted_proxies)
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let ip_key = state.key.ip_hash(&ip);
    let email = form.email.trim().to_lowercase();
    let account_key = state.key.sign("sign-in-account", &email)[..32].to_string();
    let now_naive = state.clock.now_naive();
    let limits = db::admins::SignInLimits::default();
    let https = state.settings.base_url.is_https();
    // A browser that signed in to this account before (OWASP's device
    // cookie) is not slowed by the account's failures, only by its own.
    let device_key = req
        .cookie(device::cookie_name(https))
        .and_then(|c| device::trusted_for(&state.key, c.value(), &account_key, now.timestamp()));
    let (ip_wait, account_wait, device_trusted, address_clean) = {
        let (ip_key, account_key, device_key) =
            (ip_key.clone(), account_key.clone(), device_key.clone());
        db::run(&state.pool, move |conn| {
            let (ip_wait, account_wait) =
                db::admins::sign_in_wait(conn, &ip_key, &account_key, limits, now_naive)?;
            let device_trusted = match &device_key {
                Some(key) => !db::admins::device_locked(conn, key, limits, now_naive)?,
                None => false,
            };
            let address_clean = account_wait > 0
                && db::admins::address_failures_since(
                    conn,
                    &ip_key,
                    now_naive - limits.clean_address_window,
                )? == 0;
            Ok((ip_wait, account_wait, device_trusted, address_clean))
        })
        .await?
    };
    let device_key = device_key.filter(|_| device_trusted);
    // While the account waits, a trusted browser or an address without
    // failures may still try: the right password gets the owner in.
    let raw_account_wait = account_wait;
    let account_wait = if device_trusted || address_clean {
        0
    } else {
        account_wait
    };
    let throttled = |wait: i64, by_address: bool| -> Result<HttpResponse, AppError> {
        let key = if by_address {
            "admin.sign_in.too_many_from_network"
        } else {
            "admin.sign_in.too_many_for_account"
        };
        let t = &state.strings;
        let message = t.f(key, "wait", &minutes_text(wait, t));
        tracing::warn!(
            wait_seconds = wait,
            by_address,
            "sign-in refused: too many failures"
        );
        let mut res = sign_in_page(
            &req,
            &state,
            &form.next,
            &form.email,
            Some(message),
            None,
            StatusCode::TOO_MANY_REQUESTS,
        )?;
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
        Ok(res)
    };
    if ip_wait > 0 {
        return throttled(ip_wait, true);
    }
    if account_wait > 0 {
        return throttled(account_wait, false);
    }
    // The wait a wrong password from a clean address still gets while the
    // account is throttled (so the throttle keeps slowing guesses).
    let wait_after_failure = if address_clean && !device_trusted {
        raw_account_wait
    } else {
        0
    };
    // Look up and verify on the blocking pool; an unknown email costs the
    // same hashing time as a wrong password.
    let password = form.password.clone();
    let failure_keys = (ip_key.clone(), account_key.clone());
    let account_key_for_cookie = account_key.clone();
    let outcome = db::run(&state.pool, move |conn| {
        let admin = db::admins::find_by_email(conn, &email)?;
        let Some(admin) = admin else {
            passwords::verify_dummy(&password);
            return Ok(None);
        };
        match passwords::verify(&password, &admin.password_hash) {
            Verified::No => Ok(None),
            Verified::Yes => {
                db::admins::signed_in(conn, admin.id, &account_key, None, now_naive)?;
                Ok(Some((admin.id, false)))
            }
            Verified::YesRehash => {
                let new_hash = passwords::hash(&password).ok();
                db::admins::signed_in(
                    conn,
                    admin.id,
                    &account_key,
                    new_hash.as_deref(),
                    now_naive,
                )?;
                Ok(Some((admin.id, new_hash.is_some())))
            }
        }
    })
    .await?;
    match outcome {
        Some((admin_id, rehashed)) => {
            session::start(&session, admin_id)?;
            tracing::info!(admin = admin_id, rehashed, "coach signed in");
            let mut res = see_other(&safe_next(&form.next));
            let nonce = keys::random_hex(16).map_err(|e| AppError::Internal(e.into()))?;
            let cookie = Cookie::build(
                device::cookie_name(https),
                device::value(&state.key, &account_key_for_cookie, &nonce, now.timestamp()),
            )
            .path("/")
            .http_only(true)
            .secure(https)
            .same_site(SameSite::Strict)
            .max_age(CookieDuration::seconds(device::VALID_SECONDS))
            .finish();
            res.add_cookie(&cookie)
                .map_err(|e| AppError::Internal(e.into()))?;
            Ok(res)
        }
        None => {
            let (ip_key, account_key) = failure_keys;
            let address = ip_key[..8].to_string();
            let device_key = device_key.clone();
            db::run(&state.pool, move |conn| {
                let against = match &device_key {
                    Some(key) => db::admins::FailureAgainst::Device(key),
                    None => db::admins::FailureAgainst::Account(&account_key),
                };
                db::admins::sign_in_failed(conn, &ip_key, against, now_naive)
            })
            .await?;
            tracing::warn!(%address, "sign-in failed");
            if wait_after_failure > 0 {
                return throttled(wait_after_failure, false);
            }
            sign_in_page(
                &req,
                &state,
                &form.next,
                &form.email,
                Some(state.strings.s("admin.sign_in.no_match").into()),
                None,
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}

/// POST /admin/logout
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (coach, _): (Coach, Vec<(String, String)>) =
        session::verified_form(&req, &state, &body).await?;
    session.purge();
    tracing::info!(admin = coach.id, "coach signed out");
    Ok(see_other("/admin/login?signed_out=1"))
}

/// Issues the first-run setup link when no account exists yet; returns
/// the link (also written to the log).
pub async fn issue_setup_link(state: &AppState) -> Result<Option<String>, db::DbError> {
    let token = match keys::random_hex(32) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot make a setup link");
            return Ok(None);
        }
    };
    let hash = keys::token_hash(&token);
    let now = state.clock.now_naive();
    let created = db::run(&state.pool, move |conn| {
        db::transaction(conn, |conn| {
            if db::admins::count(conn)? > 0 {
                return Ok(false);
            }
            db::admins::create_setup_token(
                conn,
                &hash,
                now,
                Duration::minutes(SETUP_LINK_VALID_MINUTES),
            )?;
            Ok(true)
        })
    })
    .await?;
    if !created {
        return Ok(None);
    }
    let link = state
        .settings
        .base_url
        .join(&format!("/admin/setup?token={token}"));
    tracing::warn!(
        link = %link,
        "no coach account yet: open this link within an hour to create it (it works once)"
    );
    Ok(Some(link))
}

#[derive(serde::Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

fn setup_page(
    req: &HttpRequest,
    state: &AppState,
    page: SetupPageInput,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut res = render_html(
        req,
        &SetupPage {
            layout: admin_layout(state, state.strings.s("admin.setup.title"), "/admin/setup"),
            invalid: page.invalid,
            token: page.token,
            email: page.email,
            name: page.name,
            errors: page.errors,
        },
        Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

#[derive(Default)]
struct SetupPageInput {
    invalid: bool,
    token: String,
    email: String,
    name: String,
    errors: AccountErrors,
}

/// GET /admin/setup?token=...
pub async fn setup_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, AppError> {
    let hash = keys::token_hash(&query.token);
    let now = state.clock.now_naive();
    let valid = db::run(&state.pool, move |conn| {
        db::admins::setup_token_valid(conn, &hash, now)
    })
    .await?;
    if !valid {
        return setup_page(
            &req,
            &state,
            SetupPageInput {
                invalid: true,
                ..Default::default()
            },
            StatusCode::GONE,
        );
    }
    setup_page(
        &req,
        &state,
        SetupPageInput {
            token: query.token.clone(),
            ..Default::default()
        },
        StatusCode::OK,
    )
}

#[derive(serde::Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// Checks the account form's fields; the messages are in `t`'s language.
pub fn parse_account(
    email: &str,
    name: &str,
    password: &str,
    password_again: &str,
    t: &Strings,
) -> Result<(Email, DisplayName, NewPassword), AccountErrors> {
    let mut errors = AccountErrors::default();
    let email = Email::parse(email)
        .map_err(|e| errors.email = Some(e.say(t)))
        .ok();
    let name = DisplayName::parse(name)
        .map_err(|e| errors.name = Some(e.say(t)))
        .ok();
    let password = NewPassword::parse(password, email.as_ref().map(|e| e.as_str()).unwrap_or(""))
        .map_err(|e| errors.password = Some(e.say(t)))
        .ok();
    if password.is_some() && password_again != password.as_ref().map(|p| p.expose()).unwrap_or("") {
        errors.password = Some(t.s("admin.account.passwords_differ").into());
    }
    match (email, name, password, errors.any()) {
        (Some(e), Some(n), Some(p), false) => Ok((e, n, p)),
        _ => Err(errors),
    }
}

/// POST /admin/setup
pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: SetupForm = crate::web::parse_form(&req, &body)?;
    if !crate::web::same_origin(&req, &state) {
        return Err(AppError::Forbidden(
            state.strings.s("admin.setup.cross_site").into(),
        ));
    }
    let (email, name, password) = match parse_account(
        &form.email,
        &form.name,
        &form.password,
        &form.password_again,
        &state.strings,
    ) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return setup_page(
                &req,
                &state,
                SetupPageInput {
                    token: form.token,
                    email: form.email,
                    name: form.name,
                    errors,
                    invalid: false,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let hash = keys::token_hash(&form.token);
    let now = state.clock.now_naive();
    let created = db::run(&state.pool, move |conn| {
        let password_hash = passwords::hash(password.expose()).map_err(db::other_error)?;
        let id = db::admins::create_first_admin(
            conn,
            &hash,
            email.as_str(),
            name.as_str(),
            &password_hash,
            now,
        )?;
        if let Some(id) = id {
            db::admins::audit(
                conn,
                &db::admins::AuditEntry::new(
                    id,
                    name.as_str(),
                    crate::domain::audit::ACCOUNT_CREATED,
                    now,
                ),
            )?;
        }
        Ok(id)
    })
    .await?;
    let Some(id) = created else {
        return setup_page(
            &req,
            &state,
            SetupPageInput {
                invalid: true,
                ..Default::default()
            },
            StatusCode::GONE,
        );
    };
    session::start(&session, id)?;
    tracing::info!(
        admin = id,
        "coach account created with the setup link; signed in"
    );
    Ok(see_other("/admin"))
}
