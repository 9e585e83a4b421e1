//! The checks behind the fuzz targets, one function per target. Each takes
//! the raw input bytes and panics when an invariant does not hold.
//!
//! This one file is used twice: by the fuzz targets in `fuzz_targets/`
//! (nightly, libFuzzer) and by the replay test `tests/it/fuzz_corpus.rs`
//! (stable, `cargo test`), which runs every saved corpus and regression
//! file through the same functions. Both include it with `#[path]`.
#![allow(dead_code)]

use std::sync::OnceLock;

use kintsugi::content::{comment_markdown, front_matter, markdown};
use kintsugi::domain::coaching::{self, CoachingForm, NewCoachingRequest};
use kintsugi::domain::comment::{AuthorName, CommentBody, CommentForm, Email, NewComment};
use kintsugi::domain::text;
use kintsugi::i18n::{Phrase, Strings};

/// A target's check of one input: panics when an invariant does not hold.
pub type Check = fn(&[u8]);

/// The fuzz targets, by the name of their corpus folder.
pub const TARGETS: &[(&str, Check)] = &[
    ("front_matter", front_matter_file),
    ("article_markdown", article_markdown),
    ("comment_markdown", comment_markdown),
    ("forms", forms),
];

// ---------------------------------------------------------------------------
// (a) Front matter of a content file.

/// A whole content file (`+++` TOML `+++` Markdown): it splits and parses,
/// or says what is wrong at a line inside the front matter. Never panics.
pub fn front_matter_file(data: &[u8]) {
    let file = String::from_utf8_lossy(data);
    let text = file.strip_prefix('\u{feff}').unwrap_or(&file);
    let split = match front_matter::split(&file) {
        Ok(split) => split,
        Err(e) => {
            assert_eq!(e.line, 1, "a split error points at the opening line");
            assert!(!e.message.is_empty());
            return;
        }
    };
    // The file is exactly: opening line, TOML, closing line, body.
    assert!(
        text.ends_with(split.body),
        "the body is the end of the file"
    );
    let head = &text[..text.len() - split.body.len()];
    let mut lines: Vec<&str> = head.split_inclusive('\n').collect();
    assert!(lines.len() >= 2, "{head:?}");
    assert_eq!(lines.remove(0).trim_end(), "+++");
    assert_eq!(lines.pop().map(str::trim_end), Some("+++"));
    assert_eq!(lines.concat(), split.toml, "the TOML is what lies between");
    assert!(
        lines.iter().all(|l| l.trim_end() != "+++"),
        "the first closing line ends the front matter"
    );
    let toml_lines = split.toml.matches('\n').count();
    assert_eq!(split.body_first_line, 3 + toml_lines);
    let last_line = split.body_first_line - 1;

    fn check_error(e: &front_matter::LineError, last_line: usize) {
        assert!(
            (1..=last_line).contains(&e.line),
            "line {} outside the front matter (1..={last_line}): {}",
            e.line,
            e.message
        );
        assert!(e.message.starts_with("front matter: "), "{}", e.message);
    }
    match front_matter::parse::<front_matter::ArticleFrontMatter>(split.toml) {
        Ok(fm) => {
            // What the library does next with a valid front matter.
            let title = markdown::smart_text(&fm.title);
            assert_eq!(title, title.trim());
            for tag in &fm.tags {
                check_slug(tag);
            }
        }
        Err(e) => check_error(&e, last_line),
    }
    if let Err(e) = front_matter::parse::<front_matter::PageFrontMatter>(split.toml) {
        check_error(&e, last_line);
    }
    if let Err(e) = front_matter::parse::<front_matter::CoachingOptionFrontMatter>(split.toml) {
        check_error(&e, last_line);
    }
    if let Err(e) = front_matter::parse::<front_matter::PlanFrontMatter>(split.toml) {
        check_error(&e, last_line);
    }
}

/// Slugs (tag URLs, heading ids) are lower-case words joined by single
/// hyphens, and a slug is its own slug.
pub fn check_slug(text: &str) {
    let slug = markdown::slugify(text);
    assert!(!slug.starts_with('-') && !slug.ends_with('-'), "{slug:?}");
    assert!(!slug.contains("--"), "{slug:?}");
    assert!(
        slug.chars().all(|c| c == '-' || c.is_alphanumeric()),
        "{slug:?}"
    );
    assert_eq!(markdown::slugify(&slug), slug, "slugify({text:?})");
}

// ---------------------------------------------------------------------------
// (b) Article Markdown (trusted) -> HTML.

/// Tags and attributes an article's Markdown makes by itself (when the
/// author wrote no raw HTML).
const ARTICLE_TAGS: &[&str] = &[
    "p",
    "br",
    "em",
    "strong",
    "del",
    "a",
    "img",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "sup",
    "div",
    "span",
];
/// No `style`: the Content-Security-Policy forbids inline styles.
const ARTICLE_ATTRIBUTES: &[&str] = &[
    "href",
    "title",
    "id",
    "class",
    "aria-label",
    "aria-hidden",
    "src",
    "alt",
    "start",
];

pub fn article_markdown(data: &[u8]) {
    let body = String::from_utf8_lossy(data);
    let first_line = 5;
    let resolve = |path: &str| (path == "articles/other.md").then(|| "/articles/other".to_string());
    let words = markdown::ContentWords::default();
    let r = markdown::render(&body, first_line, &resolve, &words);

    let last_line = first_line + body.matches('\n').count();
    for e in &r.errors {
        assert!(
            (first_line..=last_line).contains(&e.line),
            "error at line {} outside the body ({first_line}..={last_line})",
            e.line
        );
        assert!(
            e.message.contains("broken internal link") || e.message.contains("defined twice"),
            "{}",
            e.message
        );
    }
    assert!(r.errors.is_empty() || body.contains("@/") || body.contains("[^"));
    assert!(r.word_count == 0 || !r.plain_text.trim().is_empty());
    assert_eq!(
        r.summary_text,
        r.summary_text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    for entry in &r.toc {
        assert!((2..=3).contains(&entry.level));
        assert!(!entry.id.is_empty());
        assert_eq!(entry.title, entry.title.trim());
    }

    // Without raw HTML (the `<!-- more -->` mark on a line of its own
    // aside: text after it on its line is raw HTML too), the HTML is made
    // by the renderer alone: known tags and attributes, well nested, and
    // every id used once (headings, footnotes and the page's own).
    if body
        .lines()
        .any(|line| line.trim() != "<!-- more -->" && line.contains('<'))
    {
        return;
    }
    for html in [&r.html, &r.summary_html] {
        let tags = parse_tags(html).unwrap_or_else(|e| panic!("{e}\n{html}"));
        check_nesting(&tags).unwrap_or_else(|e| panic!("{e}\n{html}"));
        for tag in &tags {
            assert!(
                ARTICLE_TAGS.contains(&tag.name.as_str()),
                "<{}> in {html}",
                tag.name
            );
            for (name, _) in &tag.attrs {
                assert!(
                    ARTICLE_ATTRIBUTES.contains(&name.as_str()),
                    "<{} {name}=...> in {html}",
                    tag.name
                );
            }
        }
    }
    let tags = parse_tags(&r.html).expect("checked above");
    let mut ids: Vec<String> = tags
        .iter()
        .flat_map(|t| t.attrs.iter())
        .filter(|(name, _)| name == "id")
        .map(|(_, value)| unescape(value))
        .collect();
    for entry in &r.toc {
        assert!(
            ids.contains(&entry.id),
            "toc id {:?} not in the HTML",
            entry.id
        );
    }
    ids.extend(
        [
            "main-content",
            "comments",
            "table-of-contents",
            "site-search",
            "related",
            "top",
        ]
        .map(String::from),
    );
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "an id is used twice in\n{}", r.html);
}

// ---------------------------------------------------------------------------
// (c) Comments (untrusted): Markdown -> SafeHtml, and the sanitiser.

const COMMENT_TAGS: &[&str] = &[
    "p",
    "br",
    "em",
    "strong",
    "del",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "hr",
];
const MESSAGE_HEADINGS: &[&str] = &["h3", "h4", "h5"];

/// Comment HTML keeps to the allowlist: no script, style or image, no
/// event-handler or other attribute beyond `a href rel` and `ol start`,
/// links only to http, https and mailto, always with `rel`.
pub fn check_safe_html(html: &str, headings: bool) {
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "<style", "<img", "<iframe", "<svg", "<form", "<!--",
    ] {
        assert!(!lower.contains(banned), "{banned} in {html}");
    }
    let tags = parse_tags(html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    check_nesting(&tags).unwrap_or_else(|e| panic!("{e}\n{html}"));
    for tag in &tags {
        let name = tag.name.as_str();
        assert!(
            COMMENT_TAGS.contains(&name) || (headings && MESSAGE_HEADINGS.contains(&name)),
            "<{name}> in {html}"
        );
        for (attr, value) in &tag.attrs {
            assert!(
                !attr.starts_with("on"),
                "event handler {attr} on <{name}> in {html}"
            );
            match (name, attr.as_str()) {
                ("a", "href") => {
                    let url: String = unescape(value)
                        .chars()
                        .filter(|c| !c.is_whitespace() && !c.is_control())
                        .collect::<String>()
                        .to_ascii_lowercase();
                    assert!(
                        ["http:", "https:", "mailto:"]
                            .iter()
                            .any(|s| url.starts_with(s)),
                        "link to {value:?} in {html}"
                    );
                }
                ("a", "rel") => assert_eq!(value, "nofollow ugc noopener"),
                ("ol", "start") => assert!(value.parse::<u64>().is_ok(), "start={value:?}"),
                _ => panic!("<{name} {attr}=...> in {html}"),
            }
        }
        if name == "a" && !tag.closing {
            assert!(
                tag.attrs.iter().any(|(a, _)| a == "rel"),
                "a link without rel in {html}"
            );
        }
    }
}

/// Cleaning clean HTML changes nothing.
pub fn check_sanitise_idempotent(input: &str) {
    let once = comment_markdown::sanitize(input);
    assert_eq!(
        comment_markdown::sanitize(once.as_str()),
        once,
        "sanitize is not idempotent for {input:?}"
    );
    let rendered = comment_markdown::render_comment(input);
    assert_eq!(
        comment_markdown::sanitize(rendered.as_str()),
        rendered,
        "a rendered comment changes when sanitised again: {input:?}"
    );
}

pub fn comment_markdown(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let comment = comment_markdown::render_comment(&input);
    check_safe_html(comment.as_str(), false);
    check_depth(comment.as_str());
    let message = comment_markdown::render_message(&input);
    check_safe_html(message.as_str(), true);
    check_depth(message.as_str());
    check_safe_html(comment_markdown::sanitize(&input).as_str(), false);
    check_sanitise_idempotent(&input);

    // A quote of a comment: its text, cut at a word.
    for max in [12, 200] {
        let excerpt = comment.excerpt(max);
        assert_eq!(excerpt, excerpt.trim());
        assert!(
            excerpt.chars().count() <= max + 1 || !excerpt.contains(' '),
            "excerpt({max}) is {excerpt:?}"
        );
    }
}

/// Quotes and lists nest at most `MAX_NESTING` deep.
fn check_depth(html: &str) {
    let mut depth = 0usize;
    for tag in parse_tags(html).expect("checked before") {
        if matches!(tag.name.as_str(), "blockquote" | "ul" | "ol") {
            if tag.closing {
                depth -= 1;
            } else {
                depth += 1;
                assert!(
                    depth <= comment_markdown::MAX_NESTING,
                    "nested {depth} deep"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// (d) Forms: urlencoded body -> form struct -> domain values.

fn english() -> &'static Strings {
    static STRINGS: OnceLock<Strings> = OnceLock::new();
    STRINGS.get_or_init(Strings::english)
}

/// A problem said to the reader is a whole sentence: a known key with
/// every placeholder filled in.
fn check_phrase(phrase: &Phrase) {
    let words = phrase.text(english());
    assert!(!words.trim().is_empty(), "{}", phrase.key());
    assert_ne!(words, phrase.key(), "no English words for {}", phrase.key());
    assert!(!words.contains('{'), "unfilled placeholder: {words}");
}

/// Percent-decodes a whole form body (`+` is a space); broken escapes are
/// kept as they are. Only used to tell whether the reader sent U+FFFD.
fn decode_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match body[i] {
            b'%' if i + 2 < body.len() => match (hex(body[i + 1]), hex(body[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    use actix_web::ResponseError;
    let req = actix_web::test::TestRequest::default()
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .to_http_request();
    match kintsugi::web::parse_form::<T>(&req, body) {
        Ok(form) => Some(form),
        Err(e) => {
            assert_eq!(e.status_code(), 400, "a form that cannot be read is a 400");
            None
        }
    }
}

/// What the strict decoder lets through was not quietly changed: no NUL,
/// and a replacement character only when the reader really sent one.
fn check_field(body: &[u8], value: &str) {
    assert!(!value.contains('\0'), "a NUL byte got through");
    if value.contains('\u{FFFD}') {
        let decoded = decode_body(body);
        assert!(
            decoded.windows(3).any(|w| w == "\u{FFFD}".as_bytes()),
            "U+FFFD made up by the decoder: {value:?}"
        );
    }
}

fn check_name(name: &AuthorName) {
    let s = name.as_str();
    assert!(!s.is_empty() && s == s.trim());
    assert!(s.chars().count() <= kintsugi::domain::comment::MAX_NAME_CHARS);
    assert!(!text::has_unprintable_in_line(s), "{s:?}");
    assert_eq!(
        AuthorName::parse(s).as_ref(),
        Ok(name),
        "a name is its own parse"
    );
}

fn check_email(email: &Email) {
    let s = email.as_str();
    assert!(s.chars().count() <= kintsugi::domain::comment::MAX_EMAIL_CHARS);
    let (local, domain) = s.rsplit_once('@').expect("an address has an @");
    assert!(!local.is_empty() && !domain.is_empty());
    assert!(!text::has_unprintable_in_line(s));
    // Stored addresses are shown again in forms ("remember me") and sent
    // back: the check must accept what it once accepted, unchanged.
    // Found by this target: "x@İ.com" was stored as "x@i\u{307}.com",
    // which the same check then refused
    // (`tests/fuzz/regressions/forms/email-dotted-capital-i`).
    assert_eq!(
        Email::parse(s).ok().as_ref().map(Email::as_str),
        Some(s),
        "a stored address is refused or changed when checked again"
    );
}

pub fn forms(data: &[u8]) {
    if let Some(form) = parse::<CommentForm>(data) {
        for value in [
            &form.name,
            &form.email,
            &form.body,
            &form.token,
            &form.website,
        ] {
            check_field(data, value);
        }
        for value in [&form.parent, &form.notify, &form.remember, &form.private]
            .into_iter()
            .flatten()
        {
            check_field(data, value);
        }
        match NewComment::try_from(&form) {
            Ok(comment) => {
                check_name(&comment.name);
                check_email(&comment.email);
                let body = comment.body.as_str();
                assert!(!body.trim().is_empty());
                assert!(body.chars().count() <= kintsugi::domain::comment::MAX_BODY_CHARS);
                assert!(!text::has_unprintable(body), "{body:?}");
                assert!(!body.ends_with(char::is_whitespace), "{body:?}");
                // An edit sends the stored text back: it must pass again.
                let again = CommentBody::parse(body).expect("a stored body passes again");
                assert!(again.as_str().len() <= body.len());
                assert!(comment.parent_id.is_none_or(|id| id > 0));
                check_safe_html(comment_markdown::render_comment(body).as_str(), false);
            }
            Err(errors) => {
                assert!(!errors.is_empty() && errors.count() >= 1);
                for phrase in [&errors.name, &errors.email, &errors.body]
                    .into_iter()
                    .flatten()
                {
                    check_phrase(phrase);
                }
            }
        }
    }

    if let Some(form) = parse::<CoachingForm>(data) {
        for value in [
            &form.name,
            &form.email,
            &form.option,
            &form.situation,
            &form.time_zone,
            &form.no_contact_since,
            &form.article,
            &form.comment,
        ] {
            check_field(data, value);
        }
        let options = ["written-plan", "video-call"];
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).expect("a date");
        match NewCoachingRequest::parse(&form, &options, today) {
            Ok(request) => {
                check_name(&request.name);
                check_email(&request.email);
                assert!(options.contains(&request.option.as_str()));
                let situation = request.situation.as_str();
                assert!(!situation.is_empty() && situation == situation.trim());
                assert!(situation.chars().count() <= coaching::MAX_SITUATION_CHARS);
                assert!(!text::has_unprintable(situation));
                assert_eq!(
                    request.no_contact_since.is_some(),
                    request.contact_now == "no-contact"
                );
                assert!(request.no_contact_since.is_none_or(|d| d <= today));
                assert!(request
                    .time_zone
                    .is_none_or(|z| coaching::TIME_ZONES.contains(&z)));
                assert!(request.talk_via != "video" || request.time_zone.is_some());
                for (value, choices) in [
                    (request.ended_by, coaching::ENDED_BY),
                    (request.together_for, coaching::TOGETHER_FOR),
                    (request.ended_ago, coaching::ENDED_AGO),
                    (request.contact_now, coaching::CONTACT_NOW),
                    (request.hope, coaching::HOPE),
                    (request.talk_via, coaching::TALK_VIA),
                ] {
                    assert!(!coaching::label_key(choices, value).is_empty(), "{value:?}");
                }
                assert!(request
                    .source_article
                    .as_deref()
                    .is_none_or(|a| !a.is_empty() && a.len() <= 200));
            }
            Err(errors) => {
                assert!(!errors.is_empty());
                let mut seen = 0;
                for field in [
                    "name",
                    "email",
                    "option",
                    "ended_by",
                    "together_for",
                    "ended_ago",
                    "contact_now",
                    "no_contact_since",
                    "hope",
                    "situation",
                    "talk_via",
                    "time_zone",
                    "adult",
                    "consent",
                ] {
                    if let Some(phrase) = errors.get(field) {
                        check_phrase(phrase);
                        seen += 1;
                    }
                }
                assert_eq!(seen, errors.len(), "a problem with no field on the form");
            }
        }
        match coaching::check_message(&form.situation) {
            Ok(message) => {
                assert!(!message.is_empty() && message == message.trim());
                assert!(message.chars().count() <= coaching::MAX_MESSAGE_CHARS);
                check_safe_html(comment_markdown::render_message(&message).as_str(), true);
            }
            Err(phrase) => check_phrase(&phrase),
        }
    }
}

// ---------------------------------------------------------------------------
// A small, strict reader of the HTML our renderers write.

/// One start or end tag.
#[derive(Debug)]
pub struct HtmlTag {
    pub name: String,
    pub closing: bool,
    pub attrs: Vec<(String, String)>,
}

const VOID: &[&str] = &["br", "hr", "img", "input", "wbr"];

/// Reads every tag of `html`; refuses a `<` or `>` that is not part of a
/// tag or comment, and attributes that are not `name="value"`.
pub fn parse_tags(html: &str) -> Result<Vec<HtmlTag>, String> {
    let bytes = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return Err(format!("a bare > at byte {i}")),
            b'<' if html[i..].starts_with("<!--") => {
                let end = html[i + 4..]
                    .find("-->")
                    .ok_or_else(|| format!("an unclosed comment at byte {i}"))?;
                i += 4 + end + 3;
            }
            b'<' => {
                i += 1;
                let closing = bytes.get(i) == Some(&b'/');
                if closing {
                    i += 1;
                }
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                if start == i {
                    return Err(format!("a bare < at byte {}", start - 1));
                }
                let mut tag = HtmlTag {
                    name: html[start..i].to_ascii_lowercase(),
                    closing,
                    attrs: Vec::new(),
                };
                loop {
                    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    match bytes.get(i) {
                        None => return Err("an unclosed tag".into()),
                        Some(b'>') => {
                            i += 1;
                            break;
                        }
                        Some(b'/') if bytes.get(i + 1) == Some(&b'>') => {
                            i += 2;
                            break;
                        }
                        Some(_) => {}
                    }
                    let start = i;
                    while i < bytes.len()
                        && !bytes[i].is_ascii_whitespace()
                        && !matches!(bytes[i], b'=' | b'>' | b'/' | b'"' | b'\'' | b'<')
                    {
                        i += 1;
                    }
                    if start == i {
                        return Err(format!("a broken attribute in <{}>", tag.name));
                    }
                    let name = html[start..i].to_ascii_lowercase();
                    let mut value = String::new();
                    if bytes.get(i) == Some(&b'=') {
                        if bytes.get(i + 1) != Some(&b'"') {
                            return Err(format!("an unquoted {name}= in <{}>", tag.name));
                        }
                        let end = html[i + 2..]
                            .find('"')
                            .ok_or_else(|| format!("an unclosed {name}= in <{}>", tag.name))?;
                        value = html[i + 2..i + 2 + end].to_string();
                        i += 2 + end + 1;
                    }
                    if tag.closing {
                        return Err(format!("attributes on </{}>", tag.name));
                    }
                    tag.attrs.push((name, value));
                }
                tags.push(tag);
            }
            _ => i += 1,
        }
    }
    Ok(tags)
}

/// Every element opened is closed, in order.
pub fn check_nesting(tags: &[HtmlTag]) -> Result<(), String> {
    let mut open: Vec<&str> = Vec::new();
    for tag in tags {
        if VOID.contains(&tag.name.as_str()) {
            if tag.closing {
                return Err(format!("</{}>", tag.name));
            }
        } else if !tag.closing {
            open.push(&tag.name);
        } else if open.pop() != Some(tag.name.as_str()) {
            return Err(format!("</{}> closes nothing open: {open:?}", tag.name));
        }
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("never closed: {open:?}"))
    }
}

/// The few entities our renderers write, decoded.
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}
