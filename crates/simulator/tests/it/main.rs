//! The simulator over real HTTP, the way the slot client will meet it: started in-process on
//! ephemeral ports, called with plain reqwest.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod faults;
mod helpers;
mod ledger;
mod lifecycle;
mod login;
mod properties;
mod purchase;
mod real;
mod sms;
