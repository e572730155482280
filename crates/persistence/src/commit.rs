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
//!
//! A fenced store's write (a server's driver, see [`crate::ownership`]) opens with the check of
//! its server's lease, in the same transaction, whichever way it runs.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;
use sea_orm::{DatabaseBackend, DatabaseExecutor, EntityTrait, UpdateMany};
use tokio::sync::oneshot;

use crate::{Store, StoreError};

type Value = Box<dyn Any + Send>;
type Run = Box<
    dyn for<'t> Fn(&'t DatabaseExecutor<'t>) -> BoxFuture<'t, Result<Value, StoreError>>
        + Send
        + Sync,
>;

struct Pending {
    run: Run,
    /// The write is one statement: alone, it needs no transaction around it (SQLite commits
    /// a single statement by itself, as durably), which saves two round trips to SQLite.
    single: bool,
    done: oneshot::Sender<Result<Value, StoreError>>,
}

/// How many statements a write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statements {
    One,
    /// One statement that carries its fence itself (`Store::fence_filter`): on SQLite, where
    /// the statement is its own atomic transaction, it needs neither the separate check nor a
    /// transaction around it.
    OneFencing,
    Several,
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

/// A write: a function of the connection or transaction it runs on, which may run twice (in a
/// batch, then alone after the batch failed).
pub(crate) trait Write<T>:
    for<'t> Fn(&'t DatabaseExecutor<'t>) -> BoxFuture<'t, Result<T, StoreError>> + Send + Sync + 'static
{
}

impl<T, F> Write<T> for F where
    F: for<'t> Fn(&'t DatabaseExecutor<'t>) -> BoxFuture<'t, Result<T, StoreError>>
        + Send
        + Sync
        + 'static
{
}

/// The most writes one transaction takes; more wait for the next.
const BATCH_MAX: usize = 512;

impl Store {
    /// Runs `write` in a transaction shared with the other writes queued now, and returns its
    /// value once that transaction is committed. `statements`: whether `write` is a single
    /// statement, which runs without a transaction when it is alone.
    pub(crate) async fn commit<T, F>(
        &self,
        statements: Statements,
        write: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Write<T>,
    {
        self.queue(statements, write).await
    }

    /// One `UPDATE … WHERE …` as a write of its own (see [`Store::commit`]).
    pub(crate) async fn commit_update<E>(&self, update: UpdateMany<E>) -> Result<(), StoreError>
    where
        E: EntityTrait,
        UpdateMany<E>: Clone + Send + Sync + 'static,
    {
        let update = self.fence_filter(update);
        let fence = self.fence.clone();
        self.commit(Statements::OneFencing, move |txn| {
            let (update, fence) = (update.clone(), fence.clone());
            Box::pin(async move {
                let rows = update.exec(txn).await?.rows_affected;
                Store::refused_if_fenced(fence, txn, rows).await
            })
        })
        .await
    }

    /// Queues `write` now, in order with every write queued after it, and returns the wait for
    /// its commit: a write queued and not yet awaited rides along in the next batch anyone
    /// leads (and is led by its own caller when awaited). On PostgreSQL the write is made when
    /// the wait is awaited.
    pub(crate) fn queue<T, F>(
        &self,
        statements: Statements,
        write: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        F: Write<T>,
    {
        // A fenced write opens with the lease check, in the same transaction: two statements;
        // on SQLite a statement that checks its fence itself stays one.
        let fence = match statements {
            Statements::OneFencing if self.backend() == DatabaseBackend::Sqlite => None,
            _ => self.fence.clone(),
        };
        let single = statements != Statements::Several && fence.is_none();
        let run: Run = Box::new(move |txn| {
            let check = fence.clone().map(|f| f.check(txn));
            let fut = write(txn);
            Box::pin(async move {
                if let Some(check) = check {
                    check.await?;
                }
                fut.await.map(|v| Box::new(v) as Value)
            })
        });
        let store = self.clone();
        let queued = if self.backend() == DatabaseBackend::Postgres {
            Err(run)
        } else {
            let (done, answer) = oneshot::channel();
            self.group
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Pending { run, single, done });
            Ok(answer)
        };
        async move {
            let value = match queued {
                Ok(answer) => store.await_group(answer).await?,
                Err(run) => store.alone(&run, single).await?,
            };
            value.downcast::<T>().map(|v| *v).map_err(|_| {
                StoreError::corrupt("commit", 0, "a write's value came back as another type")
            })
        }
    }

    /// Waits for a queued write's batch, leading one when the writer is free.
    async fn await_group(
        &self,
        mut answer: oneshot::Receiver<Result<Value, StoreError>>,
    ) -> Result<Value, StoreError> {
        let group: &Arc<Group> = &self.group;
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
        if batch.len() > 1
            && let Ok(values) = self.together(&batch).await
        {
            for (p, v) in batch.into_iter().zip(values) {
                let _ = p.done.send(Ok(v));
            }
            return;
        }
        for p in batch {
            let result = self.alone(&p.run, p.single).await;
            let _ = p.done.send(result);
        }
    }

    async fn together(&self, batch: &[Pending]) -> Result<Vec<Value>, StoreError> {
        let txn = self.begin_write().await?;
        let mut values = Vec::with_capacity(batch.len());
        {
            let on = DatabaseExecutor::Transaction(&txn);
            for p in batch {
                values.push((p.run)(&on).await?);
            }
        }
        txn.commit().await?;
        Ok(values)
    }

    async fn alone(&self, run: &Run, single: bool) -> Result<Value, StoreError> {
        if single {
            return run(&DatabaseExecutor::Connection(&self.writer)).await;
        }
        let txn = self.begin_write().await?;
        let value = run(&DatabaseExecutor::Transaction(&txn)).await?;
        txn.commit().await?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;
    use crate::StoreOptions;

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}/c.db", dir.path().display());
        let store = Store::connect(&StoreOptions::new(url)).await.unwrap();
        store
            .writer
            .execute_unprepared("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
            .await
            .unwrap();
        store
    }

    fn insert(
        x: i64,
    ) -> impl for<'t> Fn(&'t DatabaseExecutor<'t>) -> BoxFuture<'t, Result<i64, StoreError>>
    + Send
    + Sync
    + 'static {
        move |on| {
            Box::pin(async move {
                on.execute_unprepared(&format!("INSERT INTO t (x) VALUES ({x})"))
                    .await?;
                Ok(x)
            })
        }
    }

    async fn rows(store: &Store) -> Vec<i64> {
        let rows = store
            .db
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT x FROM t ORDER BY x",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get_by_index(0).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_failing_write_fails_alone_and_its_batch_still_lands() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        // 0..30 with 7 twice: one of the two 7s fails on the unique index, whatever batch it
        // shared; every other write is committed and answered with its own value.
        let values: Vec<i64> = (0..30).chain([7]).collect();
        let results = futures::future::join_all(
            values
                .iter()
                .map(|&x| store.commit(Statements::One, insert(x))),
        )
        .await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        assert_eq!(failed, 1, "{results:?}");
        for (x, r) in values.iter().zip(&results) {
            if let Ok(v) = r {
                assert_eq!(v, x);
            }
        }
        assert_eq!(rows(&store).await, (0..30).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_queued_write_rides_in_the_next_batch_before_the_writes_queued_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let first = store.queue(Statements::One, insert(1));
        assert_eq!(rows(&store).await, Vec::<i64>::new(), "not yet written");
        // The second write leads a batch that holds the first, in order.
        store
            .commit(Statements::Several, |on| {
                Box::pin(async move {
                    let row = on
                        .query_one_raw(Statement::from_string(
                            DatabaseBackend::Sqlite,
                            "SELECT count(*) FROM t WHERE x = 1",
                        ))
                        .await?
                        .map(|r| r.try_get_by_index::<i64>(0).unwrap_or(0));
                    assert_eq!(row, Some(1), "the write queued first is already in");
                    on.execute_unprepared("INSERT INTO t (x) VALUES (2)")
                        .await?;
                    Ok(())
                })
            })
            .await
            .unwrap();
        assert_eq!(rows(&store).await, [1, 2]);
        first.await.unwrap();
    }
}
