//! The no-contact counter (`/no-contact`): the coach's milestones and
//! urge steps around a date the site never keeps.
//!
//! With JavaScript the reader's browser keeps the date (localStorage) and
//! counts (`static/js/no-contact.js`); nothing about it is sent. Without,
//! the form is sent here once (POST, so the date is in no address, no log
//! line and no history entry) and the count comes back in the page,
//! `Cache-Control: no-store`, stored nowhere: no database, no cookie, no
//! log. A date the counter cannot use is said on the page (200), never
//! answered with an error.
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate, TimeZone, Utc};

use super::{reader_form, render_html, AppState, Caching};
use crate::content::no_contact::NoContactGuide;
use crate::domain::no_contact::{progress, MilestoneState, NoContactStart, StartProblem};
use crate::error::AppError;
use crate::views::no_contact::{CountView, MilestoneView, NoContactPage};
use crate::views::Nav;

/// GET /no-contact
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let library = state.content.library();
    let guide = library.no_contact().ok_or(AppError::NotFound)?;
    let view = view(&state, guide, None);
    render_html(&req, &view, Caching::Revalidate)
}

/// POST /no-contact: counts once from the date sent, keeps nothing.
pub async fn count(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    // Writes nothing, but answers only this site's own page.
    reader_form::check(
        &req,
        &state,
        &reader_form::NO_CONTACT,
        reader_form::Fields::NONE,
    )?;
    let library = state.content.library();
    let guide = library.no_contact().ok_or(AppError::NotFound)?;
    // Read leniently and quietly: a body that is not a form is a date
    // that cannot be read, and nothing of it reaches the log.
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let since: String = fields
        .into_iter()
        .find(|(name, _)| name == "since")
        .map(|(_, value)| value.chars().filter(|c| !c.is_control()).take(40).collect())
        .unwrap_or_default();
    let page = view(&state, guide, Some(since));
    render_html(&req, &page, Caching::NoStore)
}

/// The latest start the counter takes: the site's today and one day more,
/// as it may already be tomorrow where the reader is (that counts as day 0).
fn latest_start(today: NaiveDate) -> NaiveDate {
    today + Duration::days(1)
}

/// The page; with `sent` (a date the form sent), its count or the problem.
fn view<'a>(
    state: &'a AppState,
    guide: &'a NoContactGuide,
    sent: Option<String>,
) -> NoContactPage<'a> {
    let t = &state.strings;
    let today = state.clock.now().date_naive();
    let latest = latest_start(today);
    let start = sent
        .as_deref()
        .map(|since| NoContactStart::parse(since, latest));
    let days = match start {
        Some(Ok(start)) => Some((start, start.days(today))),
        _ => None,
    };
    let problem = match start {
        Some(Err(StartProblem::Unreadable)) => {
            Some(t.s("no_contact.problem.unreadable").to_string())
        }
        Some(Err(StartProblem::InTheFuture)) => Some(t.s("no_contact.problem.future").to_string()),
        _ => None,
    };
    let (states, next) = match days {
        Some((_, n)) => {
            let (states, next) = progress(n);
            (Some(states), next)
        }
        None => (None, None),
    };
    let count = days.map(|(start, n)| CountView {
        days: if n == 0 {
            t.s("no_contact.first_day").to_string()
        } else {
            t.n("no_contact.days", &n)
        },
        since: t.f(
            "no_contact.since",
            "date",
            &t.date(Utc.from_utc_datetime(&start.date().and_time(chrono::NaiveTime::MIN))),
        ),
        next: match next {
            Some((day, left)) => t
                .n("no_contact.next_milestone", &left)
                .replace("{day}", &day.to_string()),
            None => t.s("no_contact.all_reached").to_string(),
        },
    });
    let milestones = guide
        .milestones
        .iter()
        .enumerate()
        .map(|(i, m)| MilestoneView {
            day: m.day,
            label: t.f("no_contact.milestone_day", "day", &m.day),
            heading: &m.heading,
            html: &m.html,
            state: match states.as_ref().and_then(|s| s.get(i)) {
                Some(MilestoneState::Reached) => "reached",
                Some(MilestoneState::Next) => "next",
                _ => "",
            },
        })
        .collect();
    let mut layout = state.layout(Some(&guide.title), &guide.summary, "/no-contact", Nav::None);
    // A count is the reader's own: never indexed (the form's answer).
    layout.noindex = sent.is_some();
    NoContactPage {
        layout,
        t,
        guide,
        script_url: state.assets.url("js/no-contact.js"),
        crisis_resources: &state.settings.comments.crisis_resources,
        max_date: latest.format("%Y-%m-%d").to_string(),
        // Shown back as sent when it cannot be counted, else as read.
        since: match (&problem, days) {
            (Some(_), _) => sent.unwrap_or_default(),
            (None, Some((start, _))) => start.date().format("%Y-%m-%d").to_string(),
            (None, None) => String::new(),
        },
        problem,
        count,
        milestones,
    }
}
