//! simrotor's configuration, in one place and checked once.
//!
//! Layers, each overriding the one before: built-in defaults ← `config.toml` (or `--config
//! PATH`) ← `SIMROTOR_…` environment variables (nested keys with `__`:
//! `SIMROTOR_DATABASE__URL`). Every duration is a humantime string (`"30s"`, `"5m"`). An unknown
//! key, a bad duration or an impossible value stops start-up with a message that names the key
//! and the value, so a typo never silently runs with a default.

mod masked;
mod model;
mod simulator;
mod sms;

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

pub use model::*;
pub use simulator::*;
pub use sms::{ChannelConfig, ForwarderSecret, IntakeConfig, SmsConfig};

/// The default configuration file, looked up in the working directory.
pub const DEFAULT_FILE: &str = "config.toml";

/// Environment variables with this prefix override the file.
pub const ENV_PREFIX: &str = "SIMROTOR_";

/// Variables with the prefix that are not configuration (the test harness's settings, all
/// `SIMROTOR_TEST_…`): ignored, so a test run never trips the unknown-key check.
const NOT_CONFIG_PREFIX: &str = "TEST_";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(String),
    /// A key is unknown, a value has the wrong type or cannot be parsed.
    #[error("configuration: {0}")]
    Parse(String),
    /// A value parses but is impossible.
    #[error("configuration: {key} = {value}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, value: impl ToString, reason: &str) -> Self {
        Self::Invalid {
            key: key.into(),
            value: value.to_string(),
            reason: reason.to_owned(),
        }
    }
}

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        // figment's own message names the key path and the source (file or environment); each
        // nested error of an aggregate gets its own line.
        let lines: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        ConfigError::Parse(lines.join("\n  "))
    }
}

/// Where the configuration comes from: an explicit file must exist, the default one may not.
pub fn figment(explicit: Option<&Path>) -> Result<Figment, ConfigError> {
    let file = match explicit {
        Some(path) if !path.exists() => {
            return Err(ConfigError::MissingFile(path.display().to_string()));
        }
        Some(path) => Toml::file_exact(path),
        None => Toml::file(DEFAULT_FILE),
    };
    Ok(Figment::from(Serialized::defaults(Config::default()))
        .merge(file)
        .merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| {
                    !key.as_str()
                        .get(..NOT_CONFIG_PREFIX.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(NOT_CONFIG_PREFIX))
                })
                .split("__"),
        ))
}

/// Loads and validates the configuration.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    from_figment(&figment(explicit)?)
}

/// Extracts and validates a configuration from any figment (tests build their own).
pub fn from_figment(figment: &Figment) -> Result<Config, ConfigError> {
    let config: Config = figment.extract()?;
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod fuzz;
// figment::Jail's closures return its large error type; that is its API, not ours.
#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests;
