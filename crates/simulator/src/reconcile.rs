//! The books held against the ledger: what a database booked compared with what the simulated
//! servers really executed, as one pure function, so the demo, `simrotor ledger-check` and the
//! tests judge a run by the same rules.
//!
//! The simulator does not know the database: callers build [`Books`] from their store rows.
//! Every executed purchase must be exactly one SUKSES/SUSPECT row (by trx id, on the same number,
//! at the same price, a SUKSES with the server's voucher; a purchase whose answer was lost has no
//! trx id and is matched as a SUSPECT row of the same number and price); no row may claim a
//! purchase the ledger lacks, say GAGAL for one it has, or be left PROCESSING; and each binding's
//! pulsa adds up: `balance_start` − Σ executed prices = its last balance. When the binding's
//! latest executed purchase could not read the balance after it, that last balance is the next
//! binding's `balance_start` on the same number, and with no next binding there is nothing to
//! hold it against yet.

use std::collections::{HashMap, HashSet};
use std::fmt;

use simrotor_domain::{BookedBinding, BookedPurchase, Books, Msisdn, Rupiah, TrxStatus};

use crate::LedgerEntry;

/// One way the books and the ledger disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discrepancy {
    /// A purchase never got an outcome.
    LeftProcessing { attempt_key: String },
    /// A SUKSES or SUSPECT row names a trx id the servers never executed.
    NeverExecuted {
        attempt_key: String,
        status: TrxStatus,
        trx_id: String,
    },
    /// A second SUKSES/SUSPECT row for one executed purchase.
    TwoRows { attempt_key: String, trx_id: String },
    /// The row is booked on another number than the server charged.
    WrongNumber {
        attempt_key: String,
        trx_id: String,
        booked: Msisdn,
        executed: Msisdn,
    },
    /// The row's price is not what the server charged.
    WrongPrice {
        attempt_key: String,
        trx_id: String,
        booked: Rupiah,
        charged: Rupiah,
    },
    /// A SUKSES row holds another voucher than the server gave (or one it never gave).
    WrongVoucher { attempt_key: String, trx_id: String },
    /// A GAGAL row for a purchase the servers executed.
    FailedButExecuted { attempt_key: String, trx_id: String },
    /// The servers executed a purchase the database has no row for.
    MissingRow {
        trx_id: String,
        msisdn: Msisdn,
        price: Rupiah,
    },
    /// A SUSPECT row without a trx id that no lost purchase of the servers matches.
    UnmatchedSuspect { attempt_key: String },
    /// A binding's pulsa does not add up: `start` − `spent` ≠ `last`.
    WrongBalance {
        binding_id: i64,
        start: Rupiah,
        spent: Rupiah,
        last: Rupiah,
    },
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LeftProcessing { attempt_key } => write!(f, "{attempt_key} was left PROCESSING"),
            Self::NeverExecuted {
                attempt_key,
                status,
                trx_id,
            } => write!(
                f,
                "{attempt_key} claims {status} for {trx_id}, which the servers never executed"
            ),
            Self::TwoRows {
                attempt_key,
                trx_id,
            } => write!(
                f,
                "{attempt_key} is a second row for {trx_id}, which the servers executed once"
            ),
            Self::WrongNumber {
                attempt_key,
                trx_id,
                booked,
                executed,
            } => write!(
                f,
                "{attempt_key} is booked on {booked} but the servers charged {executed} for {trx_id}"
            ),
            Self::WrongPrice {
                attempt_key,
                trx_id,
                booked,
                charged,
            } => write!(
                f,
                "{attempt_key} has price {booked} but the server charged {charged} for {trx_id}"
            ),
            Self::WrongVoucher {
                attempt_key,
                trx_id,
            } => write!(
                f,
                "{attempt_key} has another voucher than the server gave for {trx_id}"
            ),
            Self::FailedButExecuted {
                attempt_key,
                trx_id,
            } => write!(
                f,
                "{attempt_key} says GAGAL but the servers executed {trx_id}"
            ),
            Self::MissingRow {
                trx_id,
                msisdn,
                price,
            } => write!(
                f,
                "the servers executed {trx_id} for {msisdn} ({price}) but the database has no row for it"
            ),
            Self::UnmatchedSuspect { attempt_key } => write!(
                f,
                "{attempt_key} is SUSPECT without a trx id, but no lost purchase of the servers matches it"
            ),
            Self::WrongBalance {
                binding_id,
                start,
                spent,
                last,
            } => write!(
                f,
                "binding {binding_id} does not add up: start {start} − spent {spent} ≠ last {last}"
            ),
        }
    }
}

/// What [`reconcile`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// The purchases the servers executed (the ledger's entries).
    pub executed: usize,
    /// The purchase rows, whatever their status.
    pub rows: usize,
    /// The SUKSES and SUSPECT rows: the ones that say money went.
    pub executed_rows: usize,
    /// Every disagreement, in the order found; empty when the books are right.
    pub discrepancies: Vec<Discrepancy>,
}

impl Reconciliation {
    pub fn is_reconciled(&self) -> bool {
        self.discrepancies.is_empty()
    }
}

fn executed(status: TrxStatus) -> bool {
    matches!(status, TrxStatus::Success | TrxStatus::Suspect)
}

/// Holds `books` against `ledger` (see the module's rules).
pub fn reconcile(ledger: &[LedgerEntry], books: &Books) -> Reconciliation {
    let mut found = purchases_against_ledger(ledger, &books.purchases);
    found.extend(balances(books));
    Reconciliation {
        executed: ledger.len(),
        rows: books.purchases.len(),
        executed_rows: books
            .purchases
            .iter()
            .filter(|p| executed(p.status))
            .count(),
        discrepancies: found,
    }
}

/// Each row against the ledger entry its trx id names, then each entry no row named against the
/// SUSPECT rows of lost answers.
fn purchases_against_ledger(ledger: &[LedgerEntry], rows: &[BookedPurchase]) -> Vec<Discrepancy> {
    let mut found = Vec::new();
    let by_trx: HashMap<&str, &LedgerEntry> =
        ledger.iter().map(|e| (e.trx_id.as_str(), e)).collect();
    let mut matched: HashSet<&str> = HashSet::new();
    for row in rows {
        let attempt_key = || row.attempt_key.clone();
        match (row.status, row.trx_id.as_deref()) {
            (TrxStatus::Processing, _) => found.push(Discrepancy::LeftProcessing {
                attempt_key: attempt_key(),
            }),
            (TrxStatus::Success | TrxStatus::Suspect, Some(trx)) => {
                let Some(&e) = by_trx.get(trx) else {
                    found.push(Discrepancy::NeverExecuted {
                        attempt_key: attempt_key(),
                        status: row.status,
                        trx_id: trx.to_owned(),
                    });
                    continue;
                };
                if !matched.insert(&e.trx_id) {
                    found.push(Discrepancy::TwoRows {
                        attempt_key: attempt_key(),
                        trx_id: trx.to_owned(),
                    });
                }
                if e.msisdn != row.msisdn {
                    found.push(Discrepancy::WrongNumber {
                        attempt_key: attempt_key(),
                        trx_id: trx.to_owned(),
                        booked: row.msisdn.clone(),
                        executed: e.msisdn.clone(),
                    });
                }
                if e.price != row.price {
                    found.push(Discrepancy::WrongPrice {
                        attempt_key: attempt_key(),
                        trx_id: trx.to_owned(),
                        booked: row.price,
                        charged: e.price,
                    });
                }
                if row.status == TrxStatus::Success && e.voucher != row.voucher {
                    found.push(Discrepancy::WrongVoucher {
                        attempt_key: attempt_key(),
                        trx_id: trx.to_owned(),
                    });
                }
            }
            (TrxStatus::Failed, Some(trx)) if by_trx.contains_key(trx) => {
                found.push(Discrepancy::FailedButExecuted {
                    attempt_key: attempt_key(),
                    trx_id: trx.to_owned(),
                });
            }
            _ => {}
        }
    }
    // Purchases whose answer was lost or unreadable carry no trx id: each must be one SUSPECT
    // row of the same number and price, kept on the balance's evidence.
    let mut lost: Vec<&BookedPurchase> = rows
        .iter()
        .filter(|r| r.status == TrxStatus::Suspect && r.trx_id.is_none())
        .collect();
    for e in ledger
        .iter()
        .filter(|e| !matched.contains(e.trx_id.as_str()))
    {
        match lost
            .iter()
            .position(|r| r.msisdn == e.msisdn && r.price == e.price)
        {
            Some(i) => {
                lost.remove(i);
            }
            None => found.push(Discrepancy::MissingRow {
                trx_id: e.trx_id.clone(),
                msisdn: e.msisdn.clone(),
                price: e.price,
            }),
        }
    }
    found.extend(lost.into_iter().map(|r| Discrepancy::UnmatchedSuspect {
        attempt_key: r.attempt_key.clone(),
    }));
    found
}

/// Each binding's `balance_start` − Σ executed prices against its last balance.
fn balances(books: &Books) -> Vec<Discrepancy> {
    let mut spent: HashMap<i64, Rupiah> = HashMap::new();
    // Per binding, its latest executed purchase: (id, whether the balance after it was unread).
    let mut latest: HashMap<i64, (i64, bool)> = HashMap::new();
    for p in books.purchases.iter().filter(|p| executed(p.status)) {
        let sum = spent.entry(p.binding_id).or_insert(Rupiah::ZERO);
        *sum = *sum + p.price;
        let entry = latest
            .entry(p.binding_id)
            .or_insert((p.id, p.pulsa_akhir.is_none()));
        if p.id >= entry.0 {
            *entry = (p.id, p.pulsa_akhir.is_none());
        }
    }
    // Each binding's successor on the same number, in one pass in id order.
    let mut ordered: Vec<&BookedBinding> = books.bindings.iter().collect();
    ordered.sort_by_key(|b| b.id);
    let mut next_start: HashMap<i64, Option<Rupiah>> = HashMap::new();
    let mut latest_of_account: HashMap<i64, i64> = HashMap::new();
    for b in &ordered {
        if let Some(previous) = latest_of_account.insert(b.account_id, b.id) {
            next_start.insert(previous, b.balance_start);
        }
    }
    let mut found = Vec::new();
    for b in ordered {
        let (Some(start), Some(last)) = (b.balance_start, b.balance_last) else {
            continue;
        };
        let spent = spent.get(&b.id).copied().unwrap_or(Rupiah::ZERO);
        let unread_after = latest.get(&b.id).is_some_and(|&(_, unread)| unread);
        let last = if unread_after {
            match next_start.get(&b.id).copied().flatten() {
                Some(next) => next,
                // Nothing read since: nothing to hold the binding against.
                None => continue,
            }
        } else {
            last
        };
        if start.checked_sub(spent) != Some(last) {
            found.push(Discrepancy::WrongBalance {
                binding_id: b.id,
                start,
                spent,
                last,
            });
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test fails
mod tests {
    use chrono::Utc;

    use super::*;

    fn number(n: u32) -> Msisdn {
        Msisdn::parse(&format!("0812{n:08}")).unwrap()
    }

    fn entry(trx: &str, n: u32, price: u64, voucher: Option<&str>) -> LedgerEntry {
        LedgerEntry {
            trx_id: trx.to_owned(),
            t_id: format!("t-{trx}"),
            msisdn: number(n),
            port: 9900,
            device_id: "d".to_owned(),
            product_id: "650".to_owned(),
            price: Rupiah::new(price),
            email: "a@example.com".to_owned(),
            pulsa_before: Rupiah::new(50_000),
            pulsa_after: Rupiah::new(50_000 - price),
            voucher: voucher.map(str::to_owned),
            answer_lost: false,
            executed_at: Utc::now(),
        }
    }

    /// Purchase `id` on binding 1 of number 1: 10,000, SUKSES with voucher `V{id}`, `TRX-{id}`,
    /// the balance after it read.
    fn row(id: i64) -> BookedPurchase {
        BookedPurchase {
            id,
            attempt_key: format!("b1-{id}"),
            binding_id: 1,
            msisdn: number(1),
            trx_id: Some(format!("TRX-{id}")),
            price: Rupiah::new(10_000),
            status: TrxStatus::Success,
            voucher: Some(format!("V{id}")),
            pulsa_akhir: Some(Rupiah::new(50_000 - 10_000 * id.unsigned_abs())),
        }
    }

    fn executed_as(row: &BookedPurchase) -> LedgerEntry {
        entry(
            row.trx_id.as_deref().unwrap(),
            1,
            row.price.get(),
            row.voucher.as_deref(),
        )
    }

    fn binding(id: i64, account_id: i64, start: u64, last: u64) -> BookedBinding {
        BookedBinding {
            id,
            account_id,
            balance_start: Some(Rupiah::new(start)),
            balance_last: Some(Rupiah::new(last)),
        }
    }

    /// Two purchases of 10,000 from 50,000, both executed as booked.
    fn right_books() -> (Vec<LedgerEntry>, Books) {
        let purchases = vec![row(1), row(2)];
        let ledger = purchases.iter().map(executed_as).collect();
        let books = Books {
            purchases,
            bindings: vec![binding(1, 1, 50_000, 30_000)],
        };
        (ledger, books)
    }

    fn found(ledger: &[LedgerEntry], books: &Books) -> Vec<Discrepancy> {
        reconcile(ledger, books).discrepancies
    }

    #[test]
    fn books_as_executed_reconcile_with_their_counts() {
        let (ledger, mut books) = right_books();
        let mut refused = row(3);
        refused.status = TrxStatus::Failed;
        refused.trx_id = None;
        books.purchases.push(refused);
        let report = reconcile(&ledger, &books);
        assert!(report.is_reconciled(), "{report:?}");
        assert_eq!(
            (report.executed, report.rows, report.executed_rows),
            (2, 3, 2)
        );
    }

    #[test]
    fn a_purchase_left_processing() {
        let (mut ledger, mut books) = right_books();
        books.purchases[1].status = TrxStatus::Processing;
        ledger.pop();
        books.bindings[0].balance_last = Some(Rupiah::new(40_000));
        assert_eq!(
            found(&ledger, &books),
            [Discrepancy::LeftProcessing {
                attempt_key: "b1-2".into()
            }]
        );
    }

    #[test]
    fn a_row_without_a_ledger_entry() {
        let (mut ledger, books) = right_books();
        ledger.pop();
        assert_eq!(
            found(&ledger, &books),
            [Discrepancy::NeverExecuted {
                attempt_key: "b1-2".into(),
                status: TrxStatus::Success,
                trx_id: "TRX-2".into(),
            }]
        );
    }

    #[test]
    fn an_executed_purchase_without_a_row() {
        let (mut ledger, books) = right_books();
        ledger.push(entry("TRX-9", 2, 5_000, Some("V9")));
        assert_eq!(
            found(&ledger, &books),
            [Discrepancy::MissingRow {
                trx_id: "TRX-9".into(),
                msisdn: number(2),
                price: Rupiah::new(5_000),
            }]
        );
    }

    #[test]
    fn two_rows_for_one_trx_id() {
        let (ledger, mut books) = right_books();
        let mut again = row(2);
        again.id = 3;
        again.attempt_key = "b1-3".into();
        again.status = TrxStatus::Suspect;
        books.purchases.push(again);
        books.bindings[0].balance_last = Some(Rupiah::new(20_000));
        assert_eq!(
            found(&ledger, &books),
            [Discrepancy::TwoRows {
                attempt_key: "b1-3".into(),
                trx_id: "TRX-2".into(),
            }]
        );
    }

    #[test]
    fn a_row_on_the_wrong_number() {
        let (mut ledger, books) = right_books();
        ledger[1].msisdn = number(7);
        assert_eq!(
            found(&ledger, &books),
            [Discrepancy::WrongNumber {
                attempt_key: "b1-2".into(),
                trx_id: "TRX-2".into(),
                booked: number(1),
                executed: number(7),
            }]
        );
    }

    #[test]
    fn a_row_at_the_wrong_price_suspect_or_not() {
        let (mut ledger, mut books) = right_books();
        books.purchases[0].status = TrxStatus::Suspect;
        ledger[0].price = Rupiah::new(9_000);
        ledger[1].price = Rupiah::new(9_000);
        let wrong = |id: u32| Discrepancy::WrongPrice {
            attempt_key: format!("b1-{id}"),
            trx_id: format!("TRX-{id}"),
            booked: Rupiah::new(10_000),
            charged: Rupiah::new(9_000),
        };
        assert_eq!(found(&ledger, &books), [wrong(1), wrong(2)]);
    }

    #[test]
    fn a_sukses_row_with_another_voucher_or_one_never_given() {
        let (mut ledger, mut books) = right_books();
        books.purchases[0].voucher = Some("OTHER".into());
        ledger[1].voucher = None;
        let wrong = |id: u32| Discrepancy::WrongVoucher {
            attempt_key: format!("b1-{id}"),
            trx_id: format!("TRX-{id}"),
        };
        assert_eq!(found(&ledger, &books), [wrong(1), wrong(2)]);
        // A SUSPECT row has no voucher to compare.
        books.purchases[1].status = TrxStatus::Suspect;
        books.purchases[1].voucher = None;
        assert_eq!(found(&ledger, &books), [wrong(1)]);
    }

    #[test]
    fn a_gagal_row_for_an_executed_purchase() {
        let (ledger, mut books) = right_books();
        books.purchases[1].status = TrxStatus::Failed;
        books.bindings[0].balance_last = Some(Rupiah::new(40_000));
        assert_eq!(
            found(&ledger, &books),
            [
                Discrepancy::FailedButExecuted {
                    attempt_key: "b1-2".into(),
                    trx_id: "TRX-2".into(),
                },
                Discrepancy::MissingRow {
                    trx_id: "TRX-2".into(),
                    msisdn: number(1),
                    price: Rupiah::new(10_000),
                },
            ]
        );
    }

    #[test]
    fn a_lost_answer_is_one_suspect_row_of_the_same_number_and_price() {
        let (ledger, mut books) = right_books();
        let lost = &mut books.purchases[1];
        (lost.status, lost.trx_id, lost.voucher) = (TrxStatus::Suspect, None, None);
        assert_eq!(found(&ledger, &books), []);

        // Another price: the executed purchase has no row, the suspect matches nothing.
        books.purchases[1].price = Rupiah::new(5_000);
        books.bindings[0].balance_last = Some(Rupiah::new(35_000));
        assert_eq!(
            found(&ledger, &books),
            [
                Discrepancy::MissingRow {
                    trx_id: "TRX-2".into(),
                    msisdn: number(1),
                    price: Rupiah::new(10_000),
                },
                Discrepancy::UnmatchedSuspect {
                    attempt_key: "b1-2".into()
                },
            ]
        );
    }

    #[test]
    fn a_binding_whose_pulsa_does_not_add_up() {
        let (ledger, mut books) = right_books();
        books.bindings[0].balance_last = Some(Rupiah::new(35_000));
        let wrong = Discrepancy::WrongBalance {
            binding_id: 1,
            start: Rupiah::new(50_000),
            spent: Rupiah::new(20_000),
            last: Rupiah::new(35_000),
        };
        assert_eq!(found(&ledger, &books), std::slice::from_ref(&wrong));
        assert_eq!(
            wrong.to_string(),
            "binding 1 does not add up: start Rp 50.000 − spent Rp 20.000 ≠ last Rp 35.000"
        );
        // Spending more than the start never adds up.
        books.bindings[0].balance_start = Some(Rupiah::new(10_000));
        books.bindings[0].balance_last = Some(Rupiah::ZERO);
        assert_eq!(found(&ledger, &books).len(), 1);
    }

    #[test]
    fn an_unread_last_balance_is_the_next_bindings_start() {
        let (ledger, mut books) = right_books();
        // The balance after the latest purchase was not read: `balance_last` is stale.
        books.purchases[1].pulsa_akhir = None;
        books.bindings[0].balance_last = Some(Rupiah::new(40_000));
        // No next binding yet: nothing to hold it against.
        assert_eq!(found(&ledger, &books), []);
        // The number's next binding started at 30,000: it adds up.
        books.bindings.push(binding(2, 1, 30_000, 30_000));
        // Another number's binding is not the successor.
        books.bindings.push(binding(3, 2, 99_000, 99_000));
        assert_eq!(found(&ledger, &books), []);
        // The next binding started at 35,000: it does not.
        books.bindings[1].balance_start = Some(Rupiah::new(35_000));
        books.bindings[1].balance_last = Some(Rupiah::new(35_000));
        assert_eq!(
            found(&ledger, &books),
            [Discrepancy::WrongBalance {
                binding_id: 1,
                start: Rupiah::new(50_000),
                spent: Rupiah::new(20_000),
                last: Rupiah::new(35_000),
            }]
        );
        // An unread balance before the latest purchase changes nothing.
        books.purchases[1].pulsa_akhir = Some(Rupiah::new(30_000));
        books.purchases[0].pulsa_akhir = None;
        books.bindings[0].balance_last = Some(Rupiah::new(30_000));
        assert_eq!(found(&ledger, &books), []);
    }
}
