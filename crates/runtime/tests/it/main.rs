//! The runtime over real HTTP: the admin API started on an ephemeral port, called with
//! reqwest, and the simulator of the operator's servers forwarding its SMS to it. The scriptable
//! slot double, ports, numbers and waits come from `simrotor-test-support`.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod scenario_helpers;

mod admin;
mod admin_books;
mod admin_errors;
mod admin_otp;
mod books;
mod calls;
mod otp;
mod ownership;
mod relogin;
mod scenarios;
mod sessions;
