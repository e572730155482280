//! One function per verb. Each loads the configuration, opens the store (migrating it), and
//! prints what the operator asked for.

mod accounts;
mod answers;
mod config;
mod daemon;
mod demo;
mod history;
mod import;
mod ledger_check;
mod logs;
mod migrate;
mod operate;
mod otp;
mod probe;
pub mod recap;
mod run;
mod servers;
mod sim;
mod sms;
mod vouchers;
mod watch;

use std::process::ExitCode;

use anyhow::Context as _;
use simrotor_config::{Config, Synchronous};
use simrotor_persistence::{ServerSeed, Store, StoreOptions};

use crate::admin_client::AdminClient;
use crate::cli::{Cli, Command, ConfigCommand};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = simrotor_config::load(cli.config.as_deref())?;
    let admin = cli.admin.as_deref();
    let client = || AdminClient::new(&config, admin);
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => config::check(&config),
        Command::Migrate { down } => migrate::run(&config, down).await,
        Command::Import { file, batch, pin } => {
            import::run(&config, &file, batch, pin, &client()?).await
        }
        Command::Accounts {
            batch,
            status,
            limit,
            format,
        } => accounts::run(&config, batch, status, limit, format).await,
        Command::Servers { format } => servers::run(&config, &client()?, format).await,
        Command::Recap { batch, format } => recap::run(&config, batch, format).await,
        Command::Vouchers(args) => vouchers::run(&config, args).await,
        Command::History { msisdn, format } => history::run(&config, msisdn, format).await,
        Command::Sim(args) => sim::run(config, args).await,
        Command::Run { until_empty, batch } => {
            let listen = admin.unwrap_or(&config.admin.listen).to_owned();
            run::run(config, until_empty, batch, listen).await
        }
        Command::Start { until_empty, batch } => {
            daemon::start(&config, cli.config.as_deref(), admin, until_empty, batch).await
        }
        Command::Stop => daemon::stop(&config).await,
        Command::Status => daemon::status(&config, &client()?).await,
        Command::Watch => watch::run(client()?).await,
        Command::Pause(a) => operate::server(&client()?, "pause", a).await,
        Command::Resume(a) => operate::server(&client()?, "resume", a).await,
        Command::Drain(a) => operate::server(&client()?, "drain", a).await,
        Command::Enable(a) => operate::server(&client()?, "enable", a).await,
        Command::Disable(a) => operate::server(&client()?, "disable", a).await,
        Command::Suspects { all, format } => {
            operate::suspects(&config, &client()?, all, format).await
        }
        Command::Resolve { id, who, why } => operate::resolve(&client()?, id, &who, &why).await,
        Command::Demo(args) => demo::run(config, args, admin).await,
        Command::Otp { server, code } => otp::run(&client()?, server, &code).await,
        Command::Sms { command, format } => sms::run(&config, &client()?, command, format).await,
        Command::Logs(args) => logs::run(&config, args).await,
        Command::Answers {
            call,
            since,
            limit,
            format,
        } => answers::run(&config, call, since, limit, format).await,
        Command::Probe(args) => probe::run(&config, args).await,
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
