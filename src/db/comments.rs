//! Comments: storing a post in one short transaction (rate limit, duplicate
//! check, parent check, moderation status), and reading threads.
use chrono::{Duration, NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::schema::comments;
use super::Db;

/// Comment statuses as stored.
pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const SPAM: &str = "spam";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments)]
pub struct CommentRow {
    pub id: i64,
    pub article_slug: String,
    pub parent_id: Option<i64>,
    pub root_id: Option<i64>,
    pub reply_to_id: Option<i64>,
    pub depth: i32,
    pub reply_to_name: Option<String>,
    pub author_name: String,
    pub author_email: String,
    pub body_html: String,
    pub status: String,
    pub is_private: bool,
    pub is_urgent: bool,
    pub is_coach: bool,
    pub held_reasons: String,
    pub notify_replies: bool,
    pub owner_token_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub edited_at: Option<NaiveDateTime>,
    pub edited_by_coach: bool,
}

impl CommentRow {
    /// Published and not private: anyone may see it.
    pub fn is_public(&self) -> bool {
        self.status == APPROVED && !self.is_private
    }
}

impl crate::domain::thread::Threaded for CommentRow {
    fn id(&self) -> i64 {
        self.id
    }
    fn parent_id(&self) -> Option<i64> {
        self.parent_id
    }
}

/// Everything needed to store a reader's comment.
#[derive(Debug, Clone)]
pub struct NewCommentRecord {
    pub article_slug: String,
    /// The comment replied to, if any.
    pub reply_to: Option<i64>,
    pub author_name: String,
    pub author_email: String,
    pub body_markdown: String,
    pub body_html: String,
    pub is_private: bool,
    pub is_urgent: bool,
    /// Reasons found in the text (the first-comment rule is added here).
    pub held_reasons: Vec<crate::domain::moderation::HoldReason>,
    /// Stored as spam from the start (a bot-like post).
    pub spam: bool,
    pub notify_replies: bool,
    pub owner_token_hash: String,
    pub ip_hash: String,
    pub now: NaiveDateTime,
}

pub use super::rate_limits::PostLimits;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComment {
    pub id: i64,
    pub status: String,
    pub held_reasons: Vec<crate::domain::moderation::HoldReason>,
}

/// Why a post was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PostRefused {
    #[error("too many comments from this address; retry in {0} s")]
    RateLimited(i64),
    #[error("the same comment was already sent")]
    Duplicate,
    #[error("the comment replied to is not on this article")]
    BadParent,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

const RATE_BUCKET: &str = "comment-post";

/// A comment row as inserted: the one place the `comments` columns are
/// written (a reader's post, the coach's reply, an import).
#[derive(Debug, Insertable)]
#[diesel(table_name = comments)]
pub(super) struct NewCommentRow<'a> {
    pub article_slug: &'a str,
    pub parent_id: Option<i64>,
    pub root_id: Option<i64>,
    pub reply_to_id: Option<i64>,
    pub depth: i32,
    pub reply_to_name: Option<String>,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub body_markdown: &'a str,
    pub body_html: &'a str,
    pub status: &'a str,
    pub is_private: bool,
    pub is_urgent: bool,
    pub is_coach: bool,
    pub held_reasons: String,
    pub notify_replies: bool,
    pub owner_token_hash: Option<&'a str>,
    pub ip_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub previous_status: Option<&'a str>,
}

/// Stores a comment in one immediate transaction: on SQLite the
/// transaction holds the write lock from its start (no lock upgrade, no
/// SQLITE_BUSY mid-way); on PostgreSQL an advisory lock per address
/// serialises concurrent posts from it. Either way the limits hold under
/// concurrency and across app instances.
pub fn post(
    conn: &mut Db,
    record: &NewCommentRecord,
    limits: PostLimits,
) -> Result<StoredComment, PostRefused> {
    super::transaction(conn, |conn| post_within(conn, record, limits))
}

/// As [`post`], inside the caller's transaction (the writer's batch): every
/// check that can refuse the post runs before anything is written, so a
/// refused post leaves nothing behind and needs no savepoint of its own.
pub fn post_within(
    conn: &mut Db,
    record: &NewCommentRecord,
    limits: PostLimits,
) -> Result<StoredComment, PostRefused> {
    use crate::domain::moderation::{decide, reasons_to_text, Verdict};
    use diesel::dsl::exists;
    // PostgreSQL keeps microseconds: store and compare the same value.
    let now = record
        .now
        .with_nanosecond(record.now.nanosecond() / 1000 * 1000)
        .unwrap_or(record.now);
    if let Err(wait) = super::rate_limits::check(conn, RATE_BUCKET, &record.ip_hash, limits, now)? {
        return Err(PostRefused::RateLimited(wait));
    }
    // One round trip: the same text from this email within the hour, and
    // whether this email has a published comment (the moderation policy's
    // one question to the database).
    let by_email = comments::table.filter(comments::author_email.eq(&record.author_email));
    let (duplicate, known_writer): (bool, bool) = diesel::select((
        exists(
            by_email
                .filter(comments::body_markdown.eq(&record.body_markdown))
                .filter(comments::created_at.gt(now - Duration::hours(1))),
        ),
        exists(by_email.filter(comments::status.eq(APPROVED))),
    ))
    .get_result(conn)?;
    if duplicate {
        return Err(PostRefused::Duplicate);
    }
    let (parent_id, root_id, depth, reply_to_name) = match record.reply_to {
        None => (None, None, 0, None),
        Some(reply_to) => {
            let parent = answerable(conn, reply_to)?;
            if parent.article_slug != record.article_slug {
                return Err(PostRefused::BadParent);
            }
            placement(&parent)
        }
    };
    let (verdict, reasons) = decide(record.held_reasons.clone(), record.spam, known_writer);
    let status = match verdict {
        Verdict::Publish => APPROVED,
        Verdict::Hold => PENDING,
        Verdict::Spam => SPAM,
    };
    super::rate_limits::record(conn, RATE_BUCKET, &record.ip_hash, now)?;
    let id: i64 = diesel::insert_into(comments::table)
        .values(NewCommentRow {
            article_slug: &record.article_slug,
            parent_id,
            root_id,
            reply_to_id: record.reply_to,
            depth,
            reply_to_name,
            author_name: &record.author_name,
            author_email: &record.author_email,
            body_markdown: &record.body_markdown,
            body_html: &record.body_html,
            status,
            is_private: record.is_private,
            is_urgent: record.is_urgent,
            is_coach: false,
            held_reasons: reasons_to_text(&reasons),
            notify_replies: record.notify_replies,
            owner_token_hash: Some(&record.owner_token_hash),
            ip_hash: &record.ip_hash,
            created_at: now,
            previous_status: None,
        })
        .returning(comments::id)
        .get_result(conn)?;
    Ok(StoredComment {
        id,
        status: status.to_string(),
        held_reasons: reasons,
    })
}

/// One page of an article's threads, read without reading the rest.
///
/// A thread starts at a *head*: a comment the reader may see whose parent
/// they may not see (a top-level comment, or a reply whose parent was
/// taken down). Threads are ordered by their head, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ThreadPage {
    /// The heads on this page, in order.
    pub heads: Vec<i64>,
    /// Every comment the reader may see in those threads' trees (it can
    /// hold a few comments of other threads of the same tree, which the
    /// caller leaves out when it builds the threads).
    pub rows: Vec<CommentRow>,
    /// Threads in all, for the page count.
    pub threads: i64,
    /// Comments anyone may see, in all.
    pub public_count: i64,
}

/// Whether a reader with `own_ids` may see a comment: published and
/// public, or theirs (the same rule as `heads_query`, in Rust).
fn visible_to(own_ids: &[i64], id: i64, status: &str, is_private: bool) -> bool {
    (status == APPROVED && !is_private) || own_ids.contains(&id)
}

diesel::alias!(comments as parents: ParentsAlias);

/// The heads of an article's threads, as a reader with `own_ids` sees
/// them: visible comments with no visible parent.
fn heads_query<'a>(
    slug: &'a str,
    own_ids: &'a [i64],
) -> comments::BoxedQuery<'a, super::DbBackend> {
    let visible_parent = parents
        .filter(
            parents
                .field(comments::id)
                .nullable()
                .eq(comments::parent_id),
        )
        .filter(
            parents
                .field(comments::status)
                .eq(APPROVED)
                .and(parents.field(comments::is_private).eq(false))
                .or(parents.field(comments::id).eq_any(own_ids)),
        );
    comments::table
        .into_boxed()
        .filter(comments::article_slug.eq(slug))
        .filter(
            comments::status
                .eq(APPROVED)
                .and(comments::is_private.eq(false))
                .or(comments::id.eq_any(own_ids)),
        )
        .filter(diesel::dsl::not(diesel::dsl::exists(visible_parent)))
}

/// An article's public comments and threads, as the triggers of the
/// `comment_counts` migration keep them: one row by primary key.
pub fn counts(conn: &mut Db, slug: &str) -> QueryResult<(i64, i64)> {
    use super::schema::comment_counts;
    Ok(comment_counts::table
        .find(slug)
        .select((
            comment_counts::public_comments,
            comment_counts::public_threads,
        ))
        .first(conn)
        .optional()?
        .unwrap_or((0, 0)))
}

/// The same two figures counted from the comments themselves, reading the
/// whole article: to check the kept ones.
pub fn recount(conn: &mut Db, slug: &str) -> QueryResult<(i64, i64)> {
    let threads: i64 = heads_query(slug, &[]).count().get_result(conn)?;
    let public: i64 = comments::table
        .filter(comments::article_slug.eq(slug))
        .filter(comments::status.eq(APPROVED))
        .filter(comments::is_private.eq(false))
        .count()
        .get_result(conn)?;
    Ok((public, threads))
}

/// How many more threads a reader with `own_ids` sees than a stranger:
/// each of their comments that only they see heads a thread when its
/// parent is hidden from them, and the public replies to it, which head
/// threads for a stranger, sit in its thread instead. Reads their few
/// comments, their parents and the replies to them, not the article.
fn own_threads(conn: &mut Db, slug: &str, own_ids: &[i64]) -> QueryResult<i64> {
    if own_ids.is_empty() {
        return Ok(0);
    }
    let hidden: Vec<(i64, Option<i64>)> = comments::table
        .filter(comments::id.eq_any(own_ids))
        .filter(comments::article_slug.eq(slug))
        .filter(
            comments::status
                .ne(APPROVED)
                .or(comments::is_private.eq(true)),
        )
        .select((comments::id, comments::parent_id))
        .load(conn)?;
    let (heads, adopted) = hidden_threads(conn, own_ids, &hidden)?;
    Ok(heads.len() as i64 - adopted)
}

/// Of a reader's `hidden` comments (id, parent: theirs, seen by nobody
/// else), those that head a thread for them (no parent they may see), and
/// how many public replies they have (which head threads for a stranger).
fn hidden_threads(
    conn: &mut Db,
    own_ids: &[i64],
    hidden: &[(i64, Option<i64>)],
) -> QueryResult<(Vec<i64>, i64)> {
    if hidden.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let parent_ids: Vec<i64> = hidden.iter().filter_map(|(_, parent)| *parent).collect();
    let seen_parents: Vec<i64> = comments::table
        .filter(comments::id.eq_any(&parent_ids))
        .select((comments::id, comments::status, comments::is_private))
        .load::<(i64, String, bool)>(conn)?
        .into_iter()
        .filter(|(id, status, private)| visible_to(own_ids, *id, status, *private))
        .map(|(id, _, _)| id)
        .collect();
    let heads = hidden
        .iter()
        .filter(|(_, parent)| !parent.is_some_and(|p| seen_parents.contains(&p)))
        .map(|(id, _)| *id)
        .collect();
    let hidden_ids: Vec<i64> = hidden.iter().map(|(id, _)| *id).collect();
    let adopted: i64 = comments::table
        .filter(comments::parent_id.eq_any(&hidden_ids))
        .filter(comments::status.eq(APPROVED))
        .filter(comments::is_private.eq(false))
        .count()
        .get_result(conn)?;
    Ok((heads, adopted))
}

/// Those of `own` (id, owner token hash) whose token matches: the
/// comments this reader really wrote.
pub fn owned(conn: &mut Db, own: &[(i64, String)]) -> QueryResult<Vec<i64>> {
    if own.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = own.iter().map(|(id, _)| *id).collect();
    Ok(comments::table
        .filter(comments::id.eq_any(&ids))
        .select((comments::id, comments::owner_token_hash))
        .load::<(i64, Option<String>)>(conn)?
        .into_iter()
        .filter(|(id, hash)| owns(own, *id, hash.as_deref()))
        .map(|(id, _)| id)
        .collect())
}

/// Whether comment `id`, with owner token hash `hash`, is among `own`
/// (id, owner token hash).
fn owns(own: &[(i64, String)], id: i64, hash: Option<&str>) -> bool {
    own.iter()
        .any(|(own_id, own_hash)| *own_id == id && hash == Some(own_hash.as_str()))
}

/// A reader's own comments on one article, for putting them into the
/// page everyone shares.
#[derive(Debug, Default)]
pub struct OwnHere {
    /// Their comments on this article (the owner token matches), any status.
    pub rows: Vec<CommentRow>,
    /// Those of them that head a thread of their own for this reader.
    pub heads: Vec<i64>,
    /// Public replies to their hidden comments: for this reader these sit
    /// in their thread, not at the head of one.
    pub adopted: i64,
}

/// The comments of `own` (id, owner token hash) on article `slug`, and how
/// they change its threads for their writer. Reads their few comments,
/// their parents and the replies to them, not the article.
pub fn own_here(conn: &mut Db, slug: &str, own: &[(i64, String)]) -> QueryResult<OwnHere> {
    if own.is_empty() {
        return Ok(OwnHere::default());
    }
    let ids: Vec<i64> = own.iter().map(|(id, _)| *id).collect();
    let rows: Vec<CommentRow> = comments::table
        .filter(comments::id.eq_any(&ids))
        .filter(comments::article_slug.eq(slug))
        .select(CommentRow::as_select())
        .load::<CommentRow>(conn)?
        .into_iter()
        .filter(|r| owns(own, r.id, r.owner_token_hash.as_deref()))
        .collect();
    let theirs: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let hidden: Vec<(i64, Option<i64>)> = rows
        .iter()
        .filter(|r| !r.is_public())
        .map(|r| (r.id, r.parent_id))
        .collect();
    let (heads, adopted) = hidden_threads(conn, &theirs, &hidden)?;
    Ok(OwnHere {
        rows,
        heads,
        adopted,
    })
}

/// Page `page` (from 0) of an article's threads, `per_page` threads a
/// page, as a reader with `own_ids` sees them. The heads come from the
/// `(article_slug, id)` order and stop at the page; the rows are those of
/// the page's trees (`root_id` index), the counts from `comment_counts`.
/// The cost follows the page, not the article.
pub fn thread_page(
    conn: &mut Db,
    slug: &str,
    own_ids: &[i64],
    page: i64,
    per_page: i64,
) -> QueryResult<ThreadPage> {
    let (public_count, public_threads) = counts(conn, slug)?;
    let threads = public_threads + own_threads(conn, slug, own_ids)?;
    let heads: Vec<(i64, Option<i64>)> = heads_query(slug, own_ids)
        .order(comments::id.asc())
        .offset(page * per_page)
        .limit(per_page)
        .select((comments::id, comments::root_id))
        .load(conn)?;
    if heads.is_empty() {
        return Ok(ThreadPage {
            threads,
            public_count,
            ..ThreadPage::default()
        });
    }
    let head_ids: Vec<i64> = heads.iter().map(|(id, _)| *id).collect();
    let roots: Vec<i64> = heads.iter().map(|(id, root)| root.unwrap_or(*id)).collect();
    // By primary key and the `root_id` index alone (any other condition
    // here led SQLite to walk the whole article); who may see what is
    // sorted out below, on a page's worth of rows.
    let mut rows: Vec<CommentRow> = comments::table
        .filter(
            comments::id
                .eq_any(&head_ids)
                .or(comments::root_id.eq_any(&roots)),
        )
        .select(CommentRow::as_select())
        .load(conn)?;
    rows.retain(|r| r.article_slug == slug && visible_to(own_ids, r.id, &r.status, r.is_private));
    rows.sort_by_key(|r| r.id);
    Ok(ThreadPage {
        heads: head_ids,
        rows,
        threads,
        public_count,
    })
}

/// The page (from 0) holding comment `id` on an article, as a reader with
/// `own_ids` sees it; None when they cannot see it.
pub fn page_of(
    conn: &mut Db,
    slug: &str,
    own_ids: &[i64],
    id: i64,
    per_page: i64,
) -> QueryResult<Option<i64>> {
    let Some(root) = comments::table
        .filter(comments::article_slug.eq(slug))
        .filter(comments::id.eq(id))
        .select(comments::root_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .map(|root| root.unwrap_or(id))
    else {
        return Ok(None);
    };
    // Its tree, to find the head of its thread.
    // By primary key and the `root_id` index alone, as in `thread_page`.
    let tree: Vec<(i64, Option<i64>, String, bool)> = comments::table
        .filter(comments::id.eq(root).or(comments::root_id.eq(root)))
        .select((
            comments::id,
            comments::parent_id,
            comments::status,
            comments::is_private,
        ))
        .load(conn)?;
    let visible: std::collections::HashMap<i64, Option<i64>> = tree
        .into_iter()
        .filter(|(id, _, status, private)| visible_to(own_ids, *id, status, *private))
        .map(|(id, parent, _, _)| (id, parent))
        .collect();
    let mut head = id;
    if !visible.contains_key(&head) {
        return Ok(None);
    }
    while let Some(parent) = visible.get(&head).copied().flatten() {
        if !visible.contains_key(&parent) {
            break;
        }
        head = parent;
    }
    let before: i64 = heads_query(slug, own_ids)
        .filter(comments::id.lt(head))
        .count()
        .get_result(conn)?;
    Ok(Some(before / per_page))
}

/// Full rows of the given comments (one page's worth), in id order.
pub fn rows_by_id(conn: &mut Db, ids: &[i64]) -> QueryResult<Vec<CommentRow>> {
    comments::table
        .filter(comments::id.eq_any(ids))
        .order(comments::id.asc())
        .select(CommentRow::as_select())
        .load(conn)
}

/// Approved public comments per article (articles with none left out),
/// from the kept counts: one row per article, not one per comment.
pub fn approved_counts(conn: &mut Db) -> QueryResult<Vec<(String, i64)>> {
    use super::schema::comment_counts;
    comment_counts::table
        .filter(comment_counts::public_comments.gt(0))
        .select((
            comment_counts::article_slug,
            comment_counts::public_comments,
        ))
        .load(conn)
}

/// Locks the kept counts (`comment_counts`) of the articles these comments
/// are on, in the order of their slugs, on PostgreSQL (SQLite runs one
/// writing transaction at a time). Every change to a comment's status,
/// privacy or parent, and every delete, makes the count trigger lock its
/// article's row; a transaction changing comments on articles A and B while
/// another changes B and A would each hold one row and wait for the other
/// (a deadlock), and one that locks a comment row before its count row
/// would do the same against one that locks the counts first. Called at the
/// start of every transaction that changes existing comments, it makes
/// them all take the count rows first and in one order, so they queue
/// instead.
pub fn lock_counts_of(conn: &mut Db, ids: &[i64]) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt};
    let Db::Pg(pg) = conn else {
        return Ok(());
    };
    diesel::sql_query(
        "SELECT 1 FROM comment_counts WHERE article_slug IN \
         (SELECT article_slug FROM comments WHERE id = ANY($1)) \
         ORDER BY article_slug FOR UPDATE",
    )
    .bind::<Array<BigInt>, _>(ids)
    .execute(pg)
    .map(|_| ())
}

/// Publishes a held comment; returns 1 when it was not published yet.
pub fn approve(conn: &mut Db, id: i64) -> QueryResult<usize> {
    lock_counts_of(conn, &[id])?;
    diesel::update(
        comments::table
            .filter(comments::id.eq(id))
            .filter(comments::status.ne(APPROVED)),
    )
    .set((
        comments::status.eq(APPROVED),
        comments::previous_status.eq(None::<String>),
    ))
    .execute(conn)
}

/// A comment by id, whatever its status (for the coach and for tests).
pub fn find(conn: &mut Db, id: i64) -> QueryResult<Option<(CommentRow, String)>> {
    comments::table
        .filter(comments::id.eq(id))
        .select((CommentRow::as_select(), comments::body_markdown))
        .first(conn)
        .optional()
}

/// How many comments are stored, whatever their status.
pub fn count_all(conn: &mut Db) -> QueryResult<i64> {
    comments::table.count().get_result(conn)
}

/// The newest approved public comments, on one article or (None) on the
/// whole site.
pub fn latest_public(
    conn: &mut Db,
    slug: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<CommentRow>> {
    let mut query = comments::table
        .filter(comments::status.eq(APPROVED))
        .filter(comments::is_private.eq(false))
        .into_boxed();
    if let Some(slug) = slug {
        query = query.filter(comments::article_slug.eq(slug));
    }
    query
        .order(comments::id.desc())
        .limit(limit)
        .select(CommentRow::as_select())
        .load(conn)
}

/// A reader's change to their own comment: new text, re-checked.
pub struct CommentEdit<'a> {
    pub body_markdown: &'a str,
    pub body_html: &'a str,
    /// What the rules found in the new text.
    pub reasons: &'a [crate::domain::moderation::HoldReason],
    pub urgent: bool,
    pub now: NaiveDateTime,
}

/// Applies a writer's edit; new reasons to hold it send a published
/// comment back to the coach.
pub fn update_own(
    conn: &mut Db,
    id: i64,
    owner_token_hash: &str,
    edit: &CommentEdit,
) -> QueryResult<usize> {
    use crate::domain::moderation::{reasons_from_text, reasons_to_text};
    super::transaction(conn, |conn| {
        lock_counts_of(conn, &[id])?;
        let (status, reasons, was_urgent): (String, String, bool) = comments::table
            .filter(comments::id.eq(id))
            .filter(comments::owner_token_hash.eq(owner_token_hash))
            .select((
                comments::status,
                comments::held_reasons,
                comments::is_urgent,
            ))
            .first(conn)?;
        let mut all = reasons_from_text(&reasons);
        for r in edit.reasons {
            if !all.contains(r) {
                all.push(*r);
            }
        }
        // New reasons to hold it send a published comment back to the coach.
        let status = if status == APPROVED
            && edit
                .reasons
                .iter()
                .any(|r| !reasons_from_text(&reasons).contains(r))
        {
            PENDING.to_string()
        } else {
            status
        };
        diesel::update(comments::table.filter(comments::id.eq(id)))
            .set((
                comments::body_markdown.eq(edit.body_markdown),
                comments::body_html.eq(edit.body_html),
                comments::status.eq(status),
                comments::held_reasons.eq(reasons_to_text(&all)),
                comments::is_urgent.eq(was_urgent || edit.urgent),
                comments::edited_at.eq(Some(edit.now)),
            ))
            .execute(conn)
    })
}

/// Deletes a reader's own comment for good.
pub fn delete_own(conn: &mut Db, id: i64, owner_token_hash: &str) -> QueryResult<usize> {
    super::transaction(conn, |conn| {
        lock_counts_of(conn, &[id])?;
        diesel::delete(
            comments::table
                .filter(comments::id.eq(id))
                .filter(comments::owner_token_hash.eq(owner_token_hash)),
        )
        .execute(conn)
    })
}

/// Moves a comment's creation time `minutes` into the past (for tests of
/// time windows).
pub fn backdate(conn: &mut Db, id: i64, minutes: i64) -> QueryResult<usize> {
    let created: NaiveDateTime = comments::table
        .filter(comments::id.eq(id))
        .select(comments::created_at)
        .first(conn)?;
    diesel::update(comments::table.filter(comments::id.eq(id)))
        .set(comments::created_at.eq(created - Duration::minutes(minutes)))
        .execute(conn)
}

// ---- The coach's moderation queue -----------------------------------------

pub const TRASH: &str = "trash";

diesel::alias!(comments as replies: RepliesAlias);
diesel::define_sql_function!(
    /// SQL `lower()`, on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);

/// The views of the moderation queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Waiting for the coach (public ones; urgent first).
    Pending,
    /// Crisis phrases matched and not handled yet.
    Urgent,
    /// Private questions (never published).
    Private,
    /// Approved top-level reader questions with no coach reply yet.
    Unanswered,
    Approved,
    Spam,
    Trash,
    /// Everything (for searches and one email's comments).
    All,
}

/// Filters on a queue view.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Matches name, email or text, ignoring case.
    pub search: Option<String>,
    /// Exactly this email.
    pub email: Option<String>,
}

fn queue_query<'a>(
    queue: Queue,
    filter: &'a QueueFilter,
) -> comments::BoxedQuery<'a, super::DbBackend> {
    let mut query = comments::table.into_boxed();
    query = match queue {
        Queue::Pending => query
            .filter(comments::status.eq(PENDING))
            .filter(comments::is_private.eq(false)),
        Queue::Urgent => query
            .filter(comments::status.eq(PENDING))
            .filter(comments::is_urgent.eq(true)),
        Queue::Private => query
            .filter(comments::is_private.eq(true))
            // The coach's private answers are not questions to answer.
            .filter(comments::is_coach.eq(false))
            .filter(comments::status.eq_any([PENDING, APPROVED])),
        Queue::Unanswered => query
            .filter(comments::status.eq(APPROVED))
            .filter(comments::is_private.eq(false))
            .filter(comments::is_coach.eq(false))
            .filter(comments::parent_id.is_null())
            .filter(diesel::dsl::not(diesel::dsl::exists(
                replies
                    .filter(replies.field(comments::root_id).eq(comments::id.nullable()))
                    .filter(replies.field(comments::is_coach).eq(true))
                    .filter(replies.field(comments::status).eq(APPROVED)),
            ))),
        Queue::Approved => query.filter(comments::status.eq(APPROVED)),
        Queue::Spam => query.filter(comments::status.eq(SPAM)),
        Queue::Trash => query.filter(comments::status.eq(TRASH)),
        Queue::All => query,
    };
    if let Some(email) = &filter.email {
        query = query.filter(comments::author_email.eq(email.trim().to_lowercase()));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let escaped = search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        query = query.filter(
            lower(comments::author_name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(comments::author_email)
                    .like(pattern.clone())
                    .escape('\\'))
                .or(lower(comments::body_markdown).like(pattern).escape('\\')),
        );
    }
    query
}

/// A page of a queue view and how many it holds in all.
pub fn queue_page(
    conn: &mut Db,
    queue: Queue,
    filter: &QueueFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<(CommentRow, String)>, i64)> {
    let total: i64 = queue_query(queue, filter).count().get_result(conn)?;
    let query = queue_query(queue, filter);
    let query = match queue {
        Queue::Unanswered => query.order(comments::id.asc()),
        Queue::Pending => query.order((comments::is_urgent.desc(), comments::id.desc())),
        _ => query.order(comments::id.desc()),
    };
    let rows = query
        .offset(offset)
        .limit(limit)
        .select((CommentRow::as_select(), comments::body_markdown))
        .load(conn)?;
    Ok((rows, total))
}

/// The dashboard's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub pending: i64,
    pub urgent: i64,
    pub private: i64,
    pub unanswered: i64,
    pub spam: i64,
}

pub fn queue_counts(conn: &mut Db) -> QueryResult<QueueCounts> {
    let none = QueueFilter::default();
    let count = |conn: &mut Db, q: Queue| -> QueryResult<i64> {
        queue_query(q, &none).count().get_result(conn)
    };
    let private_waiting: i64 = queue_query(Queue::Private, &none)
        .filter(comments::status.eq(PENDING))
        .count()
        .get_result(conn)?;
    Ok(QueueCounts {
        pending: count(conn, Queue::Pending)?,
        urgent: count(conn, Queue::Urgent)?,
        private: private_waiting,
        unanswered: count(conn, Queue::Unanswered)?,
        spam: count(conn, Queue::Spam)?,
    })
}

/// Comments by id, whatever their status (for context lines).
pub fn find_many(conn: &mut Db, ids: &[i64]) -> QueryResult<Vec<CommentRow>> {
    comments::table
        .filter(comments::id.eq_any(ids))
        .select(CommentRow::as_select())
        .load(conn)
}

/// Every comment that answers `id`, directly or further down its thread.
pub fn replies_to(conn: &mut Db, id: i64) -> QueryResult<Vec<(CommentRow, String)>> {
    comments::table
        .filter(comments::reply_to_id.eq(id).or(comments::parent_id.eq(id)))
        .order(comments::id.asc())
        .select((CommentRow::as_select(), comments::body_markdown))
        .load(conn)
}

/// What the coach does to a comment from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Spam,
    Trash,
    /// Back to where it was before spam or trash.
    Restore,
}

/// Applies a spam, trash or restore to these comments, in the order of
/// their ids; returns the ids of those that changed. Takes the articles'
/// count rows first ([`lock_counts_of`]), and runs once more if PostgreSQL
/// still picked it to break a deadlock.
pub fn moderate(conn: &mut Db, ids: &[i64], action: Moderation) -> QueryResult<Vec<i64>> {
    super::transaction_retrying(conn, |conn| {
        lock_counts_of(conn, ids)?;
        let rows: Vec<(i64, String, Option<String>)> = comments::table
            .filter(comments::id.eq_any(ids))
            .order(comments::id.asc())
            .select((comments::id, comments::status, comments::previous_status))
            .load(conn)?;
        let mut changed = Vec::new();
        for (id, status, previous) in rows {
            let (new_status, new_previous) = match action {
                Moderation::Spam if status != SPAM => (SPAM.to_string(), Some(status)),
                Moderation::Trash if status != TRASH => (TRASH.to_string(), Some(status)),
                Moderation::Restore if status == SPAM || status == TRASH => {
                    let back = previous
                        .filter(|p| p != SPAM && p != TRASH)
                        .unwrap_or_else(|| PENDING.to_string());
                    (back, None)
                }
                _ => continue,
            };
            let n = diesel::update(comments::table.filter(comments::id.eq(id)))
                .set((
                    comments::status.eq(new_status),
                    comments::previous_status.eq(new_previous),
                ))
                .execute(conn)?;
            if n > 0 {
                changed.push(id);
            }
        }
        Ok(changed)
    })
}

/// Deletes comments for good (their replies stay, without a parent).
pub fn delete_forever(conn: &mut Db, ids: &[i64]) -> QueryResult<usize> {
    super::transaction_retrying(conn, |conn| {
        lock_counts_of(conn, ids)?;
        diesel::delete(comments::table.filter(comments::id.eq_any(ids))).execute(conn)
    })
}

/// The coach's reply, published at once with the Coach badge.
pub struct CoachReply<'a> {
    pub reply_to: i64,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub body_markdown: &'a str,
    pub body_html: &'a str,
    pub now: NaiveDateTime,
}

/// Stores the coach's reply under a published comment; its id. The
/// answer to a private question is private too: only its asker sees it
/// (on their "My questions" page).
pub fn post_coach_reply(conn: &mut Db, reply: &CoachReply) -> Result<i64, PostRefused> {
    super::transaction(conn, |conn| -> Result<_, PostRefused> {
        let parent = coach_answerable(conn, reply.reply_to)?;
        let is_private = parent.is_private;
        let (parent_id, root_id, depth, reply_to_name) = placement(&parent);
        Ok(diesel::insert_into(comments::table)
            .values(NewCommentRow {
                article_slug: &parent.article_slug,
                parent_id,
                root_id,
                reply_to_id: Some(parent.id),
                depth,
                reply_to_name,
                author_name: reply.author_name,
                author_email: reply.author_email,
                body_markdown: reply.body_markdown,
                body_html: reply.body_html,
                status: APPROVED,
                is_private,
                is_urgent: false,
                is_coach: true,
                held_reasons: String::new(),
                notify_replies: false,
                owner_token_hash: None,
                ip_hash: "",
                created_at: reply.now,
                previous_status: None,
            })
            .returning(comments::id)
            .get_result(conn)?)
    })
}

/// The comment `id` when the coach may answer it: published (a private
/// one gets a private answer).
fn coach_answerable(conn: &mut Db, id: i64) -> Result<CommentRow, PostRefused> {
    comments::table
        .filter(comments::id.eq(id))
        .filter(comments::status.eq(APPROVED))
        .select(CommentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PostRefused::BadParent)
}

/// The comment `id` when it may be answered: published and public.
fn answerable(conn: &mut Db, id: i64) -> Result<CommentRow, PostRefused> {
    comments::table
        .filter(comments::id.eq(id))
        .filter(comments::status.eq(APPROVED))
        .filter(comments::is_private.eq(false))
        .select(CommentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(PostRefused::BadParent)
}

/// Where a reply to `parent` sits: (parent_id, root_id, depth, the name
/// it says it answers). Past the deepest level a reply sits beside its
/// parent, under the parent's own parent, and says whom it answers.
pub(super) fn placement(parent: &CommentRow) -> (Option<i64>, Option<i64>, i32, Option<String>) {
    let depth = crate::domain::thread::reply_depth(parent.depth.max(0) as usize) as i32;
    let (attach_to, name) = if depth > parent.depth {
        (parent.id, None)
    } else {
        (
            parent.parent_id.unwrap_or(parent.id),
            Some(parent.author_name.clone()),
        )
    };
    (
        Some(attach_to),
        Some(parent.root_id.unwrap_or(parent.id)),
        depth,
        name,
    )
}

/// The coach's change to a reader's comment; returns the text it replaced
/// (kept in the audit log by the caller's transaction).
pub fn edit_by_coach(
    conn: &mut Db,
    id: i64,
    body_markdown: &str,
    body_html: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let original: String = comments::table
        .filter(comments::id.eq(id))
        .select(comments::body_markdown)
        .first(conn)?;
    diesel::update(comments::table.filter(comments::id.eq(id)))
        .set((
            comments::body_markdown.eq(body_markdown),
            comments::body_html.eq(body_html),
            comments::edited_at.eq(Some(now)),
            comments::edited_by_coach.eq(true),
        ))
        .execute(conn)?;
    Ok(original)
}
