//! Where a store's database lives: a SQLite file, memory, or a PostgreSQL server. Connecting
//! needs it (to create the file's folder) and so does claiming the database for one runtime.

use std::path::{Path, PathBuf};

use sea_orm::DatabaseBackend;
use secrecy::SecretString;

/// Where a store's database lives, as far as claiming it goes.
#[derive(Debug, Clone)]
pub(crate) enum DatabaseHome {
    SqliteFile(PathBuf),
    InMemory,
    /// The URL may carry a password: secret, so the store's `Debug` never prints it.
    Postgres(SecretString),
}

impl DatabaseHome {
    pub(crate) fn of(backend: DatabaseBackend, url: &str) -> Self {
        match backend {
            DatabaseBackend::Postgres => Self::Postgres(SecretString::from(url)),
            _ => match sqlite_file(url) {
                Some(path) => Self::SqliteFile(path.to_path_buf()),
                None => Self::InMemory,
            },
        }
    }
}

/// The file behind a `sqlite:` URL, if it names one.
pub(crate) fn sqlite_file(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_sqlite_file() {
        assert_eq!(
            sqlite_file("sqlite://data/x.db"),
            Some(Path::new("data/x.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/x.db?mode=rwc"),
            Some(Path::new("/tmp/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/d"), None);
    }
}
