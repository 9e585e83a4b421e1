//! Trusted article Markdown -> HTML, with heading anchors, a table of
//! contents, a summary, plain text for search and checked internal links.
use std::collections::HashSet;
use std::sync::Arc;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::front_matter::LineError;
use super::media::{ImageKind, MediaFile};
use crate::html;

/// One heading of an article's table of contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocEntry {
    pub level: u8,
    pub id: String,
    pub title: String,
}

#[derive(Debug, Default)]
pub struct Rendered {
    pub html: String,
    pub toc: Vec<TocEntry>,
    /// HTML before `<!-- more -->`, or else the first paragraph.
    pub summary_html: String,
    pub summary_text: String,
    pub plain_text: String,
    pub word_count: usize,
    pub errors: Vec<LineError>,
}

/// Ids our own templates use; headings never take them.
const RESERVED_IDS: &[&str] = &[
    "main-content",
    "comments",
    "table-of-contents",
    "site-search",
    "related",
    "top",
];

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Turns text into a URL/id fragment: lower case, letters and digits kept,
/// everything else collapsed to single hyphens.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            // Lower case may add a combining mark ('İ' -> "i\u{307}"):
            // only letters and digits are kept, so a slug is its own slug.
            out.extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
        } else if c != '\'' && c != '’' {
            pending_dash = true;
        }
    }
    out
}

fn level_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

struct OpenHeading<'a> {
    level: u8,
    id: Option<String>,
    classes: Vec<CowStr<'a>>,
    events: Vec<Event<'a>>,
    text: String,
}

/// Renders a trusted Markdown body. `resolve` maps an internal link target
/// such as `articles/other.md` to its URL; `first_line` is the file line the
/// body starts on, so errors point into the file.
/// The few words the article markup itself carries (for screen readers),
/// in the site's language (`ContentWords::in_language`).
#[derive(Debug, Clone)]
pub struct ContentWords {
    /// `{n}`: the footnote's number.
    pub footnote: String,
    pub back_to_text: String,
    pub done: String,
    pub to_do: String,
    /// `{title}`: the heading's text.
    pub section_link: String,
}

impl ContentWords {
    /// The words in the language of `t`.
    pub fn in_language(t: &crate::i18n::Strings) -> Self {
        Self {
            footnote: t.s("article_markup.footnote").to_string(),
            back_to_text: t.s("article_markup.back_to_text").to_string(),
            done: t.s("article_markup.done").to_string(),
            to_do: t.s("article_markup.to_do").to_string(),
            section_link: t.s("article_markup.section_link").to_string(),
        }
    }
}

impl Default for ContentWords {
    fn default() -> Self {
        Self {
            footnote: "Footnote {n}".into(),
            back_to_text: "Back to the text".into(),
            done: "Done:".into(),
            to_do: "To do:".into(),
            section_link: "Link to the section {title}".into(),
        }
    }
}

/// How `![alt](@/media/2024/05/photo.jpg "Caption")` finds its picture.
pub struct MediaImages<'a> {
    /// A path under `content/media/` to its picture, or the problem to
    /// report.
    pub lookup: &'a dyn Fn(&str) -> Result<Arc<MediaFile>, String>,
    /// The first picture loads at once (it is likely on the first
    /// screen); the others (and all of them when false) lazily.
    pub first_eager: bool,
}

/// How wide a picture of the article's text is shown (the text column,
/// `--measure` in `site.css`, is at most about 40rem).
const IMAGE_SIZES: &str = "(min-width: 42rem) 40rem, 100vw";

/// An article picture's `<img>` (in a `<picture>` with a WebP source when
/// there are WebP copies).
fn media_img(file: &MediaFile, alt: &str, eager: bool) -> String {
    let mut img = format!(
        "<img src=\"{src}\" alt=\"{alt}\" width=\"{w}\" height=\"{h}\" loading=\"{loading}\" decoding=\"async\"",
        src = html::escape(&file.url()),
        alt = html::escape(alt),
        w = file.width,
        h = file.height,
        loading = if eager { "eager" } else { "lazy" },
    );
    if let Some(srcset) = file.srcset() {
        img.push_str(&format!(
            " srcset=\"{}\" sizes=\"{IMAGE_SIZES}\"",
            html::escape(&srcset)
        ));
    }
    img.push('>');
    match file.webp_srcset() {
        Some(webp) => format!(
            "<picture><source type=\"{}\" srcset=\"{}\" sizes=\"{IMAGE_SIZES}\">{img}</picture>",
            ImageKind::Webp.mime(),
            html::escape(&webp)
        ),
        None => img,
    }
}

/// A `@/media/` picture being read: its alt text gathers until its end.
struct OpenImage {
    target: String,
    title: String,
    alt: String,
    line: usize,
    /// Images written inside its alt text (their text joins the alt).
    nested: usize,
}

/// Renders a trusted Markdown body; `@/media/` pictures are reported as
/// missing (see [`render_with_media`]).
pub fn render(
    body: &str,
    first_line: usize,
    resolve: &dyn Fn(&str) -> Option<String>,
    words: &ContentWords,
) -> Rendered {
    let none = |path: &str| Err(format!("there is no file content/media/{path}"));
    render_with_media(
        body,
        first_line,
        resolve,
        &MediaImages {
            lookup: &none,
            first_eager: true,
        },
        words,
    )
}

/// Renders a trusted Markdown body, with pictures of the media library:
/// `![alt](@/media/2024/05/photo.jpg)` gets its hashed address, size and
/// smaller copies; with a title, alone in its paragraph, it is a
/// `<figure>` with the title as its `<figcaption>`. A missing file or an
/// empty alt text is an error at its line.
pub fn render_with_media(
    body: &str,
    first_line: usize,
    resolve: &dyn Fn(&str) -> Option<String>,
    media: &MediaImages,
    words: &ContentWords,
) -> Rendered {
    let line_of = |offset: usize| first_line + body[..offset.min(body.len())].matches('\n').count();
    let mut out = Rendered::default();
    let mut used_ids: HashSet<String> = RESERVED_IDS.iter().map(|s| s.to_string()).collect();
    let mut events: Vec<Event> = Vec::new();
    let mut heading: Option<OpenHeading> = None;
    let mut more_at: Option<usize> = None;
    // A `<!-- more -->` inside a quote, list or footnote cuts the summary
    // after that outer block, so the summary's HTML is whole.
    let mut more_pending = false;
    let mut depth = 0usize;
    let mut first_paragraph: Option<(usize, Option<usize>)> = None;
    // Footnotes are numbered in order of first mention. Their ids
    // (`fn-x`, `fnref-x`) are taken from the same set as the headings'
    // ids, so no id is used twice ("## Fn 1" and `[^1]`, `[^a b]` and
    // `[^a-b]`).
    let mut footnotes: Vec<(String, String)> = Vec::new();
    let mut footnote = |label: &str, used_ids: &mut HashSet<String>| {
        if let Some(i) = footnotes.iter().position(|(l, _)| l == label) {
            return (i + 1, footnotes[i].1.clone(), false);
        }
        let base = match slugify(label) {
            slug if slug.is_empty() => "note".to_string(),
            slug => slug,
        };
        let mut id = base.clone();
        let mut n = 2;
        while used_ids.contains(&format!("fn-{id}")) || used_ids.contains(&format!("fnref-{id}")) {
            id = format!("{base}-{n}");
            n += 1;
        }
        used_ids.insert(format!("fn-{id}"));
        used_ids.insert(format!("fnref-{id}"));
        footnotes.push((label.to_string(), id.clone()));
        (footnotes.len(), id, true)
    };
    // The footnote open now: its id, or None for a second definition of
    // one label (reported; shown without an id, which the first has).
    let mut open_footnote: Option<Option<String>> = None;
    let mut defined_footnotes: HashSet<String> = HashSet::new();
    let mut open_image: Option<OpenImage> = None;
    let mut images_seen = 0usize;
    // A captioned picture just written: (its event's index, the figure
    // it becomes if its paragraph holds nothing else).
    let mut captioned: Option<(usize, String)> = None;

    for (event, range) in Parser::new_ext(body, options()).into_offset_iter() {
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if let Some(open) = open_image.as_mut() {
            match &event {
                Event::Start(Tag::Image { .. }) => open.nested += 1,
                Event::End(TagEnd::Image) if open.nested > 0 => open.nested -= 1,
                Event::End(TagEnd::Image) => {}
                Event::Text(t) | Event::Code(t) => open.alt.push_str(t),
                Event::SoftBreak | Event::HardBreak => open.alt.push(' '),
                _ => {}
            }
            if !matches!(event, Event::End(TagEnd::Image)) || open.nested > 0 {
                continue;
            }
        }
        let event = match event {
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) if dest_url.starts_with("@/media/") => {
                open_image = Some(OpenImage {
                    target: dest_url[8..].to_string(),
                    title: title.to_string(),
                    alt: String::new(),
                    line: line_of(range.start),
                    nested: 0,
                });
                continue;
            }
            Event::End(TagEnd::Image) if open_image.is_some() => {
                let Some(open) = open_image.take() else {
                    continue;
                };
                let alt = open.alt.split_whitespace().collect::<Vec<_>>().join(" ");
                let picture = match (media.lookup)(&open.target) {
                    Ok(file) => Some(file),
                    Err(message) => {
                        out.errors.push(LineError {
                            line: open.line,
                            message: format!("the picture `@/media/{}`: {message}", open.target),
                        });
                        None
                    }
                };
                if alt.is_empty() {
                    out.errors.push(LineError {
                        line: open.line,
                        message: format!(
                            "the picture `@/media/{}` needs alt text: a few words saying what it shows, `![what it shows](@/media/{})`",
                            open.target, open.target
                        ),
                    });
                }
                let Some(file) = picture else {
                    continue;
                };
                let eager = images_seen == 0 && media.first_eager;
                images_seen += 1;
                let img = media_img(&file, &alt, eager);
                let title = open.title.trim();
                if !title.is_empty() && heading.is_none() {
                    captioned = Some((
                        events.len(),
                        format!(
                            "<figure>{img}<figcaption>{}</figcaption></figure>\n",
                            html::escape(title)
                        ),
                    ));
                }
                out.plain_text.push_str(&alt);
                out.plain_text.push(' ');
                Event::InlineHtml(img.into())
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) if dest_url.starts_with("@/") => {
                let target = &dest_url[2..];
                let (path, fragment) = match target.split_once('#') {
                    Some((p, f)) => (p, Some(f)),
                    None => (target, None),
                };
                let url = match resolve(path) {
                    Some(url) => match fragment {
                        Some(f) => format!("{url}#{f}"),
                        None => url,
                    },
                    None => {
                        out.errors.push(LineError {
                            line: line_of(range.start),
                            message: format!(
                                "broken internal link `{dest_url}`: there is no content file `{path}`"
                            ),
                        });
                        "#".to_string()
                    }
                };
                Event::Start(Tag::Link {
                    link_type,
                    dest_url: url.into(),
                    title,
                    id,
                })
            }
            Event::FootnoteReference(label) => {
                let (n, id, first) = footnote(&label, &mut used_ids);
                let id = html::escape(&id);
                let back_target = if first { format!(" id=\"fnref-{id}\"") } else { String::new() };
                Event::InlineHtml(
                    format!(
                        "<sup class=\"footnote-reference\"{back_target}><a href=\"#fn-{id}\" aria-label=\"{label}\">{n}</a></sup>",
                        label = html::escape(&words.footnote.replace("{n}", &n.to_string())),
                    )
                    .into(),
                )
            }
            Event::Start(Tag::FootnoteDefinition(label)) => {
                let (n, id, _) = footnote(&label, &mut used_ids);
                if defined_footnotes.insert(label.to_string()) {
                    let id = html::escape(&id);
                    open_footnote = Some(Some(id.clone()));
                    Event::Html(
                        format!("<div class=\"footnote-definition\" id=\"fn-{id}\"><span class=\"footnote-definition-label\">{n}</span>\n").into(),
                    )
                } else {
                    out.errors.push(LineError {
                        line: line_of(range.start),
                        message: format!(
                            "the footnote `[^{label}]` is defined twice; the first definition is the one its mark links to"
                        ),
                    });
                    open_footnote = Some(None);
                    Event::Html(
                        format!("<div class=\"footnote-definition\"><span class=\"footnote-definition-label\">{n}</span>\n").into(),
                    )
                }
            }
            Event::End(TagEnd::FootnoteDefinition) => match open_footnote.take().flatten() {
                Some(id) => Event::Html(
                    format!(
                        "<a class=\"footnote-backref\" href=\"#fnref-{id}\" aria-label=\"{back}\">↩</a></div>\n",
                        back = html::escape(&words.back_to_text),
                    )
                    .into(),
                ),
                None => Event::Html("</div>\n".into()),
            },
            Event::TaskListMarker(done) => Event::Html(
                format!(
                    "<span class=\"task-box\" aria-hidden=\"true\">{box}</span><span class=\"visually-hidden\">{said} </span>",
                    box = if done { "☑" } else { "☐" },
                    said = html::escape(if done { &words.done } else { &words.to_do }),
                )
                .into(),
            ),
            Event::Html(ref html) | Event::InlineHtml(ref html) if html.trim() == "<!-- more -->" => {
                if heading.is_none() && more_at.is_none() {
                    if depth == 0 {
                        more_at = Some(events.len());
                    } else {
                        more_pending = true;
                    }
                }
                continue;
            }
            other => other,
        };

        match &event {
            Event::Text(t) | Event::Code(t) => {
                out.plain_text.push_str(t);
                out.word_count += t.split_whitespace().count();
            }
            Event::SoftBreak | Event::HardBreak => out.plain_text.push(' '),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::TableCell
                | TagEnd::CodeBlock,
            ) => out.plain_text.push('\n'),
            _ => {}
        }

        if let Some(mut open) = heading.take() {
            if !matches!(event, Event::End(TagEnd::Heading(_))) {
                if let Event::Text(t) | Event::Code(t) = &event {
                    open.text.push_str(t);
                }
                open.events.push(event);
                heading = Some(open);
            } else {
                let mut id = open.id.clone().unwrap_or_else(|| slugify(&open.text));
                if id.is_empty() {
                    id = "section".into();
                }
                let base = id.clone();
                let mut n = 2;
                while !used_ids.insert(id.clone()) {
                    id = format!("{base}-{n}");
                    n += 1;
                }
                let title = open.text.trim().to_string();
                let mut inner = String::new();
                pulldown_cmark::html::push_html(&mut inner, open.events.into_iter());
                let class = if open.classes.is_empty() {
                    String::new()
                } else {
                    format!(
                        " class=\"{}\"",
                        html::escape(
                            &open
                                .classes
                                .iter()
                                .map(|c| c.as_ref())
                                .collect::<Vec<_>>()
                                .join(" ")
                        )
                    )
                };
                let id_attr = html::escape(&id);
                events.push(Event::Html(
                    format!(
                        "<h{level} id=\"{id_attr}\"{class}>{inner} <a class=\"heading-anchor\" href=\"#{id_attr}\" aria-label=\"{label}\">#</a></h{level}>\n",
                        level = open.level,
                        label = html::escape(&words.section_link.replace("{title}", &title)),
                    )
                    .into(),
                ));
                if (2..=3).contains(&open.level) {
                    out.toc.push(TocEntry {
                        level: open.level,
                        id,
                        title,
                    });
                }
            }
            continue;
        }

        match &event {
            Event::Start(Tag::Heading {
                level, id, classes, ..
            }) => {
                heading = Some(OpenHeading {
                    level: level_number(*level),
                    id: id.as_ref().map(|s| s.to_string()),
                    classes: classes.clone(),
                    events: Vec::new(),
                    text: String::new(),
                });
                continue;
            }
            Event::Start(Tag::Paragraph) if first_paragraph.is_none() => {
                first_paragraph = Some((events.len(), None));
            }
            Event::End(TagEnd::Paragraph) => {
                // A captioned picture alone in its paragraph: a figure.
                if let Some((at, figure)) = captioned.take() {
                    let alone = at + 1 == events.len()
                        && at > 0
                        && matches!(events[at - 1], Event::Start(Tag::Paragraph));
                    if alone {
                        events.truncate(at - 1);
                        events.push(Event::Html(figure.into()));
                        if first_paragraph == Some((at - 1, None)) {
                            first_paragraph = None;
                        }
                        if more_pending && depth == 0 && more_at.is_none() {
                            more_at = Some(events.len());
                        }
                        continue;
                    }
                }
                if let Some((start, None)) = first_paragraph {
                    first_paragraph = Some((start, Some(events.len() + 1)));
                }
            }
            _ => {}
        }
        events.push(event);
        if more_pending && depth == 0 && more_at.is_none() {
            more_at = Some(events.len());
        }
    }

    let summary_events = match (more_at, first_paragraph) {
        (Some(end), _) => &events[..end],
        (None, Some((start, Some(end)))) => &events[start..end],
        _ => &events[..0],
    };
    pulldown_cmark::html::push_html(&mut out.summary_html, summary_events.iter().cloned());
    out.summary_html = without_inline_styles(out.summary_html);
    out.summary_text = summary_events
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
            Event::SoftBreak | Event::HardBreak => Some(" "),
            Event::End(TagEnd::Paragraph) => Some(" "),
            _ => None,
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    pulldown_cmark::html::push_html(&mut out.html, events.into_iter());
    out.html = without_inline_styles(out.html);
    out
}

/// The HTML writer aligns table columns with `style="text-align: ..."`,
/// which the Content-Security-Policy (`style-src 'self'`) blocks: the
/// same alignment as a class of the site's stylesheet instead.
fn without_inline_styles(html: String) -> String {
    if !html.contains(" style=\"text-align: ") {
        return html;
    }
    html.replace(" style=\"text-align: left\">", " class=\"align-left\">")
        .replace(" style=\"text-align: center\">", " class=\"align-center\">")
        .replace(" style=\"text-align: right\">", " class=\"align-right\">")
}

/// Plain text with typographic quotes and dashes, for titles.
pub fn smart_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for event in Parser::new_ext(text, Options::ENABLE_SMART_PUNCTUATION) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            _ => {}
        }
    }
    if out.trim().is_empty() {
        text.trim().to_string()
    } else {
        out.trim().to_string()
    }
}

/// Minutes to read at an unhurried 220 words a minute, at least one.
pub fn reading_minutes(words: usize) -> u32 {
    words.div_ceil(220).max(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders with the English words of the markup.
    fn render(body: &str, first_line: usize, resolve: &dyn Fn(&str) -> Option<String>) -> Rendered {
        super::render(body, first_line, resolve, &ContentWords::default())
    }

    fn no_links(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn headings_get_unique_ids_anchor_links_and_a_toc() {
        let r = render(
            "## Hello, world\n\ntext\n\n## Hello world\n\n### Comments\n",
            1,
            &no_links,
        );
        assert!(r.html.contains("<h2 id=\"hello-world\">Hello, world <a class=\"heading-anchor\" href=\"#hello-world\""), "{}", r.html);
        assert!(r.html.contains("id=\"hello-world-2\""));
        assert!(
            r.html.contains("id=\"comments-2\""),
            "reserved ids are avoided"
        );
        assert_eq!(r.toc.len(), 3);
        assert_eq!(r.toc[0].title, "Hello, world");
    }

    #[test]
    fn tables_footnotes_strikethrough_tasks_and_smart_quotes() {
        let md = "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ \"quoted\"[^1]\n\n[^1]: note\n\n- [ ] todo\n- [x] done\n";
        let r = render(md, 1, &no_links);
        assert!(r.html.contains("<table>"));
        assert!(r.html.contains("<del>gone</del>"));
        assert!(r.html.contains("“quoted”"));
        assert!(
            r.html
                .contains("<div class=\"footnote-definition\" id=\"fn-1\">"),
            "{}",
            r.html
        );
        assert!(r
            .html
            .contains("<sup class=\"footnote-reference\" id=\"fnref-1\"><a href=\"#fn-1\""));
        assert!(r.html.contains("href=\"#fnref-1\""));
        assert!(r.html.contains("To do: "));
        assert!(r.html.contains("Done: "));
        assert!(!r.html.contains("<input"));
    }

    #[test]
    fn summary_is_before_more_or_the_first_paragraph() {
        let r = render(
            "First *one*.\n\nSecond.\n\n<!-- more -->\n\nRest.\n",
            1,
            &no_links,
        );
        assert_eq!(r.summary_text, "First one. Second.");
        let r = render("## Head\n\nFirst *one*.\n\nSecond.\n", 1, &no_links);
        assert_eq!(r.summary_html.trim(), "<p>First <em>one</em>.</p>");
        assert_eq!(r.summary_text, "First one.");
    }

    #[test]
    fn internal_links_resolve_or_report_their_line() {
        let resolve = |p: &str| (p == "articles/a.md").then(|| "/articles/a".to_string());
        let r = render(
            "Hi\n\n[ok](@/articles/a.md#x) and [bad](@/articles/b.md)\n",
            5,
            &resolve,
        );
        assert!(r.html.contains("href=\"/articles/a#x\""));
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 7);
        assert!(r.errors[0].message.contains("@/articles/b.md"));
    }

    #[test]
    fn footnote_ids_never_clash_with_headings_or_each_other() {
        let r = render(
            "## Fn 1\n\nA[^1], b[^a b], c[^a-b], d[^!], e[^?].\n\n[^1]: one\n[^a b]: two\n[^a-b]: three\n[^!]: four\n[^?]: five\n",
            1,
            &no_links,
        );
        let mut ids: Vec<&str> = r
            .html
            .split("id=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "{}", r.html);
        assert!(r.html.contains("<h2 id=\"fn-1\">"), "{}", r.html);
        assert!(r.html.contains("href=\"#fn-1-2\""), "{}", r.html);
    }

    #[test]
    fn a_more_mark_inside_a_block_ends_the_summary_after_it() {
        let r = render(
            "> First.\n>\n> <!-- more -->\n>\n> Second.\n\nRest.\n",
            1,
            &no_links,
        );
        assert_eq!(r.summary_html.matches("<blockquote>").count(), 1);
        assert_eq!(
            r.summary_html.matches("</blockquote>").count(),
            1,
            "{}",
            r.summary_html
        );
        assert!(!r.summary_html.contains("Rest"));
    }

    #[test]
    fn table_alignment_is_a_class_not_an_inline_style() {
        let r = render(
            "| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n",
            1,
            &no_links,
        );
        assert!(!r.html.contains("style="), "{}", r.html);
        assert!(
            r.html.contains("<td class=\"align-center\">2</td>"),
            "{}",
            r.html
        );
        assert!(
            r.html.contains("<th class=\"align-right\">c</th>"),
            "{}",
            r.html
        );
    }

    #[test]
    fn media_pictures_need_alt_text_and_become_figures_with_a_title() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("media/2024/05");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/wordpress/uploads/2024/05/golden-seams-bowl.jpg"
            ),
            folder.join("bowl.jpg"),
        )
        .unwrap();
        let media = super::super::media::Media::scan(dir.path(), None);
        let lookup = |path: &str| media.lookup(path);
        let images = MediaImages {
            lookup: &lookup,
            first_eager: true,
        };
        let r = render_with_media(
            "Intro.\n\n![A bowl](@/media/2024/05/bowl.jpg \"Mended <gold>\")\n\nText ![a *bowl*](@/media/2024/05/bowl.jpg) here.\n\n![](@/media/2024/05/bowl.jpg)\n\n![A cup](@/media/cup.jpg)\n",
            3,
            &no_links,
            &images,
            &ContentWords::default(),
        );
        let url = media.get("2024/05/bowl.jpg").unwrap().url();
        assert!(
            r.html.contains(&format!(
                "<figure><img src=\"{url}\" alt=\"A bowl\" width=\"480\" height=\"320\" loading=\"eager\" decoding=\"async\"><figcaption>Mended &lt;gold&gt;</figcaption></figure>"
            )),
            "{}",
            r.html
        );
        assert!(
            r.html.contains(&format!(
                "<p>Text <img src=\"{url}\" alt=\"a bowl\" width=\"480\" height=\"320\" loading=\"lazy\""
            )),
            "{}",
            r.html
        );
        assert_eq!(r.summary_text, "Intro.");
        let errors: Vec<(usize, &str)> = r
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].0, 9);
        assert!(errors[0].1.contains("needs alt text"));
        assert_eq!(errors[1].0, 11);
        assert!(errors[1]
            .1
            .contains("there is no file content/media/cup.jpg"));
    }

    #[test]
    fn slugify_keeps_words() {
        assert_eq!(slugify("İstanbul"), "istanbul");
        assert_eq!(slugify("No Contact: Day 1!"), "no-contact-day-1");
        assert_eq!(slugify("Don't panic"), "dont-panic");
        assert_eq!(slugify("  "), "");
        assert_eq!(smart_text("Don't \"panic\" -- yet"), "Don’t “panic” – yet");
        assert_eq!(reading_minutes(0), 1);
        assert_eq!(reading_minutes(221), 2);
    }
}
