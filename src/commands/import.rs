//! `simrotor import FILE --batch ID`: a batch of numbers into the pool, with a progress bar on a
//! terminal and a report of what was accepted, already there, and rejected (and why).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use simrotor_config::Config;
use simrotor_domain::{BatchId, Pin};
use simrotor_persistence::import::{ImportOptions, import_csv};

use super::open_store;
use crate::admin_client::{AdminClient, AdminError};

/// `FILE.rejected.csv` beside the file.
fn rejected_path(file: &Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".rejected.csv");
    name.into()
}

pub async fn run(
    config: &Config,
    file: &Path,
    batch: BatchId,
    pin: Option<String>,
    client: &AdminClient,
) -> anyhow::Result<ExitCode> {
    let default_pin = pin
        .map(|p| Pin::parse(&p).map_err(|e| anyhow::anyhow!("--pin: {e}")))
        .transpose()?;
    let reader =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = reader.metadata().map(|m| m.len()).unwrap_or(0);
    let store = open_store(config).await?;

    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} importing [{bar:40}] {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let opts = ImportOptions {
        batch: batch.clone(),
        default_pin,
        source_name: file.display().to_string(),
        rejected_path: Some(rejected_path(file)),
    };
    let report = import_csv(&store, std::io::BufReader::new(reader), opts, |bytes| {
        bar.set_position(bytes)
    })
    .await;
    bar.finish_and_clear();
    let report = report?;

    println!("Imported {} into batch {batch}:", file.display());
    println!("  rows read        {:>9}", report.rows);
    println!("  accepted         {:>9}", report.accepted);
    println!("  already present  {:>9}", report.already_present);
    println!("  rejected         {:>9}", report.rejected);
    if let Some(path) = &report.rejected_file {
        println!(
            "Rejected rows, with line and reason, are in {}.",
            path.display()
        );
        for r in &report.sample_rejected {
            println!("  line {}: {}", r.line, r.reason);
        }
        if report.rejected as usize > report.sample_rejected.len() {
            println!(
                "  … and {} more in the file.",
                report.rejected as usize - report.sample_rejected.len()
            );
        }
    }
    tracing::info!(batch = %batch, accepted = report.accepted, already_present = report.already_present, rejected = report.rejected, "Imported a batch of numbers.");
    store.close().await?;
    if report.accepted > 0 {
        // A running runtime's idle servers wait for numbers: wake them now rather than never.
        match client.poke("/pool/refilled").await {
            Ok(()) => println!("Told the running runtime: its idle servers take the new numbers."),
            Err(AdminError::NotRunning { .. }) => {}
            Err(e) => {
                eprintln!("warning: could not tell the running runtime about the new numbers: {e}")
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
