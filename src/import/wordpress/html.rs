//! WordPress post and comment HTML (Gutenberg block markup, classic-editor
//! HTML with `wpautop` line breaks, shortcodes) to clean Markdown.
//!
//! The HTML is parsed by html5ever (through `scraper`, the same parser
//! version ammonia uses) and the tree is walked; nothing here reads HTML
//! with patterns. Shortcodes are WordPress's own text syntax, not HTML:
//! they are read by a small tokenizer first (outside `<pre>` and
//! `<code>`), and the ones that carry content (captions, galleries,
//! embeds) become elements the walk understands.
//!
//! Everything left out is reported: the output holds a marker where it
//! was (`NOTE_START n NOTE_END`), so the caller can say on which line of the
//! written file, and then removes the markers.
use ego_tree::NodeRef;
use scraper::{Html, Node};

pub const NOTE_START: char = '\u{E000}';
pub const NOTE_END: char = '\u{E001}';

/// What the converter asks of the import: where links and pictures go.
pub trait Resolver {
    /// The address to write for a link found in the content (an old
    /// site's own post becomes `@/articles/x.md`).
    fn link(&mut self, href: &str) -> String;
    /// The Markdown address of a picture (`@/media/2024/05/x.jpg`), its
    /// alt text when the HTML had none, or why it was left out.
    fn image(&mut self, src: &str) -> Result<(String, Option<String>), String>;
    /// The pictures of a `[gallery ids="…"]`: their `src`, alt and caption.
    fn gallery(&mut self, ids: &[i64]) -> Vec<(String, String, String)>;
}

/// Markdown, with the notes its markers point to.
#[derive(Debug, Default)]
pub struct Converted {
    pub markdown: String,
    pub notes: Vec<String>,
}

/// Converts a post's or page's content. `<!--more-->` is split off before
/// parsing (it is a comment, and may sit inside a paragraph) and comes
/// back as Kintsugi's `<!-- more -->`.
pub fn post_to_markdown(html: &str, resolver: &mut dyn Resolver) -> Converted {
    let html = html.replace("\r\n", "\n").replace('\r', "\n");
    let blocks_markup = html.contains("<!-- wp:");
    let mut conv = Converter {
        resolver,
        notes: Vec::new(),
        autop: !blocks_markup,
    };
    let (before, after) = split_more(&html);
    let mut markdown = conv.fragment(before);
    if let Some(after) = after {
        let rest = conv.fragment(after);
        if !markdown.is_empty() {
            markdown.push_str("\n\n");
        }
        markdown.push_str("<!-- more -->");
        if !rest.is_empty() {
            markdown.push_str("\n\n");
            markdown.push_str(&rest);
        }
    }
    Converted {
        markdown,
        notes: conv.notes,
    }
}

/// Converts a comment (HTML with plain newlines, `wpautop` at display).
pub fn comment_to_markdown(html: &str, resolver: &mut dyn Resolver) -> Converted {
    let html = html.replace("\r\n", "\n").replace('\r', "\n");
    let mut conv = Converter {
        resolver,
        notes: Vec::new(),
        autop: true,
    };
    let markdown = conv.fragment(&html);
    Converted {
        markdown,
        notes: conv.notes,
    }
}

/// Text of a title or a term name: entities decoded, tags gone, spaces
/// collapsed.
pub fn plain_text(html: &str) -> String {
    let doc = Html::parse_fragment(html);
    let text: String = doc.root_element().text().collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The content before the first `<!--more-->` (with or without custom
/// text) and after it.
fn split_more(html: &str) -> (&str, Option<&str>) {
    let Some(at) = html.find("<!--more") else {
        return (html, None);
    };
    let Some(end) = html[at..].find("-->") else {
        return (html, None);
    };
    (&html[..at], Some(&html[at + end + 3..]))
}

struct Converter<'r> {
    resolver: &'r mut dyn Resolver,
    notes: Vec<String>,
    /// Classic-editor content and comments: a blank line starts a
    /// paragraph, a single newline is a line break (what `wpautop` does at
    /// display time).
    autop: bool,
}

/// Blocks being written, and the paragraph being filled.
#[derive(Default)]
struct Out {
    blocks: Vec<String>,
    para: String,
}

impl Out {
    fn flush(&mut self) {
        let para = std::mem::take(&mut self.para);
        let lines: Vec<String> = para.split('\n').map(|l| l.trim().to_string()).collect();
        // A line break at the very start or end of a paragraph is nothing.
        let mut text = lines.join("\n");
        loop {
            let before = text.len();
            text = text
                .trim_matches(|c: char| c == ' ' || c == '\n')
                .to_string();
            if let Some(t) = text.strip_suffix('\\') {
                text = t.to_string();
            }
            if let Some(t) = text.strip_prefix("\\\n") {
                text = t.to_string();
            }
            if text.len() == before {
                break;
            }
        }
        if !text.is_empty() {
            self.blocks.push(escape_line_starts(&text));
        }
    }
    fn block(&mut self, block: String) {
        self.flush();
        if !block.trim().is_empty() {
            self.blocks.push(block);
        }
    }
    fn finish(mut self) -> Vec<String> {
        self.flush();
        self.blocks
    }
}

const DROPPED: &[&str] = &[
    "script", "style", "form", "input", "button", "select", "textarea", "object", "embed",
    "noscript", "svg", "canvas", "template", "link", "meta", "video", "audio", "source", "track",
    "map", "area", "frameset", "frame", "applet", "math", "dialog",
];

const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "aside",
    "nav",
    "figure",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "table",
    "hr",
    "dl",
    "dt",
    "dd",
    "address",
    "details",
    "summary",
    "center",
    "figcaption",
    "iframe",
];

fn is_block(name: &str) -> bool {
    BLOCKS.contains(&name)
}

impl<'r> Converter<'r> {
    fn note(&mut self, what: String) -> String {
        self.notes.push(what);
        format!("{NOTE_START}{}{NOTE_END}", self.notes.len() - 1)
    }

    fn fragment(&mut self, html: &str) -> String {
        let html = shortcodes(html);
        let doc = Html::parse_fragment(&html);
        let mut out = Out::default();
        for child in doc.root_element().children() {
            self.node(child, &mut out);
        }
        out.finish().join("\n\n")
    }

    fn children(&mut self, node: NodeRef<Node>, out: &mut Out) {
        for child in node.children() {
            self.node(child, out);
        }
    }

    fn node(&mut self, node: NodeRef<Node>, out: &mut Out) {
        match node.value() {
            Node::Text(text) => self.text(text, out),
            Node::Element(el) => {
                let name = el.name();
                if DROPPED.contains(&name) {
                    let what = describe_dropped(node);
                    let marker = self.note(what);
                    out.para.push_str(&marker);
                } else if name == "kintsugi-dropped" {
                    let what = el.attr("data-what").unwrap_or("a shortcode").to_string();
                    let marker = self.note(format!("{what} dropped"));
                    out.para.push_str(&marker);
                } else if is_block(name) {
                    self.block_element(node, name, out);
                } else {
                    let inline = self.inline(node);
                    out.para.push_str(&inline);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str, out: &mut Out) {
        if !self.autop {
            out.para.push_str(&escape_markdown_text(&collapse(text)));
            return;
        }
        // Blank lines end a paragraph; a single newline is a line break;
        // a web address alone on its line is what WordPress turned into an
        // embed, and becomes a link.
        let normalised = text.replace('\t', " ");
        let paragraphs = normalised.split("\n\n");
        let mut first = true;
        for chunk in paragraphs {
            if !first {
                out.flush();
            }
            first = false;
            let lines: Vec<&str> = chunk.split('\n').collect();
            for (i, line) in lines.iter().enumerate() {
                if i > 0 && !out.para.trim().is_empty() {
                    out.para.push_str("\\\n");
                } else if i > 0 {
                    out.para.push(' ');
                }
                let trimmed = line.trim();
                if is_bare_url(trimmed) {
                    let mut link = format!("<{}>", trimmed);
                    if let Some(provider) = embed_provider(trimmed) {
                        link.push_str(&self.note(format!("{provider} embed kept as a link")));
                    }
                    out.para.push_str(&link);
                } else {
                    out.para.push_str(&escape_markdown_text(&collapse(line)));
                }
            }
        }
    }

    fn block_element(&mut self, node: NodeRef<Node>, name: &str, out: &mut Out) {
        let el = match node.value() {
            Node::Element(el) => el,
            _ => return,
        };
        match name {
            "p" | "div" | "section" | "article" | "header" | "footer" | "main" | "aside"
            | "nav" | "address" | "center" | "details" | "summary" | "dl" | "dd" | "dt" => {
                let classes = el.attr("class").unwrap_or("");
                if classes.contains("wp-block-embed__wrapper") {
                    let url = text_of(node).trim().to_string();
                    out.block(self.embed(&url, ""));
                    return;
                }
                out.flush();
                let mut inner = Out::default();
                self.children(node, &mut inner);
                for b in inner.finish() {
                    out.block(b);
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = name[1..].parse::<usize>().unwrap_or(2).clamp(2, 6);
                let text = one_line(&self.inline_children(node));
                if !text.is_empty() {
                    out.block(format!("{} {}", "#".repeat(level), text));
                }
            }
            "hr" => out.block("---".into()),
            "pre" => {
                let code = text_of(node);
                let code = code.trim_end_matches('\n');
                let fence = "`".repeat(longest_run(code, '`').max(2) + 1);
                out.block(format!("{fence}\n{code}\n{fence}"));
            }
            "blockquote" => {
                let mut inner = Out::default();
                let mut cite = None;
                for child in node.children() {
                    if let Node::Element(c) = child.value() {
                        if c.name() == "cite" {
                            cite = Some(one_line(&self.inline_children(child)));
                            continue;
                        }
                    }
                    self.node(child, &mut inner);
                }
                let mut blocks = inner.finish();
                if let Some(cite) = cite.filter(|c| !c.is_empty()) {
                    blocks.push(format!("— {cite}"));
                }
                let text = blocks.join("\n\n");
                let quoted: Vec<String> = text
                    .lines()
                    .map(|l| {
                        if l.is_empty() {
                            ">".to_string()
                        } else {
                            format!("> {l}")
                        }
                    })
                    .collect();
                out.block(quoted.join("\n"));
            }
            "ul" | "ol" => {
                let list = self.list(node, name == "ol", el.attr("start"));
                out.block(list);
            }
            "li" => {
                // A list item outside a list: a paragraph.
                let mut inner = Out::default();
                self.children(node, &mut inner);
                for b in inner.finish() {
                    out.block(b);
                }
            }
            "table" => {
                let table = self.table(node);
                out.block(table);
            }
            "figure" => self.figure(node, el.attr("class").unwrap_or(""), out),
            "figcaption" => {
                let text = one_line(&self.inline_children(node));
                if !text.is_empty() {
                    out.block(format!("*{text}*"));
                }
            }
            "iframe" => {
                let src = el.attr("src").unwrap_or("").trim().to_string();
                if src.starts_with("https://") || src.starts_with("http://") {
                    let url = watch_url(&src);
                    out.block(self.embed(&url, ""));
                } else {
                    let marker = self.note("an iframe dropped".into());
                    out.para.push_str(&marker);
                }
            }
            _ => {
                let mut inner = Out::default();
                self.children(node, &mut inner);
                for b in inner.finish() {
                    out.block(b);
                }
            }
        }
    }

    /// An embed (a video, a post on another site): a plain link, with its
    /// caption as the text when it has one.
    fn embed(&mut self, url: &str, caption: &str) -> String {
        if !is_bare_url(url) {
            return String::new();
        }
        let provider = embed_provider(url).unwrap_or("an");
        let text = if caption.is_empty() {
            match embed_provider(url) {
                Some(p) => format!("Watch on {p}"),
                None => url.to_string(),
            }
        } else {
            caption.to_string()
        };
        let marker = self.note(format!("{provider} embed kept as a link"));
        format!(
            "[{}]({}){marker}",
            escape_markdown_text(&text),
            link_destination(&self.resolver.link(url))
        )
    }

    fn figure(&mut self, node: NodeRef<Node>, classes: &str, out: &mut Out) {
        let caption_node = node
            .children()
            .find(|c| matches!(c.value(), Node::Element(e) if e.name() == "figcaption"));
        let caption = caption_node
            .map(|c| one_line(&self.inline_children(c)))
            .unwrap_or_default();
        if classes.contains("wp-block-embed") {
            let url = text_of(node)
                .split_whitespace()
                .find(|w| is_bare_url(w))
                .unwrap_or("")
                .to_string();
            let url = if url.is_empty() {
                find_attr(node, "iframe", "src")
                    .map(|s| watch_url(&s))
                    .unwrap_or_default()
            } else {
                url
            };
            out.block(self.embed(&url, &plain_caption(&caption)));
            return;
        }
        if classes.contains("kintsugi-gallery") {
            let ids: Vec<i64> = match node.value() {
                Node::Element(e) => e
                    .attr("data-ids")
                    .unwrap_or("")
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .collect(),
                _ => Vec::new(),
            };
            for (src, alt, caption) in self.resolver.gallery(&ids) {
                let image = self.image(&src, &alt, &caption);
                out.block(image);
            }
            return;
        }
        let images: Vec<NodeRef<Node>> = node
            .descendants()
            .filter(|d| matches!(d.value(), Node::Element(e) if e.name() == "img"))
            .collect();
        let has_table = node
            .descendants()
            .any(|d| matches!(d.value(), Node::Element(e) if e.name() == "table"));
        if images.len() == 1 && !has_table {
            let img = images[0];
            let (src, alt) = match img.value() {
                Node::Element(e) => (
                    e.attr("src").unwrap_or("").to_string(),
                    e.attr("alt").unwrap_or("").to_string(),
                ),
                _ => Default::default(),
            };
            // A `[caption]` shortcode keeps its caption as text after the
            // picture; a block figure has a <figcaption>.
            let caption = if caption.is_empty() && classes.contains("wp-caption") {
                let mut text = String::new();
                for child in node.children() {
                    if child.id() == img.id() || child.descendants().any(|d| d.id() == img.id()) {
                        continue;
                    }
                    text.push_str(&text_of(child));
                }
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            } else {
                plain_caption(&caption)
            };
            let image = self.image(&src, &alt, &caption);
            out.block(image);
            return;
        }
        // A table figure, a gallery block: its content, then the caption.
        let mut inner = Out::default();
        for child in node.children() {
            if caption_node.is_some_and(|c| c.id() == child.id()) {
                continue;
            }
            self.node(child, &mut inner);
        }
        for b in inner.finish() {
            out.block(b);
        }
        if !caption.is_empty() {
            out.block(format!("*{caption}*"));
        }
    }

    /// A picture as Markdown; a caption goes in the title (Kintsugi shows
    /// a lone picture with a title as a figure with its caption).
    fn image(&mut self, src: &str, alt: &str, caption: &str) -> String {
        match self.resolver.image(src) {
            Ok((path, fallback_alt)) => {
                let alt = if alt.trim().is_empty() {
                    fallback_alt.unwrap_or_default()
                } else {
                    alt.split_whitespace().collect::<Vec<_>>().join(" ")
                };
                let title = if caption.is_empty() {
                    String::new()
                } else {
                    format!(
                        " \"{}\"",
                        caption.replace('\\', "\\\\").replace('"', "\\\"")
                    )
                };
                format!(
                    "![{}]({}{title})",
                    escape_markdown_text(&alt),
                    link_destination(&path)
                )
            }
            Err(why) => self.note(why),
        }
    }

    fn list(&mut self, node: NodeRef<Node>, ordered: bool, start: Option<&str>) -> String {
        let mut n: i64 = start.and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        let mut items = Vec::new();
        for child in node.children() {
            let Node::Element(e) = child.value() else {
                // Text between items (whitespace, or a stray word).
                if let Node::Text(t) = child.value() {
                    if !t.trim().is_empty() {
                        items.push(format!("- {}", escape_markdown_text(&collapse(t))));
                    }
                }
                continue;
            };
            let marker = if ordered {
                let m = format!("{n}. ");
                n += 1;
                m
            } else {
                "- ".to_string()
            };
            let mut inner = Out::default();
            if e.name() == "li" {
                self.children(child, &mut inner);
            } else {
                self.node(child, &mut inner);
            }
            let blocks = inner.finish();
            let indent = " ".repeat(marker.len());
            let mut text = String::new();
            for (i, b) in blocks.iter().enumerate() {
                if i > 0 {
                    // A list right under the item's text: only `-` and `1.`
                    // may start one without a blank line (CommonMark).
                    let nested = b.starts_with("- ") || b.starts_with("1. ");
                    text.push_str(if nested { "\n" } else { "\n\n" });
                }
                text.push_str(b);
            }
            let mut lines = text.lines();
            let first = lines.next().unwrap_or("");
            let mut item = format!("{marker}{first}");
            for line in lines {
                item.push('\n');
                if !line.is_empty() {
                    item.push_str(&indent);
                    item.push_str(line);
                }
            }
            items.push(item);
        }
        items.join("\n")
    }

    fn table(&mut self, node: NodeRef<Node>) -> String {
        let mut rows: Vec<(bool, Vec<String>)> = Vec::new();
        for tr in node
            .descendants()
            .filter(|d| matches!(d.value(), Node::Element(e) if e.name() == "tr"))
        {
            let mut header = false;
            let mut cells = Vec::new();
            for cell in tr.children() {
                if let Node::Element(e) = cell.value() {
                    if e.name() == "th" || e.name() == "td" {
                        header |= e.name() == "th";
                        // Text escapes `|` already; a code span does not, and
                        // in a table it must (GFM splits cells first).
                        let text = escape_pipes(&one_line(&self.inline_children(cell)));
                        cells.push(text);
                    }
                }
            }
            let in_head = tr
                .ancestors()
                .any(|a| matches!(a.value(), Node::Element(e) if e.name() == "thead"));
            rows.push((header || in_head, cells));
        }
        if rows.is_empty() {
            return String::new();
        }
        let width = rows.iter().map(|(_, c)| c.len()).max().unwrap_or(1).max(1);
        let (head, body): (Vec<String>, Vec<_>) = if rows[0].0 {
            let (_, h) = rows.remove(0);
            (h, rows)
        } else {
            (vec![String::new(); width], rows)
        };
        let line = |cells: &[String]| {
            let mut cells = cells.to_vec();
            cells.resize(width, String::new());
            format!("| {} |", cells.join(" | "))
        };
        let mut out = vec![line(&head), format!("|{}", " --- |".repeat(width))];
        for (_, cells) in body {
            out.push(line(&cells));
        }
        out.join("\n")
    }

    fn inline_children(&mut self, node: NodeRef<Node>) -> String {
        let mut s = String::new();
        for child in node.children() {
            s.push_str(&self.inline_node(child));
        }
        s
    }

    fn inline_node(&mut self, node: NodeRef<Node>) -> String {
        match node.value() {
            Node::Text(t) => escape_markdown_text(&collapse(t)),
            Node::Element(e) if DROPPED.contains(&e.name()) => {
                let what = describe_dropped(node);
                self.note(what)
            }
            Node::Element(_) => self.inline(node),
            _ => String::new(),
        }
    }

    fn inline(&mut self, node: NodeRef<Node>) -> String {
        let Node::Element(el) = node.value() else {
            return String::new();
        };
        match el.name() {
            "br" => "\\\n".into(),
            "strong" | "b" => wrap("**", &self.inline_children(node)),
            "em" | "i" | "cite" => wrap("*", &self.inline_children(node)),
            "del" | "s" | "strike" => wrap("~~", &self.inline_children(node)),
            "q" => format!("“{}”", self.inline_children(node)),
            "code" | "kbd" | "samp" | "tt" | "pre" => {
                // A code span is one line: a blank line inside would end
                // the paragraph and leave its text (`<script>`…) as markup.
                let code = collapse(&text_of(node)).trim().to_string();
                if code.is_empty() {
                    return String::new();
                }
                let ticks = "`".repeat(longest_run(&code, '`') + 1);
                let pad = if code.starts_with('`') || code.ends_with('`') {
                    " "
                } else {
                    ""
                };
                format!("{ticks}{pad}{code}{pad}{ticks}")
            }
            "img" => {
                let src = el.attr("src").unwrap_or("").to_string();
                let alt = el.attr("alt").unwrap_or("").to_string();
                self.image(&src, &alt, "")
            }
            "a" => {
                let href = el.attr("href").unwrap_or("").trim().to_string();
                let only_image = node
                    .children()
                    .filter(|c| !matches!(c.value(), Node::Text(t) if t.trim().is_empty()))
                    .all(|c| matches!(c.value(), Node::Element(e) if e.name() == "img"));
                let text = self.inline_children(node);
                if href.is_empty() || href.starts_with('#') {
                    return text;
                }
                let lower = href.to_ascii_lowercase();
                if !(lower.starts_with("http://")
                    || lower.starts_with("https://")
                    || lower.starts_with("mailto:")
                    || lower.starts_with('/')
                    || lower.starts_with("?"))
                {
                    let marker = self.note(format!(
                        "a link to `{}` (not a web address) kept as text",
                        truncate(&href, 60)
                    ));
                    return format!("{text}{marker}");
                }
                // "Link to media file" around a picture: the picture is enough.
                if only_image
                    && text.starts_with("![")
                    && (lower.contains("/wp-content/uploads/") || lower.contains("attachment"))
                {
                    return text;
                }
                if text.trim().is_empty() {
                    return String::new();
                }
                format!(
                    "[{}]({})",
                    text.trim(),
                    link_destination(&self.resolver.link(&href))
                )
            }
            name if is_block(name) => {
                // A block inside a line (a <p> in a <span>): its text.
                let inner = self.inline_children(node);
                format!(" {inner} ")
            }
            _ => self.inline_children(node),
        }
    }
}

/// What a dropped element was, for the report.
fn describe_dropped(node: NodeRef<Node>) -> String {
    let Node::Element(el) = node.value() else {
        return "something".into();
    };
    let name = el.name();
    match name {
        "script" => match el.attr("src") {
            Some(src) => format!("a script ({}) dropped", truncate(src, 60)),
            None => "a script dropped".into(),
        },
        "form" | "input" | "button" | "select" | "textarea" => format!("a form ({name}) dropped"),
        "video" | "audio" => format!("a {name} dropped"),
        other => format!("<{other}> dropped"),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

fn find_attr(node: NodeRef<Node>, tag: &str, attr: &str) -> Option<String> {
    node.descendants().find_map(|d| match d.value() {
        Node::Element(e) if e.name() == tag => e.attr(attr).map(str::to_string),
        _ => None,
    })
}

/// All the text under a node, as it is (code keeps its spaces).
fn text_of(node: NodeRef<Node>) -> String {
    let mut s = String::new();
    for d in node.descendants() {
        match d.value() {
            Node::Text(t) => s.push_str(t),
            Node::Element(e) if e.name() == "br" => s.push('\n'),
            _ => {}
        }
    }
    s
}

fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
            space = true;
        } else {
            if space {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out
}

/// Every `|` not already escaped, escaped.
fn escape_pipes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut backslashes = 0;
    for c in s.chars() {
        if c == '|' && backslashes % 2 == 0 {
            out.push('\\');
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
        out.push(c);
    }
    out
}

fn one_line(s: &str) -> String {
    s.replace("\\\n", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A caption with its Markdown escapes taken out again (it goes into an
/// image title, where only quotes need escaping).
fn plain_caption(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if n.is_ascii_punctuation() {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        if c == '*' || c == '~' {
            continue;
        }
        out.push(c);
    }
    out
}

fn wrap(mark: &str, inner: &str) -> String {
    let trimmed = inner.trim();
    if trimmed.is_empty() {
        return inner.to_string();
    }
    let lead = if inner.starts_with(' ') { " " } else { "" };
    let trail = if inner.ends_with(' ') { " " } else { "" };
    format!("{lead}{mark}{trimmed}{mark}{trail}")
}

fn longest_run(s: &str, c: char) -> usize {
    let mut best = 0;
    let mut run = 0;
    for ch in s.chars() {
        if ch == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// Escapes what Markdown would read as markup in running text (a
/// Markdown escape, with backslashes; HTML is escaped by
/// [`crate::html::escape`]).
pub fn escape_markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '&' => {
                // Only where it would start an entity reference.
                let rest: String = chars[i + 1..].iter().take(12).collect();
                let looks_like_entity = rest.find(';').is_some_and(|end| {
                    end > 0
                        && rest[..end]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '#')
                });
                if looks_like_entity {
                    out.push('\\');
                }
                out.push('&');
            }
            NOTE_START | NOTE_END => {}
            _ => out.push(c),
        }
    }
    out
}

/// A paragraph line that would start a heading, quote, list or rule.
fn escape_line_starts(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let trimmed = line.trim_start();
        let first = trimmed.chars().next();
        let escaped = match first {
            Some('#' | '>' | '-' | '+' | '=') => format!("\\{trimmed}"),
            Some(c) if c.is_ascii_digit() => {
                let digits = trimmed.chars().take_while(|c| c.is_ascii_digit()).count();
                let rest = &trimmed[digits..];
                if rest.starts_with(". ") || rest.starts_with(") ") || rest == "." || rest == ")" {
                    format!("{}\\{}", &trimmed[..digits], rest)
                } else {
                    trimmed.to_string()
                }
            }
            _ => trimmed.to_string(),
        };
        out.push(escaped);
    }
    out.join("\n")
}

/// A link or image destination: in angle brackets when it has spaces or
/// parentheses.
fn link_destination(url: &str) -> String {
    if url.contains([' ', '(', ')', '<', '>']) {
        format!("<{}>", url.replace('<', "%3C").replace('>', "%3E"))
    } else {
        url.to_string()
    }
}

fn is_bare_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > 10
        && !s.contains(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
}

/// The service of an oEmbed address WordPress would embed.
fn embed_provider(url: &str) -> Option<&'static str> {
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("")
        .trim_start_matches("www.")
        .trim_start_matches("m.")
        .to_ascii_lowercase();
    [
        ("youtube.com", "YouTube"),
        ("youtu.be", "YouTube"),
        ("youtube-nocookie.com", "YouTube"),
        ("vimeo.com", "Vimeo"),
        ("player.vimeo.com", "Vimeo"),
        ("soundcloud.com", "SoundCloud"),
        ("open.spotify.com", "Spotify"),
        ("spotify.com", "Spotify"),
        ("twitter.com", "X (Twitter)"),
        ("x.com", "X (Twitter)"),
        ("instagram.com", "Instagram"),
        ("tiktok.com", "TikTok"),
        ("facebook.com", "Facebook"),
        ("ted.com", "TED"),
        ("dailymotion.com", "Dailymotion"),
        ("flickr.com", "Flickr"),
        ("pinterest.com", "Pinterest"),
        ("reddit.com", "Reddit"),
    ]
    .iter()
    .find(|(h, _)| host == *h || host.ends_with(&format!(".{h}")))
    .map(|(_, name)| *name)
}

/// The page of an embedded player (`youtube.com/embed/ID` is the player;
/// readers want `youtube.com/watch?v=ID`).
fn watch_url(src: &str) -> String {
    let src = src.split('#').next().unwrap_or(src);
    for prefix in [
        "https://www.youtube.com/embed/",
        "https://www.youtube-nocookie.com/embed/",
        "https://youtube.com/embed/",
        "http://www.youtube.com/embed/",
    ] {
        if let Some(rest) = src.strip_prefix(prefix) {
            let id = rest.split(['?', '/']).next().unwrap_or("");
            if !id.is_empty() {
                return format!("https://www.youtube.com/watch?v={id}");
            }
        }
    }
    if let Some(rest) = src.strip_prefix("https://player.vimeo.com/video/") {
        let id = rest.split(['?', '/']).next().unwrap_or("");
        return format!("https://vimeo.com/{id}");
    }
    src.to_string()
}

// ---------------------------------------------------------------- shortcodes

/// Shortcodes WordPress or common plugins register; only these (or ones
/// with attributes or a closing tag) are read as shortcodes, so "[sic]"
/// and footnote marks stay text.
const KNOWN_SHORTCODES: &[&str] = &[
    "caption",
    "wp_caption",
    "gallery",
    "embed",
    "audio",
    "video",
    "playlist",
];

/// One shortcode tag found in the text.
struct Tag<'a> {
    name: &'a str,
    attrs: &'a str,
    closing: bool,
    self_closing: bool,
    end: usize,
}

fn tag_at(s: &str, at: usize) -> Option<Tag<'_>> {
    let rest = &s[at..];
    let rest = rest.strip_prefix('[')?;
    let (closing, body) = match rest.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, rest),
    };
    let name_len = body
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        .map(|(i, _)| i)?;
    if name_len == 0 || !body.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    let name = &body[..name_len];
    let after = &body[name_len..];
    if !(after.starts_with(']') || after.starts_with(' ') || after.starts_with("/]")) {
        return None;
    }
    // The tag ends at the first `]` outside quotes, on the same shortcode.
    let mut quote: Option<char> = None;
    for (i, c) in after.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => return None,
            (None, ']') => {
                let inner = &after[..i];
                let self_closing = inner.trim_end().ends_with('/');
                let attrs = inner.trim().trim_end_matches('/').trim();
                let consumed = 1 + usize::from(closing) + name_len + i + 1;
                return Some(Tag {
                    name,
                    attrs,
                    closing,
                    self_closing,
                    end: at + consumed,
                });
            }
            _ => {}
        }
    }
    None
}

fn attr_value(attrs: &str, key: &str) -> Option<String> {
    let mut rest = attrs;
    while let Some(pos) = rest.find(key) {
        let before_ok = pos == 0 || rest.as_bytes()[pos - 1].is_ascii_whitespace();
        let after = rest[pos + key.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let (q, body) = match v.chars().next() {
                    Some(q @ ('"' | '\'')) => (Some(q), &v[1..]),
                    _ => (None, v),
                };
                let end = match q {
                    Some(q) => body.find(q).unwrap_or(body.len()),
                    None => body.find(char::is_whitespace).unwrap_or(body.len()),
                };
                return Some(body[..end].to_string());
            }
        }
        rest = &rest[pos + key.len()..];
    }
    None
}

/// The regions of the HTML where shortcodes are not read (`<pre>` and
/// `<code>` blocks, where brackets are code).
fn code_regions(html: &str) -> Vec<(usize, usize)> {
    let lower = html.to_ascii_lowercase();
    let mut regions = Vec::new();
    let mut at = 0;
    while at < lower.len() {
        let next = ["<pre", "<code"]
            .iter()
            .filter_map(|t| lower[at..].find(t).map(|p| (at + p, *t)))
            .min_by_key(|(p, _)| *p);
        let Some((start, tag)) = next else { break };
        let close = if tag == "<pre" { "</pre>" } else { "</code>" };
        let end = lower[start..]
            .find(close)
            .map(|p| start + p + close.len())
            .unwrap_or(lower.len());
        regions.push((start, end));
        at = end;
    }
    regions
}

/// Rewrites shortcodes into elements the walk understands: captions and
/// galleries into figures, embeds into links, media players and unknown
/// shortcodes into a marked drop. `[[x]]` is WordPress's escape for a
/// literal `[x]`.
fn shortcodes(html: &str) -> String {
    if !html.contains('[') {
        return html.to_string();
    }
    let regions = code_regions(html);
    let in_code = |i: usize| regions.iter().any(|(s, e)| i >= *s && i < *e);
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while i < html.len() {
        let Some(rel) = html[i..].find('[') else {
            out.push_str(&html[i..]);
            break;
        };
        let at = i + rel;
        out.push_str(&html[i..at]);
        if in_code(at) {
            out.push('[');
            i = at + 1;
            continue;
        }
        // `[[name]]`: a shortcode written out as text.
        if html[at..].starts_with("[[") {
            if let Some(tag) = tag_at(html, at + 1) {
                if html[tag.end..].starts_with(']') {
                    out.push_str(&html[at + 1..tag.end]);
                    i = tag.end + 1;
                    continue;
                }
            }
        }
        let Some(tag) = tag_at(html, at) else {
            out.push('[');
            i = at + 1;
            continue;
        };
        if tag.closing {
            // A stray closing tag of a shortcode: nothing.
            if KNOWN_SHORTCODES.contains(&tag.name) {
                i = tag.end;
            } else {
                out.push('[');
                i = at + 1;
            }
            continue;
        }
        let close = format!("[/{}]", tag.name);
        let (inner, after) = if tag.self_closing {
            (None, tag.end)
        } else {
            match html[tag.end..].find(&close) {
                Some(p) => (Some(&html[tag.end..tag.end + p]), tag.end + p + close.len()),
                None => (None, tag.end),
            }
        };
        let known = KNOWN_SHORTCODES.contains(&tag.name);
        if !known && tag.attrs.is_empty() && inner.is_none() {
            // "[sic]", "[1]": text.
            out.push('[');
            i = at + 1;
            continue;
        }
        match tag.name {
            "caption" | "wp_caption" => {
                let mut inner = inner.unwrap_or("").to_string();
                if let Some(caption) = attr_value(tag.attrs, "caption") {
                    inner.push(' ');
                    inner.push_str(&crate::html::escape(&caption));
                }
                out.push_str(&format!("<figure class=\"wp-caption\">{inner}</figure>"));
            }
            "gallery" => {
                let ids = attr_value(tag.attrs, "ids")
                    .or_else(|| attr_value(tag.attrs, "include"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "<figure class=\"kintsugi-gallery\" data-ids=\"{}\"></figure>",
                    crate::html::escape(&ids)
                ));
            }
            "embed" => {
                let url = inner.unwrap_or("").trim().to_string();
                out.push_str(&format!(
                    "<figure class=\"wp-block-embed\"><div>{}</div></figure>",
                    crate::html::escape(&url)
                ));
            }
            _ => {
                let src = attr_value(tag.attrs, "src")
                    .or_else(|| attr_value(tag.attrs, "mp4"))
                    .or_else(|| attr_value(tag.attrs, "mp3"));
                let shown = truncate(&html[at..tag.end], 80);
                let what = match src {
                    Some(src) => format!("the shortcode {shown} ({src})"),
                    None => format!("the shortcode {shown}"),
                };
                out.push_str(&format!(
                    "<kintsugi-dropped data-what=\"{}\"></kintsugi-dropped>",
                    crate::html::escape(&what)
                ));
                if let Some(inner) = inner {
                    // Content between an unknown shortcode's tags is the
                    // author's text: keep it.
                    out.push_str(inner);
                }
            }
        }
        i = after;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;
    impl Resolver for Plain {
        fn link(&mut self, href: &str) -> String {
            href.replace(
                "https://old.example/2024/05/01/other/",
                "@/articles/other.md",
            )
        }
        fn image(&mut self, src: &str) -> Result<(String, Option<String>), String> {
            if src.contains("missing") {
                Err(format!("the picture {src} is missing"))
            } else {
                Ok((
                    format!("@/media/{}", src.rsplit('/').next().unwrap_or("")),
                    Some("a picture".into()),
                ))
            }
        }
        fn gallery(&mut self, ids: &[i64]) -> Vec<(String, String, String)> {
            ids.iter()
                .map(|i| {
                    (
                        format!("https://old.example/g{i}.jpg"),
                        format!("g{i}"),
                        String::new(),
                    )
                })
                .collect()
        }
    }

    fn md(html: &str) -> Converted {
        post_to_markdown(html, &mut Plain)
    }

    #[test]
    fn classic_paragraphs_and_line_breaks() {
        let c =
            md("First line\nsecond line\n\nNew <strong>bold</strong> para.\r\n\r\n3. not a list");
        assert_eq!(
            c.markdown,
            "First line\\\nsecond line\n\nNew **bold** para.\n\n3\\. not a list"
        );
    }

    #[test]
    fn blocks_lists_quotes_tables() {
        let c = md("<!-- wp:heading --><h2 id=\"x\">Title *one*</h2><!-- /wp:heading -->\n<ul><li>a<ol><li>b</li></ol></li><li>c</li></ul><blockquote class=\"wp-block-quote\"><p>Q</p><cite>Someone</cite></blockquote><figure class=\"wp-block-table\"><table><thead><tr><th>W</th><th>F</th></tr></thead><tbody><tr><td>1|2</td><td>ok</td></tr></tbody></table><figcaption>Cap</figcaption></figure><hr class=\"wp-block-separator\"/>");
        assert_eq!(
            c.markdown,
            "## Title \\*one\\*\n\n- a\n  1. b\n- c\n\n> Q\n>\n> — Someone\n\n| W | F |\n| --- | --- |\n| 1\\|2 | ok |\n\n*Cap*\n\n---"
        );
    }

    #[test]
    fn more_captions_embeds_and_drops() {
        let c = md("Intro<!--more Read on-->\n\n[caption id=\"a\" width=\"300\"]<img src=\"https://old.example/x-300x200.jpg\" alt=\"\" /> An evening walk[/caption]\n\nhttps://www.youtube.com/watch?v=abc\n\n<iframe src=\"https://www.youtube.com/embed/xyz\"></iframe>[contact-form-7 id=\"5\" title=\"Contact\"]<script>alert(1)</script>[sic]");
        assert!(
            c.markdown.starts_with(
                "Intro\n\n<!-- more -->\n\n![a picture](@/media/x-300x200.jpg \"An evening walk\")"
            ),
            "{}",
            c.markdown
        );
        assert!(
            c.markdown.contains("<https://www.youtube.com/watch?v=abc>"),
            "{}",
            c.markdown
        );
        assert!(
            c.markdown
                .contains("[Watch on YouTube](https://www.youtube.com/watch?v=xyz)"),
            "{}",
            c.markdown
        );
        assert!(c.markdown.contains("\\[sic\\]"), "{}", c.markdown);
        assert!(!c.markdown.contains("alert"));
        let notes = c.notes.join("; ");
        assert!(notes.contains("YouTube embed kept as a link"), "{notes}");
        assert!(notes.contains("contact-form-7"), "{notes}");
        assert!(notes.contains("a script dropped"), "{notes}");
    }

    #[test]
    fn code_keeps_brackets_and_entities() {
        let c = md("<!-- wp:code --><pre class=\"wp-block-code\"><code>if x &lt;3 [[ 12 ]]&gt; keep</code></pre><!-- /wp:code -->");
        assert_eq!(c.markdown, "```\nif x <3 [[ 12 ]]> keep\n```");
    }

    #[test]
    fn links_are_rewritten_and_odd_schemes_dropped() {
        let c = md("<p>See <a href=\"https://old.example/2024/05/01/other/\">this</a> and <a href=\"javascript:alert(1)\">that</a>.</p>");
        assert!(
            c.markdown
                .starts_with("See [this](@/articles/other.md) and that"),
            "{}",
            c.markdown
        );
        assert_eq!(c.notes.len(), 1);
    }

    proptest::proptest! {
        /// Any mix of the pieces WordPress content is made of converts
        /// without a panic, and no script, frame or form survives as
        /// markup (text that looks like one is escaped).
        #[test]
        fn any_mix_converts_and_drops_active_markup(
            pieces in proptest::collection::vec(0usize..PIECES.len(), 0..24),
            classic in proptest::bool::ANY,
        ) {
            let mut html: String = pieces.iter().map(|i| PIECES[*i]).collect();
            if !classic {
                html.insert_str(0, "<!-- wp:paragraph -->");
            }
            let c = md(&html);
            // As an article page would show it.
            let page = crate::content::markdown::render(
                &c.markdown,
                1,
                &|p: &str| Some(format!("/{p}")),
                &crate::content::markdown::ContentWords::default(),
            );
            let lower = page.html.to_lowercase();
            for active in ["<script", "<iframe", "<form", "<style", "<object", "<embed", "href=\"javascript:"] {
                proptest::prop_assert!(!lower.contains(active), "{active} in {:?} from {html:?}", page.html);
            }
            let markers = c.markdown.matches(NOTE_START).count();
            proptest::prop_assert!(markers <= c.notes.len());
        }
    }

    const PIECES: &[&str] = &[
        "<p>",
        "</p>",
        "text ",
        "\n",
        "\n\n",
        "<strong>",
        "</strong>",
        "<em>",
        "</em>",
        "<ul><li>",
        "</li></ul>",
        "<ol start=\"3\"><li>",
        "</li><li>",
        "</ol>",
        "<blockquote>",
        "</blockquote>",
        "<table><tr><td>a|b",
        "</td></tr></table>",
        "<pre><code>x ]]> &lt;3",
        "</code></pre>",
        "<script>alert(1)</script>",
        "<iframe src=\"https://www.youtube.com/embed/x\"></iframe>",
        "<form><input></form>",
        "<a href=\"javascript:alert(1)\">j</a>",
        "<a href=\"/x\">l</a>",
        "[caption id=\"a\"]",
        "[/caption]",
        "<img src=\"https://old.example/a.jpg\" alt=\"A\">",
        "[gallery ids=\"1,2\"]",
        "[contact-form-7 id=\"5\"]",
        "[sic]",
        "[[x]]",
        "<!--more-->",
        "https://www.youtube.com/watch?v=abc",
        "<h2>",
        "</h2>",
        "<hr>",
        "<br>",
        "# not a heading",
        "1. not a list",
        "&amp;copy;",
        "<figure class=\"wp-block-embed\"><div class=\"wp-block-embed__wrapper\">",
        "</div></figure>",
        "<style>p{}</style>",
        "<object data=\"x\"></object>",
        "<",
        "&lt;script&gt;",
    ];

    #[test]
    fn missing_pictures_are_notes() {
        let c = md("<p>A <img src=\"https://old.example/missing.jpg\" alt=\"x\"> b</p>");
        assert_eq!(
            c.notes,
            vec!["the picture https://old.example/missing.jpg is missing"]
        );
    }
}
