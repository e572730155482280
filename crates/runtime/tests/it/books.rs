//! The books when an answer is missing: a number whose balance after its last purchase could
//! not be read still ends with its true last balance, the one that said it was exhausted.

use simrotor_domain::{AccountState, Rupiah};
use simrotor_persistence::{AnswerFilter, AnswerKind};
use simrotor_slot::{Call, ProtocolProblem, SlotError};
use simrotor_test_support::ScriptedSlot;

use crate::scenario_helpers::{
    Setup, World, account, assert_all_settled, bindings_of, free_port, ledger_problems,
    numbers_where, sim_config,
};

#[actix_rt::test]
async fn an_unread_balance_after_the_last_purchase_leaves_the_exhausting_one_as_the_last() {
    // 15,000: 647 then 646. Balance calls: login (1, the first purchase's balance before), after
    // each purchase (2, then 3–5), and the one before a third purchase that finds nothing
    // affordable (6: no balance after was known). The three reads after the second purchase
    // (3–5, every try the driver makes) come back unreadable.
    let sim = sim_config(15_000);
    let numbers = numbers_where(&sim, 8_000, 1, |p| p.reseller && !p.blocked);
    let m = numbers[0].clone();
    let port = free_port();
    let double = ScriptedSlot::over_port(
        port,
        Box::new(|call, _, nth| {
            (call == Call::Balance && (3..=5).contains(&nth))
                .then(|| SlotError::protocol(Call::Balance, ProtocolProblem::Truncated))
        }),
    );
    let calls = double.calls();
    let mut world = World::start(Setup::one_scripted(sim, numbers, port, double)).await;
    world.finished().await;
    let (store, ledger, sim, _dir) = world.stop().await;

    assert_eq!(calls.of(&[Call::Balance]).len(), 6, "{:?}", calls.all());
    assert_eq!(account(&store, &m).await.status, AccountState::Done);
    let bindings = bindings_of(&store, &m).await;
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    let b = &bindings[0];
    assert_eq!(b.end_reason.as_deref(), Some("EXHAUSTED"));
    assert_eq!(sim.pulsa(&m), Rupiah::new(0));
    assert_eq!(
        b.balance_last,
        Some(0),
        "the exhausting balance is the last"
    );
    let purchases = store.purchases_of_binding(b.id).await.unwrap();
    assert_eq!(purchases.len(), 2);
    assert_eq!(purchases[1].pulsa_akhir, None, "its balance was never read");
    assert_eq!(ledger_problems(&store, &ledger).await, Vec::<String>::new());
    let kept = store
        .unusable_answers(&AnswerFilter {
            call: Some("balance_pulsa".into()),
            ..AnswerFilter::default()
        })
        .await
        .unwrap();
    // Three unreadable reads in a row are one streak: kept once.
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept.iter().all(|k| k.kind == AnswerKind::Unusable));
    assert!(
        kept.iter()
            .all(|k| k.transaction_id == Some(purchases[1].id))
    );
    assert_all_settled(&store).await;
    sim.stop().await;
}
