//! `simrotor vouchers`: the vouchers the operator sells, one row per purchase, as a table on a
//! terminal, CSV for the spreadsheet or JSON; with the count and total price on the side.
//!
//! The export walks the database in pages (one page in memory, whatever the range), and a file
//! named by `--output` is written beside itself and renamed into place at the end: an export
//! that fails half-way never leaves half a file under the name.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use simrotor_config::Config;
use simrotor_persistence::{VoucherFilter, VoucherRow, VoucherStatus, VoucherSummary, local_time};

use super::open_store;
use crate::cli::{Format, VoucherArgs};

/// Rows read per query.
const PAGE: u64 = 10_000;

impl VoucherArgs {
    fn filter(&self) -> anyhow::Result<VoucherFilter> {
        let when = |flag: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(|v| simrotor_auditlog::parse_when(flag, v))
                .transpose()
        };
        let filter = VoucherFilter {
            batch: self.batch.clone(),
            since: when("--since", &self.since)?,
            until: when("--until", &self.until)?,
            status: self.status,
        };
        filter
            .validate()
            .map_err(|e| anyhow::anyhow!("--until: {e}"))?;
        Ok(filter)
    }
}

/// Where the rows go, in the format asked.
enum Sink<W: Write> {
    Csv(csv::Writer<W>),
    Json {
        out: W,
        first: bool,
    },
    /// A table is written whole at the end, with the summary as its last line.
    Table {
        out: W,
        table: Table,
    },
}

impl<W: Write> Sink<W> {
    fn new(format: Format, mut out: W) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(VoucherRow::HEADER)?;
                Sink::Csv(w)
            }
            Format::Json => {
                out.write_all(b"[")?;
                Sink::Json { out, first: true }
            }
            Format::Table => {
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
                    "id", "time", "voucher", "product", "price", "number", "server", "trx id",
                    "pulsa", "status",
                ]);
                Sink::Table { out, table }
            }
        })
    }

    fn row(&mut self, row: &VoucherRow) -> anyhow::Result<()> {
        match self {
            Sink::Csv(w) => w.write_record(row.record())?,
            Sink::Json { out, first } => {
                out.write_all(if *first { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut *out, row)?;
                *first = false;
            }
            Sink::Table { table, .. } => {
                let mut status = row.status.name().to_owned();
                if row.resolved_by.is_some() {
                    status.push_str(" (resolved)");
                }
                let product = match &row.product_name {
                    Some(name) => format!("{} {name}", row.product_id),
                    None => row.product_id.clone(),
                };
                let after = row.pulsa_after.map_or("?".to_owned(), |p| p.to_string());
                table.add_row(vec![
                    row.id.to_string(),
                    local_time(row.time),
                    row.voucher.clone().unwrap_or_default(),
                    product,
                    row.price.to_string(),
                    row.msisdn.clone(),
                    row.server.map(|p| p.to_string()).unwrap_or_default(),
                    row.trx_id.clone().unwrap_or_default(),
                    format!("{} → {after}", row.pulsa_before),
                    status,
                ]);
            }
        }
        Ok(())
    }

    /// Ends the output. Whether the summary is in it (a table's last line).
    fn finish(self, summary: &VoucherSummary, what: &str) -> anyhow::Result<bool> {
        Ok(match self {
            Sink::Csv(w) => {
                w.into_inner().map_err(|e| e.into_error())?.flush()?;
                false
            }
            Sink::Json { mut out, first } => {
                out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
                out.flush()?;
                false
            }
            Sink::Table { mut out, table } => {
                if summary.count > 0 {
                    writeln!(out, "{table}")?;
                }
                writeln!(out, "{}", summary_line(summary, what))?;
                out.flush()?;
                true
            }
        })
    }
}

fn summary_line(summary: &VoucherSummary, what: &str) -> String {
    format!(
        "{} {what}, total price {}.",
        summary.count, summary.total_price
    )
}

fn what(status: VoucherStatus) -> &'static str {
    match status {
        VoucherStatus::Sukses => "vouchers",
        VoucherStatus::Suspect => "suspect purchases",
        VoucherStatus::All => "purchases",
    }
}

/// Writes the export to `out`: its summary, and whether the output already holds it.
async fn export<W: Write>(
    store: &simrotor_persistence::Store,
    filter: &VoucherFilter,
    format: Format,
    out: W,
) -> anyhow::Result<(VoucherSummary, bool)> {
    let mut sink = Sink::new(format, out)?;
    let mut summary = VoucherSummary::default();
    let mut cursor = None;
    loop {
        let page = store.voucher_page(filter, cursor, PAGE).await?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        for row in &page {
            sink.row(row)?;
            summary.add(row);
        }
    }
    let shown = sink.finish(&summary, what(filter.status))?;
    Ok((summary, shown))
}

fn temp_beside(path: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write beside {}", path.display()))
}

pub async fn run(config: &Config, args: VoucherArgs) -> anyhow::Result<ExitCode> {
    let filter = args.filter()?;
    let store = open_store(config).await?;
    let what = what(filter.status);
    match &args.output {
        Some(path) => {
            let cannot = || format!("cannot write {}", path.display());
            let file = temp_beside(path)?;
            let (summary, _) = export(&store, &filter, args.format, std::io::BufWriter::new(&file))
                .await
                .with_context(cannot)?;
            file.as_file().sync_all().with_context(cannot)?;
            file.persist(path).with_context(cannot)?;
            eprintln!(
                "{} Written to {}.",
                summary_line(&summary, what),
                path.display()
            );
        }
        None => match export(&store, &filter, args.format, std::io::stdout().lock()).await {
            Ok((_, true)) => {}
            Ok((summary, false)) => eprintln!("{}", summary_line(&summary, what)),
            Err(e) if is_closed_pipe(&e) => {}
            Err(e) => return Err(e),
        },
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}

fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(|e| {
                matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}
