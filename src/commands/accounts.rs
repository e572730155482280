//! `simrotor accounts`: the numbers in the pool and where each one is.

use std::process::ExitCode;

use serde::Serialize;
use simrotor_config::Config;
use simrotor_domain::{AccountState, BatchId};
use simrotor_persistence::{AccountFilter, AccountRow};

use super::open_store;
use crate::cli::Format;
use crate::output::{self, Rows};

#[derive(Serialize)]
#[serde(transparent)]
struct Accounts(Vec<AccountRow>);

impl Rows for Accounts {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "id",
            "msisdn",
            "email",
            "batch",
            "status",
            "reseller",
            "attempts",
            "server",
            "last error",
        ]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|a| {
                vec![
                    a.id.to_string(),
                    a.msisdn.to_string(),
                    a.email.to_string(),
                    a.batch_id.to_string(),
                    a.status.to_string(),
                    a.is_reseller
                        .map(|r| if r { "yes" } else { "no" })
                        .unwrap_or("?")
                        .to_owned(),
                    a.attempts.to_string(),
                    a.leased_server_id
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    a.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect()
    }
}

pub async fn run(
    config: &Config,
    batch: Option<BatchId>,
    status: Option<AccountState>,
    limit: u64,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let rows = store
        .accounts(&AccountFilter {
            batch,
            status,
            limit: Some(limit),
        })
        .await?;
    if rows.is_empty() && format == Format::Table {
        println!("No accounts match.");
    } else {
        output::print(format, &Accounts(rows))?;
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
