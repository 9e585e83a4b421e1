//! A reader's new comment, validated field by field. What is wrong is said
//! as a [`Phrase`] (`comment.error.*` of the strings): the page says it in
//! the site's language (`phrase.text(&state.strings)`).
use std::fmt;

use crate::i18n::Phrase;

/// The most characters a name may have.
pub const MAX_NAME_CHARS: usize = 80;
/// The most characters an email address may have (RFC 5321).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The most characters a comment may have; longer ones are refused, never cut.
pub const MAX_BODY_CHARS: usize = 5000;

/// The public name a commenter chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorName(String);

impl AuthorName {
    pub fn parse(raw: &str) -> Result<Self, Phrase> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Phrase::new("comment.error.name_missing"));
        }
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(Phrase::new("comment.error.name_too_long")
                .with("max", MAX_NAME_CHARS)
                .with("chars", chars));
        }
        if super::text::has_unprintable_in_line(name) {
            return Err(Phrase::new("comment.error.name_unprintable"));
        }
        Ok(Self(name.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: checked for shape, never shown to other readers.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Phrase> {
        let email = raw.trim();
        if email.is_empty() {
            return Err(Phrase::new("comment.error.email_missing"));
        }
        let chars = email.chars().count();
        if chars > MAX_EMAIL_CHARS {
            return Err(Phrase::new("comment.error.email_too_long").with("max", MAX_EMAIL_CHARS));
        }
        let invalid = || Phrase::new("comment.error.email_invalid");
        if super::text::has_unprintable_in_line(email) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        // Lower case first, then checked: lower case can add characters
        // ("İ" becomes "i" and a combining dot), and what is stored must
        // pass this same check again.
        let domain = domain.to_lowercase();
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || c == '@'
                    || c == '<'
                    || c == '>'
                    || c == ','
                    || c == ';'
                    || c == '"'
            });
        if !(domain_ok && local_ok) {
            return Err(invalid());
        }
        let email = format!("{local}@{domain}");
        // The mailer's own parser has the last word: an address it would
        // refuse would leave the reader's mail unsent for good.
        if email.parse::<lettre::Address>().is_err() {
            return Err(invalid());
        }
        Ok(Self(email))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(***)")
    }
}

/// The Markdown text of a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    pub fn parse(raw: &str) -> Result<Self, Phrase> {
        // Browsers send line breaks as CRLF and count them as one
        // character against the field's maxlength: so does the limit.
        let body = raw.replace("\r\n", "\n");
        let body = body.trim_end();
        let body = body.trim_start_matches(['\n', '\r']);
        if body.trim().is_empty() {
            return Err(Phrase::new("comment.error.body_missing"));
        }
        let chars = body.chars().count();
        if chars > MAX_BODY_CHARS {
            return Err(Phrase::new("comment.error.body_too_long")
                .with("chars", chars)
                .with("max", MAX_BODY_CHARS)
                .with("over", chars - MAX_BODY_CHARS));
        }
        if super::text::has_unprintable(body) {
            return Err(Phrase::new("comment.error.body_unprintable"));
        }
        Ok(Self(body.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the reader typed, as received (kept to re-show the form).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub body: String,
    /// The comment this replies to.
    pub parent: Option<String>,
    pub notify: Option<String>,
    pub remember: Option<String>,
    pub private: Option<String>,
    /// The signed form token.
    #[serde(default)]
    pub token: String,
    /// The honeypot: hidden from people, filled by bots.
    #[serde(default)]
    pub website: String,
}

/// A field-by-field list of problems, said in the page's language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    pub name: Option<Phrase>,
    pub email: Option<Phrase>,
    pub body: Option<Phrase>,
}

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.body.is_none()
    }
    /// How many fields need fixing.
    pub fn count(&self) -> usize {
        [&self.name, &self.email, &self.body]
            .iter()
            .filter(|e| e.is_some())
            .count()
    }
}

/// A valid new comment from a reader.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub name: AuthorName,
    pub email: Email,
    pub body: CommentBody,
    pub parent_id: Option<i64>,
    pub notify_replies: bool,
    pub remember: bool,
    pub private: bool,
}

fn checked(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| !v.is_empty() && v != "0" && v != "off")
}

impl TryFrom<&CommentForm> for NewComment {
    type Error = FieldErrors;

    fn try_from(form: &CommentForm) -> Result<Self, FieldErrors> {
        let name = AuthorName::parse(&form.name);
        let email = Email::parse(&form.email);
        let body = CommentBody::parse(&form.body);
        match (name, email, body) {
            (Ok(name), Ok(email), Ok(body)) => Ok(Self {
                name,
                email,
                body,
                parent_id: form
                    .parent
                    .as_deref()
                    .and_then(|p| p.trim().parse::<i64>().ok())
                    .filter(|id| *id > 0),
                notify_replies: checked(&form.notify),
                remember: checked(&form.remember),
                private: checked(&form.private),
            }),
            (name, email, body) => Err(FieldErrors {
                name: name.err(),
                email: email.err(),
                body: body.err(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::i18n::Strings;

    #[test]
    fn names_are_trimmed_and_limited() {
        assert_eq!(AuthorName::parse("  Sam ").unwrap().as_str(), "Sam");
        assert!(AuthorName::parse("   ").is_err());
        assert!(AuthorName::parse(&"é".repeat(80)).is_ok());
        let err = AuthorName::parse(&"é".repeat(81)).unwrap_err();
        assert_eq!(
            err.text(&Strings::english()),
            "Please keep the name to 80 characters or fewer (it has 81)."
        );
    }

    #[test]
    fn controls_and_noncharacters_are_refused() {
        for bad in ["Sam\u{1}", "Sam\u{FFFF}", "Sam\u{FDD0}", "Sam\tSmith"] {
            assert_eq!(
                AuthorName::parse(bad).unwrap_err().key(),
                "comment.error.name_unprintable",
                "{bad:?}"
            );
        }
        assert!(Email::parse("sam\u{FFFF}@example.com").is_err());
        assert!(Email::parse("sam\u{8}@example.com").is_err());
        for bad in [
            "Hi \u{0} there",
            "Hi\u{B}there",
            "Hi \u{FFFF}",
            "Hi \u{1FFFE}",
        ] {
            let err = CommentBody::parse(bad).unwrap_err();
            assert_eq!(err.key(), "comment.error.body_unprintable", "{bad:?}");
            assert!(!err.text(&Strings::english()).is_empty());
        }
        assert!(CommentBody::parse("Line one\r\nline two\twith a tab").is_ok());
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert_eq!(
            Email::parse("Sam@Example.COM").unwrap().as_str(),
            "Sam@example.com"
        );
        for bad in [
            "",
            "sam",
            "sam@",
            "@x.com",
            "sam@x",
            "sam @x.com",
            "sam@x..com",
            "a@b.c.",
            // The mailer refuses these: they must not pass the form.
            "Bcc:evil@example.com",
            ".hi@example.com",
            "hi.@example.com",
            "hi..dots@example.com",
            "x?cc=...@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        for good in ["o'brien+tag@example.com", "sam.j@mail.example.org"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        assert!(!format!("{:?}", Email::parse("a@b.co").unwrap()).contains("a@b"));
    }

    #[test]
    fn bodies_are_refused_not_cut_when_too_long() {
        assert!(CommentBody::parse(&"x".repeat(5000)).is_ok());
        let err = CommentBody::parse(&"x".repeat(5001))
            .unwrap_err()
            .text(&Strings::english());
        assert!(
            err.contains("5001") && err.contains("nothing has been cut"),
            "{err}"
        );
        assert_eq!(
            CommentBody::parse("💔 ok\r\nnext").unwrap().as_str(),
            "💔 ok\nnext"
        );
    }

    #[test]
    fn problems_are_said_in_the_site_language() {
        let dir = tempfile::tempdir().unwrap();
        let de = Strings::load("de", dir.path()).unwrap();
        let err = CommentBody::parse(&"x".repeat(5003)).unwrap_err();
        assert_eq!(err.key(), "comment.error.body_too_long");
        let text = err.text(&de);
        assert!(
            text.contains("5003") && text.contains("5000") && text.contains("um 3 Zeichen"),
            "{text}"
        );
        assert!(!text.contains('{'), "{text}");
        let text = Email::parse("sam").unwrap_err().text(&de);
        assert!(text.contains("E-Mail-Adresse"), "{text}");
    }

    #[test]
    fn every_field_error_is_reported_at_once() {
        let form = CommentForm {
            body: "hi".into(),
            ..CommentForm::default()
        };
        let errors = NewComment::try_from(&form).unwrap_err();
        assert!(errors.name.is_some() && errors.email.is_some() && errors.body.is_none());
    }
}
