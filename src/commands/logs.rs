//! `simrotor logs`: the audit trail, filtered and readable. (Being written.)

use std::process::ExitCode;

use simrotor_config::Config;

use crate::cli::LogsArgs;

pub async fn run(_config: &Config, _args: LogsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("simrotor logs is not written yet")
}
