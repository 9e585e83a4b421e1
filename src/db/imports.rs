//! What `kintsugi import` brings in: the map from the other system's ids
//! to ours, and comments stored with their threads, statuses and dates as
//! they were (not as a reader's new post: no rate limit, no first-comment
//! hold, the coach's replies kept as the coach's).
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::comments::CommentRow;
use super::schema::{comments, import_map};
use super::Db;

pub const POST: &str = "post";
pub const COMMENT: &str = "comment";

/// One imported thing already known: the other system's id, our id (a
/// comment's) and key (an article's slug).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub old_id: i64,
    pub new_id: Option<i64>,
    pub new_key: String,
}

/// Everything already imported from `source` of one kind, for the given
/// old ids (read in slices, so a post with thousands of comments stays
/// within the backends' parameter limits).
pub fn mapped(
    conn: &mut Db,
    source: &str,
    kind: &str,
    old_ids: &[i64],
) -> QueryResult<Vec<Mapped>> {
    let mut found = Vec::new();
    for ids in old_ids.chunks(500) {
        let rows: Vec<(i64, Option<i64>, String)> = import_map::table
            .filter(import_map::source.eq(source))
            .filter(import_map::kind.eq(kind))
            .filter(import_map::old_id.eq_any(ids))
            .select((import_map::old_id, import_map::new_id, import_map::new_key))
            .load(conn)?;
        found.extend(rows.into_iter().map(|(old_id, new_id, new_key)| Mapped {
            old_id,
            new_id,
            new_key,
        }));
    }
    Ok(found)
}

/// Every post imported from `source` (old id, slug).
pub fn mapped_posts(conn: &mut Db, source: &str) -> QueryResult<Vec<Mapped>> {
    let rows: Vec<(i64, Option<i64>, String)> = import_map::table
        .filter(import_map::source.eq(source))
        .filter(import_map::kind.eq(POST))
        .select((import_map::old_id, import_map::new_id, import_map::new_key))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(old_id, new_id, new_key)| Mapped {
            old_id,
            new_id,
            new_key,
        })
        .collect())
}

/// Remembers that a post became the content file `key` (its slug).
pub fn record_post(
    conn: &mut Db,
    source: &str,
    old_id: i64,
    key: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let known: i64 = import_map::table
        .filter(import_map::source.eq(source))
        .filter(import_map::kind.eq(POST))
        .filter(import_map::old_id.eq(old_id))
        .count()
        .get_result(conn)?;
    if known == 0 {
        diesel::insert_into(import_map::table)
            .values((
                import_map::source.eq(source),
                import_map::kind.eq(POST),
                import_map::old_id.eq(old_id),
                import_map::new_key.eq(key),
                import_map::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A comment as the other system had it.
#[derive(Debug, Clone)]
pub struct ImportedComment {
    pub old_id: i64,
    /// The other system's parent id (0: none).
    pub old_parent: i64,
    pub article_slug: String,
    pub author_name: String,
    /// Empty when the other system had none.
    pub author_email: String,
    pub body_markdown: String,
    pub body_html: String,
    /// One of `comments::{APPROVED, PENDING, SPAM, TRASH}`.
    pub status: &'static str,
    /// Where a restore from spam or trash takes it back to.
    pub previous_status: Option<&'static str>,
    pub is_coach: bool,
    pub created_at: NaiveDateTime,
}

/// What storing one post's comments did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ThreadImported {
    /// Newly stored: old id and status.
    pub stored: Vec<(i64, &'static str)>,
    /// Already imported before (skipped).
    pub known: usize,
    /// Old ids whose parent was in neither the file nor the database:
    /// stored at the top level.
    pub orphans: Vec<i64>,
    /// Old ids that could not keep their number as the comment's id (it
    /// was taken), so an old `#comment-N` link does not reach them.
    pub renumbered: Vec<i64>,
}

/// Stores one post's comments in one transaction (oldest first, parents
/// before replies), so a failure leaves no half-imported thread. Each
/// keeps its old number as its id when that id is free, so the old
/// site's `#comment-17` links land on it.
pub fn import_thread(
    conn: &mut Db,
    source: &str,
    thread: &[ImportedComment],
    now: NaiveDateTime,
) -> QueryResult<ThreadImported> {
    let mut sorted: Vec<&ImportedComment> = thread.iter().collect();
    sorted.sort_by_key(|c| c.old_id);
    super::transaction(conn, |conn| {
        let mut done = ThreadImported::default();
        let mut ids: Vec<i64> = sorted.iter().map(|c| c.old_id).collect();
        ids.extend(sorted.iter().map(|c| c.old_parent).filter(|p| *p != 0));
        ids.sort_unstable();
        ids.dedup();
        let mut known: std::collections::HashMap<i64, Option<i64>> =
            mapped(conn, source, COMMENT, &ids)?
                .into_iter()
                .map(|m| (m.old_id, m.new_id))
                .collect();
        // Ids already used by comments (one query per slice, not one per
        // comment), and the rows stored in this transaction, so a reply
        // finds its parent without asking the database again.
        let mut taken: std::collections::HashSet<i64> = std::collections::HashSet::new();
        let wanted: Vec<i64> = sorted.iter().map(|c| c.old_id).collect();
        for ids in wanted.chunks(500) {
            let used: Vec<i64> = comments::table
                .filter(comments::id.eq_any(ids))
                .select(comments::id)
                .load(conn)?;
            taken.extend(used);
        }
        let mut stored_here: std::collections::HashMap<i64, CommentRow> =
            std::collections::HashMap::new();
        for c in sorted {
            if known.contains_key(&c.old_id) {
                done.known += 1;
                continue;
            }
            let parent = match c.old_parent {
                0 => None,
                old => match known.get(&old).copied().flatten() {
                    Some(new) => match stored_here.get(&new) {
                        Some(row) => Some(row.clone()),
                        None => comments::table
                            .filter(comments::id.eq(new))
                            .filter(comments::article_slug.eq(&c.article_slug))
                            .select(CommentRow::as_select())
                            .first(conn)
                            .optional()?,
                    },
                    None => None,
                },
            };
            if c.old_parent != 0 && parent.is_none() {
                done.orphans.push(c.old_id);
            }
            let (parent_id, root_id, depth, reply_to_name) = match &parent {
                Some(p) => super::comments::placement(p),
                None => (None, None, 0, None),
            };
            let keep_number = !taken.contains(&c.old_id) && c.old_id > 0;
            if !keep_number {
                done.renumbered.push(c.old_id);
            }
            let row = super::comments::NewCommentRow {
                article_slug: &c.article_slug,
                parent_id,
                root_id,
                reply_to_id: parent.as_ref().map(|p| p.id),
                depth,
                reply_to_name,
                author_name: &c.author_name,
                author_email: &c.author_email,
                body_markdown: &c.body_markdown,
                body_html: &c.body_html,
                status: c.status,
                is_private: false,
                is_urgent: false,
                is_coach: c.is_coach,
                held_reasons: String::new(),
                notify_replies: false,
                owner_token_hash: None,
                ip_hash: "",
                created_at: c.created_at,
                previous_status: c.previous_status,
            };
            let id: i64 = if keep_number {
                diesel::insert_into(comments::table)
                    .values((comments::id.eq(c.old_id), &row))
                    .returning(comments::id)
                    .get_result(conn)?
            } else {
                diesel::insert_into(comments::table)
                    .values(&row)
                    .returning(comments::id)
                    .get_result(conn)?
            };
            diesel::insert_into(import_map::table)
                .values((
                    import_map::source.eq(source),
                    import_map::kind.eq(COMMENT),
                    import_map::old_id.eq(c.old_id),
                    import_map::new_id.eq(Some(id)),
                    import_map::new_key.eq(&c.article_slug),
                    import_map::created_at.eq(now),
                ))
                .execute(conn)?;
            known.insert(c.old_id, Some(id));
            taken.insert(id);
            stored_here.insert(
                id,
                CommentRow {
                    id,
                    article_slug: c.article_slug.clone(),
                    parent_id,
                    root_id,
                    reply_to_id: parent.as_ref().map(|p| p.id),
                    depth,
                    reply_to_name: None,
                    author_name: c.author_name.clone(),
                    author_email: c.author_email.clone(),
                    body_html: String::new(),
                    status: c.status.to_string(),
                    is_private: false,
                    is_urgent: false,
                    is_coach: c.is_coach,
                    held_reasons: String::new(),
                    notify_replies: false,
                    owner_token_hash: None,
                    created_at: c.created_at,
                    edited_at: None,
                    edited_by_coach: false,
                },
            );
            done.stored.push((c.old_id, c.status));
        }
        Ok(done)
    })
}

/// After comments were stored with ids of their own choosing, moves
/// PostgreSQL's id sequence past them (SQLite picks max + 1 by itself).
pub fn after_explicit_ids(conn: &mut Db) -> QueryResult<()> {
    after_explicit_ids_in(conn, "comments")
}

/// As [`after_explicit_ids`], for the `id` column of `table` (one of the
/// schema's own names, never outside input).
pub fn after_explicit_ids_in(conn: &mut Db, table: &str) -> QueryResult<()> {
    if let Db::Pg(c) = conn {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
        ))
        .execute(c)?;
    }
    Ok(())
}
