//! `simrotor`, the operator's one command: configure, import numbers, run the runtime (in the
//! foreground or the background), steer and watch it, read the audit trail and the recap.

mod admin_client;
mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The runtime writes its audit trail beside the human log; other verbs need none.
    let audit_dir = match &cli.command {
        cli::Command::Run { .. } => simrotor_config::load(cli.config.as_deref())
            .ok()
            .map(|c| c.logging.dir),
        // A kept demo leaves its audit trail beside its database, for `simrotor logs --dir`.
        cli::Command::Demo(args) => args.keep.as_ref().map(|dir| dir.join("logs")),
        _ => None,
    };
    let default_level = match &cli.command {
        cli::Command::Run { .. } => "info",
        _ => "warn",
    };
    let _audit_guard = init_tracing(cli.verbose, default_level, audit_dir);
    // rustls needs its crypto provider chosen once, before any HTTP client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // One actix System (a single-threaded tokio runtime) for every verb: the runtime's actors
    // and its database pool then live on one arbiter, as the stack notes advise.
    let system = actix_rt::System::new();
    match system.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Human logs to stderr (`RUST_LOG` wins over `-v`); with an audit directory, also one JSON line
/// per runtime event (state changes, purchases, with server, batch, msisdn, binding and trx ids)
/// to `audit.YYYY-MM-DD.jsonl`, a new file each day. The audit writer blocks rather than drop a line.
fn init_tracing(
    verbose: u8,
    default_level: &str,
    audit_dir: Option<std::path::PathBuf>,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{EnvFilter, filter::Targets};
    let level = match verbose {
        0 => default_level,
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let human = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter);
    let (audit, guard) = match audit_dir.and_then(|dir| {
        tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("audit")
            .filename_suffix("jsonl")
            .build(&dir)
            .map_err(|e| eprintln!("warning: no audit log in {}: {e}", dir.display()))
            .ok()
    }) {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(appender);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_writer(writer)
                .with_current_span(false)
                .with_filter(Targets::new().with_target("simrotor_runtime", tracing::Level::INFO));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(human)
        .with(audit)
        .init();
    guard
}
