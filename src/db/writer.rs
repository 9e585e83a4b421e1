//! Group commit for SQLite: concurrent writes wait in a queue, one thread
//! runs a batch of them in a single immediate transaction (each in its own
//! savepoint, so one failing write rolls back alone) and commits once. With
//! `synchronous = FULL` a commit costs an fsync; sharing it between many
//! comments keeps every acknowledged comment on disk and still accepts
//! thousands a second. Nobody is answered before their batch is committed.
//!
//! PostgreSQL needs none of this (it runs several writers at once), so
//! there the work runs on the blocking pool as any other query.
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::watch::DatabaseWatch;
use super::{Db, DbError, Pool, QueryResult};

/// Writes in one batch at most.
const MAX_BATCH: usize = 128;

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// What a job left: its answer, and whether its error broke the connection.
type Job = Box<dyn FnOnce(&mut Db) -> (Finish, bool) + Send>;

/// The last readiness write: when, and how it went.
type Probe = tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>;

/// How long a readiness answer is reused, so probes stay cheap.
const PROBE_CACHE: Duration = Duration::from_secs(1);

/// The queue to the writing thread (SQLite), or nothing (PostgreSQL), and
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
        // The file's identity costs one stat: checked every time.
        self.watch.check()?;
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

    /// Starts the writing thread when the pool is SQLite.
    pub fn start(pool: &Pool) -> Self {
        let is_sqlite = matches!(pool.get().as_deref(), Ok(Db::Sqlite(_)));
        if !is_sqlite {
            return Self::direct();
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let pool = pool.clone();
        let spawned = std::thread::Builder::new()
            .name("kintsugi-writer".into())
            .spawn(move || run(pool, rx));
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

    /// Runs `work` in a transaction of its own (PostgreSQL) or in the next
    /// batch (SQLite), and answers once it is committed.
    pub async fn write<T, F>(&self, pool: &Pool, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut Db) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if self.watch.is_lost() {
            let why = self
                .watch
                .check()
                .err()
                .unwrap_or_else(|| "the database file was lost".into());
            return Err(DbError::Lost(why));
        }
        let Some(queue) = &self.queue else {
            return super::run(pool, move |conn| super::transaction(conn, work)).await;
        };
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        let job: Job = Box::new(move |conn: &mut Db| -> (Finish, bool) {
            // A savepoint: a failing write rolls back alone.
            let outcome = super::transaction(conn, work);
            let broke = matches!(&outcome, Err(e) if super::breaks_connection(e));
            let finish: Finish = Box::new(move |committed: Result<(), String>| {
                let result = match committed {
                    Ok(()) => outcome.map_err(DbError::from),
                    Err(e) => Err(DbError::Commit(e)),
                };
                let _ = answer.send(result);
            });
            (finish, broke)
        });
        queue.send(job).map_err(|_| DbError::Canceled)?;
        answered.await.map_err(|_| DbError::Canceled)?
    }
}

fn run(pool: Pool, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut conn = match pool.get() {
            Ok(conn) => conn,
            Err(e) => {
                fail_all(batch, &format!("the database is unavailable: {e}"));
                continue;
            }
        };
        let Db::Sqlite(sqlite) = &mut *conn else {
            fail_all(batch, "the writer only batches SQLite writes");
            continue;
        };
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
            // A read-only or vanished file: the next batch gets a new
            // connection rather than this one again.
            super::drop_if_broken(&mut conn, &e);
            fail_all(batch, &e.to_string());
            continue;
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batch
                .into_iter()
                .map(|job| job(&mut conn))
                .collect::<Vec<(Finish, bool)>>()
        }));
        let Db::Sqlite(sqlite) = &mut *conn else {
            continue;
        };
        match ran {
            Ok(finishers) => {
                let broke = finishers.iter().any(|(_, broke)| *broke);
                let committed = AnsiTransactionManager::commit_transaction(sqlite);
                let commit_broke = matches!(&committed, Err(e) if super::breaks_connection(e));
                if committed.is_err() {
                    let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                }
                if broke || commit_broke {
                    tracing::warn!("closing the writer's database connection after a read-only, disk or lost-file error; the next batch opens a new one");
                    super::mark_broken(&mut conn);
                }
                let committed = committed.map_err(|e| e.to_string());
                let n = finishers.len();
                for (finish, _) in finishers {
                    finish(committed.clone());
                }
                tracing::trace!(writes = n, "batch committed");
            }
            Err(_) => {
                // A write panicked: nothing of this batch is kept, and the
                // answers were dropped (their waiters see an error).
                let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                tracing::error!("a write panicked; its batch was rolled back");
            }
        }
    }
}

fn fail_all(batch: Vec<Job>, why: &str) {
    tracing::error!(error = %why, writes = batch.len(), "a batch of writes could not start");
    // Each job must still be answered: dropping it drops its answer channel,
    // which its waiter sees as an error.
    drop(batch);
}
