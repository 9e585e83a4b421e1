//! The words of the site, one strings file set per language.
//!
//! Every text readers and the coach see in templates and emails comes from
//! `templates/strings/{language}/*.toml` (built in: `en`, `de`), chosen by
//! `[site] language`. A coach may change any wording, or translate the site
//! into another language, with `content/strings.toml`: its keys must be
//! known ones, and for a language without built-in strings it must have
//! them all. Missing or unknown keys, and placeholders that differ from the
//! English ones, stop the start (and `kintsugi check`) with a list.
//!
//! Keys are dotted (`nav.articles`); a table with `one` and `other` is a
//! plural (`comments.count.one`); `{name}` is a placeholder.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Datelike, Utc};

/// The built-in strings: (language, file name, text).
const BUILT_IN: &[(&str, &str, &str)] = &[
    (
        "en",
        "site.toml",
        include_str!("../templates/strings/en/site.toml"),
    ),
    (
        "de",
        "site.toml",
        include_str!("../templates/strings/de/site.toml"),
    ),
    (
        "en",
        "reading.toml",
        include_str!("../templates/strings/en/reading.toml"),
    ),
    (
        "de",
        "reading.toml",
        include_str!("../templates/strings/de/reading.toml"),
    ),
    (
        "en",
        "admin.toml",
        include_str!("../templates/strings/en/admin.toml"),
    ),
    (
        "de",
        "admin.toml",
        include_str!("../templates/strings/de/admin.toml"),
    ),
    (
        "en",
        "coaching.toml",
        include_str!("../templates/strings/en/coaching.toml"),
    ),
    (
        "de",
        "coaching.toml",
        include_str!("../templates/strings/de/coaching.toml"),
    ),
    (
        "en",
        "me.toml",
        include_str!("../templates/strings/en/me.toml"),
    ),
    (
        "de",
        "me.toml",
        include_str!("../templates/strings/de/me.toml"),
    ),
    (
        "en",
        "emails.toml",
        include_str!("../templates/strings/en/emails.toml"),
    ),
    (
        "de",
        "emails.toml",
        include_str!("../templates/strings/de/emails.toml"),
    ),
    (
        "en",
        "nocontact.toml",
        include_str!("../templates/strings/en/nocontact.toml"),
    ),
    (
        "de",
        "nocontact.toml",
        include_str!("../templates/strings/de/nocontact.toml"),
    ),
];

/// The languages with built-in strings.
pub const LANGUAGES: &[&str] = &["en", "de"];

/// The words of one language, and how it writes dates.
#[derive(Debug, Clone)]
pub struct Strings {
    /// The language tag as configured (`en`, `en-GB`, `de`).
    tag: String,
    map: HashMap<String, String>,
}

/// Problems with the strings, each a line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("the site's strings have problems:\n{}", .0.join("\n"))]
pub struct StringsError(pub Vec<String>);

fn flatten(
    prefix: &str,
    value: &toml::Value,
    out: &mut BTreeMap<String, String>,
    problems: &mut Vec<String>,
    file: &str,
) {
    match value {
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        toml::Value::Table(table) => {
            for (key, value) in table {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, value, out, problems, file);
            }
        }
        _ => problems.push(format!("{file}: `{prefix}` must be text")),
    }
}

/// Reads one strings file into dotted keys.
fn parse(text: &str, file: &str) -> Result<BTreeMap<String, String>, Vec<String>> {
    let value: toml::Value = text
        .parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e| vec![format!("{file}: {}", e.message())])?;
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    flatten("", &value, &mut out, &mut problems, file);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The built-in strings of `language` (its base, `de` for `de-AT`), merged.
fn built_in(language: &str) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (lang, file, text) in BUILT_IN.iter().filter(|(l, _, _)| *l == language) {
        let name = format!("templates/strings/{lang}/{file}");
        match parse(text, &name) {
            Ok(map) => {
                for (key, value) in map {
                    if out.insert(key.clone(), value).is_some() {
                        problems.push(format!("{name}: `{key}` is also in another file"));
                    }
                }
            }
            Err(more) => problems.extend(more),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The `{placeholders}` of a text.
fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .collect()
}

/// Every key of `english` in `other`, nothing more, with the same
/// placeholders.
fn compare(
    english: &BTreeMap<String, String>,
    other: &BTreeMap<String, String>,
    name: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, text) in english {
        match other.get(key) {
            None => problems.push(format!("{name}: `{key}` is missing (English: \"{text}\")")),
            Some(theirs) if placeholders(theirs) != placeholders(text) => problems.push(format!(
                "{name}: `{key}` must use the placeholders {:?}, as the English text does",
                placeholders(text)
            )),
            Some(_) => {}
        }
    }
    for key in other.keys().filter(|k| !english.contains_key(*k)) {
        problems.push(format!("{name}: `{key}` is not a known key"));
    }
    problems
}

impl Strings {
    /// The strings for `[site] language`, with the coach's
    /// `content/strings.toml` over them.
    pub fn load(language: &str, content_dir: &Path) -> Result<Self, StringsError> {
        let base = language
            .split(['-', '_'])
            .next()
            .unwrap_or("en")
            .to_lowercase();
        let english = built_in("en").map_err(StringsError)?;
        let mut map = if LANGUAGES.contains(&base.as_str()) {
            built_in(&base).map_err(StringsError)?
        } else {
            BTreeMap::new()
        };
        let own = content_dir.join("strings.toml");
        if own.exists() {
            let text = std::fs::read_to_string(&own)
                .map_err(|e| StringsError(vec![format!("{}: {e}", own.display())]))?;
            let name = own.display().to_string();
            let theirs = parse(&text, &name).map_err(StringsError)?;
            let mut problems: Vec<String> = theirs
                .keys()
                .filter(|k| !english.contains_key(*k))
                .map(|k| format!("{name}: `{k}` is not a known key"))
                .collect();
            for (key, text) in &theirs {
                if let Some(en) = english.get(key) {
                    if placeholders(text) != placeholders(en) {
                        problems.push(format!(
                            "{name}: `{key}` must use the placeholders {:?}, as the English text does",
                            placeholders(en)
                        ));
                    }
                }
            }
            if !problems.is_empty() {
                return Err(StringsError(problems));
            }
            map.extend(theirs);
        }
        let problems = compare(&english, &map, &format!("the `{language}` strings"));
        if !problems.is_empty() {
            return Err(StringsError(problems));
        }
        Ok(Self {
            tag: language.to_string(),
            map: map.into_iter().collect(),
        })
    }

    /// The built-in English strings (tests, and the CLI before settings).
    pub fn english() -> Self {
        Self {
            tag: "en".to_string(),
            map: built_in("en").unwrap_or_default().into_iter().collect(),
        }
    }

    /// The language tag for `<html lang>`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// `og:locale`: `en_GB` for `en-GB`; a language alone gets the region
    /// its strings name (`meta.og_locale`).
    pub fn og_locale(&self) -> String {
        match self.tag.split_once(['-', '_']) {
            Some((lang, region)) => format!("{}_{}", lang.to_lowercase(), region.to_uppercase()),
            None => self.s("meta.og_locale").to_string(),
        }
    }

    /// The text of `key` (the key itself if unknown, which the start-up
    /// check rules out for the built-in keys).
    pub fn s<'a>(&'a self, key: &'a str) -> &'a str {
        self.map.get(key).map_or(key, String::as_str)
    }

    /// The text of `key` with `{name}` replaced by `value`.
    pub fn f(&self, key: &str, name: &str, value: &dyn std::fmt::Display) -> String {
        self.s(key)
            .replace(&format!("{{{name}}}"), &value.to_string())
    }

    /// The text of `key` with two placeholders filled.
    pub fn f2(
        &self,
        key: &str,
        a: &str,
        a_value: &dyn std::fmt::Display,
        b: &str,
        b_value: &dyn std::fmt::Display,
    ) -> String {
        self.f(key, a, a_value)
            .replace(&format!("{{{b}}}"), &b_value.to_string())
    }

    /// The plural of `key` for `n` (`key.one` or `key.other`), `{n}` filled.
    pub fn n(&self, key: &str, n: &dyn std::fmt::Display) -> String {
        let count = n.to_string();
        let form = if count == "1" { "one" } else { "other" };
        self.s(&format!("{key}.{form}")).replace("{n}", &count)
    }

    /// A date as this language writes it: "November 30, 2026" (English in
    /// the US), "30 November 2026" (English elsewhere), "30. November 2026".
    pub fn date(&self, at: DateTime<Utc>) -> String {
        let month = self.s(&format!("date.month.{}", at.month())).to_string();
        let region = self
            .tag
            .split_once(['-', '_'])
            .map(|(_, r)| r.to_uppercase());
        let format = match region.as_deref() {
            Some(r) if self.tag.starts_with("en") && r != "US" => "{day} {month} {year}",
            _ => self.s("date.format"),
        };
        format
            .replace("{day}", &at.day().to_string())
            .replace("{month}", &month)
            .replace("{year}", &at.year().to_string())
    }

    /// A moment with its time of day, in `zone` (an IANA name such as
    /// `Europe/Berlin`) when it is one, else in UTC: "30. November 2026,
    /// 14:05 (Europe/Berlin)".
    pub fn date_time(&self, at: DateTime<Utc>, zone: Option<&str>) -> String {
        let zone: Option<chrono_tz::Tz> = zone.and_then(|z| z.parse().ok());
        let english_us = self.tag == "en" || self.tag.eq_ignore_ascii_case("en-US");
        let clock = if english_us { "%-I:%M %p" } else { "%H:%M" };
        let (date, time, name) = match zone {
            Some(tz) => {
                let local = at.with_timezone(&tz);
                let as_utc = local.naive_local().and_utc();
                (
                    self.date(as_utc),
                    local.format(clock).to_string(),
                    tz.name().replace('_', " "),
                )
            }
            None => (
                self.date(at),
                at.format(clock).to_string(),
                "UTC".to_string(),
            ),
        };
        self.s("date.date_time")
            .replace("{date}", &date)
            .replace("{time}", &time)
            .replace("{zone}", &name)
    }

    /// "just now", "3 hours ago", or the date for older times.
    pub fn relative(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let secs = (now - at).num_seconds().max(0);
        match secs {
            0..=59 => self.s("time.just_now").to_string(),
            60..=3599 => self.n("time.minutes_ago", &(secs / 60)),
            3600..=86_399 => self.n("time.hours_ago", &(secs / 3600)),
            86_400..=2_591_999 => self.n("time.days_ago", &(secs / 86_400)),
            _ => self.f("time.on_date", "date", &self.date(at)),
        }
    }
}

/// Words to say later, in the site's language: a key of the strings and
/// the values of its placeholders. Domain checks return these (they know
/// no language); pages turn them into text with [`Phrase::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl Phrase {
    pub fn new(key: &'static str) -> Self {
        Self {
            key,
            args: Vec::new(),
        }
    }

    /// Fills `{name}` with `value`.
    pub fn with(mut self, name: &'static str, value: impl std::fmt::Display) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The words in `t`'s language.
    pub fn text(&self, t: &Strings) -> String {
        let mut out = t.s(self.key).to_string();
        for (name, value) in &self.args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_language_has_every_english_key_and_placeholder() {
        let english = built_in("en").unwrap();
        assert!(english.len() > 10);
        for lang in LANGUAGES {
            let theirs = built_in(lang).unwrap_or_else(|p| panic!("{p:?}"));
            let problems = compare(&english, &theirs, lang);
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }
    }

    #[test]
    fn dates_plurals_and_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
            .and_utc();
        let en = Strings::load("en", dir.path()).unwrap();
        assert_eq!(en.date(at), "November 30, 2026");
        assert_eq!(en.og_locale(), "en_US");
        let gb = Strings::load("en-GB", dir.path()).unwrap();
        assert_eq!(gb.date(at), "30 November 2026");
        assert_eq!(gb.og_locale(), "en_GB");
        let de = Strings::load("de", dir.path()).unwrap();
        assert_eq!(de.date(at), "30. November 2026");
        assert_eq!(de.og_locale(), "de_DE");
        let later = at + chrono::Duration::hours(2);
        assert_eq!(en.relative(at, later), "2 hours ago");
        assert_eq!(de.relative(at, later), "vor 2 Stunden");
        assert_eq!(
            en.relative(at, at + chrono::Duration::minutes(1)),
            "1 minute ago"
        );
    }

    #[test]
    fn a_coach_may_reword_but_not_invent_or_drop_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("strings.toml"),
            "[time]\njust_now = \"a moment ago\"\n",
        )
        .unwrap();
        let s = Strings::load("en", dir.path()).unwrap();
        assert_eq!(s.s("time.just_now"), "a moment ago");
        std::fs::write(
            dir.path().join("strings.toml"),
            "[time]\njust_nw = \"typo\"\n",
        )
        .unwrap();
        let e = Strings::load("en", dir.path()).unwrap_err().to_string();
        assert!(e.contains("`time.just_nw` is not a known key"), "{e}");
        std::fs::write(
            dir.path().join("strings.toml"),
            "[time.hours_ago]\nother = \"hours ago\"\n",
        )
        .unwrap();
        let e = Strings::load("en", dir.path()).unwrap_err().to_string();
        assert!(e.contains("placeholders"), "{e}");
        // A language without built-in strings needs them all.
        std::fs::remove_file(dir.path().join("strings.toml")).unwrap();
        let e = Strings::load("fr", dir.path()).unwrap_err().to_string();
        assert!(e.contains("`nav.articles` is missing"), "{e}");
    }
}
