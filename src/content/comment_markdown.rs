//! Untrusted comment Markdown -> [`SafeHtml`]: raw HTML shown as text,
//! images turned into plain links, then an ammonia allowlist.
use std::collections::HashSet;
use std::sync::OnceLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// HTML that went through the comment sanitiser: the only comment HTML a
/// template may emit raw. Its constructor is private to this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeHtml(String);

impl SafeHtml {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
    /// The text alone, its whitespace collapsed, cut at a word after about
    /// `max_chars` characters (with an ellipsis): to quote a comment.
    pub fn excerpt(&self, max_chars: usize) -> String {
        let text = ammonia::Builder::empty().clean(&self.0).to_string();
        let text = text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&nbsp;", " ")
            .replace("&amp;", "&");
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut out = String::new();
        for word in &words {
            if !out.is_empty() && out.chars().count() + word.chars().count() + 1 > max_chars {
                out.push('…');
                return out;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        out
    }
    /// The text alone, a line per paragraph or line break, whitespace
    /// inside a line collapsed: what the site search shows of a comment.
    pub fn plain_text(&self) -> String {
        let broken = self
            .0
            .replace("</p>", "</p>\n")
            .replace("<br>", "<br>\n")
            .replace("</li>", "</li>\n")
            .replace("</blockquote>", "</blockquote>\n");
        let text = ammonia::Builder::empty().clean(&broken).to_string();
        let text = text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&nbsp;", " ")
            .replace("&amp;", "&");
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }
    /// For HTML read back from our own database. The `body_html` column is
    /// only ever written from [`render_comment`]'s output, so it is not
    /// cleaned again on every page view (re-sanitising on each request is
    /// what makes Isso slow); a database someone edited by hand is outside
    /// this guarantee.
    pub fn from_stored(html: String) -> Self {
        Self(html)
    }
}

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(comment_allowlist)
}

fn comment_allowlist() -> ammonia::Builder<'static> {
    {
        let mut b = ammonia::Builder::empty();
        b.add_tags([
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
        ])
        .add_tag_attributes("a", ["href"])
        .add_tag_attributes("ol", ["start"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("nofollow ugc noopener"))
        .strip_comments(true)
        // A list's start is a number or nothing: anything else is not
        // valid HTML (found by the comment_markdown fuzz target).
        .attribute_filter(|element, attribute, value| {
            if element == "ol" && attribute == "start" && value.trim().parse::<u32>().is_err() {
                None
            } else {
                Some(value.into())
            }
        });
        b
    }
}

/// The comment allowlist plus headings, for the messages of a coaching
/// request (a plan has sections).
fn message_cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = comment_allowlist();
        b.add_tags(["h3", "h4", "h5"]);
        b
    })
}

/// Cleans any HTML to the comment allowlist.
pub fn sanitize(html: &str) -> SafeHtml {
    clean_with(cleaner(), html)
}

fn clean_with(cleaner: &ammonia::Builder<'static>, html: &str) -> SafeHtml {
    // A byte-order mark is invisible junk, and the HTML parser drops it
    // only at the start: drop it everywhere so cleaning is idempotent.
    let html = html.replace('\u{feff}', "");
    // One pass is not always a fixed point: list items outside any list
    // are parsed again into a different tree (found by the
    // comment_markdown fuzz target). Clean until nothing changes.
    let mut clean = cleaner.clean(&html).to_string();
    for _ in 0..4 {
        let again = cleaner.clean(&clean).to_string();
        if again == clean {
            break;
        }
        clean = again;
    }
    SafeHtml(clean)
}

/// Renders a reader's comment.
pub fn render_comment(markdown: &str) -> SafeHtml {
    render(markdown, false)
}

/// Renders a message of a coaching request: like a comment, but headings
/// stay headings (shifted one level down, under the page's own).
pub fn render_message(markdown: &str) -> SafeHtml {
    render(markdown, true)
}

/// How deep quotes and lists may nest in what a reader writes; deeper
/// ones are flattened into the deepest allowed level (10,000 `>` would
/// otherwise make a huge page that is slow to clean and to show).
pub const MAX_NESTING: usize = 8;

/// Drops the quote and list tags nested deeper than [`MAX_NESTING`],
/// keeping their text (a deep list item becomes a line of its own).
fn cap_nesting<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    // For each open container: whether its tags were kept.
    let mut open: Vec<bool> = Vec::new();
    let mut depth = 0usize;
    events.filter_map(move |event| match event {
        Event::Start(Tag::BlockQuote(_)) | Event::Start(Tag::List(_)) => {
            let keep = depth < MAX_NESTING;
            open.push(keep);
            if keep {
                depth += 1;
                Some(event)
            } else {
                None
            }
        }
        Event::Start(Tag::Item) => {
            let keep = open.last().copied().unwrap_or(true);
            open.push(keep);
            keep.then_some(event)
        }
        Event::End(TagEnd::BlockQuote(_)) | Event::End(TagEnd::List(_)) => {
            let keep = open.pop().unwrap_or(true);
            if keep {
                depth = depth.saturating_sub(1);
                Some(event)
            } else {
                None
            }
        }
        Event::End(TagEnd::Item) => {
            if open.pop().unwrap_or(true) {
                Some(event)
            } else {
                Some(Event::HardBreak)
            }
        }
        other => Some(other),
    })
}

fn render(markdown: &str, headings: bool) -> SafeHtml {
    use pulldown_cmark::HeadingLevel;
    let shift = |level: HeadingLevel| match level {
        HeadingLevel::H1 | HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        _ => HeadingLevel::H5,
    };
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_SMART_PUNCTUATION;
    let events = cap_nesting(Parser::new_ext(markdown, options)).map(|event| match event {
        // A single line break stays a line break: readers write
        // "Day 3.\nStill can't eat much.\nBut I slept 6 hours."
        Event::SoftBreak => Event::HardBreak,
        // Raw HTML is shown as the text the reader typed.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        // Images are never embedded: they become links to the image. No
        // link keeps a title: it is not on the allowlist, and one survived
        // cleaning when the link's address was dropped (found by the
        // comment_markdown fuzz target).
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            id,
            ..
        })
        | Event::Start(Tag::Link {
            link_type,
            dest_url,
            id,
            ..
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url,
            title: "".into(),
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        Event::Start(Tag::Heading { level, .. }) if headings => Event::Start(Tag::Heading {
            level: shift(level),
            id: None,
            classes: Vec::new(),
            attrs: Vec::new(),
        }),
        Event::End(TagEnd::Heading(level)) if headings => Event::End(TagEnd::Heading(shift(level))),
        // Headings read as ordinary paragraphs in a comment.
        Event::Start(Tag::Heading { .. }) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::Heading(_)) => Event::End(TagEnd::Paragraph),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() + 64);
    pulldown_cmark::html::push_html(&mut html, events);
    let cleaner = if headings {
        message_cleaner()
    } else {
        cleaner()
    };
    clean_with(cleaner, &html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn deep_nesting_is_flattened_not_rendered() {
        let quotes = format!("{} deep", ">".repeat(10_000));
        let lists = (0..2_000)
            .map(|i| format!("{}- level {i}", "  ".repeat(i)))
            .collect::<Vec<_>>()
            .join("\n");
        let mixed = "> - > - > - > - > - > - > - text".to_string();
        for (input, text) in [(quotes, "deep"), (lists, "level 1999"), (mixed, "text")] {
            for html in [render_comment(&input), render_message(&input)] {
                let html = html.into_string();
                assert!(html.contains(text), "{}", &html[..200.min(html.len())]);
                let opened = count(&html, "<blockquote>") + count(&html, "<ul>");
                assert!(opened <= MAX_NESTING, "{opened} levels");
                assert_eq!(count(&html, "<blockquote>"), count(&html, "</blockquote>"));
                assert_eq!(count(&html, "<ul>"), count(&html, "</ul>"));
                assert!(html.len() < 150_000, "{} bytes", html.len());
            }
        }
        // Eight levels are kept as they are.
        let eight = format!("{} ok", ">".repeat(8));
        assert_eq!(
            count(&render_comment(&eight).into_string(), "<blockquote>"),
            8
        );
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn messages_keep_their_headings_comments_do_not() {
        let md = "## Week one\n\nRest.\n\n<script>x</script>";
        let message = render_message(md).into_string();
        assert!(message.contains("<h3>Week one</h3>"), "{message}");
        assert!(!message.contains("<script"));
        assert!(render_comment(md).into_string().contains("<p>Week one</p>"));
    }

    #[test]
    fn an_excerpt_is_the_text_cut_at_a_word() {
        let html = render_comment("He said *\"we'll see\"* & left.\n\n> <b>quoted</b> line");
        assert_eq!(
            html.excerpt(200),
            "He said “we’ll see” & left. <b>quoted</b> line"
        );
        assert_eq!(html.excerpt(12), "He said…");
    }

    #[test]
    fn a_single_line_break_stays_a_line_break() {
        let md = "Day 3.\nStill can't eat much.\nBut I slept 6 hours.\n\n<br> stays text";
        for html in [render_comment(md), render_message(md)] {
            let html = html.into_string();
            assert!(
                html.contains("<p>Day 3.<br>\nStill can’t eat much.<br>\nBut I slept 6 hours.</p>"),
                "{html}"
            );
            assert!(html.contains("&lt;br&gt; stays text"), "{html}");
        }
    }

    #[test]
    fn markdown_basics_survive() {
        let html = render_comment("Hi *there*, **really**.\n\n> quoted\n\n- one\n- two\n\n`code`")
            .into_string();
        assert!(html.contains("<em>there</em>") && html.contains("<strong>really</strong>"));
        assert!(
            html.contains("<blockquote>")
                && html.contains("<li>one</li>")
                && html.contains("<code>code</code>")
        );
    }

    #[test]
    fn links_get_rel_and_only_safe_schemes() {
        let html = render_comment("[a](https://example.com) [b](javascript:alert(1)) [c](mailto:x@example.com) [d](/relative)").into_string();
        assert!(
            html.contains("<a href=\"https://example.com\" rel=\"nofollow ugc noopener\">a</a>"),
            "{html}"
        );
        assert!(!html.contains("javascript"), "{html}");
        assert!(html.contains("mailto:x@example.com"));
        assert!(!html.contains("href=\"/relative\""));
    }

    #[test]
    fn raw_html_is_text_and_images_are_links() {
        let html = render_comment(
            "<b>bold</b> <script>alert(1)</script>\n\n![a cat](https://example.com/cat.png)",
        )
        .into_string();
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"https://example.com/cat.png\""),
            "{html}"
        );
    }

    proptest! {
        #[test]
        fn sanitising_is_idempotent(input in ".{0,300}") {
            let once = sanitize(&input);
            prop_assert_eq!(sanitize(once.as_str()), once.clone());
            let rendered = render_comment(&input);
            prop_assert_eq!(sanitize(rendered.as_str()), rendered);
            // Messages are cleaned by their own allowlist (with headings).
            let message = render_message(&input);
            prop_assert_eq!(clean_with(message_cleaner(), message.as_str()), message);
        }

        #[test]
        fn sanitising_html_like_input_is_idempotent(input in "(<[a-z]{1,6}( [a-z]{1,5}=\"[^\"]{0,10}\")?>|</[a-z]{1,6}>|[a-z &;<>\"'=:/]{0,8}){0,20}") {
            let once = sanitize(&input);
            prop_assert_eq!(sanitize(once.as_str()), once);
            let message = clean_with(message_cleaner(), &input);
            prop_assert_eq!(clean_with(message_cleaner(), message.as_str()), message);
        }
    }
}
