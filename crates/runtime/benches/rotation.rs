//! The runtime's numbers on this machine: 20 servers on SQLite (synchronous=FULL) against the
//! in-process simulator, until the pool is empty. Reports purchases/s and numbers/s at zero
//! latency; at 50 ms per call, the fraction of the ideal (servers ÷ the time one purchase needs:
//! its 6 calls — balance, trx_idv, 3 status polls, balance — at 50 ms each); the rotation gap
//! from one binding's end to the next binding's start on the same server (p50, p99); peak RSS of
//! the process (runtime and simulator together).
//!
//! `cargo bench -p simrotor-runtime --bench rotation`. A report, not a test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot set up stops

use std::sync::Arc;
use std::time::{Duration, Instant};

use simrotor_config::{Config, ConfigPin, DatabaseUrl, Ports};
use simrotor_domain::{BatchId, Email, Msisdn, Pin};
use simrotor_persistence::{NewAccount, Store, StoreOptions, Synchronous};
use simrotor_runtime::start::{RunOptions, start};
use simrotor_simulator::Simulator;
use simrotor_slot::{HttpSlotClient, SlotClient};
use simrotor_test_support::free_port;

const SERVERS: usize = 20;
const CALLS_PER_PURCHASE: f64 = 6.0;

struct Figures {
    purchases: usize,
    numbers: u64,
    secs: f64,
    gaps_ms: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn run(latency: Duration, accounts: u32) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = DatabaseUrl::new(format!("sqlite://{}/bench.db", dir.path().display()));
    config.simulator.seed = 17;
    config.simulator.faults.latency = latency;
    let admin = format!("127.0.0.1:{}", free_port());
    config.simulator.sms_forwarder_url = Some(format!("http://{admin}/sms"));
    config.products.status_poll_min = Duration::from_millis(20);
    config.products.status_poll_max = Duration::from_millis(200);
    config.login.default_pin = Some(ConfigPin(Pin::parse("246810").unwrap()));
    let sim = Simulator::start(config.simulator.clone(), "127.0.0.1", &[0; SERVERS])
        .await
        .unwrap();
    config.servers.ports = Ports::List(sim.addrs().iter().map(|a| a.port()).collect());
    config.validate().unwrap();

    let mut options = StoreOptions::new(config.database.url.expose());
    options.synchronous = Synchronous::Full;
    let store = Store::connect(&options).await.unwrap();
    let rows: Vec<NewAccount> = (0..accounts)
        .map(|i| NewAccount {
            msisdn: Msisdn::parse(&format!("0814{:08}", 30_000 + i)).unwrap(),
            email: Email::parse(&format!("b{i}@example.com")).unwrap(),
            pin: None,
        })
        .collect();
    store
        .import_accounts(&BatchId::parse("BENCH").unwrap(), &rows)
        .await
        .unwrap();

    let client = |spec: &simrotor_config::ServerSpec| -> Result<Arc<dyn SlotClient>, String> {
        HttpSlotClient::new(spec)
            .map(|c| Arc::new(c) as Arc<dyn SlotClient>)
            .map_err(|e| e.to_string())
    };
    let started = Instant::now();
    let options = RunOptions {
        until_empty: true,
        batch: None,
        admin_addr: Some(admin.to_string()),
    };
    let running = start(&config, store.clone(), &client, options)
        .await
        .unwrap();
    running.done.await.unwrap();
    let secs = started.elapsed().as_secs_f64();

    let bindings = store.binding_records().await.unwrap();
    let mut gaps_ms = Vec::new();
    for server in bindings
        .iter()
        .map(|b| b.server_id)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let mine: Vec<_> = bindings.iter().filter(|b| b.server_id == server).collect();
        for pair in mine.windows(2) {
            if let Some(ended) = pair[0].ended_at {
                gaps_ms.push(
                    (pair[1].created_at - ended).num_microseconds().unwrap_or(0) as f64 / 1000.0,
                );
            }
        }
    }
    gaps_ms.sort_by(f64::total_cmp);
    let purchases = sim.ledger().len();
    let numbers = store.recap(None).await.unwrap().total.numbers.total;
    if let Some(api) = running.admin {
        api.stop().await;
    }
    sim.stop().await;
    Figures {
        purchases,
        numbers,
        secs,
        gaps_ms,
    }
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let system = actix_rt::System::new();
    system.block_on(async {
        println!("simrotor runtime benchmark: {SERVERS} servers, SQLite synchronous=FULL, {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        let zero = run(Duration::ZERO, 400).await;
        println!(
            "latency 0 ms:  {} purchases in {:.1} s = {:.1} purchases/s; {} numbers = {:.2} numbers/s",
            zero.purchases,
            zero.secs,
            zero.purchases as f64 / zero.secs,
            zero.numbers,
            zero.numbers as f64 / zero.secs
        );
        println!(
            "               rotation gap (end of a binding → next binding on that server): p50 {:.1} ms, p99 {:.1} ms ({} gaps)",
            percentile(&zero.gaps_ms, 0.5),
            percentile(&zero.gaps_ms, 0.99),
            zero.gaps_ms.len()
        );
        let slow = run(Duration::from_millis(50), 100).await;
        let rate = slow.purchases as f64 / slow.secs;
        let ideal = SERVERS as f64 / (CALLS_PER_PURCHASE * 0.050);
        println!(
            "latency 50 ms: {} purchases in {:.1} s = {:.1} purchases/s; ideal {:.1}/s → {:.0} % of ideal; {:.2} numbers/s",
            slow.purchases,
            slow.secs,
            rate,
            ideal,
            100.0 * rate / ideal,
            slow.numbers as f64 / slow.secs
        );
        println!(
            "               rotation gap p50 {:.1} ms, p99 {:.1} ms",
            percentile(&slow.gaps_ms, 0.5),
            percentile(&slow.gaps_ms, 0.99)
        );
        println!("peak RSS (runtime + simulator in one process): {:.0} MB", peak_rss_mb());
    });
}
