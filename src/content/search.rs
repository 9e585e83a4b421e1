//! An in-memory full-text index over titles, summaries and bodies, built
//! when content loads. Ranking puts title hits first; matched words are
//! returned as segments so templates can highlight them without raw HTML.
use std::collections::{BTreeMap, HashMap};

/// A run of text, highlighted when it matched the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub hit: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Posting {
    doc: u32,
    title: u16,
    summary: u16,
    body: u16,
}

/// Query terms, normalised the way the index is.
#[derive(Debug, Clone, Default)]
pub struct Query {
    terms: Vec<String>,
}

impl Query {
    /// Splits a reader's query into at most 12 distinct words.
    pub fn parse(raw: &str) -> Self {
        let mut terms: Vec<String> = Vec::new();
        for (_, _, word) in tokens(raw) {
            if !terms.contains(&word) && terms.len() < 12 {
                terms.push(word);
            }
        }
        Self { terms }
    }
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
    /// True when some term matches `word` (as written in the text).
    fn matches(&self, word: &str) -> bool {
        self.terms.iter().any(|t| term_matches(t, word))
    }
}

/// A term matches a word exactly, or as a prefix once it has 3+ letters
/// (so "contact" finds "contacting"). `word` is as written in the text;
/// it is normalised on the fly, without allocating.
fn term_matches(term: &str, word: &str) -> bool {
    let mut w = normalised_chars(word);
    let mut t = term.chars();
    let mut matched = 0;
    loop {
        match (t.next(), w.next()) {
            (None, None) => return true,
            (None, Some(_)) => return matched >= 3,
            (Some(a), Some(b)) if a == b => matched += 1,
            _ => return false,
        }
    }
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

/// Lower case, apostrophes dropped: "Don’t" and "don't" are both "dont".
fn normalised_chars(word: &str) -> impl Iterator<Item = char> + '_ {
    word.chars()
        .filter(|c| !is_apostrophe(*c))
        .flat_map(char::to_lowercase)
}

/// Byte spans of the words of a text: runs of letters and digits, keeping
/// an apostrophe between letters (don’t) inside the word.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let start = pos + text[pos..].find(|c: char| c.is_alphanumeric())?;
        let mut end = start;
        let mut chars = text[start..].char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c.is_alphanumeric() {
                end = start + i + c.len_utf8();
            } else if !(is_apostrophe(c) && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric()))
            {
                break;
            }
        }
        pos = end;
        Some((start, end))
    })
}

/// Words of a text: (byte start, byte end, normalised word).
fn tokens(text: &str) -> impl Iterator<Item = (usize, usize, String)> + '_ {
    word_spans(text).map(|(start, end)| (start, end, normalised_chars(&text[start..end]).collect()))
}

#[derive(Debug, Default)]
pub struct SearchIndex {
    postings: BTreeMap<String, Vec<Posting>>,
}

/// A ranked hit: the document number given at build time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub doc: u32,
    pub title_terms: u32,
    pub score: f32,
}

impl SearchIndex {
    /// Indexes documents given as (title, summary, body), numbered in order.
    pub fn build<'a>(docs: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Self {
        let mut postings: BTreeMap<String, Vec<Posting>> = BTreeMap::new();
        for (doc, (title, summary, body)) in docs.into_iter().enumerate() {
            let mut counts: HashMap<String, Posting> = HashMap::new();
            let doc = doc as u32;
            for (field, text) in [(0, title), (1, summary), (2, body)] {
                for (_, _, word) in tokens(text) {
                    let p = counts.entry(word).or_insert(Posting {
                        doc,
                        ..Posting::default()
                    });
                    let slot = match field {
                        0 => &mut p.title,
                        1 => &mut p.summary,
                        _ => &mut p.body,
                    };
                    *slot = slot.saturating_add(1);
                }
            }
            for (word, posting) in counts {
                postings.entry(word).or_default().push(posting);
            }
        }
        Self { postings }
    }

    /// Documents containing every term, best first: more query words in the
    /// title first, then by score, then by document number (newest first
    /// when documents are given newest first).
    pub fn search(&self, query: &Query) -> Vec<Hit> {
        let mut per_doc: HashMap<u32, (u32, u32, f32)> = HashMap::new();
        for (term_no, term) in query.terms.iter().enumerate() {
            let mut seen_this_term: HashMap<u32, (bool, f32)> = HashMap::new();
            let prefix_ok = term.chars().count() >= 3;
            let mut keys = 0;
            for (word, list) in self.postings.range(term.clone()..) {
                if !(word == term || (prefix_ok && word.starts_with(term.as_str()))) {
                    break;
                }
                keys += 1;
                if keys > 200 {
                    break;
                }
                let exactness = if word == term { 1.0 } else { 0.6 };
                for p in list {
                    let weight = 10.0 * f32::from(p.title).sqrt()
                        + 3.0 * f32::from(p.summary).sqrt()
                        + 1.0
                        + f32::from(p.body).ln_1p();
                    let entry = seen_this_term.entry(p.doc).or_insert((false, 0.0));
                    entry.0 |= p.title > 0;
                    entry.1 += weight * exactness;
                }
            }
            for (doc, (in_title, score)) in seen_this_term {
                let e = per_doc.entry(doc).or_insert((0, 0, 0.0));
                if e.0 as usize == term_no {
                    e.0 += 1;
                    e.1 += u32::from(in_title);
                    e.2 += score;
                }
            }
        }
        let wanted = query.terms.len() as u32;
        let mut hits: Vec<Hit> = per_doc
            .into_iter()
            .filter(|(_, (matched, _, _))| *matched == wanted && wanted > 0)
            .map(|(doc, (_, title_terms, score))| Hit {
                doc,
                title_terms,
                score,
            })
            .collect();
        hits.sort_by(|a, b| {
            b.title_terms
                .cmp(&a.title_terms)
                .then(b.score.total_cmp(&a.score))
                .then(a.doc.cmp(&b.doc))
        });
        hits
    }
}

/// Splits `text` into segments, marking the words the query matched.
pub fn highlight(text: &str, query: &Query) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut at = 0;
    for (start, end) in word_spans(text) {
        if query.matches(&text[start..end]) {
            if start > at {
                push(&mut out, &text[at..start], false);
            }
            push(&mut out, &text[start..end], true);
            at = end;
        }
    }
    if at < text.len() {
        push(&mut out, &text[at..], false);
    }
    out
}

fn push(out: &mut Vec<Segment>, text: &str, hit: bool) {
    match out.last_mut() {
        Some(last) if last.hit == hit && !hit => last.text.push_str(text),
        _ => out.push(Segment {
            text: text.to_string(),
            hit,
        }),
    }
}

/// About `words` words of `text` around its first match, highlighted; None
/// when the text has no match. Paragraph breaks show as " · ".
pub fn snippet(text: &str, query: &Query, words: usize) -> Option<Vec<Segment>> {
    let spans: Vec<(usize, usize)> = word_spans(text).collect();
    let first = spans
        .iter()
        .position(|&(s, e)| query.matches(&text[s..e]))?;
    let start = first.saturating_sub(words / 3);
    let end = (start + words).min(spans.len());
    let mut slice = String::new();
    if start > 0 {
        slice.push_str("… ");
    }
    let body = &text[spans[start].0..spans[end - 1].1];
    for (i, para) in body
        .split('\n')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        if i > 0 {
            slice.push_str(" · ");
        }
        slice.push_str(&para.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    if end < spans.len() {
        slice.push_str(" …");
    }
    Some(highlight(&slice, query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_hits_rank_first_and_all_terms_are_required() {
        let idx = SearchIndex::build([
            (
                "Sleep after a breakup",
                "rest",
                "contact contact contact contact",
            ),
            ("Going no contact", "why silence helps", "the body"),
            ("Unrelated", "nothing", "nothing here"),
        ]);
        let hits = idx.search(&Query::parse("contact"));
        assert_eq!(hits.iter().map(|h| h.doc).collect::<Vec<_>>(), vec![1, 0]);
        assert!(idx
            .search(&Query::parse("contact sleep"))
            .iter()
            .all(|h| h.doc == 0));
        assert!(idx.search(&Query::parse("zzz")).is_empty());
        assert!(idx.search(&Query::parse("   ")).is_empty());
    }

    #[test]
    fn prefixes_match_longer_words() {
        let idx = SearchIndex::build([("Texting your ex", "", "")]);
        assert_eq!(idx.search(&Query::parse("text")).len(), 1);
        assert_eq!(idx.search(&Query::parse("TEXTING")).len(), 1);
    }

    #[test]
    fn highlights_keep_the_original_text() {
        let q = Query::parse("contact");
        let segs = highlight("No Contact, <b>contacting</b>!", &q);
        let joined: String = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, "No Contact, <b>contacting</b>!");
        assert_eq!(segs.iter().filter(|s| s.hit).count(), 2);
        let text = format!("{}contact {}", "word ".repeat(50), "word ".repeat(50));
        let snip = snippet(&text, &q, 10).unwrap();
        assert!(snip.iter().any(|s| s.hit));
        assert!(snip[0].text.starts_with("… "));
    }

    #[test]
    fn apostrophes_stay_inside_words() {
        let idx = SearchIndex::build([("Don’t reply yet", "", "")]);
        assert_eq!(idx.search(&Query::parse("don't")).len(), 1);
        assert_eq!(idx.search(&Query::parse("dont")).len(), 1);
        let q = Query::parse("reply");
        let snip = snippet("Don’t reply\nThis is the next paragraph.", &q, 3).unwrap();
        let joined: String = snip.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, "Don’t reply · This …");
    }
}
