//! End-to-end tests: the real `simrotor` binary, run as the operator runs it, in a fresh
//! directory with its own config and SQLite file.

mod helpers;

mod config;
mod import;
mod listing;
