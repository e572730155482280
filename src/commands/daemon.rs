//! Running in the background: `start` launches `simrotor run` detached from the terminal, `stop`
//! ends it gracefully, `status` says whether it runs and how it is. The runtime itself writes the
//! pidfile (so `run` under systemd is seen by `status` too) and holds the database's runtime
//! claim (so a second one on the same database refuses to start, whoever launched it).

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;
use simrotor_config::Config;
use simrotor_domain::BatchId;

use crate::admin_client::{AdminClient, AdminError};

/// How long `start` waits for the runtime's admin API to answer.
const START_WAIT: Duration = Duration::from_secs(30);
/// How long `stop` waits: the runtime's own grace period, plus its shutdown.
const STOP_WAIT: Duration = Duration::from_secs(40);

pub fn pidfile_path(config: &Config) -> PathBuf {
    config.daemon.dir.join("simrotor.pid")
}

/// The pidfile of a running runtime; removed when the runtime ends normally.
#[derive(Debug)]
pub struct Pidfile(PathBuf);

impl Pidfile {
    pub fn create(config: &Config) -> anyhow::Result<Self> {
        let path = pidfile_path(config);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
        fs::write(&path, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write the pidfile {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        // Only our own: a runtime started after us may have written its pid here.
        if read_pid(&self.0) == Some(std::process::id()) {
            let _ = fs::remove_file(&self.0);
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live runtime of this very executable (a stale pidfile's pid may have been
/// reused by anything, even a `journalctl -u simrotor`): its executable is ours and it was
/// started with `run`.
fn alive(pid: u32) -> bool {
    let Ok(exe) = fs::read_link(format!("/proc/{pid}/exe")) else {
        return false;
    };
    let ours = std::env::current_exe()
        .ok()
        .and_then(|p| fs::canonicalize(p).ok());
    // A binary replaced by an upgrade reads as "PATH (deleted)": the same file still.
    let exe = PathBuf::from(exe.to_string_lossy().trim_end_matches(" (deleted)"));
    if ours.is_some_and(|ours| ours != exe) {
        return false;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cmdline.split(|b| *b == 0).any(|arg| arg == b"run") && !zombie(pid)
}

fn zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s == "Z"))
        })
        .unwrap_or(false)
}

/// The pid of the runtime the pidfile names, if it still runs.
fn running_pid(config: &Config) -> Option<u32> {
    read_pid(&pidfile_path(config)).filter(|pid| alive(*pid))
}

#[derive(Debug, Deserialize)]
struct Health {
    status: String,
    pid: Option<u32>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    uptime_secs: Option<u64>,
    #[serde(default)]
    servers: std::collections::BTreeMap<String, u64>,
    #[serde(default)]
    waiting_otp: u64,
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub async fn start(
    config: &Config,
    config_path: Option<&Path>,
    admin: Option<&str>,
    until_empty: bool,
    batch: Option<BatchId>,
) -> anyhow::Result<ExitCode> {
    if let Some(pid) = running_pid(config) {
        anyhow::bail!(
            "a simrotor runtime already runs (pid {pid}, pidfile {}); `simrotor stop` first",
            pidfile_path(config).display()
        );
    }
    let dir = &config.daemon.dir;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let open_log = |name: &str| {
        let path = dir.join(name);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))
            .map(|f| (f, path))
    };
    let (out, _) = open_log("runtime.out")?;
    let (err, err_path) = open_log("runtime.err")?;
    let err_len = fs::metadata(&err_path).map(|m| m.len()).unwrap_or(0);
    let exe = std::env::current_exe().context("cannot find the simrotor executable")?;
    let mut cmd = Command::new(exe);
    if let Some(path) = config_path {
        let path = fs::canonicalize(path)
            .with_context(|| format!("cannot find the configuration {}", path.display()))?;
        cmd.arg("--config").arg(path);
    }
    if let Some(admin) = admin {
        cmd.arg("--admin").arg(admin);
    }
    cmd.arg("run");
    if until_empty {
        cmd.arg("--until-empty");
    }
    if let Some(batch) = batch {
        cmd.arg("--batch").arg(batch.as_str());
    }
    // Its own process group: Ctrl-C in this terminal, or closing it, does not reach it.
    use std::os::unix::process::CommandExt as _;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let mut child = cmd.spawn().context("cannot launch the runtime")?;
    let pid = child.id();
    let client = AdminClient::new(config, admin)?;
    let deadline = Instant::now() + START_WAIT;
    loop {
        if let Some(status) = child.try_wait().context("cannot watch the runtime")? {
            let new_err = fs::read_to_string(&err_path)
                .map(|t| t.get(err_len as usize..).unwrap_or("").to_owned())
                .unwrap_or_default();
            let last: Vec<&str> = new_err.lines().rev().take(5).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            anyhow::bail!(
                "the runtime exited at once ({status}); {}:\n{}",
                err_path.display(),
                last.join("\n")
            );
        }
        if let Ok(health) = client.get::<Health>("/health").await
            && health.pid == Some(pid)
        {
            println!(
                "Started the simrotor runtime (pid {pid}); admin API and live page at {}/. Logs: {} and {}.",
                client.url(""),
                err_path.display(),
                config.logging.dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() > deadline {
            // Not left running unseen: a runtime nobody can reach would hold the database.
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "the runtime (pid {pid}) did not answer at {} within {START_WAIT:?}, so it was stopped; see {}",
                client.addr(),
                err_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn stop(config: &Config) -> anyhow::Result<ExitCode> {
    let Some(pid) = running_pid(config) else {
        println!(
            "No simrotor runtime is running (no live pid in {}).",
            pidfile_path(config).display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let target = nix::unistd::Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
    nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM)
        .with_context(|| format!("cannot signal the runtime (pid {pid})"))?;
    println!("Stopping the runtime (pid {pid}): every server finishes its current step…");
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > STOP_WAIT {
            anyhow::bail!(
                "the runtime (pid {pid}) is still running after {STOP_WAIT:?}; `kill -9 {pid}` ends it at once (the next start recovers)"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err_path = config.daemon.dir.join("runtime.err");
    let last = tail(&err_path, 3);
    let clean = !last.contains("error:");
    println!(
        "Stopped after {:.1} s{}.",
        started.elapsed().as_secs_f64(),
        if clean {
            ", gracefully".to_owned()
        } else {
            format!("; its last words ({}):\n{last}", err_path.display())
        }
    );
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every runtime on the database that has not stopped cleanly: name, host, pid, the servers it
/// is configured for, how many leases it holds and its last heartbeat (live or gone).
async fn print_runtimes(config: &Config) {
    let listed = async {
        let store = super::open_store(config).await?;
        // The live ones, and the dead ones still named on a lease (their servers may be taken).
        let runtimes: Vec<_> = store
            .runtimes()
            .await?
            .into_iter()
            .filter(|r| r.is_live(config.ownership.expiry) || r.holds > 0)
            .collect();
        store.close().await?;
        anyhow::Ok(runtimes)
    }
    .await;
    match listed {
        Ok(runtimes) if runtimes.is_empty() => {
            println!("Runtimes on this database: none has a lease.");
        }
        Ok(runtimes) => {
            println!("Runtimes on this database:");
            for r in runtimes {
                let age = humantime::format_duration(Duration::from_millis(
                    u64::try_from(r.heartbeat_age_ms.max(0)).unwrap_or(0) / 100 * 100,
                ));
                println!(
                    "  {} on {} (pid {}): servers {}, holds {}, last heartbeat {age} ago{}",
                    r.name,
                    r.host,
                    r.pid,
                    r.servers,
                    r.holds,
                    if r.is_live(config.ownership.expiry) {
                        ""
                    } else {
                        " (gone: its servers are free to take over)"
                    }
                );
            }
        }
        Err(e) => println!("Runtimes on this database: cannot read them ({e:#})."),
    }
}

pub async fn status(config: &Config, client: &AdminClient) -> anyhow::Result<ExitCode> {
    let code = admin_status(config, client).await?;
    print_runtimes(config).await;
    Ok(code)
}

async fn admin_status(config: &Config, client: &AdminClient) -> anyhow::Result<ExitCode> {
    let pid = running_pid(config);
    match client.get::<Health>("/health").await {
        Ok(health) => {
            let since = health
                .started_at
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_else(|| "?".to_owned());
            let up =
                humantime::format_duration(Duration::from_secs(health.uptime_secs.unwrap_or(0)));
            let servers: Vec<String> = health
                .servers
                .iter()
                .map(|(state, n)| format!("{n} {state}"))
                .collect();
            println!(
                "simrotor runs: pid {}, since {since} (up {up}), at {}; health {}.",
                health
                    .pid
                    .or(pid)
                    .map_or_else(|| "?".to_owned(), |p| p.to_string()),
                client.url("/"),
                health.status
            );
            println!(
                "Servers: {}; {} waiting for an OTP.",
                if servers.is_empty() {
                    "none".to_owned()
                } else {
                    servers.join(", ")
                },
                health.waiting_otp
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(AdminError::NotRunning { addr }) => match pid {
            Some(pid) => {
                println!(
                    "A simrotor runtime process exists (pid {pid}) but its admin API does not answer at {addr}: starting, stopping, or listening elsewhere."
                );
                Ok(ExitCode::from(1))
            }
            None => {
                println!("simrotor is not running (nothing answers at {addr}).");
                // As `systemctl status` does: 3 means "not running".
                Ok(ExitCode::from(3))
            }
        },
        Err(e) => Err(e.into()),
    }
}
