//! `simrotor demo`: the whole product with zero set-up. A temporary SQLite database, the
//! simulator on free ports posting its SMS to the runtime's admin API (zero-touch OTPs),
//! a generated batch, the runtime until the pool is empty; then the recap, the throughput, the
//! wrong codes the telco was sent (strikes: none expected), and the simulator's ledger held
//! against the database: a mismatch is an error exit.
//!
//! `--forwarder <app>` (capcom6, smsforwarder, …) has the simulator post each SMS as that app
//! does, to the demo runtime's own intake for it (`http://ADDR/sms/<app>`), with one fresh secret
//! (or `--forward-secret`) on both sides: the simulated app signs with it and `[sms.<app>]`
//! checks it. Without it, the native `/sms` as before; a URL is refused, the demo posting only
//! to its own runtime.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use simrotor_config::{Config, DatabaseUrl, ForwardAs, ForwarderSecret, IntakeConfig, Ports};
use simrotor_domain::{BatchId, Email, Msisdn};
use simrotor_persistence::{NewAccount, Store};
use simrotor_runtime::start::{RunOptions, start};
use simrotor_simulator::{Simulator, Strikes};

use super::run::{http_client, release_servers, until_done};
use super::{ledger_check, sim, store_options};
use crate::cli::{DemoArgs, Forwarder};
use crate::output::{self};

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The format `--forwarder` asks the demo for: an app's name or `native`, never a URL.
fn demo_format(forwarder: Option<&Forwarder>) -> anyhow::Result<ForwardAs> {
    match forwarder {
        None => Ok(ForwardAs::Native),
        Some(Forwarder::Format(format)) => Ok(*format),
        Some(Forwarder::Url(_)) => anyhow::bail!(
            "demo --forwarder takes a format, not a URL: the demo's simulator posts to the demo's \
             own runtime. Name one of {}, or run `simrotor sim --forwarder URL` for another \
             receiver.",
            ForwardAs::names().join(", ")
        ),
    }
}

/// Points the simulator's forwarder at the demo runtime's intake for `format` on `admin_addr`;
/// for an app, opens that intake with the secret the simulated app signs with (the one given,
/// else a fresh one).
fn forward_to_own_runtime(config: &mut Config, format: ForwardAs, admin_addr: &str) {
    config.simulator.forward_as = format;
    config.simulator.sms_forwarder_url = Some(format!("http://{admin_addr}{}", format.path()));
    if let Some(app) = format.app() {
        let secret = config
            .simulator
            .forward_secret
            .clone()
            .unwrap_or_else(|| ForwarderSecret::new(uuid::Uuid::new_v4().to_string()));
        config
            .sms
            .set_intake(app, IntakeConfig::with_secret(secret.expose()));
        config.simulator.forward_secret = Some(secret);
    }
}

/// The wrong or expired codes the simulated telco was sent (each a strike against its number),
/// with the numbers struck when there are any.
fn strikes_line(strikes: &Strikes) -> String {
    let mut line = format!("Wrong codes sent to the telco: {}", strikes.total);
    if !strikes.numbers.is_empty() {
        let numbers: Vec<String> = strikes
            .numbers
            .iter()
            .map(|(number, n)| format!("{number} ×{n}"))
            .collect();
        line.push_str(&format!(" ({})", numbers.join(", ")));
    }
    line.push('.');
    line
}

pub async fn run(
    mut config: Config,
    mut args: DemoArgs,
    admin: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let format = demo_format(args.sim.forwarder.take().as_ref())?;
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
        forward_to_own_runtime(&mut config, format, &admin_addr);
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
        until_empty: !args.stay,
        batch: None,
        admin_addr: Some(admin_addr),
    };
    let mut running = start(&config, store.clone(), Arc::new(http_client), options)
        .await
        .context("cannot start the runtime")?;
    if let Some(api) = &running.admin {
        eprintln!("Admin API and live page: {}", api.url("/"));
        if args.stay {
            eprintln!("The page stays up when the pool is empty; Ctrl-C ends the demo.");
        }
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
    release_servers(&running).await;

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
    println!("{}", strikes_line(&sim.strikes()));
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn demo_args(args: &[&str]) -> DemoArgs {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Demo(demo) => demo,
            other => panic!("{other:?}"),
        }
    }

    /// The configuration the demo runs with, for `args`, its admin API on 127.0.0.1:9876.
    fn demo_config(args: &[&str]) -> anyhow::Result<Config> {
        let mut args = demo_args(args);
        let format = demo_format(args.sim.forwarder.take().as_ref())?;
        let mut config = Config::default();
        sim::apply(&mut config, args.sim);
        forward_to_own_runtime(&mut config, format, "127.0.0.1:9876");
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn an_app_forwarder_posts_to_the_demos_own_intake_with_one_secret_on_both_sides() {
        let config = demo_config(&["simrotor", "demo", "--forwarder", "capcom6"]).unwrap();
        let sim = &config.simulator;
        assert_eq!(sim.forward_as.name(), "capcom6");
        assert_eq!(
            sim.sms_forwarder_url.as_deref(),
            Some("http://127.0.0.1:9876/sms/capcom6")
        );
        let signs_with = sim.forward_secret.as_ref().unwrap().expose();
        assert!(uuid::Uuid::parse_str(signs_with).is_ok(), "a fresh uuid");
        let app = sim.forward_as.app().unwrap();
        let checks = config.sms.intake(app).unwrap().secret.as_ref().unwrap();
        assert_eq!(checks.expose(), signs_with);
        assert_eq!(config.sms.open_apps(), vec![app]);
        assert!(!config.to_masked_toml().contains(signs_with));

        // Another run, another secret; a given one is used on both sides.
        let again = demo_config(&["simrotor", "demo", "--forwarder", "capcom6"]).unwrap();
        assert_ne!(
            again.simulator.forward_secret.as_ref().unwrap().expose(),
            signs_with
        );
        let given = demo_config(&[
            "simrotor",
            "demo",
            "--forwarder",
            "textbee",
            "--forward-secret",
            "given-secret",
            "--forward-number",
            "false",
        ])
        .unwrap();
        let textbee = given.simulator.forward_as.app().unwrap();
        assert_eq!(
            given
                .sms
                .intake(textbee)
                .unwrap()
                .secret
                .as_ref()
                .unwrap()
                .expose(),
            "given-secret"
        );
        assert!(!given.simulator.forward_number);
    }

    #[test]
    fn the_strikes_line_counts_and_names_the_numbers_struck() {
        assert_eq!(
            strikes_line(&Strikes::default()),
            "Wrong codes sent to the telco: 0."
        );
        let number = simrotor_domain::Msisdn::parse("081200000001").unwrap();
        let strikes = Strikes {
            total: 2,
            numbers: [(number, 2)].into_iter().collect(),
        };
        assert_eq!(
            strikes_line(&strikes),
            "Wrong codes sent to the telco: 2 (6281200000001 ×2)."
        );
    }

    #[test]
    fn without_forwarder_the_demo_posts_natively_and_a_url_is_refused() {
        let config = demo_config(&["simrotor", "demo"]).unwrap();
        assert_eq!(config.simulator.forward_as, ForwardAs::Native);
        assert_eq!(
            config.simulator.sms_forwarder_url.as_deref(),
            Some("http://127.0.0.1:9876/sms")
        );
        assert!(config.simulator.forward_secret.is_none());
        assert!(config.sms.open_apps().is_empty());

        let err = demo_config(&["simrotor", "demo", "--forwarder", "http://10.0.0.5/sms"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a URL") && err.contains("capcom6"),
            "{err}"
        );
        assert!(
            Cli::try_parse_from(["simrotor", "demo", "--no-forwarder", "--forwarder", "gammu"])
                .is_err()
        );
    }
}
