//! `simrotor run`: the runtime in the foreground (for systemd and containers). The first
//! Ctrl-C or SIGTERM stops every server at its next step boundary and exits 0 once they have
//! persisted; a second one exits at once, and the next start recovers.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use simrotor_config::{Config, ServerSpec};
use simrotor_domain::BatchId;
use simrotor_runtime::start::{RunOptions, Running, start};
use simrotor_runtime::supervisor::Shutdown;
use simrotor_slot::{CallGate, HttpSlotClient, SlotClient};

/// How long a stop waits for the servers to reach a step boundary.
const GRACE: Duration = Duration::from_secs(30);

pub fn http_client(spec: &ServerSpec, gate: CallGate) -> Result<Arc<dyn SlotClient>, String> {
    HttpSlotClient::new(spec)
        .map(|c| Arc::new(c.gated(gate)) as Arc<dyn SlotClient>)
        .map_err(|e| e.to_string())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Waits for the run to end, or for a stop signal (then a graceful stop; a second signal exits).
pub async fn until_done(running: &mut Running) -> anyhow::Result<()> {
    tokio::select! {
        _ = &mut running.done => return Ok(()),
        _ = stop_signal() => {}
    }
    eprintln!("Stopping: every server finishes its current step (Ctrl-C again to exit at once).");
    running.supervisor.do_send(Shutdown);
    tokio::select! {
        _ = &mut running.done => Ok(()),
        _ = stop_signal() => {
            eprintln!("Exiting now; the next start recovers.");
            std::process::exit(130);
        }
        _ = tokio::time::sleep(GRACE) => anyhow::bail!("the servers did not stop within {GRACE:?}; the next start recovers"),
    }
}

/// A clean stop gives the servers' leases back (nobody takes them over: they wait for this
/// runtime's next start). Best effort: unreleased leases expire by themselves.
pub async fn release_servers(running: &Running) {
    match running
        .keeper
        .send(simrotor_runtime::ownership::Release)
        .await
    {
        Ok(Ok(n)) => tracing::info!(released = n, "Released the servers' leases."),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Could not release the servers' leases; they expire by themselves.")
        }
        Err(e) => {
            tracing::warn!(error = %e, "Could not release the servers' leases; they expire by themselves.")
        }
    }
}

pub async fn run(
    config: Config,
    until_empty: bool,
    batch: Option<BatchId>,
    admin_addr: String,
) -> anyhow::Result<ExitCode> {
    // Several runtimes may share the database: each drives only the servers whose lease it
    // holds (`[ownership]`), and a second one of the same name is refused at start.
    let store = simrotor_persistence::Store::connect(&super::store_options(&config))
        .await
        .with_context(|| format!("cannot open the database {}", config.database.url.masked()))?;
    let options = RunOptions {
        until_empty,
        batch,
        admin_addr: Some(admin_addr),
    };
    let mut running = start(&config, store.clone(), Arc::new(http_client), options)
        .await
        .context("cannot start the runtime")?;
    // Written once the runtime is registered: a second one, refused, never overwrites it.
    let pidfile = super::daemon::Pidfile::create(&config)?;
    tracing::info!(owner = running.owner.as_str(), "The runtime is running.");
    until_done(&mut running).await?;
    if let Some(api) = running.admin.take() {
        api.stop().await;
    }
    // Released before the pool closes, so a restart right after finds its servers free.
    release_servers(&running).await;
    store.close().await?;
    drop(pidfile);
    Ok(ExitCode::SUCCESS)
}
