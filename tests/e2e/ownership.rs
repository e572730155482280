//! Several runtimes on one database, as the operator runs them: two `simrotor run` processes
//! with ten servers each of one simulator (its own process), on a SQLite file or a PostgreSQL
//! database. One is killed with SIGKILL, or frozen with SIGSTOP past its lease's expiry; the
//! PostgreSQL server is restarted under both. Afterwards the run has finished, every purchase the
//! servers executed is exactly one row, no number was bound twice at once, and the frozen
//! runtime's audit trail shows it stopped driving the servers the other one took.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::helpers::{Patience, Scratch, free_ports, port_list};

const NUMBERS: usize = 160;
const HEARTBEAT: Duration = Duration::from_millis(300);
/// Long enough that a heartbeat late under the whole suite's load on 2 cores does not lose a lease.
const EXPIRY: Duration = Duration::from_millis(3000);

/// The PostgreSQL tests run one at a time: one of them restarts the server.
static POSTGRES: Mutex<()> = Mutex::new(());

/// A database of its own on the server of `SIMROTOR_TEST_POSTGRES_URL`, dropped at the end.
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    fn new() -> Option<(Self, String)> {
        let admin = std::env::var("SIMROTOR_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        let name = format!(
            "simrotor_e2e_{}",
            std::process::id() as u64 * 1000 + rand_suffix()
        );
        psql(&admin, &format!("CREATE DATABASE \"{name}\""));
        let url = match admin.rfind('/') {
            Some(at) => format!("{}/{name}", &admin[..at]),
            None => panic!("SIMROTOR_TEST_POSTGRES_URL names no database: {admin}"),
        };
        Some((Self { admin, name }, url))
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_micros() as u64
        % 1000
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-q", "-t", "-A", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Fleet {
    s: Scratch,
    sim: Child,
    /// Every runtime started, killed when the fleet goes (a failed test leaves none running).
    started: std::cell::RefCell<Vec<u32>>,
    ports: Vec<u16>,
    db_url: String,
    _pg: Option<PgDatabase>,
}

impl Fleet {
    /// Twenty servers (30 ms a call), runtimes `a` (the first ten) and `b` (the last ten), both
    /// with takeover, and the numbers imported.
    fn new(postgres: bool) -> Option<Fleet> {
        let (pg, db_url) = if postgres {
            let (pg, url) = PgDatabase::new()?;
            (Some(pg), url)
        } else {
            (None, "sqlite://data/fleet.db".to_owned())
        };
        let s = Scratch::new();
        let ports = free_ports(20);
        let admins = free_ports(2);
        let common = |name: &str, ports: &[u16]| {
            format!(
                "[database]\nurl = \"{db_url}\"\nsynchronous = \"normal\"\n\
                 [servers]\nports = [{}]\ntimeout = \"5s\"\n\
                 [login]\ndefault_pin = \"246810\"\n\
                 [products]\nstatus_poll_min = \"20ms\"\nstatus_poll_max = \"200ms\"\n\
                 [restart]\nbackoff_min = \"50ms\"\nbackoff_max = \"500ms\"\n\
                 [ownership]\nname = \"{name}\"\nheartbeat = \"{}ms\"\nexpiry = \"{}ms\"\ntakeover = true\n\
                 [logging]\ndir = \"logs-{name}\"\n[daemon]\ndir = \"data-{name}\"\n\
                 [admin]\nlisten = \"127.0.0.1:{}\"\n\
                 [simulator]\nseed = 11\npulsa_min = 20000\npulsa_max = 60000\n\
                 sms_forwarder_url = \"http://127.0.0.1:{}/sms\"\n\
                 sms_forwarder_also = [\"http://127.0.0.1:{}/sms\"]\n\
                 [simulator.faults]\nlatency = \"30ms\"\n",
                port_list(ports),
                HEARTBEAT.as_millis(),
                EXPIRY.as_millis(),
                if name == "b" { admins[1] } else { admins[0] },
                admins[0],
                admins[1],
            )
        };
        s.write("sim.toml", common("sim", &ports));
        s.write("a.toml", common("a", &ports[..10]));
        s.write("b.toml", common("b", &ports[10..]));
        let sim = Command::new(env!("CARGO_BIN_EXE_simrotor"))
            .args(["--config", "sim.toml", "sim"])
            .current_dir(s.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Patience::new(Duration::from_secs(30), Duration::from_millis(100)).wait_for_blocking(
            "the simulator to answer",
            || {
                ports
                    .iter()
                    .all(|p| crate::helpers::sim_answers(*p))
                    .then_some(())
            },
        );
        let csv: String = (0..NUMBERS)
            .map(|i| format!("0813{:08},f{i}@example.com\n", 40_000 + i))
            .collect();
        s.write("batch.csv", csv);
        s.run(&[
            "--config",
            "a.toml",
            "import",
            "batch.csv",
            "--batch",
            "FLEET",
        ])
        .ok();
        Some(Fleet {
            s,
            sim,
            started: Default::default(),
            ports,
            db_url,
            _pg: pg,
        })
    }

    /// `simrotor run --until-empty` as runtime `name`, its stderr in `name.log`.
    fn runtime(&self, name: &str) -> Child {
        let log = std::fs::File::create(self.s.path(&format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_simrotor"))
            .args(["--config", &format!("{name}.toml"), "run", "--until-empty"])
            .current_dir(self.s.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.started.borrow_mut().push(child.id());
        child
    }

    /// The servers view as runtime `name`'s admin API answers it.
    fn servers(&self, name: &str) -> Vec<serde_json::Value> {
        let run = self.s.run(&[
            "--config",
            &format!("{name}.toml"),
            "servers",
            "--format",
            "json",
        ]);
        serde_json::from_str::<Vec<serde_json::Value>>(&run.stdout).unwrap_or_default()
    }

    /// Waits until runtime `name` holds `n` servers, each bound to a number that bought at
    /// least once on `at_least` of them: both are well into the run.
    fn wait_working(&self, name: &str, n: usize, at_least: usize) {
        self.wait_for(
            name,
            &format!("hold {n} servers and buy on {at_least}"),
            60,
            |views| {
                let held = views.iter().filter(|v| v["owner"] == name).count();
                let buying = views
                    .iter()
                    .filter(|v| v["owner"] == name && v["purchases"].as_u64().unwrap_or(0) > 0)
                    .count();
                held == n && buying >= at_least
            },
        );
    }

    /// Waits up to `secs` for runtime `name`'s servers view to satisfy `done`; otherwise fails
    /// with who holds what and the end of that runtime's log.
    fn wait_for(
        &self,
        name: &str,
        what: &str,
        secs: u64,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) {
        let reached = Patience::new(Duration::from_secs(secs), Duration::from_millis(50))
            .poll_blocking(|| done(&self.servers(name)).then_some(()));
        if reached.is_none() {
            let log = self.s.read(&format!("{name}.log"));
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "runtime {name} did not {what} within {secs} s:\n{:?}\n{}",
                self.servers(name)
                    .iter()
                    .map(|v| (
                        v["port"].clone(),
                        v["owner"].clone(),
                        v["purchases"].clone()
                    ))
                    .collect::<Vec<_>>(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }

    /// Runtimes `a` and `b`, once each holds its ten servers and buys on `buying` of them.
    fn both_working(&self, buying: usize) -> (Child, Child) {
        let (a, b) = (self.runtime("a"), self.runtime("b"));
        self.wait_working("a", 10, buying);
        self.wait_working("b", 10, buying);
        (a, b)
    }

    /// Waits until runtime `name` holds all twenty servers; how long that took.
    fn wait_holds_all(&self, name: &str, since: Instant) -> Duration {
        self.wait_for(name, "take all twenty servers", 30, |views| {
            views.len() == 20 && views.iter().all(|v| v["owner"] == name)
        });
        since.elapsed()
    }

    fn wait_success(&self, run: &mut Child, name: &str) {
        let status = Patience::new(Duration::from_secs(180), Duration::from_millis(100))
            .poll_blocking(|| run.try_wait().unwrap());
        let log = self.s.read(&format!("{name}.log"));
        let Some(status) = status else {
            let _ = run.kill();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "runtime {name} did not finish:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        };
        assert!(status.success(), "runtime {name} failed:\n{log}");
    }

    /// The checks after the run: the ledger reconciled, every number ended, no number bound on
    /// two servers at once.
    fn check(self) {
        let ledger = format!("http://127.0.0.1:{}/_sim/ledger", self.ports[0]);
        let check = self
            .s
            .run(&["--config", "a.toml", "ledger-check", "--ledger", &ledger]);
        assert!(
            check.stdout.contains("Ledger reconciled"),
            "{}\n{}",
            check.stdout,
            check.stderr
        );
        self.s
            .assert_every_account_ended(&["--config", "a.toml"], NUMBERS);
        let bindings = self.bindings();
        let mut by_account: std::collections::BTreeMap<i64, Vec<(i64, i64, Option<i64>)>> =
            Default::default();
        for (account, server, created, ended) in bindings {
            assert!(
                ended.is_some(),
                "binding of account {account} on {server} still open"
            );
            by_account
                .entry(account)
                .or_default()
                .push((created, server, ended));
        }
        for (account, mut spans) in by_account {
            spans.sort();
            for pair in spans.windows(2) {
                let (earlier, later) = (pair[0], pair[1]);
                assert!(
                    earlier.2.unwrap_or(i64::MAX) <= later.0,
                    "account {account} bound on servers {} and {} at once",
                    earlier.1,
                    later.1
                );
            }
        }
    }

    /// Every binding: account, server, opened and ended (µs since the epoch).
    fn bindings(&self) -> Vec<(i64, i64, i64, Option<i64>)> {
        let sql = "SELECT account_id, server_id, created_at, ended_at FROM bindings";
        let url = if self.db_url.starts_with("sqlite") {
            format!("sqlite://{}", self.s.path("data/fleet.db").display())
        } else {
            self.db_url.clone()
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            use sea_orm::{ConnectionTrait, Database, Statement};
            let db = Database::connect(&url).await.unwrap();
            let backend = db.get_database_backend();
            let rows = db
                .query_all_raw(Statement::from_string(backend, sql))
                .await
                .unwrap();
            let micros = |r: &sea_orm::QueryResult, col: &str| -> Option<i64> {
                r.try_get::<Option<chrono::DateTime<chrono::Utc>>>("", col)
                    .ok()
                    .flatten()
                    .map(|t| t.timestamp_micros())
                    .or_else(|| r.try_get::<Option<i64>>("", col).ok().flatten())
            };
            let out = rows
                .iter()
                .map(|r| {
                    (
                        r.try_get::<i64>("", "account_id").unwrap(),
                        r.try_get::<i64>("", "server_id").unwrap(),
                        micros(r, "created_at").unwrap(),
                        micros(r, "ended_at"),
                    )
                })
                .collect();
            db.close().await.unwrap();
            out
        })
    }

    /// Every JSON line of runtime `name`'s audit trail.
    fn audit(&self, name: &str) -> Vec<serde_json::Value> {
        let dir = self.s.path(&format!("logs-{name}"));
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            lines.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
        }
        lines
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for pid in self.started.borrow().iter() {
            // Ended already, mostly; a test that failed midway leaves them running otherwise.
            // Only a process still working in this fleet's directory is ours (pids are reused).
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
            if cwd.as_deref() != Some(self.s.dir.path()) {
                continue;
            }
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.sim.kill();
        let _ = self.sim.wait();
    }
}

fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal}");
}

/// Each refused write names a holder whose fencing counter is past the one it carried.
fn assert_refused_for_a_later_holder<'a>(lines: impl Iterator<Item = &'a serde_json::Value>) {
    for l in lines {
        assert!(
            l["fields"]["holder_fence"].as_i64() > l["fields"]["fence"].as_i64(),
            "{l}"
        );
    }
}

fn kill_9_and_take_over(postgres: bool) {
    let _one = postgres.then(|| POSTGRES.lock().unwrap_or_else(|e| e.into_inner()));
    let Some(fleet) = Fleet::new(postgres) else {
        eprintln!("skipped: SIMROTOR_TEST_POSTGRES_URL is not set");
        return;
    };
    let (mut a, mut b) = fleet.both_working(3);
    a.kill().unwrap();
    a.wait().unwrap();
    let killed = Instant::now();
    let took = fleet.wait_holds_all("b", killed);
    eprintln!("runtime b held a's servers {took:?} after the kill");
    // Within the lease's expiry and one heartbeat (here much sooner: on one host a runtime
    // whose process is gone is not waited out).
    assert!(took < EXPIRY + HEARTBEAT, "took {took:?}");
    fleet.wait_success(&mut b, "b");
    let log = fleet.s.read("b.log");
    assert!(
        log.contains("Resuming the open binding."),
        "b resumed none of a's open bindings:\n{log}"
    );
    fleet.check();
}

#[test]
fn a_killed_runtimes_servers_are_taken_over_on_sqlite() {
    kill_9_and_take_over(false);
}

#[test]
fn a_killed_runtimes_servers_are_taken_over_on_postgres() {
    kill_9_and_take_over(true);
}

#[test]
fn a_frozen_runtime_does_not_drive_the_servers_another_took_over() {
    let Some(fleet) = Fleet::new(false) else {
        return;
    };
    let (mut a, mut b) = fleet.both_working(3);
    signal(&a, "-STOP");
    let stopped = Instant::now();
    let stopped_at = chrono::Utc::now();
    // The process lives: b waits the lease out, then takes the servers over.
    let took = fleet.wait_holds_all("b", stopped);
    // Not before the lease expired (it was renewed at most one heartbeat before the freeze),
    // and at the next heartbeat after (with the time to ask the view).
    assert!(took >= EXPIRY - HEARTBEAT, "taken over after only {took:?}");
    assert!(
        took < EXPIRY + HEARTBEAT + Duration::from_millis(500),
        "taken over only after {took:?}"
    );
    signal(&a, "-CONT");
    let continued_at = chrono::Utc::now();
    fleet.wait_success(&mut b, "b");
    fleet.wait_success(&mut a, "a");

    let lines = fleet.audit("a");
    let since = |at: chrono::DateTime<chrono::Utc>| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| {
                l["timestamp"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t > at)
            })
            .collect()
    };
    // Nothing is written while frozen: every line after the freeze is after SIGCONT.
    let after = since(stopped_at);
    let lost = after
        .iter()
        .filter(|l| l["fields"]["event"] == "lease" && l["fields"]["to"] == "LOST")
        .count();
    assert_eq!(lost, 10, "a did not record losing its ten servers");
    // A commit that landed just before the freeze may log its line just after SIGCONT; past
    // that moment a step of a would be a commit after the takeover, which the fence refuses.
    for l in since(continued_at + chrono::Duration::milliseconds(200)) {
        let event = l["fields"]["event"].as_str().unwrap_or("");
        assert!(
            !["binding", "purchase"].contains(&event),
            "a recorded a step on a server it no longer held: {l}"
        );
    }
    let refused: Vec<&&serde_json::Value> = after
        .iter()
        .filter(|l| l["fields"]["event"] == "fenced")
        .collect();
    eprintln!(
        "{} late writes of a were refused by the fence",
        refused.len()
    );
    assert_refused_for_a_later_holder(refused.into_iter().copied());
    fleet.check();
}

#[test]
fn postgres_restarted_under_two_runtimes() {
    let _one = POSTGRES.lock().unwrap_or_else(|e| e.into_inner());
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let cluster = Command::new("pg_lsclusters")
        .arg("-h")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .and_then(|out| {
            out.lines()
                .find(|l| l.contains(" 5432 ") && l.contains("online"))
                .map(|l| {
                    l.split_whitespace()
                        .take(2)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
        });
    let (Some(cluster), true) = (cluster, root) else {
        eprintln!("skipped: restarting PostgreSQL needs root and the local cluster on 5432");
        return;
    };
    let Some(fleet) = Fleet::new(true) else {
        eprintln!("skipped: SIMROTOR_TEST_POSTGRES_URL is not set");
        return;
    };
    let (mut a, mut b) = fleet.both_working(3);
    let restart = Command::new("pg_ctlcluster")
        .args([&cluster[0], &cluster[1], "restart"])
        .status()
        .unwrap();
    assert!(restart.success());
    fleet.wait_success(&mut a, "a");
    fleet.wait_success(&mut b, "b");
    for name in ["a", "b"] {
        let lines = fleet.audit(name);
        assert_refused_for_a_later_holder(
            lines.iter().filter(|l| l["fields"]["event"] == "fenced"),
        );
    }
    fleet.check();
}

#[test]
fn status_lists_the_live_runtimes_and_the_servers_view_their_owners() {
    let Some(fleet) = Fleet::new(false) else {
        return;
    };
    let (mut a, mut b) = fleet.both_working(1);
    let status = fleet.s.run(&["--config", "a.toml", "status"]).ok();
    for name in ["a", "b"] {
        assert!(
            status
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{name} on "))
                    && l.contains("holds 10")
                    && l.contains("last heartbeat")),
            "{}",
            status.stdout
        );
    }
    let table = fleet.s.run(&["--config", "b.toml", "servers"]).ok();
    assert!(table.stdout.contains("owner"), "{}", table.stdout);
    // A second runtime named `a` is refused while `a` runs.
    let again = fleet.s.run(&["--config", "a.toml", "run"]);
    assert_ne!(again.code, 0);
    assert!(
        again
            .stderr
            .contains("another simrotor runtime already runs on this database ('a'"),
        "{}",
        again.stderr
    );
    fleet.wait_success(&mut a, "a");
    fleet.wait_success(&mut b, "b");
    fleet.check();
}
