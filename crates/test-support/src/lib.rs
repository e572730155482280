//! What simrotor's tests share, written once: test numbers, free loopback ports, waits with a
//! deadline, and (behind features) purchases written through the store (`store`), a scriptable
//! slot client (`slot`), the store's books held against the simulator's ledger (`ledger`) and the
//! property tests' strategies (`fuzz`).
//!
//! Used only as a dev-dependency: a panic here is how a test fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod net;
mod numbers;
mod wait;

#[cfg(feature = "ledger")]
mod books;
#[cfg(feature = "store")]
mod buy;
#[cfg(feature = "fuzz")]
pub mod fuzz;
#[cfg(feature = "slot")]
mod scripted;

pub use net::{free_port, free_ports};
pub use numbers::{number, number_with_prefix};
pub use wait::{PATIENCE, Patience, wait_for};

#[cfg(feature = "ledger")]
pub use books::{books, reconcile_store};
#[cfg(feature = "store")]
pub use buy::{Buy, buy};
#[cfg(feature = "slot")]
pub use scripted::{CallLog, Script, ScriptedSlot};
