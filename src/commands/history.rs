//! `simrotor history MSISDN`: the one place to look when a customer asks about a number — its
//! account, each binding in order (server, the states it went through and when, why it ended,
//! its pulsa), each purchase, and the suspects with their resolution.

use std::fmt::Write as _;
use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use simrotor_config::Config;
use simrotor_domain::Msisdn;
use simrotor_persistence::{BindingHistory, NumberHistory, VoucherRow, local_time};

use super::open_store;
use crate::cli::Format;

fn money(m: Option<simrotor_domain::Rupiah>) -> String {
    m.map_or("?".to_owned(), |m| m.to_string())
}

/// `HH:MM:SS` when on the binding's first day, else the whole local time.
fn clock(at: chrono::DateTime<chrono::Utc>, day_of: chrono::DateTime<chrono::Utc>) -> String {
    let (at, day) = (
        at.with_timezone(&chrono::Local),
        day_of.with_timezone(&chrono::Local),
    );
    if at.date_naive() == day.date_naive() {
        at.format("%H:%M:%S%.3f").to_string()
    } else {
        local_time(at.with_timezone(&chrono::Utc))
    }
}

fn purchases_table(rows: &[&VoucherRow]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "id", "time", "trx id", "product", "price", "pulsa", "status", "voucher",
    ]);
    for p in rows {
        let mut status = p.status.name().to_owned();
        if let Some(by) = &p.resolved_by {
            status.push_str(&format!(" (resolved by {by})"));
        }
        table.add_row(vec![
            p.id.to_string(),
            local_time(p.time),
            p.trx_id.clone().unwrap_or_default(),
            p.product_id.clone(),
            p.price.to_string(),
            format!("{} → {}", p.pulsa_before, money(p.pulsa_after)),
            status,
            p.voucher.clone().unwrap_or_default(),
        ]);
    }
    table
}

fn binding_text(out: &mut String, b: &BindingHistory) -> std::fmt::Result {
    let server = b.server.map_or("?".to_owned(), |p| p.to_string());
    let ended = match (&b.end_reason, b.ended_at) {
        (Some(reason), Some(at)) => format!("ended {} ({reason})", local_time(at)),
        _ => "open".to_owned(),
    };
    writeln!(
        out,
        "Binding {} on server {server}, opened {}, {ended}; pulsa {} → {}",
        b.id,
        local_time(b.opened_at),
        money(b.balance_start),
        money(b.balance_last),
    )?;
    let steps: Vec<String> = b
        .trail
        .iter()
        .map(|t| format!("{} {}", t.state, clock(t.at, b.opened_at)))
        .collect();
    writeln!(out, "  {}", steps.join(" → "))?;
    if b.purchases.is_empty() {
        writeln!(out, "  no purchases")?;
    } else {
        let rows: Vec<&VoucherRow> = b.purchases.iter().collect();
        for line in purchases_table(&rows).to_string().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// The history as the operator reads it.
pub fn render(h: &NumberHistory) -> String {
    let mut out = String::new();
    let reseller = match h.reseller {
        Some(true) => "a reseller",
        Some(false) => "not a reseller",
        None => "reseller not known yet",
    };
    let _ = writeln!(
        out,
        "Number {} — batch {}, {}, {reseller}, {} failed logins{}; imported {}.",
        h.msisdn,
        h.batch,
        h.status,
        h.attempts,
        h.last_error
            .as_deref()
            .map(|e| format!(", last ended {e}"))
            .unwrap_or_default(),
        local_time(h.imported_at)
    );
    if h.bindings.is_empty() {
        let _ = writeln!(out, "Never bound to a server.");
    }
    for b in &h.bindings {
        let _ = binding_text(&mut out, b);
    }
    let bought: Vec<&VoucherRow> = h.purchases().collect();
    let sukses: Vec<&&VoucherRow> = bought
        .iter()
        .filter(|p| p.status == simrotor_domain::TrxStatus::Success)
        .collect();
    let spent: simrotor_domain::Rupiah = sukses.iter().map(|p| p.price).sum();
    let _ = writeln!(
        out,
        "{} purchases, {} vouchers for {}.",
        bought.len(),
        sukses.len(),
        spent
    );
    if h.suspects.is_empty() {
        let _ = writeln!(out, "No suspects.");
    } else {
        let _ = writeln!(out, "Suspects:");
        for s in &h.suspects {
            let verdict = match (&s.resolved_by, s.resolved_at) {
                (Some(by), Some(at)) => format!(
                    "resolved by {by} at {}: {}",
                    local_time(at),
                    s.resolution.as_deref().unwrap_or_default()
                ),
                _ => "unresolved (simrotor resolve ID --who … --why …)".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {} trx {} {} at {}: {}; {verdict}",
                s.id,
                s.trx_id.as_deref().unwrap_or("?"),
                s.price,
                local_time(s.time),
                s.note.as_deref().unwrap_or("no note"),
            );
        }
    }
    out
}

pub async fn run(config: &Config, msisdn: Msisdn, format: Format) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let history = store.history(&msisdn).await?;
    store.close().await?;
    let Some(history) = history else {
        anyhow::bail!("{msisdn} was never imported into this database");
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&history)?),
        Format::Table => print!("{}", render(&history)),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record(VoucherRow::HEADER)?;
            for p in history.purchases() {
                w.write_record(p.record())?;
            }
            w.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
