//! Which files make up the trail, oldest first.
//!
//! tracing-appender names a daily file `audit.2026-11-24.jsonl` (hourly and minutely rotations
//! add `-HH` and `-HH-mm`). The name, not the modification time, gives the order: copying a
//! directory or touching a file must not reshuffle the history. A plain `audit.jsonl` (a writer
//! that never rotates, or one from before daily rotation) is read first: when dated files exist
//! beside it, they are the ones the current writer is appending to.

use std::path::{Path, PathBuf};

use crate::AuditError;

/// One audit file of a directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AuditFile {
    // Declared first: the derived order is the trail's order.
    pub(crate) key: FileKey,
    pub path: PathBuf,
}

/// Where a file sits in the trail.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FileKey {
    /// `audit.jsonl`: before every dated file.
    Plain,
    /// `audit.2026-11-24.jsonl`: the numbers of the date (and hour, minute), compared as numbers.
    Dated(Vec<u32>),
}

impl AuditFile {
    /// The file if `name` is an audit file's name.
    pub(crate) fn from_name(dir: &Path, name: &str) -> Option<Self> {
        Some(Self {
            key: file_key(name)?,
            path: dir.join(name),
        })
    }
}

/// `audit.jsonl` or `audit.<YYYY-MM-DD[-HH[-mm]]>.jsonl`; anything else (`audit.old.jsonl`, a
/// `.gz`) is not part of the trail.
pub(crate) fn file_key(name: &str) -> Option<FileKey> {
    if name == "audit.jsonl" {
        return Some(FileKey::Plain);
    }
    let middle = name.strip_prefix("audit.")?.strip_suffix(".jsonl")?;
    let parts: Vec<&str> = middle.split('-').collect();
    if !(3..=5).contains(&parts.len()) || parts[0].len() != 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|p| {
            if !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse::<u32>().ok()
            } else {
                None
            }
        })
        .collect::<Option<Vec<u32>>>()?;
    Some(FileKey::Dated(numbers))
}

/// The audit files of `dir`, oldest first. A directory that does not exist (yet) has none: the
/// runtime creates it on its first line.
pub fn discover(dir: &Path) -> Result<Vec<AuditFile>, AuditError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AuditError::ListDir {
                dir: dir.to_owned(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| AuditError::ListDir {
            dir: dir.to_owned(),
            source,
        })?;
        let name = entry.file_name();
        let Some(file) = name.to_str().and_then(|n| AuditFile::from_name(dir, n)) else {
            continue;
        };
        // A directory (or a dangling link) named like a file is not a file to read.
        if std::fs::metadata(&file.path).is_ok_and(|m| m.is_file()) {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(files: &[AuditFile]) -> Vec<String> {
        files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn names_that_belong_to_the_trail() {
        assert_eq!(file_key("audit.jsonl"), Some(FileKey::Plain));
        assert_eq!(
            file_key("audit.2026-11-24.jsonl"),
            Some(FileKey::Dated(vec![2026, 11, 24]))
        );
        assert_eq!(
            file_key("audit.2026-11-24-07.jsonl"),
            Some(FileKey::Dated(vec![2026, 11, 24, 7]))
        );
        for other in [
            "audit.old.jsonl",
            "audit.2026-11-24.jsonl.gz",
            "audit.2026-11.jsonl",
            "audit.26-11-24.jsonl",
            "audit.2026--24.jsonl",
            "audit.2026-11-24.json",
            "other.2026-11-24.jsonl",
            "audit..jsonl",
        ] {
            assert_eq!(file_key(other), None, "{other}");
        }
    }

    #[test]
    fn discovers_in_date_order_with_the_plain_file_first() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "audit.2026-11-25.jsonl",
            "audit.2026-11-03.jsonl",
            "notes.txt",
            "audit.jsonl",
            "audit.2025-12-31.jsonl",
            "audit.2026-11-24.jsonl.gz",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("audit.2027-01-01.jsonl")).unwrap();
        let files = discover(dir.path()).unwrap();
        assert_eq!(
            names(&files),
            [
                "audit.jsonl",
                "audit.2025-12-31.jsonl",
                "audit.2026-11-03.jsonl",
                "audit.2026-11-25.jsonl"
            ]
        );
    }

    #[test]
    fn a_missing_directory_has_no_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(discover(&dir.path().join("not-yet")).unwrap().is_empty());
    }

    #[test]
    fn hourly_files_sort_after_their_day() {
        let dir = Path::new("/x");
        let mut files: Vec<AuditFile> = [
            "audit.2026-11-24-10.jsonl",
            "audit.2026-11-24-09.jsonl",
            "audit.2026-11-23.jsonl",
        ]
        .iter()
        .filter_map(|n| AuditFile::from_name(dir, n))
        .collect();
        files.sort();
        assert_eq!(
            names(&files),
            [
                "audit.2026-11-23.jsonl",
                "audit.2026-11-24-09.jsonl",
                "audit.2026-11-24-10.jsonl"
            ]
        );
    }
}
