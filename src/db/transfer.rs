//! `kintsugi migrate-data`: every table copied from one database to
//! another (SQLite to PostgreSQL and back), ids kept, then checked row by
//! row.
//!
//! - The source must be at this build's newest migration; the target is
//!   migrated to it first.
//! - Tables are copied parents first, each in primary-key order, 500 rows
//!   per INSERT (one batch in memory at a time), all in one transaction on
//!   the target: it lands whole or not at all.
//! - `comment_counts` is not copied: on SQLite the target's triggers build
//!   it while the comments go in (a reply after its parent; a reply whose
//!   parent has a higher id goes in without it and gets it at the end); on
//!   PostgreSQL the triggers pause for the copy and one recount makes it.
//!   Either way it is then checked against a recount and the source's.
//! - The comments' full-text index is not copied: SQLite's FTS5 table is
//!   filled by its triggers as the comments go in, PostgreSQL computes its
//!   generated `search_words` column (`db::comment_search`).
//! - `rate_limit_events` is not copied: it only holds the last day's
//!   attempts, for limits that start again harmlessly.
//! - Each table is checked afterwards: row count, and a checksum over a
//!   canonical text form of every row (read through diesel on both sides,
//!   so booleans and timestamps compare equal across backends). The
//!   checksum adds up the rows' SHA-256 digests, so it does not depend on
//!   the order rows come in (text keys sort differently on the two
//!   backends).
use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::*;
use super::{ConnectionManager, Db};
use crate::config::DatabaseUrl;

/// Rows per INSERT, and per read from the source.
pub const BATCH: i64 = 500;

/// The tables copied, in the order they are copied (a table after the
/// ones it references).
pub const COPIED: [&str; 11] = [
    "site_meta",
    "admins",
    "admin_sessions",
    "admin_setup_tokens",
    "admin_audit",
    "comments",
    "coaching_requests",
    "request_messages",
    "mail_subscriptions",
    "mail_outbox",
    "import_map",
];

/// The tables not copied, and why.
pub const SKIPPED: [(&str, &str); 4] = [
    (
        "comment_counts",
        "rebuilt on the target (SQLite: its triggers; PostgreSQL: one recount), then checked against a recount",
    ),
    (
        "rate_limit_events",
        "recent attempts only (a day at most); the limits start afresh",
    ),
    (
        "reader_links",
        "a reader's \"My questions\" links last 30 minutes; they ask for a new one",
    ),
    (
        "reader_sessions",
        "a reader's \"My questions\" sessions last a few hours; they ask for a new link",
    ),
];

/// diesel's own bookkeeping, made by the migrations on each side.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{0}")]
    Refused(String),
    #[error("cannot connect to the {side} database ({what}): {message}")]
    Connect {
        side: &'static str,
        what: String,
        message: String,
    },
    #[error("the {side} database failed: {source}")]
    Query {
        side: &'static str,
        source: diesel::result::Error,
    },
    #[error("migrating the target database failed: {0}")]
    Migration(String),
}

/// What was copied and checked for one table.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    pub source_checksum: String,
    pub target_checksum: String,
    /// Counts and checksums agree (for `comment_counts`: the target equals
    /// a recount, and the source's non-zero rows).
    pub ok: bool,
    pub note: &'static str,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Delete the target's rows first (in the same transaction as the copy).
    pub replace: bool,
}

/// A database described without its password, for messages.
pub fn describe(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => format!("SQLite {}", path.display()),
        DatabaseUrl::Postgres(secret) => {
            let raw = secret.expose();
            let (scheme, rest) = raw.split_once("://").unwrap_or(("postgres", raw));
            let (authority, tail) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = match authority.rsplit_once('@') {
                Some((user, host)) => {
                    let user = user.split(':').next().unwrap_or("");
                    format!("{user}@{host}")
                }
                None => authority.to_string(),
            };
            let database = tail.split('?').next().unwrap_or("");
            format!("PostgreSQL {scheme}://{host}{database}")
        }
    }
}

// ---------------------------------------------------------------------
// Canonical text and checksums.

/// One value as canonical text: the same on both backends.
trait Canon {
    fn canon(&self, out: &mut String);
}

impl Canon for i64 {
    fn canon(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
}

impl Canon for i32 {
    fn canon(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
}

impl Canon for bool {
    fn canon(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

impl Canon for String {
    fn canon(&self, out: &mut String) {
        out.push_str(&serde_json::Value::String(self.clone()).to_string());
    }
}

/// To the microsecond: PostgreSQL keeps no more (and diesel truncates).
impl Canon for NaiveDateTime {
    fn canon(&self, out: &mut String) {
        out.push_str(&self.format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
    }
}

impl<T: Canon> Canon for Option<T> {
    fn canon(&self, out: &mut String) {
        match self {
            Some(v) => v.canon(out),
            None => out.push_str("null"),
        }
    }
}

/// The sum of the rows' SHA-256 digests (mod 2^256) and how many there
/// were: equal for equal sets of rows, whatever their order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Checksum {
    rows: u64,
    sum: [u8; 32],
}

impl Checksum {
    fn add(&mut self, canonical: &str) {
        let digest = Sha256::digest(canonical.as_bytes());
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let s = self.sum[i] as u16 + digest[i] as u16 + carry;
            self.sum[i] = (s & 0xff) as u8;
            carry = s >> 8;
        }
        self.rows += 1;
    }

    fn hex(&self) -> String {
        crate::keys::hex(&self.sum[..8])
    }
}

// ---------------------------------------------------------------------
// The tables.

/// A table that is copied row by row.
trait Copied: Sized {
    const TABLE: &'static str;
    /// Its id comes from a sequence on PostgreSQL (reset after the copy).
    const SERIAL: bool;
    type Key;
    /// Up to [`BATCH`] rows after `after`, in primary-key order.
    fn page(conn: &mut Db, after: Option<&Self::Key>) -> QueryResult<Vec<Self>>;
    fn key(&self) -> Self::Key;
    fn insert(conn: &mut Db, rows: &[Self]) -> QueryResult<usize>;
    fn canonical(&self) -> String;
    fn count(conn: &mut Db) -> QueryResult<i64>;
    fn delete_all(conn: &mut Db) -> QueryResult<usize>;
    /// Makes `rows` insertable in this order; what must wait goes into
    /// `deferred` (only comments have such references).
    fn defer_forward_references(_rows: &mut [Self], _deferred: &mut Vec<(i64, i64)>) {}
}

/// A row struct with every column of `$t` (checked at compile time
/// against the schema: a column added there and not here, or the other
/// way round, does not build), and its insert, count, delete and
/// canonical text.
macro_rules! row {
    ($row:ident, $t:ident, serial = $serial:expr, { $($col:ident : $ty:ty),+ $(,)? }) => {
        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = $t)]
        #[diesel(treat_none_as_default_value = false)]
        #[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
        struct $row {
            $($col: $ty,)+
        }

        impl $row {
            const TABLE: &'static str = stringify!($t);
            const SERIAL: bool = $serial;

            #[allow(dead_code)]
            fn every_column_is_listed() {
                let _: <$t::table as diesel::Table>::AllColumns = ($($t::$col,)+);
            }

            fn insert_rows(conn: &mut Db, rows: &[Self]) -> QueryResult<usize> {
                match conn {
                    Db::Sqlite(c) => diesel::insert_into($t::table).values(rows).execute(c),
                    Db::Pg(c) => diesel::insert_into($t::table).values(rows).execute(c),
                }
            }

            fn canonical_text(&self) -> String {
                let mut out = String::from("[");
                $(
                    self.$col.canon(&mut out);
                    out.push(',');
                )+
                out.pop();
                out.push(']');
                out
            }

            fn count_rows(conn: &mut Db) -> QueryResult<i64> {
                $t::table.count().get_result(conn)
            }

            fn delete_rows(conn: &mut Db) -> QueryResult<usize> {
                diesel::delete($t::table).execute(conn)
            }
        }
    };
}

/// [`Copied`] for a table with a one-column primary key.
macro_rules! keyed {
    ($row:ident, $t:ident, $key:ident : $kty:ty $(; $($extra:tt)*)?) => {
        impl Copied for $row {
            const TABLE: &'static str = $row::TABLE;
            const SERIAL: bool = $row::SERIAL;
            type Key = $kty;

            fn page(conn: &mut Db, after: Option<&$kty>) -> QueryResult<Vec<Self>> {
                let mut query = $t::table
                    .select($row::as_select())
                    .order($t::$key.asc())
                    .limit(BATCH)
                    .into_boxed();
                if let Some(after) = after {
                    query = query.filter($t::$key.gt(after.clone()));
                }
                query.load(conn)
            }

            fn key(&self) -> $kty {
                self.$key.clone()
            }

            fn insert(conn: &mut Db, rows: &[Self]) -> QueryResult<usize> {
                Self::insert_rows(conn, rows)
            }

            fn canonical(&self) -> String {
                self.canonical_text()
            }

            fn count(conn: &mut Db) -> QueryResult<i64> {
                Self::count_rows(conn)
            }

            fn delete_all(conn: &mut Db) -> QueryResult<usize> {
                Self::delete_rows(conn)
            }

            $($($extra)*)?
        }
    };
}

row!(SiteMetaRow, site_meta, serial = false, {
    key: String,
    value: String,
    updated_at: NaiveDateTime,
});
keyed!(SiteMetaRow, site_meta, key: String);

row!(AdminRow, admins, serial = true, {
    id: i64,
    email: String,
    display_name: String,
    password_hash: String,
    created_at: NaiveDateTime,
    last_sign_in_at: Option<NaiveDateTime>,
});
keyed!(AdminRow, admins, id: i64);

row!(AdminSessionRow, admin_sessions, serial = false, {
    key_hash: String,
    admin_id: Option<i64>,
    state: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
});
keyed!(AdminSessionRow, admin_sessions, key_hash: String);

row!(SetupTokenRow, admin_setup_tokens, serial = false, {
    token_hash: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
});
keyed!(SetupTokenRow, admin_setup_tokens, token_hash: String);

row!(AuditRow, admin_audit, serial = true, {
    id: i64,
    admin_id: Option<i64>,
    admin_name: String,
    action: String,
    comment_id: Option<i64>,
    detail: String,
    created_at: NaiveDateTime,
});
keyed!(AuditRow, admin_audit, id: i64);

row!(CommentRow, comments, serial = true, {
    id: i64,
    article_slug: String,
    parent_id: Option<i64>,
    root_id: Option<i64>,
    reply_to_id: Option<i64>,
    depth: i32,
    reply_to_name: Option<String>,
    author_name: String,
    author_email: String,
    body_markdown: String,
    body_html: String,
    status: String,
    is_private: bool,
    is_urgent: bool,
    is_coach: bool,
    held_reasons: String,
    notify_replies: bool,
    owner_token_hash: Option<String>,
    ip_hash: String,
    created_at: NaiveDateTime,
    edited_at: Option<NaiveDateTime>,
    previous_status: Option<String>,
    edited_by_coach: bool,
});
keyed!(CommentRow, comments, id: i64;
    /// A reply whose parent has a higher id (an import keeps the other
    /// system's ids) goes in without it; the parent is set at the end.
    fn defer_forward_references(rows: &mut [Self], deferred: &mut Vec<(i64, i64)>) {
        for row in rows {
            if let Some(parent) = row.parent_id.filter(|p| *p > row.id) {
                deferred.push((row.id, parent));
                row.parent_id = None;
            }
        }
    }
);

row!(RequestRow, coaching_requests, serial = true, {
    id: i64,
    token_hash: String,
    token_nonce: String,
    form_token_hash: String,
    name: String,
    email: String,
    option_slug: String,
    option_title: String,
    ended_by: String,
    together_for: String,
    ended_ago: String,
    contact_now: String,
    no_contact_since: Option<String>,
    hope: String,
    situation: String,
    talk_via: String,
    time_zone: Option<String>,
    source_article: Option<String>,
    source_comment_id: Option<i64>,
    consent_at: NaiveDateTime,
    privacy_version: String,
    is_urgent: bool,
    status: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
    anonymized_at: Option<NaiveDateTime>,
});
keyed!(RequestRow, coaching_requests, id: i64);

row!(MessageRow, request_messages, serial = true, {
    id: i64,
    request_id: i64,
    kind: String,
    author_name: String,
    body_markdown: String,
    body_html: String,
    created_at: NaiveDateTime,
});
keyed!(MessageRow, request_messages, id: i64);

row!(SubscriptionRow, mail_subscriptions, serial = true, {
    id: i64,
    email: String,
    confirmed_at: Option<NaiveDateTime>,
    unsubscribed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
});
keyed!(SubscriptionRow, mail_subscriptions, id: i64);

row!(OutboxRow, mail_outbox, serial = true, {
    id: i64,
    recipient: String,
    subject: String,
    body: String,
    kind: String,
    list_unsubscribe: Option<String>,
    created_at: NaiveDateTime,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    claimed_until: Option<NaiveDateTime>,
    sent_at: Option<NaiveDateTime>,
    last_error: Option<String>,
});
keyed!(OutboxRow, mail_outbox, id: i64);

row!(ImportMapRow, import_map, serial = false, {
    source: String,
    kind: String,
    old_id: i64,
    new_id: Option<i64>,
    new_key: String,
    created_at: NaiveDateTime,
});

/// The import map's key has three columns: the page after (s, k, o) is
/// every row greater in (source, kind, old_id) order.
impl Copied for ImportMapRow {
    const TABLE: &'static str = ImportMapRow::TABLE;
    const SERIAL: bool = ImportMapRow::SERIAL;
    type Key = (String, String, i64);

    fn page(conn: &mut Db, after: Option<&Self::Key>) -> QueryResult<Vec<Self>> {
        use import_map::dsl as m;
        let mut query = m::import_map
            .select(ImportMapRow::as_select())
            .order((m::source.asc(), m::kind.asc(), m::old_id.asc()))
            .limit(BATCH)
            .into_boxed();
        if let Some((s, k, o)) = after {
            query = query.filter(
                m::source
                    .gt(s.clone())
                    .or(m::source.eq(s.clone()).and(m::kind.gt(k.clone())))
                    .or(m::source
                        .eq(s.clone())
                        .and(m::kind.eq(k.clone()))
                        .and(m::old_id.gt(*o))),
            );
        }
        query.load(conn)
    }

    fn key(&self) -> Self::Key {
        (self.source.clone(), self.kind.clone(), self.old_id)
    }

    fn insert(conn: &mut Db, rows: &[Self]) -> QueryResult<usize> {
        Self::insert_rows(conn, rows)
    }

    fn canonical(&self) -> String {
        self.canonical_text()
    }

    fn count(conn: &mut Db) -> QueryResult<i64> {
        Self::count_rows(conn)
    }

    fn delete_all(conn: &mut Db) -> QueryResult<usize> {
        Self::delete_rows(conn)
    }
}

/// Runs `each` for every table of [`COPIED`], in that order, with the
/// table's row type. One place that names them all, so the copy, the
/// check and the emptiness test cannot disagree.
macro_rules! for_each_table {
    ($visit:ident) => {{
        $visit.table::<SiteMetaRow>()?;
        $visit.table::<AdminRow>()?;
        $visit.table::<AdminSessionRow>()?;
        $visit.table::<SetupTokenRow>()?;
        $visit.table::<AuditRow>()?;
        $visit.table::<CommentRow>()?;
        $visit.table::<RequestRow>()?;
        $visit.table::<MessageRow>()?;
        $visit.table::<SubscriptionRow>()?;
        $visit.table::<OutboxRow>()?;
        $visit.table::<ImportMapRow>()?;
    }};
}

// ---------------------------------------------------------------------
// Reading, copying and checking.

/// Every row of `T` on `conn`, a page at a time, through `each`.
fn for_each_row<T: Copied>(
    conn: &mut Db,
    mut each: impl FnMut(&mut Vec<T>) -> QueryResult<()>,
) -> QueryResult<()> {
    let mut after: Option<T::Key> = None;
    loop {
        let mut rows = T::page(conn, after.as_ref())?;
        let full = rows.len() as i64 == BATCH;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(last.key());
        each(&mut rows)?;
        if !full {
            return Ok(());
        }
    }
}

fn checksum_of<T: Copied>(conn: &mut Db) -> QueryResult<Checksum> {
    let mut sum = Checksum::default();
    for_each_row::<T>(conn, |rows| {
        for row in rows.iter() {
            sum.add(&row.canonical());
        }
        Ok(())
    })?;
    Ok(sum)
}

/// Every table's rows on `conn` as canonical text, table by table (for
/// tests comparing two databases; holds everything in memory).
pub fn canonical_rows(url: &DatabaseUrl) -> Result<Vec<(String, Vec<String>)>, TransferError> {
    struct Dump<'a> {
        conn: &'a mut Db,
        out: Vec<(String, Vec<String>)>,
    }
    impl Dump<'_> {
        fn table<T: Copied>(&mut self) -> QueryResult<()> {
            let mut rows = Vec::new();
            for_each_row::<T>(self.conn, |page| {
                rows.extend(page.iter().map(Copied::canonical));
                Ok(())
            })?;
            rows.sort();
            self.out.push((T::TABLE.to_string(), rows));
            Ok(())
        }
    }
    let mut conn = connect(url, "source", true)?;
    let mut dump = Dump {
        conn: &mut conn,
        out: Vec::new(),
    };
    let result: QueryResult<()> = (|| {
        for_each_table!(dump);
        let counts = public_counts(dump.conn, false)?;
        dump.out.push((
            "comment_counts".to_string(),
            counts
                .into_iter()
                .map(|(s, c, t)| format!("[{s:?},{c},{t}]"))
                .collect(),
        ));
        Ok(())
    })();
    result.map_err(|source| TransferError::Query {
        side: "source",
        source,
    })?;
    Ok(dump.out)
}

#[derive(diesel::QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    article_slug: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    public_comments: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    public_threads: i64,
}

/// Each article's (slug, public comments, threads), leaving out articles
/// at zero: as kept in `comment_counts`, or (`recount`) counted afresh
/// from the comments the way the triggers count.
fn public_counts(conn: &mut Db, recount: bool) -> QueryResult<Vec<(String, i64, i64)>> {
    let kept = "SELECT article_slug, public_comments, public_threads FROM comment_counts \
                WHERE public_comments <> 0 OR public_threads <> 0";
    let counted = "SELECT article_slug, public_comments, public_threads FROM (\
        SELECT c.article_slug AS article_slug, \
          CAST(SUM(CASE WHEN c.status = 'approved' AND NOT c.is_private THEN 1 ELSE 0 END) AS BIGINT) AS public_comments, \
          CAST(SUM(CASE WHEN c.status = 'approved' AND NOT c.is_private AND NOT EXISTS (\
              SELECT 1 FROM comments p WHERE p.id = c.parent_id AND p.status = 'approved' AND NOT p.is_private) \
            THEN 1 ELSE 0 END) AS BIGINT) AS public_threads \
        FROM comments c GROUP BY c.article_slug) AS n \
        WHERE public_comments <> 0 OR public_threads <> 0";
    let sql = if recount { counted } else { kept };
    let mut rows: Vec<CountRow> = match conn {
        Db::Sqlite(c) => diesel::sql_query(sql).load(c)?,
        Db::Pg(c) => diesel::sql_query(sql).load(c)?,
    };
    rows.sort();
    Ok(rows
        .into_iter()
        .map(|r| (r.article_slug, r.public_comments, r.public_threads))
        .collect())
}

fn counts_checksum(counts: &[(String, i64, i64)]) -> Checksum {
    let mut sum = Checksum::default();
    for (slug, comments, threads) in counts {
        let mut text = String::from("[");
        slug.canon(&mut text);
        text.push_str(&format!(",{comments},{threads}]"));
        sum.add(&text);
    }
    sum
}

/// Moves PostgreSQL's id sequence of `T` past the copied ids.
fn reset_sequence<T: Copied>(conn: &mut Db) -> QueryResult<()> {
    if T::SERIAL {
        super::imports::after_explicit_ids_in(conn, T::TABLE)?;
    }
    Ok(())
}

/// Copies `T`'s rows from `source` to `target`; returns the source's
/// checksum. `fix` sees each batch after its checksum and before its
/// insert (see [`Copied::defer_forward_references`]).
fn copy_table<T: Copied>(
    source: &mut Db,
    target: &mut Db,
    fix: &mut dyn FnMut(&mut [T]),
) -> Result<Checksum, TransferError> {
    let mut sum = Checksum::default();
    let mut failed: Option<diesel::result::Error> = None;
    for_each_row::<T>(source, |rows| {
        for row in rows.iter() {
            sum.add(&row.canonical());
        }
        fix(rows);
        if let Err(e) = T::insert(target, rows) {
            failed = Some(e);
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(())
    })
    .map_err(|e| match failed.take() {
        Some(target_error) => on_target(target_error),
        None => on_source(e),
    })?;
    Ok(sum)
}

fn on_target(source: diesel::result::Error) -> TransferError {
    TransferError::Query {
        side: "target",
        source,
    }
}

fn on_source(source: diesel::result::Error) -> TransferError {
    TransferError::Query {
        side: "source",
        source,
    }
}

/// One connection outside any pool. A source SQLite file must exist (it
/// is never created).
fn connect(url: &DatabaseUrl, side: &'static str, must_exist: bool) -> Result<Db, TransferError> {
    use r2d2::ManageConnection;
    if let (DatabaseUrl::Sqlite(path), true) = (url, must_exist) {
        if !path.is_file() {
            return Err(TransferError::Refused(format!(
                "there is no SQLite database at {} (the {side})",
                path.display()
            )));
        }
    }
    ConnectionManager::new(url.clone())
        .connect()
        .map_err(|e| TransferError::Connect {
            side,
            what: describe(url),
            message: scrub(&e.to_string(), url),
        })
}

/// An error message with the URL's password taken out, should a driver
/// ever repeat it.
fn scrub(message: &str, url: &DatabaseUrl) -> String {
    let DatabaseUrl::Postgres(secret) = url else {
        return message.to_string();
    };
    let raw = secret.expose();
    let password = raw
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, password)| password)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) => message.replace(p, "***"),
        None => message.to_string(),
    }
}

#[derive(diesel::QueryableByName)]
struct TextValue {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    value: Option<String>,
}

/// Who this database is, to refuse copying a database onto itself: on
/// SQLite the file's device and inode, on PostgreSQL the server's start
/// time, address, port and the database's name.
fn identity(conn: &mut Db, url: &DatabaseUrl) -> QueryResult<String> {
    match (conn, url) {
        (Db::Sqlite(_), DatabaseUrl::Sqlite(path)) => {
            use std::os::unix::fs::MetadataExt;
            Ok(match std::fs::metadata(path) {
                Ok(m) => format!("sqlite:{}:{}", m.dev(), m.ino()),
                Err(_) => format!("sqlite:{}", path.display()),
            })
        }
        (Db::Pg(c), _) => {
            let rows: Vec<TextValue> = diesel::sql_query(
                "SELECT current_database() || '|' || COALESCE(host(inet_server_addr()), 'socket') \
                 || '|' || COALESCE(inet_server_port()::text, '') || '|' \
                 || pg_postmaster_start_time()::text AS value",
            )
            .load(c)?;
            Ok(format!(
                "pg:{}",
                rows.into_iter()
                    .next()
                    .and_then(|r| r.value)
                    .unwrap_or_default()
            ))
        }
        _ => Ok(String::new()),
    }
}

/// The base tables of the database (diesel's bookkeeping and SQLite's
/// own left out).
fn tables_of(conn: &mut Db) -> QueryResult<Vec<String>> {
    let rows: Vec<TextValue> = match conn {
        // Plain tables only: the comments' full-text index (an FTS5
        // virtual table and its shadow tables) is rebuilt by the target's
        // triggers, as PostgreSQL computes its generated column.
        Db::Sqlite(c) => diesel::sql_query(
            "SELECT name AS value FROM pragma_table_list WHERE schema = 'main' \
             AND type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .load(c)?,
        Db::Pg(c) => diesel::sql_query(
            "SELECT table_name::text AS value FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name",
        )
        .load(c)?,
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| r.value)
        .filter(|t| t != MIGRATIONS_TABLE)
        .collect())
}

/// Tables the database has that this copy does not know (neither copied
/// nor skipped on purpose).
fn unknown_tables(conn: &mut Db) -> QueryResult<Vec<String>> {
    Ok(tables_of(conn)?
        .into_iter()
        .filter(|t| !COPIED.contains(&t.as_str()) && !SKIPPED.iter().any(|(s, _)| s == t))
        .collect())
}

/// The newest migration this build has for the backend of `url`.
fn newest_known(url: &DatabaseUrl) -> Result<String, TransferError> {
    super::backup::known_versions(url)
        .map_err(|e| TransferError::Migration(e.to_string()))?
        .pop()
        .ok_or_else(|| TransferError::Migration("this build has no migrations".into()))
}

fn version_of(conn: &mut Db) -> Option<String> {
    super::backup::schema_version(conn).ok().flatten()
}

/// `kintsugi migrate-data`: copies every table from `from` into `to`,
/// then checks it. The site must not write to `from` meanwhile.
pub fn migrate_data(
    from: &DatabaseUrl,
    to: &DatabaseUrl,
    options: Options,
) -> Result<Vec<TableReport>, TransferError> {
    let mut source = connect(from, "source", true)?;
    // The source must be at this build's schema...
    let wanted = newest_known(from)?;
    match version_of(&mut source) {
        Some(v) if v == wanted => {}
        found => {
            return Err(TransferError::Refused(format!(
                "the source database is at migration {} but this kintsugi is at {wanted}: {}",
                found
                    .as_deref()
                    .unwrap_or("(none: not a Kintsugi database)"),
                if found.as_deref().is_some_and(|f| f > wanted.as_str()) {
                    "use the newer release that wrote it".to_string()
                } else {
                    "run `KINTSUGI_DATABASE_URL=... kintsugi migrate` on it first (or start the site once on it), then copy again".to_string()
                }
            )))
        }
    }
    let unknown = unknown_tables(&mut source).map_err(on_source)?;
    if !unknown.is_empty() {
        return Err(TransferError::Refused(format!(
            "the source has tables this kintsugi does not copy: {}; nothing was copied",
            unknown.join(", ")
        )));
    }
    // The target is opened (an SQLite file created) only once the source
    // is known to be good.
    let mut target = connect(to, "target", false)?;
    let same = identity(&mut source, from).map_err(on_source)?
        == identity(&mut target, to).map_err(on_target)?;
    if same {
        return Err(TransferError::Refused(format!(
            "the source and the target are the same database ({}); name a different target",
            describe(to)
        )));
    }

    // ...and the target is brought to it.
    super::migrations::run_pending(&mut target)
        .map_err(|e| TransferError::Migration(scrub(&e.to_string(), to)))?;
    let wanted_target = newest_known(to)?;
    if version_of(&mut target).as_deref() != Some(wanted_target.as_str()) {
        return Err(TransferError::Refused(format!(
            "the target database is at migration {} while this kintsugi is at {wanted_target} (a newer release set it up); use that release",
            version_of(&mut target).as_deref().unwrap_or("(none)")
        )));
    }

    // Non-empty target: refused, or (--replace) emptied in the copy's
    // transaction.
    struct Occupied<'a> {
        conn: &'a mut Db,
        found: Vec<String>,
    }
    impl Occupied<'_> {
        fn table<T: Copied>(&mut self) -> QueryResult<()> {
            if T::TABLE == "site_meta" {
                return Ok(());
            }
            let n = T::count(self.conn)?;
            if n > 0 {
                self.found.push(format!("{} ({n})", T::TABLE));
            }
            Ok(())
        }
    }
    let mut occupied = Occupied {
        conn: &mut target,
        found: Vec::new(),
    };
    (|| -> QueryResult<()> {
        for_each_table!(occupied);
        Ok(())
    })()
    .map_err(on_target)?;
    let found = occupied.found;
    if !found.is_empty() && !options.replace {
        return Err(TransferError::Refused(format!(
            "the target database already holds rows: {}; nothing was copied. Copy into an empty database, or add --replace to delete the target's rows first (in the same transaction as the copy)",
            found.join(", ")
        )));
    }

    // The copy: one read transaction on the source (one snapshot on
    // PostgreSQL), one write transaction on the target.
    let sums = copy_all(&mut source, &mut target, options.replace)?;

    // The check, after the commit: read the target again.
    check(&mut source, &mut target, sums)
}

type Sums = Vec<(&'static str, Checksum)>;

fn copy_all(source: &mut Db, target: &mut Db, replace: bool) -> Result<Sums, TransferError> {
    let mut outcome: Option<Result<Sums, TransferError>> = None;
    let read = source.transaction(|source| -> QueryResult<()> {
        if let Db::Pg(c) = source {
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        outcome = Some(super::transaction(target, |target| {
            copy_in_transaction(source, target, replace)
        }));
        Ok(())
    });
    read.map_err(on_source)?;
    outcome.unwrap_or_else(|| Err(TransferError::Refused("nothing was copied".into())))
}

fn copy_in_transaction(
    source: &mut Db,
    target: &mut Db,
    replace: bool,
) -> Result<Sums, TransferError> {
    if let Db::Pg(c) = target {
        // A long copy must not give up on a lock the way a request does.
        c.batch_execute("SET LOCAL lock_timeout = 0")
            .map_err(on_target)?;
    }
    // Children first.
    if replace {
        target
            .batch_execute(
                "DELETE FROM request_messages; DELETE FROM coaching_requests; \
                 DELETE FROM admin_sessions; DELETE FROM admin_audit; DELETE FROM admins; \
                 DELETE FROM admin_setup_tokens; DELETE FROM comments; DELETE FROM comment_counts; \
                 DELETE FROM mail_outbox; DELETE FROM mail_subscriptions; DELETE FROM import_map; \
                 DELETE FROM rate_limit_events",
            )
            .map_err(on_target)?;
    }
    // The migrations wrote the target's own install time: the source's wins.
    SiteMetaRow::delete_all(target).map_err(on_target)?;

    struct Copy<'a> {
        source: &'a mut Db,
        target: &'a mut Db,
        sums: Sums,
        deferred_parents: Vec<(i64, i64)>,
    }
    impl Copy<'_> {
        fn table<T: Copied>(&mut self) -> Result<(), TransferError> {
            let deferred = &mut self.deferred_parents;
            let sum = copy_table::<T>(self.source, self.target, &mut |rows: &mut [T]| {
                T::defer_forward_references(rows, deferred)
            })?;
            reset_sequence::<T>(self.target).map_err(on_target)?;
            self.sums.push((T::TABLE, sum));
            Ok(())
        }
    }
    // PostgreSQL: the count triggers pause for the copy and the counts are
    // made by one recount after it (updating an article's row once per
    // comment inside one long transaction grows slower with every update:
    // 150,000 comments to PostgreSQL took 199 s with the triggers, 41 s
    // this way, in bench/migrate-data.sh). Undone with the transaction if
    // anything fails.
    let recount = matches!(target, Db::Pg(_));
    if recount {
        target
            .batch_execute("ALTER TABLE comments DISABLE TRIGGER USER")
            .map_err(on_target)?;
    }
    let mut copy = Copy {
        source,
        target,
        sums: Vec::new(),
        deferred_parents: Vec::new(),
    };
    for_each_table!(copy);
    // Replies stored before their parents get them now (the triggers count
    // the change as they would a moved reply).
    for (id, parent) in std::mem::take(&mut copy.deferred_parents) {
        diesel::update(comments::table.filter(comments::id.eq(id)))
            .set(comments::parent_id.eq(Some(parent)))
            .execute(copy.target)
            .map_err(on_target)?;
    }
    if recount {
        copy.target
            .batch_execute(
                "DELETE FROM comment_counts; \
                 INSERT INTO comment_counts (article_slug, public_comments, public_threads) \
                 SELECT c.article_slug, \
                   COUNT(*) FILTER (WHERE c.status = 'approved' AND NOT c.is_private), \
                   COUNT(*) FILTER (WHERE c.status = 'approved' AND NOT c.is_private AND NOT EXISTS (\
                     SELECT 1 FROM comments p \
                     WHERE p.id = c.parent_id AND p.status = 'approved' AND NOT p.is_private)) \
                 FROM comments c GROUP BY c.article_slug; \
                 ALTER TABLE comments ENABLE TRIGGER USER",
            )
            .map_err(on_target)?;
    }
    Ok(copy.sums)
}

/// Compares what the target holds now with what was read from the source.
fn check(source: &mut Db, target: &mut Db, sums: Sums) -> Result<Vec<TableReport>, TransferError> {
    struct Check<'a> {
        target: &'a mut Db,
        sums: Sums,
        reports: Vec<TableReport>,
    }
    impl Check<'_> {
        fn table<T: Copied>(&mut self) -> Result<(), TransferError> {
            let theirs = checksum_of::<T>(self.target).map_err(on_target)?;
            let ours = self
                .sums
                .iter()
                .find(|(t, _)| *t == T::TABLE)
                .map(|(_, s)| *s)
                .unwrap_or_default();
            self.reports.push(TableReport {
                table: T::TABLE,
                source_rows: ours.rows,
                target_rows: theirs.rows,
                source_checksum: ours.hex(),
                target_checksum: theirs.hex(),
                ok: ours == theirs,
                note: "",
            });
            Ok(())
        }
    }
    let mut check = Check {
        target,
        sums,
        reports: Vec::new(),
    };
    for_each_table!(check);
    let mut reports = check.reports;
    // The counts the triggers built: equal to a recount on the target, and
    // to the source's (articles at zero left out on both sides).
    let kept_source = public_counts(source, false).map_err(on_source)?;
    let kept_target = public_counts(target, false).map_err(on_target)?;
    let recounted = public_counts(target, true).map_err(on_target)?;
    let (ours, theirs) = (counts_checksum(&kept_source), counts_checksum(&kept_target));
    reports.push(TableReport {
        table: "comment_counts",
        source_rows: ours.rows,
        target_rows: theirs.rows,
        source_checksum: ours.hex(),
        target_checksum: theirs.hex(),
        ok: ours == theirs && kept_target == recounted,
        note: if kept_target == recounted {
            "rebuilt on the target; equals a recount"
        } else {
            "rebuilt on the target; DIFFERS from a recount"
        },
    });
    reports.push(TableReport {
        table: "rate_limit_events",
        source_rows: 0,
        target_rows: 0,
        source_checksum: String::new(),
        target_checksum: String::new(),
        ok: true,
        note: "not copied (recent attempts only)",
    });
    Ok(reports)
}

impl From<diesel::result::Error> for TransferError {
    fn from(source: diesel::result::Error) -> Self {
        on_target(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_the_schema_is_copied_or_skipped_on_purpose() {
        // The schema's tables, as written in schema.rs...
        let schema = include_str!("schema.rs");
        let mut declared: Vec<String> = schema
            .split("diesel::table! {")
            .skip(1)
            .filter_map(|block| {
                block
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with("///"))
                    .and_then(|l| l.split_whitespace().next())
                    .map(str::to_string)
            })
            .collect();
        declared.sort();
        let mut handled: Vec<String> = COPIED
            .iter()
            .chain(SKIPPED.iter().map(|(t, _)| t))
            .map(|t| t.to_string())
            .collect();
        handled.sort();
        assert_eq!(declared, handled);
        // ...and as the migrations make them.
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("t.sqlite3"));
        let mut conn = connect(&url, "target", false).unwrap();
        super::super::migrations::run_pending(&mut conn).unwrap();
        assert_eq!(tables_of(&mut conn).unwrap(), handled);
        assert!(unknown_tables(&mut conn).unwrap().is_empty());
    }

    #[test]
    fn the_checksum_ignores_order_and_counts_rows() {
        let mut a = Checksum::default();
        a.add("x");
        a.add("y");
        let mut b = Checksum::default();
        b.add("y");
        b.add("x");
        assert_eq!(a, b);
        b.add("x");
        assert_ne!(a, b);
        assert_eq!(b.rows, 3);
    }

    #[test]
    fn timestamps_and_values_have_one_canonical_text() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_nano_opt(16, 1, 2, 123_456_789)
            .unwrap();
        let mut out = String::new();
        t.canon(&mut out);
        Some(true).canon(&mut out);
        None::<i64>.canon(&mut out);
        "a\"b".to_string().canon(&mut out);
        assert_eq!(out, "2026-11-30T16:01:02.123456truenull\"a\\\"b\"");
    }

    #[test]
    fn passwords_are_never_described() {
        let url =
            DatabaseUrl::parse("postgres://kintsugi:hunter2@db.example:5433/site?sslmode=require")
                .unwrap();
        let shown = describe(&url);
        assert_eq!(shown, "PostgreSQL postgres://kintsugi@db.example:5433/site");
        assert_eq!(scrub("bad password hunter2", &url), "bad password ***");
    }
}
