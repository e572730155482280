//! A server taken over by another runtime in the middle of a binding: the first write this
//! runtime's driver makes after that is refused by the fencing counter (and audited), the
//! server is no longer driven, and its open binding stays for its new owner.

use std::time::Duration;

use simrotor_persistence::LeaseOwner;
use simrotor_simulator::{SimulatorConfig, SimulatorFaults};

use crate::helpers::logs;
use crate::scenario_helpers::{
    Setup, World, numbers_where, purchases_on, server_row, sim_config, wait_for,
};

#[actix_rt::test]
async fn a_server_taken_over_mid_binding_is_refused_its_next_write_and_let_go() {
    // 400,000 pulsa at 20 ms a call: the binding buys for seconds, long past the takeover.
    let sim = SimulatorConfig {
        faults: SimulatorFaults {
            latency: Duration::from_millis(20),
            ..SimulatorFaults::default()
        },
        ..sim_config(400_000)
    };
    let numbers = numbers_where(&sim, 9_300, 1, |_| true);
    let mut setup = Setup::new(sim, 1, numbers);
    setup.until_empty = false;
    // The keeper would notice the takeover at its next heartbeat, a minute away: what meets it
    // first is the driver's next write, and the fence.
    setup.config.ownership.heartbeat = Duration::from_secs(60);
    setup.config.ownership.expiry = Duration::from_secs(600);
    let world = World::start(setup).await;
    let port = world.ports[0];
    let server_id = server_row(&world.store, port).await.id;
    wait_for("the binding to buy", || async {
        (purchases_on(&world.store, server_id).await.len() >= 2).then_some(())
    })
    .await;

    // Another runtime takes the server over, as it does once the lease expired (here: it takes
    // this runtime for gone).
    let intruder = LeaseOwner::named("runtime-on-another-host");
    let taken = world
        .store
        .acquire_leases(
            &intruder,
            &[server_id],
            std::slice::from_ref(&world.running.owner),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);

    let refused = format!("server={port}");
    wait_for("the driver's next write to be refused", || async {
        logs()
            .text()
            .lines()
            .any(|l| l.contains("A write of this runtime was refused") && l.contains(&refused))
            .then_some(())
    })
    .await;
    let line = logs()
        .text()
        .lines()
        .find(|l| l.contains("A write of this runtime was refused") && l.contains(&refused))
        .unwrap()
        .to_owned();
    assert!(line.contains("event=\"fenced\""), "{line}");
    assert!(line.contains("holder=runtime-on-another-host"), "{line}");
    assert!(
        line.contains(&format!("holder_fence={}", taken[0].fence)),
        "{line}"
    );

    // Let go: no more purchases are recorded for the server, and its binding stays open for the
    // runtime that holds it now.
    let count = purchases_on(&world.store, server_id).await.len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(purchases_on(&world.store, server_id).await.len(), count);
    let open = world.store.open_binding_of_server(server_id).await.unwrap();
    assert!(
        open.is_some(),
        "the binding was closed by a runtime that no longer holds it"
    );
    let leases = world.store.leases().await.unwrap();
    assert_eq!(leases[0].owner.as_deref(), Some("runtime-on-another-host"));
    world.stop().await;
}
