//! A purchase written through the store as the runtime writes one: the intent, then maybe the
//! server's acceptance (its trx id), then maybe the outcome.

use simrotor_domain::{Rupiah, TrxEvent};
use simrotor_persistence::{Binding, Purchase, PurchaseIntent, PurchaseOutcome, Store};

/// One purchase to write with [`buy`].
#[derive(Debug, Clone)]
pub struct Buy {
    intent: PurchaseIntent,
    trx_id: Option<String>,
    outcome: Option<(TrxEvent, PurchaseOutcome)>,
}

impl Buy {
    /// Purchase `seq` of `VCR-10` at 10,000 (limit 10,500) from `pulsa_awal`, left PROCESSING.
    pub fn new(seq: u32, pulsa_awal: u64) -> Self {
        Self {
            intent: PurchaseIntent {
                seq,
                product_id: "VCR-10".to_owned(),
                product_name: Some("Voucher 10.000".to_owned()),
                limit_harga: Rupiah::new(10_500),
                price: Rupiah::new(10_000),
                pulsa_awal: Rupiah::new(pulsa_awal),
            },
            trx_id: None,
            outcome: None,
        }
    }

    /// Another product, price and limit.
    pub fn of(mut self, product_id: &str, price: u64, limit_harga: u64) -> Self {
        self.intent.product_id = product_id.to_owned();
        self.intent.product_name = None;
        self.intent.price = Rupiah::new(price);
        self.intent.limit_harga = Rupiah::new(limit_harga);
        self
    }

    /// The server accepted it as `trx_id`.
    pub fn accepted(mut self, trx_id: &str) -> Self {
        self.trx_id = Some(trx_id.to_owned());
        self
    }

    /// It ends by `event`, the balance after it `pulsa_akhir` (`None`: not read).
    pub fn ended(mut self, event: TrxEvent, pulsa_akhir: Option<u64>) -> Self {
        let outcome = PurchaseOutcome {
            pulsa_akhir: pulsa_akhir.map(Rupiah::new),
            ..PurchaseOutcome::default()
        };
        self.outcome = Some((event, outcome));
        self
    }

    /// The voucher the outcome brought (after [`Buy::ended`]).
    pub fn voucher(mut self, code: &str) -> Self {
        let (_, outcome) = self
            .outcome
            .as_mut()
            .expect("a voucher goes with an outcome");
        outcome.voucher = Some(code.to_owned());
        self
    }

    /// The outcome's note (after [`Buy::ended`]).
    pub fn note(mut self, note: &str) -> Self {
        let (_, outcome) = self.outcome.as_mut().expect("a note goes with an outcome");
        outcome.note = Some(note.to_owned());
        self
    }

    /// The intent alone, for a test that writes it itself.
    pub fn intent(&self) -> PurchaseIntent {
        self.intent.clone()
    }
}

/// Writes `buy` on `binding`; the purchase as the store left it.
pub async fn buy(store: &Store, binding: &Binding, buy: Buy) -> Purchase {
    let mut p = store
        .write_purchase_intent(
            binding
                .transacting()
                .expect("a purchase needs a TRANSACTING binding"),
            buy.intent,
        )
        .await
        .expect("the purchase's intent is written");
    if let Some(trx_id) = &buy.trx_id {
        store
            .record_purchase_accepted(&mut p, trx_id, None, serde_json::json!({}))
            .await
            .expect("the purchase is accepted");
    }
    if let Some((event, outcome)) = buy.outcome {
        store
            .write_purchase_outcome(&mut p, event, outcome)
            .await
            .expect("the purchase's outcome is written");
    }
    p
}
