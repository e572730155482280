//! `simrotor recap`: per batch and in total, computed now from bindings and transactions.

use std::process::ExitCode;

use serde::Serialize;
use simrotor_config::Config;
use simrotor_domain::BatchId;
use simrotor_persistence::{BatchRecap, Recap};

use super::open_store;
use crate::cli::Format;
use crate::output::{self, Rows};

#[derive(Serialize)]
#[serde(transparent)]
pub struct RecapView(pub Recap);

fn row(r: &BatchRecap) -> Vec<String> {
    let n = &r.numbers;
    let p = &r.pulsa;
    let t = &r.transactions;
    vec![
        r.batch_id.clone(),
        n.total.to_string(),
        n.available.to_string(),
        n.in_use.to_string(),
        n.waiting_otp.to_string(),
        n.done.to_string(),
        n.non_reseller.to_string(),
        n.blocked.to_string(),
        n.failed.to_string(),
        p.start.get().to_string(),
        p.spent.get().to_string(),
        p.suspect.get().to_string(),
        p.left.get().to_string(),
        t.total.to_string(),
        t.success.to_string(),
        t.suspect.to_string(),
        t.failed.to_string(),
        t.processing.to_string(),
    ]
}

impl Rows for RecapView {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "batch",
            "numbers",
            "available",
            "in use",
            "waiting OTP",
            "done",
            "non-reseller",
            "blocked",
            "failed",
            "pulsa start",
            "pulsa spent",
            "pulsa suspect",
            "pulsa left",
            "trx",
            "sukses",
            "suspect",
            "gagal",
            "processing",
        ]
    }
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<_> = self.0.batches.iter().map(row).collect();
        rows.push(row(&self.0.total));
        rows
    }
}

pub async fn run(
    config: &Config,
    batch: Option<BatchId>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let store = open_store(config).await?;
    let recap = store.recap(batch.as_ref()).await?;
    output::print(format, &RecapView(recap))?;
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}
