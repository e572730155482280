//! `simrotor sim`: the simulator of the operator's servers, on the configured host and ports,
//! so the runtime (or a person with curl) can be tried anywhere.
//!
//! `--forwarder` takes a URL or a format: an app's name (`capcom6`, …) posts each SMS as that
//! app does, to this machine's admin API (`admin.listen`, by default
//! `http://127.0.0.1:9800/sms/<app>`; `native` to `/sms`) unless `simulator.sms_forwarder_url`
//! names another place.

use std::process::ExitCode;

use anyhow::Context as _;
use simrotor_config::Config;
use simrotor_simulator::Simulator;

use crate::cli::{Forwarder, SimArgs};

/// The admin API of a runtime on this machine with this configuration: `admin.listen`, with a
/// wildcard address (`0.0.0.0`, `::`) reached on loopback.
pub fn local_admin_base(config: &Config) -> String {
    match config.admin.listen.parse::<std::net::SocketAddr>() {
        Ok(mut addr) => {
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            format!("http://{addr}")
        }
        // Validation names a bad admin.listen; until then, the default address.
        Err(_) => "http://127.0.0.1:9800".to_owned(),
    }
}

/// Applies the command line over `[simulator]`; validation then names a bad value's key.
pub fn apply(config: &mut Config, args: SimArgs) {
    let admin = local_admin_base(config);
    let sim = &mut config.simulator;
    let faults = &mut sim.faults;
    macro_rules! set {
        ($($target:expr => $value:expr),+ $(,)?) => {
            $(if let Some(v) = $value { $target = v; })+
        };
    }
    set! {
        sim.seed => args.seed,
        faults.latency => args.latency,
        faults.jitter => args.jitter,
        faults.error_rate => args.error_rate,
        faults.malformed_rate => args.malformed_rate,
        faults.slow_body_rate => args.slow_body_rate,
        faults.slow_body_delay => args.slow_body_delay,
        faults.lost_answer_rate => args.lost_answer_rate,
        faults.down_after => args.down_after,
        faults.down_for => args.down_for,
        sim.status_polls => args.status_polls,
        sim.suspect_rate => args.suspect_rate,
        sim.reseller_rate => args.reseller_rate,
        sim.blocked_rate => args.blocked_rate,
        sim.shapes => args.shapes,
    }
    if let Some(ports) = args.down_ports {
        faults.down_ports = ports;
    }
    if args.transaction_otp {
        sim.transaction_otp = true;
    }
    match args.forwarder {
        Some(Forwarder::Url(url)) => sim.sms_forwarder_url = Some(url),
        Some(Forwarder::Format(format)) => {
            sim.forward_as = format;
            if sim.sms_forwarder_url.is_none() {
                sim.sms_forwarder_url = Some(format!("{admin}{}", format.path()));
            }
        }
        None => {}
    }
    if let Some(with_number) = args.forward_number {
        sim.forward_number = with_number;
    }
    if let Some(secret) = args.forward_secret {
        sim.forward_secret = Some(secret);
    }
    if args.forward_duplicates {
        sim.forward_duplicates = true;
    }
    if args.forward_forgeries {
        sim.forward_forgeries = true;
    }
}

pub async fn run(mut config: Config, args: SimArgs) -> anyhow::Result<ExitCode> {
    apply(&mut config, args);
    config.validate()?;
    let ports: Vec<u16> = config.server_specs()?.iter().map(|s| s.port).collect();
    let host = config.servers.host.clone();
    let handle = Simulator::start(config.simulator.clone(), &host, &ports)
        .await
        .with_context(|| format!("cannot start the simulator on {host}"))?;
    let urls = handle.base_urls();
    println!(
        "Simulating {} servers: {} … {} (seed {}). SMS at /_sim/sms, purchases at /_sim/ledger. Ctrl-C stops.",
        urls.len(),
        urls.first().map(String::as_str).unwrap_or(""),
        urls.last().map(String::as_str).unwrap_or(""),
        config.simulator.seed
    );
    if let Some(url) = &config.simulator.sms_forwarder_url {
        // Without its query: an operator may have put a token there.
        let url = url.split('?').next().unwrap_or_default();
        let sim = &config.simulator;
        println!(
            "Each SMS is posted to {url} as {}{}{}{}.",
            sim.forward_as,
            match (sim.forward_as.app(), sim.forward_number) {
                (None, _) => "",
                (Some(_), true) => ", naming the receiving SIM",
                (Some(_), false) => ", without the receiving SIM's number",
            },
            if sim.forward_duplicates {
                ", twice"
            } else {
                ""
            },
            if sim.forward_forgeries {
                ", each after a forged copy"
            } else {
                ""
            },
        );
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    eprintln!("Stopping the simulator.");
    handle.stop().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use simrotor_config::{AnswerShapes, ForwardAs};

    use super::*;
    use crate::cli::{Cli, Command};

    fn shapes_after(args: &[&str]) -> Result<AnswerShapes, clap::Error> {
        let sim = match Cli::try_parse_from(args)?.command {
            Command::Sim(sim) => sim,
            Command::Demo(demo) => demo.sim,
            other => panic!("{other:?}"),
        };
        let mut config = Config::default();
        apply(&mut config, sim);
        Ok(config.simulator.shapes)
    }

    #[test]
    fn shapes_is_real_unless_the_flag_says_otherwise_on_sim_and_demo() {
        assert_eq!(
            shapes_after(&["simrotor", "sim"]).ok(),
            Some(AnswerShapes::Real)
        );
        assert_eq!(
            shapes_after(&["simrotor", "sim", "--shapes", "legacy"]).ok(),
            Some(AnswerShapes::Legacy)
        );
        assert_eq!(
            shapes_after(&["simrotor", "demo", "--shapes", "mixed"]).ok(),
            Some(AnswerShapes::Mixed)
        );
        let err = shapes_after(&["simrotor", "sim", "--shapes", "envelope"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("real") && err.contains("legacy"), "{err}");
    }

    fn sim_args(args: &[&str]) -> SimArgs {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Sim(sim) => sim,
            other => panic!("{other:?}"),
        }
    }

    fn after(config: Config, args: &[&str]) -> simrotor_config::SimulatorConfig {
        let mut config = config;
        apply(&mut config, sim_args(args));
        config.simulator
    }

    #[test]
    fn forwarder_takes_an_app_name_and_then_posts_to_the_local_admin_api() {
        let sim = after(
            Config::default(),
            &["simrotor", "sim", "--forwarder", "capcom6"],
        );
        assert_eq!(sim.forward_as.name(), "capcom6");
        assert_eq!(
            sim.sms_forwarder_url.as_deref(),
            Some("http://127.0.0.1:9800/sms/capcom6")
        );
        let sim = after(
            Config::default(),
            &["simrotor", "sim", "--forwarder", "native"],
        );
        assert_eq!(sim.forward_as, ForwardAs::Native);
        assert_eq!(
            sim.sms_forwarder_url.as_deref(),
            Some("http://127.0.0.1:9800/sms")
        );
        // The admin API where the configuration puts it; a wildcard is reached on loopback.
        let mut config = Config::default();
        config.admin.listen = "0.0.0.0:9811".to_owned();
        let sim = after(config, &["simrotor", "sim", "--forwarder", "gammu"]);
        assert_eq!(
            sim.sms_forwarder_url.as_deref(),
            Some("http://127.0.0.1:9811/sms/gammu")
        );
    }

    #[test]
    fn an_app_name_keeps_a_url_the_configuration_gives_and_a_url_keeps_the_format() {
        let mut config = Config::default();
        config.simulator.sms_forwarder_url = Some("http://10.0.0.5:9800/sms/textbee".to_owned());
        let sim = after(config, &["simrotor", "sim", "--forwarder", "textbee"]);
        assert_eq!(sim.forward_as.name(), "textbee");
        assert_eq!(
            sim.sms_forwarder_url.as_deref(),
            Some("http://10.0.0.5:9800/sms/textbee")
        );
        let sim = after(
            Config::default(),
            &["simrotor", "sim", "--forwarder", "http://10.0.0.5:8080/sms"],
        );
        assert_eq!(sim.forward_as, ForwardAs::Native);
        assert_eq!(
            sim.sms_forwarder_url.as_deref(),
            Some("http://10.0.0.5:8080/sms")
        );
        let err = Cli::try_parse_from(["simrotor", "sim", "--forwarder", "whatsapp"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("capcom6") && err.contains("URL"), "{err}");
    }

    #[test]
    fn the_forward_flags_set_their_keys_and_the_secret_never_prints() {
        let args = sim_args(&[
            "simrotor",
            "sim",
            "--forwarder",
            "smsforwarder",
            "--forward-number",
            "false",
            "--forward-secret",
            "cli-s3cret-value",
            "--forward-duplicates",
            "--forward-forgeries",
        ]);
        assert!(!format!("{args:?}").contains("cli-s3cret-value"));
        let mut config = Config::default();
        apply(&mut config, args);
        config.validate().unwrap();
        let sim = &config.simulator;
        assert!(!sim.forward_number && sim.forward_duplicates && sim.forward_forgeries);
        assert_eq!(
            sim.forward_secret.as_ref().map(|s| s.expose()),
            Some("cli-s3cret-value")
        );
        assert!(!config.to_masked_toml().contains("cli-s3cret-value"));
        // Without the flags, the defaults: the number named, no secret, no retries, no forgeries.
        let sim = after(Config::default(), &["simrotor", "sim"]);
        assert!(sim.forward_number && !sim.forward_duplicates && !sim.forward_forgeries);
        assert!(sim.forward_secret.is_none() && sim.sms_forwarder_url.is_none());
        assert!(Cli::try_parse_from(["simrotor", "sim", "--forward-number", "maybe"]).is_err());
    }
}
