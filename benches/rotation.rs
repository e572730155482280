//! How far the runtime is from being the bottleneck, on this machine, in one run: the real
//! `simrotor run --until-empty` as its own process against `simrotor sim` processes (with
//! `record_calls`), and the operator's plain script (`baseline_loop.py`) against the same
//! simulator with the same numbers. From the simulator's call log: the calls by kind against the
//! protocol's minimum, each server's utilization (time in calls, in an OTP wait, or in a status
//! poll wait the schedule asks for, over its first call to its last logout) and the rotation gap
//! (a binding's logout answered → the next binding's first call on that server). From the
//! kernel: each process's CPU time (user + system) and the runtime's peak RSS.
//!
//! `cargo bench -p simrotor --bench rotation` (`-- --quick` for a short run, `-- --zero-only`
//! for the runtime at 0 ms alone). A report, not a test. `ROTATION_BASELINE` names another copy
//! of the script; `ROTATION_PROFILE=DIR` records each runtime run with `perf`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // a benchmark that cannot set up stops

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use simrotor_domain::{PollSchedule, TrxStatus};
use simrotor_persistence::{Store, StoreOptions};
use simrotor_simulator::{CallReport, SMS_DELIVERY, ServedCall};

const BIN: &str = env!("CARGO_BIN_EXE_simrotor");
/// The simulator answers "processing" once before a purchase's outcome, as in the run.
const STATUS_POLLS: u32 = 1;
/// The runtime's default status schedule (`config.toml`): the bench runs it unchanged.
const SCHEDULE: PollSchedule = PollSchedule {
    first: Duration::ZERO,
    min: Duration::from_millis(25),
    max: Duration::from_secs(5),
};

/// The numbers both contestants use: the script's own (`0813…`, `i·7 + 11`).
fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("0813{:08}", i * 7 + 11)).collect()
}

/// `n` consecutive free loopback ports (the script takes a range), from `from` up.
fn port_range(from: u16, n: usize) -> Vec<u16> {
    let mut start = from;
    loop {
        let held: Vec<_> = (0..n)
            .map_while(|i| TcpListener::bind(("127.0.0.1", start + i as u16)).ok())
            .collect();
        if held.len() == n {
            return (start..start + n as u16).collect();
        }
        start += held.len() as u16 + 1;
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// CPU seconds (user + system) of the children reaped so far.
fn children_cpu() -> f64 {
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(u.user_time()) + secs(u.system_time())
}

fn hwm_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A child process measured: its CPU time and peak RSS (polled while it runs).
struct Measured {
    cpu: f64,
    rss_mb: f64,
    stdout: String,
}

fn measure(mut cmd: Command) -> Measured {
    let cpu0 = children_cpu();
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let mut rss_mb: f64 = 0.0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Some(mb) = hwm_mb(pid) {
            rss_mb = rss_mb.max(mb);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(status.success(), "{cmd:?} failed: {status}");
    Measured {
        cpu: children_cpu() - cpu0,
        rss_mb,
        stdout,
    }
}

/// One `simrotor sim` process serving `ports`.
struct Sim {
    child: Child,
    ports: Vec<u16>,
}

impl Sim {
    fn start(
        dir: &Path,
        name: &str,
        ports: &[u16],
        latency: Duration,
        sms_to: Option<&str>,
    ) -> Sim {
        let config = dir.join(format!("{name}.toml"));
        let forward = sms_to.map_or(String::new(), |url| {
            format!("sms_forwarder_url = \"{url}\"\n")
        });
        std::fs::write(
            &config,
            format!(
                "[servers]\nports = {ports:?}\n\n[simulator]\nseed = 17\nstatus_polls = {STATUS_POLLS}\nrecord_calls = true\n{forward}\n[simulator.faults]\nlatency = \"{}ms\"\n",
                latency.as_millis()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .arg("sim")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let sim = Sim {
            child,
            ports: ports.to_vec(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while sim.try_calls().is_none() {
            assert!(
                Instant::now() < deadline,
                "the simulator {name} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sim
    }

    fn try_calls(&self) -> Option<CallReport> {
        let url = format!("http://127.0.0.1:{}/_sim/calls", self.ports[0]);
        reqwest::blocking::get(url).ok()?.json().ok()
    }

    /// The call log (the process is stopped when dropped).
    fn finish(self) -> CallReport {
        self.try_calls().expect("the simulator's call log")
    }
}

/// A benchmark that stops half-way leaves no simulator behind.
impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run of the runtime left.
struct RuntimeRun {
    process: Measured,
    calls: CallReport,
    bound: u64,
    blocked: u64,
    failed: u64,
    purchases: u64,
}

fn runtime_run(
    dir: &Path,
    name: &str,
    servers: usize,
    latency: Duration,
    accounts: usize,
    sims: usize,
) -> RuntimeRun {
    let admin = format!("127.0.0.1:{}", free_port());
    let ports = port_range(21_000, servers);
    let per = servers.div_ceil(sims);
    let simulators: Vec<Sim> = ports
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            Sim::start(
                dir,
                &format!("sim-{name}-{i}"),
                chunk,
                latency,
                Some(&format!("http://{admin}/sms")),
            )
        })
        .collect();
    let db = dir.join(format!("runtime-{name}.db"));
    let config = dir.join(format!("runtime-{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\nsynchronous = \"full\"\n\n[servers]\nports = {ports:?}\n\n\
             [login]\ndefault_pin = \"246810\"\n\n[products]\nwanted = [\"646\"]\n\n\
             [logging]\ndir = \"{}\"\n\n[admin]\nlisten = \"{admin}\"\n",
            db.display(),
            dir.join(format!("logs-{name}")).display()
        ),
    )
    .unwrap();
    let csv = dir.join(format!("numbers-{name}.csv"));
    let mut rows = String::from("msisdn,email\n");
    for (i, n) in numbers(accounts).iter().enumerate() {
        writeln!(rows, "{n},bench{i}@example.com").unwrap();
    }
    std::fs::write(&csv, rows).unwrap();
    let status = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["import", csv.to_str().unwrap(), "--batch", "BENCH"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    // `ROTATION_PROFILE=DIR`: each run recorded by `perf` into DIR/<run>.perf (its CPU
    // figures then include perf's own).
    let mut run = match std::env::var_os("ROTATION_PROFILE") {
        Some(out) => {
            let mut perf = Command::new("perf");
            perf.args(["record", "-F", "999", "-g", "-o"])
                .arg(Path::new(&out).join(format!("{name}.perf")))
                .arg(BIN);
            perf
        }
        None => Command::new(BIN),
    };
    run.arg("--config")
        .arg(&config)
        .args(["run", "--until-empty"])
        .stderr(std::fs::File::create(dir.join(format!("runtime-{name}.log"))).unwrap());
    let process = measure(run);

    let mut calls = CallReport::default();
    for sim in simulators {
        let report = sim.finish();
        for (k, v) in report.counts {
            *calls.counts.entry(k).or_default() += v;
        }
        calls.calls.extend(report.calls);
    }
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (recap, purchases) = tokio.block_on(async {
        let store = Store::connect(&StoreOptions::new(format!("sqlite://{}", db.display())))
            .await
            .unwrap();
        let recap = store.recap(None).await.unwrap();
        let books = store.books().await.unwrap();
        let executed = books
            .purchases
            .iter()
            .filter(|p| matches!(p.status, TrxStatus::Success | TrxStatus::Suspect))
            .count();
        (recap, executed as u64)
    });
    let numbers = recap.total.numbers;
    RuntimeRun {
        process,
        calls,
        bound: numbers.total - numbers.available,
        blocked: numbers.blocked,
        failed: numbers.failed,
        purchases,
    }
}

/// The script against a fresh simulator (the same configuration, seed and numbers).
struct ScriptRun {
    process: Measured,
    purchases: u64,
    errors: u64,
    calls: CallReport,
}

fn script_run(dir: &Path, script: &Path, servers: usize, accounts: usize) -> ScriptRun {
    let ports = port_range(23_000, servers);
    let sim = Sim::start(dir, "sim-script", &ports, Duration::ZERO, None);
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg("--ports")
        .arg(format!("{}-{}", ports[0], ports[ports.len() - 1]))
        .arg("--accounts")
        .arg(accounts.to_string())
        .arg("--db")
        .arg(dir.join("baseline.sqlite"));
    let process = measure(cmd);
    let calls = sim.finish();
    let report: serde_json::Value = serde_json::from_str(process.stdout.trim()).unwrap();
    ScriptRun {
        purchases: report["purchases"].as_u64().unwrap(),
        errors: report["errors"].as_u64().unwrap(),
        process,
        calls,
    }
}

/// Per server, from the call log: utilization, and the rotation gaps (ms).
struct Timeline {
    utilization: f64,
    gaps_ms: Vec<f64>,
    /// The span of the run: the first call to the last answer (s).
    span: f64,
}

fn timeline(report: &CallReport) -> Timeline {
    let mut by_port: BTreeMap<u16, Vec<&ServedCall>> = BTreeMap::new();
    let mut sms: BTreeMap<&str, Vec<&ServedCall>> = BTreeMap::new();
    for c in &report.calls {
        if c.call == SMS_DELIVERY {
            sms.entry(c.number.as_deref().unwrap_or(""))
                .or_default()
                .push(c);
        } else {
            by_port.entry(c.port).or_default().push(c);
        }
    }
    let first = report.calls.iter().map(|c| c.arrived_us).min().unwrap_or(0);
    let last = report
        .calls
        .iter()
        .map(|c| c.answered_us)
        .max()
        .unwrap_or(0);
    let mut shares = Vec::new();
    let mut gaps_ms = Vec::new();
    for calls in by_port.values_mut() {
        calls.sort_by_key(|c| c.arrived_us);
        let Some(end) = calls
            .iter()
            .filter(|c| c.call == "logout")
            .map(|c| c.answered_us)
            .max()
        else {
            continue;
        };
        let start = calls[0].arrived_us;
        let mut busy = 0u64;
        let mut polls_in_a_row = 0u32;
        for (i, c) in calls.iter().enumerate() {
            if c.arrived_us > end {
                break;
            }
            busy += c.answered_us - c.arrived_us;
            let Some(next) = calls.get(i + 1) else { break };
            let idle = next.arrived_us.saturating_sub(c.answered_us);
            // Waits the protocol or the schedule asks for count as work.
            let allowed = match (c.call.as_str(), next.call.as_str()) {
                ("otp", "verifyOtp") => {
                    let delivered = sms.get(c.number.as_deref().unwrap_or("")).and_then(|v| {
                        v.iter()
                            .map(|s| s.answered_us)
                            .filter(|&t| t >= c.arrived_us)
                            .min()
                    });
                    delivered.map_or(0, |t| t.saturating_sub(c.answered_us))
                }
                ("trx_idv", "status_idv") => SCHEDULE.wait(0).as_micros() as u64,
                ("status_idv", "status_idv") => {
                    polls_in_a_row += 1;
                    SCHEDULE.wait(polls_in_a_row).as_micros() as u64
                }
                _ => 0,
            };
            if c.call != "status_idv" {
                polls_in_a_row = 0;
            }
            busy += idle.min(allowed);
            if c.call == "logout" {
                gaps_ms.push(idle as f64 / 1000.0);
            }
        }
        shares.push(busy as f64 / (end - start).max(1) as f64);
    }
    gaps_ms.sort_by(f64::total_cmp);
    Timeline {
        utilization: shares.iter().sum::<f64>() / shares.len().max(1) as f64,
        gaps_ms,
        span: (last - first) as f64 / 1e6,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn count(report: &CallReport, call: &str) -> u64 {
    report.counts.get(call).copied().unwrap_or(0)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = |full: usize, short: usize| if quick { short } else { full };
    let dir = tempfile::tempdir().unwrap();
    let script = std::env::var_os("ROTATION_BASELINE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/baseline_loop.py"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "simrotor rotation benchmark: SQLite synchronous=FULL, simulator status_polls={STATUS_POLLS}, {cores} cores"
    );
    let out = &mut String::new();

    // Zero latency, 20 servers: the runtime, then the script, against the same simulator.
    let accounts = scale(300, 60);
    let zero = runtime_run(dir.path(), "zero", 20, Duration::ZERO, accounts, 1);
    if std::env::args().any(|a| a == "--zero-only") {
        let t = timeline(&zero.calls);
        println!(
            "0 ms: {} purchases, {:.0}/s, {:.3} CPU ms each, gap p50 {:.2} p99 {:.2} ms",
            zero.purchases,
            zero.purchases as f64 / t.span,
            1000.0 * zero.process.cpu / zero.purchases.max(1) as f64,
            percentile(&t.gaps_ms, 0.5),
            percentile(&t.gaps_ms, 0.99)
        );
        return;
    }
    let zt = timeline(&zero.calls);
    let base = script_run(dir.path(), &script, 20, accounts);
    let bt = timeline(&base.calls);

    // Calls by kind against the minimum.
    let logged_in = zero.bound - zero.blocked;
    let p = zero.purchases.max(1) as f64;
    let c = |k| count(&zero.calls, k);
    writeln!(
        out,
        "\nCalls (20 servers, 0 ms; {} numbers bound, {} blocked, {} failed; {} purchases):",
        zero.bound, zero.blocked, zero.failed, zero.purchases
    )
    .unwrap();
    writeln!(
        out,
        "| call | made | minimum | per purchase | per number logged in |"
    )
    .unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|").unwrap();
    let rows: [(&str, u64); 9] = [
        ("otp", zero.bound),
        ("verifyOtp", logged_in),
        ("balance_pulsa", logged_in + zero.purchases),
        ("token_location3", logged_in),
        ("list_idv", logged_in),
        ("trx_idv", zero.purchases),
        ("status_idv", zero.purchases * u64::from(STATUS_POLLS + 1)),
        ("otp_idv", 0),
        ("logout", logged_in),
    ];
    for (call, minimum) in rows {
        writeln!(
            out,
            "| {call} | {} | {minimum} | {:.2} | {:.2} |",
            c(call),
            c(call) as f64 / p,
            c(call) as f64 / logged_in.max(1) as f64
        )
        .unwrap();
    }

    // 50 ms per call, 20 servers.
    let slow = runtime_run(
        dir.path(),
        "slow",
        20,
        Duration::from_millis(50),
        scale(60, 20),
        1,
    );
    let st = timeline(&slow.calls);
    // 1,000 servers, 50 ms, across simulator processes.
    let big_servers = scale(1000, 200);
    let big = runtime_run(
        dir.path(),
        "big",
        big_servers,
        Duration::from_millis(50),
        big_servers,
        4,
    );
    let bigt = timeline(&big.calls);

    let rate = |purchases: u64, t: &Timeline| purchases as f64 / t.span;
    let cpu_ms = |m: &Measured, purchases: u64| 1000.0 * m.cpu / purchases.max(1) as f64;
    let per_cpu_s = |m: &Measured, purchases: u64| purchases as f64 / m.cpu.max(1e-9);
    writeln!(out, "\n| figure | simrotor | plain script | ratio |").unwrap();
    writeln!(out, "|---|---:|---:|---:|").unwrap();
    writeln!(
        out,
        "| purchases/s at 0 ms (20 servers, {accounts} numbers) | {:.0} | {:.0} | {:.2}× |",
        rate(zero.purchases, &zt),
        rate(base.purchases, &bt),
        rate(zero.purchases, &zt) / rate(base.purchases, &bt)
    )
    .unwrap();
    writeln!(
        out,
        "| CPU ms per purchase (process, user + sys) | {:.3} | {:.3} | |",
        cpu_ms(&zero.process, zero.purchases),
        cpu_ms(&base.process, base.purchases)
    )
    .unwrap();
    writeln!(
        out,
        "| purchases per CPU-second | {:.0} | {:.0} | {:.2}× |",
        per_cpu_s(&zero.process, zero.purchases),
        per_cpu_s(&base.process, base.purchases),
        per_cpu_s(&zero.process, zero.purchases) / per_cpu_s(&base.process, base.purchases)
    )
    .unwrap();
    writeln!(
        out,
        "| purchases / errors | {} / {} | {} / {} | |",
        zero.purchases, zero.failed, base.purchases, base.errors
    )
    .unwrap();
    writeln!(
        out,
        "| rotation gap p50 / p99 at 0 ms (ms) | {:.2} / {:.2} | | |",
        percentile(&zt.gaps_ms, 0.5),
        percentile(&zt.gaps_ms, 0.99)
    )
    .unwrap();
    writeln!(
        out,
        "| utilization at 50 ms, 20 servers | {:.1} % | | |",
        100.0 * st.utilization
    )
    .unwrap();
    writeln!(
        out,
        "| rotation gap p50 / p99 at 50 ms (ms) | {:.2} / {:.2} | | |",
        percentile(&st.gaps_ms, 0.5),
        percentile(&st.gaps_ms, 0.99)
    )
    .unwrap();
    writeln!(
        out,
        "| utilization at 50 ms, {big_servers} servers | {:.1} % | | |",
        100.0 * bigt.utilization
    )
    .unwrap();
    writeln!(
        out,
        "| {big_servers} servers: peak RSS, purchases, failed | {:.0} MB, {}, {} | | |",
        big.process.rss_mb, big.purchases, big.failed
    )
    .unwrap();
    writeln!(
        out,
        "| {big_servers} servers: CPU ms per purchase | {:.3} | | |",
        cpu_ms(&big.process, big.purchases)
    )
    .unwrap();
    print!("{out}");
    std::io::stdout().flush().unwrap();
}
