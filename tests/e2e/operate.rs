//! The operator's day with the real binary: `start` the runtime in the background, `status`,
//! `servers`, `pause`/`resume`/`drain` a server while it buys, a second runtime on the same
//! database refused, `stop`; and suspect purchases listed and resolved, with who and why in the
//! audit trail.

use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Patience, Run, Scratch, assert_has, free_port, free_ports, port_list};

/// How long the operator's steps may take to show, and how often `simrotor` is asked.
const PATIENCE: Patience = Patience::new(Duration::from_secs(60), Duration::from_millis(100));

/// A simulator process and a scratch directory whose config points the runtime at it; on drop
/// the background runtime (if any) and the simulator are killed.
struct Day {
    s: Scratch,
    sim: Child,
    ports: Vec<u16>,
}

impl Drop for Day {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.s.path("data/simrotor.pid")) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        let _ = self.sim.kill();
        let _ = self.sim.wait();
    }
}

impl Day {
    fn new(servers: usize, numbers: usize, sim: &str) -> Day {
        let s = Scratch::new();
        let ports = free_ports(servers);
        let admin = free_port();
        let list = port_list(&ports);
        s.write(
            "config.toml",
            format!(
                "[database]\nurl = \"sqlite://data/t.db\"\nsynchronous = \"normal\"\n\
                 [servers]\nports = [{list}]\ntimeout = \"5s\"\n\
                 [login]\ndefault_pin = \"246810\"\n\
                 [products]\nwanted = [\"647\"]\nstatus_poll_min = \"20ms\"\nstatus_poll_max = \"100ms\"\n\
                 [admin]\nlisten = \"127.0.0.1:{admin}\"\n\
                 [daemon]\ndir = \"data\"\n\
                 [logging]\ndir = \"data/logs\"\n\
                 [simulator]\nseed = 5\nreseller_rate = 1.0\nblocked_rate = 0.0\nstatus_polls = 1\n\
                 sms_forwarder_url = \"http://127.0.0.1:{admin}/sms\"\n{sim}"
            ),
        );
        let sim = s.start_sim(&ports);
        let csv: String = (0..numbers)
            .map(|i| format!("0813{:08},n{i}@example.com\n", 40_000 + i))
            .collect();
        s.write("batch.csv", csv);
        s.run(&["import", "batch.csv", "--batch", "DAY"]).ok();
        Day { s, sim, ports }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.s.run(args)
    }

    fn servers(&self) -> Vec<Value> {
        self.run(&["servers", "--format", "json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    fn server(&self, port: u16) -> Value {
        self.servers()
            .into_iter()
            .find(|s| s["port"] == port)
            .unwrap()
    }

    /// Polls `simrotor servers` until `what` holds for `port`; the view that satisfied it.
    fn wait_for(&self, what: &str, port: u16, ok: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let found = PATIENCE.poll_blocking(|| {
            let view = self.server(port);
            if ok(&view) {
                return Some(view);
            }
            last = view;
            None
        });
        found.unwrap_or_else(|| panic!("{what}: never happened; last {last}"))
    }

    fn audit(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(self.s.path("data/logs")).unwrap() {
            text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
        text
    }
}

#[test]
fn the_runtime_runs_in_the_background_and_the_operator_steers_its_servers() {
    // 60,000 pulsa a number, 647 at 20 ms a call: each number buys for a while.
    let day = Day::new(
        2,
        6,
        "pulsa_min = 60000\npulsa_max = 60000\n[simulator.faults]\nlatency = \"20ms\"\n",
    );
    let port = day.ports[0];

    let status = day.run(&["status"]);
    assert_eq!(status.code, 3, "{}", status.stdout);
    assert_has(&status.stdout, "not running");

    let started = day.run(&["start"]).ok();
    assert!(
        started
            .stdout
            .contains("Started the simrotor runtime (pid "),
        "{}",
        started.stdout
    );
    assert!(day.s.exists("data/simrotor.pid"));
    let pid = day.s.read("data/simrotor.pid").trim().to_owned();

    // A second runtime on the same database is refused, whichever way it is launched.
    let again = day.run(&["start"]);
    assert_ne!(again.code, 0);
    assert_has(&again.stderr, "already runs");
    let foreground = day.run(&["run"]);
    assert_ne!(foreground.code, 0);
    assert!(
        foreground
            .stderr
            .contains("another simrotor runtime already runs on this database"),
        "{}",
        foreground.stderr
    );

    let status = day.run(&["status"]).ok();
    assert!(
        status.stdout.contains(&format!("simrotor runs: pid {pid}")),
        "{}",
        status.stdout
    );

    // The live view comes from the runtime: every server, with its mode.
    let servers = day.servers();
    assert_eq!(servers.len(), 2);
    assert!(servers.iter().all(|s| s["mode"] == "run"), "{servers:?}");

    // `watch` piped (not a terminal) prints one snapshot of the same view, with the day's totals.
    let watch = day.run(&["watch"]).ok();
    for port in &day.ports {
        assert!(watch.stdout.contains(&port.to_string()), "{}", watch.stdout);
    }
    assert_has(&watch.stdout, "today: ");
    assert!(
        !watch.stdout.contains('\u{1b}'),
        "no escape codes when piped"
    );

    // Pause: held at the next step boundary, the number kept, nothing bought meanwhile.
    day.wait_for("a first purchase", port, |s| {
        s["purchases"].as_u64() > Some(0)
    });
    let paused = day
        .run(&[
            "pause",
            &port.to_string(),
            "--who",
            "budi",
            "--why",
            "SIM check",
        ])
        .ok();
    assert_has(&paused.stdout, "pause accepted");
    let view = day.wait_for("PAUSED", port, |s| s["state"] == "PAUSED");
    assert!(view["msisdn"].is_string(), "the number stays bound: {view}");
    std::thread::sleep(Duration::from_millis(500));
    let still = day.server(port);
    assert_eq!(
        still["purchases"], view["purchases"],
        "a paused server bought"
    );
    assert_eq!(still["msisdn"], view["msisdn"]);

    day.run(&["resume", &port.to_string()]).ok();
    day.wait_for("going on after resume", port, |s| s["state"] != "PAUSED");
    let twice = day.run(&["resume", &port.to_string()]);
    assert_ne!(twice.code, 0);
    assert_has(&twice.stderr, "not paused");

    // Drain: the server finishes its number and takes no other.
    day.run(&["drain", &port.to_string()]).ok();
    let drained = day.wait_for("drained", port, |s| {
        s["state"] == "PAUSED" && s["msisdn"].is_null()
    });
    assert_eq!(drained["mode"], "drain");
    day.run(&["resume", &port.to_string()]).ok();

    let stopped = day.run(&["stop"]).ok();
    assert_has(&stopped.stdout, "gracefully");
    assert!(!day.s.exists("data/simrotor.pid"), "the pidfile is removed");
    let status = day.run(&["status"]);
    assert_eq!(status.code, 3, "{}", status.stdout);
    let offline = day.run(&["servers"]).ok();
    assert_has(&offline.stderr, "No runtime answers");
    let watch = day.run(&["watch"]);
    assert_ne!(
        watch.code, 0,
        "a piped watch with nothing running must fail"
    );
    assert_has(&watch.stderr, "no simrotor runtime answers");
    let pause = day.run(&["pause", &port.to_string()]);
    assert_ne!(pause.code, 0);
    assert_has(&pause.stderr, "no simrotor runtime answers");

    // Every action is in the audit trail with who and why.
    let audit = day.audit();
    let line = audit
        .lines()
        .find(|l| l.contains("\"action\":\"pause\""))
        .unwrap_or_else(|| panic!("no pause in the audit trail"));
    assert!(line.contains("\"who\":\"budi\""), "{line}");
    assert!(line.contains("\"why\":\"SIM check\""), "{line}");
    assert!(audit.contains("\"action\":\"drain\""));
    assert!(
        audit.contains("\"to\":\"PAUSED\""),
        "server moves are audited"
    );
}

#[test]
fn suspect_purchases_are_listed_and_resolved_with_who_and_why() {
    // Every purchase finishes without a voucher: SUSPECT.
    let day = Day::new(
        1,
        1,
        "pulsa_min = 10000\npulsa_max = 10000\nsuspect_rate = 1.0\n",
    );
    day.run(&["run", "--until-empty"]).ok();

    // No runtime: the list comes from the database; resolving needs the runtime.
    let listed = day.run(&["suspects", "--format", "json"]).ok();
    assert_has(&listed.stderr, "No runtime answers");
    let suspects = listed.json();
    let suspects = suspects.as_array().unwrap();
    assert_eq!(suspects.len(), 1, "{suspects:?}");
    assert_eq!(suspects[0]["product"], "647");
    assert_eq!(suspects[0]["price"], 10000);
    assert!(suspects[0]["resolved_at"].is_null());
    let id = suspects[0]["id"].as_i64().unwrap().to_string();
    let offline = day.run(&["resolve", &id, "--who", "budi", "--why", "seen"]);
    assert_ne!(offline.code, 0);

    day.run(&["start"]).ok();
    let table = day.run(&["suspects"]).ok();
    assert_has(&table.stdout, "647");
    let resolved = day
        .run(&[
            "resolve",
            &id,
            "--who",
            "budi",
            "--why",
            "voucher seen in the portal",
        ])
        .ok();
    assert_has(&resolved.stdout, "Resolved suspect purchase");
    let twice = day.run(&["resolve", &id, "--who", "budi", "--why", "again"]);
    assert_ne!(twice.code, 0);
    assert_has(&twice.stderr, "already resolved");
    let none = day.run(&["suspects"]).ok();
    assert_has(&none.stdout, "No unresolved suspect purchases.");
    let all = day
        .run(&["suspects", "--all", "--format", "json"])
        .ok()
        .json();
    assert_eq!(all[0]["resolved_by"], "budi");
    assert_eq!(all[0]["resolution"], "voucher seen in the portal");
    // The evidence stays as it was recorded.
    assert_eq!(all[0]["pulsa_akhir"], suspects[0]["pulsa_akhir"]);

    // An import wakes the running runtime's idle servers: the new number is worked at once.
    day.s.write("more.csv", "081399990001,late@example.com\n");
    let imported = day.run(&["import", "more.csv", "--batch", "LATE"]).ok();
    assert_has(&imported.stdout, "Told the running runtime");
    let mut accounts = Value::Null;
    let worked = PATIENCE.poll_blocking(|| {
        accounts = day
            .run(&["accounts", "--batch", "LATE", "--format", "json"])
            .ok()
            .json();
        (accounts[0]["status"] == "DONE").then_some(())
    });
    assert!(
        worked.is_some(),
        "the new number was never worked: {accounts}"
    );
    day.run(&["stop"]).ok();

    let audit = day.audit();
    let line = audit
        .lines()
        .find(|l| l.contains("\"action\":\"resolve\""))
        .unwrap_or_else(|| panic!("no resolution in the audit trail"));
    assert!(line.contains("voucher seen in the portal"), "{line}");
}
