//! The coach's admin area: sign-in, the moderation queue, replies and the
//! audit log. Every page here is personal: never stored by any cache.

use crate::views::admin::AdminNav;
use crate::views::{Layout, Nav};
use crate::web::AppState;

pub mod auth;
pub mod device;
pub mod moderation;
pub mod requests;
pub mod session;

/// The frame of an admin page (never indexed).
pub fn admin_layout<'a>(state: &'a AppState, title: &str, path: &str) -> Layout<'a> {
    let mut layout = state.layout(Some(title), "", path, Nav::None);
    layout.noindex = true;
    layout.admin = true;
    layout
}

pub use crate::web::see_other;

/// A domain check's message in the site's language: checks return a
/// [`Phrase`](crate::i18n::Phrase), or text already in words.
pub trait Say {
    fn say(self, t: &crate::i18n::Strings) -> String;
}

impl Say for crate::i18n::Phrase {
    fn say(self, t: &crate::i18n::Strings) -> String {
        self.text(t)
    }
}

impl Say for String {
    fn say(self, _: &crate::i18n::Strings) -> String {
        self
    }
}

/// What the admin navigation and the dashboard count.
pub struct AdminCounts {
    pub queue: crate::db::comments::QueueCounts,
    /// Coaching requests nobody has opened yet.
    pub new_requests: i64,
}

/// Reads the counts, in one trip to the database.
pub async fn counts(state: &AppState) -> Result<AdminCounts, crate::error::AppError> {
    let (queue, new_requests) = crate::db::run(&state.pool, |conn| {
        Ok((
            crate::db::comments::queue_counts(conn)?,
            crate::db::coaching::count_new(conn)?,
        ))
    })
    .await?;
    Ok(AdminCounts {
        queue,
        new_requests,
    })
}

/// The admin navigation from counts already read.
pub fn nav_from(coach: &session::Coach, current: &'static str, counts: &AdminCounts) -> AdminNav {
    AdminNav {
        coach_name: coach.name.clone(),
        csrf: coach.csrf.clone(),
        current,
        pending: counts.queue.pending + counts.queue.private,
        new_requests: counts.new_requests,
    }
}

/// The admin navigation, with the counts its links show.
pub async fn nav(
    state: &AppState,
    coach: &session::Coach,
    current: &'static str,
) -> Result<AdminNav, crate::error::AppError> {
    Ok(nav_from(coach, current, &counts(state).await?))
}
