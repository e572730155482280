//! Group commit: the writes of every server that arrive while one commit is on disk share the
//! next commit. On a SQLite file with `synchronous=FULL` a commit waits for an fsync; twenty
//! servers (or a thousand) each committing alone would queue behind each other's fsyncs, so
//! each write joins a batch, the batch runs in one transaction, and nobody is answered before
//! that transaction is durable: a write that returns `Ok` is on disk, as before.
//!
//! No task of its own: the first writer to find the writer free leads; it takes every write
//! queued so far (its own included), runs them in one transaction, commits and answers each.
//! Writes that queue meanwhile wait for the next leader, one of themselves. If any write of a
//! batch fails, or the commit does, the batch is rolled back and each write runs again alone,
//! so that a failure is the failing write's own and no other write is lost with it. A write is
//! therefore a function of the transaction that may run twice (`Fn`), never a half-done step.
//!
//! On PostgreSQL, which commits concurrent transactions on its own, each write is simply its
//! own transaction.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use sea_orm::{DatabaseBackend, DatabaseTransaction};
use tokio::sync::oneshot;

use crate::{Store, StoreError};

type Value = Box<dyn Any + Send>;
type Run = Box<
    dyn for<'t> Fn(&'t DatabaseTransaction) -> BoxFuture<'t, Result<Value, StoreError>>
        + Send
        + Sync,
>;

struct Pending {
    run: Run,
    done: oneshot::Sender<Result<Value, StoreError>>,
}

/// The queue of writes and the lead (whoever holds it runs the next batch).
#[derive(Default)]
pub(crate) struct Group {
    queue: Mutex<Vec<Pending>>,
    lead: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

/// The most writes one transaction takes; more wait for the next.
const BATCH_MAX: usize = 512;

impl Store {
    /// Runs `write` in a transaction shared with the other writes queued now, and returns its
    /// value once that transaction is committed.
    pub(crate) async fn commit<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> Fn(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, StoreError>>
            + Send
            + Sync
            + 'static,
    {
        let run: Run = Box::new(move |txn| {
            let fut = write(txn);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Value) })
        });
        let value = if self.backend() == DatabaseBackend::Postgres {
            self.alone(&run).await?
        } else {
            self.in_a_group(run).await?
        };
        value.downcast::<T>().map(|v| *v).map_err(|_| {
            StoreError::corrupt("commit", 0, "a write's value came back as another type")
        })
    }

    async fn in_a_group(&self, run: Run) -> Result<Value, StoreError> {
        let group: &Arc<Group> = &self.group;
        let (done, mut answer) = oneshot::channel();
        group
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Pending { run, done });
        loop {
            let lead = tokio::select! {
                biased;
                answered = &mut answer => {
                    return answered.unwrap_or_else(|_| Err(StoreError::corrupt("commit", 0, "the batch holding this write was dropped")));
                }
                lead = group.lead.lock() => lead,
            };
            let batch: Vec<Pending> = {
                let mut queue = group.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let n = queue.len().min(BATCH_MAX);
                queue.drain(..n).collect()
            };
            if !batch.is_empty() {
                self.run_batch(batch).await;
            }
            drop(lead);
        }
    }

    /// One batch: all in one transaction; on any failure, each alone.
    async fn run_batch(&self, batch: Vec<Pending>) {
        if batch.len() > 1 {
            if let Ok(values) = self.together(&batch).await {
                for (p, v) in batch.into_iter().zip(values) {
                    let _ = p.done.send(Ok(v));
                }
                return;
            }
        }
        for p in batch {
            let result = self.alone(&p.run).await;
            let _ = p.done.send(result);
        }
    }

    async fn together(&self, batch: &[Pending]) -> Result<Vec<Value>, StoreError> {
        let txn = self.begin_write().await?;
        let mut values = Vec::with_capacity(batch.len());
        for p in batch {
            values.push((p.run)(&txn).await?);
        }
        txn.commit().await?;
        Ok(values)
    }

    async fn alone(&self, run: &Run) -> Result<Value, StoreError> {
        let txn = self.begin_write().await?;
        let value = run(&txn).await?;
        txn.commit().await?;
        Ok(value)
    }
}
