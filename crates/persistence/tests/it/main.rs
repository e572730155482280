//! The store's integration tests, one suite for both databases: every test runs on a fresh
//! SQLite file and, when `SIMROTOR_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database
//! (see `helpers::both_databases!`). Each asserts what the operator would see: rows, states,
//! counts, errors.

// A panic is how a test fails; `unwrap`/`expect` here say "this step must work".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod bindings;
mod books;
mod import;
mod leases;
mod migrations;
mod overview;
mod ownership;
mod purchases;
mod recap;
mod servers;
mod settle;
mod sms_channels;
mod stale_leases;
mod suspects;
