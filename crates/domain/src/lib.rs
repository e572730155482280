//! The pure, typed core of simrotor.
//!
//! Everything here is a value or a rule: numbers (`Msisdn`), money (`Rupiah`), the credentials
//! that come with an account (`Email`, `Pin`), and the four state machines the operator reasons
//! about (binding, account, server, transaction), and the one backoff of every wait on a failing
//! server (`Backoff`). Nothing here does I/O, so every rule can be tested exhaustively and every
//! other crate can trust what it is handed: a `Msisdn` is always a valid Indonesian mobile
//! number, a state always got there through its transition function.

mod account;
mod backoff;
mod batch;
mod binding;
mod books;
mod call;
mod credentials;
mod machine;
mod money;
mod msisdn;
mod server;
mod transaction;

pub use account::{AccountEvent, AccountState};
pub use backoff::{Backoff, Jitter, PollSchedule};
pub use batch::{BatchId, BatchIdError};
pub use binding::{BindingEvent, BindingState, FailReason, LogoutReason};
pub use books::{BookedBinding, BookedPurchase, Books};
pub use call::Call;
pub use credentials::{Email, EmailError, Pin, PinError, mask_digits};
pub use machine::{IllegalTransition, StateMachine, UnknownState};
pub use money::{Rupiah, RupiahError};
pub use msisdn::{Msisdn, MsisdnError};
pub use server::{ServerEvent, ServerState};
pub use transaction::{TrxEvent, TrxStatus};
