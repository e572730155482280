use sea_orm::DbErr;
use simrotor_domain::{IllegalTransition, UnknownState};

/// Everything a store operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("stored state is corrupt: {0}")]
    UnknownState(#[from] UnknownState),
    #[error("binding {id} is no longer {expected}: another writer moved it first")]
    StaleBinding { id: i64, expected: String },
    #[error("server {id} is no longer {expected}: another writer moved it first")]
    StaleServer { id: i64, expected: String },
    #[error("transaction {id} is no longer {expected}: another writer moved it first")]
    StalePurchase { id: i64, expected: String },
    #[error("account {account_id} is no longer leased to server {server_id} by this process")]
    LeaseLost { account_id: i64, server_id: i64 },
    #[error("binding {id} is {state}: a purchase needs TRANSACTING")]
    NotTransacting { id: i64, state: String },
    #[error("{event} does not end a binding")]
    NotTerminal { event: String },
    #[error("purchase attempt {attempt_key} was already written: reconcile it instead")]
    DuplicateAttempt { attempt_key: String },
    #[error("row {table}#{id} is corrupt: {reason}")]
    Corrupt {
        table: &'static str,
        id: i64,
        reason: String,
    },
    #[error("transaction {id} does not exist")]
    TransactionNotFound { id: i64 },
    #[error("transaction {id} is {status}, not SUSPECT: only a suspect purchase can be resolved")]
    NotSuspect { id: i64, status: String },
    #[error("suspect transaction {id} was already resolved by {by}")]
    AlreadyResolved { id: i64, by: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(
        "another simrotor runtime already runs on this database ({holder}); stop it first, or \
         give this one another [ownership] name to run both"
    )]
    RuntimeRunning { holder: String },
    #[error(
        "server {server_id}: this runtime's lease (fence {fence}) is no longer current, {holder} \
         holds it at fence {holder_fence}: the write was refused"
    )]
    Fenced {
        server_id: i64,
        fence: i64,
        holder: String,
        holder_fence: i64,
    },
    #[error("cannot prepare the database file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub(crate) fn corrupt(table: &'static str, id: i64, reason: impl ToString) -> Self {
        StoreError::Corrupt {
            table,
            id,
            reason: reason.to_string(),
        }
    }
}
