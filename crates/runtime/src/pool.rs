//! The AccountPool actor: the only way a server gets a number. It leases through the store's
//! atomic claim, and when the pool is empty it lets servers wait on a signal (an import, or a
//! number handed back) instead of polling the database.

use actix::prelude::*;
use simrotor_domain::BatchId;
use simrotor_persistence::{Lease, LeaseOwner, Store, StoreError};
use tokio::sync::watch;

pub struct AccountPool {
    store: Store,
    owner: LeaseOwner,
    batch: Option<BatchId>,
    /// Bumped whenever accounts may have become available.
    refilled: watch::Sender<u64>,
}

impl std::fmt::Debug for AccountPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountPool")
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl AccountPool {
    pub fn new(store: Store, owner: LeaseOwner, batch: Option<BatchId>) -> Self {
        let (refilled, _) = watch::channel(0);
        Self {
            store,
            owner,
            batch,
            refilled,
        }
    }
}

impl Actor for AccountPool {
    type Context = Context<Self>;
}

/// Lease the next available account to a server; `None` when the pool is empty.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Lease>, StoreError>")]
pub struct LeaseNext {
    pub server_id: i64,
}

/// Accounts may be available again (an import, or a number returned to the pool).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Refilled;

/// A receiver that changes whenever the pool may have been refilled.
#[derive(Debug, Message)]
#[rtype(result = "watch::Receiver<u64>")]
pub struct Subscribe;

/// How many accounts are available now (for the supervisor's "is the run over?").
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, StoreError>")]
pub struct Available;

impl Handler<LeaseNext> for AccountPool {
    type Result = ResponseFuture<Result<Option<Lease>, StoreError>>;

    fn handle(&mut self, msg: LeaseNext, _: &mut Self::Context) -> Self::Result {
        let (store, owner, batch) = (self.store.clone(), self.owner.clone(), self.batch.clone());
        Box::pin(async move {
            store
                .lease_next_account(msg.server_id, &owner, batch.as_ref())
                .await
        })
    }
}

impl Handler<Refilled> for AccountPool {
    type Result = ();

    fn handle(&mut self, _: Refilled, _: &mut Self::Context) {
        self.refilled.send_modify(|g| *g = g.wrapping_add(1));
    }
}

impl Handler<Subscribe> for AccountPool {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, _: Subscribe, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.refilled.subscribe())
    }
}

impl Handler<Available> for AccountPool {
    type Result = ResponseFuture<Result<u64, StoreError>>;

    fn handle(&mut self, _: Available, _: &mut Self::Context) -> Self::Result {
        let (store, batch) = (self.store.clone(), self.batch.clone());
        Box::pin(async move { store.available_count(batch.as_ref()).await })
    }
}
