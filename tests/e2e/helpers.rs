//! A scratch directory with a config file, and a way to run the binary in it.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output};
use std::time::Duration;

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

impl Scratch {
    /// A directory whose `config.toml` keeps the database inside it.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Scratch { dir };
        s.write(
            "config.toml",
            "[database]\nurl = \"sqlite://data/test.db\"\nsynchronous = \"normal\"\n",
        );
        s
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).expect("write scratch file");
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Runs `simrotor ARGS` here, with no SIMROTOR_ variable from the outside leaking in.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_simrotor"));
        cmd.args(args).current_dir(self.dir.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("SIMROTOR_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("spawn simrotor"))
    }
}

pub use simrotor_test_support::{Patience, free_port, free_ports};

/// Asserts `text` (a run's stdout or stderr) carries `needle`, showing it whole otherwise.
#[track_caller]
pub fn assert_has(text: &str, needle: &str) {
    assert!(text.contains(needle), "{text}");
}

/// Asserts `text` does not carry `needle`, showing it whole otherwise.
#[track_caller]
pub fn assert_lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "{text}");
}

/// `ports` as the items of a TOML list: `9900, 9901`.
pub fn port_list(ports: &[u16]) -> String {
    let items: Vec<String> = ports.iter().map(u16::to_string).collect();
    items.join(", ")
}

/// Whether a simulator answers on `port` (its ledger page, which no fault knob touches).
pub fn sim_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let _ = write!(stream, "GET /_sim/ledger HTTP/1.0\r\n\r\n");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.")
}

impl Scratch {
    /// `simrotor sim` here (its own process, so its ledger outlives the runtime's crashes),
    /// returned once every one of `ports` answers.
    pub fn start_sim(&self, ports: &[u16]) -> std::process::Child {
        let sim = Command::new(env!("CARGO_BIN_EXE_simrotor"))
            .arg("sim")
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Patience::new(Duration::from_secs(30), Duration::from_millis(100))
            .wait_for_blocking("the simulator to answer", || {
                ports.iter().all(|p| sim_answers(*p)).then_some(())
            });
        sim
    }

    /// Waits with `patience` for the runtime `run` (its stderr in `run.log`) to exit by itself;
    /// past the deadline kills it and fails the test with `simrotor servers` and the log's end.
    pub fn wait_exit(&self, run: &mut Child, patience: Patience) -> ExitStatus {
        if let Some(status) = patience.poll_blocking(|| run.try_wait().unwrap()) {
            return status;
        }
        let _ = run.kill();
        let _ = run.wait();
        let servers = self.run(&["servers"]);
        let log = self.read("run.log");
        let lines: Vec<&str> = log.lines().collect();
        panic!(
            "the run did not end within {:?}:\n{}\n{}",
            patience.deadline,
            servers.stdout,
            lines[lines.len().saturating_sub(40)..].join("\n")
        );
    }
}

impl Scratch {
    /// Asserts that `simrotor [CONFIG_ARGS] accounts` lists `numbers` accounts, every one in a
    /// terminal state.
    #[track_caller]
    pub fn assert_every_account_ended(&self, config_args: &[&str], numbers: usize) {
        let mut args = config_args.to_vec();
        args.extend(["accounts", "--format", "json", "--limit", "100000"]);
        let accounts = self.run(&args).ok().json();
        let accounts = accounts.as_array().unwrap();
        assert_eq!(accounts.len(), numbers);
        for a in accounts {
            let status = a["status"].as_str().unwrap();
            assert!(
                ["DONE", "NON_RESELLER", "BLOCKED", "FAILED"].contains(&status),
                "an account did not end: {a}"
            );
        }
    }
}
