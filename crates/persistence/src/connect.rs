//! Opening the database: the SQLite settings that make it safe for money (WAL, foreign keys,
//! busy timeout, `synchronous=FULL` unless told otherwise), and migrations at every start.

use std::path::Path;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait as _, Database, DatabaseBackend,
    DatabaseConnection, DatabaseTransaction, IsolationLevel, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::StoreError;
use crate::home::{DatabaseHome, sqlite_file};

/// The PostgreSQL advisory lock key that serialises migrations ("simrotor" in ASCII, truncated).
pub(crate) const MIGRATION_LOCK: i64 = 0x73_696d_726f_746f;

/// SQLite's durability setting; see `database.synchronous` in `config.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    Full,
    Normal,
}

/// How to open the store.
#[derive(Clone)]
pub struct StoreOptions {
    pub url: String,
    pub synchronous: Synchronous,
    pub busy_timeout: Duration,
    pub max_connections: u32,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("backend", &self.url.split(':').next().unwrap_or(""))
            .field("synchronous", &self.synchronous)
            .field("busy_timeout", &self.busy_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl StoreOptions {
    /// Defaults for a URL: durable, 5 s busy timeout, 4 connections.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}

/// The handle to the database; cheap to clone (a pool).
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes too).
    pub(crate) db: DatabaseConnection,
    /// Every write. On a SQLite file, a pool of one connection: writers queue for it in the
    /// process, in order, instead of meeting SQLite's lock and its busy handler's sleeps (tens
    /// of milliseconds at twenty servers); SQLite has one writer at a time anyway. Elsewhere the
    /// same pool as `db`.
    pub(crate) writer: DatabaseConnection,
    /// The writes waiting for the next group commit (see [`crate::commit`]).
    pub(crate) group: std::sync::Arc<crate::commit::Group>,
    /// Where the database lives (the URL stays secret).
    pub(crate) home: DatabaseHome,
    /// The lease every write of this handle proves (see [`Store::fenced`]); `None` for the
    /// runtime's own writes and every tool's.
    pub(crate) fence: Option<std::sync::Arc<crate::Fence>>,
}

impl Store {
    /// Connects and applies every pending migration.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let store = Self::connect_without_migrating(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects only; `migrate`, `migrate_down` are then up to the caller.
    pub async fn connect_without_migrating(options: &StoreOptions) -> Result<Self, StoreError> {
        if let Some(parent) = sqlite_file(&options.url).and_then(Path::parent)
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let synchronous = match options.synchronous {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        };
        let busy = options.busy_timeout;
        let pool = |connections: u32| {
            let mut opt = ConnectOptions::new(options.url.clone());
            opt.max_connections(connections)
                .min_connections(1)
                // A connection to a local file cannot go stale: no ping (a round trip to
                // SQLite's worker thread) before every statement. A server's can: pinged.
                .test_before_acquire(sqlite_file(&options.url).is_none())
                .sqlx_logging(false);
            opt.map_sqlx_sqlite_opts(move |o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(synchronous)
                    .busy_timeout(busy)
                    .foreign_keys(true)
            });
            opt
        };
        let db = Database::connect(pool(options.max_connections)).await?;
        let writer = if sqlite_file(&options.url).is_some() {
            Database::connect(pool(1)).await?
        } else {
            db.clone()
        };
        let home = DatabaseHome::of(db.get_database_backend(), &options.url);
        Ok(Self {
            db,
            writer,
            home,
            group: Default::default(),
            fence: None,
        })
    }

    /// Applies pending migrations inside one write transaction, under an advisory lock on
    /// PostgreSQL, so two processes starting together on a fresh database do not both try to
    /// create the tables.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        if self.backend() == DatabaseBackend::Postgres {
            write
                .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await?;
        }
        Migrator::up(&write, None).await?;
        write.commit().await?;
        Ok(())
    }

    /// Rolls every migration back (for `migrate --down` and the migration tests).
    pub async fn migrate_down(&self) -> Result<(), StoreError> {
        Migrator::down(&self.writer, None).await?;
        Ok(())
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// The SeaORM connection, for benchmarks and tests that need raw access.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// A transaction that will write after reading: `BEGIN IMMEDIATE` on SQLite, so it takes the
    /// write lock up front instead of failing with "database is locked" at its first write.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = TransactionOptions {
            isolation_level: None::<IsolationLevel>,
            access_mode: None::<AccessMode>,
            sqlite_transaction_mode: (self.backend() == DatabaseBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
        };
        Ok(self.writer.begin_with_options(options).await?)
    }

    /// Closes the pools (SQLite checkpoints its WAL on the last close).
    pub async fn close(self) -> Result<(), StoreError> {
        if self.home == DatabaseHome::SqliteFile {
            self.writer.close().await?;
        }
        self.db.close().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    async fn pragma(store: &Store, name: &str) -> String {
        let row = store
            .db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("PRAGMA {name}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0)
            .map(|v| v.to_string())
            .or_else(|_| row.try_get_by_index::<String>(0))
            .unwrap()
    }

    #[tokio::test]
    async fn sqlite_is_opened_safe_for_money() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/dir/s.db", dir.path().display());
        let store = Store::connect(&StoreOptions::new(url)).await.unwrap();
        assert!(
            dir.path().join("nested/dir/s.db").exists(),
            "file and directories created"
        );
        assert_eq!(pragma(&store, "journal_mode").await, "wal");
        assert_eq!(pragma(&store, "synchronous").await, "2", "FULL by default");
        assert_eq!(pragma(&store, "foreign_keys").await, "1");
        assert_eq!(pragma(&store, "busy_timeout").await, "5000");

        let mut normal = StoreOptions::new(format!("sqlite://{}/n.db", dir.path().display()));
        normal.synchronous = Synchronous::Normal;
        let store = Store::connect(&normal).await.unwrap();
        assert_eq!(
            pragma(&store, "synchronous").await,
            "1",
            "NORMAL when configured"
        );
    }
}
