//! `simrotor answers`: the servers' answers the parser could not use (and refusals no rule
//! knows), as the runtime kept them — with the call, the server, the binding or purchase and
//! the parse error — so that a real shape nobody predicted becomes a fixture in minutes. Bodies
//! were masked when kept (tokens, OTPs, PINs).

use std::process::ExitCode;

use serde::Serialize;
use simrotor_config::Config;
use simrotor_persistence::{AnswerFilter, UnusableAnswer};
use simrotor_slot::Call;

use super::open_store;
use crate::cli::Format;
use crate::output::{self, Rows};

#[derive(Serialize)]
#[serde(transparent)]
struct Answers(Vec<UnusableAnswer>);

impl Rows for Answers {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "id", "when", "server", "call", "binding", "purchase", "kind", "error", "body",
        ]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        self.0
            .iter()
            .map(|a| {
                vec![
                    a.id.to_string(),
                    a.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    a.port.map(|p| p.to_string()).unwrap_or_default(),
                    a.call.clone(),
                    opt(a.binding_id),
                    opt(a.transaction_id),
                    a.kind.name().to_owned(),
                    a.error.clone(),
                    a.body.clone().unwrap_or_default(),
                ]
            })
            .collect()
    }
}

pub async fn run(
    config: &Config,
    call: Option<String>,
    since: Option<String>,
    limit: u64,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let call = match call.as_deref() {
        None => None,
        Some(name) => match Call::from_name(name) {
            Some(call) => Some(call.name().to_owned()),
            None => anyhow::bail!("--call {name:?} is not a slot call; {}", calls_named()),
        },
    };
    let since = since
        .as_deref()
        .map(simrotor_auditlog::parse_since)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let store = open_store(config).await?;
    let rows = store
        .unusable_answers(&AnswerFilter {
            call,
            since,
            limit: Some(limit),
        })
        .await?;
    if rows.is_empty() && format == Format::Table {
        println!("No unusable answers kept: every answer so far was read.");
    } else {
        output::print(format, &Answers(rows))?;
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}

/// "one of otp, verifyOtp, …": for errors naming a call.
pub fn calls_named() -> String {
    let names: Vec<&str> = Call::ALL.iter().map(|c| c.name()).collect();
    format!("one of {}", names.join(", "))
}
