//! The one guard every reader's form passes (comments and their changes,
//! the coaching request, the link sent again, the private request page's
//! forms): same origin, the honeypot, the signed form token and its age,
//! and the client's address, checked by [`check`] in one place.
//!
//! It is a function the handler calls, not an extractor: the body is read
//! strictly first (a 400 before anything else), and a token's scope names
//! what the handler looked up (the article, the request behind a private
//! link; a 404 comes first). What the checks allow is handed back as
//! [`Checked`]: the handler decides how a filled honeypot or a stale token
//! is answered on its own page (a 303 as if taken, the form again with a
//! 422), and takes the per-address limit with [`Checked::ip_hash`] inside
//! its own write, so the limit holds across instances; a refusal for it
//! carries [`retry_after`].
use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::AppState;
use crate::error::AppError;
use crate::keys::{FormToken, TokenCheck};

/// How one kind of reader form is checked.
pub struct FormKind {
    /// For the log.
    name: &'static str,
    /// The words (their key) of the 403 for a form from another site.
    cross_site: &'static str,
    token: TokenRule,
}

/// What the form's signed token must show.
enum TokenRule {
    /// None: the reader's own comment is proven by its owner cookie.
    None,
    /// Issued within a day by the page the form is on, or the form is
    /// refused with the same 403 as one from another site.
    WithinADay,
    /// A long form: its age is reported ([`Stamp`]) for the handler to
    /// answer on the form itself (the site's `max_form_age_hours` and
    /// `min_seconds_to_post`).
    Reported,
}

/// POST /articles/{slug}/comments
pub const COMMENT: FormKind = FormKind {
    name: "comment",
    cross_site: "comment_form.problem.cross_site",
    token: TokenRule::Reported,
};

/// POST /comments/{id}/edit and /comments/{id}/delete
pub const OWN_COMMENT: FormKind = FormKind {
    name: "comment change",
    cross_site: "comment_form.problem.cross_site",
    token: TokenRule::None,
};

/// POST /coaching
pub const COACHING_REQUEST: FormKind = FormKind {
    name: "coaching request",
    cross_site: "coaching.problem.cross_site",
    token: TokenRule::Reported,
};

/// POST /coaching/resend
pub const LINK_AGAIN: FormKind = FormKind {
    name: "request link again",
    cross_site: "coaching.problem.not_verified_sent",
    token: TokenRule::WithinADay,
};

/// POST /requests/{token}/{messages,withdraw,delete}
pub const REQUEST_PAGE: FormKind = FormKind {
    name: "request page",
    cross_site: "coaching.problem.not_verified_changed",
    token: TokenRule::WithinADay,
};

/// POST /me: the link to "My questions" asked for by email.
pub const MY_QUESTIONS_LINK: FormKind = FormKind {
    name: "my questions link",
    cross_site: "me.ask.cross_site",
    token: TokenRule::WithinADay,
};

/// POST /me/{open,notifications,delete,leave}: the forms of "My questions".
pub const MY_QUESTIONS_PAGE: FormKind = FormKind {
    name: "my questions page",
    cross_site: "me.ask.cross_site",
    token: TokenRule::WithinADay,
};

/// POST /no-contact: writes nothing, but answers only the site's own page.
pub const NO_CONTACT: FormKind = FormKind {
    name: "no-contact counter",
    cross_site: "no_contact.problem.cross_site",
    token: TokenRule::None,
};

/// The fields of a form the guard reads.
pub struct Fields<'a> {
    /// What the token was issued for (`FormToken::issue`'s scope).
    pub scope: &'a str,
    pub token: &'a str,
    /// The hidden field only bots fill ("" when the form has none).
    pub honeypot: &'a str,
}

impl Fields<'static> {
    /// A form with neither token nor honeypot ([`OWN_COMMENT`]).
    pub const NONE: Self = Self {
        scope: "",
        token: "",
        honeypot: "",
    };
}

/// The age of a long form's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Signed here, neither too old nor too young (and what every form
    /// whose token is not [`TokenRule::Reported`] shows once it passed).
    Fresh,
    /// Sent sooner after the form was served than a person types.
    TooQuick,
    /// Older than `max_form_age_hours`.
    Expired,
    /// Not a token this site signed for this form.
    Unverified,
}

/// A form that passed the guard.
#[derive(Debug)]
pub struct Checked {
    pub stamp: Stamp,
    /// The honeypot was filled: only bots do. Answer as if taken, store
    /// nothing.
    pub bot: bool,
    /// The salted hash of the client's address (behind trusted proxies,
    /// the forwarded one): the key of its per-address limits.
    pub ip_hash: String,
}

/// Checks a reader's form of kind `kind`: a 403 (in the kind's words)
/// when the browser says another site sent it, or, for the forms a page
/// issues for itself, when its token is not that page's from the last day.
pub fn check(
    req: &HttpRequest,
    state: &AppState,
    kind: &FormKind,
    form: Fields,
) -> Result<Checked, AppError> {
    let now = state.clock.now().timestamp();
    let refused = || {
        tracing::warn!(
            form = kind.name,
            "refused a reader form: cross-site or unverified"
        );
        AppError::Forbidden(state.strings.s(kind.cross_site).to_string())
    };
    if !super::same_origin(req, state) {
        return Err(refused());
    }
    let checked = FormToken::check(&state.key, form.scope, form.token, now);
    let stamp = match kind.token {
        TokenRule::None => Stamp::Fresh,
        TokenRule::WithinADay => match checked {
            TokenCheck::Valid { age_seconds } if age_seconds <= 24 * 3600 => Stamp::Fresh,
            _ => return Err(refused()),
        },
        TokenRule::Reported => {
            let settings = &state.settings.comments;
            match checked {
                TokenCheck::Valid { age_seconds }
                    if age_seconds > (settings.max_form_age_hours * 3600) as i64 =>
                {
                    Stamp::Expired
                }
                TokenCheck::Valid { age_seconds }
                    if age_seconds < settings.min_seconds_to_post as i64 =>
                {
                    Stamp::TooQuick
                }
                TokenCheck::Valid { .. } => Stamp::Fresh,
                TokenCheck::Invalid => Stamp::Unverified,
            }
        }
    };
    let ip = super::request::client_ip(req, &state.settings.comments.trusted_proxies)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    Ok(Checked {
        stamp,
        bot: !form.honeypot.is_empty(),
        ip_hash: state.key.ip_hash(&ip),
    })
}

/// A reader form's page refused for its per-address (or per-request)
/// limit: says when to try again, in whole seconds, at least one.
pub fn retry_after(mut res: HttpResponse, wait: i64) -> HttpResponse {
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(wait.max(1)));
    res
}
