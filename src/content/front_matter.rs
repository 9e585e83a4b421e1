//! Splits `+++` TOML front matter from a Markdown file and validates it.
//! Every error names the line it is about.
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

/// A problem in one file, at one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// A file split in two: the raw TOML and the Markdown body, with the line
/// the body starts on (1-based) so later errors can point into the file.
#[derive(Debug)]
pub struct Split<'a> {
    pub toml: &'a str,
    pub body: &'a str,
    pub body_first_line: usize,
}

pub fn split(text: &str) -> Result<Split<'_>, LineError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "+++" {
        return Err(LineError {
            line: 1,
            message: "the file must start with a `+++` line, then TOML front matter (title, date...), then another `+++` line".into(),
        });
    }
    let toml_start = first.len();
    let mut offset = toml_start;
    let mut line_no = 1;
    for line in lines {
        line_no += 1;
        if line.trim_end() == "+++" {
            return Ok(Split {
                toml: &text[toml_start..offset],
                body: &text[offset + line.len()..],
                body_first_line: line_no + 1,
            });
        }
        offset += line.len();
    }
    Err(LineError {
        line: 1,
        message: "the front matter opened with `+++` is never closed by another `+++` line".into(),
    })
}

/// Line (1-based, within the whole file) of a byte offset into the TOML.
fn toml_line(toml: &str, offset: usize) -> usize {
    2 + toml[..offset.min(toml.len())].matches('\n').count()
}

/// Parses TOML into `T`, pointing errors at the offending line.
pub fn parse<T: for<'de> Deserialize<'de>>(toml_text: &str) -> Result<T, LineError> {
    toml::from_str(toml_text).map_err(|e| LineError {
        // A missing key is a problem of the whole front matter: point at
        // its opening `+++`.
        line: match e.span() {
            Some(span) if !e.message().starts_with("missing field") => {
                toml_line(toml_text, span.start)
            }
            _ => 1,
        },
        message: format!("front matter: {}", e.message().trim()),
    })
}

/// Front matter of an article.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleFrontMatter {
    pub title: String,
    pub date: TomlDate,
    pub updated: Option<TomlDate>,
    pub slug: Option<String>,
    pub summary: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub draft: bool,
    pub author: Option<String>,
    /// A picture in `content/images/` (its file name): shown under the
    /// title and when the article is shared.
    pub image: Option<String>,
    /// What the picture shows, for readers who cannot see it.
    pub image_alt: Option<String>,
}

/// Front matter of a standalone page (about, privacy, coaching).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageFrontMatter {
    pub title: String,
    pub summary: Option<String>,
    pub updated: Option<TomlDate>,
    /// About page: one line of what the coach offers, for the home page.
    pub intro: Option<String>,
    /// A picture in `content/images/` (the coach's photo on the about page).
    pub image: Option<String>,
    pub image_alt: Option<String>,
}

/// Front matter of a coaching option (`content/coaching/*.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoachingOptionFrontMatter {
    pub title: String,
    /// One or two sentences for the card.
    pub summary: String,
    /// What the reader gets, one line each.
    #[serde(default)]
    pub includes: Vec<String>,
    /// As shown, e.g. "€79".
    pub price: String,
    /// How it happens, e.g. "Written plan by email within 5 business days".
    pub format: String,
    /// Lower comes first.
    #[serde(default)]
    pub weight: i64,
}

/// Front matter of a plan template (`content/plans/*.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFrontMatter {
    pub title: String,
    pub summary: Option<String>,
}

/// A TOML date (`2026-03-14`), local date-time or offset date-time, or a
/// string in one of those forms. A bare date means midnight UTC.
#[derive(Debug, Clone, Copy)]
pub struct TomlDate(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for TomlDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Date(toml::value::Datetime),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Date(dt) => dt.to_string(),
            Raw::Text(s) => s,
        };
        parse_date(&text).map(TomlDate).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a date; write it like 2026-03-14 or 2026-03-14T09:00:00Z"
            ))
        })
    }
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(dt.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_front_matter_and_counts_lines() {
        let s = split("+++\ntitle = \"A\"\n+++\n\nHello\n").unwrap();
        assert_eq!(s.toml, "title = \"A\"\n");
        assert_eq!(s.body, "\nHello\n");
        assert_eq!(s.body_first_line, 4);
        assert_eq!(split("title = 1").unwrap_err().line, 1);
        assert!(split("+++\ntitle = 1\n").is_err());
    }

    #[test]
    fn unknown_keys_and_missing_titles_are_errors_with_lines() {
        let err = parse::<ArticleFrontMatter>("date = 2026-01-01\ntitel = \"x\"\n").unwrap_err();
        assert_eq!(err.line, 3, "{err:?}");
        assert!(err.message.contains("titel"), "{}", err.message);
        let err = parse::<ArticleFrontMatter>("date = 2026-01-01\n").unwrap_err();
        assert!(err.message.contains("title"), "{}", err.message);
    }

    #[test]
    fn dates_accept_toml_dates_and_strings() {
        let fm: ArticleFrontMatter =
            parse("title = \"t\"\ndate = 2026-01-02\nupdated = \"2026-02-03T10:00:00+01:00\"\n")
                .unwrap();
        assert_eq!(fm.date.0.to_rfc3339(), "2026-01-02T00:00:00+00:00");
        assert_eq!(
            fm.updated.unwrap().0.to_rfc3339(),
            "2026-02-03T09:00:00+00:00"
        );
        let err = parse::<ArticleFrontMatter>("title = \"t\"\ndate = \"soon\"\n").unwrap_err();
        assert_eq!(err.line, 3);
    }
}
