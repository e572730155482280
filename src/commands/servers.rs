//! `simrotor servers`: each configured server, its state, and the number it holds now.

use std::process::ExitCode;

use serde::Serialize;
use simrotor_config::Config;
use simrotor_domain::Rupiah;

use super::{open_store, server_seeds};
use crate::cli::Format;
use crate::output::{self, Rows};

#[derive(Serialize)]
struct ServerView {
    port: u16,
    base_url: String,
    enabled: bool,
    state: String,
    device_id: Option<String>,
    msisdn: Option<String>,
    binding_state: Option<String>,
    pulsa: Option<Rupiah>,
    purchases: usize,
    waits_for_otp: bool,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Servers(Vec<ServerView>);

impl Rows for Servers {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "port",
            "enabled",
            "state",
            "device",
            "number",
            "binding",
            "pulsa",
            "purchases",
            "OTP?",
        ]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|s| {
                vec![
                    s.port.to_string(),
                    if s.enabled { "yes" } else { "no" }.to_owned(),
                    s.state.clone(),
                    s.device_id.clone().unwrap_or_default(),
                    s.msisdn.clone().unwrap_or_default(),
                    s.binding_state.clone().unwrap_or_default(),
                    s.pulsa.map(|p| p.to_string()).unwrap_or_default(),
                    s.purchases.to_string(),
                    if s.waits_for_otp { "WAITING" } else { "" }.to_owned(),
                ]
            })
            .collect()
    }
}

pub async fn run(config: &Config, format: Format) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let servers = store.sync_servers(&server_seeds(config)?).await?;
    let mut views = Vec::with_capacity(servers.len());
    for s in servers {
        let binding = store.open_binding_of_server(s.id).await?;
        let (mut pulsa, mut purchases) = (None, 0);
        if let Some(b) = &binding {
            pulsa = store
                .binding_row(b.id)
                .await?
                .and_then(|row| row.balance_last)
                .and_then(|p| Rupiah::from_i64(p).ok());
            purchases = store.purchases_of_binding(b.id).await?.len();
        }
        views.push(ServerView {
            port: s.port,
            base_url: s.base_url,
            enabled: s.enabled,
            state: s.state.to_string(),
            device_id: s.device_id,
            msisdn: binding.as_ref().map(|b| b.account.msisdn.to_string()),
            binding_state: binding.as_ref().map(|b| b.state().to_string()),
            waits_for_otp: binding.as_ref().is_some_and(|b| b.state().waits_for_otp()),
            pulsa,
            purchases,
        });
    }
    // Servers waiting for an OTP first: they are the ones the operator must act on.
    views.sort_by_key(|v| (!v.waits_for_otp, v.port));
    output::print(format, &Servers(views))?;
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
