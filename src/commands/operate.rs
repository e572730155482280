//! The operator's hands on the running runtime: pause, resume, drain, enable and disable a
//! server; list and resolve suspect purchases. Every action goes through the admin API, which
//! writes who and why to the audit trail.

use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use serde_json::json;
use simrotor_config::Config;
use simrotor_persistence::Suspect;

use super::open_store;
use crate::admin_client::{AdminClient, AdminError};
use crate::cli::{Format, ServerAction};
use crate::output::{self, Rows};

/// The part of the admin API's ServerView this verb prints.
#[derive(Debug, Deserialize)]
struct ServerAfter {
    port: u16,
    state: String,
    mode: String,
    msisdn: Option<String>,
}

fn who(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .filter(|w| !w.trim().is_empty())
        .unwrap_or_else(|| "operator".to_owned())
}

pub async fn server(
    client: &AdminClient,
    action: &str,
    args: ServerAction,
) -> anyhow::Result<ExitCode> {
    let body = json!({ "who": who(args.who), "why": args.why.unwrap_or_default() });
    let after: ServerAfter = client
        .post(&format!("/api/servers/{}/{action}", args.port), &body)
        .await?;
    let holding = after
        .msisdn
        .map(|m| format!(", holding {m}"))
        .unwrap_or_default();
    let when = match action {
        "pause" | "drain" | "disable" => " (takes effect at its next step boundary)",
        _ => "",
    };
    println!(
        "Server {}: {action} accepted{when}; now {} (mode {}){holding}.",
        after.port, after.state, after.mode
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
#[serde(transparent)]
struct Suspects(Vec<Suspect>);

impl Rows for Suspects {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "id",
            "server",
            "number",
            "batch",
            "trx",
            "product",
            "price",
            "pulsa before",
            "pulsa after",
            "when",
            "note",
            "resolved",
        ]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|s| {
                vec![
                    s.id.to_string(),
                    s.server.map(|p| p.to_string()).unwrap_or_default(),
                    s.msisdn.clone(),
                    s.batch.clone(),
                    s.trx_id.clone().unwrap_or_default(),
                    s.product.clone(),
                    s.price.to_string(),
                    s.pulsa_awal.to_string(),
                    s.pulsa_akhir.map(|p| p.to_string()).unwrap_or_default(),
                    s.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    s.note.clone().unwrap_or_default(),
                    match (&s.resolved_by, &s.resolution) {
                        (Some(by), Some(why)) => format!("{by}: {why}"),
                        _ => String::new(),
                    },
                ]
            })
            .collect()
    }
}

/// Asks the runtime; with none running, reads the database (a list changes nothing).
pub async fn suspects(
    config: &Config,
    client: &AdminClient,
    all: bool,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let path = if all {
        "/api/suspects?all=true"
    } else {
        "/api/suspects"
    };
    let list: Vec<Suspect> = match client.get::<Vec<Suspect>>(path).await {
        Ok(list) => list,
        Err(AdminError::NotRunning { addr }) => {
            eprintln!("No runtime answers at {addr}; reading the database.");
            let store = open_store(config).await?;
            let list = store.suspects(all).await?;
            store.close().await?;
            list
        }
        Err(e) => return Err(e.into()),
    };
    if list.is_empty() && format == Format::Table {
        println!(
            "{}",
            if all {
                "No suspect purchases."
            } else {
                "No unresolved suspect purchases."
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    output::print(format, &Suspects(list))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn resolve(
    client: &AdminClient,
    id: i64,
    who: &str,
    why: &str,
) -> anyhow::Result<ExitCode> {
    let s: Suspect = client
        .post(
            &format!("/api/suspects/{id}/resolve"),
            &json!({ "who": who, "why": why }),
        )
        .await?;
    println!(
        "Resolved suspect purchase {} ({} {} for {}), by {who}: {why}.",
        s.id, s.msisdn, s.product, s.price
    );
    Ok(ExitCode::SUCCESS)
}
