//! A reader's request for personal coaching, validated field by field.
//! What is wrong is said as a [`Phrase`] (`coaching.problem.*` of the
//! strings), in the site's language when a page shows it.
use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::comment::{AuthorName, Email};
use crate::i18n::Phrase;

/// The most characters the situation may have; longer is refused, never cut.
pub const MAX_SITUATION_CHARS: usize = 10_000;
/// The most characters a follow-up message may have.
pub const MAX_MESSAGE_CHARS: usize = 10_000;

/// A closed list of answers: (stored value, the key of what the reader
/// reads in the strings, `coaching.choice.{field}.{value}`).
pub type Choices = &'static [(&'static str, &'static str)];

pub const ENDED_BY: Choices = &[
    ("i-did", "coaching.choice.ended_by.i-did"),
    ("they-did", "coaching.choice.ended_by.they-did"),
    ("mutual", "coaching.choice.ended_by.mutual"),
    ("complicated", "coaching.choice.ended_by.complicated"),
];

pub const TOGETHER_FOR: Choices = &[
    (
        "under-6-months",
        "coaching.choice.together_for.under-6-months",
    ),
    (
        "6-to-12-months",
        "coaching.choice.together_for.6-to-12-months",
    ),
    ("1-to-3-years", "coaching.choice.together_for.1-to-3-years"),
    (
        "3-to-10-years",
        "coaching.choice.together_for.3-to-10-years",
    ),
    (
        "over-10-years",
        "coaching.choice.together_for.over-10-years",
    ),
];

pub const ENDED_AGO: Choices = &[
    ("this-week", "coaching.choice.ended_ago.this-week"),
    ("under-a-month", "coaching.choice.ended_ago.under-a-month"),
    ("1-to-6-months", "coaching.choice.ended_ago.1-to-6-months"),
    ("6-to-12-months", "coaching.choice.ended_ago.6-to-12-months"),
    ("over-a-year", "coaching.choice.ended_ago.over-a-year"),
];

pub const CONTACT_NOW: Choices = &[
    ("no-contact", "coaching.choice.contact_now.no-contact"),
    ("occasional", "coaching.choice.contact_now.occasional"),
    ("live-together", "coaching.choice.contact_now.live-together"),
    (
        "share-children-or-home",
        "coaching.choice.contact_now.share-children-or-home",
    ),
];

pub const HOPE: Choices = &[
    ("back-together", "coaching.choice.hope.back-together"),
    ("moving-on", "coaching.choice.hope.moving-on"),
    ("not-sure", "coaching.choice.hope.not-sure"),
];

pub const TALK_VIA: Choices = &[
    ("email", "coaching.choice.talk_via.email"),
    ("video", "coaching.choice.talk_via.video"),
];

/// Time zones offered in the form (IANA names), west to east.
pub const TIME_ZONES: &[&str] = &[
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Phoenix",
    "America/Denver",
    "America/Edmonton",
    "America/Mexico_City",
    "America/Chicago",
    "America/Winnipeg",
    "America/New_York",
    "America/Toronto",
    "America/Bogota",
    "America/Lima",
    "America/Halifax",
    "America/Santiago",
    "America/Caracas",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Atlantic/Azores",
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Africa/Casablanca",
    "Africa/Lagos",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Zurich",
    "Europe/Vienna",
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Copenhagen",
    "Europe/Warsaw",
    "Europe/Prague",
    "Africa/Johannesburg",
    "Africa/Cairo",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Bucharest",
    "Asia/Jerusalem",
    "Europe/Istanbul",
    "Africa/Nairobi",
    "Europe/Moscow",
    "Asia/Riyadh",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Manila",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Australia/Perth",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Auckland",
];

/// The key of what a stored value means to a reader ("" when unknown).
pub fn label_key(choices: Choices, value: &str) -> &'static str {
    choices
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("", |(_, l)| l)
}

/// The coaching form as sent. Unknown fields are refused.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoachingForm {
    #[serde(default)]
    pub token: String,
    /// The honeypot.
    #[serde(default)]
    pub website: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub option: String,
    #[serde(default)]
    pub ended_by: String,
    #[serde(default)]
    pub together_for: String,
    #[serde(default)]
    pub ended_ago: String,
    #[serde(default)]
    pub contact_now: String,
    #[serde(default)]
    pub no_contact_since: String,
    #[serde(default)]
    pub hope: String,
    #[serde(default)]
    pub situation: String,
    #[serde(default)]
    pub talk_via: String,
    #[serde(default)]
    pub time_zone: String,
    pub adult: Option<String>,
    pub consent: Option<String>,
    /// Where the reader came from.
    #[serde(default)]
    pub article: String,
    #[serde(default)]
    pub comment: String,
}

/// Problems by field name, in form order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestErrors(BTreeMap<&'static str, Phrase>);

impl RequestErrors {
    pub fn get(&self, field: &str) -> Option<&Phrase> {
        self.0.get(field)
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    fn add(&mut self, field: &'static str, problem: Phrase) {
        self.0.entry(field).or_insert(problem);
    }
}

/// A valid request, ready to store.
#[derive(Debug, Clone)]
pub struct NewCoachingRequest {
    pub name: AuthorName,
    pub email: Email,
    pub option: String,
    pub ended_by: &'static str,
    pub together_for: &'static str,
    pub ended_ago: &'static str,
    pub contact_now: &'static str,
    pub no_contact_since: Option<NaiveDate>,
    pub hope: &'static str,
    pub situation: String,
    pub talk_via: &'static str,
    pub time_zone: Option<&'static str>,
    pub source_article: Option<String>,
    pub source_comment: Option<i64>,
}

fn choice(
    errors: &mut RequestErrors,
    field: &'static str,
    choices: Choices,
    raw: &str,
    missing: &'static str,
) -> &'static str {
    let raw = raw.trim();
    if raw.is_empty() {
        errors.add(field, Phrase::new(missing));
        return "";
    }
    match choices.iter().find(|(v, _)| *v == raw) {
        Some((v, _)) => v,
        None => {
            errors.add(field, Phrase::new("coaching.problem.unknown_choice"));
            ""
        }
    }
}

fn ticked(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "0" && v != "off")
}

impl NewCoachingRequest {
    /// Checks every field; `options` are the coaching options' slugs and
    /// `today` bounds the no-contact date.
    pub fn parse(
        form: &CoachingForm,
        options: &[&str],
        today: NaiveDate,
    ) -> Result<Self, RequestErrors> {
        let mut errors = RequestErrors::default();
        let name = AuthorName::parse(&form.name)
            .map_err(|e| errors.add("name", e))
            .ok();
        let email = Email::parse(&form.email)
            .map_err(|e| errors.add("email", e))
            .ok();
        let option = form.option.trim();
        if option.is_empty() {
            errors.add("option", Phrase::new("coaching.problem.option_missing"));
        } else if !options.contains(&option) {
            errors.add("option", Phrase::new("coaching.problem.option_unknown"));
        }
        let ended_by = choice(
            &mut errors,
            "ended_by",
            ENDED_BY,
            &form.ended_by,
            "coaching.problem.ended_by_missing",
        );
        let together_for = choice(
            &mut errors,
            "together_for",
            TOGETHER_FOR,
            &form.together_for,
            "coaching.problem.together_for_missing",
        );
        let ended_ago = choice(
            &mut errors,
            "ended_ago",
            ENDED_AGO,
            &form.ended_ago,
            "coaching.problem.ended_ago_missing",
        );
        let contact_now = choice(
            &mut errors,
            "contact_now",
            CONTACT_NOW,
            &form.contact_now,
            "coaching.problem.contact_now_missing",
        );
        let mut no_contact_since = None;
        if contact_now == "no-contact" {
            match NaiveDate::parse_from_str(form.no_contact_since.trim(), "%Y-%m-%d") {
                Ok(date) if date > today => errors.add(
                    "no_contact_since",
                    Phrase::new("coaching.problem.no_contact_future"),
                ),
                Ok(date) => no_contact_since = Some(date),
                Err(_) if form.no_contact_since.trim().is_empty() => errors.add(
                    "no_contact_since",
                    Phrase::new("coaching.problem.no_contact_missing"),
                ),
                Err(_) => errors.add(
                    "no_contact_since",
                    Phrase::new("coaching.problem.no_contact_format"),
                ),
            }
        }
        let hope = choice(
            &mut errors,
            "hope",
            HOPE,
            &form.hope,
            "coaching.problem.hope_missing",
        );
        // Line breaks count as one character, as the browser counts them.
        let situation = form.situation.replace("\r\n", "\n");
        let situation = situation.trim();
        let chars = situation.chars().count();
        if situation.is_empty() {
            errors.add(
                "situation",
                Phrase::new("coaching.problem.situation_missing"),
            );
        } else if chars > MAX_SITUATION_CHARS {
            errors.add(
                "situation",
                Phrase::new("coaching.problem.situation_too_long")
                    .with("max", MAX_SITUATION_CHARS)
                    .with("count", chars),
            );
        } else if super::text::has_unprintable(situation) {
            errors.add(
                "situation",
                Phrase::new("coaching.problem.situation_characters"),
            );
        }
        let talk_via = choice(
            &mut errors,
            "talk_via",
            TALK_VIA,
            &form.talk_via,
            "coaching.problem.talk_via_missing",
        );
        let time_zone = match form.time_zone.trim() {
            "" if talk_via == "video" => {
                errors.add(
                    "time_zone",
                    Phrase::new("coaching.problem.time_zone_missing"),
                );
                None
            }
            "" => None,
            zone => match TIME_ZONES.iter().find(|z| **z == zone) {
                Some(z) => Some(*z),
                None => {
                    errors.add(
                        "time_zone",
                        Phrase::new("coaching.problem.time_zone_unknown"),
                    );
                    None
                }
            },
        };
        if !ticked(&form.adult) {
            errors.add("adult", Phrase::new("coaching.problem.adult_missing"));
        }
        if !ticked(&form.consent) {
            errors.add("consent", Phrase::new("coaching.problem.consent_missing"));
        }
        let source_article = Some(form.article.trim())
            .filter(|s| !s.is_empty() && s.len() <= 200 && !super::text::has_unprintable_in_line(s))
            .map(str::to_string);
        let source_comment = form.comment.trim().parse::<i64>().ok();
        match (name, email, errors.is_empty()) {
            (Some(name), Some(email), true) => Ok(Self {
                name,
                email,
                option: option.to_string(),
                ended_by,
                together_for,
                ended_ago,
                contact_now,
                no_contact_since,
                hope,
                situation: situation.to_string(),
                talk_via,
                time_zone,
                source_article,
                source_comment,
            }),
            _ => Err(errors),
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Received,
    InReview,
    PlanReady,
    CallScheduled,
    Closed,
    Withdrawn,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 6] = [
        Self::Received,
        Self::InReview,
        Self::PlanReady,
        Self::CallScheduled,
        Self::Closed,
        Self::Withdrawn,
    ];

    /// The states the coach may set.
    pub const COACH_SETS: [RequestStatus; 5] = [
        Self::Received,
        Self::InReview,
        Self::PlanReady,
        Self::CallScheduled,
        Self::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::InReview => "in-review",
            Self::PlanReady => "plan-ready",
            Self::CallScheduled => "call-scheduled",
            Self::Closed => "closed",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The status's name in English, for logs and the admin's audit.
    /// Pages and emails say [`Self::label_key`] in the site's language.
    pub fn label(self) -> &'static str {
        match self {
            Self::Received => "Received",
            Self::InReview => "In review",
            Self::PlanReady => "Plan ready",
            Self::CallScheduled => "Call scheduled",
            Self::Closed => "Closed",
            Self::Withdrawn => "Withdrawn",
        }
    }

    /// The key of the status's name as the reader reads it
    /// (`coaching.status.label.*`).
    pub fn label_key(self) -> &'static str {
        match self {
            Self::Received => "coaching.status.label.received",
            Self::InReview => "coaching.status.label.in-review",
            Self::PlanReady => "coaching.status.label.plan-ready",
            Self::CallScheduled => "coaching.status.label.call-scheduled",
            Self::Closed => "coaching.status.label.closed",
            Self::Withdrawn => "coaching.status.label.withdrawn",
        }
    }

    /// The key of what the reader reads on their status page
    /// (`coaching.status.explanation.*`).
    pub fn explanation_key(self) -> &'static str {
        match self {
            Self::Received => "coaching.status.explanation.received",
            Self::InReview => "coaching.status.explanation.in-review",
            Self::PlanReady => "coaching.status.explanation.plan-ready",
            Self::CallScheduled => "coaching.status.explanation.call-scheduled",
            Self::Closed => "coaching.status.explanation.closed",
            Self::Withdrawn => "coaching.status.explanation.withdrawn",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Closed or withdrawn: the retention clock runs.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Closed | Self::Withdrawn)
    }
}

/// A follow-up message's text, or what is wrong with it.
pub fn check_message(raw: &str) -> Result<String, Phrase> {
    let text = raw.replace("\r\n", "\n");
    let text = text.trim();
    let chars = text.chars().count();
    if text.is_empty() {
        return Err(Phrase::new("coaching.problem.message_missing"));
    }
    if chars > MAX_MESSAGE_CHARS {
        return Err(Phrase::new("coaching.problem.message_too_long")
            .with("max", MAX_MESSAGE_CHARS)
            .with("count", chars));
    }
    if super::text::has_unprintable(text) {
        return Err(Phrase::new("coaching.problem.message_characters"));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Strings;

    fn good() -> CoachingForm {
        CoachingForm {
            name: "Sam".into(),
            email: "sam@example.com".into(),
            option: "written-plan".into(),
            ended_by: "they-did".into(),
            together_for: "1-to-3-years".into(),
            ended_ago: "under-a-month".into(),
            contact_now: "no-contact".into(),
            no_contact_since: "2026-11-01".into(),
            hope: "not-sure".into(),
            situation: "We split up after three years.".into(),
            talk_via: "email".into(),
            adult: Some("1".into()),
            consent: Some("1".into()),
            ..CoachingForm::default()
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    #[test]
    fn a_complete_form_is_valid() {
        let r = NewCoachingRequest::parse(&good(), &["written-plan"], today()).unwrap();
        assert_eq!(r.ended_by, "they-did");
        assert_eq!(r.no_contact_since, NaiveDate::from_ymd_opt(2026, 11, 1));
        assert_eq!(r.time_zone, None);
    }

    #[test]
    fn controls_and_noncharacters_are_refused() {
        for (field, bad) in [
            ("name", "Sam\u{FFFF}"),
            ("email", "sam\u{1}@example.com"),
            ("situation", "It ended \u{FFFF}"),
            ("situation", "It ended \u{1B}[2J"),
        ] {
            let mut f = good();
            match field {
                "name" => f.name = bad.into(),
                "email" => f.email = bad.into(),
                _ => f.situation = bad.into(),
            }
            let e = NewCoachingRequest::parse(&f, &["written-plan"], today()).unwrap_err();
            assert!(e.has(field), "{field} {bad:?}: {e:?}");
        }
        let mut f = good();
        f.situation = "Line one\r\n\tLine two".into();
        assert!(NewCoachingRequest::parse(&f, &["written-plan"], today()).is_ok());
        assert_eq!(
            check_message("Hello \u{FFFF}").unwrap_err().key(),
            "coaching.problem.message_characters"
        );
        assert_eq!(
            check_message("Hello\u{0}").unwrap_err().key(),
            "coaching.problem.message_characters"
        );
        assert!(check_message("Hello\r\n\tthere").is_ok());
    }

    #[test]
    fn each_field_is_checked() {
        let mut f = good();
        f.option = "free-therapy".into();
        f.ended_by = "nobody".into();
        f.no_contact_since = "2027-01-01".into();
        f.situation = "x".repeat(MAX_SITUATION_CHARS + 1);
        f.talk_via = "video".into();
        f.adult = None;
        f.consent = Some("0".into());
        let e = NewCoachingRequest::parse(&f, &["written-plan"], today()).unwrap_err();
        for field in [
            "option",
            "ended_by",
            "no_contact_since",
            "situation",
            "time_zone",
            "adult",
            "consent",
        ] {
            assert!(e.has(field), "{field}: {e:?}");
        }
        let situation = e.get("situation").unwrap();
        assert_eq!(situation.key(), "coaching.problem.situation_too_long");
        assert!(situation
            .text(&Strings::english())
            .contains("Nothing was cut: your text is all still here"));
        let mut f = good();
        f.time_zone = "Mars/Olympus".into();
        assert!(NewCoachingRequest::parse(&f, &["written-plan"], today())
            .unwrap_err()
            .has("time_zone"));
    }

    #[test]
    fn statuses_round_trip() {
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::from_code(s.code()), Some(s));
        }
        let t = Strings::english();
        assert_eq!(t.s(label_key(HOPE, "moving-on")), "Moving on");
        assert_eq!(t.s(RequestStatus::InReview.label_key()), "In review");
    }

    #[test]
    fn every_choice_and_status_has_words_in_every_language() {
        let dir = tempfile::tempdir().unwrap();
        for lang in crate::i18n::LANGUAGES {
            let t = Strings::load(lang, dir.path()).unwrap();
            let keys = [
                ENDED_BY,
                TOGETHER_FOR,
                ENDED_AGO,
                CONTACT_NOW,
                HOPE,
                TALK_VIA,
            ]
            .iter()
            .flat_map(|c| c.iter().map(|(_, key)| *key))
            .chain(
                RequestStatus::ALL
                    .iter()
                    .flat_map(|s| [s.label_key(), s.explanation_key()]),
            );
            for key in keys {
                assert_ne!(t.s(key), key, "{lang}: {key}");
            }
        }
        let t = Strings::english();
        for s in RequestStatus::ALL {
            assert_eq!(t.s(s.label_key()), s.label());
        }
        assert_eq!(
            check_message(&"x".repeat(MAX_MESSAGE_CHARS + 1))
                .unwrap_err()
                .text(&t),
            "Please keep a message to 10000 characters or fewer (it has 10001). Nothing was cut."
        );
    }
}
