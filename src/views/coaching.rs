//! Page structs of the coaching request flow, for readers and the coach.
use askama::Template;

use super::{Date, Layout, Pagination};
use crate::content::comment_markdown::SafeHtml;
use crate::content::{CoachingOption, Page};
use crate::domain::coaching::{Choices, CoachingForm, RequestErrors};

/// The request form as the reader left it.
pub struct RequestFormView {
    pub token: String,
    pub values: CoachingForm,
    pub errors: RequestErrors,
    /// A problem with the whole form (expired, too many requests...), in
    /// the site's language.
    pub problem: Option<String>,
    /// The article (title) the reader came from.
    pub source_title: Option<String>,
}

impl RequestFormView {
    /// True when the field holds this value (for radios and selects).
    pub fn is(&self, field: &str, value: &str) -> bool {
        let v = &self.values;
        let current = match field {
            "option" => &v.option,
            "ended_by" => &v.ended_by,
            "together_for" => &v.together_for,
            "ended_ago" => &v.ended_ago,
            "contact_now" => &v.contact_now,
            "hope" => &v.hope,
            "talk_via" => &v.talk_via,
            "time_zone" => &v.time_zone,
            _ => return false,
        };
        current == value
    }
    pub fn adult(&self) -> bool {
        self.values.adult.is_some()
    }
    pub fn consent(&self) -> bool {
        self.values.consent.is_some()
    }
    /// `aria-describedby` ids for a field with a hint.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.problem.is_some()
    }
}

/// A radio group: (field name, the key of its legend, choices).
pub struct ChoiceGroup {
    pub field: &'static str,
    pub legend: &'static str,
    pub choices: Choices,
}

#[derive(Template)]
#[template(path = "coaching/form.html")]
pub struct CoachingPage<'a> {
    pub layout: Layout<'a>,
    pub page: Option<&'a Page>,
    pub options: &'a [std::sync::Arc<CoachingOption>],
    /// "Choose this" links keep where the reader came from.
    pub choose_query: String,
    pub form: RequestFormView,
    /// The error summary: (the field's input id, what to fix), in the
    /// form's order and the site's language.
    pub error_links: Vec<(String, String)>,
    /// Today (`max` of the no-contact date: the browser refuses the future
    /// as the server does).
    pub today: String,
    pub groups_before: Vec<ChoiceGroup>,
    pub hope: ChoiceGroup,
    pub talk_via: ChoiceGroup,
    pub time_zones: &'static [&'static str],
    pub crisis_resources: &'a [String],
    pub timezone_js: &'a str,
}

#[derive(Template)]
#[template(path = "coaching/thanks.html")]
pub struct ThanksPage<'a> {
    pub layout: Layout<'a>,
    /// Where the private link went (this browser just sent the request).
    pub sent_to: Option<String>,
    /// The request matched the crisis phrases: the resources come first.
    pub crisis: bool,
    pub crisis_resources: &'a [String],
    /// The form to have the link sent again.
    pub resend_token: String,
    pub resend_email: String,
    /// In the site's language.
    pub resend_error: Option<String>,
    /// The reader asked for the link again.
    pub resent: bool,
}

/// One message on a status page or in the coach's view.
pub struct MessageView {
    pub kind: String,
    pub author: String,
    pub date: Date,
    pub at: String,
    pub body: SafeHtml,
}

/// A request's answers, ready to print: (question, answer), in the site's
/// language.
pub struct AnswerView {
    pub question: String,
    pub answer: String,
}

#[derive(Template)]
#[template(path = "coaching/status.html")]
pub struct StatusPage<'a> {
    pub layout: Layout<'a>,
    pub token: String,
    pub option_title: String,
    /// The status's name and what it means, in the site's language.
    pub status_label: &'a str,
    pub status_explanation: &'a str,
    pub sent: Date,
    pub open: bool,
    pub answers: Vec<AnswerView>,
    pub situation: String,
    pub messages: Vec<MessageView>,
    pub form_token: String,
    pub message_body: String,
    pub message_error: Option<String>,
    /// What the reader just did, in the site's language.
    pub done: Option<&'a str>,
    /// The request matched the crisis phrases: the resources come first.
    pub crisis: bool,
    pub crisis_resources: &'a [String],
}

#[derive(Template)]
#[template(path = "coaching/confirm.html")]
pub struct ConfirmRequestPage<'a> {
    pub layout: Layout<'a>,
    pub token: String,
    pub form_token: String,
    /// Withdrawing the request (else deleting it) is what is asked.
    pub withdraw: bool,
}

/// A row of the coach's inbox.
pub struct InboxRow {
    pub id: i64,
    pub name: String,
    pub option_title: String,
    pub status_label: &'static str,
    pub status: String,
    pub urgent: bool,
    pub date: Date,
    pub relative: String,
    pub source: Option<String>,
}

/// One bar of a statistics table.
pub struct StatLine {
    pub label: String,
    pub count: usize,
    /// 0..=100, for the bar's width class.
    pub percent: usize,
}

/// One table of the statistics panel.
pub struct StatTable {
    pub title: &'static str,
    pub column: &'static str,
    pub lines: Vec<StatLine>,
}

#[derive(Template)]
#[template(path = "admin/requests.html")]
pub struct InboxPage<'a> {
    pub layout: Layout<'a>,
    pub nav: super::admin::AdminNav,
    pub rows: Vec<InboxRow>,
    pub total: i64,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub options: Vec<(String, String)>,
    pub status: String,
    pub option: String,
    pub pagination: Option<Pagination>,
    pub stats: Vec<StatTable>,
    pub done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/request.html")]
pub struct RequestPage<'a> {
    pub layout: Layout<'a>,
    pub nav: super::admin::AdminNav,
    pub id: i64,
    pub name: String,
    pub email: String,
    pub option_title: String,
    pub status: String,
    pub status_label: &'static str,
    pub urgent: bool,
    pub anonymized: bool,
    pub sent: String,
    pub consent: String,
    pub answers: Vec<AnswerView>,
    pub situation: SafeHtml,
    pub source_article: Option<(String, String)>,
    pub source_comment: Option<(i64, String, SafeHtml)>,
    pub messages: Vec<MessageView>,
    pub notes: Vec<MessageView>,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub plans: Vec<(String, String)>,
    pub reply_body: String,
    pub reply_error: Option<String>,
    pub note_error: Option<String>,
    pub done: Option<String>,
    pub confirm_delete: bool,
}

// ---- Rows as the pages show them (the reader's page and the coach's) ----

/// The reader's answers as question and answer, in `t`'s language.
pub fn answers_in(
    row: &crate::db::coaching::RequestRow,
    t: &crate::i18n::Strings,
) -> Vec<AnswerView> {
    let answer = |question: &str, choices, value: &str| AnswerView {
        question: t.s(question).to_string(),
        answer: match crate::domain::coaching::label_key(choices, value) {
            "" => String::new(),
            key => t.s(key).to_string(),
        },
    };
    let mut out = vec![
        answer(
            "coaching.answer.ended_by",
            crate::domain::coaching::ENDED_BY,
            &row.ended_by,
        ),
        answer(
            "coaching.answer.together_for",
            crate::domain::coaching::TOGETHER_FOR,
            &row.together_for,
        ),
        answer(
            "coaching.answer.ended_ago",
            crate::domain::coaching::ENDED_AGO,
            &row.ended_ago,
        ),
        match &row.no_contact_since {
            Some(date) => AnswerView {
                question: t.s("coaching.answer.contact_now").to_string(),
                answer: t.f("coaching.answer.no_contact_since", "date", date),
            },
            None => answer(
                "coaching.answer.contact_now",
                crate::domain::coaching::CONTACT_NOW,
                &row.contact_now,
            ),
        },
        answer(
            "coaching.answer.hope",
            crate::domain::coaching::HOPE,
            &row.hope,
        ),
        answer(
            "coaching.answer.talk_via",
            crate::domain::coaching::TALK_VIA,
            &row.talk_via,
        ),
    ];
    if let Some(zone) = &row.time_zone {
        out.push(AnswerView {
            question: t.s("coaching.answer.time_zone").to_string(),
            answer: zone.replace('_', " "),
        });
    }
    out.retain(|a| !a.answer.is_empty());
    out
}

/// Messages as a page shows them; times in `zone` (the reader's, from their
/// request) when given, else in UTC.
pub fn message_views(
    rows: Vec<crate::db::coaching::MessageRow>,
    t: &crate::i18n::Strings,
    zone: Option<&str>,
) -> Vec<MessageView> {
    rows.into_iter()
        .map(|m| MessageView {
            date: Date::new(m.created_at.and_utc(), t),
            at: t.date_time(m.created_at.and_utc(), zone),
            kind: m.kind,
            author: m.author_name,
            body: SafeHtml::from_stored(m.body_html),
        })
        .collect()
}
