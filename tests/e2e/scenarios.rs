//! The runtime's scenarios with the real binary: `simrotor run --until-empty` against a separate
//! `simrotor sim` process, each scenario in its own directory with its own SQLite file and ports,
//! judged by what the operator sees: the exit status, `accounts`, `servers` and `recap` as JSON,
//! the audit trail (each binding's end state and reason), `ledger-check` against the
//! simulator's ledger, and a stderr that shows no PIN and no OTP code.
//!
//! The same scenarios run in-process in `crates/runtime/tests/it/scenarios.rs`; these hold the
//! shipped binary, its configuration file and its command line to them.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Patience, Run, Scratch, free_ports, port_list};

/// Every number's PIN: eight digits, so that finding it in a log is no coincidence.
const PIN: &str = "86420975";
const BATCH: &str = "SCN";
/// How long any wait may take before the test fails; a passing test never waits for it.
const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// One plain HTTP/1.0 GET: the status and the body; `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A GET that must answer 200 with JSON.
#[track_caller]
fn get_json(port: u16, path: &str) -> Value {
    let (status, body) =
        http_get(port, path).unwrap_or_else(|| panic!("nothing answers GET {path} on {port}"));
    assert_eq!(status, 200, "GET {path} on {port}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
}

/// Polls `probe` until it gives `Some`, failing the test at the deadline with `what`.
fn wait_for<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    Patience::new(DEADLINE, POLL).wait_for_blocking(what, probe)
}

/// The maximal runs of ASCII digits in `text`, except the fraction of a log timestamp
/// (`…:01.234567Z`), which is six digits like a code.
fn digit_runs(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let timestamp = start > 0 && bytes[start - 1] == b'.' && bytes.get(i) == Some(&b'Z');
        if !timestamp {
            runs.push(&text[start..i]);
        }
    }
    runs
}

/// The code an SMS carries: the only run of 4 to 8 digits in its text.
fn code_in(message: &str) -> String {
    let codes: Vec<&str> = digit_runs(message)
        .into_iter()
        .filter(|r| (4..=8).contains(&r.len()))
        .collect();
    assert_eq!(codes.len(), 1, "one code in the SMS: {message}");
    codes[0].to_owned()
}

/// What a scenario runs: the simulator's knobs and the runtime's configuration.
struct Knobs {
    /// Servers the simulator serves (and the runtime drives).
    servers: usize,
    numbers: usize,
    /// Every number's starting pulsa.
    pulsa: u64,
    /// Shares of numbers (`[simulator]`): resellers, blocked by the telco.
    reseller_rate: f64,
    blocked_rate: f64,
    /// Lines under `[otp]`, `[login]`, `[products]` (after fast status polls), `[restart]`
    /// (after short backoffs), `[simulator]` (after the settings above) and
    /// `[simulator.faults]`.
    otp: &'static str,
    login: &'static str,
    products: &'static str,
    restart: &'static str,
    simulator: &'static str,
    faults: &'static str,
    /// The simulator posts every SMS to the runtime's control endpoint (`/sms`).
    forward_sms: bool,
    /// The first simulated port refuses connections from the start, for this long.
    first_down_for: Option<&'static str>,
    /// More ports the runtime drives that the simulator does not serve.
    other_ports: Vec<u16>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            servers: 2,
            numbers: 3,
            pulsa: 15_000,
            reseller_rate: 1.0,
            blocked_rate: 0.0,
            otp: "",
            login: "",
            products: "",
            restart: "",
            simulator: "",
            faults: "",
            forward_sms: true,
            first_down_for: None,
            other_ports: Vec::new(),
        }
    }
}

/// How one binding went, read from the audit trail.
#[derive(Debug, Clone)]
struct BindingSeen {
    id: i64,
    server: u16,
    msisdn: String,
    /// The last state it moved to, e.g. `LOGGED_OUT (EXHAUSTED)` or `FAILED (OTP_TIMEOUT)`.
    last: String,
}

/// A simulator process, a database with the numbers imported, and (once started) the runtime.
struct World {
    s: Scratch,
    sim: Child,
    run: Option<Child>,
    /// The simulated ports, in the configured order.
    ports: Vec<u16>,
    /// A simulated port that is never down, for the `/_sim` pages.
    inspect: u16,
    control: u16,
    /// The imported numbers, in the `62…` form every listing uses.
    numbers: Vec<String>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(run) = &mut self.run {
            let _ = run.kill();
            let _ = run.wait();
        }
        let _ = self.sim.kill();
        let _ = self.sim.wait();
    }
}

impl World {
    fn start(k: Knobs) -> World {
        let s = Scratch::new();
        let picked = free_ports(k.servers + 1);
        let (ports, control) = (picked[..k.servers].to_vec(), picked[k.servers]);
        let mut driven = ports.clone();
        driven.extend(&k.other_ports);
        let forwarder = if k.forward_sms {
            format!("sms_forwarder_url = \"http://127.0.0.1:{control}/sms\"\n")
        } else {
            String::new()
        };
        let down = match k.first_down_for {
            Some(how_long) => format!(
                "down_ports = [{}]\ndown_after = \"0s\"\ndown_for = \"{how_long}\"\n",
                ports[0]
            ),
            None => String::new(),
        };
        let config = |ports: &[u16]| {
            let list = port_list(ports);
            format!(
                "[database]\nurl = \"sqlite://data/t.db\"\nsynchronous = \"normal\"\n\
                 [servers]\nports = [{list}]\ntimeout = \"5s\"\n\
                 [login]\n{login}\
                 [products]\nstatus_poll_min = \"20ms\"\nstatus_poll_max = \"200ms\"\n{products}\
                 [otp]\n{otp}\
                 [restart]\nbackoff_min = \"50ms\"\nbackoff_max = \"1s\"\n{restart}\
                 [simulator]\nseed = 17\npulsa_min = {pulsa}\npulsa_max = {pulsa}\n\
                 reseller_rate = {reseller:?}\nblocked_rate = {blocked:?}\nstatus_polls = 1\n\
                 {forwarder}{simulator}\
                 [simulator.faults]\n{down}{faults}",
                login = k.login,
                products = k.products,
                otp = k.otp,
                restart = k.restart,
                pulsa = k.pulsa,
                reseller = k.reseller_rate,
                blocked = k.blocked_rate,
                simulator = k.simulator,
                faults = k.faults,
            )
        };
        // The runtime reads ./config.toml; the simulator serves only its own ports.
        s.write("config.toml", config(&driven));
        s.write("sim.toml", config(&ports));
        // The numbers first: a down window counts from the simulator's start, so the runtime
        // starts right after it.
        let csv: String = (0..k.numbers)
            .map(|i| format!("0815{:08},buyer{i}@example.com\n", 30_000 + i))
            .collect();
        s.write("batch.csv", csv);
        s.run(&["import", "batch.csv", "--batch", BATCH, "--pin", PIN])
            .ok();
        let numbers = (0..k.numbers)
            .map(|i| format!("62815{:08}", 30_000 + i))
            .collect();
        let sim = command(&s)
            .args(["sim", "--config", "sim.toml"])
            .stdout(std::fs::File::create(s.path("sim.out")).unwrap())
            .stderr(std::fs::File::create(s.path("sim.log")).unwrap())
            .spawn()
            .unwrap();
        let up: Vec<u16> = match k.first_down_for {
            Some(_) => ports[1..].to_vec(),
            None => ports.clone(),
        };
        let mut world = World {
            s,
            sim,
            run: None,
            inspect: up[0],
            ports,
            control,
            numbers,
        };
        wait_for("the simulator to answer", || {
            if let Some(status) = world.sim.try_wait().unwrap() {
                panic!(
                    "the simulator exited ({status}): {}",
                    world.s.read("sim.log")
                );
            }
            up.iter()
                .all(|p| http_get(*p, "/_sim/ledger").is_some_and(|(status, _)| status == 200))
                .then_some(())
        });
        world
    }

    /// Starts `simrotor run --until-empty`, its log to `run.log` (a pipe nobody reads would
    /// fill up and block it).
    fn spawn_run(&mut self) {
        let log = std::fs::File::create(self.s.path("run.log")).unwrap();
        let child = command(&self.s)
            .args([
                "run",
                "--until-empty",
                "--control",
                &format!("127.0.0.1:{}", self.control),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.run = Some(child);
    }

    /// Waits for the run to exit by itself.
    fn wait_run(&mut self) -> ExitStatus {
        let mut run = self.run.take().expect("the run was started");
        self.s.wait_exit(&mut run, Patience::new(DEADLINE, POLL))
    }

    /// The whole run, which must end by itself and exit 0.
    fn run_to_the_end(&mut self) {
        self.spawn_run();
        self.assert_exit_ok();
    }

    fn assert_exit_ok(&mut self) {
        let status = self.wait_run();
        assert!(
            status.success(),
            "the run failed: {status}\n{}",
            self.stderr()
        );
    }

    /// The runtime's human log.
    fn stderr(&self) -> String {
        self.s.read("run.log")
    }

    /// How many lines of the runtime's log carry `message`.
    fn log_count(&self, message: &str) -> usize {
        self.stderr()
            .lines()
            .filter(|l| l.contains(message))
            .count()
    }

    /// `simrotor accounts --format json`, by number.
    fn accounts(&self) -> BTreeMap<String, Value> {
        let list = self
            .s
            .run(&["accounts", "--format", "json", "--limit", "1000"])
            .ok()
            .json();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), self.numbers.len(), "{list:?}");
        list.iter()
            .map(|a| (a["msisdn"].as_str().unwrap().to_owned(), a.clone()))
            .collect()
    }

    /// Asserts every account's `status`, `attempts` and `last_error`.
    #[track_caller]
    fn assert_accounts(&self, status: &str, attempts: u64, last_error: Option<&str>) {
        for (m, a) in self.accounts() {
            assert_eq!(a["status"], status, "{m}: {a}");
            assert_eq!(a["attempts"], attempts, "{m}: {a}");
            assert_eq!(a["last_error"].as_str(), last_error, "{m}: {a}");
            assert!(a["leased_server_id"].is_null(), "{m}: {a}");
        }
    }

    /// `simrotor servers --format json --control …`, by port: the running runtime's view, or
    /// once it has exited, what the database last recorded.
    fn servers(&self) -> BTreeMap<u16, Value> {
        let control = format!("127.0.0.1:{}", self.control);
        let list = self
            .s
            .run(&["servers", "--format", "json", "--control", &control])
            .ok()
            .json();
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| (s["port"].as_u64().unwrap() as u16, s.clone()))
            .collect()
    }

    /// The total row of `simrotor recap --format json`.
    fn recap(&self) -> Value {
        self.s.run(&["recap", "--format", "json"]).ok().json()["total"].clone()
    }

    /// The simulator's ledger: every purchase it executed.
    fn ledger(&self) -> Vec<Value> {
        get_json(self.inspect, "/_sim/ledger")
            .as_array()
            .unwrap()
            .clone()
    }

    /// `simrotor ledger-check` against the simulator's ledger: it must reconcile.
    #[track_caller]
    fn assert_ledger_reconciled(&self) {
        let url = format!("http://127.0.0.1:{}/_sim/ledger", self.inspect);
        let check = self.s.run(&["ledger-check", "--ledger", &url]);
        assert!(
            check.code == 0 && check.stdout.contains("Ledger reconciled"),
            "{}\n{}",
            check.stdout,
            check.stderr
        );
    }

    /// The SMS the simulator sent to `msisdn`, latest first (what the phone shows).
    fn sms(&self, msisdn: &str) -> Vec<String> {
        get_json(self.inspect, &format!("/_sim/sms?username={msisdn}"))
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["message"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The code of the latest SMS `msisdn` received.
    fn latest_code(&self, msisdn: &str) -> String {
        code_in(&self.sms(msisdn)[0])
    }

    /// The runtime's `GET /otp/waiting`; empty while it does not answer yet.
    fn waiting(&self) -> Vec<Value> {
        match http_get(self.control, "/otp/waiting") {
            Some((200, body)) => serde_json::from_str::<Value>(&body)
                .unwrap()
                .as_array()
                .unwrap()
                .clone(),
            _ => Vec::new(),
        }
    }

    /// Waits until `msisdn` waits for its login OTP on a server (its wait started: it has a
    /// deadline) and has received `sms` SMS; the server's port.
    fn wait_for_login_otp(&self, msisdn: &str, sms: usize) -> u16 {
        wait_for(&format!("{msisdn} to wait for its OTP #{sms}"), || {
            let w = self
                .waiting()
                .into_iter()
                .find(|w| w["msisdn"] == msisdn && !w["deadline"].is_null())?;
            assert_eq!(w["purpose"], "login", "{w}");
            (self.sms(msisdn).len() >= sms).then(|| w["server"].as_u64().unwrap() as u16)
        })
    }

    /// `simrotor otp SERVER CODE --control …`, as the operator types it.
    fn otp(&self, server: u16, code: &str) -> Run {
        self.s.run(&[
            "otp",
            &server.to_string(),
            code,
            "--control",
            &format!("127.0.0.1:{}", self.control),
        ])
    }

    /// Every line of the audit trail.
    fn audit(&self) -> Vec<Value> {
        let dir = self.s.path("data/logs");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".jsonl"))
            .collect();
        files.sort();
        files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<Value>>()
            })
            .collect()
    }

    /// Every binding the run opened, as the audit trail tells it, in order.
    fn bindings(&self) -> Vec<BindingSeen> {
        let mut seen: Vec<BindingSeen> = Vec::new();
        for line in self.audit() {
            let f = &line["fields"];
            if f["event"] != "binding" {
                continue;
            }
            let id = f["binding"].as_i64().unwrap();
            let to = f["to"].as_str().unwrap().to_owned();
            match seen.iter_mut().find(|b| b.id == id) {
                Some(b) => b.last = to,
                None => {
                    assert!(f["from"].is_null(), "binding {id} first seen moving: {f}");
                    seen.push(BindingSeen {
                        id,
                        server: f["server"].as_u64().unwrap() as u16,
                        msisdn: f["msisdn"].as_str().unwrap().to_owned(),
                        last: to,
                    });
                }
            }
        }
        seen
    }

    fn bindings_of(&self, msisdn: &str) -> Vec<BindingSeen> {
        self.bindings()
            .into_iter()
            .filter(|b| b.msisdn == msisdn)
            .collect()
    }

    /// Asserts that each number was bound `times` times, each binding ending `end`.
    #[track_caller]
    fn assert_bindings(&self, times: usize, end: &str) {
        for m in &self.numbers {
            let bindings = self.bindings_of(m);
            assert_eq!(bindings.len(), times, "{m}: {bindings:?}");
            for b in &bindings {
                assert_eq!(b.last, end, "{m}: {b:?}");
            }
        }
    }

    /// Neither the PIN nor any OTP code the simulator sent appears in the runtime's log or in
    /// the audit trail's fields.
    #[track_caller]
    fn assert_no_secrets(&self) {
        let mut codes: Vec<String> = Vec::new();
        for m in &self.numbers {
            codes.extend(self.sms(m).iter().map(|s| code_in(s)));
        }
        let audit: String = self
            .audit()
            .iter()
            .map(|l| l["fields"].to_string() + "\n")
            .collect();
        for (name, text) in [("stderr", self.stderr()), ("the audit trail", audit)] {
            assert!(!text.is_empty(), "{name} is empty");
            for line in text.lines() {
                assert!(!line.contains(PIN), "the PIN is in {name}: {line}");
                for run in digit_runs(line) {
                    assert!(
                        !codes.iter().any(|c| c == run),
                        "an OTP code is in {name}: {line}"
                    );
                }
            }
        }
    }

    /// Executed purchases of `msisdn` in the simulator's ledger.
    fn executed(&self, msisdn: &str) -> Vec<Value> {
        self.ledger()
            .into_iter()
            .filter(|e| e["msisdn"] == msisdn)
            .collect()
    }
}

/// `simrotor ARGS` in the scenario's directory, with no SIMROTOR_ variable from the outside.
fn command(s: &Scratch) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simrotor"));
    cmd.current_dir(s.dir.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("SIMROTOR_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// 2. No number is a reseller: each logs in once, is marked NON_RESELLER and logged out, and
///    nothing is bought.
#[test]
fn non_resellers_are_marked_and_logged_out_without_buying() {
    let mut w = World::start(Knobs {
        numbers: 4,
        reseller_rate: 0.0,
        ..Knobs::default()
    });
    w.run_to_the_end();

    for (m, a) in w.accounts() {
        assert_eq!(a["status"], "NON_RESELLER", "{m}: {a}");
        assert_eq!(a["is_reseller"], false, "{m}: {a}");
        assert_eq!(a["last_error"], "NOT_RESELLER", "{m}: {a}");
        assert_eq!(a["attempts"], 0, "{m}: {a}");
    }
    w.assert_bindings(1, "LOGGED_OUT (NOT_RESELLER)");
    for m in &w.numbers {
        assert_eq!(w.sms(m).len(), 1, "{m} logged in once");
    }
    assert!(w.ledger().is_empty(), "{:?}", w.ledger());
    let recap = w.recap();
    assert_eq!(recap["numbers"]["non_reseller"], 4, "{recap}");
    assert_eq!(recap["transactions"]["total"], 0, "{recap}");
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// 3. Every number is blocked by the telco: its one binding fails BLOCKED (no SMS is ever
///    sent), the account is BLOCKED for good, and it is never leased again although login
///    attempts remain.
#[test]
fn blocked_numbers_fail_once_and_are_never_retried() {
    let mut w = World::start(Knobs {
        numbers: 4,
        login: "max_attempts = 3\n",
        blocked_rate: 1.0,
        ..Knobs::default()
    });
    w.run_to_the_end();

    w.assert_accounts("BLOCKED", 0, Some("BLOCKED"));
    w.assert_bindings(1, "FAILED (BLOCKED)");
    for m in &w.numbers {
        assert!(w.sms(m).is_empty(), "{m} was sent an SMS");
    }
    assert!(w.ledger().is_empty());
    let recap = w.recap();
    assert_eq!(recap["numbers"]["blocked"], 4, "{recap}");
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// 4. The operator types a wrong code: `simrotor otp` delivers it (exit 0: the runtime takes
///    it; only the server can tell it is wrong), the server refuses it, a fresh OTP is sent and
///    waited for; the right code then logs the number in and it buys until exhausted.
#[test]
fn a_wrong_code_gets_a_fresh_otp_and_the_right_one_logs_in() {
    let mut w = World::start(Knobs {
        servers: 1,
        numbers: 1,
        otp: "source = \"operator\"\ntimeout = \"30s\"\n",
        forward_sms: false,
        ..Knobs::default()
    });
    w.spawn_run();
    let m = w.numbers[0].clone();

    let port = w.wait_for_login_otp(&m, 1);
    assert_eq!(port, w.ports[0]);
    let real = w.latest_code(&m);
    let wrong = if real == "000000" { "000001" } else { "000000" };
    let typed = w.otp(port, wrong).ok();
    assert!(
        typed.stdout.contains(&format!("OTP to server {port}")),
        "{}",
        typed.stdout
    );

    // Refused by the server: a second SMS, and the same server waits again.
    let again = w.wait_for_login_otp(&m, 2);
    assert_eq!(again, port);
    let right = w.latest_code(&m);
    w.otp(port, &right).ok();
    w.assert_exit_ok();

    w.assert_accounts("DONE", 0, Some("EXHAUSTED"));
    assert_eq!(
        w.log_count("The OTP was refused; requesting a fresh one."),
        1
    );
    assert_eq!(w.sms(&m).len(), 2);
    w.assert_bindings(1, "LOGGED_OUT (EXHAUSTED)");
    // 15,000: 647 then 646.
    assert_eq!(w.executed(&m).len(), 2, "{:?}", w.ledger());
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// 5. With the forwarder off, the operator sees which servers wait (`GET /otp/waiting`,
///    `simrotor servers`) and types each code with `simrotor otp`; a code for a server that
///    does not wait is refused with a clear message and a failure exit.
#[test]
fn the_operator_types_each_code_and_a_server_not_waiting_is_refused() {
    // Three servers for two numbers: once both numbers wait, the third server never will.
    let mut w = World::start(Knobs {
        servers: 3,
        numbers: 2,
        otp: "source = \"operator\"\ntimeout = \"30s\"\n",
        forward_sms: false,
        ..Knobs::default()
    });
    w.spawn_run();
    let numbers = w.numbers.clone();
    let mut waiting: BTreeMap<String, u16> = BTreeMap::new();
    for m in &numbers {
        waiting.insert(m.clone(), w.wait_for_login_otp(m, 1));
    }
    let busy: Vec<u16> = waiting.values().copied().collect();
    assert_ne!(busy[0], busy[1], "{waiting:?}");
    let idle = *w.ports.iter().find(|p| !busy.contains(p)).unwrap();

    // What `simrotor servers` shows meanwhile: both waiting for a login OTP, their numbers.
    let servers = wait_for("`simrotor servers` to show both servers waiting", || {
        let servers = w.servers();
        busy.iter()
            .all(|p| servers[p]["state"] == "WAITING_OTP")
            .then_some(servers)
    });
    for (m, port) in &waiting {
        let s = &servers[port];
        assert_eq!(s["msisdn"], m.as_str(), "{s}");
        assert_eq!(s["otp_purpose"], "login", "{s}");
    }
    assert_eq!(servers[&idle]["state"], "IDLE", "{}", servers[&idle]);

    let refused = w.otp(idle, "123456");
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("server {idle} is not waiting for an OTP")),
        "{}",
        refused.stderr
    );

    for (m, port) in &waiting {
        let code = w.latest_code(m);
        let typed = w.otp(*port, &code).ok();
        assert!(
            typed.stdout.contains(&format!("OTP to server {port}")),
            "{}",
            typed.stdout
        );
    }
    w.assert_exit_ok();

    w.assert_accounts("DONE", 0, Some("EXHAUSTED"));
    w.assert_bindings(1, "LOGGED_OUT (EXHAUSTED)");
    for m in &numbers {
        assert_eq!(w.sms(m).len(), 1, "{m}: one login, one code typed");
        assert_eq!(w.executed(m).len(), 2, "{:?}", w.ledger());
    }
    assert!(w.bindings().iter().all(|b| b.server != idle));
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// 6. Nobody types the code: each binding fails OTP_TIMEOUT, its number goes back to the pool
///    with one attempt counted, is bound again, and is FAILED once `login.max_attempts` are
///    spent; then the run ends.
#[test]
fn an_otp_nobody_types_times_out_until_the_attempts_are_spent() {
    let mut w = World::start(Knobs {
        numbers: 2,
        otp: "source = \"operator\"\ntimeout = \"2s\"\n",
        login: "max_attempts = 2\n",
        forward_sms: false,
        ..Knobs::default()
    });
    w.run_to_the_end();

    w.assert_accounts("FAILED", 2, Some("OTP_TIMEOUT"));
    w.assert_bindings(2, "FAILED (OTP_TIMEOUT)");
    for m in &w.numbers {
        assert_eq!(w.sms(m).len(), 2, "{m}: one SMS per login");
    }
    assert_eq!(
        w.log_count("No login OTP came in time; the number goes back to the pool."),
        4
    );
    assert!(w.ledger().is_empty());
    let recap = w.recap();
    assert_eq!(recap["numbers"]["failed"], 2, "{recap}");
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// 7. The servers ask a transaction OTP on a number's first purchase on a device new to it; the
///    simulator's SMS forwarder posts it to the runtime's `/sms`, and every purchase succeeds.
#[test]
fn the_transaction_otp_comes_through_the_sms_forwarder() {
    let mut w = World::start(Knobs {
        numbers: 3,
        pulsa: 27_000,
        otp: "transaction_otp = true\n",
        simulator: "transaction_otp = true\n",
        ..Knobs::default()
    });
    w.run_to_the_end();

    w.assert_accounts("DONE", 0, Some("EXHAUSTED"));
    w.assert_bindings(1, "LOGGED_OUT (EXHAUSTED)");
    for m in &w.numbers {
        let sms = w.sms(m);
        assert_eq!(
            sms.len(),
            2,
            "{m}: the login and one transaction OTP: {sms:?}"
        );
        assert!(
            sms[0].contains("verifikasi transaksi"),
            "{m}: the latest SMS is the transaction OTP: {sms:?}"
        );
        // 27,000: 647, 647, 646, each executed once.
        let executed = w.executed(m);
        assert_eq!(executed.len(), 3, "{executed:?}");
        assert_eq!(executed.last().unwrap()["pulsa_after"], 2_000);
    }
    assert_eq!(
        w.log_count("Waiting for the transaction OTP of a new device."),
        3
    );
    assert_eq!(w.log_count("No transaction OTP came"), 0);
    assert_eq!(w.log_count("The transaction OTP was refused"), 0);
    let recap = w.recap();
    assert_eq!(recap["transactions"]["success"], 9, "{recap}");
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// 8. The login token lasts less than a number's purchases: the runtime logs in again on the
///    same binding, and every number still ends DONE with the ledger reconciled.
#[test]
fn an_expired_token_logs_in_again_and_the_number_finishes() {
    // Eight 647 purchases of several 20 ms calls and a status poll each outlast a 600 ms
    // token; a login and one purchase fit in it many times over.
    let mut w = World::start(Knobs {
        numbers: 2,
        pulsa: 80_000,
        products: "wanted = [\"647\"]\n",
        simulator: "token_ttl = \"600ms\"\n",
        faults: "latency = \"20ms\"\n",
        ..Knobs::default()
    });
    w.run_to_the_end();

    w.assert_accounts("DONE", 0, Some("EXHAUSTED"));
    w.assert_bindings(1, "LOGGED_OUT (EXHAUSTED)");
    for m in &w.numbers {
        let logins = w.sms(m).len();
        assert!(logins > 1, "{m}: the token never expired ({logins} logins)");
        let executed = w.executed(m);
        assert_eq!(executed.len(), 8, "{executed:?}");
        assert_eq!(executed.last().unwrap()["pulsa_after"], 0);
    }
    assert!(w.log_count("The session expired; logging in again.") >= 2);
    let recap = w.recap();
    assert_eq!(recap["pulsa"]["start"], 160_000, "{recap}");
    assert_eq!(recap["pulsa"]["spent"], 160_000, "{recap}");
    assert_eq!(recap["pulsa"]["left"], 0, "{recap}");
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// 9. One server refuses connections for a few seconds from the start: it goes OFFLINE holding
///    its number, comes back, finishes that number on the same binding; nothing is lost and
///    every account ends DONE.
#[test]
fn a_server_down_for_a_while_comes_back_and_loses_no_number() {
    let mut w = World::start(Knobs {
        numbers: 3,
        pulsa: 27_000,
        first_down_for: Some("4s"),
        ..Knobs::default()
    });
    let down = w.ports[0];
    w.run_to_the_end();

    w.assert_accounts("DONE", 0, Some("EXHAUSTED"));
    w.assert_bindings(1, "LOGGED_OUT (EXHAUSTED)");
    let offline = w.audit().into_iter().any(|l| {
        let f = &l["fields"];
        f["event"] == "server" && f["server"] == down && f["to"] == "OFFLINE"
    });
    assert!(offline, "the down server never went OFFLINE");
    assert!(w.log_count("The server answers again; resuming where it was.") >= 1);
    let on_down: Vec<BindingSeen> = w
        .bindings()
        .into_iter()
        .filter(|b| b.server == down)
        .collect();
    assert_eq!(on_down.len(), 1, "{on_down:?}");
    let held = &on_down[0].msisdn;
    let executed = w.executed(held);
    assert_eq!(executed.len(), 3, "{executed:?}");
    assert!(executed.iter().all(|e| e["port"] == down), "{executed:?}");
    assert_eq!(w.ledger().len(), 3 * 3);
    let recap = w.recap();
    assert_eq!(recap["numbers"]["in_use"], 0, "{recap}");
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}

/// A server that answers every request `200 OK` with an HTML page, as a misconfigured proxy
/// would; its port. The thread lives as long as the test binary.
fn garbage_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "<html><body><h1>Welcome to nginx!</h1></body></html>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// 10. A configured server answers only garbage: its bindings fail and hand their numbers back,
///     it is restarted until `restart.max_restarts`, then FAULTED with its reason, while the
///     other servers finish every number and the run ends.
#[test]
fn a_server_that_always_fails_is_faulted_while_the_others_finish() {
    let garbage = garbage_server();
    // The good servers are slow enough (60 ms a call, three purchases a number) that the pool
    // outlasts the garbage server's two rounds of three failed bindings (about 2.5 s).
    let mut w = World::start(Knobs {
        numbers: 10,
        pulsa: 25_000,
        restart: "max_restarts = 1\nwindow = \"10m\"\n",
        faults: "latency = \"60ms\"\n",
        other_ports: vec![garbage],
        ..Knobs::default()
    });
    w.run_to_the_end();

    let servers = w.servers();
    assert_eq!(
        servers[&garbage]["state"], "FAULTED",
        "{:?}",
        servers[&garbage]
    );
    assert!(servers[&garbage]["msisdn"].is_null());
    let reason = servers[&garbage]["state_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("restarted 2 times"),
        "{:?}",
        servers[&garbage]
    );
    for p in &w.ports {
        assert_eq!(servers[p]["state"], "IDLE", "{:?}", servers[p]);
    }
    // The reason, as the audit trail and the log give it.
    let faulted: Vec<Value> = w
        .audit()
        .into_iter()
        .filter(|l| {
            let f = &l["fields"];
            f["event"] == "server" && f["server"] == garbage && f["to"] == "FAULTED"
        })
        .collect();
    assert_eq!(faulted.len(), 1, "{faulted:?}");
    let reason = faulted[0]["fields"]["reason"].as_str().unwrap();
    assert!(reason.contains("restarted 2 times"), "{reason}");
    assert!(
        reason.contains("bindings in a row ended on unusable answers"),
        "{reason}"
    );
    assert_eq!(
        w.log_count("The server failed too often; giving up on it (FAULTED)."),
        1
    );

    // Each binding on it failed PROTOCOL and gave its number back, no attempt counted.
    let on_garbage: Vec<BindingSeen> = w
        .bindings()
        .into_iter()
        .filter(|b| b.server == garbage)
        .collect();
    assert_eq!(on_garbage.len(), 2 * 3, "{on_garbage:?}");
    assert!(
        on_garbage.iter().all(|b| b.last == "FAILED (PROTOCOL)"),
        "{on_garbage:?}"
    );
    w.assert_accounts("DONE", 0, Some("EXHAUSTED"));
    let ledger = w.ledger();
    assert_eq!(ledger.len(), 10 * 3);
    assert!(ledger.iter().all(|e| e["port"] != garbage));
    w.assert_ledger_reconciled();
    w.assert_no_secrets();
}
