//! One function per verb. Each loads the configuration, opens the store (migrating it), and
//! prints what the operator asked for.

mod accounts;
mod config;
mod demo;
mod import;
mod ledger_check;
mod logs;
mod migrate;
mod otp;
pub mod recap;
mod run;
mod servers;
mod sim;

use std::process::ExitCode;

use anyhow::Context as _;
use simrotor_config::{Config, Synchronous};
use simrotor_persistence::{ServerSeed, Store, StoreOptions};

use crate::cli::{Cli, Command, ConfigCommand};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = simrotor_config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => config::check(&config),
        Command::Migrate { down } => migrate::run(&config, down).await,
        Command::Import { file, batch, pin } => import::run(&config, &file, batch, pin).await,
        Command::Accounts {
            batch,
            status,
            limit,
            format,
        } => accounts::run(&config, batch, status, limit, format).await,
        Command::Servers { format } => servers::run(&config, format).await,
        Command::Recap { batch, format } => recap::run(&config, batch, format).await,
        Command::Sim(args) => sim::run(config, args).await,
        Command::Run {
            until_empty,
            batch,
            control,
        } => run::run(config, until_empty, batch, control).await,
        Command::Demo(args) => demo::run(config, args).await,
        Command::Otp {
            server,
            code,
            control,
        } => otp::run(server, &code, &control).await,
        Command::Logs(args) => logs::run(&config, args).await,
        Command::LedgerCheck { ledger } => ledger_check::run(&config, &ledger).await,
    }
}

pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        url: config.database.url.expose().to_owned(),
        synchronous: match config.database.synchronous {
            Synchronous::Full => simrotor_persistence::Synchronous::Full,
            Synchronous::Normal => simrotor_persistence::Synchronous::Normal,
        },
        busy_timeout: config.database.busy_timeout,
        max_connections: config.database.max_connections,
    }
}

/// Opens the store, applying pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&store_options(config))
        .await
        .with_context(|| format!("cannot open the database {}", config.database.url.masked()))
}

/// The configured servers as the store records them.
pub fn server_seeds(config: &Config) -> anyhow::Result<Vec<ServerSeed>> {
    Ok(simrotor_runtime::start::server_seeds(config)?)
}
