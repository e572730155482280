//! One runtime per database. Two runtimes on one database would lease, bind and buy against each
//! other's servers (start-up recovery in the second one would even "resume" the first one's open
//! bindings), so a runtime claims the database before it starts and a second claim is refused.
//!
//! The claim is a lock the operating system or the database server drops by itself when its
//! holder goes away, never a row: a runtime killed with `kill -9` leaves nothing behind that
//! would block the next start. SQLite: an exclusive lock on `<database file>.runtime.lock`.
//! PostgreSQL: a session-level advisory lock, held by a connection of its own that lives as long
//! as the claim. An in-memory database belongs to its process: there is nothing to claim.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait as _, Database, DatabaseBackend, DatabaseConnection, DbErr,
    Statement,
};
use secrecy::{ExposeSecret as _, SecretString};

use crate::home::DatabaseHome;
use crate::{Store, StoreError};

/// The PostgreSQL advisory lock key of the runtime claim ("simrotrt" in ASCII); distinct from
/// the migration lock, which every start takes briefly.
const RUNTIME_LOCK: i64 = 0x7369_6d72_6f74_7274;

/// What the claim's PostgreSQL session calls itself, so the operator can find the holder in
/// `pg_stat_activity`.
const APPLICATION_NAME: &str = "simrotor-runtime";

/// Proof that this process is the one runtime on its database; the claim lasts as long as this
/// value (or the process) lives.
#[must_use = "the claim ends when this value is dropped"]
pub struct RuntimeClaim {
    holder: String,
    hold: Hold,
}

/// What keeps the claim; dropping it ends the claim.
enum Hold {
    Nothing,
    /// The open file that carries the lock: closing it unlocks.
    File(File),
    /// The session that holds the advisory lock: closing it unlocks.
    Session(DatabaseConnection),
}

impl std::fmt::Debug for RuntimeClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeClaim")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl RuntimeClaim {
    /// What this claim holds, in words (the lock file, or the advisory lock).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Ends the claim now and waits until it is over: the PostgreSQL lock is released and its
    /// session closed before this returns, where a plain drop leaves that to the server noticing
    /// the closed socket a moment later.
    pub async fn release(self) -> Result<(), StoreError> {
        match self.hold {
            Hold::Nothing => {}
            Hold::File(file) => {
                // Closing the file would unlock it too; unlocking says so explicitly.
                file.unlock().map_err(|source| StoreError::Io {
                    path: self.holder.clone(),
                    source,
                })?;
            }
            Hold::Session(session) => {
                session
                    .execute_unprepared(&format!("SELECT pg_advisory_unlock({RUNTIME_LOCK})"))
                    .await?;
                session.close().await?;
            }
        }
        Ok(())
    }
}

/// `<database file>.runtime.lock`, next to the database (and to its `-wal` and `-shm` files).
fn lock_file_of(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".runtime.lock");
    PathBuf::from(name)
}

fn lock_file_holder(path: &Path, note: &str) -> String {
    if note.is_empty() {
        format!("the lock file {}", path.display())
    } else {
        format!("the lock file {} ({note})", path.display())
    }
}

fn claim_file(database: &Path) -> Result<RuntimeClaim, StoreError> {
    let path = lock_file_of(database);
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    // Never truncated on open: the file says who holds it, and a refused claim reads that.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            // Best effort: the note only helps the operator find the other runtime.
            let note = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(StoreError::RuntimeRunning {
                holder: lock_file_holder(&path, note.trim()),
            });
        }
        Err(TryLockError::Error(source)) => return Err(io(source)),
    }
    let note = format!("pid {}", std::process::id());
    file.set_len(0).map_err(io)?;
    file.write_all(format!("{note}\n").as_bytes()).map_err(io)?;
    Ok(RuntimeClaim {
        holder: lock_file_holder(&path, &note),
        hold: Hold::File(file),
    })
}

async fn claim_advisory_lock(url: &SecretString) -> Result<RuntimeClaim, StoreError> {
    let holder = format!(
        "the PostgreSQL advisory lock {RUNTIME_LOCK:#x}, session '{APPLICATION_NAME}' in \
         pg_stat_activity"
    );
    let mut options = ConnectOptions::new(url.expose_secret().to_owned());
    // One connection that is never recycled: the lock belongs to its session, so the pool must
    // not close it when idle or old (sqlx would, after 10 and 30 minutes by default) and quietly
    // hand the claim to the next runtime that asks.
    options
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None::<Duration>)
        .max_lifetime(None::<Duration>)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(|o| o.application_name(APPLICATION_NAME));
    let session = Database::connect(options).await?;
    let row = session
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            format!("SELECT pg_try_advisory_lock({RUNTIME_LOCK}) AS held"),
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("pg_try_advisory_lock returned no row".to_owned()))?;
    let held: bool = row.try_get("", "held")?;
    if !held {
        // Closing is only tidiness here: the refusal stands whether it works or not.
        let _ = session.close().await;
        return Err(StoreError::RuntimeRunning { holder });
    }
    Ok(RuntimeClaim {
        holder,
        hold: Hold::Session(session),
    })
}

impl Store {
    /// Claims the database for this runtime, or fails with [`StoreError::RuntimeRunning`] while
    /// another claim on it lives, in this process or in another one. The claim ends when the
    /// returned value is dropped or the process dies.
    pub async fn claim_runtime(&self) -> Result<RuntimeClaim, StoreError> {
        match &self.home {
            DatabaseHome::SqliteFile(path) => claim_file(path),
            DatabaseHome::InMemory => Ok(RuntimeClaim {
                holder: "nothing: an in-memory database lives and dies with its process".to_owned(),
                hold: Hold::Nothing,
            }),
            DatabaseHome::Postgres(url) => claim_advisory_lock(url).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_next_to_the_database() {
        assert_eq!(
            lock_file_of(Path::new("data/simrotor.db")),
            PathBuf::from("data/simrotor.db.runtime.lock")
        );
    }

    #[test]
    fn the_runtime_lock_is_not_the_migration_lock() {
        assert_ne!(RUNTIME_LOCK, crate::connect::MIGRATION_LOCK);
        assert_eq!(format!("{RUNTIME_LOCK:#x}"), "0x73696d726f747274");
    }

    #[test]
    fn debug_never_shows_the_postgres_url() {
        let home = DatabaseHome::of(
            DatabaseBackend::Postgres,
            "postgres://simrotor:s3cret@db/simrotor",
        );
        assert!(!format!("{home:?}").contains("s3cret"), "{home:?}");
    }
}
