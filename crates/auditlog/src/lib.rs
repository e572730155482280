//! The runtime's audit trail, read back.
//!
//! `simrotor run` writes one JSON line per event to `audit.YYYY-MM-DD.jsonl` files (see
//! `docs/audit-log.md`, the contract this crate reads). An operator asking "what happened to
//! 0812…, on which server, and where did its pulsa go?" should not need `jq` and `grep` across
//! rotated files; this crate is what `simrotor logs` is made of, kept apart from the binary so it
//! can be tested and benchmarked on its own:
//!
//! - [`discover`] finds the audit files of a directory in date order;
//! - [`AuditLine`] is one line, typed;
//! - [`Filter`] says which lines the operator wants, [`Matcher`] applies it cheaply;
//! - [`read_all`] and [`read_tail`] stream the history, [`Follower`] keeps reading as the runtime
//!   writes, across daily rotations;
//! - [`Renderer`] turns a line into one readable line of text.

mod error;
mod files;
mod filter;
mod follow;
mod line;
mod read;
mod render;

pub use error::{AuditError, BadLine, FilterError, ParseError};
pub use files::{AuditFile, discover};
pub use filter::{
    Filter, Matcher, parse_level, parse_msisdn, parse_since, parse_since_at, parse_when,
};
pub use follow::{Follower, Poll};
pub use line::{AuditLine, EventKind, Level};
pub use read::{BadLines, Matched, Position, ReadOutcome, ReadStats, read_all, read_tail};
pub use render::Renderer;
