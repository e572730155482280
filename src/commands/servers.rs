//! `simrotor servers`: each server, its state, the number it holds, its pulsa and purchases, and
//! which wait for an OTP (first: they are the ones the operator must act on). The running
//! runtime answers (it knows the waits and the operator's modes); with none running, the
//! database's last record is shown, and said to be so.

use std::process::ExitCode;

use serde::Serialize;
use simrotor_config::Config;
use simrotor_runtime::http::{ServerView, server_views};

use super::{open_store, server_seeds};
use crate::admin_client::{AdminClient, AdminError};
use crate::cli::Format;
use crate::output::{self, Rows};

#[derive(Serialize)]
#[serde(transparent)]
struct Servers(Vec<ServerView>);

fn age(since: Option<chrono::DateTime<chrono::Utc>>) -> String {
    since
        .map(|t| {
            let secs = (chrono::Utc::now() - t).num_seconds().max(0) as u64;
            humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
        })
        .unwrap_or_default()
}

impl Rows for Servers {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "port",
            "state",
            "mode",
            "number",
            "batch",
            "binding",
            "pulsa",
            "purchases",
            "step age",
            "OTP?",
            "owner",
        ]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|s| {
                vec![
                    s.port.to_string(),
                    match &s.state_reason {
                        Some(r) if s.state == "FAULTED" => format!("FAULTED: {r}"),
                        _ => s.state.clone(),
                    },
                    s.mode.clone(),
                    s.msisdn.clone().unwrap_or_default(),
                    s.batch.clone().unwrap_or_default(),
                    s.binding_state.clone().unwrap_or_default(),
                    s.pulsa.map(|p| p.to_string()).unwrap_or_default(),
                    s.purchases.to_string(),
                    age(s.step_since),
                    match (&s.waiting_otp_since, &s.otp_purpose) {
                        (Some(since), purpose) if s.otp_turn.as_deref() == Some("queued") => {
                            format!(
                                "QUEUED for its {} turn, {} ahead ({})",
                                purpose.as_deref().unwrap_or("login"),
                                s.otp_ahead.unwrap_or(0),
                                age(Some(*since))
                            )
                        }
                        (Some(since), purpose) => format!(
                            "WAITING {} ({})",
                            purpose.as_deref().unwrap_or("login"),
                            age(Some(*since))
                        ),
                        _ => String::new(),
                    },
                    match (&s.owner, s.lease_expires_in_ms) {
                        (Some(owner), Some(left)) if left < 0 => format!("{owner} (lease expired)"),
                        (Some(owner), _) => owner.clone(),
                        (None, _) => String::new(),
                    },
                ]
            })
            .collect()
    }
}

pub async fn run(
    config: &Config,
    client: &AdminClient,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let views = match client.get::<Vec<ServerView>>("/api/servers").await {
        Ok(views) => views,
        Err(AdminError::NotRunning { addr }) => {
            eprintln!(
                "No runtime answers at {addr}; showing the servers as the database last recorded them."
            );
            let store = open_store(config).await?;
            store.sync_servers(&server_seeds(config)?).await?;
            let rows = store.server_overview().await?;
            store.close().await?;
            let mut views = server_views(rows, &[], &[]);
            for v in &mut views {
                v.mode = "not running".to_owned();
            }
            views
        }
        Err(e) => return Err(e.into()),
    };
    output::print(format, &Servers(views))?;
    Ok(ExitCode::SUCCESS)
}
