//! `simrotor migrate`: bring the schema up to date (or roll it back) and record the servers.

use std::process::ExitCode;

use anyhow::Context as _;
use simrotor_config::Config;
use simrotor_persistence::Store;

use super::{server_seeds, store_options};

pub async fn run(config: &Config, down: bool) -> anyhow::Result<ExitCode> {
    let url = config.database.url.masked();
    let store = Store::connect_without_migrating(&store_options(config))
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    if down {
        store
            .migrate_down()
            .await
            .context("rolling the schema back failed")?;
        println!("Rolled every migration back on {url}: the tables are gone.");
        return Ok(ExitCode::SUCCESS);
    }
    store
        .migrate()
        .await
        .context("migrating the schema failed")?;
    let servers = store.sync_servers(&server_seeds(config)?).await?;
    let enabled = servers.iter().filter(|s| s.enabled).count();
    println!(
        "Database {url} is up to date; {} servers recorded ({enabled} enabled).",
        servers.len()
    );
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
