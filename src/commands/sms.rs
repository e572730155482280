//! `simrotor sms`: what the SMS forwarder apps posted — the last SMS per intake, matched or not
//! and why not — and the channels that tell which number sits behind a device's slot.
//!
//! - `simrotor sms`: the running runtime's intakes (open or closed, with which proof), the
//!   declared channels, who waits for a code (and for a turn), and the last SMS;
//! - `simrotor sms channels`: the declared channels (configuration and database);
//! - `simrotor sms channel DEVICE --slot 1 NUMBER`: declares one, in the database; a running
//!   runtime reads it at once;
//! - `simrotor sms forget DEVICE --slot 1`: forgets one.

use std::process::ExitCode;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use simrotor_config::Config;
use simrotor_domain::Msisdn;

use super::open_store;
use crate::admin_client::{AdminClient, AdminError};
use crate::cli::{Format, SmsCommand};
use crate::output::{self, Rows};

#[derive(Debug, Deserialize, Serialize)]
struct Intake {
    app: String,
    path: String,
    open: bool,
    proof: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct Channel {
    device: String,
    slot: Option<String>,
    number: String,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Record {
    at: chrono::DateTime<chrono::Utc>,
    intake: String,
    receiving: Option<String>,
    device: Option<String>,
    slot: Option<String>,
    sender: Option<String>,
    outcome: String,
    server: Option<u16>,
    msisdn: Option<String>,
    matched_by: Option<String>,
    why_not: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct View {
    turns: bool,
    intakes: Vec<Intake>,
    channels: Vec<Channel>,
    recent: Vec<Record>,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Recent(Vec<Record>);

impl Rows for Recent {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "received", "intake", "SIM", "outcome", "server", "number", "by", "why not",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|r| {
                let sim = match (&r.receiving, &r.device, &r.slot) {
                    (Some(number), _, _) => number.clone(),
                    (None, Some(device), Some(slot)) => format!("{device} slot {slot}"),
                    (None, Some(device), None) => device.clone(),
                    (None, None, _) => "(not named)".to_owned(),
                };
                vec![
                    r.at.format("%H:%M:%S").to_string(),
                    r.intake.clone(),
                    sim,
                    r.outcome.clone(),
                    r.server.map(|p| p.to_string()).unwrap_or_default(),
                    r.msisdn.clone().unwrap_or_default(),
                    r.matched_by.clone().unwrap_or_default(),
                    r.why_not.clone().unwrap_or_default(),
                ]
            })
            .collect()
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct Channels(Vec<Channel>);

impl Rows for Channels {
    fn header(&self) -> Vec<&'static str> {
        vec!["device", "slot", "number", "declared by"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|c| {
                vec![
                    c.device.clone(),
                    c.slot.clone().unwrap_or_else(|| "(all)".to_owned()),
                    c.number.clone(),
                    c.source.clone().unwrap_or_default(),
                ]
            })
            .collect()
    }
}

pub async fn run(
    config: &Config,
    client: &AdminClient,
    command: Option<SmsCommand>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    match command {
        None => recent(config, client, format).await,
        Some(SmsCommand::Channels) => {
            output::print(format, &Channels(declared(config).await?))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(SmsCommand::Channel {
            device,
            slot,
            number,
        }) => {
            // The slot as the apps' decoders name it (`sim1`, `SIM1`, `01` → `1`).
            let slot = simrotor_sms::phone_slot(slot.as_deref());
            let number = Msisdn::parse(&number).context("NUMBER")?;
            let store = open_store(config).await?;
            store
                .declare_sms_channel(&device, slot.as_deref(), &number, "operator")
                .await?;
            store.close().await?;
            tracing::info!(device = %device, slot = slot.as_deref(), msisdn = %number, "The operator declared an SMS channel.");
            println!(
                "Declared: SMS from {device}{} are for {number}.",
                slot.as_deref()
                    .map_or_else(|| " (every slot)".to_owned(), |s| format!(" slot {s}"))
            );
            reload(client).await;
            Ok(ExitCode::SUCCESS)
        }
        Some(SmsCommand::Forget { device, slot }) => {
            let slot = simrotor_sms::phone_slot(slot.as_deref());
            let store = open_store(config).await?;
            let gone = store.forget_sms_channel(&device, slot.as_deref()).await?;
            store.close().await?;
            if !gone {
                eprintln!(
                    "No channel {device}{} in the database (channels in config.toml stay until removed there).",
                    slot.as_deref()
                        .map_or_else(String::new, |s| format!(" slot {s}"))
                );
                return Ok(ExitCode::FAILURE);
            }
            tracing::info!(device = %device, slot = slot.as_deref(), "The operator forgot an SMS channel.");
            println!("Forgot the channel.");
            reload(client).await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Tells a running runtime to read the channels again; nothing to do when none runs.
async fn reload(client: &AdminClient) {
    match client.poke("/api/sms/channels/reload").await {
        Ok(()) => println!("The running runtime uses it from now on."),
        Err(AdminError::NotRunning { .. }) => {
            println!("No runtime runs now: the next one reads it at start.")
        }
        Err(e) => eprintln!("warning: could not tell the running runtime: {e}"),
    }
}

/// The configuration's channels and the database's.
async fn declared(config: &Config) -> anyhow::Result<Vec<Channel>> {
    let mut all: Vec<Channel> = config
        .sms
        .channels
        .iter()
        .map(|c| Channel {
            device: c.device.clone(),
            slot: c.slot.clone(),
            number: c.number.to_string(),
            source: Some("config.toml".to_owned()),
        })
        .collect();
    let store = open_store(config).await?;
    let stored = store.sms_channels().await?;
    store.close().await?;
    all.extend(stored.into_iter().map(|c| Channel {
        device: c.device,
        slot: c.slot,
        number: c.msisdn.to_string(),
        source: Some(c.source),
    }));
    Ok(all)
}

async fn recent(config: &Config, client: &AdminClient, format: Format) -> anyhow::Result<ExitCode> {
    let view = match client.get::<View>("/api/sms").await {
        Ok(view) => view,
        Err(AdminError::NotRunning { addr }) => {
            eprintln!(
                "No runtime answers at {addr}: no SMS to show. The declared channels (`simrotor sms channels`):"
            );
            output::print(format, &Channels(declared(config).await?))?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    if matches!(format, Format::Json) {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(ExitCode::SUCCESS);
    }
    let open: Vec<String> = view
        .intakes
        .iter()
        .filter(|i| i.open)
        .map(|i| format!("{} ({} proof)", i.path, i.proof))
        .collect();
    if open.is_empty() {
        println!("Intakes open: none but POST /sms (open one with [sms.<app>] in config.toml).");
    } else {
        println!("Intakes open: POST /sms, {}.", open.join(", "));
    }
    println!(
        "SMS that name no SIM: {}; {} declared channel(s).",
        if view.turns {
            "one binding at a time (turns)"
        } else {
            "not used (turns off, or no app intake open)"
        },
        view.channels.len()
    );
    if view.recent.is_empty() {
        println!("No SMS came since the runtime started.");
    } else {
        output::print(format, &Recent(view.recent))?;
    }
    Ok(ExitCode::SUCCESS)
}
