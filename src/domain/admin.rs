//! What an admin account is made of, validated.
use std::fmt;

use crate::i18n::Phrase;

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The most characters a password may have (hashing stays cheap).
pub const MAX_PASSWORD_CHARS: usize = 512;
/// The most characters a display name may have.
pub const MAX_DISPLAY_NAME_CHARS: usize = 80;

/// Passwords people pick first (lower case). A long common password is
/// still a guessed one.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "password1234",
    "password12345",
    "passwordpassword",
    "qwertyuiop12",
    "qwertyuiop123",
    "qwertyuiopasdf",
    "iloveyou1234",
    "iloveyouiloveyou",
    "letmein12345",
    "welcome12345",
    "administrator",
    "administrator1",
    "adminadminadmin",
    "changeme1234",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "superman1234",
    "monkey123456",
    "sunshine1234",
    "princess1234",
    "correcthorsebatterystaple",
    "aaaaaaaaaaaa",
    "abcdefghijkl",
    "abc123abc123",
    "111111111111",
    "000000000000",
    "heartbreak123",
    "kintsugi1234",
    "kintsugikintsugi",
];

/// The name shown on the coach's replies, next to the Coach badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Phrase> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Phrase::new("admin.account.name_missing"));
        }
        let chars = name.chars().count();
        if chars > MAX_DISPLAY_NAME_CHARS {
            return Err(Phrase::new("admin.account.name_too_long")
                .with("max", MAX_DISPLAY_NAME_CHARS)
                .with("count", chars));
        }
        if name.chars().any(char::is_control) {
            return Err(Phrase::new("admin.account.name_unprintable"));
        }
        Ok(Self(name.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that meets the policy. Never printed.
#[derive(Clone)]
pub struct NewPassword(String);

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

impl NewPassword {
    /// Checks length and the common-password list; `email` may not be the
    /// password either.
    pub fn parse(raw: &str, email: &str) -> Result<Self, Phrase> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(Phrase::new("admin.account.password_too_short")
                .with("min", MIN_PASSWORD_CHARS)
                .with("count", chars));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(
                Phrase::new("admin.account.password_too_long").with("max", MAX_PASSWORD_CHARS)
            );
        }
        let lower = raw.to_lowercase();
        let all_same = raw.chars().all(|c| raw.starts_with(c));
        if all_same || COMMON_PASSWORDS.contains(&lower.as_str()) || lower == email.to_lowercase() {
            return Err(Phrase::new("admin.account.password_common"));
        }
        Ok(Self(raw.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_policy_refuses_short_and_common_ones() {
        assert!(NewPassword::parse("short", "a@b.c").is_err());
        assert!(NewPassword::parse("elevenchars", "a@b.c").is_err());
        assert!(NewPassword::parse("Password1234", "a@b.c").is_err());
        assert!(NewPassword::parse("zzzzzzzzzzzzzz", "a@b.c").is_err());
        assert!(NewPassword::parse("coach@example.com", "coach@example.com").is_err());
        assert!(NewPassword::parse("tide lantern orchard", "a@b.c").is_ok());
        let t = crate::i18n::Strings::english();
        assert_eq!(
            NewPassword::parse("elevenchars", "a@b.c").unwrap_err().text(&t),
            "Please choose a password of at least 12 characters (this one has 11). A few unrelated words make a strong one that is easy to remember."
        );
        assert!(DisplayName::parse("  ").is_err());
        assert_eq!(DisplayName::parse(" Maya ").unwrap().as_str(), "Maya");
    }
}
