//! `simrotor`, the operator's one command: configure, import numbers, look at servers and
//! accounts, and read the recap. (The runtime verbs arrive with the runtime.)

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
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

/// Human logs to stderr; `RUST_LOG` wins over `-v`.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
