//! A cached article page as named segments, so a page with a reader's own
//! part costs about what the shared page costs: the shared segments are
//! compressed once, when the page is stored, and a reader's page is those
//! bytes with the reader's few rendered parts between them. Nothing shared
//! is compressed again per request, and nothing is found by searching the
//! page's text: the template writes a mark at each boundary
//! ([`crate::views::PageSegment`]), the page is cut at the marks once.
//!
//! Gzip: the segments are one raw deflate stream, cut where the compressor
//! was flushed (a sync flush ends each piece on a byte boundary; a full
//! flush, before a piece that starts afresh, also forgets what came before,
//! so the piece can follow anything). A reader's page is one gzip member:
//! the pieces' deflate bytes in page order, the reader's parts in their
//! places (stored as they are while small: the form's fields or a comment
//! or two are a few KB, and starting a compressor afresh costs more time
//! than those bytes cost on the wire; larger ones compressed on their own
//! at the fastest level), a final empty block, and the CRC and length of
//! the page as served. Comments start afresh every
//! [`ITEMS_PER_RUN`] items (each run compresses as well as the whole
//! list, nearly); a comment that follows one of the reader's own in the
//! middle of a run goes as a stored (uncompressed) block, as do the rest of
//! that run's, since their compressed bytes point back at comments the
//! reader's page no longer has just before them.
//!
//! Brotli: a reader's page is gzip even when the browser also takes brotli
//! (independent brotli streams do not concatenate); the shared page keeps
//! its brotli.
use std::ops::Range;

use actix_web::web::Bytes;
use flate2::{Compress, Compression, FlushCompress};

use crate::views::PageSegment;

/// Comments compressed together before the compressor starts afresh.
pub const ITEMS_PER_RUN: usize = 8;
/// A reader's part shorter than this goes uncompressed (stored blocks).
const STORE_THEIRS_BELOW: usize = 8 * 1024;

/// What a piece of the page is, from the marks around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// From the start of the page to the first comment (or to the form's
    /// fields when there are no comments).
    Before,
    /// One comment of the list.
    Item,
    /// From the end of the list to the form's fields.
    Between,
    /// The form's fields (name, email, comment, choices).
    Fields,
    /// From the end of the fields to the end of the page.
    After,
}

/// A page cut at its marks: its text without them, and its pieces.
pub struct Split {
    pub plain: String,
    pub cuts: Vec<(Kind, Range<usize>)>,
}

/// Cuts a page rendered with marks ([`crate::views::SegmentMarks::CACHED`])
/// at them. None unless the marks come exactly as the template writes
/// them: some comments (each after an item mark, the list closed by its
/// mark), then the form's fields between their two marks. A page whose
/// trusted article text happened to carry a mark is not cut (it is then
/// rendered again without marks).
pub fn split(marked: &str) -> Option<Split> {
    let mut plain = String::with_capacity(marked.len());
    let mut cuts = Vec::new();
    let mut kind = Kind::Before;
    let mut rest = marked;
    loop {
        let (text, next) = match rest.find(PageSegment::PREFIX) {
            Some(at) => {
                let after = &rest[at..];
                let segment = PageSegment::ALL
                    .into_iter()
                    .find(|s| after.starts_with(s.mark()))?;
                (&rest[..at], Some((segment, &after[segment.mark().len()..])))
            }
            None => (rest, None),
        };
        let start = plain.len();
        plain.push_str(text);
        cuts.push((kind, start..plain.len()));
        let Some((segment, after)) = next else { break };
        kind = match (kind, segment) {
            (Kind::Before | Kind::Item, PageSegment::Item) => Kind::Item,
            (Kind::Item, PageSegment::ListEnd) => Kind::Between,
            (Kind::Before | Kind::Between, PageSegment::Fields) => Kind::Fields,
            (Kind::Fields, PageSegment::FieldsEnd) => Kind::After,
            _ => return None,
        };
        rest = after;
    }
    (kind == Kind::After).then_some(Split { plain, cuts })
}

/// One piece of a cached page.
struct Piece {
    kind: Kind,
    plain: Range<usize>,
    deflate: Range<usize>,
    /// Its deflate bytes refer to nothing before it.
    fresh: bool,
    /// The CRC-32 of the page up to its end: a run of pieces' CRC is had
    /// from two of these without reading the run's bytes again.
    crc_to_end: u32,
}

/// The pieces of a cached page and their deflate bytes.
pub struct Segments {
    pieces: Vec<Piece>,
    deflate: Bytes,
}

/// What a reader's page is made of, in order.
pub enum Part {
    /// The cached page's piece of this index.
    Shared(usize),
    /// Text rendered for this reader.
    Theirs(String),
}

impl Segments {
    /// Compresses the pieces `cuts` of `plain` (once per cache entry).
    pub fn compress(plain: &[u8], cuts: &[(Kind, Range<usize>)]) -> Option<Self> {
        let mut items = 0;
        let fresh: Vec<bool> = cuts
            .iter()
            .map(|(kind, _)| match kind {
                Kind::Item => {
                    items += 1;
                    (items - 1) % ITEMS_PER_RUN == 0
                }
                _ => true,
            })
            .collect();
        let mut compressor = Compress::new(Compression::new(6), false);
        let mut out = Vec::with_capacity(plain.len() / 3);
        let mut pieces = Vec::with_capacity(cuts.len());
        let mut crc = crc32fast::Hasher::new();
        let mut end = 0;
        for (i, (kind, range)) in cuts.iter().enumerate() {
            // The pieces follow each other through the whole page.
            if range.start != end {
                return None;
            }
            end = range.end;
            crc.update(plain.get(range.clone())?);
            // A full flush before a piece that starts afresh.
            let flush = match fresh.get(i + 1) {
                Some(false) => FlushCompress::Sync,
                _ => FlushCompress::Full,
            };
            let start = out.len();
            deflate_into(&mut compressor, plain.get(range.clone())?, flush, &mut out)?;
            pieces.push(Piece {
                kind: *kind,
                plain: range.clone(),
                deflate: start..out.len(),
                fresh: fresh[i],
                crc_to_end: crc.clone().finalize(),
            });
        }
        Some(Self {
            pieces,
            deflate: Bytes::from(out),
        })
    }

    /// The kinds of the pieces, in page order.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.pieces.iter().map(|p| p.kind)
    }

    /// What the pieces cost the cache, besides the page's plain bytes.
    pub fn size(&self) -> usize {
        self.deflate.len() + self.pieces.capacity() * std::mem::size_of::<Piece>()
    }

    /// The page made of `parts`, as is. None if a part names no piece.
    pub fn plain(&self, page: &[u8], parts: &[Part]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(page.len() + 4096);
        for part in parts {
            match part {
                Part::Shared(i) => {
                    out.extend_from_slice(page.get(self.pieces.get(*i)?.plain.clone())?)
                }
                Part::Theirs(text) => out.extend_from_slice(text.as_bytes()),
            }
        }
        Some(out)
    }

    /// The CRC-32 (with its length) of the pieces `first..=last`, in page
    /// order, from the CRCs kept up to each piece's end: no byte is read.
    fn run_crc(&self, first: usize, last: usize) -> Option<crc32fast::Hasher> {
        let end = self.pieces.get(last)?;
        let len = (end.plain.end - self.pieces.get(first)?.plain.start) as u64;
        let before = match first {
            0 => 0,
            _ => self.pieces.get(first - 1)?.crc_to_end,
        };
        // crc(AB) = shift(crc(A), |B|) ^ crc(B), so
        // crc(B) = crc(AB) ^ shift(crc(A), |B|).
        let mut shifted = crc32fast::Hasher::new_with_initial_len(before, 0);
        shifted.combine(&crc32fast::Hasher::new_with_initial_len(0, len));
        Some(crc32fast::Hasher::new_with_initial_len(
            end.crc_to_end ^ shifted.finalize(),
            len,
        ))
    }

    /// The page made of `parts` as one gzip member: the shared pieces'
    /// deflate bytes as stored, the reader's parts compressed here. The
    /// CRC of the page is put together from the shared runs' kept CRCs and
    /// the reader's parts' (`theirs_crcs`, one per `Part::Theirs`, in
    /// order: [`theirs_crc`]).
    pub fn gzip(&self, page: &[u8], parts: &[Part], theirs_crcs: &[u32]) -> Option<Vec<u8>> {
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        let mut out = Vec::with_capacity(self.deflate.len() + 8192);
        out.extend_from_slice(&HEADER);
        let mut crc = crc32fast::Hasher::new();
        // The run of consecutive shared pieces being written.
        let mut run: Option<(usize, usize)> = None;
        let mut theirs_crcs = theirs_crcs.iter();
        // The last shared piece written, while every piece since the
        // run's fresh start was written just before it, in order.
        let mut chain: Option<usize> = None;
        for part in parts {
            match part {
                Part::Shared(i) => {
                    let piece = self.pieces.get(*i)?;
                    run = match run {
                        Some((first, last)) if last + 1 == *i => Some((first, *i)),
                        Some((first, last)) => {
                            crc.combine(&self.run_crc(first, last)?);
                            Some((*i, *i))
                        }
                        None => Some((*i, *i)),
                    };
                    if piece.fresh || (*i > 0 && chain == Some(i - 1)) {
                        out.extend_from_slice(self.deflate.get(piece.deflate.clone())?);
                        chain = Some(*i);
                    } else {
                        stored_into(page.get(piece.plain.clone())?, &mut out);
                        chain = None;
                    }
                }
                Part::Theirs(text) => {
                    if let Some((first, last)) = run.take() {
                        crc.combine(&self.run_crc(first, last)?);
                    }
                    let theirs = *theirs_crcs.next()?;
                    crc.combine(&crc32fast::Hasher::new_with_initial_len(
                        theirs,
                        text.len() as u64,
                    ));
                    theirs_into(text.as_bytes(), &mut out)?;
                    chain = None;
                }
            }
        }
        if let Some((first, last)) = run {
            crc.combine(&self.run_crc(first, last)?);
        }
        let amount = crc.total_len() as u32;
        // The last block: empty, fixed codes.
        out.extend_from_slice(&[0x03, 0x00]);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&amount.to_le_bytes());
        Some(out)
    }
}

/// The CRC-32 of a reader's part, as [`Segments::gzip`] takes it.
pub fn theirs_crc(text: &str) -> u32 {
    crc32fast::hash(text.as_bytes())
}

/// Compresses `input` onto `out`, ending with `flush` (which leaves the
/// stream on a byte boundary).
fn deflate_into(
    compressor: &mut Compress,
    input: &[u8],
    flush: FlushCompress,
    out: &mut Vec<u8>,
) -> Option<()> {
    let start = compressor.total_in();
    loop {
        out.reserve(input.len() / 2 + 64);
        let done = usize::try_from(compressor.total_in() - start).ok()?;
        compressor
            .compress_vec(input.get(done..)?, out, flush)
            .ok()?;
        let consumed = usize::try_from(compressor.total_in() - start).ok()? == input.len();
        // The flush is complete when the output was not filled up.
        if consumed && out.len() < out.capacity() {
            return Some(());
        }
    }
}

/// `bytes` as stored (uncompressed) deflate blocks, not the last.
fn stored_into(bytes: &[u8], out: &mut Vec<u8>) {
    for block in bytes.chunks(u16::MAX as usize) {
        let len = block.len() as u16;
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

/// A reader's part: stored while small, else compressed on its own at the
/// fastest level (a compressor per thread, started afresh for each part).
fn theirs_into(bytes: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if bytes.len() < STORE_THEIRS_BELOW {
        stored_into(bytes, out);
        return Some(());
    }
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::fast(), false));
    }
    COMPRESSOR.with(|c| {
        let mut c = c.try_borrow_mut().ok()?;
        c.reset();
        deflate_into(&mut c, bytes, FlushCompress::Sync, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        // Nothing after the one member.
        let mut multi = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut multi)
            .unwrap();
        assert_eq!(out, multi);
        out
    }

    fn marked(items: usize) -> String {
        let mut page = String::from("<html>before the comments ");
        for i in 0..items {
            page.push_str(PageSegment::Item.mark());
            page.push_str(&format!(
                "\n    <li id=\"comment-{i}\">comment {i} words</li>"
            ));
        }
        if items > 0 {
            page.push_str(PageSegment::ListEnd.mark());
        }
        page.push_str("\n  </ol> the form ");
        page.push_str(PageSegment::Fields.mark());
        page.push_str("<input name=name value=\"\">");
        page.push_str(PageSegment::FieldsEnd.mark());
        page.push_str(" after </html>");
        page
    }

    #[test]
    fn pages_are_cut_at_their_marks_only_when_they_come_in_order() {
        let split = split(&marked(3)).unwrap();
        let kinds: Vec<Kind> = split.cuts.iter().map(|(k, _)| *k).collect();
        use Kind::*;
        assert_eq!(kinds, [Before, Item, Item, Item, Between, Fields, After]);
        assert!(!split.plain.contains(PageSegment::PREFIX));
        let joined: String = split
            .cuts
            .iter()
            .map(|(_, r)| &split.plain[r.clone()])
            .collect();
        assert_eq!(joined, split.plain);
        let none = super::split(&marked(0)).unwrap();
        let kinds: Vec<Kind> = none.cuts.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [Before, Fields, After]);
        // Out of order, or an unknown mark: not cut.
        let twice = marked(2).replacen(PageSegment::FieldsEnd.mark(), "", 1);
        assert!(super::split(&twice).is_none());
        let odd = marked(1).replacen("before", PageSegment::FieldsEnd.mark(), 1);
        assert!(super::split(&odd).is_none());
        let unknown = marked(1).replacen("before", &format!("{}nope-->", PageSegment::PREFIX), 1);
        assert!(super::split(&unknown).is_none());
    }

    #[test]
    fn any_mix_of_shared_pieces_and_a_readers_parts_is_the_page_gzipped() {
        let split = split(&marked(20)).unwrap();
        let page = split.plain.as_bytes();
        let segments = Segments::compress(page, &split.cuts).unwrap();
        let n = split.cuts.len();
        let mut seed = 7u64;
        let mut next = |m: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % m
        };
        for _ in 0..200 {
            let mut parts = Vec::new();
            for i in 0..n {
                match next(6) {
                    0 => parts.push(Part::Theirs(format!("<li>mine {i}</li>"))),
                    1 => {
                        parts.push(Part::Theirs("x".repeat(next(70_000))));
                        continue;
                    }
                    2 => continue,
                    _ => {}
                }
                parts.push(Part::Shared(i));
            }
            let plain = segments.plain(page, &parts).unwrap();
            let crcs: Vec<u32> = parts
                .iter()
                .filter_map(|p| match p {
                    Part::Theirs(t) => Some(theirs_crc(t)),
                    Part::Shared(_) => None,
                })
                .collect();
            let gz = segments.gzip(page, &parts, &crcs).unwrap();
            assert_eq!(gunzip(&gz), plain);
        }
        // All shared: the page itself.
        let all: Vec<Part> = (0..n).map(Part::Shared).collect();
        assert_eq!(gunzip(&segments.gzip(page, &all, &[]).unwrap()), page);
    }
}
