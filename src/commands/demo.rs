//! `simrotor demo`: the whole product with zero set-up. A temporary SQLite database, the
//! simulator on free ports posting its SMS to the runtime's admin API (zero-touch OTPs),
//! a generated batch, the runtime until the pool is empty; then the recap, the throughput, and
//! the simulator's ledger held against the database: a mismatch is an error exit.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use simrotor_config::{Config, DatabaseUrl, Ports};
use simrotor_domain::{BatchId, Email, Msisdn};
use simrotor_persistence::{NewAccount, Store};
use simrotor_runtime::start::{RunOptions, start};
use simrotor_simulator::Simulator;

use super::run::{http_client, until_done};
use super::{ledger_check, sim, store_options};
use crate::cli::DemoArgs;
use crate::output::{self};

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

pub async fn run(
    mut config: Config,
    args: DemoArgs,
    admin: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let tmp;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
            tmp.path().to_owned()
        }
    };
    config.database.url = DatabaseUrl::new(format!("sqlite://{}/demo.db", dir.display()));
    let admin_addr = match admin {
        Some(addr) if !addr.ends_with(":0") => addr.to_owned(),
        _ => format!("127.0.0.1:{}", free_port()?),
    };
    sim::apply(&mut config, args.sim.clone());
    if args.no_forwarder {
        config.simulator.sms_forwarder_url = None;
        config.otp.source = simrotor_config::OtpSource::Operator;
    } else {
        config.simulator.sms_forwarder_url = Some(format!("http://{admin_addr}/sms"));
    }
    // A demo shows the flow, not the patience of real status polling.
    config.products.status_poll_min = Duration::from_millis(20);
    config.products.status_poll_max = Duration::from_millis(200);
    config.validate()?;

    let sim = Simulator::start(
        config.simulator.clone(),
        "127.0.0.1",
        &vec![0; usize::from(args.servers)],
    )
    .await
    .context("cannot start the simulator")?;
    let ports: Vec<u16> = sim.addrs().iter().map(|a| a.port()).collect();
    config.servers.host = "127.0.0.1".to_owned();
    config.servers.ports = Ports::List(ports.clone());
    config.servers.overrides.clear();
    config.validate()?;

    let store = Store::connect(&store_options(&config))
        .await
        .context("cannot create the demo database")?;
    let batch = BatchId::parse("DEMO").context("batch id")?;
    let accounts: Vec<NewAccount> = (0..args.accounts)
        .map(|i| -> anyhow::Result<NewAccount> {
            Ok(NewAccount {
                msisdn: Msisdn::parse(&format!("0813{:08}", 10_000 + i))?,
                email: Email::parse(&format!("demo{i}@example.com"))?,
                pin: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    store.import_accounts(&batch, &accounts).await?;
    config.login.default_pin = Some(simrotor_config::ConfigPin(simrotor_domain::Pin::parse(
        "246810",
    )?));
    eprintln!(
        "Demo: {} servers on 127.0.0.1:{}…{}, {} numbers in batch DEMO, database {}.",
        ports.len(),
        ports.first().copied().unwrap_or(0),
        ports.last().copied().unwrap_or(0),
        args.accounts,
        dir.join("demo.db").display()
    );

    let started = Instant::now();
    let options = RunOptions {
        until_empty: true,
        batch: None,
        admin_addr: Some(admin_addr),
    };
    let mut running = start(&config, store.clone(), &http_client, options)
        .await
        .context("cannot start the runtime")?;
    if let Some(api) = &running.admin {
        eprintln!("Admin API and live page: {}", api.url("/"));
    }
    let progress_store = store.clone();
    let total = u64::from(args.accounts);
    let progress = actix_rt::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(r) = progress_store.recap(None).await {
                let n = &r.total.numbers;
                let ended = n.done + n.non_reseller + n.blocked + n.failed;
                eprint!(
                    "\r  numbers {ended}/{total} ended, {} in use ({} waiting OTP); purchases {} sukses, {} suspect, {} gagal   ",
                    n.in_use,
                    n.waiting_otp,
                    r.total.transactions.success,
                    r.total.transactions.suspect,
                    r.total.transactions.failed
                );
                let _ = std::io::stderr().flush();
            }
        }
    });
    let outcome = until_done(&mut running).await;
    progress.abort();
    eprintln!();
    outcome?;
    let elapsed = started.elapsed();
    if let Some(api) = running.admin.take() {
        api.stop().await;
    }

    let recap = store.recap(None).await?;
    println!("Recap:");
    output::print(
        crate::cli::Format::Table,
        &super::recap::RecapView(recap.clone()),
    )?;
    let ledger = sim.ledger();
    let secs = elapsed.as_secs_f64().max(f64::EPSILON);
    println!(
        "Throughput: {} purchases executed in {:.1} s ({:.1} purchases/s), {} numbers ({:.2} numbers/s).",
        ledger.len(),
        secs,
        ledger.len() as f64 / secs,
        recap.total.numbers.total,
        recap.total.numbers.total as f64 / secs
    );
    let report = ledger_check::check(&store, &ledger).await?;
    sim.stop().await;
    store.close().await?;
    Ok(ledger_check::print(&report, || {
        format!(
            "Ledger reconciled: the {} purchases the servers executed are exactly the database's {} SUKSES/SUSPECT rows.",
            report.executed, report.executed_rows
        )
    }))
}
