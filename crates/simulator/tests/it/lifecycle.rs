//! Starting and stopping: ports bound when `start` returns, closed when `stop` returns.

use simrotor_simulator::{Simulator, SimulatorConfig, SimulatorError};

use crate::helpers::{Sim, client, config};

#[tokio::test]
async fn stop_closes_every_port() {
    let sim = Sim::start(config(), 3).await;
    let urls = sim.handle.base_urls();
    assert_eq!(urls.len(), 3);
    for server in 0..3 {
        assert_eq!(sim.get(server, "/_sim/ledger", &[]).await.status, 200);
    }
    sim.stop().await;
    let client = client();
    for url in urls {
        let err = client
            .get(format!("{url}/_sim/ledger"))
            .send()
            .await
            .expect_err("the port must be closed");
        assert!(err.is_connect() || err.is_request(), "{err:?}");
    }
}

#[tokio::test]
async fn an_impossible_config_or_a_taken_port_is_refused() {
    let bad = SimulatorConfig {
        reseller_rate: 2.0,
        ..config()
    };
    let err = Simulator::start(bad, "127.0.0.1", &[0]).await.unwrap_err();
    assert!(
        err.to_string().contains("simulator.reseller_rate = 2"),
        "{err}"
    );

    let sim = Sim::start(config(), 1).await;
    let taken = sim.port(0);
    let err = Simulator::start(config(), "127.0.0.1", &[taken])
        .await
        .unwrap_err();
    assert!(matches!(err, SimulatorError::Bind { .. }), "{err}");
    assert!(err.to_string().contains(&taken.to_string()), "{err}");
    assert!(matches!(
        Simulator::start(config(), "127.0.0.1", &[]).await,
        Err(SimulatorError::NoPorts)
    ));
    sim.stop().await;
}
