//! Changing comments: posting one (POST /articles/{slug}/comments), and
//! a writer changing or deleting their own. What the article page shows of
//! them is read in `web::articles::comment_section`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::articles::comment_section::{
    form_scope, own_comments, posted_url, EDIT_WINDOW_MINUTES, OWN_COOKIE, OWN_COOKIE_ENTRIES,
    REMEMBER_COOKIE,
};
use super::articles::form_again;
use super::reader_form::{self, Stamp};
use super::request::{reader_cookie, reader_cookie_name};
use super::AppState;
use crate::content::comment_markdown::render_comment;
use crate::db::{self, comments::CommentRow};
use crate::domain::comment::{CommentForm, NewComment};
use crate::error::AppError;
use crate::keys::{self, FormToken};
use crate::views::CommentFormView;

fn cookie(state: &AppState, name: &str, value: String, max_age_days: i64) -> Cookie<'static> {
    let https = state.settings.base_url.is_https();
    Cookie::build(reader_cookie_name(https, name), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.base_url.is_https())
        .max_age(actix_web::cookie::time::Duration::days(max_age_days))
        .finish()
}

/// POST /articles/{slug}/comments
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: CommentForm = super::parse_form(&req, &body)?;
    let checked = reader_form::check(
        &req,
        &state,
        &reader_form::COMMENT,
        reader_form::Fields {
            scope: &form_scope(&slug),
            token: &form.token,
            honeypot: &form.website,
        },
    )?;
    let library = state.content.library();
    let now = state.clock.now();
    let article = library
        .article(&slug, now)
        .ok_or(AppError::NotFound)?
        .clone();
    let article_url = article.url();
    if checked.bot {
        // The honeypot: only bots fill it. Not stored, nothing to tell.
        tracing::info!("comment honeypot filled; discarded");
        return Ok(super::see_other(&format!("{article_url}#comments")));
    }
    let settings = &state.settings.comments;
    let mut view = CommentFormView {
        token: FormToken::issue(&state.key, &form_scope(&article.slug), now.timestamp()),
        name: form.name.clone(),
        email: form.email.clone(),
        body: form.body.clone(),
        notify: form.notify.is_some(),
        remember: form.remember.is_some(),
        private: form.private.is_some(),
        ..CommentFormView::default()
    };
    let parent_id = form
        .parent
        .as_deref()
        .and_then(|p| p.trim().parse::<i64>().ok());
    match checked.stamp {
        Stamp::Expired => {
            view.problem = Some(state.strings.s("comment_form.problem.expired").to_string());
        }
        Stamp::Unverified => {
            view.problem = Some(
                state
                    .strings
                    .s("comment_form.problem.unverified")
                    .to_string(),
            );
        }
        Stamp::Fresh | Stamp::TooQuick => {}
    }
    // Too quick for a person: kept, but as spam.
    let too_fast = checked.stamp == Stamp::TooQuick;
    let new = NewComment::try_from(&form);
    if let Err(errors) = &new {
        view.errors = errors.clone();
    }
    let new = match new {
        Ok(new) if view.problem.is_none() => new,
        _ => {
            return form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let assessment = settings.rules.assess(new.body.as_str(), new.private);
    let owner_token = keys::random_hex(32).map_err(AppError::internal)?;
    let record = db::comments::NewCommentRecord {
        article_slug: article.slug.clone(),
        reply_to: new.parent_id,
        author_name: new.name.as_str().to_string(),
        author_email: new.email.as_str().to_string(),
        body_markdown: new.body.as_str().to_string(),
        body_html: render_comment(new.body.as_str()).into_string(),
        is_private: new.private,
        is_urgent: assessment.urgent,
        held_reasons: assessment.reasons,
        spam: too_fast,
        notify_replies: new.notify_replies,
        owner_token_hash: keys::token_hash(&owner_token),
        ip_hash: checked.ip_hash,
        now: now.naive_utc(),
    };
    let outcome = state
        .writer
        .write(&state.pool, move |conn| {
            match db::comments::post_within(conn, &record, db::comments::PostLimits::default()) {
                Ok(stored) => Ok(Ok(stored)),
                Err(db::comments::PostRefused::Db(e)) => Err(e),
                Err(refused) => Ok(Err(refused)),
            }
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            super::unsaved(e, "a comment")?;
            view.problem = Some(super::unsaved_problem(&state));
            let page = form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await?;
            return Ok(super::unsaved_page(page));
        }
    };
    let stored = match outcome {
        Ok(stored) => stored,
        Err(db::comments::PostRefused::RateLimited(wait)) => {
            view.problem = Some(state.strings.n("comment_form.problem.too_fast", &wait));
            let res = form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await?;
            return Ok(reader_form::retry_after(res, wait));
        }
        Err(db::comments::PostRefused::Duplicate) => {
            view.problem = Some(
                state
                    .strings
                    .s("comment_form.problem.duplicate")
                    .to_string(),
            );
            return form_again(
                &req,
                &state,
                &article,
                view,
                parent_id,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(db::comments::PostRefused::BadParent) | Err(db::comments::PostRefused::Db(_)) => {
            view.problem = Some(
                state
                    .strings
                    .s("comment_form.problem.gone_parent")
                    .to_string(),
            );
            return form_again(
                &req,
                &state,
                &article,
                view,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    tracing::info!(comment = stored.id, status = %stored.status, "comment stored");
    state.metrics.comment_created(&stored.status);
    if stored.status == db::comments::APPROVED {
        state.page_cache.comments_changed(&article.slug);
    }
    crate::notify::after_post(&state.mail(), stored.id, &stored.status, new.notify_replies).await;

    let mut own: Vec<String> = vec![format!("{}.{}", stored.id, owner_token)];
    own.extend(
        own_comments(&req)
            .into_iter()
            .filter(|(id, _)| *id != stored.id)
            .take(OWN_COOKIE_ENTRIES - 1)
            .map(|(id, token)| format!("{id}.{token}")),
    );
    let mut res = super::see_other(&posted_url(
        &state,
        &article_url,
        stored.id,
        assessment.urgent,
    ));
    let _ = res.add_cookie(&cookie(&state, OWN_COOKIE, own.join("_"), 30));
    if new.remember {
        let value = keys::hex(format!("{}\n{}", new.name.as_str(), new.email.as_str()).as_bytes());
        let _ = res.add_cookie(&cookie(&state, REMEMBER_COOKIE, value, 365));
    } else if reader_cookie(&req, REMEMBER_COOKIE).is_some() {
        let mut gone = cookie(&state, REMEMBER_COOKIE, String::new(), 0);
        gone.make_removal();
        let _ = res.add_cookie(&gone);
    }
    Ok(res)
}

/// The reader's own comment while its edit window is open: (row, its
/// Markdown, the stored token hash).
async fn own_editable(
    req: &HttpRequest,
    state: &AppState,
    id: i64,
) -> Result<(CommentRow, String, String), AppError> {
    let token = own_comments(req)
        .into_iter()
        .find(|(own_id, _)| *own_id == id)
        .map(|(_, token)| token)
        .ok_or_else(|| AppError::Forbidden(state.strings.s("edit.not_yours").to_string()))?;
    let (row, markdown) = db::run(&state.pool, move |conn| db::comments::find(conn, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let hash = keys::token_hash(&token);
    if row.owner_token_hash.as_deref() != Some(hash.as_str()) {
        return Err(AppError::Forbidden(
            state.strings.s("edit.not_yours").to_string(),
        ));
    }
    if state.clock.now() - row.created_at.and_utc()
        >= chrono::Duration::minutes(EDIT_WINDOW_MINUTES)
    {
        return Err(AppError::Forbidden(state.strings.f(
            "edit.too_late",
            "minutes",
            &EDIT_WINDOW_MINUTES,
        )));
    }
    Ok((row, markdown, hash))
}

fn edit_page(
    req: &HttpRequest,
    state: &AppState,
    row: &CommentRow,
    body: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let library = state.content.library();
    let article = library
        .article(&row.article_slug, state.clock.now())
        .ok_or(AppError::NotFound)?;
    let path = format!("/comments/{}/edit", row.id);
    let mut layout = state.layout(
        Some(state.strings.s("edit.title")),
        "",
        &path,
        crate::views::Nav::None,
    );
    layout.noindex = true;
    let left = EDIT_WINDOW_MINUTES - (state.clock.now() - row.created_at.and_utc()).num_minutes();
    let mut res = super::render_html(
        req,
        &crate::views::EditCommentPage {
            layout,
            id: row.id,
            article_title: &article.title,
            article_url: article.url(),
            body,
            error,
            minutes_left: left.max(1),
        },
        super::Caching::NoStore,
    )?;
    *res.status_mut() = status;
    Ok(res)
}

/// GET /comments/{id}/edit
pub async fn edit_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (row, markdown, _) = own_editable(&req, &state, *id).await?;
    edit_page(&req, &state, &row, markdown, None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct EditForm {
    #[serde(default)]
    body: String,
}

/// POST /comments/{id}/edit
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: EditForm = super::parse_form(&req, &body)?;
    reader_form::check(
        &req,
        &state,
        &reader_form::OWN_COMMENT,
        reader_form::Fields::NONE,
    )?;
    let (row, _, hash) = own_editable(&req, &state, *id).await?;
    let text = match crate::domain::comment::CommentBody::parse(&form.body) {
        Ok(text) => text,
        Err(message) => {
            return edit_page(
                &req,
                &state,
                &row,
                form.body,
                Some(message.text(&state.strings)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    };
    let assessment = state
        .settings
        .comments
        .rules
        .assess(text.as_str(), row.is_private);
    let html = render_comment(text.as_str()).into_string();
    let id = row.id;
    let markdown = text.as_str().to_string();
    let now = state.clock.now_naive();
    let saved = state
        .writer
        .write(&state.pool, move |conn| {
            db::comments::update_own(
                conn,
                id,
                &hash,
                &db::comments::CommentEdit {
                    body_markdown: &markdown,
                    body_html: &html,
                    reasons: &assessment.reasons,
                    urgent: assessment.urgent,
                    now,
                },
            )
        })
        .await;
    if let Err(e) = saved {
        super::unsaved(e, "a comment's change")?;
        let page = edit_page(
            &req,
            &state,
            &row,
            form.body,
            Some(super::unsaved_problem(&state)),
            StatusCode::SERVICE_UNAVAILABLE,
        )?;
        return Ok(super::unsaved_page(page));
    }
    state.page_cache.comments_changed(&row.article_slug);
    if assessment.urgent && !row.is_urgent {
        // Words of crisis added by the change: the coach hears at once.
        crate::notify::after_urgent_edit(&state.mail(), id).await;
    }
    Ok(super::see_other(&posted_url(
        &state,
        &format!("/articles/{}", row.article_slug),
        id,
        row.is_urgent || assessment.urgent,
    )))
}

/// POST /comments/{id}/delete
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    reader_form::check(
        &req,
        &state,
        &reader_form::OWN_COMMENT,
        reader_form::Fields::NONE,
    )?;
    let (row, _, hash) = own_editable(&req, &state, *id).await?;
    let id = row.id;
    state
        .writer
        .write(&state.pool, move |conn| {
            db::comments::delete_own(conn, id, &hash)
        })
        .await?;
    tracing::info!(comment = id, "comment deleted by its writer");
    state.page_cache.comments_changed(&row.article_slug);
    Ok(super::see_other(&format!(
        "/articles/{}#comments",
        row.article_slug
    )))
}
