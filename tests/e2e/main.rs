//! End-to-end tests: the real `simrotor` binary, run as the operator runs it, in a fresh
//! directory with its own config and SQLite file.

// A panic is how a test (and its helpers) fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod answers;
mod books;
mod browser;
mod chaos;
mod config;
mod demo;
mod forwarders;
mod import;
mod listing;
mod logs;
mod operate;
mod ownership;
mod scenarios;
mod sim;
