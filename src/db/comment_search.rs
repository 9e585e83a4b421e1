//! Searching what a stranger may read in the comments: published, not
//! private comments (readers' and the coach's public answers).
//!
//! Why in the database and not in memory like the articles: comments
//! change all the time and on every instance; an index each instance kept
//! in memory would have to follow every other instance's writes, and a
//! reader erased on one instance would stay findable on the others until
//! they noticed. In the database the index changes in the same transaction
//! as the comment, whichever instance wrote it:
//!
//! - SQLite: a contentless FTS5 table (`comment_search`, rowid = comment
//!   id) kept by triggers on `comments` (migration `comment_search`).
//! - PostgreSQL: a generated `tsvector` column (`comments.search_words`,
//!   NULL unless public) with a partial GIN index; generated columns are
//!   computed even when a restore turns triggers off.
//!
//! Both split words the same way and do not stem (`unicode61` with
//! diacritics kept; the `simple` configuration), because the site speaks
//! English or German and stemming would make the two backends disagree
//! ("neighbours" stems on PostgreSQL's `english`, not in FTS5's
//! `unicode61`). Like the article search, a word of three letters or more
//! also finds longer words it starts ("neighbour" finds "neighbours"), and
//! every word must appear. The query is built from the reader's words
//! alone, each quoted, so no input can be a syntax error.
//!
//! The newest [`CANDIDATES`] matches are read (FTS5 walks its index
//! backwards by rowid; PostgreSQL the newest public rows by primary key,
//! then the GIN index when they hold too few: no sort of every match),
//! then ranked in Rust, which makes the order the same on both backends.
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::comments::CommentRow;
use super::schema::comments;
use super::Db;

/// Matches read per search, newest first.
pub const CANDIDATES: i64 = 100;
/// PostgreSQL: public comments looked through newest first before the
/// GIN index is asked (see [`matching_ids`]).
const PG_RECENT_ROWS: i64 = 3000;
/// Words of a query used at most.
const MAX_TERMS: usize = 12;

/// The words of `text` as the index splits them: runs of letters and
/// digits, lower case, in order (repeats kept).
pub fn split_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// A reader's query as the index splits words: runs of letters and digits,
/// lower case, each kept once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    words: Vec<String>,
}

impl Terms {
    pub fn parse(raw: &str) -> Self {
        let mut words: Vec<String> = Vec::new();
        for word in split_words(raw) {
            if !words.contains(&word) && words.len() < MAX_TERMS {
                words.push(word);
            }
        }
        Self { words }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// A word of three letters or more also matches longer words.
    fn is_prefix(word: &str) -> bool {
        word.chars().count() >= 3
    }

    /// An FTS5 query: every word quoted (a word holds only letters and
    /// digits, so never a quote), prefixes starred, all required.
    pub fn fts5(&self) -> String {
        self.words
            .iter()
            .map(|w| {
                if Self::is_prefix(w) {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// A `to_tsquery` text: every word quoted, prefixes `:*`, all required.
    pub fn tsquery(&self) -> String {
        self.words
            .iter()
            .map(|w| {
                if Self::is_prefix(w) {
                    format!("'{w}':*")
                } else {
                    format!("'{w}'")
                }
            })
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

/// A public comment the search found or shows beside a hit, with its text.
#[derive(Debug, Clone)]
pub struct FoundComment {
    pub row: CommentRow,
    pub body_markdown: String,
}

/// What a search found: the matching public comments (newest first), and
/// the public comments they answer or that answer them (their context).
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub hits: Vec<FoundComment>,
    pub context: Vec<FoundComment>,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Ids of the newest `limit` public comments holding every term.
pub fn matching_ids(conn: &mut Db, terms: &Terms, limit: i64) -> QueryResult<Vec<i64>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Id> = match conn {
        Db::Sqlite(c) => diesel::sql_query(
            "SELECT rowid AS id FROM comment_search WHERE comment_search MATCH ? \
             ORDER BY rowid DESC LIMIT ?",
        )
        .bind::<Text, _>(terms.fts5())
        .bind::<BigInt, _>(limit)
        .load(c)?,
        Db::Pg(c) => {
            // First among the newest public comments, walking the primary
            // key backwards: words common together are found there, and the
            // newest `limit` matches of those rows are the newest of all.
            // Only when they hold fewer, the GIN index (few matches then,
            // so few rows to fetch and sort). Left to itself, the planner
            // takes the index for words it thinks rare one by one, and
            // fetches every row holding them all to sort them by id.
            let recent: Vec<Id> = diesel::sql_query(
                "SELECT id FROM (SELECT id, search_words FROM comments \
                 WHERE search_words IS NOT NULL ORDER BY id DESC LIMIT $3) AS recent \
                 WHERE search_words @@ to_tsquery('simple'::regconfig, $1) \
                 ORDER BY id DESC LIMIT $2",
            )
            .bind::<Text, _>(terms.tsquery())
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(PG_RECENT_ROWS)
            .load(c)?;
            if recent.len() as i64 >= limit {
                recent
            } else {
                diesel::sql_query(
                    "SELECT id FROM comments WHERE search_words IS NOT NULL \
                     AND search_words @@ to_tsquery('simple'::regconfig, $1) \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind::<Text, _>(terms.tsquery())
                .bind::<BigInt, _>(limit)
                .load(c)?
            }
        }
    };
    Ok(ids.into_iter().map(|r| r.id).collect())
}

/// The newest [`CANDIDATES`] public comments holding every term, and their
/// context: for a reader's comment the coach's public answers to it, for
/// the coach's answer the public comment it answers. Each read goes by one
/// index (primary key or `parent_id`), and who may see a row is checked
/// here, on the few rows read: a condition on `status` in the query led
/// SQLite to walk every published comment by its status index instead.
pub fn search(conn: &mut Db, terms: &Terms) -> QueryResult<Found> {
    let ids = matching_ids(conn, terms, CANDIDATES)?;
    if ids.is_empty() {
        return Ok(Found::default());
    }
    let mut hits = public_rows(
        conn,
        comments::table
            .filter(comments::id.eq_any(&ids))
            .into_boxed(),
    )?;
    hits.sort_by_key(|h| std::cmp::Reverse(h.row.id));
    // The coach's answers hang under the comment answered, or beside it past
    // the deepest level (under its parent): both found by `parent_id`.
    let mut parents: Vec<i64> = hits.iter().map(|h| h.row.id).collect();
    parents.extend(hits.iter().filter_map(|h| h.row.parent_id));
    parents.sort_unstable();
    parents.dedup();
    let answered: Vec<i64> = hits
        .iter()
        .filter(|h| h.row.is_coach)
        .filter_map(|h| h.row.reply_to_id)
        .filter(|id| !ids.contains(id))
        .collect();
    let hit_ids: Vec<i64> = hits.iter().map(|h| h.row.id).collect();
    let mut context = public_rows(
        conn,
        comments::table
            .filter(comments::parent_id.eq_any(&parents))
            .into_boxed(),
    )?;
    context.retain(|c| {
        c.row.is_coach
            && !hit_ids.contains(&c.row.id)
            && c.row.reply_to_id.is_some_and(|to| hit_ids.contains(&to))
    });
    if !answered.is_empty() {
        context.extend(public_rows(
            conn,
            comments::table
                .filter(comments::id.eq_any(&answered))
                .into_boxed(),
        )?);
    }
    context.sort_by_key(|c| c.row.id);
    context.dedup_by_key(|c| c.row.id);
    Ok(Found { hits, context })
}

/// The rows `query` selects that anyone may see, with their text.
fn public_rows(
    conn: &mut Db,
    query: comments::BoxedQuery<'_, super::DbBackend>,
) -> QueryResult<Vec<FoundComment>> {
    let rows: Vec<(CommentRow, String)> = query
        .select((CommentRow::as_select(), comments::body_markdown))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(row, _)| row.is_public())
        .map(|(row, body_markdown)| FoundComment { row, body_markdown })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_and_nothing_else_gets_through() {
        let t = Terms::parse("We live \"together\" NEAR* -he's AND OR ü");
        assert_eq!(
            t.fts5(),
            "\"we\" AND \"live\"* AND \"together\"* AND \"near\"* AND \"he\" AND \"s\" AND \"and\"* AND \"or\" AND \"ü\""
        );
        assert_eq!(
            t.tsquery(),
            "'we' & 'live':* & 'together':* & 'near':* & 'he' & 's' & 'and':* & 'or' & 'ü'"
        );
        assert!(Terms::parse("\" * - ( ) : ^ '").is_empty());
        assert_eq!(Terms::parse(&"word ".repeat(40)).words.len(), 1);
    }
}
