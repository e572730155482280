//! What can go wrong reading the trail, each error naming the file (and line) it is about, so
//! the operator can open it.

use std::path::PathBuf;

/// The audit files could not be read: an I/O failure, not a bad line (those are skipped and
/// counted, see [`crate::BadLines`]).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot list the audit directory {}: {source}", dir.display())]
    ListDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the audit file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the audit file {} after line {line}: {source}", path.display())]
    Read {
        path: PathBuf,
        /// The last line read whole before the failure.
        line: u64,
        #[source]
        source: std::io::Error,
    },
}

/// Why one line is not an audit line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    reason: String,
}

impl ParseError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// serde_json says "at line 1 column N": every audit line is parsed on its own, so "line 1"
    /// would mislead next to the file's real line number.
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        let text = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        match text.strip_suffix(&suffix) {
            Some(what) if err.column() > 0 => {
                Self::new(format!("{what} (column {})", err.column()))
            }
            Some(what) => Self::new(what),
            None => Self::new(text),
        }
    }
}

/// One skipped line: where it is and why it was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} line {line}: {error}", path.display())]
pub struct BadLine {
    pub path: PathBuf,
    /// 1-based.
    pub line: u64,
    pub error: ParseError,
}

/// A filter flag's value cannot be understood; the message names the flag and what it expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("--msisdn {value:?}: {source}")]
    Msisdn {
        value: String,
        #[source]
        source: simrotor_domain::MsisdnError,
    },
    #[error(
        "{flag} {value:?}: expected a duration back from now (2h, 30m, 1h 30m), a local date-time \
         (2026-11-24T08:00, 2026-11-24T08:00:00, 2026-11-24 08:00, 2026-11-24) or an RFC 3339 time \
         with its offset (2026-11-24T08:00:00+07:00)"
    )]
    Since { flag: &'static str, value: String },
    #[error("{flag} {value:?}: that time does not exist in the local time zone (a DST gap)")]
    SinceInGap { flag: &'static str, value: String },
    #[error("--level {value:?}: expected one of error, warn, info, debug, trace")]
    Level { value: String },
}
