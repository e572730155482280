//! What the scenarios share: a whole runtime (Supervisor, ServerActors, AccountPool, Driver,
//! OtpHub, admin API) on its own temporary SQLite database, driving the simulator on
//! ephemeral ports; numbers picked by their simulated profile; polling with a deadline; and the
//! database held against the simulator's ledger.

use std::sync::Arc;
use std::time::Duration;

use simrotor_config::{Config, OtpSource, Ports, ServerSpec};
use simrotor_domain::{AccountState, BatchId, Email, Msisdn, Pin, Rupiah, ServerState, TrxStatus};
use simrotor_persistence::entity::binding;
use simrotor_persistence::{
    AccountFilter, AccountRow, NewAccount, Purchase, ServerRow, Store, StoreOptions, Synchronous,
};
use simrotor_runtime::start::{RunOptions, Running, start};
use simrotor_simulator::{LedgerEntry, NumberProfile, Simulator, SimulatorConfig, SimulatorHandle};
use simrotor_slot::{CallGate, HttpOptions, HttpSlotClient, SlotClient};
use simrotor_test_support::{PATIENCE, number_with_prefix, reconcile_store};
pub use simrotor_test_support::{free_port, free_ports, wait_for};
use tempfile::TempDir;

use crate::helpers::logs;

/// How long any wait may take before the test fails: generous for a loaded 2-core machine; a
/// passing test never waits for it.
pub const DEADLINE: Duration = PATIENCE.deadline;

pub const BATCH: &str = "SCN";

/// A simulator whose every number is a reseller, never blocked, with `pulsa` each; purchases
/// take one "processing" status poll.
pub fn sim_config(pulsa: u64) -> SimulatorConfig {
    SimulatorConfig {
        pulsa_min: Rupiah::new(pulsa),
        pulsa_max: Rupiah::new(pulsa),
        reseller_rate: 1.0,
        blocked_rate: 0.0,
        status_polls: 1,
        ..SimulatorConfig::default()
    }
}

/// The runtime's configuration with every wait short: fast status polls, restarts and probes
/// within tens of milliseconds. The ports are set by [`World::start`].
pub fn runtime_config() -> Config {
    let mut config = Config::default();
    config.products.status_poll_min = Duration::from_millis(20);
    config.products.status_poll_max = Duration::from_millis(100);
    config.products.status_deadline = Duration::from_secs(30);
    config.restart.backoff_min = Duration::from_millis(20);
    config.restart.backoff_max = Duration::from_millis(100);
    config.servers.timeout = Duration::from_secs(10);
    config.otp.timeout = Duration::from_secs(30);
    config
}

/// `count` numbers from `0815<base…>` whose simulated profile satisfies `wanted`.
pub fn numbers_where(
    sim: &SimulatorConfig,
    base: u32,
    count: usize,
    wanted: impl Fn(&NumberProfile) -> bool,
) -> Vec<Msisdn> {
    let found: Vec<Msisdn> = (base..base + 10_000)
        .map(|n| number_with_prefix("0815", n))
        .filter(|m| wanted(&NumberProfile::derive(sim, m)))
        .take(count)
        .collect();
    assert_eq!(found.len(), count, "not enough numbers with that profile");
    found
}

/// The HTTP client as `simrotor run` builds it (its repeats gated by the lease), with the
/// repeat backoff shortened.
pub fn http_client(spec: &ServerSpec, gate: CallGate) -> Arc<dyn SlotClient> {
    let options = HttpOptions {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..HttpOptions::from_spec(spec)
    };
    Arc::new(HttpSlotClient::with_options(options).unwrap().gated(gate))
}

/// What a scenario runs.
pub struct Setup {
    pub sim: SimulatorConfig,
    pub config: Config,
    pub servers: usize,
    pub numbers: Vec<Msisdn>,
    /// The simulator posts each SMS to the runtime's admin API (zero-touch OTPs).
    pub forward_sms: bool,
    /// Stop when the pool is empty and every server is idle.
    pub until_empty: bool,
    /// The server (by index among the simulator's ports) reached through this double instead.
    pub double: Option<(usize, Arc<dyn SlotClient>)>,
    /// Serve these ports instead of ephemeral ones (a fault knob names its port up front).
    pub ports: Option<Vec<u16>>,
}

impl Setup {
    pub fn new(sim: SimulatorConfig, servers: usize, numbers: Vec<Msisdn>) -> Self {
        Setup {
            sim,
            config: runtime_config(),
            servers,
            numbers,
            forward_sms: true,
            until_empty: true,
            double: None,
            ports: None,
        }
    }

    /// One server on `port`, reached through `double` (a scripted slot over that port).
    pub fn one_scripted(
        sim: SimulatorConfig,
        numbers: Vec<Msisdn>,
        port: u16,
        double: impl SlotClient + 'static,
    ) -> Self {
        let mut setup = Setup::new(sim, 1, numbers);
        setup.ports = Some(vec![port]);
        setup.double = Some((0, Arc::new(double)));
        setup
    }
}

/// A running runtime against a running simulator.
pub struct World {
    pub sim: SimulatorHandle,
    pub store: Store,
    pub running: Running,
    pub ports: Vec<u16>,
    pub http: reqwest::Client,
    _dir: TempDir,
}

impl World {
    pub async fn start(setup: Setup) -> World {
        // Installed before anything logs, so a scenario may look for its own lines.
        let _ = logs();
        let Setup {
            mut sim,
            mut config,
            servers,
            numbers,
            forward_sms,
            until_empty,
            double,
            ports,
        } = setup;
        let admin_addr = if forward_sms {
            let addr = format!("127.0.0.1:{}", free_port());
            sim.sms_forwarder_url = Some(format!("http://{addr}/sms"));
            addr
        } else {
            sim.sms_forwarder_url = None;
            "127.0.0.1:0".to_owned()
        };
        if !forward_sms && config.otp.source == OtpSource::Both {
            config.otp.source = OtpSource::Operator;
        }
        let asked = ports.unwrap_or_else(|| vec![0; servers]);
        assert_eq!(asked.len(), servers);
        let handle = Simulator::start(sim, "127.0.0.1", &asked).await.unwrap();
        let ports: Vec<u16> = handle.addrs().iter().map(|a| a.port()).collect();
        config.servers.host = "127.0.0.1".to_owned();
        config.servers.ports = Ports::List(ports.clone());
        config.servers.overrides.clear();
        config.validate().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&StoreOptions {
            synchronous: Synchronous::Normal,
            ..StoreOptions::new(format!("sqlite://{}/scenario.db", dir.path().display()))
        })
        .await
        .unwrap();
        let accounts: Vec<NewAccount> = numbers
            .iter()
            .enumerate()
            .map(|(i, m)| NewAccount {
                msisdn: m.clone(),
                email: Email::parse(&format!("buyer{i}@example.com")).unwrap(),
                pin: Some(Pin::parse("1234").unwrap()),
            })
            .collect();
        let inserted = store
            .import_accounts(&BatchId::parse(BATCH).unwrap(), &accounts)
            .await
            .unwrap();
        assert_eq!(inserted, numbers.len() as u64);

        let double = double.map(|(i, client)| (ports[i], client));
        let factory = move |spec: &ServerSpec, gate| -> Result<Arc<dyn SlotClient>, String> {
            match &double {
                Some((port, client)) if *port == spec.port => Ok(client.clone()),
                _ => Ok(http_client(spec, gate)),
            }
        };
        let options = RunOptions {
            until_empty,
            batch: None,
            admin_addr: Some(admin_addr),
        };
        let running = start(&config, store.clone(), Arc::new(factory), options)
            .await
            .unwrap();
        World {
            sim: handle,
            store,
            running,
            ports,
            http: crate::helpers::client(),
            _dir: dir,
        }
    }

    /// Waits (with the deadline) for the run to end: with `until_empty`, when the pool is empty
    /// and every server is idle (or faulted).
    pub async fn finished(&mut self) {
        tokio::time::timeout(DEADLINE, &mut self.running.done)
            .await
            .expect("the run did not end before the deadline")
            .unwrap();
    }

    /// Stops the admin API; the store, the ledger, the simulator (still serving) and
    /// the guard of the database's directory (the store is readable while it lives).
    pub async fn stop(mut self) -> (Store, Vec<LedgerEntry>, SimulatorHandle, TempDir) {
        if let Some(admin) = self.running.admin.take() {
            admin.stop().await;
        }
        let ledger = self.sim.ledger();
        (self.store, ledger, self.sim, self._dir)
    }

    /// GETs `path` from the admin API; the JSON answer.
    pub async fn get_admin(&self, path: &str) -> serde_json::Value {
        let admin = self.running.admin.as_ref().unwrap();
        let resp = self.http.get(admin.url(path)).send().await.unwrap();
        resp.json().await.unwrap()
    }

    /// POSTs `body` to the admin API; the status and the JSON answer.
    pub async fn post_admin(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let admin = self.running.admin.as_ref().unwrap();
        let resp = self
            .http
            .post(admin.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn server_row(&self, port: u16) -> ServerRow {
        server_row(&self.store, port).await
    }
}

pub async fn server_row(store: &Store, port: u16) -> ServerRow {
    store
        .servers()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.port == port)
        .unwrap()
}

pub async fn port_of_server_id(store: &Store, id: i64) -> u16 {
    store
        .servers()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap()
        .port
}

pub async fn account(store: &Store, msisdn: &Msisdn) -> AccountRow {
    store
        .accounts(&AccountFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.msisdn == *msisdn)
        .unwrap()
}

pub async fn accounts(store: &Store) -> Vec<AccountRow> {
    store.accounts(&AccountFilter::default()).await.unwrap()
}

/// Every binding's stored row, oldest first, columns as written.
pub async fn binding_rows(store: &Store) -> Vec<binding::Model> {
    let mut rows = Vec::new();
    for b in store.binding_records().await.unwrap() {
        rows.push(store.binding_row(b.id).await.unwrap().unwrap());
    }
    rows
}

/// The stored rows of one number's bindings, oldest first, columns as written (tokens and
/// states as the table holds them).
pub async fn bindings_of(store: &Store, msisdn: &Msisdn) -> Vec<binding::Model> {
    binding_rows(store)
        .await
        .into_iter()
        .filter(|b| b.msisdn == msisdn.as_str())
        .collect()
}

/// Every purchase row, whatever its status.
pub async fn all_purchases(store: &Store) -> Vec<Purchase> {
    let mut rows = Vec::new();
    for status in TrxStatus::ALL {
        rows.extend(store.purchases_with_status(*status).await.unwrap());
    }
    rows.sort_by_key(|p| p.id);
    rows
}

/// The purchases made on one server so far.
pub async fn purchases_on(store: &Store, server_id: i64) -> Vec<Purchase> {
    all_purchases(store)
        .await
        .into_iter()
        .filter(|p| p.server_id == server_id)
        .collect()
}

/// Every way the database disagrees with what the servers executed, in words: the simulator's
/// one reconcile (each executed purchase exactly one SUKSES/SUSPECT row on its number at its
/// price, no row claiming a purchase the ledger lacks, none left PROCESSING, each binding's
/// pulsa adding up).
pub async fn ledger_problems(store: &Store, ledger: &[LedgerEntry]) -> Vec<String> {
    let report = reconcile_store(store, ledger).await;
    report.discrepancies.iter().map(|d| d.to_string()).collect()
}

/// The pulsa left after buying greedily from the default wanted list (650, 647, 646) for a
/// number that starts below 100,000, the price of 650: 647 then 646.
pub fn left_after_default_products(start: u64) -> u64 {
    start % 5_000
}

/// Asserts that nothing is left half-done: no account LEASED, no binding open, no purchase
/// PROCESSING, and every server back to IDLE.
pub async fn assert_all_settled(store: &Store) {
    let accounts = accounts(store).await;
    assert!(
        accounts.iter().all(|a| a.status != AccountState::Leased),
        "{accounts:?}"
    );
    let bindings = store.binding_records().await.unwrap();
    assert!(
        bindings.iter().all(|b| b.ended_at.is_some()),
        "{bindings:?}"
    );
    assert!(
        store
            .purchases_with_status(TrxStatus::Processing)
            .await
            .unwrap()
            .is_empty()
    );
    let servers = store.servers().await.unwrap();
    assert!(
        servers.iter().all(|s| s.state == ServerState::Idle),
        "{servers:?}"
    );
}

/// The log lines that carry `needle` and name `msisdn` (tests run in parallel and share the
/// capture, so a test counts only the lines of its own numbers).
pub fn log_lines(needle: &str, msisdn: &Msisdn) -> usize {
    let text = logs().text();
    let name = format!("msisdn={msisdn}");
    text.lines()
        .filter(|l| l.contains(needle) && l.contains(&name))
        .count()
}
