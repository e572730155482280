//! Printing rows for people (tables) and for programs (JSON, CSV), the same way in every verb.
//! A closed pipe (`simrotor accounts | head`) ends the output quietly, as it does for `ls`.

use std::io::Write;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::cli::Format;

/// Something printable as rows: a header and string cells, plus its serde form for JSON.
pub trait Rows {
    fn header(&self) -> Vec<&'static str>;
    fn rows(&self) -> Vec<Vec<String>>;
}

pub fn print<T: Rows + Serialize>(format: Format, data: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written: std::io::Result<()> = match format {
        Format::Json => serde_json::to_string_pretty(data)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(out, "{json}")),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            let mut write_all = || -> csv::Result<()> {
                w.write_record(data.header())?;
                for row in data.rows() {
                    w.write_record(row)?;
                }
                w.flush()?;
                Ok(())
            };
            write_all().map_err(std::io::Error::from)
        }
        Format::Table => {
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_header(data.header());
            for row in data.rows() {
                table.add_row(row);
            }
            writeln!(out, "{table}")
        }
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
