//! The rules applied when a comment is posted: which comments wait for the
//! coach, and why.

/// Why a comment waits for the coach (stored, comma-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    FirstComment,
    Links,
    BlockedWord,
    PersonalDetails,
    Crisis,
    Private,
}

impl HoldReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::FirstComment => "first-comment",
            Self::Links => "links",
            Self::BlockedWord => "blocked-word",
            Self::PersonalDetails => "personal-details",
            Self::Crisis => "crisis",
            Self::Private => "private",
        }
    }

    /// How the coach's queue names it (`admin.reason.*`).
    pub fn label(self) -> crate::i18n::Phrase {
        crate::i18n::Phrase::new(match self {
            Self::FirstComment => "admin.reason.first_comment",
            Self::Links => "admin.reason.links",
            Self::BlockedWord => "admin.reason.blocked_word",
            Self::PersonalDetails => "admin.reason.personal_details",
            Self::Crisis => "admin.reason.crisis",
            Self::Private => "admin.reason.private",
        })
    }

    /// The key of why a comment waits, as the end of a sentence in the
    /// coach's email ("It waits because ..."): `emails.coach.reason.*`.
    pub fn explanation_key(self) -> &'static str {
        match self {
            Self::FirstComment => "emails.coach.reason.first_comment",
            Self::Links => "emails.coach.reason.links",
            Self::BlockedWord => "emails.coach.reason.blocked_word",
            Self::PersonalDetails => "emails.coach.reason.personal_details",
            Self::Crisis => "emails.coach.reason.crisis",
            Self::Private => "emails.coach.reason.private",
        }
    }

    /// The explanations of several reasons as one phrase in `t`'s
    /// language: "a, b and c".
    pub fn explain_all(reasons: &[Self], t: &crate::i18n::Strings) -> String {
        let parts: Vec<&str> = reasons.iter().map(|r| t.s(r.explanation_key())).collect();
        match parts.split_last() {
            None => t.s("emails.coach.reason.none").to_string(),
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => t.f2(
                "emails.coach.reason.list",
                "rest",
                &rest.join(", "),
                "last",
                last,
            ),
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::FirstComment,
            Self::Links,
            Self::BlockedWord,
            Self::PersonalDetails,
            Self::Crisis,
            Self::Private,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }
}

/// Codes joined for storage.
pub fn reasons_to_text(reasons: &[HoldReason]) -> String {
    reasons
        .iter()
        .map(|r| r.code())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn reasons_from_text(text: &str) -> Vec<HoldReason> {
    text.split(',').filter_map(HoldReason::from_code).collect()
}

/// Site-configurable word lists.
#[derive(Debug, Clone)]
pub struct ModerationRules {
    /// Words that hold a comment (matched as whole words, any case).
    pub blocklist: Vec<String>,
    /// Phrases about self-harm or abuse (matched anywhere, any case).
    pub crisis_phrases: Vec<String>,
}

/// Phrases that hold a comment and show crisis resources.
pub const DEFAULT_CRISIS_PHRASES: &[&str] = &[
    "kill myself",
    "killing myself",
    "end my life",
    "ending my life",
    "want to die",
    "wanna die",
    "suicide",
    "suicidal",
    "hurt myself",
    "hurting myself",
    "self-harm",
    "self harm",
    "no reason to live",
    "don't want to live",
    "don’t want to live",
    "hits me",
    "hit me",
    "beats me",
    "chokes me",
    "choked me",
    "threatened to kill",
    "afraid for my life",
    "afraid for my safety",
    "scared for my life",
    "abusive",
    "abuse",
    "stalking me",
];

impl Default for ModerationRules {
    fn default() -> Self {
        Self {
            blocklist: Vec::new(),
            crisis_phrases: DEFAULT_CRISIS_PHRASES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// What the rules say about a text, before the database is asked whether
/// the writer is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    pub reasons: Vec<HoldReason>,
    pub urgent: bool,
}

impl ModerationRules {
    pub fn assess(&self, body: &str, private: bool) -> Assessment {
        let lower = body.to_lowercase();
        let mut reasons = Vec::new();
        if count_links(&lower) >= 2 {
            reasons.push(HoldReason::Links);
        }
        if self
            .blocklist
            .iter()
            .any(|w| contains_word(&lower, &w.to_lowercase()))
        {
            reasons.push(HoldReason::BlockedWord);
        }
        if has_personal_details(body) {
            reasons.push(HoldReason::PersonalDetails);
        }
        let urgent = self
            .crisis_phrases
            .iter()
            .map(|p| p.trim().to_lowercase())
            .any(|p| !p.is_empty() && lower.contains(&p));
        if urgent {
            reasons.push(HoldReason::Crisis);
        }
        if private {
            reasons.push(HoldReason::Private);
        }
        Assessment { reasons, urgent }
    }
}

/// Where a reader's new comment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Shown at once.
    Publish,
    /// Waits for the coach.
    Hold,
    /// Kept out of sight as spam (a bot-like post).
    Spam,
}

/// The moderation policy for a new comment, from the `reasons` its text
/// gave ([`ModerationRules::assess`]), whether it was sent like a bot, and
/// whether its writer already has a published comment: a writer's first
/// comment waits for the coach ([`HoldReason::FirstComment`] goes first
/// among the reasons), as does any comment with a reason. Returns the
/// verdict and the reasons to store.
pub fn decide(
    mut reasons: Vec<HoldReason>,
    bot_like: bool,
    known_writer: bool,
) -> (Verdict, Vec<HoldReason>) {
    if !known_writer && !reasons.contains(&HoldReason::FirstComment) {
        reasons.insert(0, HoldReason::FirstComment);
    }
    let verdict = if bot_like {
        Verdict::Spam
    } else if reasons.is_empty() {
        Verdict::Publish
    } else {
        Verdict::Hold
    };
    (verdict, reasons)
}

/// Counts URLs and Markdown/autolinks in a lower-cased text.
pub fn count_links(lower: &str) -> usize {
    let mut count = 0;
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &lower[i..];
        if rest.starts_with("http://") || rest.starts_with("https://") || rest.starts_with("www.") {
            count += 1;
            i += rest.find(char::is_whitespace).unwrap_or(rest.len()).max(1);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    count
}

fn contains_word(lower: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    lower.match_indices(word).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// A phone number, an email address or an @handle.
pub fn has_personal_details(text: &str) -> bool {
    has_phone_number(text) || has_email(text) || has_handle(text)
}

fn has_phone_number(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()))
            || chars[i] == '('
        {
            let start = i;
            let mut digits = 0;
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_digit() || " -.()+/".contains(chars[j]))
                && j - start < 24
            {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                }
                j += 1;
            }
            let run: String = chars[start..j].iter().collect();
            let run = run.trim();
            if digits >= 7 && !looks_like_date_or_number(run) {
                return true;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

/// `2026-01-05`, `12/03/2025`, `1,000,000` and plain years are not phones.
fn looks_like_date_or_number(run: &str) -> bool {
    let parts: Vec<&str> = run
        .split(['-', '/', '.', ' '])
        .filter(|p| !p.is_empty())
        .collect();
    parts.len() == 3
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && (parts[0].len() == 4 || parts[2].len() == 4)
        && parts.iter().filter(|p| p.len() <= 2).count() == 2
}

fn has_email(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || "<>()[],;\"'".contains(c))
        .any(|word| match word.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.ends_with('.')
                    && domain.len() > 2
            }
            None => false,
        })
}

fn has_handle(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        c == '@'
            && (i == 0 || chars[i - 1].is_whitespace() || "([".contains(chars[i - 1]))
            && chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == '.')
                .count()
                >= 2
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_comment_waits_and_a_known_writer_is_published() {
        use HoldReason::*;
        assert_eq!(decide(vec![], false, true), (Verdict::Publish, vec![]));
        assert_eq!(
            decide(vec![], false, false),
            (Verdict::Hold, vec![FirstComment])
        );
        assert_eq!(
            decide(vec![Links], false, false),
            (Verdict::Hold, vec![FirstComment, Links])
        );
        assert_eq!(
            decide(vec![Crisis], false, true),
            (Verdict::Hold, vec![Crisis])
        );
        assert_eq!(decide(vec![], true, true), (Verdict::Spam, vec![]));
        assert_eq!(
            decide(vec![], true, false),
            (Verdict::Spam, vec![FirstComment])
        );
    }

    #[test]
    fn reasons_read_as_words() {
        let t = crate::i18n::Strings::english();
        assert_eq!(
            HoldReason::explain_all(&[HoldReason::FirstComment, HoldReason::PersonalDetails], &t),
            "it is the first comment from this email address and it seems to include personal details (a phone number, an email address or a handle)"
        );
        assert_eq!(
            HoldReason::explain_all(&[HoldReason::Links], &t),
            "it has two or more links"
        );
        assert_eq!(
            HoldReason::explain_all(
                &[HoldReason::Links, HoldReason::Crisis, HoldReason::Private],
                &t
            ),
            "it has two or more links, it matched the crisis phrases and it is a private question"
        );
        let dir = tempfile::tempdir().unwrap();
        let de = crate::i18n::Strings::load("de", dir.path()).unwrap();
        assert_eq!(
            HoldReason::explain_all(&[HoldReason::Links, HoldReason::Private], &de),
            "er zwei oder mehr Links enthält und er eine private Frage ist"
        );
        assert_eq!(
            HoldReason::explain_all(&[], &de),
            "jeder Beitrag zuerst geprüft wird"
        );
    }

    fn rules() -> ModerationRules {
        ModerationRules {
            blocklist: vec!["casino".into()],
            ..ModerationRules::default()
        }
    }

    #[test]
    fn links_hold_from_two() {
        assert_eq!(count_links("see https://a.example and www.b.example"), 2);
        assert!(rules()
            .assess("one https://a.example link", false)
            .reasons
            .is_empty());
        assert_eq!(
            rules()
                .assess("https://a.example https://b.example", false)
                .reasons,
            vec![HoldReason::Links]
        );
    }

    #[test]
    fn blocked_words_match_whole_words() {
        assert_eq!(
            rules().assess("Best CASINO here", false).reasons,
            vec![HoldReason::BlockedWord]
        );
        assert!(rules().assess("casinos aside", false).reasons.is_empty());
    }

    #[test]
    fn personal_details_are_spotted() {
        for text in [
            "call me on 555-123-4567",
            "+44 7700 900123 is his",
            "mail jo@example.com",
            "he is @jonny_b on insta",
            "(555) 123 4567",
        ] {
            assert!(has_personal_details(text), "{text}");
        }
        for text in [
            "we broke up on 2026-01-05",
            "after 12/03/2025 and 1,000 days",
            "it was 3 years",
            "email me at the address",
            "a@b",
        ] {
            assert!(!has_personal_details(text), "{text}");
        }
    }

    #[test]
    fn crisis_phrases_are_urgent() {
        let a = rules().assess("Some days I want to die.", false);
        assert!(a.urgent);
        assert_eq!(a.reasons, vec![HoldReason::Crisis]);
        assert!(!rules().assess("I am sad but okay.", false).urgent);
    }

    #[test]
    fn private_questions_are_held_and_codes_round_trip() {
        let a = rules().assess("Just for you", true);
        assert_eq!(a.reasons, vec![HoldReason::Private]);
        let all = [
            HoldReason::FirstComment,
            HoldReason::Links,
            HoldReason::Crisis,
        ];
        assert_eq!(reasons_from_text(&reasons_to_text(&all)), all);
    }
}
