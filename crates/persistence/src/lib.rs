//! simrotor's store: every fact the runtime must not lose, behind one `Store` API of atomic
//! operations, on SeaORM (SQLite embedded by default, PostgreSQL for scale-out).
//!
//! The store speaks the domain's types: it hands out a [`Lease`] that must be consumed to open a
//! binding, moves a binding or a purchase only through the domain's transition functions and
//! only as compare-and-set on the state it was read in, so a stale writer fails instead of
//! overwriting. It knows nothing of actors or HTTP.

mod accounts;
mod answers;
mod bindings;
mod commit;
mod connect;
pub mod entity;
mod error;
mod history;
mod home;
pub mod import;
mod ownership;
mod purchases;
mod recap;
mod servers;
mod sms_channels;
mod suspects;
mod vouchers;

pub use accounts::{
    AccountFilter, AccountRow, Lease, LeaseOwner, LeasedAccount, NewAccount, ReleasedLease,
};
pub use answers::{AnswerFilter, AnswerKind, NewUnusableAnswer, UnusableAnswer};
pub use bindings::{Binding, BindingPatch, BindingRecord, Settle, TrailStep, Transacting};
pub use connect::{Store, StoreOptions, Synchronous};
pub use error::StoreError;
pub use history::{BindingHistory, NumberHistory};
pub use ownership::{Fence, HeldLease, LeaseView, RuntimeInfo, RuntimeView};
pub use purchases::{Purchase, PurchaseIntent, PurchaseOutcome, attempt_key};
pub use recap::{BatchRecap, NumberCounts, PulsaSums, Recap, SinceTotals, TrxCounts};
pub use servers::{OpenBindingView, ServerMove, ServerOverview, ServerRow, ServerSeed};
pub use sms_channels::SmsChannel;
pub use suspects::Suspect;
pub use vouchers::{
    HourTotals, VoucherCursor, VoucherFilter, VoucherRow, VoucherStatus, VoucherSummary, local_time,
};
