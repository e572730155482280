//! `simrotor sim`: the simulator of the operator's servers, on the configured host and ports,
//! so the runtime (or a person with curl) can be tried anywhere.

use std::process::ExitCode;

use anyhow::Context as _;
use simrotor_config::Config;
use simrotor_simulator::Simulator;

use crate::cli::SimArgs;

/// Applies the command line over `[simulator]`; validation then names a bad value's key.
pub fn apply(config: &mut Config, args: SimArgs) {
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
    if let Some(url) = args.forwarder {
        sim.sms_forwarder_url = Some(url);
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
    use simrotor_config::AnswerShapes;

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
}
