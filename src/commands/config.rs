//! `simrotor config check`: the effective configuration, secrets masked, or the error that
//! names the bad key.

use std::process::ExitCode;

use simrotor_config::Config;

pub fn check(config: &Config) -> anyhow::Result<ExitCode> {
    let specs = config.server_specs()?;
    let enabled = specs.iter().filter(|s| s.enabled).count();
    print!("{}", config.to_masked_toml());
    eprintln!(
        "configuration OK: {} servers ({enabled} enabled), database {}",
        specs.len(),
        config.database.url.masked()
    );
    Ok(ExitCode::SUCCESS)
}
