//! A reader's request for personal coaching, validated field by field.
use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::comment::{AuthorName, Email};

/// The most characters the situation may have; longer is refused, never cut.
pub const MAX_SITUATION_CHARS: usize = 10_000;
/// The most characters a follow-up message may have.
pub const MAX_MESSAGE_CHARS: usize = 10_000;

/// A closed list of answers: (stored value, what the reader reads).
pub type Choices = &'static [(&'static str, &'static str)];

pub const ENDED_BY: Choices = &[
    ("i-did", "I did"),
    ("they-did", "They did"),
    ("mutual", "It was mutual"),
    ("complicated", "It is complicated"),
];

pub const TOGETHER_FOR: Choices = &[
    ("under-6-months", "Less than 6 months"),
    ("6-to-12-months", "6 to 12 months"),
    ("1-to-3-years", "1 to 3 years"),
    ("3-to-10-years", "3 to 10 years"),
    ("over-10-years", "More than 10 years"),
];

pub const ENDED_AGO: Choices = &[
    ("this-week", "This week"),
    ("under-a-month", "Less than a month ago"),
    ("1-to-6-months", "1 to 6 months ago"),
    ("6-to-12-months", "6 to 12 months ago"),
    ("over-a-year", "More than a year ago"),
];

pub const CONTACT_NOW: Choices = &[
    ("no-contact", "No contact since a date"),
    ("occasional", "Occasional contact"),
    ("live-together", "We live together"),
    ("share-children-or-home", "We share children or a home"),
];

pub const HOPE: Choices = &[
    ("back-together", "Getting back together"),
    ("moving-on", "Moving on"),
    ("not-sure", "Not sure yet"),
];

pub const TALK_VIA: Choices = &[("email", "Email"), ("video", "Video call")];

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

/// What a stored value means to a reader ("" when unknown).
pub fn label(choices: Choices, value: &str) -> &'static str {
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
pub struct RequestErrors(BTreeMap<&'static str, String>);

impl RequestErrors {
    pub fn get(&self, field: &str) -> Option<&String> {
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
    fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
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
    missing: &str,
) -> &'static str {
    let raw = raw.trim();
    if raw.is_empty() {
        errors.add(field, missing);
        return "";
    }
    match choices.iter().find(|(v, _)| *v == raw) {
        Some((v, _)) => v,
        None => {
            errors.add(field, "Please choose one of the answers listed.");
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
            errors.add(
                "option",
                "Please choose the kind of coaching you would like.",
            );
        } else if !options.contains(&option) {
            errors.add(
                "option",
                "Please choose one of the coaching options listed.",
            );
        }
        let ended_by = choice(
            &mut errors,
            "ended_by",
            ENDED_BY,
            &form.ended_by,
            "Please say who ended the relationship (“It is complicated” is a fine answer).",
        );
        let together_for = choice(
            &mut errors,
            "together_for",
            TOGETHER_FOR,
            &form.together_for,
            "Please say roughly how long you were together.",
        );
        let ended_ago = choice(
            &mut errors,
            "ended_ago",
            ENDED_AGO,
            &form.ended_ago,
            "Please say roughly how long ago it ended.",
        );
        let contact_now = choice(
            &mut errors,
            "contact_now",
            CONTACT_NOW,
            &form.contact_now,
            "Please say what contact you have right now.",
        );
        let mut no_contact_since = None;
        if contact_now == "no-contact" {
            match NaiveDate::parse_from_str(form.no_contact_since.trim(), "%Y-%m-%d") {
                Ok(date) if date > today => errors.add(
                    "no_contact_since",
                    "That date is in the future. Please give the day your no contact began.",
                ),
                Ok(date) => no_contact_since = Some(date),
                Err(_) if form.no_contact_since.trim().is_empty() => errors.add(
                    "no_contact_since",
                    "Please give the day your no contact began (roughly is fine).",
                ),
                Err(_) => errors.add(
                    "no_contact_since",
                    "Please give the date as year-month-day, like 2026-03-14.",
                ),
            }
        }
        let hope = choice(
            &mut errors,
            "hope",
            HOPE,
            &form.hope,
            "Please say what you hope for (“Not sure yet” is a fine answer).",
        );
        // Line breaks count as one character, as the browser counts them.
        let situation = form.situation.replace("\r\n", "\n");
        let situation = situation.trim();
        let chars = situation.chars().count();
        if situation.is_empty() {
            errors.add(
                "situation",
                "Please tell the coach a little about your situation, in your own words.",
            );
        } else if chars > MAX_SITUATION_CHARS {
            errors.add(
                "situation",
                format!(
                    "Please keep this to {MAX_SITUATION_CHARS} characters or fewer (it has {chars}). Nothing was cut: your text is all still here."
                ),
            );
        } else if situation
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            errors.add(
                "situation",
                "The text has characters that cannot be stored.",
            );
        }
        let talk_via = choice(
            &mut errors,
            "talk_via",
            TALK_VIA,
            &form.talk_via,
            "Please choose how you would like to talk.",
        );
        let time_zone = match form.time_zone.trim() {
            "" if talk_via == "video" => {
                errors.add(
                    "time_zone",
                    "Please choose your time zone, so the call can be at a good time for you.",
                );
                None
            }
            "" => None,
            zone => match TIME_ZONES.iter().find(|z| **z == zone) {
                Some(z) => Some(*z),
                None => {
                    errors.add("time_zone", "Please choose a time zone from the list.");
                    None
                }
            },
        };
        if !ticked(&form.adult) {
            errors.add(
                "adult",
                "Coaching is for adults: please confirm you are 18 or older.",
            );
        }
        if !ticked(&form.consent) {
            errors.add(
                "consent",
                "Please agree to how your answers are handled, so the coach may read them.",
            );
        }
        let source_article = Some(form.article.trim())
            .filter(|s| !s.is_empty() && s.len() <= 200)
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

    /// What the reader reads on their status page.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Received => "Your request has arrived safely. The coach reads every request personally and replies within two business days.",
            Self::InReview => "The coach is reading your answers and preparing what comes next.",
            Self::PlanReady => "Your plan is ready: see the coach’s message below (it was also emailed to you).",
            Self::CallScheduled => "Your call is scheduled: the details are in the coach’s message below.",
            Self::Closed => "This request is closed. Thank you for trusting the coach with it; you can still read everything here.",
            Self::Withdrawn => "You withdrew this request. Nothing more will happen with it.",
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

/// A follow-up message's text.
pub fn parse_message(raw: &str) -> Result<String, String> {
    let text = raw.replace("\r\n", "\n");
    let text = text.trim();
    let chars = text.chars().count();
    if text.is_empty() {
        return Err("Please write your message first.".into());
    }
    if chars > MAX_MESSAGE_CHARS {
        return Err(format!(
            "Please keep a message to {MAX_MESSAGE_CHARS} characters or fewer (it has {chars}). Nothing was cut."
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(e.get("situation").unwrap().contains("Nothing was cut"));
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
        assert_eq!(label(HOPE, "moving-on"), "Moving on");
    }
}
