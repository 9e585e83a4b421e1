//! Which characters a reader's text may hold, and making any text safe to
//! put into XML (feeds, the sitemap).
//!
//! XML 1.0 allows only tab, line feed and carriage return of the C0
//! controls, and never U+FFFE or U+FFFF; a single such character makes a
//! whole feed unreadable. Readers' text refuses them at input, with the
//! other Unicode noncharacters; [`xml_safe`] replaces what older rows may
//! still hold when a feed is written.

/// A character XML 1.0 forbids in a document (escaped or not).
pub fn is_xml_forbidden(c: char) -> bool {
    !matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// A Unicode noncharacter: U+FDD0 to U+FDEF, and the last two code points
/// of every plane (U+FFFE, U+FFFF, U+1FFFE, ...).
pub fn is_noncharacter(c: char) -> bool {
    let n = c as u32;
    (0xFDD0..=0xFDEF).contains(&n) || (n & 0xFFFE) == 0xFFFE
}

/// Whether a reader's text (a comment, a message) has a character that is
/// no text: a control other than tab, line feed and carriage return, or a
/// noncharacter.
pub fn has_unprintable(text: &str) -> bool {
    text.chars()
        .any(|c| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_noncharacter(c))
}

/// Whether a one-line text (a name, an address) has a control character
/// (tab and line breaks included) or a noncharacter.
pub fn has_unprintable_in_line(text: &str) -> bool {
    text.chars().any(|c| c.is_control() || is_noncharacter(c))
}

/// `text` with every character XML forbids replaced by U+FFFD, so stored
/// text written before the input checks can never break a feed.
pub fn xml_safe(text: String) -> String {
    if text.chars().any(is_xml_forbidden) {
        text.chars()
            .map(|c| if is_xml_forbidden(c) { '\u{FFFD}' } else { c })
            .collect()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_forbidden_characters() {
        for c in [
            '\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(is_xml_forbidden(c), "{:?}", c);
        }
        for c in [
            '\t', '\n', '\r', ' ', 'é', '\u{7F}', '\u{E000}', '\u{FFFD}', '😀',
        ] {
            assert!(!is_xml_forbidden(c), "{:?}", c);
        }
    }

    #[test]
    fn noncharacters() {
        for c in [
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{1FFFF}',
            '\u{10FFFE}',
        ] {
            assert!(is_noncharacter(c), "{:?}", c);
        }
        for c in ['\u{FDCF}', '\u{FFFD}', 'a', '\u{1FFFD}'] {
            assert!(!is_noncharacter(c), "{:?}", c);
        }
    }

    #[test]
    fn reader_text() {
        assert!(!has_unprintable("Line one\r\nline two\twith a tab"));
        assert!(has_unprintable("bell \u{7}"));
        assert!(has_unprintable("end \u{FFFF}"));
        assert!(has_unprintable("escape \u{1B}[31m"));
        assert!(has_unprintable_in_line("Sam\nSmith"));
        assert!(!has_unprintable_in_line("Zoë O'Brien"));
    }

    #[test]
    fn xml_safe_replaces_only_forbidden_characters() {
        assert_eq!(
            xml_safe("a\u{1}b\u{FFFF}c\td\n".into()),
            "a\u{FFFD}b\u{FFFD}c\td\n"
        );
        assert_eq!(xml_safe("plain ünïcode".into()), "plain ünïcode");
    }

    proptest::proptest! {
        #[test]
        fn cleaning_for_xml_twice_is_cleaning_once(input in "(\\PC|[\\x00-\\x1f\\x7f\u{fffe}\u{ffff}\u{fdd0}\u{1fffe}\u{feff}])*") {
            let once = xml_safe(input.clone());
            proptest::prop_assert!(!once.chars().any(is_xml_forbidden), "{:?}", once);
            proptest::prop_assert_eq!(once.chars().count(), input.chars().count());
            proptest::prop_assert_eq!(xml_safe(once.clone()), once);
        }
    }
}
