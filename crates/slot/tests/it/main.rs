//! The HTTP client against a stub server on raw TCP: what goes on the wire, how every kind of
//! garbage answer comes back as the right typed error, and which calls are repeated (never the
//! purchase); and against the simulator of the operator's servers: every call, every refusal
//! and every fault knob.

// A panic is how a test fails; `unwrap` here says "this step must work".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod sim_helpers;

mod garbage;
mod retries;
mod simulator;
mod wire;
