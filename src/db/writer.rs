//! Group commit for SQLite: concurrent writes wait in a queue, one thread
//! runs a batch of them in a single immediate transaction (each in its own
//! savepoint, so one failing write rolls back alone) and commits once. With
//! `synchronous = FULL` a commit costs an fsync; sharing it between many
//! comments keeps every acknowledged comment on disk and still accepts
//! thousands a second. Nobody is answered before their batch is committed.
//!
//! PostgreSQL needs none of this (it runs several writers at once), so
//! there the work runs on the blocking pool as any other query.
use std::sync::mpsc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{Db, DbError, Pool, QueryResult};

/// Writes in one batch at most.
const MAX_BATCH: usize = 128;

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&mut Db) -> Finish + Send>;

/// The queue to the writing thread (SQLite), or nothing (PostgreSQL).
#[derive(Clone)]
pub struct Writer {
    queue: Option<mpsc::Sender<Job>>,
}

impl Writer {
    /// Writes straight through the pool, with no batching.
    pub fn direct() -> Self {
        Self { queue: None }
    }

    /// Starts the writing thread when the pool is SQLite.
    pub fn start(pool: &Pool) -> Self {
        let is_sqlite = matches!(pool.get().as_deref(), Ok(Db::Sqlite(_)));
        if !is_sqlite {
            return Self { queue: None };
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let pool = pool.clone();
        let spawned = std::thread::Builder::new()
            .name("kintsugi-writer".into())
            .spawn(move || run(pool, rx));
        match spawned {
            Ok(_) => Self { queue: Some(tx) },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the writer thread; writing directly");
                Self { queue: None }
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
        let Some(queue) = &self.queue else {
            return super::run(pool, move |conn| super::transaction(conn, work)).await;
        };
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        let job: Job = Box::new(move |conn: &mut Db| -> Finish {
            // A savepoint: a failing write rolls back alone.
            let outcome = super::transaction(conn, work);
            Box::new(move |committed: Result<(), String>| {
                let result = match committed {
                    Ok(()) => outcome.map_err(DbError::from),
                    Err(e) => Err(DbError::Commit(e)),
                };
                let _ = answer.send(result);
            })
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
            fail_all(batch, &e.to_string());
            continue;
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batch
                .into_iter()
                .map(|job| job(&mut conn))
                .collect::<Vec<Finish>>()
        }));
        let Db::Sqlite(sqlite) = &mut *conn else {
            continue;
        };
        match ran {
            Ok(finishers) => {
                let committed =
                    AnsiTransactionManager::commit_transaction(sqlite).map_err(|e| e.to_string());
                if committed.is_err() {
                    let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                }
                let n = finishers.len();
                for finish in finishers {
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
