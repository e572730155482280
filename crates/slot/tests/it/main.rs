//! The HTTP client against a stub server on raw TCP: what goes on the wire, how every kind of
//! garbage answer comes back as the right typed error, and which calls are repeated (never the
//! purchase).

// A panic is how a test fails; `unwrap` here says "this step must work".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod garbage;
mod retries;
mod wire;
