//! simrotor's runtime: every server drives its bindings on its own, persisting each step.
//!
//! - [`Supervisor`](supervisor::Supervisor) starts one [`ServerActor`](server::ServerActor) per
//!   enabled server, restarts one that fails (backoff, jitter, a restart limit → `FAULTED`).
//! - Each ServerActor asks the [`AccountPool`](pool::AccountPool) for the next number, opens a
//!   binding and hands it to the [`Driver`](driver::Driver), which runs login, the reseller
//!   check, purchases and logout through the `SlotClient`, committing every step.
//! - OTPs reach a waiting binding through the [`OtpHub`](otp::OtpHub): typed by the operator or
//!   posted by an SMS forwarder to the admin API ([`http`]).

pub mod audit;
pub mod driver;
pub mod http;
pub mod metrics;
pub mod mode;
pub mod otp;
pub mod ownership;
pub mod pool;
pub mod recorder;
pub mod server;
pub mod settings;
pub mod start;
pub mod supervisor;
