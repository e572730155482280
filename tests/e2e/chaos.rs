//! Crash safety of the real binary: `simrotor run` against a separate `simrotor sim` process
//! (whose ledger outlives every crash), killed with SIGKILL at many moments and restarted, or
//! stopped with SIGTERM. Afterwards every purchase the servers executed is exactly one row,
//! no row claims a purchase the servers lack, every binding's pulsa adds up, and every number
//! ended in a terminal state.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{Patience, Scratch, free_port, free_ports, port_list};

const NUMBERS: usize = 120;

struct World {
    s: Scratch,
    sim: Child,
    ports: Vec<u16>,
    control: u16,
}

impl World {
    /// A simulator of 4 servers (20 ms a call) as its own process, and the numbers in the pool:
    /// enough work that every kill lands in the middle of it.
    fn new() -> World {
        Self::with_faults("")
    }

    /// The same, with more `[simulator.faults]` lines.
    fn with_faults(faults: &str) -> World {
        let s = Scratch::new();
        let ports = free_ports(4);
        let control = free_port();
        let list = port_list(&ports);
        s.write(
            "config.toml",
            format!(
                "[database]\nurl = \"sqlite://data/t.db\"\n\
                 [servers]\nports = [{list}]\ntimeout = \"5s\"\n\
                 [login]\ndefault_pin = \"246810\"\n\
                 [products]\nstatus_poll_min = \"20ms\"\nstatus_poll_max = \"200ms\"\n\
                 [restart]\nbackoff_min = \"50ms\"\nbackoff_max = \"1s\"\n\
                 [simulator]\nseed = 9\nsms_forwarder_url = \"http://127.0.0.1:{control}/sms\"\n\
                 [simulator.faults]\nlatency = \"20ms\"\n{faults}"
            ),
        );
        let sim = s.start_sim(&ports);
        let csv: String = (0..NUMBERS)
            .map(|i| format!("0813{:08},n{i}@example.com\n", 20_000 + i))
            .collect();
        s.write("batch.csv", csv);
        s.run(&["import", "batch.csv", "--batch", "CHAOS"]).ok();
        World {
            s,
            sim,
            ports,
            control,
        }
    }

    /// `simrotor run`, its log to `run.log`: a pipe nobody reads would fill up and block it.
    fn runtime(&self) -> Child {
        let log = std::fs::File::create(self.s.path("run.log")).unwrap();
        Command::new(env!("CARGO_BIN_EXE_simrotor"))
            .args([
                "run",
                "--until-empty",
                "--control",
                &format!("127.0.0.1:{}", self.control),
            ])
            .current_dir(self.s.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// A last run to the end, then the checks.
    fn finish_and_check(self) {
        self.finish_and_check_keeping(|_| {});
    }

    /// The same, then `more` on the scratch directory before it goes.
    fn finish_and_check_keeping(mut self, more: impl FnOnce(&Scratch)) {
        let mut last = self.runtime();
        let patience = Patience::new(Duration::from_secs(90), Duration::from_millis(100));
        let status = self.s.wait_exit(&mut last, patience);
        assert!(
            status.success(),
            "the last run failed: {}",
            self.s.read("run.log")
        );

        let ledger = format!("http://127.0.0.1:{}/_sim/ledger", self.ports[0]);
        let check = self.s.run(&["ledger-check", "--ledger", &ledger]);
        assert!(
            check.stdout.contains("Ledger reconciled"),
            "{}\n{}",
            check.stdout,
            check.stderr
        );
        assert_eq!(check.code, 0);

        self.s.assert_every_account_ended(&[], NUMBERS);
        more(&self.s);
        self.sim.kill().unwrap();
        self.sim.wait().unwrap();
    }
}

#[test]
fn kill_9_at_many_moments_never_loses_or_duplicates_a_purchase() {
    kill_9_twenty_times(World::new());
}

#[test]
fn kill_9_with_lost_answers_and_server_errors_still_reconciles() {
    kill_9_twenty_times(World::with_faults(
        "lost_answer_rate = 0.1\nerror_rate = 0.05\n",
    ));
}

fn kill_9_twenty_times(world: World) {
    let mut killed = 0;
    for kill in 0..20u64 {
        let mut run = world.runtime();
        // Spread the kills over start-up, login and purchases.
        std::thread::sleep(Duration::from_millis(120 + (kill * 173) % 650));
        if run.try_wait().unwrap().is_none() {
            run.kill().unwrap();
            killed += 1;
        }
        run.wait().unwrap();
    }
    assert!(
        killed >= 20,
        "only {killed} runs were killed while working: the test proves less than it says"
    );
    world.finish_and_check();
}

#[test]
fn sigterm_stops_at_a_step_boundary_and_exits_cleanly() {
    let world = World::new();
    let mut run = world.runtime();
    std::thread::sleep(Duration::from_millis(700));
    let pid = run.id().to_string();
    let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(term.success());
    let status = Patience::new(Duration::from_secs(40), Duration::from_millis(50))
        .wait_for_blocking("SIGTERM to stop the runtime", || run.try_wait().unwrap());
    let stderr = world.s.read("run.log");
    if !stderr.contains("Stopping") {
        // It may have finished the whole pool before the signal came; then it exits 0 too.
        assert!(status.success(), "{stderr}");
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
    world.finish_and_check();
}

#[test]
fn the_run_keeps_a_json_audit_trail_without_secrets() {
    let world = World::new();
    let dir = world.s.path("data/logs");
    world.finish_and_check_keeping(|s| {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().ends_with(".jsonl")),
            "{files:?}"
        );
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let bound = lines
            .iter()
            .find(|l| l["fields"]["message"] == "Bound the next number.")
            .expect("a binding in the audit trail");
        for key in ["server", "binding", "msisdn", "batch"] {
            assert!(bound["fields"].get(key).is_some(), "{key} missing: {bound}");
        }
        assert!(
            lines
                .iter()
                .any(|l| l["fields"]["message"] == "The purchase is final."
                    && l["fields"].get("trx").is_some())
        );
        // As a value of its own (`"246810"`, `pin=246810`), not inside a longer id or a
        // timestamp's fraction where six digits turn up by chance (`23:12:52.246810Z`).
        let alone = text.match_indices("246810").any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + 6..].chars().next();
            let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.');
            !glued(before) && !glued(after)
        });
        assert!(!alone, "the PIN reached the audit trail");
        let _ = s;
    });
}
