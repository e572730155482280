//! Where a store's database lives: a SQLite file, memory, or a PostgreSQL server. Connecting
//! needs it (to create the file's folder), and closing (a file's writer pool is its own).

use std::path::Path;

use sea_orm::DatabaseBackend;

/// Where a store's database lives. The URL is not kept: it may carry a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatabaseHome {
    SqliteFile,
    InMemory,
    Postgres,
}

impl DatabaseHome {
    pub(crate) fn of(backend: DatabaseBackend, url: &str) -> Self {
        match backend {
            DatabaseBackend::Postgres => Self::Postgres,
            _ => match sqlite_file(url) {
                Some(_) => Self::SqliteFile,
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
