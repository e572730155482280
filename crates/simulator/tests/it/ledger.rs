//! The ledger: every executed purchase, as the servers really did it.

use simrotor_domain::Rupiah;
use simrotor_simulator::{LedgerEntry, SimulatorConfig};

use crate::helpers::{Sim, config, number};

#[tokio::test]
async fn the_ledger_holds_every_purchase_and_nothing_else() {
    let sim = Sim::start(
        SimulatorConfig {
            suspect_rate: 0.5,
            ..config()
        },
        2,
    )
    .await;
    let numbers = [number(80), number(81)];
    let mut bought = Vec::new();
    for (server, m) in numbers.iter().enumerate() {
        sim.login(server, m).await;
        for product in ["VCR10", "VCR10", "VCR5", "VCR10"] {
            let res = sim.buy(server, m, product, "10500").await.res();
            if res["status"] == "0" {
                let trx_id = res["data"]["trx_id"].as_str().unwrap().to_owned();
                bought.push((trx_id, server, m.clone(), product));
            }
        }
    }
    // 27,000 buys 10,000 + 10,000 + 5,000; the fourth is refused.
    assert_eq!(bought.len(), 6);

    let page = sim.get(0, "/_sim/ledger", &[]).await;
    let ledger: Vec<LedgerEntry> = serde_json::from_str(&page.body).unwrap();
    assert_eq!(ledger, sim.handle.ledger());
    assert_eq!(ledger.len(), bought.len());
    for (entry, (trx_id, server, m, product)) in ledger.iter().zip(&bought) {
        assert_eq!(&entry.trx_id, trx_id);
        assert_eq!(entry.port, sim.port(*server));
        assert_eq!(&entry.msisdn, m);
        assert_eq!(entry.product_id, *product);
        assert_eq!(
            Some(entry.device_id.clone()),
            sim.handle.device_id(entry.port)
        );
        assert_eq!(
            entry.pulsa_before.checked_sub(entry.price),
            Some(entry.pulsa_after)
        );
        assert_eq!(entry.email, "buyer@example.id");
        assert!(!entry.answer_lost);
    }
    for m in &numbers {
        let spent: Rupiah = ledger
            .iter()
            .filter(|e| &e.msisdn == m)
            .map(|e| e.price)
            .sum();
        assert_eq!(spent, Rupiah::new(25_000));
        assert_eq!(sim.handle.pulsa(m), Rupiah::new(2_000));
    }
    // Each voucher the status shows is the ledger's.
    for (entry, (trx_id, server, m, _)) in ledger.iter().zip(&bought) {
        let mut status = sim.status(*server, m, trx_id).await;
        while status["data"]["is_success"] == 1 {
            status = sim.status(*server, m, trx_id).await;
        }
        assert_eq!(status["data"]["voucher"].as_str(), entry.voucher.as_deref());
    }
    sim.stop().await;
}
