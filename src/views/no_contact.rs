//! The no-contact counter's page (`/no-contact`).
use askama::Template;

use super::Layout;
use crate::content::no_contact::NoContactGuide;

#[derive(Template)]
#[template(path = "no_contact.html")]
pub struct NoContactPage<'a> {
    pub layout: Layout<'a>,
    pub t: &'a crate::i18n::Strings,
    pub guide: &'a NoContactGuide,
    /// `static/js/no-contact.js`: keeps the date on the device.
    pub script_url: &'a str,
    pub crisis_resources: &'a [String],
    /// The latest day the field takes (`YYYY-MM-DD`).
    pub max_date: String,
    /// What the reader sent, shown back in the field (a form sent without
    /// JavaScript; never stored).
    pub since: String,
    /// Why the date sent cannot be counted from.
    pub problem: Option<String>,
    /// The count, for a form sent without JavaScript.
    pub count: Option<CountView>,
    pub milestones: Vec<MilestoneView<'a>>,
}

/// The count as the page says it.
pub struct CountView {
    pub days: String,
    pub since: String,
    pub next: String,
}

/// One milestone and where the reader stands to it.
pub struct MilestoneView<'a> {
    pub day: u32,
    /// "Day 7".
    pub label: String,
    pub heading: &'a str,
    /// Trusted: the coach's words, rendered at load.
    pub html: &'a str,
    /// "reached", "next" or "" (not counted, or further ahead).
    pub state: &'static str,
}
