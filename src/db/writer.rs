//! Group commit: concurrent writes wait in a queue, one thread runs a
//! batch of them in a single transaction (each in its own savepoint, so one
//! failing write rolls back alone) and commits once. Nobody is answered
//! before their batch is committed.
//!
//! On SQLite the transaction is immediate and `synchronous = FULL` makes a
//! commit cost an fsync; sharing it between many comments keeps every
//! acknowledged comment on disk and still accepts thousands a second.
//!
//! On PostgreSQL (unless `KINTSUGI_DB_GROUP_COMMIT=false`) the same thread
//! batches the writes of this instance: every comment on an article
//! changes that article's row in `comment_counts`, so one-write
//! transactions on one article queue behind each other's row lock *and*
//! each other's WAL flush, a few hundred a second at most whatever the
//! number of instances. A batch takes the row once and flushes once. The
//! batch runs on a connection of the pool, so an instance still uses at
//! most `KINTSUGI_DB_POOL_SIZE` connections. With it off, each write is a
//! transaction of its own on the blocking pool.
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::watch::DatabaseWatch;
use super::{Db, DbError, Pool, QueryResult, LOCK_WAIT};

/// Writes in one batch at most.
const MAX_BATCH: usize = 128;

type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;

/// Told the number of writes in each committed batch (the metrics).
pub type OnBatch = Arc<dyn Fn(usize) + Send + Sync>;

/// One queued write: run it on the writer's connection (leaving its
/// answer for after the commit, and whether its error broke the
/// connection), or answer it with an error without running it.
trait Work: Send {
    fn run(self: Box<Self>, conn: &mut Db) -> (Finish, bool);
    fn fail(self: Box<Self>, why: DbError);
}

struct Pending<T, F> {
    work: F,
    answer: tokio::sync::oneshot::Sender<Result<T, DbError>>,
}

impl<T, F> Work for Pending<T, F>
where
    F: FnOnce(&mut Db) -> QueryResult<T> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut Db) -> (Finish, bool) {
        let Pending { work, answer } = *self;
        // A savepoint: a failing write rolls back alone.
        let outcome = super::transaction(conn, work);
        let broke = matches!(&outcome, Err(e) if super::breaks_connection(e));
        let finish: Finish = Box::new(move |committed: Result<(), DbError>| {
            let result = committed.and_then(|()| outcome.map_err(DbError::from));
            let _ = answer.send(result);
        });
        (finish, broke)
    }

    fn fail(self: Box<Self>, why: DbError) {
        let _ = self.answer.send(Err(why));
    }
}

/// A write and the moment after which it is answered "not now" instead of
/// being run: a reader waits about [`LOCK_WAIT`] at most, whatever holds
/// the lock and however many writes queue behind it.
struct Job {
    deadline: Instant,
    work: Box<dyn Work>,
}

/// The last readiness write: when, and how it went.
type Probe = tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>;

/// How long a readiness answer is reused, so probes stay cheap.
const PROBE_CACHE: Duration = Duration::from_secs(1);

/// The queue to the writing thread (or nothing: each write on its own), and
/// the watch on the database file: writes are refused while it is lost.
#[derive(Clone)]
pub struct Writer {
    queue: Option<mpsc::Sender<Job>>,
    watch: Arc<DatabaseWatch>,
    probe: Arc<Probe>,
}

impl Writer {
    /// Writes straight through the pool, with no batching.
    pub fn direct() -> Self {
        Self {
            queue: None,
            watch: Arc::new(DatabaseWatch::none()),
            probe: Default::default(),
        }
    }

    /// Refuses writes while `watch` says the database file is lost.
    pub fn watching(mut self, watch: Arc<DatabaseWatch>) -> Self {
        self.watch = watch;
        self
    }

    /// The watch on the database file.
    pub fn watch(&self) -> &Arc<DatabaseWatch> {
        &self.watch
    }

    /// Whether a write can succeed now: the database file is the one opened
    /// at start, and a tiny write commits (through the same path as every
    /// other write) within `timeout`. Answers are reused for a second.
    pub async fn can_write(&self, pool: &Pool, timeout: Duration) -> Result<(), String> {
        // The file's identity and the free space cost a syscall each:
        // checked every time.
        self.watch.check()?;
        self.watch.check_space()?;
        let mut last = self.probe.lock().await;
        if let Some((at, result)) = &*last {
            if at.elapsed() < PROBE_CACHE {
                return result.clone();
            }
        }
        let now = chrono::Utc::now().naive_utc();
        let write = self.write(pool, move |conn| super::site_meta::record_probe(conn, now));
        let result = match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "a write did not finish within {} ms",
                timeout.as_millis()
            )),
        };
        *last = Some((Instant::now(), result.clone()));
        result
    }

    /// Starts the writing thread when the pool is SQLite, or PostgreSQL
    /// with `batch_postgres` (`KINTSUGI_DB_GROUP_COMMIT`).
    pub fn start(pool: &Pool, batch_postgres: bool) -> Self {
        Self::start_observed(pool, batch_postgres, Arc::new(|_| {}))
    }

    /// As [`Writer::start`], calling `on_batch` with the size of every
    /// committed batch.
    pub fn start_observed(pool: &Pool, batch_postgres: bool, on_batch: OnBatch) -> Self {
        let batched = match pool.get().as_deref() {
            Ok(Db::Sqlite(_)) => true,
            Ok(Db::Pg(_)) => batch_postgres,
            Err(_) => false,
        };
        if !batched {
            return Self::direct();
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let pool = pool.clone();
        let spawned = std::thread::Builder::new()
            .name("kintsugi-writer".into())
            .spawn(move || run(pool, rx, on_batch));
        match spawned {
            Ok(_) => Self {
                queue: Some(tx),
                ..Self::direct()
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the writer thread; writing directly");
                Self::direct()
            }
        }
    }

    /// Runs `work` in the next batch (or, without the writing thread, in a
    /// transaction of its own), and answers once it is committed.
    pub async fn write<T, F>(&self, pool: &Pool, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut Db) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        // One stat before and one after: a write committed into a file
        // that was deleted or replaced meanwhile is not acknowledged (it
        // went to a file nobody will read again).
        self.watch.check().map_err(DbError::Lost)?;
        let deadline = Instant::now() + LOCK_WAIT;
        let Some(queue) = &self.queue else {
            return super::write_until(pool, deadline, work).await;
        };
        let result = self.queue_write(queue, deadline, work).await;
        self.watch.check().map_err(DbError::Lost)?;
        result
    }

    async fn queue_write<T, F>(
        &self,
        queue: &mpsc::Sender<Job>,
        deadline: Instant,
        work: F,
    ) -> Result<T, DbError>
    where
        F: FnOnce(&mut Db) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        let job = Job {
            deadline,
            work: Box::new(Pending { work, answer }),
        };
        queue.send(job).map_err(|_| {
            DbError::Commit("the writer thread has stopped; see the log for why".into())
        })?;
        answered.await.map_err(|_| {
            DbError::Commit(
                "the writer dropped this write (a write in its batch panicked; see the log)".into(),
            )
        })?
    }
}

fn run(pool: Pool, jobs: mpsc::Receiver<Job>, on_batch: OnBatch) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Writes that waited their whole budget behind a lock or an earlier
        // batch are answered now, not run late.
        let now = Instant::now();
        let (late, batch): (Vec<Job>, Vec<Job>) =
            batch.into_iter().partition(|job| job.deadline <= now);
        if !late.is_empty() {
            fail_all(
                late,
                &format!(
                    "the write waited {} ms for its turn (the write lock is held elsewhere, or writes are queued faster than the disk commits them)",
                    LOCK_WAIT.as_millis()
                ),
            );
        }
        let Some(earliest) = batch.iter().map(|job| job.deadline).min() else {
            continue;
        };
        let mut conn = match pool.get() {
            Ok(conn) => conn,
            Err(e) => {
                fail_all(batch, &format!("the database is unavailable: {e}"));
                continue;
            }
        };
        // Wait for the write lock (SQLite) or any row lock (PostgreSQL) no
        // longer than the most hurried write in this batch may still wait.
        let wait = earliest
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        if let Err(e) = begin_batch(&mut conn, wait) {
            // A read-only or vanished file: the next batch gets a new
            // connection rather than this one again.
            super::drop_if_broken(&mut conn, &e);
            fail_all_with(batch, &e);
            continue;
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut lock_timeout = None;
            batch
                .into_iter()
                .filter_map(|job| {
                    bound_lock_wait(&mut conn, &mut lock_timeout, job)
                        .map(|job| job.work.run(&mut conn))
                        .ok()
                })
                .collect::<Vec<(Finish, bool)>>()
        }));
        match ran {
            Ok(finishers) => {
                let broke = finishers.iter().any(|(_, broke)| *broke);
                let committed = commit_batch(&mut conn);
                let commit_broke = matches!(&committed, Err(e) if super::breaks_connection(e));
                if let Err(e) = &committed {
                    tracing::error!(error = %e, writes = finishers.len(), "a batch of writes could not be committed; none of them is kept");
                    let _ = rollback_batch(&mut conn);
                }
                if broke || commit_broke {
                    tracing::warn!("closing the writer's database connection after a read-only, disk or lost-file error; the next batch opens a new one");
                    super::mark_broken(&mut conn);
                }
                let n = finishers.len();
                if committed.is_ok() {
                    on_batch(n);
                }
                for (finish, _) in finishers {
                    finish(match &committed {
                        Ok(()) => Ok(()),
                        Err(e) => Err(DbError::from_commit(e)),
                    });
                }
                tracing::trace!(writes = n, "batch committed");
            }
            Err(_) => {
                // A write panicked: nothing of this batch is kept, and the
                // answers were dropped (their waiters see an error).
                let _ = rollback_batch(&mut conn);
                tracing::error!("a write panicked; its batch was rolled back");
            }
        }
    }
}

/// Opens a batch's transaction, waiting at most `wait` for locks: on
/// SQLite the write lock at `BEGIN IMMEDIATE` (the busy timeout goes back
/// to [`LOCK_WAIT`] for whoever uses the connection next). On PostgreSQL
/// `BEGIN` takes no lock, and [`bound_lock_wait`] sets each write's own
/// `lock_timeout` before it runs, so `wait` is not needed there.
fn begin_batch(conn: &mut Db, wait: Duration) -> QueryResult<()> {
    match conn {
        Db::Sqlite(sqlite) => {
            let began = set_busy_timeout(sqlite, wait).and_then(|()| {
                AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
            });
            let reset = set_busy_timeout(sqlite, LOCK_WAIT);
            began.and(reset)
        }
        Db::Pg(pg) => AnsiTransactionManager::begin_transaction(pg),
    }
}

/// How far a write's lock wait may stray from its own budget before the
/// writer sets `lock_timeout` again: one statement saved per write in a
/// steady batch, a reader answered at most this much late or early.
const LOCK_WAIT_SLACK: Duration = Duration::from_millis(LOCK_WAIT.as_millis() as u64 / 20);

/// On PostgreSQL every statement waits for locks on its own, so before
/// each write the wait is bounded by what is left of that write's own
/// budget (`lock_timeout`, set again only when the one in force, `set`,
/// is more than [`LOCK_WAIT_SLACK`] away from it): a batch stuck behind a
/// lock answers each of its writes about [`LOCK_WAIT`] after it was sent,
/// not one wait after another. A write whose budget is spent is answered
/// "not now" without running (it wrote nothing, so it need not wait for
/// the commit). On SQLite the wait was taken at `BEGIN IMMEDIATE`.
fn bound_lock_wait(conn: &mut Db, set: &mut Option<Duration>, job: Job) -> Result<Job, ()> {
    use diesel::connection::SimpleConnection;
    let Db::Pg(pg) = conn else {
        return Ok(job);
    };
    let left = job.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        job.work.fail(DbError::Busy(format!(
            "the write waited {} ms for a lock held elsewhere",
            LOCK_WAIT.as_millis()
        )));
        return Err(());
    }
    if let Some(current) = *set {
        if current.abs_diff(left) <= LOCK_WAIT_SLACK {
            return Ok(job);
        }
    }
    let left = left.max(Duration::from_millis(1));
    match pg.batch_execute(&format!("SET LOCAL lock_timeout = {}", left.as_millis())) {
        Ok(()) => {
            *set = Some(left);
            Ok(job)
        }
        Err(e) => {
            job.work.fail(DbError::from_commit(&e));
            Err(())
        }
    }
}

fn commit_batch(conn: &mut Db) -> QueryResult<()> {
    match conn {
        Db::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
        Db::Pg(c) => AnsiTransactionManager::commit_transaction(c),
    }
}

fn rollback_batch(conn: &mut Db) -> QueryResult<()> {
    match conn {
        Db::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
        Db::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
    }
}

fn set_busy_timeout(conn: &mut diesel::SqliteConnection, wait: Duration) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(&format!("PRAGMA busy_timeout = {}", wait.as_millis()))
}

/// Answers every write of a batch that could not start with the real cause
/// (logged once, for the whole batch).
fn fail_all_with(batch: Vec<Job>, e: &diesel::result::Error) {
    tracing::error!(error = %e, writes = batch.len(), "a batch of writes could not start");
    for job in batch {
        job.work.fail(DbError::from_commit(e));
    }
}

fn fail_all(batch: Vec<Job>, why: &str) {
    tracing::error!(error = %why, writes = batch.len(), "a batch of writes could not start");
    for job in batch {
        job.work.fail(DbError::Busy(why.to_string()));
    }
}
