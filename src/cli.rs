//! The command line, as clap types: every verb, flag and its help text in one place.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use simrotor_config::{ForwardAs, ForwarderSecret};
use simrotor_domain::{AccountState, BatchId, Msisdn};
use simrotor_persistence::VoucherStatus;

#[derive(Debug, Parser)]
#[command(
    name = "simrotor",
    version,
    about = "Turns the pulsa of many numbers into vouchers on a fixed pool of resource servers."
)]
pub struct Cli {
    /// The configuration file (default: ./config.toml when present, else built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The running runtime's admin API, HOST:PORT (default: admin.listen of the configuration).
    #[arg(long, global = true, alias = "control", value_name = "HOST:PORT")]
    pub admin: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates or upgrades the database schema and syncs the servers from the configuration.
    Migrate {
        /// Roll every migration back instead (drops all tables and their data).
        #[arg(long)]
        down: bool,
    },
    /// Imports a batch of numbers from a CSV file: msisdn,email[,pin], header optional.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The batch the numbers belong to (letters, digits, '.', '_', '-').
        #[arg(long, value_parser = parse_batch)]
        batch: BatchId,
        /// The PIN for rows without one (else login.default_pin is used at login).
        #[arg(long, value_name = "PIN")]
        pin: Option<String>,
    },
    /// Lists accounts.
    Accounts {
        #[arg(long, value_parser = parse_batch)]
        batch: Option<BatchId>,
        /// AVAILABLE, LEASED, DONE, NON_RESELLER, BLOCKED or FAILED.
        #[arg(long, value_parser = parse_status)]
        status: Option<AccountState>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Lists the resource servers: state, the number each holds, its pulsa, purchases, and which
    /// wait for an OTP (first). Asks the running runtime; with none running, shows what the
    /// database last recorded.
    Servers {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The recap per batch and in total, computed now from bindings and transactions.
    Recap {
        #[arg(long, value_parser = parse_batch)]
        batch: Option<BatchId>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The vouchers to sell: one row per purchase with its voucher code, product, price, number,
    /// batch, server, trx id, pulsa before → after and time; SUKSES rows unless --status says
    /// otherwise. CSV for the spreadsheet, JSON for programs; the count and total price after
    /// the table (on stderr for CSV and JSON). The same range exported twice gives the same file.
    Vouchers(VoucherArgs),
    /// A number's story: its bindings in order (server, states with times, why each ended,
    /// pulsa start → last), its purchases, and its suspects with their resolution.
    History {
        /// The number, in any form (08…, +62…, 62…).
        #[arg(value_parser = parse_msisdn)]
        msisdn: Msisdn,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Runs the servers in the foreground: each binds the next number, logs in, buys until the
    /// pulsa is exhausted, logs out, and takes the next. Ctrl-C (or SIGTERM) stops at the next
    /// step boundary; a second one exits at once (the next start recovers).
    Run {
        /// Stop when the pool is empty and every server is idle.
        #[arg(long)]
        until_empty: bool,
        /// Lease only numbers of this batch.
        #[arg(long, value_parser = parse_batch)]
        batch: Option<BatchId>,
    },
    /// Starts `simrotor run` in the background, detached from the terminal: a pidfile and its
    /// stdout/stderr under daemon.dir. Refuses when a runtime already runs on this database.
    Start {
        /// Stop when the pool is empty and every server is idle.
        #[arg(long)]
        until_empty: bool,
        /// Lease only numbers of this batch.
        #[arg(long, value_parser = parse_batch)]
        batch: Option<BatchId>,
    },
    /// Stops the background runtime gracefully (SIGTERM; every server finishes its step).
    Stop,
    /// Whether the runtime runs, since when, and its health.
    Status,
    /// A live view of every server (those waiting for an OTP on top); type `PORT CODE` and Enter
    /// to deliver an OTP, q or Esc to quit.
    Watch,
    /// The whole product on a fresh machine, no set-up: a temporary SQLite database, the
    /// simulator on free ports with SMS forwarding, a generated batch, the runtime until the pool
    /// is empty; then the recap, the throughput, and the simulator's ledger reconciled against
    /// the database (a mismatch is an error exit).
    Demo(DemoArgs),
    /// Delivers an OTP the operator read on the phone to the server waiting for it, through the
    /// running runtime's admin API.
    Otp {
        /// The server's port.
        server: u16,
        /// The code, digits only.
        code: String,
    },
    /// What the SMS forwarder apps posted: the last SMS per intake, matched or not and why not;
    /// and the channels that say which number sits behind a device's slot.
    Sms {
        #[command(subcommand)]
        command: Option<SmsCommand>,
        #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
        format: Format,
    },
    /// Holds a server at its next step boundary (never inside a call); its number stays bound.
    Pause(ServerAction),
    /// Lets a paused, draining or disabled server go on.
    Resume(ServerAction),
    /// Lets a server finish its current number, then stay idle.
    Drain(ServerAction),
    /// Takes a server out of rotation (a drain shown as disabled) until `enable`; lasts until
    /// the runtime restarts (the configuration decides at start).
    Disable(ServerAction),
    /// Undoes `disable`; on a FAULTED server, clears the fault and starts it again.
    Enable(ServerAction),
    /// Lists the SUSPECT purchases not yet resolved (all with --all).
    Suspects {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Marks a SUSPECT purchase resolved, with who and why (written to the audit trail). The
    /// recorded evidence (status, pulsa) is kept as it is.
    Resolve {
        /// The transaction's id (the first column of `simrotor suspects`).
        id: i64,
        #[arg(long)]
        who: String,
        #[arg(long)]
        why: String,
    },
    /// Holds the database against a simulator's ledger (GET …/_sim/ledger): every executed
    /// purchase is exactly one row, no row claims a purchase the ledger lacks, and every
    /// binding's pulsa adds up. Exits 1 on a mismatch.
    LedgerCheck {
        /// The ledger's URL, e.g. http://127.0.0.1:9900/_sim/ledger.
        #[arg(long)]
        ledger: String,
    },
    /// Lists the servers' answers the parser could not use (and refusals no rule knows), kept by
    /// the runtime with their call, server, binding or purchase and the parse error, newest
    /// first. Bodies are masked. Each is a fixture waiting to be written.
    Answers {
        /// Only this call: otp, verifyOtp, balance_pulsa, token_location3, list_idv, trx_idv,
        /// otp_idv, status_idv or logout.
        #[arg(long)]
        call: Option<String>,
        /// Only since: a duration (2h), a local date-time or RFC 3339.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Makes one call against one server, once, and prints the raw answer and what the parser
    /// made of it: how to capture a real answer. Exits 2 when the answer is unusable.
    Probe(ProbeArgs),
    /// Reads the runtime's audit trail (every rotated file in order, then the live one), filters
    /// it, and prints one line per event; -f follows the live file across rotations.
    Logs(LogsArgs),
    /// Serves the simulator of the operator's resource servers on the configured host and ports
    /// (servers.host, servers.ports) until Ctrl-C. Flags override the [simulator] settings.
    Sim(SimArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// A server and, for the audit trail, who acts and why.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerAction {
    /// The server's port.
    pub port: u16,
    /// Who acts (default: $USER).
    #[arg(long)]
    pub who: Option<String>,
    /// Why, for the audit trail.
    #[arg(long)]
    pub why: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How many servers.
    #[arg(long, default_value_t = 20)]
    pub servers: u16,
    /// How many numbers in the generated batch.
    #[arg(long, default_value_t = 200)]
    pub accounts: u32,
    /// Keep the demo's database and logs in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Keep the runtime and its page up once the pool is empty (the servers idle, an import
    /// feeds them), until Ctrl-C; then the recap and the ledger check as usual.
    #[arg(long)]
    pub stay: bool,
    /// No SMS forwarding: every OTP waits for the operator (`simrotor otp`, `watch`, the page).
    #[arg(long, conflicts_with = "forwarder")]
    pub no_forwarder: bool,
    /// The simulator's knobs (latency, faults, …).
    #[command(flatten)]
    pub sim: SimArgs,
}

/// `simrotor vouchers`: which purchases, and how.
#[derive(Debug, Clone, clap::Args)]
pub struct VoucherArgs {
    #[arg(long, value_parser = parse_batch)]
    pub batch: Option<BatchId>,
    /// Bought since then: a duration back from now (2h), a local date or time
    /// (2026-12-01, 2026-12-01 08:00) or RFC 3339.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Bought before then (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// sukses (the vouchers), suspect (marked with their resolution) or all.
    #[arg(long, default_value = "sukses", value_parser = parse_voucher_status)]
    pub status: VoucherStatus,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file (whole or not at all) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `simrotor logs`: which events to show, and how.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogsArgs {
    /// Keep reading (like tail -F): first the last 10 matching events, or all of them since
    /// --since when given; then each new event as it is written, across daily rotations, until
    /// Ctrl-C. Waits for the directory's first file when there is none yet.
    #[arg(short, long)]
    pub follow: bool,
    /// Only this server (its port).
    #[arg(long, value_name = "PORT")]
    pub server: Option<u16>,
    /// Only this number, in any form (08…, +62…, 62…).
    #[arg(long, value_name = "MSISDN")]
    pub msisdn: Option<String>,
    /// Only this batch.
    #[arg(long, value_name = "ID")]
    pub batch: Option<String>,
    /// Only this binding (its id).
    #[arg(long, value_name = "N")]
    pub binding: Option<i64>,
    /// Only this transaction (the telco's trx id).
    #[arg(long, value_name = "TRX_ID")]
    pub trx: Option<String>,
    /// Only events since then: a duration back from now (2h, 30m) or a local time
    /// (2026-11-24T08:00, 2026-11-24 08:00:00) or an RFC 3339 time with its offset.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events at this level or more severe: error, warn, info, debug, trace.
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,
    /// Print the matching JSON lines as they are (for jq).
    #[arg(long)]
    pub json: bool,
    /// The audit directory (default: logging.dir of the configuration).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Command-line overrides of `[simulator]`; each flag names its config key.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SimArgs {
    /// simulator.seed: makes runs repeatable.
    #[arg(long)]
    pub seed: Option<u64>,
    /// simulator.faults.latency, e.g. 50ms.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub latency: Option<Duration>,
    /// simulator.faults.jitter, e.g. 10ms.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub jitter: Option<Duration>,
    /// simulator.faults.error_rate: share of calls answered with an HTML 5xx page (0..1).
    #[arg(long)]
    pub error_rate: Option<f64>,
    /// simulator.faults.malformed_rate: share of JSON answers cut short (0..1).
    #[arg(long)]
    pub malformed_rate: Option<f64>,
    /// simulator.faults.slow_body_rate: share of answers whose body stalls (0..1).
    #[arg(long)]
    pub slow_body_rate: Option<f64>,
    /// simulator.faults.slow_body_delay, e.g. 40s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub slow_body_delay: Option<Duration>,
    /// simulator.faults.lost_answer_rate: share of purchases executed whose answer is lost (0..1).
    #[arg(long)]
    pub lost_answer_rate: Option<f64>,
    /// simulator.faults.down_ports: ports that refuse connections for a while (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub down_ports: Option<Vec<u16>>,
    /// simulator.faults.down_after, e.g. 30s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub down_after: Option<Duration>,
    /// simulator.faults.down_for, e.g. 1m.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub down_for: Option<Duration>,
    /// simulator.status_polls: polls that answer "processing" before the outcome.
    #[arg(long)]
    pub status_polls: Option<u32>,
    /// simulator.suspect_rate: share of purchases that finish without a voucher (0..1).
    #[arg(long)]
    pub suspect_rate: Option<f64>,
    /// simulator.reseller_rate (0..1).
    #[arg(long)]
    pub reseller_rate: Option<f64>,
    /// simulator.blocked_rate (0..1).
    #[arg(long)]
    pub blocked_rate: Option<f64>,
    /// simulator.transaction_otp: ask for a transaction OTP on a new device.
    #[arg(long)]
    pub transaction_otp: bool,
    /// Where each SMS is also posted (simulator.sms_forwarder_url), or as which app
    /// (simulator.forward_as): native, smsforwarder, capcom6, bogkonstantin, gammu, kannel,
    /// smssync, ejoin, dinstar, httpsms, textbee. An app's name posts to this machine's admin API,
    /// http://127.0.0.1:9800/sms/<app> (native: /sms), unless simulator.sms_forwarder_url says
    /// where. The demo takes an app's name only (it posts to its own runtime).
    #[arg(long, value_name = "URL|APP", value_parser = parse_forwarder)]
    pub forwarder: Option<Forwarder>,
    /// simulator.forward_number: whether the app's request names the SIM that received the SMS.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub forward_number: Option<bool>,
    /// simulator.forward_secret: what the simulated app signs with, or its token (the same as
    /// secret in [sms.<app>]). Never printed.
    #[arg(long, value_name = "SECRET", value_parser = parse_secret)]
    pub forward_secret: Option<ForwarderSecret>,
    /// simulator.forward_duplicates: post every SMS twice, as an app that retries does.
    #[arg(long)]
    pub forward_duplicates: bool,
    /// simulator.forward_forgeries: before each SMS, post a forged copy (another code, a wrong
    /// signature or token), which the runtime must refuse.
    #[arg(long)]
    pub forward_forgeries: bool,
    /// simulator.shapes: the answer shapes, "real" (as the operator's servers answer), "legacy"
    /// (the simulator's earlier envelope on every call) or "mixed" (a seeded draw per answer).
    #[arg(
        long,
        value_parser = clap::builder::TypedValueParser::try_map(
            clap::builder::PossibleValuesParser::new(simrotor_config::AnswerShapes::NAMES),
            |s| s.parse::<simrotor_config::AnswerShapes>(),
        )
    )]
    pub shapes: Option<simrotor_config::AnswerShapes>,
}

/// What `--forwarder` names: a URL, or a format to post in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarder {
    Url(String),
    Format(ForwardAs),
}

fn parse_forwarder(s: &str) -> Result<Forwarder, String> {
    if s.starts_with("http://") || s.starts_with("https://") {
        return Ok(Forwarder::Url(s.to_owned()));
    }
    s.parse().map(Forwarder::Format).map_err(|_| {
        format!(
            "expected an http:// or https:// URL or one of {}",
            ForwardAs::names().join(", ")
        )
    })
}

fn parse_secret(s: &str) -> Result<ForwarderSecret, String> {
    if s.trim().is_empty() {
        return Err("an empty secret signs nothing".to_owned());
    }
    Ok(ForwarderSecret::new(s))
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// The server's port (one of servers.ports).
    pub port: u16,
    /// The call: otp, verifyOtp, balance_pulsa, token_location3, list_idv, trx_idv, otp_idv,
    /// status_idv or logout.
    pub call: String,
    /// The number (08…, +62… or 62…).
    #[arg(long)]
    pub msisdn: String,
    /// For otp: the number's PIN.
    #[arg(long)]
    pub pin: Option<String>,
    /// For verifyOtp and otp_idv: the code from the SMS.
    #[arg(long)]
    pub otp: Option<String>,
    /// For trx_idv: the product id.
    #[arg(long)]
    pub product: Option<String>,
    /// For trx_idv: the account's email.
    #[arg(long)]
    pub email: Option<String>,
    /// For trx_idv (default: products.limit_harga).
    #[arg(long)]
    pub limit_harga: Option<u64>,
    /// For status_idv: the purchase's trx_id.
    #[arg(long)]
    pub trx_id: Option<String>,
    /// trx_idv spends pulsa: it is sent only with this flag.
    #[arg(long)]
    pub really_buy: bool,
    /// Print tokens, OTPs and PINs in clear.
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Checks the configuration and prints the effective values, secrets masked.
    Check,
}

/// `simrotor sms …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SmsCommand {
    /// The declared channels: configuration's and database's.
    Channels,
    /// Declares that SMS from DEVICE (its slot or port) are for NUMBER: for the apps that do
    /// not send the receiving number (capcom6 deviceId, SmsForwarder device mark, Dinstar sn, …).
    Channel {
        device: String,
        /// The SIM slot (1, 2) or gateway port (1A) as the app names it; none: every slot.
        #[arg(long)]
        slot: Option<String>,
        /// The number, in any form (08…, +62…, 62…).
        number: String,
    },
    /// Forgets a channel declared in the database.
    Forget {
        device: String,
        #[arg(long)]
        slot: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

fn parse_batch(s: &str) -> Result<BatchId, String> {
    BatchId::parse(s).map_err(|e| e.to_string())
}

fn parse_voucher_status(s: &str) -> Result<VoucherStatus, String> {
    s.parse()
        .map_err(|e: simrotor_persistence::StoreError| e.to_string())
}

fn parse_msisdn(s: &str) -> Result<Msisdn, String> {
    Msisdn::parse(s).map_err(|e| e.to_string())
}

fn parse_status(s: &str) -> Result<AccountState, String> {
    s.to_ascii_uppercase().parse().map_err(|_| {
        let names: Vec<&str> = AccountState::ALL.iter().map(|s| s.name()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn forwarder_takes_a_url_or_a_format_and_lists_the_formats() {
        assert_eq!(
            parse_forwarder("http://10.0.0.2:9800/sms/gammu"),
            Ok(Forwarder::Url("http://10.0.0.2:9800/sms/gammu".to_owned()))
        );
        let capcom6: ForwardAs = "capcom6".parse().unwrap();
        assert_eq!(capcom6.name(), "capcom6");
        assert_eq!(parse_forwarder("capcom6"), Ok(Forwarder::Format(capcom6)));
        assert_eq!(
            parse_forwarder("native"),
            Ok(Forwarder::Format(ForwardAs::Native))
        );
        let err = parse_forwarder("127.0.0.1:9800/sms").unwrap_err();
        assert!(err.contains("URL") && err.contains("smsforwarder"), "{err}");
    }

    #[test]
    fn status_is_case_insensitive_and_lists_choices() {
        assert_eq!(parse_status("non_reseller"), Ok(AccountState::NonReseller));
        assert!(parse_status("gone").unwrap_err().contains("AVAILABLE"));
    }
}
