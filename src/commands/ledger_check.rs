//! `simrotor ledger-check --ledger URL`: the database held against what a simulator's servers
//! really did, by the simulator's one [`reconcile`]. The demo runs the same check; the chaos
//! tests run this one between kills.

use std::process::ExitCode;

use anyhow::Context as _;
use simrotor_config::Config;
use simrotor_persistence::Store;
use simrotor_simulator::{LedgerEntry, Reconciliation, reconcile};

use super::open_store;

pub async fn run(config: &Config, ledger_url: &str) -> anyhow::Result<ExitCode> {
    let ledger: Vec<LedgerEntry> = reqwest::get(ledger_url)
        .await
        .with_context(|| format!("cannot read the ledger at {ledger_url}"))?
        .json()
        .await
        .context("the ledger is not the simulator's JSON")?;
    let store = open_store(config).await?;
    let report = check(&store, &ledger).await?;
    store.close().await?;
    Ok(print(&report, || {
        format!(
            "Ledger reconciled: {} executed purchases, {} database rows.",
            report.executed, report.rows
        )
    }))
}

/// The ledger against every purchase row and every binding of the store.
pub async fn check(store: &Store, ledger: &[LedgerEntry]) -> anyhow::Result<Reconciliation> {
    Ok(reconcile(ledger, &store.books().await?))
}

/// Prints `reconciled()` when the books are right, each discrepancy otherwise; the exit code.
pub fn print(report: &Reconciliation, reconciled: impl FnOnce() -> String) -> ExitCode {
    if report.is_reconciled() {
        println!("{}", reconciled());
        return ExitCode::SUCCESS;
    }
    println!("Ledger MISMATCH ({} problems):", report.discrepancies.len());
    for d in &report.discrepancies {
        println!("  {d}");
    }
    ExitCode::FAILURE
}
