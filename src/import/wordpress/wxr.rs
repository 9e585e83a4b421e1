//! A streaming reader of WordPress's export file (WXR 1.0 to 1.2): the
//! channel's authors and terms, then one `<item>` at a time with its
//! post meta and comments, so memory holds one item, never the file.
//!
//! Elements are matched by namespace URI (any `http://wordpress.org/export/`
//! version) and local name, and only at the depth WordPress writes them:
//! plugins add a `<title>` and `<link>` of their own inside `<image>`.
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::error::ImportError;

/// What the file says about the site, read before (and around) its items.
#[derive(Debug, Default, Clone)]
pub struct Channel {
    pub title: String,
    pub link: String,
    pub base_site_url: String,
    pub base_blog_url: String,
    pub wxr_version: String,
    pub authors: Vec<Author>,
    pub categories: Vec<Category>,
    pub tags: Vec<TagTerm>,
}

#[derive(Debug, Default, Clone)]
pub struct Author {
    pub id: i64,
    pub login: String,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Default, Clone)]
pub struct Category {
    pub term_id: i64,
    pub nicename: String,
    /// The parent's slug (WordPress writes the slug here, not the id).
    pub parent: String,
    pub name: String,
}

#[derive(Debug, Default, Clone)]
pub struct TagTerm {
    pub term_id: i64,
    pub slug: String,
    pub name: String,
}

/// A post's category or tag, as the item lists it.
#[derive(Debug, Default, Clone)]
pub struct ItemTerm {
    pub domain: String,
    pub nicename: String,
    pub name: String,
}

#[derive(Debug, Default, Clone)]
pub struct Item {
    /// Line of the `<item>` in the file, for messages.
    pub line: usize,
    pub title: String,
    pub link: String,
    pub creator: String,
    pub content: String,
    pub excerpt: String,
    pub post_id: i64,
    pub post_date: String,
    pub post_date_gmt: String,
    pub post_modified: String,
    pub post_modified_gmt: String,
    pub post_name: String,
    pub status: String,
    pub post_parent: i64,
    pub post_type: String,
    pub post_password: String,
    pub is_sticky: bool,
    pub attachment_url: String,
    pub terms: Vec<ItemTerm>,
    pub meta: Vec<(String, String)>,
    pub comments: Vec<Comment>,
}

impl Item {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn metas<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.meta
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default, Clone)]
pub struct Comment {
    pub id: i64,
    pub author: String,
    pub author_email: String,
    pub date: String,
    pub date_gmt: String,
    pub content: String,
    pub approved: String,
    pub kind: String,
    pub parent: i64,
    pub user_id: i64,
    pub meta: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ns {
    None,
    Wp,
    Excerpt,
    Content,
    Dc,
    Other,
}

fn ns_of(resolved: &ResolveResult) -> Ns {
    match resolved {
        ResolveResult::Unbound => Ns::None,
        ResolveResult::Bound(ns) => {
            let uri = ns.as_ref();
            if uri.starts_with("http://wordpress.org/export/") {
                if uri.trim_end().ends_with("/excerpt/") {
                    Ns::Excerpt
                } else {
                    Ns::Wp
                }
            } else if uri.starts_with("http://purl.org/rss/1.0/modules/content") {
                Ns::Content
            } else if uri.starts_with("http://purl.org/dc/elements/1.1") {
                Ns::Dc
            } else {
                Ns::Other
            }
        }
        ResolveResult::Unknown(_) => Ns::Other,
    }
}

/// Where the reader is: the elements open, outermost first.
type Path_ = Vec<(Ns, String)>;

fn is(path: &Path_, at: usize, ns: Ns, name: &str) -> bool {
    path.get(at).is_some_and(|(n, l)| *n == ns && l == name)
}

/// Reads the whole file once, calling `on_item` for each `<item>` in
/// order, and returns the channel. A file that is not a WordPress export,
/// or is not well-formed XML (a truncated download), is an error naming
/// the line.
pub fn read(
    file: &Path,
    mut on_item: impl FnMut(Item, &Channel) -> Result<(), ImportError>,
) -> Result<Channel, ImportError> {
    let opened = File::open(file)
        .map_err(|e| ImportError::plain(format!("cannot open {}: {e}", file.display())))?;
    let mut reader = NsReader::from_reader(BufReader::with_capacity(1 << 16, opened));
    reader.config_mut().trim_text(false);
    let mut buf = Vec::new();
    let mut path: Path_ = Vec::new();
    let mut text = String::new();
    let mut channel = Channel::default();
    let mut item: Option<Item> = None;
    let mut comment: Option<Comment> = None;
    let mut meta_key = String::new();
    let mut author = Author::default();
    let mut category = Category::default();
    let mut tag = TagTerm::default();
    let mut term_attrs: Option<(String, String)> = None;
    let mut saw_rss = false;
    let mut saw_wxr = false;
    let mut lines = LineCounter::new(file);
    loop {
        let position = reader.buffer_position();
        let (resolved, event) = match reader.read_resolved_event_into(&mut buf) {
            Ok((r, e)) => (ns_of(&r), e),
            Err(e) => {
                let line = lines.line_at(reader.error_position());
                return Err(ImportError::at(
                    line,
                    format!("this is not well-formed XML ({e}); is the export complete? Download it again from Tools → Export"),
                ));
            }
        };
        match event {
            Event::DocType(_) => {
                return Err(ImportError::at(
                    lines.line_at(position),
                    "a WordPress export has no DOCTYPE; this file is something else".into(),
                ))
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                let local = start.local_name().as_ref().to_string();
                if path.is_empty() {
                    if local != "rss" {
                        return Err(ImportError::at(
                            lines.line_at(position),
                            format!("this is not a WordPress export (WXR): it starts with <{local}>, not <rss>"),
                        ));
                    }
                    saw_rss = true;
                }
                path.push((resolved, local));
                text.clear();
                let depth = path.len();
                if depth == 3 && is(&path, 1, Ns::None, "channel") {
                    match (resolved, path[2].1.as_str()) {
                        (Ns::None, "item") => {
                            item = Some(Item {
                                line: lines.line_at(position),
                                ..Item::default()
                            })
                        }
                        (Ns::Wp, "author") => author = Author::default(),
                        (Ns::Wp, "category") => category = Category::default(),
                        (Ns::Wp, "tag") => tag = TagTerm::default(),
                        _ => {}
                    }
                }
                if depth == 4 && item.is_some() {
                    match (resolved, path[3].1.as_str()) {
                        (Ns::None, "category") => term_attrs = Some(term_attributes(start)),
                        (Ns::Wp, "comment") => comment = Some(Comment::default()),
                        _ => {}
                    }
                }
                if empty {
                    end_element(
                        &mut path,
                        &mut text,
                        &mut channel,
                        &mut item,
                        &mut comment,
                        &mut meta_key,
                        &mut author,
                        &mut category,
                        &mut tag,
                        &mut term_attrs,
                        &mut saw_wxr,
                    );
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => {
                    let name = r.as_ref().to_string();
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => {
                            return Err(ImportError::at(
                                lines.line_at(position),
                                format!("unknown entity `&{name};` (an export holds only the five XML ones)"),
                            ))
                        }
                    }
                }
            },
            Event::End(_) => {
                let closing_item = path.len() == 3 && is(&path, 2, Ns::None, "item");
                end_element(
                    &mut path,
                    &mut text,
                    &mut channel,
                    &mut item,
                    &mut comment,
                    &mut meta_key,
                    &mut author,
                    &mut category,
                    &mut tag,
                    &mut term_attrs,
                    &mut saw_wxr,
                );
                if closing_item {
                    if let Some(done) = item.take() {
                        on_item(done, &channel)?;
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !path.is_empty() || !saw_rss {
        let line = lines.line_at(reader.buffer_position());
        return Err(ImportError::at(
            line,
            "the file ends in the middle (truncated?); download the export again".into(),
        ));
    }
    if !saw_wxr {
        return Err(ImportError::plain(
            "this RSS file has no <wp:wxr_version>: it is a feed, not a WordPress export (Tools → Export in WordPress makes one)".into(),
        ));
    }
    Ok(channel)
}

fn term_attributes(start: &BytesStart) -> (String, String) {
    let mut domain = String::new();
    let mut nicename = String::new();
    for attr in start.attributes().flatten() {
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| v.into_owned())
            .unwrap_or_default();
        match attr.key.local_name().as_ref() {
            "domain" => domain = value,
            "nicename" => nicename = value,
            _ => {}
        }
    }
    (domain, nicename)
}

fn int(text: &str) -> i64 {
    text.trim().parse().unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
fn end_element(
    path: &mut Path_,
    text: &mut String,
    channel: &mut Channel,
    item: &mut Option<Item>,
    comment: &mut Option<Comment>,
    meta_key: &mut String,
    author: &mut Author,
    category: &mut Category,
    tag: &mut TagTerm,
    term_attrs: &mut Option<(String, String)>,
    saw_wxr: &mut bool,
) {
    let value = std::mem::take(text);
    let depth = path.len();
    let Some((ns, name)) = path.last().cloned() else {
        return;
    };
    let in_channel = depth >= 2 && is(path, 1, Ns::None, "channel");
    if in_channel && depth == 3 {
        match (ns, name.as_str()) {
            (Ns::None, "title") => channel.title = value,
            (Ns::None, "link") => channel.link = value.trim().to_string(),
            (Ns::Wp, "wxr_version") => {
                channel.wxr_version = value.trim().to_string();
                *saw_wxr = true;
            }
            (Ns::Wp, "base_site_url") => channel.base_site_url = value.trim().to_string(),
            (Ns::Wp, "base_blog_url") => channel.base_blog_url = value.trim().to_string(),
            (Ns::Wp, "author") => channel.authors.push(std::mem::take(author)),
            (Ns::Wp, "category") => channel.categories.push(std::mem::take(category)),
            (Ns::Wp, "tag") => channel.tags.push(std::mem::take(tag)),
            _ => {}
        }
    } else if in_channel && depth == 4 && is(path, 2, Ns::Wp, "author") {
        match name.as_str() {
            "author_id" => author.id = int(&value),
            "author_login" => author.login = value,
            "author_email" => author.email = value,
            "author_display_name" => author.display_name = value,
            _ => {}
        }
    } else if in_channel && depth == 4 && is(path, 2, Ns::Wp, "category") {
        match name.as_str() {
            "term_id" => category.term_id = int(&value),
            "category_nicename" => category.nicename = value,
            "category_parent" => category.parent = value,
            "cat_name" => category.name = value,
            _ => {}
        }
    } else if in_channel && depth == 4 && is(path, 2, Ns::Wp, "tag") {
        match name.as_str() {
            "term_id" => tag.term_id = int(&value),
            "tag_slug" => tag.slug = value,
            "tag_name" => tag.name = value,
            _ => {}
        }
    } else if let Some(item) = item.as_mut().filter(|_| in_channel && depth >= 4) {
        if depth == 4 {
            match (ns, name.as_str()) {
                (Ns::None, "title") => item.title = value,
                (Ns::None, "link") => item.link = value.trim().to_string(),
                (Ns::Dc, "creator") => item.creator = value,
                (Ns::Content, "encoded") => item.content = value,
                (Ns::Excerpt, "encoded") => item.excerpt = value,
                (Ns::Wp, "post_id") => item.post_id = int(&value),
                (Ns::Wp, "post_date") => item.post_date = value.trim().to_string(),
                (Ns::Wp, "post_date_gmt") => item.post_date_gmt = value.trim().to_string(),
                (Ns::Wp, "post_modified") => item.post_modified = value.trim().to_string(),
                (Ns::Wp, "post_modified_gmt") => item.post_modified_gmt = value.trim().to_string(),
                (Ns::Wp, "post_name") => item.post_name = value.trim().to_string(),
                (Ns::Wp, "status") => item.status = value.trim().to_string(),
                (Ns::Wp, "post_parent") => item.post_parent = int(&value),
                (Ns::Wp, "post_type") => item.post_type = value.trim().to_string(),
                (Ns::Wp, "post_password") => item.post_password = value,
                (Ns::Wp, "is_sticky") => item.is_sticky = value.trim() == "1",
                (Ns::Wp, "attachment_url") => item.attachment_url = value.trim().to_string(),
                (Ns::None, "category") => {
                    let (domain, nicename) = term_attrs.take().unwrap_or_default();
                    item.terms.push(ItemTerm {
                        domain,
                        nicename,
                        name: value,
                    });
                }
                (Ns::Wp, "comment") => {
                    if let Some(c) = comment.take() {
                        item.comments.push(c);
                    }
                }
                _ => {}
            }
        } else if depth == 5 && is(path, 3, Ns::Wp, "postmeta") {
            match name.as_str() {
                "meta_key" => *meta_key = value,
                "meta_value" => item.meta.push((std::mem::take(meta_key), value)),
                _ => {}
            }
        } else if let Some(c) = comment.as_mut().filter(|_| is(path, 3, Ns::Wp, "comment")) {
            if depth == 5 {
                match name.as_str() {
                    "comment_id" => c.id = int(&value),
                    "comment_author" => c.author = value,
                    "comment_author_email" => c.author_email = value.trim().to_string(),
                    "comment_date" => c.date = value.trim().to_string(),
                    "comment_date_gmt" => c.date_gmt = value.trim().to_string(),
                    "comment_content" => c.content = value,
                    "comment_approved" => c.approved = value.trim().to_string(),
                    "comment_type" => c.kind = value.trim().to_string(),
                    "comment_parent" => c.parent = int(&value),
                    "comment_user_id" => c.user_id = int(&value),
                    _ => {}
                }
            } else if depth == 6 && is(path, 4, Ns::Wp, "commentmeta") {
                match name.as_str() {
                    "meta_key" => *meta_key = value,
                    "meta_value" => c.meta.push((std::mem::take(meta_key), value)),
                    _ => {}
                }
            }
        }
    }
    path.pop();
}

/// Lines of byte offsets, counted by a second reader of the file that
/// only moves forward (item offsets grow), so the whole count costs one
/// more read of the file, not one per item.
struct LineCounter {
    reader: Option<BufReader<File>>,
    file: std::path::PathBuf,
    offset: u64,
    line: usize,
}

impl LineCounter {
    fn new(file: &Path) -> Self {
        Self {
            reader: None,
            file: file.to_path_buf(),
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: u64) -> usize {
        if offset < self.offset || self.reader.is_none() {
            self.reader = File::open(&self.file).ok().map(BufReader::new);
            self.offset = 0;
            self.line = 1;
        }
        let Some(reader) = self.reader.as_mut() else {
            return 0;
        };
        while self.offset < offset {
            let chunk = match reader.fill_buf() {
                Ok(c) if !c.is_empty() => c,
                _ => break,
            };
            let take = (chunk.len() as u64).min(offset - self.offset) as usize;
            self.line += chunk[..take].iter().filter(|b| **b == b'\n').count();
            self.offset += take as u64;
            reader.consume(take);
        }
        self.line
    }
}

/// Whether the file starts like XML at all (a quick look, so a wrong file
/// gets a plain answer rather than a parser error).
pub fn looks_like_xml(file: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = File::open(file) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
}
