//! The only module that names diesel. Handlers call [`run`] with a closure
//! over a connection; the closure runs on the blocking pool, never on the
//! async threads.
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use crate::config::DatabaseUrl;

pub mod admins;
pub mod backup;
pub mod coaching;
pub mod comment_search;
pub mod comments;
pub mod imports;
pub mod mail;
pub mod maintenance;
pub mod migrations;
pub mod page_events;
pub mod rate_limits;
pub mod reader_corner;
pub mod schema;
pub mod site_meta;
pub mod transfer;
pub mod watch;
pub mod writer;

pub use diesel::result::{Error as DbQueryError, QueryResult};

/// One connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum Db {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// The query backend of [`Db`] (for boxed queries).
pub type DbBackend = <Db as diesel::Connection>::Backend;

/// Builds connections for the backend named by the URL's scheme (diesel's
/// own `establish` on a MultiConnection tries each backend in turn and hides
/// the real error).
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    session: PgSession,
    /// Set once a SQLite connection was opened: later connections must
    /// find the file there and never create an empty one in its place (a
    /// deleted database stays missing, so it is noticed and not papered
    /// over).
    opened: std::sync::atomic::AtomicBool,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self::with_session(url, PgSession::default())
    }

    /// As [`ConnectionManager::new`], with these PostgreSQL timeouts.
    pub fn with_session(url: DatabaseUrl, session: PgSession) -> Self {
        Self {
            url,
            session,
            opened: Default::default(),
        }
    }
}

/// The timeouts every PostgreSQL connection is set up with (zero: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgSession {
    /// A statement running longer is cancelled (`statement_timeout`): a
    /// runaway query answers 503 instead of holding a connection and its
    /// locks until every instance's pool is empty.
    pub statement_timeout: Duration,
    /// A session idle inside a transaction this long is ended by the
    /// server (`idle_in_transaction_session_timeout`), releasing its locks.
    pub idle_in_transaction_timeout: Duration,
}

impl PgSession {
    /// What `settings` ask each PostgreSQL connection to be set up with.
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            statement_timeout: Duration::from_millis(settings.db_statement_timeout_ms),
            idle_in_transaction_timeout: Duration::from_millis(
                settings.db_idle_in_transaction_timeout_ms,
            ),
        }
    }
}

impl Default for PgSession {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(30),
            idle_in_transaction_timeout: Duration::from_secs(60),
        }
    }
}

/// A `file:` URI that opens `path` only if it exists (`mode=rw`).
fn existing_file_uri(path: &std::path::Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=rw");
    uri
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("could not configure the database connection: {0}")]
    Setup(#[from] diesel::result::Error),
    #[error("could not create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

/// How long a write waits for a lock held elsewhere (another process's
/// transaction on the SQLite file, a table lock on PostgreSQL) before it
/// gives up with "not now". Short enough that the reader gets an answer,
/// and their text back, within about three seconds.
pub const LOCK_WAIT: Duration = Duration::from_millis(2500);

/// Durable, concurrent SQLite: WAL so readers never block the writer,
/// `synchronous = FULL` so an acknowledged write survives a power cut,
/// foreign keys enforced, and a busy timeout ([`LOCK_WAIT`]) instead of
/// instant errors.
fn sqlite_pragmas_sql() -> String {
    format!(
        "PRAGMA journal_mode = WAL;\
         PRAGMA synchronous = FULL;\
         PRAGMA foreign_keys = ON;\
         PRAGMA busy_timeout = {};",
        LOCK_WAIT.as_millis()
    )
}

/// PostgreSQL waits at most [`LOCK_WAIT`] for a row or table lock, so a
/// write blocked by a long transaction answers "not now" instead of
/// hanging until the client gives up; statements and idle transactions
/// are bounded by `session`.
fn pg_settings_sql(session: &PgSession) -> String {
    format!(
        "SET lock_timeout = {}; SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {};",
        LOCK_WAIT.as_millis(),
        session.statement_timeout.as_millis(),
        session.idle_in_transaction_timeout.as_millis()
    )
}

/// SQLite: opens the comments' FTS5 table (`comment_search`) on a new
/// connection when the migrations made it, outside any transaction. FTS5
/// reads its own tables the first time a connection uses it; were that
/// first use a trigger of a write in a deferred transaction, the
/// transaction would start with a read, which SQLite cannot turn into a
/// write once another writer committed ("database is locked" at once,
/// without the busy wait).
fn open_comment_search(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let found: Vec<Found> = diesel::sql_query(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'comment_search'",
    )
    .load(conn)?;
    if found.first().is_some_and(|f| f.n > 0) {
        conn.batch_execute(
            "SELECT rowid FROM comment_search WHERE comment_search MATCH 'x' LIMIT 0",
        )?;
    }
    Ok(())
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Db;
    type Error = ConnectError;

    fn connect(&self) -> Result<Db, ConnectError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url.expose())?;
                conn.batch_execute(&pg_settings_sql(&self.session))?;
                Ok(Db::Pg(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| ConnectError::Folder {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                use std::sync::atomic::Ordering;
                let mut conn = if self.opened.load(Ordering::Acquire) {
                    SqliteConnection::establish(&existing_file_uri(path))?
                } else {
                    SqliteConnection::establish(&path.to_string_lossy())?
                };
                conn.batch_execute(&sqlite_pragmas_sql())?;
                open_comment_search(&mut conn)?;
                self.opened.store(true, Ordering::Release);
                Ok(Db::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut Db) -> Result<(), ConnectError> {
        Ok(conn.batch_execute("SELECT 1")?)
    }

    fn has_broken(&self, conn: &mut Db) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// A pool with a short connection timeout, so an outage answers 503 fast.
pub fn pool(url: &DatabaseUrl, size: u32, timeout: Duration) -> Result<Pool, r2d2::Error> {
    pool_with(url, size, timeout, PgSession::default(), None)
}

/// As [`pool`], with these PostgreSQL timeouts on every connection, telling
/// `events` how long each wait for a connection took (the metrics).
pub fn pool_with(
    url: &DatabaseUrl,
    size: u32,
    timeout: Duration,
    session: PgSession,
    events: Option<Box<dyn r2d2::HandleEvent>>,
) -> Result<Pool, r2d2::Error> {
    let builder = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(timeout)
        .test_on_check_out(false);
    let builder = match events {
        Some(events) => builder.event_handler(events),
        None => builder,
    };
    builder.build(ConnectionManager::with_session(url.clone(), session))
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database is unavailable: {0}")]
    Unavailable(#[from] r2d2::Error),
    #[error("row not found")]
    NotFound,
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("the blocking thread pool is gone")]
    Canceled,
    /// Not now: the write lock is held elsewhere, the disk is full, a
    /// timeout ran out. The same write may well succeed in a minute.
    #[error("the database cannot take this write just now: {0}")]
    Busy(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the transaction could not be committed: {0}")]
    Commit(String),
    /// The database file was deleted or replaced while the server ran:
    /// writes would be acknowledged into a file nobody will read again.
    #[error("{0}")]
    Lost(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Self::NotFound,
            other => Self::Query(other),
        }
    }
}

/// Runs `work` with a pooled connection on the blocking thread pool.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, DbError>
where
    F: FnOnce(&mut Db) -> QueryResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        let result = work(&mut conn);
        if let Err(e) = &result {
            drop_if_broken(&mut conn, e);
        }
        result.map_err(DbError::from)
    })
    .await
    .map_err(|_| DbError::Canceled)?
}

/// As [`run`], for a write that must be answered by `deadline`: it waits
/// for a pooled connection only until then, and on PostgreSQL for row and
/// table locks only until then (`SET LOCAL lock_timeout`), so writers
/// stuck behind a lock cannot also starve each other of connections.
pub async fn write_until<T, F>(pool: &Pool, deadline: Instant, work: F) -> Result<T, DbError>
where
    F: FnOnce(&mut Db) -> QueryResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let left = |at: Instant| {
            deadline
                .saturating_duration_since(at)
                .max(Duration::from_millis(1))
        };
        let mut conn = pool.get_timeout(left(Instant::now()))?;
        let result = transaction(&mut conn, |conn| {
            if let Db::Pg(c) = conn {
                c.batch_execute(&format!(
                    "SET LOCAL lock_timeout = {}",
                    left(Instant::now()).as_millis()
                ))?;
            }
            work(conn)
        });
        if let Err(e) = &result {
            drop_if_broken(&mut conn, e);
        }
        result.map_err(DbError::from)
    })
    .await
    .map_err(|_| DbError::Canceled)?
}

/// True for an error after which this connection should not be used
/// again: the database was read-only, the disk failed, the file under the
/// connection was replaced (its tables are gone) or the server went away.
/// A fresh connection may well succeed (permissions restored, fail-over).
pub fn breaks_connection(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(kind, info) => {
            if matches!(
                kind,
                DatabaseErrorKind::ReadOnlyTransaction | DatabaseErrorKind::ClosedConnection
            ) {
                return true;
            }
            let message = info.message().to_ascii_lowercase();
            [
                "readonly database",
                "read-only transaction",
                "disk i/o error",
                "no such table",
                "unable to open database file",
                "database disk image is malformed",
                "file is not a database",
            ]
            .iter()
            .any(|needle| message.contains(needle))
        }
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// True for an error that means "not now" rather than "never": a broken
/// connection (see [`breaks_connection`]), the write lock held by someone
/// else past [`LOCK_WAIT`], a full disk, a lock or statement timeout, a
/// server shutting down or out of connection slots. The reader is asked
/// to try again (503, their text kept) instead of being shown a fault.
pub fn is_transient(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    if breaks_connection(e) {
        return true;
    }
    let Error::DatabaseError(kind, info) = e else {
        return false;
    };
    if matches!(kind, DatabaseErrorKind::SerializationFailure) {
        return true;
    }
    let message = info.message().to_ascii_lowercase();
    [
        "database is locked",
        "database table is locked",
        "database or disk is full",
        "lock timeout",
        "statement timeout",
        "canceling statement",
        "deadlock detected",
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "could not connect",
        "connection refused",
        "too many clients",
        "remaining connection slots",
        "the database system is starting up",
        "the database system is shutting down",
        "the database system is in recovery mode",
        "could not extend file",
        "no space left on device",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

impl DbError {
    /// The error a failed commit or batch start becomes: [`DbError::Busy`]
    /// when trying again later may succeed, else [`DbError::Commit`].
    pub fn from_commit(e: &diesel::result::Error) -> Self {
        if is_transient(e) {
            Self::Busy(e.to_string())
        } else {
            Self::Commit(e.to_string())
        }
    }
}

/// Marks the connection broken when `e` says it is, so the pool closes it
/// on return instead of handing it out again (r2d2 asks `has_broken`).
pub fn drop_if_broken(conn: &mut Db, e: &diesel::result::Error) {
    if !breaks_connection(e) {
        return;
    }
    tracing::warn!(error = %e, "closing a database connection after this error; the next one is opened afresh");
    mark_broken(conn);
}

/// Makes `has_broken` true for this connection.
pub fn mark_broken(conn: &mut Db) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        Db::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error(),
        Db::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error(),
    }
}

/// The SQLite settings a connection runs with (None on PostgreSQL).
#[derive(Debug)]
pub struct SqlitePragmas {
    pub journal_mode: String,
    pub synchronous: i32,
    pub foreign_keys: bool,
    pub busy_timeout_ms: i32,
}

pub fn sqlite_pragmas(conn: &mut Db) -> QueryResult<SqlitePragmas> {
    use diesel::sql_types::{Integer, Text};
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct TextRow {
        #[diesel(sql_type = Text)]
        value: String,
    }
    #[derive(diesel::QueryableByName)]
    struct IntRow {
        #[diesel(sql_type = Integer)]
        value: i32,
    }
    let Db::Sqlite(conn) = conn else {
        return Err(diesel::result::Error::NotFound);
    };
    let text = |conn: &mut SqliteConnection, sql: &str| {
        diesel::sql_query(sql)
            .get_result::<TextRow>(conn)
            .map(|r| r.value)
    };
    let int = |conn: &mut SqliteConnection, sql: &str| {
        diesel::sql_query(sql)
            .get_result::<IntRow>(conn)
            .map(|r| r.value)
    };
    Ok(SqlitePragmas {
        journal_mode: text(
            conn,
            "SELECT journal_mode AS value FROM pragma_journal_mode",
        )?,
        synchronous: int(conn, "SELECT synchronous AS value FROM pragma_synchronous")?,
        foreign_keys: int(
            conn,
            "SELECT foreign_keys AS value FROM pragma_foreign_keys",
        )? == 1,
        busy_timeout_ms: int(conn, "SELECT timeout AS value FROM pragma_busy_timeout")?,
    })
}

/// Runs `work` in one transaction. On SQLite the transaction takes the
/// write lock at its start (`BEGIN IMMEDIATE`): a transaction that reads
/// and then writes cannot fail half-way with "database is locked" when
/// another connection wrote meanwhile (WAL snapshots cannot be upgraded),
/// and waits for the busy timeout instead. Nested calls use savepoints.
pub fn transaction<T, E>(conn: &mut Db, work: impl FnOnce(&mut Db) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let outermost_sqlite = match conn {
        Db::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_none(),
        Db::Pg(_) => false,
    };
    if !outermost_sqlite {
        return conn.transaction(work);
    }
    if let Db::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let result = work(conn);
    let Db::Sqlite(c) = conn else {
        return result;
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(c)?;
            Ok(value)
        }
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(c)?;
            Err(e)
        }
    }
}

/// True for a transaction that lost a race rather than failed: PostgreSQL
/// cancelled it to break a deadlock (SQLSTATE 40P01, which diesel reports
/// as an unknown error with the server's message) or could not serialise
/// it (40001). Run again, it will most likely succeed.
pub fn lost_a_race(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => info.message().contains("deadlock detected"),
        _ => false,
    }
}

/// As [`transaction`], run once more when the first attempt lost a race
/// with another transaction ([`lost_a_race`]); everything it did was rolled
/// back, so running `work` again is safe. Only the outermost transaction
/// retries: inside another one, the error goes to that one's caller.
pub fn transaction_retrying<T>(
    conn: &mut Db,
    mut work: impl FnMut(&mut Db) -> QueryResult<T>,
) -> QueryResult<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let outermost = match conn {
        Db::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_none(),
        Db::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_none(),
    };
    match transaction(conn, &mut work) {
        Err(e) if outermost && lost_a_race(&e) => {
            tracing::info!(error = %e, "a transaction lost a race with another one; running it again");
            transaction(conn, work)
        }
        other => other,
    }
}

/// Wraps a non-database failure inside database work (for example a
/// template that cannot render), so the transaction rolls back.
pub fn other_error(
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(e.into())
}
