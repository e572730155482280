//! How fast `simrotor logs` answers on a big trail: a million realistic lines over three daily
//! files, read with a selective filter (one number), a server filter, a level filter and none,
//! every match rendered to a sink as the verb renders it to stdout.
//!
//! `cargo bench -p simrotor-auditlog --bench read`. The target: under 2 s with a filter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use simrotor_auditlog::{Filter, Level, Matcher, Renderer, discover, parse_msisdn, read_all};

const LINES: u64 = 1_000_000;
const DAYS: u64 = 3;
const SERVERS: u64 = 20;
const NUMBERS: u64 = 5_000;
const RUNS: usize = 3;

/// xorshift64*: repeatable without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn msisdn(n: u64) -> String {
    format!("6281{:09}", 100_000_000 + n * 7919 % 900_000_000)
}

/// One server's life, line after line: bind a number, log in, buy until the pulsa is gone, end
/// the binding, with the runtime's plain lines in between. Returns the lines written.
fn write_trail(dir: &Path) -> u64 {
    let mut rng = Rng(0x5EED_CAFE);
    let per_day = LINES / DAYS;
    let mut written = 0;
    let mut binding = 0u64;
    let mut trx = 0u64;
    for day in 0..DAYS {
        let date = format!("2026-11-{:02}", 24 + day);
        let path = dir.join(format!("audit.{date}.jsonl"));
        let mut out = BufWriter::new(File::create(path).unwrap());
        let mut emitted = 0;
        let mut second = 0u64;
        // The last day takes what the others left, so the total is exactly LINES.
        let target = if day == DAYS - 1 {
            LINES - written
        } else {
            per_day
        };
        while emitted < target {
            let server = 9900 + rng.below(SERVERS);
            let number = msisdn(rng.below(NUMBERS));
            let batch = format!("B{}", rng.below(8));
            binding += 1;
            let mut pulsa = 10_000 * (1 + rng.below(10)) as i64;
            let mut lines: Vec<String> = Vec::with_capacity(32);
            let mut line = |level: &str, fields: String| {
                second += 1;
                let ts = format!(
                    "{date}T{:02}:{:02}:{:02}.{:06}Z",
                    (second / 3600) % 24,
                    (second / 60) % 60,
                    second % 60,
                    second * 7919 % 1_000_000
                );
                lines.push(format!(
                    r#"{{"timestamp":"{ts}","level":"{level}","fields":{{{fields}}},"target":"simrotor_runtime::audit"}}"#
                ));
            };
            let id = format!(
                r#""server":{server},"batch":"{batch}","msisdn":"{number}","binding":{binding}"#
            );
            line(
                "INFO",
                format!(
                    r#""message":"The server moved.","event":"server","server":{server},"from":"IDLE","to":"BUSY","reason":"leased {number}""#
                ),
            );
            line(
                "INFO",
                format!(r#""message":"The binding moved.","event":"binding",{id},"to":"BOUND""#),
            );
            for (from, to) in [
                ("BOUND", "OTP_REQUESTED"),
                ("OTP_REQUESTED", "OTP_VERIFIED"),
                ("OTP_VERIFIED", "TOKEN_LOGIN_FETCHED"),
                ("TOKEN_LOGIN_FETCHED", "LOGGED_IN"),
            ] {
                line(
                    "INFO",
                    format!(
                        r#""message":"The binding moved.","event":"binding",{id},"from":"{from}","to":"{to}""#
                    ),
                );
            }
            line(
                "INFO",
                format!(
                    r#""message":"Logged in.","server":{server},"msisdn":"{number}","binding":{binding},"pulsa":"Rp {pulsa}""#
                ),
            );
            let mut attempt = 0;
            while pulsa >= 10_000 {
                attempt += 1;
                trx += 1;
                let key = format!("{binding}-{attempt}");
                line(
                    "INFO",
                    format!(
                        r#""message":"A purchase was recorded.","event":"purchase",{id},"attempt":"{key}","product":"VCR10","price":10000,"status":"PROCESSING","pulsa_awal":{pulsa}"#
                    ),
                );
                let (status, after) = if rng.below(50) == 0 {
                    ("GAGAL", pulsa)
                } else {
                    ("SUKSES", pulsa - 10_000)
                };
                line(
                    "INFO",
                    format!(
                        r#""message":"A purchase was recorded.","event":"purchase",{id},"attempt":"{key}","trx":"TRX{trx:08}","product":"VCR10","price":10000,"status":"{status}","pulsa_awal":{pulsa},"pulsa_akhir":{after}"#
                    ),
                );
                if status == "GAGAL" {
                    line(
                        "WARN",
                        format!(
                            r#""message":"The purchase failed; trying again.","server":{server},"msisdn":"{number}","attempt":"{key}""#
                        ),
                    );
                }
                pulsa = after;
            }
            line(
                "INFO",
                format!(
                    r#""message":"The pulsa is exhausted.","server":{server},"msisdn":"{number}","pulsa":"Rp {pulsa}""#
                ),
            );
            line(
                "INFO",
                format!(
                    r#""message":"The binding moved.","event":"binding",{id},"from":"LOGGED_IN","to":"DONE""#
                ),
            );
            line(
                "INFO",
                format!(
                    r#""message":"The server moved.","event":"server","server":{server},"from":"BUSY","to":"IDLE""#
                ),
            );
            for l in lines {
                if emitted >= target {
                    break;
                }
                out.write_all(l.as_bytes()).unwrap();
                out.write_all(b"\n").unwrap();
                emitted += 1;
            }
        }
        out.flush().unwrap();
        written += emitted;
    }
    written
}

/// Reads the whole trail with `filter`, rendering every match; (time, lines, matches).
fn read_once(dir: &Path, filter: &Filter) -> (Duration, u64, u64) {
    let start = Instant::now();
    let files = discover(dir).unwrap();
    let matcher = Matcher::new(filter.clone());
    let renderer = Renderer::local();
    let mut sink = BufWriter::new(std::io::sink());
    let mut text = String::with_capacity(256);
    let never = AtomicBool::new(false);
    let outcome = read_all(&files, &matcher, false, &never, |m| {
        text.clear();
        renderer.render(m.line, &mut text);
        text.push('\n');
        sink.write_all(text.as_bytes()).unwrap();
        ControlFlow::Continue(())
    })
    .unwrap();
    sink.flush().unwrap();
    std::hint::black_box(&sink);
    assert_eq!(outcome.stats.bad_lines(), 0);
    (start.elapsed(), outcome.stats.lines, outcome.stats.matched)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let lines = write_trail(dir.path());
    let bytes: u64 = discover(dir.path())
        .unwrap()
        .iter()
        .map(|f| std::fs::metadata(&f.path).unwrap().len())
        .sum();
    println!(
        "wrote {lines} lines ({:.0} MB) in {DAYS} daily files in {:.2} s",
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );

    let cases = [
        (
            "msisdn",
            Filter {
                msisdn: Some(parse_msisdn(&msisdn(1234).replacen("62", "0", 1)).unwrap()),
                ..Filter::default()
            },
        ),
        (
            "server",
            Filter {
                server: Some(9907),
                ..Filter::default()
            },
        ),
        (
            "level warn",
            Filter {
                level: Some(Level::Warn),
                ..Filter::default()
            },
        ),
        ("none", Filter::default()),
    ];
    for (name, filter) in cases {
        // The best of a few runs: the figure of a warm page cache, as on a second look.
        let (time, lines, matches) = (0..RUNS)
            .map(|_| read_once(dir.path(), &filter))
            .min_by_key(|(t, _, _)| *t)
            .unwrap();
        let secs = time.as_secs_f64();
        println!(
            "read {lines} lines, filter {name}: {secs:.2} s ({:.1}M lines/s, {:.0} MB/s), {matches} matches",
            lines as f64 / secs / 1e6,
            bytes as f64 / secs / 1e6
        );
    }
}
