//! Group commit for SQLite.
//!
//! SQLite takes one writer at a time, and through sqlx every statement is a
//! round trip to the connection's worker thread. Profiling the refresh
//! benchmark showed the server spending ~40% of its time in those thread
//! hand-offs and only a few percent in SQLite itself; `BEGIN IMMEDIATE` and
//! `COMMIT` were two of every five of them. The writer task below takes every
//! write job that is waiting, runs them one after another in a single
//! `BEGIN IMMEDIATE … COMMIT`, and answers each job only after the commit.
//! Jobs see each other's writes in order, exactly as if they had run one by
//! one, so conditional updates still decide races (two exchanges of one code
//! in one batch: the second finds it consumed). A database error fails the
//! whole batch and every job in it hears about it.

use std::future::Future;
use std::pin::Pin;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

/// A future borrowing the batch's transaction.
pub(crate) type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DbErr>> + Send + 'a>>;

/// A unit of work run inside the batch's transaction.
pub(crate) type Job = Box<dyn for<'a> FnOnce(&'a DatabaseTransaction) -> JobFuture<'a> + Send>;

struct Submission {
    job: Job,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle to the writer task.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    tx: mpsc::Sender<Submission>,
}

/// Most jobs in one transaction.
const MAX_BATCH: usize = 128;

impl Batcher {
    /// Starts the writer task on `db`; it holds `lane` for each batch, so
    /// batches never overlap the store's other writes.
    pub(crate) fn start(db: DatabaseConnection, lane: Arc<Mutex<()>>) -> Batcher {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(db, lane, rx));
        Batcher { tx }
    }

    /// Runs `job` in the next batch and waits for its commit.
    pub(crate) async fn run(&self, job: Job) -> Result<(), DbErr> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Submission { job, done })
            .await
            .map_err(|_| DbErr::Custom("the writer task has stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DbErr::Custom(e)),
            Err(_) => Err(DbErr::Custom("the writer task dropped a job".into())),
        }
    }
}

async fn writer(db: DatabaseConnection, lane: Arc<Mutex<()>>, mut rx: mpsc::Receiver<Submission>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Usize to f64: exact for any queue or batch this can hold.
        #[allow(clippy::cast_precision_loss)]
        {
            metrics::histogram!(crate::WRITE_BATCH_SIZE).record(batch.len() as f64);
            metrics::gauge!(crate::WRITE_QUEUE_DEPTH).set(rx.len() as f64);
        }
        let result = {
            let _lane = lane.lock().await;
            run_batch(&db, &mut batch).await
        };
        let answer = result.map_err(|e| e.to_string());
        if let Err(e) = &answer {
            tracing::error!(error = %e, jobs = batch.len(), "write batch failed; nothing of it was committed");
        }
        for s in batch.drain(..) {
            let _ = s.done.send(answer.clone());
        }
    }
}

/// Runs the jobs of `batch` (taking them out; the answer channels stay).
async fn run_batch(db: &DatabaseConnection, batch: &mut [Submission]) -> Result<(), DbErr> {
    let txn = db.begin_with_options(crate::immediate()).await?;
    for s in batch.iter_mut() {
        let job = std::mem::replace(&mut s.job, Box::new(|_| Box::pin(async { Ok(()) })));
        if let Err(e) = job(&txn).await {
            txn.rollback().await?;
            return Err(e);
        }
    }
    txn.commit().await
}
