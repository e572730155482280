//! `simrotor ledger-check --ledger URL`: the database held against what a simulator's servers
//! really did. The demo runs the same check; the chaos tests run this one between kills.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context as _;
use simrotor_config::Config;
use simrotor_domain::TrxStatus;
use simrotor_simulator::LedgerEntry;

use super::demo::{all_purchases, reconcile};
use super::open_store;

pub async fn run(config: &Config, ledger_url: &str) -> anyhow::Result<ExitCode> {
    let ledger: Vec<LedgerEntry> = reqwest::get(ledger_url)
        .await
        .with_context(|| format!("cannot read the ledger at {ledger_url}"))?
        .json()
        .await
        .context("the ledger is not the simulator's JSON")?;
    let store = open_store(config).await?;
    let (problems, rows) = check(&store, &ledger).await?;
    store.close().await?;
    if problems.is_empty() {
        println!(
            "Ledger reconciled: {} executed purchases, {} database rows.",
            ledger.len(),
            rows
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Ledger MISMATCH ({} problems):", problems.len());
        for p in &problems {
            println!("  {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// The ledger against the purchases, and every binding's pulsa: `balance_start` − Σ price of
/// executed purchases = last balance. Returns the problems and the number of purchase rows.
pub async fn check(
    store: &simrotor_persistence::Store,
    ledger: &[LedgerEntry],
) -> anyhow::Result<(Vec<String>, usize)> {
    let rows = all_purchases(store).await?;
    let mut problems = reconcile(ledger, &rows);
    let mut spent: HashMap<i64, u64> = HashMap::new();
    for r in rows
        .iter()
        .filter(|r| matches!(r.status, TrxStatus::Success | TrxStatus::Suspect))
    {
        *spent.entry(r.binding_id).or_default() += r.price.get();
    }
    // A binding whose latest executed purchase could not read the balance after it does not
    // know its last balance: the number's next binding's first balance is the evidence then.
    let mut latest: HashMap<i64, (i64, bool)> = HashMap::new();
    for r in rows
        .iter()
        .filter(|r| matches!(r.status, TrxStatus::Success | TrxStatus::Suspect))
    {
        let entry = latest.entry(r.binding_id).or_insert((r.id, false));
        if r.id >= entry.0 {
            *entry = (r.id, r.pulsa_akhir.is_none());
        }
    }
    let unread_after: HashMap<i64, bool> = latest
        .into_iter()
        .map(|(b, (_, unread))| (b, unread))
        .collect();
    let bindings = store.binding_rows().await?;
    // Each binding's successor on the same number, in one pass (rows come in id order).
    let mut next_start: HashMap<i64, Option<i64>> = HashMap::new();
    let mut latest_of_account: HashMap<i64, i64> = HashMap::new();
    let mut ordered: Vec<_> = bindings.iter().collect();
    ordered.sort_by_key(|b| b.id);
    for b in ordered {
        if let Some(previous) = latest_of_account.insert(b.account_id, b.id) {
            next_start.insert(previous, b.balance_start);
        }
    }
    for b in &bindings {
        if let (Some(start), Some(last)) = (b.balance_start, b.balance_last) {
            let spent = spent.get(&b.id).copied().unwrap_or(0);
            let last = if unread_after.get(&b.id).copied().unwrap_or(false) {
                match next_start.get(&b.id).copied().flatten() {
                    Some(next) => next,
                    // Nothing read since: nothing to hold the binding against.
                    None => continue,
                }
            } else {
                last
            };
            if u64::try_from(start).unwrap_or(0).checked_sub(spent) != u64::try_from(last).ok() {
                problems.push(format!(
                    "binding {} does not add up: start {start} − spent {spent} ≠ last {last}",
                    b.id
                ));
            }
        }
    }
    Ok((problems, rows.len()))
}
