//! `simrotor logs`: the real binary reading fixture audit files written in the runtime's format
//! (docs/audit-log.md), as the operator would: every filter, the rendering, rotated files, torn
//! lines, and `-f` across a daily rotation.
//!
//! Times are rendered in the machine's zone, so each run pins `TZ` (a POSIX string: no tzdata
//! needed).

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::helpers::{Patience, Run, Scratch, assert_has};

const UTC: &str = "UTC0";
/// Western Indonesian Time, UTC+7 (POSIX offsets count westwards).
const WIB: &str = "WIB-7";
const DAY: &str = "audit.2026-11-24.jsonl";

/// One line as `tracing`'s JSON layer writes it.
fn line(ts: &str, level: &str, fields: Value) -> String {
    format!(
        r#"{{"timestamp":"{ts}","level":"{level}","fields":{fields},"target":"simrotor_runtime::audit"}}"#
    )
}

/// A morning of the trail, each line with what the operator should see (in UTC).
fn morning() -> Vec<(String, &'static str)> {
    let (a, b) = ("6281234567890", "6289876543210");
    vec![
        (
            line(
                "2026-11-24T08:00:00.100000Z",
                "INFO",
                json!({"message": "Starting the servers.", "servers": 2}),
            ),
            "2026-11-24 08:00:00  Starting the servers.  servers=2",
        ),
        (
            line(
                "2026-11-24T08:00:01.000001Z",
                "INFO",
                json!({"message": "The binding moved.", "event": "binding", "server": 9903, "batch": "B1", "msisdn": a, "binding": 12, "to": "BOUND"}),
            ),
            "2026-11-24 08:00:01  9903  6281234567890  binding 12  BOUND",
        ),
        (
            line(
                "2026-11-24T08:00:02Z",
                "INFO",
                json!({"message": "The server moved.", "event": "server", "server": 9903, "from": "IDLE", "to": "BUSY", "reason": "leased"}),
            ),
            "2026-11-24 08:00:02  9903  server IDLE → BUSY (leased)",
        ),
        (
            line(
                "2026-11-24T08:00:03Z",
                "INFO",
                json!({"message": "The binding moved.", "event": "binding", "server": 9903, "batch": "B1", "msisdn": a, "binding": 12, "from": "OTP_VERIFIED", "to": "TOKEN_LOGIN_FETCHED"}),
            ),
            "2026-11-24 08:00:03  9903  6281234567890  binding 12  OTP_VERIFIED → TOKEN_LOGIN_FETCHED",
        ),
        (
            line(
                "2026-11-24T08:00:04Z",
                "INFO",
                json!({"message": "A purchase was recorded.", "event": "purchase", "server": 9903, "batch": "B1", "msisdn": a, "binding": 12, "attempt": "a-12-1", "product": "VCR10", "price": 10000, "status": "PROCESSING", "pulsa_awal": 45000}),
            ),
            "2026-11-24 08:00:04  9903  6281234567890  purchase attempt a-12-1 VCR10 10000 PROCESSING  pulsa 45000",
        ),
        (
            line(
                "2026-11-24T08:00:05Z",
                "INFO",
                json!({"message": "A purchase was recorded.", "event": "purchase", "server": 9903, "batch": "B1", "msisdn": a, "binding": 12, "attempt": "a-12-1", "trx": "TRX123", "product": "VCR10", "price": 10000, "status": "SUKSES", "pulsa_awal": 45000, "pulsa_akhir": 35000}),
            ),
            "2026-11-24 08:00:05  9903  6281234567890  purchase TRX123 VCR10 10000 SUKSES  pulsa 45000 → 35000  attempt=a-12-1",
        ),
        (
            line(
                "2026-11-24T08:00:06Z",
                "WARN",
                json!({"message": "The telco refused the login.", "server": 9904, "msisdn": b, "error": "wrong PIN"}),
            ),
            "2026-11-24 08:00:06  WARN  9904  6289876543210  The telco refused the login.  error=\"wrong PIN\"",
        ),
        (
            line(
                "2026-11-24T08:00:07Z",
                "INFO",
                json!({"message": "The binding moved.", "event": "binding", "server": 9904, "batch": "B2", "msisdn": b, "binding": 13, "from": "LOGGED_IN", "to": "FAILED (OTP_TIMEOUT)"}),
            ),
            "2026-11-24 08:00:07  9904  6289876543210  binding 13  LOGGED_IN → FAILED (OTP_TIMEOUT)",
        ),
        (
            line(
                "2026-11-24T08:00:08Z",
                "ERROR",
                json!({"message": "The server failed too often.", "server": 9904, "restarts": 3}),
            ),
            "2026-11-24 08:00:08  ERROR  9904  The server failed too often.  restarts=3",
        ),
        (
            line(
                "2026-11-24T08:00:09Z",
                "INFO",
                json!({"message": "The operator acted.", "event": "operator", "server": 9903, "action": "pause", "who": "ani", "why": "SIM swap"}),
            ),
            "2026-11-24 08:00:09  9903  operator pause by ani: SIM swap",
        ),
    ]
}

/// A scratch directory whose `logs/` holds the morning in one daily file.
fn trail() -> (Scratch, PathBuf) {
    let s = Scratch::new();
    let dir = s.path("logs");
    std::fs::create_dir(&dir).unwrap();
    write_lines(
        &dir.join(DAY),
        &morning().into_iter().map(|(l, _)| l).collect::<Vec<_>>(),
    );
    (s, dir)
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// The rendered morning lines at these indexes, one per line.
fn shown(indexes: &[usize]) -> String {
    let all = morning();
    indexes.iter().map(|&i| format!("{}\n", all[i].1)).collect()
}

/// `simrotor logs --dir DIR ARGS` in zone `tz`.
fn logs(s: &Scratch, dir: &Path, tz: &str, args: &[&str]) -> Run {
    let dir = dir.to_str().unwrap();
    let mut all = vec!["logs", "--dir", dir];
    all.extend_from_slice(args);
    s.run_env(&all, &[("TZ", tz)])
}

#[test]
fn renders_one_readable_line_per_event() {
    let (s, dir) = trail();
    let run = logs(&s, &dir, UTC, &[]).ok();
    assert_eq!(run.stdout, shown(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert_eq!(run.stderr, "");
}

#[test]
fn times_are_shown_in_the_local_zone() {
    let (s, dir) = trail();
    let run = logs(&s, &dir, WIB, &["--binding", "13"]).ok();
    assert_eq!(
        run.stdout,
        "2026-11-24 15:00:07  9904  6289876543210  binding 13  LOGGED_IN → FAILED (OTP_TIMEOUT)\n"
    );
}

#[test]
fn reads_the_configured_directory_by_default() {
    let (s, _) = trail();
    s.write(
        "config.toml",
        "[database]\nurl = \"sqlite://data/t.db\"\n[logging]\ndir = \"logs\"\n",
    );
    let run = s.run_env(&["logs", "--trx", "TRX123"], &[("TZ", UTC)]).ok();
    assert_eq!(run.stdout, shown(&[5]));
}

#[test]
fn server_filter_keeps_that_port() {
    let (s, dir) = trail();
    assert_eq!(
        logs(&s, &dir, UTC, &["--server", "9904"]).ok().stdout,
        shown(&[6, 7, 8])
    );
    assert_eq!(
        logs(&s, &dir, UTC, &["--server", "9903"]).ok().stdout,
        shown(&[1, 2, 3, 4, 5, 9])
    );
}

#[test]
fn msisdn_filter_accepts_every_form_of_the_number() {
    let (s, dir) = trail();
    for form in [
        "089876543210",
        "+6289876543210",
        "6289876543210",
        "0898-7654-3210",
    ] {
        let run = logs(&s, &dir, UTC, &["--msisdn", form]).ok();
        assert_eq!(run.stdout, shown(&[6, 7]), "--msisdn {form}");
    }
    for form in ["081234567890", "+6281234567890", "6281234567890"] {
        let run = logs(&s, &dir, UTC, &["--msisdn", form]).ok();
        assert_eq!(run.stdout, shown(&[1, 3, 4, 5]), "--msisdn {form}");
    }
    let bad = logs(&s, &dir, UTC, &["--msisdn", "12345"]);
    assert_eq!(bad.code, 1);
    assert_has(&bad.stderr, "--msisdn \"12345\"");
}

#[test]
fn batch_filter_keeps_that_batch() {
    let (s, dir) = trail();
    assert_eq!(
        logs(&s, &dir, UTC, &["--batch", "B2"]).ok().stdout,
        shown(&[7])
    );
    assert_eq!(
        logs(&s, &dir, UTC, &["--batch", "B1"]).ok().stdout,
        shown(&[1, 3, 4, 5])
    );
}

#[test]
fn binding_filter_keeps_that_binding() {
    let (s, dir) = trail();
    assert_eq!(
        logs(&s, &dir, UTC, &["--binding", "12"]).ok().stdout,
        shown(&[1, 3, 4, 5])
    );
}

#[test]
fn trx_filter_keeps_that_transaction() {
    let (s, dir) = trail();
    assert_eq!(
        logs(&s, &dir, UTC, &["--trx", "TRX123"]).ok().stdout,
        shown(&[5])
    );
}

#[test]
fn no_match_is_said_on_stderr_and_is_not_an_error() {
    let (s, dir) = trail();
    let run = logs(&s, &dir, UTC, &["--trx", "TRX999"]).ok();
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("No event matches (10 lines read"),
        "{}",
        run.stderr
    );
}

#[test]
fn level_filter_keeps_that_level_and_worse() {
    let (s, dir) = trail();
    assert_eq!(
        logs(&s, &dir, UTC, &["--level", "warn"]).ok().stdout,
        shown(&[6, 8])
    );
    assert_eq!(
        logs(&s, &dir, UTC, &["--level", "ERROR"]).ok().stdout,
        shown(&[8])
    );
    assert_eq!(
        logs(&s, &dir, UTC, &["--level", "info"]).ok().stdout,
        shown(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    );
    let bad = logs(&s, &dir, UTC, &["--level", "loud"]);
    assert_eq!(bad.code, 1);
    assert_has(
        &bad.stderr,
        "--level \"loud\": expected one of error, warn, info, debug, trace",
    );
}

#[test]
fn since_a_duration_back_from_now() {
    let s = Scratch::new();
    let dir = s.path("logs");
    std::fs::create_dir(&dir).unwrap();
    let ago = |secs: u64| {
        humantime::format_rfc3339_micros(SystemTime::now() - Duration::from_secs(secs)).to_string()
    };
    write_lines(
        &dir.join(DAY),
        &[
            line(
                &ago(3 * 3600),
                "INFO",
                json!({"message": "three hours ago"}),
            ),
            line(
                &ago(45 * 60),
                "INFO",
                json!({"message": "forty-five minutes ago"}),
            ),
            line(&ago(60), "INFO", json!({"message": "a minute ago"})),
        ],
    );
    let messages = |since: &str| -> Vec<String> {
        logs(&s, &dir, UTC, &["--since", since])
            .ok()
            .stdout
            .lines()
            .map(|l| l.split("  ").nth(1).unwrap().to_owned())
            .collect()
    };
    assert_eq!(messages("2h"), ["forty-five minutes ago", "a minute ago"]);
    assert_eq!(messages("30m"), ["a minute ago"]);
    assert_eq!(
        messages("1day"),
        ["three hours ago", "forty-five minutes ago", "a minute ago"]
    );
}

#[test]
fn since_a_local_date_time_or_an_rfc3339_time() {
    let (s, dir) = trail();
    // 15:00:05 in UTC+7 is 08:00:05Z.
    let want = shown(&[5, 6, 7, 8, 9]).replace("2026-11-24 08:", "2026-11-24 15:");
    for since in [
        "2026-11-24T15:00:05",
        "2026-11-24 15:00:05",
        "2026-11-24T08:00:05Z",
        "2026-11-24T10:00:05+02:00",
    ] {
        assert_eq!(
            logs(&s, &dir, WIB, &["--since", since]).ok().stdout,
            want,
            "--since {since}"
        );
    }
    let all = shown(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).replace("2026-11-24 08:", "2026-11-24 15:");
    assert_eq!(
        logs(&s, &dir, WIB, &["--since", "2026-11-24 15:00"])
            .ok()
            .stdout,
        all
    );
    assert_eq!(
        logs(&s, &dir, WIB, &["--since", "2026-11-24T15:01"])
            .ok()
            .stdout,
        ""
    );

    let bad = logs(&s, &dir, WIB, &["--since", "yesterday"]);
    assert_eq!(bad.code, 1);
    assert_has(&bad.stderr, "--since \"yesterday\": expected a duration");
    assert_has(&bad.stderr, "2026-11-24T08:00");
}

#[test]
fn json_prints_the_matching_lines_unchanged() {
    let (s, dir) = trail();
    let run = logs(&s, &dir, UTC, &["--json", "--server", "9903"]).ok();
    let morning = morning();
    let want: Vec<&str> = [1, 2, 3, 4, 5, 9]
        .iter()
        .map(|&i| morning[i].0.as_str())
        .collect();
    let got: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(got, want);
    for l in got {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["fields"]["server"], 9903);
    }
}

#[test]
fn filters_combine() {
    let (s, dir) = trail();
    let run = logs(
        &s,
        &dir,
        UTC,
        &[
            "--server",
            "9903",
            "--msisdn",
            "081234567890",
            "--batch",
            "B1",
            "--binding",
            "12",
            "--level",
            "info",
            "--since",
            "2026-11-24T08:00:04Z",
        ],
    )
    .ok();
    assert_eq!(run.stdout, shown(&[4, 5]));
    let run = logs(
        &s,
        &dir,
        UTC,
        &["--server", "9903", "--msisdn", "089876543210"],
    )
    .ok();
    assert_eq!(run.stdout, "");
}

#[test]
fn rotated_files_are_read_in_date_order() {
    let s = Scratch::new();
    let dir = s.path("logs");
    std::fs::create_dir(&dir).unwrap();
    let day = |date: &str, what: &str| {
        line(
            &format!("{date}T23:00:00Z"),
            "INFO",
            json!({"message": what}),
        )
    };
    // Written newest first, so neither creation order nor modification time gives the answer.
    write_lines(
        &dir.join("audit.2026-11-25.jsonl"),
        &[day("2026-11-25", "third day")],
    );
    write_lines(
        &dir.join("audit.2026-11-03.jsonl"),
        &[day("2026-11-03", "second day")],
    );
    write_lines(
        &dir.join("audit.2026-10-31.jsonl"),
        &[
            day("2026-10-31", "first day"),
            day("2026-10-31", "first day, later"),
        ],
    );
    write_lines(
        &dir.join("audit.jsonl"),
        &[day("2026-10-01", "before daily rotation")],
    );
    write_lines(
        &dir.join("audit.2026-11-24.jsonl.gz"),
        &[day("2026-11-24", "not read")],
    );
    std::fs::write(dir.join("notes.txt"), "not a log\n").unwrap();
    let run = logs(&s, &dir, UTC, &[]).ok();
    assert_eq!(
        run.stdout,
        "2026-10-01 23:00:00  before daily rotation\n\
         2026-10-31 23:00:00  first day\n\
         2026-10-31 23:00:00  first day, later\n\
         2026-11-03 23:00:00  second day\n\
         2026-11-25 23:00:00  third day\n"
    );
}

#[test]
fn bad_lines_are_skipped_and_reported() {
    let (s, dir) = trail();
    let morning = morning();
    let torn = &morning[3].0[..60];
    write_lines(
        &dir.join("audit.2026-11-25.jsonl"),
        &[
            morning[0].0.clone(),
            "this is not json".to_owned(),
            morning[1].0.clone(),
            torn.to_owned(),
            r#"{"timestamp":"2026-11-25T08:00:00Z","level":"LOUD","fields":{}}"#.to_owned(),
            morning[2].0.clone(),
        ],
    );
    std::fs::remove_file(dir.join(DAY)).unwrap();
    let run = logs(&s, &dir, UTC, &[]).ok();
    assert_eq!(run.stdout, shown(&[0, 1, 2]));
    let file = dir.join("audit.2026-11-25.jsonl");
    assert!(
        run.stderr.contains(&format!(
            "warning: skipped 3 unparseable lines in {}; the first is line 2: ",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn no_audit_files_is_an_error_naming_the_directory() {
    let s = Scratch::new();
    let empty = s.path("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = logs(&s, &empty, UTC, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("no audit files in {}", empty.display())),
        "{}",
        run.stderr
    );

    let missing = s.path("missing");
    let run = logs(&s, &missing, UTC, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "the directory {} does not exist",
            missing.display()
        )),
        "{}",
        run.stderr
    );

    let run = s.run(&["logs"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "data/logs");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let (s, dir) = trail();
    let morning = morning();
    let many: Vec<String> = (0..20_000).map(|i| morning[i % 10].0.clone()).collect();
    write_lines(&dir.join(DAY), &many);
    let mut child = spawn(&s, &dir, &[]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, shown(&[0]));
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

/// `simrotor logs --dir DIR ARGS` running in the background, in UTC.
fn spawn(s: &Scratch, dir: &Path, args: &[&str]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simrotor"));
    cmd.args(["logs", "--dir", dir.to_str().unwrap()])
        .args(args)
        .current_dir(s.dir.path())
        .env("TZ", UTC)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("SIMROTOR_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.spawn().unwrap()
}

/// `logs -f`, its output read line by line on threads; killed when dropped.
struct Following {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

/// Generous: a slow CI machine may take a while to start the binary.
const PATIENCE: Duration = Duration::from_secs(30);

impl Following {
    fn start(s: &Scratch, dir: &Path, args: &[&str]) -> Self {
        let mut child = spawn(s, dir, &[&["-f"], args].concat());
        Self {
            stdout: lines_of(child.stdout.take().unwrap()),
            stderr: lines_of(child.stderr.take().unwrap()),
            child,
        }
    }

    #[track_caller]
    fn next(&self) -> String {
        match self.stdout.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("no line on stdout within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                let err: Vec<String> = self.stderr.try_iter().collect();
                panic!("stdout closed; stderr:\n{}", err.join("\n"))
            }
        }
    }

    #[track_caller]
    fn next_err(&self) -> String {
        self.stderr
            .recv_timeout(PATIENCE)
            .expect("a line on stderr")
    }

    /// Ctrl-C, as the operator ends `-f`: the exit code and what was left on stderr.
    #[cfg(unix)]
    fn interrupt(&mut self) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(kill.success());
        let status = Patience::new(PATIENCE, Duration::from_millis(20))
            .wait_for_blocking("`logs -f` to end after Ctrl-C", || {
                self.child.try_wait().unwrap()
            });
        let mut stderr = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(PATIENCE) {
            stderr.push(line);
        }
        (status.code(), stderr)
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn follow_prints_the_last_ten_events_then_new_ones_across_a_rotation() {
    let (s, dir) = trail();
    let morning = morning();
    // Twelve events: -f shows the last ten, like tail.
    append(
        &dir.join(DAY),
        &format!("{}\n{}\n", morning[0].0, morning[1].0),
    );
    let f = Following::start(&s, &dir, &[]);
    let mut want: Vec<&str> = morning[2..].iter().map(|(_, shown)| *shown).collect();
    want.extend([morning[0].1, morning[1].1]);
    for expected in want {
        assert_eq!(f.next(), expected);
    }

    // The runtime writes on, half a line at a time.
    let (head, tail) = morning[5].0.split_at(50);
    append(&dir.join(DAY), head);
    append(&dir.join(DAY), &format!("{tail}\n"));
    assert_eq!(f.next(), morning[5].1);

    // Midnight: the next day's file appears.
    let next_day = line(
        "2026-11-25T00:00:01Z",
        "INFO",
        json!({"message": "The binding moved.", "event": "binding", "server": 9903, "msisdn": "6281234567890", "binding": 14, "to": "BOUND"}),
    );
    append(
        &dir.join("audit.2026-11-25.jsonl"),
        &format!("{next_day}\n"),
    );
    assert_eq!(
        f.next(),
        "2026-11-25 00:00:01  9903  6281234567890  binding 14  BOUND"
    );
    append(
        &dir.join("audit.2026-11-25.jsonl"),
        &format!("{}\n", morning[9].0),
    );
    assert_eq!(f.next(), morning[9].1);
}

#[test]
fn follow_applies_the_filters_and_since_shows_the_whole_history() {
    let (s, dir) = trail();
    let morning = morning();
    let f = Following::start(
        &s,
        &dir,
        &["--server", "9904", "--since", "2026-11-24T08:00:00Z"],
    );
    for i in [6, 7, 8] {
        assert_eq!(f.next(), morning[i].1);
    }
    append(
        &dir.join(DAY),
        &format!("{}\n{}\n", morning[9].0, morning[6].0),
    );
    assert_eq!(f.next(), morning[6].1, "the 9903 line is filtered out");
}

#[test]
fn follow_waits_for_the_first_file() {
    let s = Scratch::new();
    let dir = s.path("logs");
    let f = Following::start(&s, &dir, &[]);
    let waiting = f.next_err();
    assert!(
        waiting.contains(&format!("the directory {} does not exist", dir.display()))
            && waiting.contains("waiting"),
        "{waiting}"
    );
    std::fs::create_dir(&dir).unwrap();
    let morning = morning();
    append(&dir.join(DAY), &format!("{}\n", morning[1].0));
    assert_eq!(f.next(), morning[1].1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_ends_follow_cleanly_with_the_skipped_lines_report() {
    let (s, dir) = trail();
    let morning = morning();
    let mut f = Following::start(&s, &dir, &["--trx", "TRX123"]);
    assert_eq!(f.next(), morning[5].1);
    append(&dir.join(DAY), "{\"torn\": TRX123\n");
    append(&dir.join(DAY), &format!("{}\n", morning[5].0));
    assert_eq!(f.next(), morning[5].1, "the torn line was skipped");
    let (code, stderr) = f.interrupt();
    assert_eq!(code, Some(0), "{stderr:?}");
    assert_eq!(
        stderr,
        [format!(
            "warning: skipped 1 unparseable line in {}; the first is line 11: expected value (column 10)",
            dir.join(DAY).display()
        )]
    );
}
