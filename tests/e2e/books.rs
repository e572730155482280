//! `simrotor vouchers` and `simrotor history` on a database with known rows: two numbers in two
//! batches, written through the store as the runtime writes them, the purchases backdated to
//! known times, read in a known time zone (Asia/Jakarta, +07:00).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use simrotor_domain::{BatchId, BindingEvent, FailReason, LogoutReason, Msisdn, Rupiah, TrxEvent};
use simrotor_persistence::entity::transaction;
use simrotor_persistence::{
    Binding, BindingPatch, LeaseOwner, Settle, Store, StoreOptions, Synchronous,
};
use simrotor_test_support::{Buy, buy};

use crate::helpers::{Scratch, assert_has, assert_lacks};

const TZ: (&str, &str) = ("TZ", "Asia/Jakarta");
const TOKEN: &str = "tok-login-e2e-5f1e9a";
/// The first number (batch A), in its three forms.
const LOCAL: &str = "081234500001";

async fn bind(store: &Store, server_id: i64, batch: &str) -> Binding {
    let owner = LeaseOwner::named("e2e");
    let batch = BatchId::parse(batch).unwrap();
    let lease = store
        .lease_next_account(server_id, &owner, Some(&batch))
        .await
        .unwrap()
        .unwrap();
    store.open_binding(lease).await.unwrap()
}

/// Walks `b` to TRANSACTING with `balance`, as a login does.
async fn transacting(store: &Store, b: &mut Binding, balance: u64) {
    let token = BindingPatch {
        token_login: Some(TOKEN.to_owned()),
        ..BindingPatch::default()
    };
    let balance = BindingPatch {
        balance_start: Some(Rupiah::new(balance)),
        token_location: Some(TOKEN.to_owned()),
        ..BindingPatch::default()
    };
    for (event, patch) in [
        (BindingEvent::OtpRequestSent, BindingPatch::default()),
        (
            BindingEvent::OtpRequestAcknowledged,
            BindingPatch::default(),
        ),
        (BindingEvent::OtpAccepted, token),
        (BindingEvent::LoginTokensFetched, balance),
        (BindingEvent::ResellerConfirmed, BindingPatch::default()),
    ] {
        store.move_binding(b, event, patch).await.unwrap();
    }
}

async fn bought_at(store: &Store, id: i64, at: &str) {
    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    transaction::Entity::update_many()
        .col_expr(transaction::Column::CreatedAt, Expr::value(at))
        .filter(transaction::Column::Id.eq(id))
        .exec(store.connection())
        .await
        .unwrap();
}

/// Servers 9300 and 9301; number 1 (batch A) bound twice (no OTP came on 9300, then on 9301: a
/// voucher at 01:10Z, a suspect at 01:20Z resolved by budi, a voucher at 02:30Z); number 2
/// (batch B) on 9300: a voucher at 03:00Z. Returns the purchases' ids in that order.
fn known_books(s: &Scratch) -> Vec<i64> {
    s.write(
        "config.toml",
        "[database]\nurl = \"sqlite://data/test.db\"\nsynchronous = \"normal\"\n[servers]\nports = [9300, 9301]\n",
    );
    s.write("a.csv", format!("{LOCAL},a@example.com\n"));
    s.write("b.csv", "081234500002,b@example.com\n");
    s.run(&["import", "a.csv", "--batch", "A"]).ok();
    s.run(&["import", "b.csv", "--batch", "B"]).ok();
    s.run(&["migrate"]).ok();
    let url = format!("sqlite://{}", s.path("data/test.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::connect(&StoreOptions {
            url,
            synchronous: Synchronous::Normal,
            busy_timeout: std::time::Duration::from_secs(5),
            max_connections: 2,
        })
        .await
        .unwrap();
        let servers = store.servers().await.unwrap();
        let (s0, s1) = (servers[0].id, servers[1].id);
        let mut first = bind(&store, s0, "A").await;
        for event in [
            BindingEvent::OtpRequestSent,
            BindingEvent::OtpRequestAcknowledged,
        ] {
            store
                .move_binding(&mut first, event, BindingPatch::default())
                .await
                .unwrap();
        }
        let no_otp = BindingEvent::Failed(FailReason::OtpTimeout);
        store
            .close_binding(first, no_otp, Settle::Released, BindingPatch::default())
            .await
            .unwrap();
        let mut a = bind(&store, s1, "A").await;
        transacting(&store, &mut a, 50_000).await;
        let v1 = Buy::new(1, 50_000)
            .accepted("TRX-1")
            .ended(TrxEvent::VoucherReceived, Some(40_000))
            .voucher("VC-AAA1");
        let sus = Buy::new(2, 40_000)
            .accepted("TRX-2")
            .ended(TrxEvent::AnswerLostBalanceDropped, Some(30_000))
            .note("balance dropped, no voucher");
        let v2 = Buy::new(3, 30_000)
            .of("VCR-5", 5_000, 5_500)
            .accepted("TRX-3")
            .ended(TrxEvent::VoucherReceived, Some(25_000))
            .voucher("VC-AAA2");
        let mut b = bind(&store, s0, "B").await;
        transacting(&store, &mut b, 20_000).await;
        let v3 = Buy::new(1, 20_000)
            .accepted("TRX-4")
            .ended(TrxEvent::VoucherReceived, Some(10_000))
            .voucher("VC-BBB1");
        let ids = vec![
            buy(&store, &a, v1).await.id,
            buy(&store, &a, sus).await.id,
            buy(&store, &a, v2).await.id,
            buy(&store, &b, v3).await.id,
        ];
        store
            .resolve_suspect(ids[1], "budi", "voucher seen in the telco portal")
            .await
            .unwrap();
        let exhausted = BindingEvent::LoggedOut(LogoutReason::Exhausted);
        store
            .close_binding(a, exhausted, Settle::Exhausted, BindingPatch::default())
            .await
            .unwrap();
        for (id, at) in ids.iter().zip([
            "2026-12-01T01:10:00Z",
            "2026-12-01T01:20:00Z",
            "2026-12-01T02:30:00Z",
            "2026-12-01T03:00:00Z",
        ]) {
            bought_at(&store, *id, at).await;
        }
        store.close().await.unwrap();
        ids
    })
}

fn data_lines(csv: &str) -> Vec<&str> {
    csv.lines().skip(1).collect()
}

#[test]
fn vouchers_filter_and_format_the_known_purchases() {
    let s = Scratch::new();
    let ids = known_books(&s);
    let number = Msisdn::parse(LOCAL).unwrap();
    let m = number.as_str();

    // CSV: the header, then the SUKSES rows in time order, in the operator's zone.
    let run = s.run_env(&["vouchers", "--format", "csv"], &[TZ]).ok();
    let header = run.stdout.lines().next().unwrap();
    assert_eq!(
        header,
        "time,voucher,product_id,product_name,price,msisdn,batch,server,trx_id,pulsa_before,pulsa_after,status,note,resolution,id"
    );
    assert_eq!(
        data_lines(&run.stdout),
        [
            format!(
                "2026-12-01T08:10:00+07:00,VC-AAA1,VCR-10,Voucher 10.000,10000,{m},A,9301,TRX-1,50000,40000,SUKSES,,,{}",
                ids[0]
            ),
            format!(
                "2026-12-01T09:30:00+07:00,VC-AAA2,VCR-5,,5000,{m},A,9301,TRX-3,30000,25000,SUKSES,,,{}",
                ids[2]
            ),
            format!(
                "2026-12-01T10:00:00+07:00,VC-BBB1,VCR-10,Voucher 10.000,10000,6281234500002,B,9300,TRX-4,20000,10000,SUKSES,,,{}",
                ids[3]
            ),
        ]
    );
    assert_has(&run.stderr, "3 vouchers, total price Rp 25.000.");

    // Suspects on request, marked with their resolution.
    let run = s
        .run_env(
            &["vouchers", "--status", "suspect", "--format", "csv"],
            &[TZ],
        )
        .ok();
    let lines = data_lines(&run.stdout);
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert_has(lines[0], ",SUSPECT,\"balance dropped, no voucher\",");
    assert_has(lines[0], "resolved by budi at ");
    assert_has(lines[0], "voucher seen in the telco portal");

    // Filters: batch, a time range (since inclusive, until exclusive), local times.
    let count = |args: &[&str]| {
        let mut all = vec!["vouchers", "--format", "csv"];
        all.extend_from_slice(args);
        data_lines(&s.run_env(&all, &[TZ]).ok().stdout).len()
    };
    assert_eq!(count(&["--batch", "B"]), 1);
    assert_eq!(count(&["--status", "all"]), 4);
    assert_eq!(count(&["--status", "all", "--batch", "A"]), 3);
    assert_eq!(
        count(&["--since", "2026-12-01 08:20", "--until", "2026-12-01 10:00"]),
        1
    );
    assert_eq!(
        count(&["--since", "2026-12-01T08:20:00+07:00", "--status", "all"]),
        3
    );
    assert_eq!(count(&["--until", "2026-12-01"]), 0);
    assert_eq!(count(&["--since", "1h"]), 0, "nothing in the last hour");

    // JSON, and a table with the summary as its last line.
    let rows = s
        .run_env(&["vouchers", "--format", "json", "--status", "all"], &[TZ])
        .ok()
        .json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["status"], "SUSPECT");
    assert_eq!(rows[1]["resolved_by"], "budi");
    assert_eq!(rows[0]["pulsa_before"], 50_000);
    let table = s.run_env(&["vouchers"], &[TZ]).ok();
    assert_has(&table.stdout, "VC-BBB1");
    assert_eq!(
        table.stdout.lines().last(),
        Some("3 vouchers, total price Rp 25.000.")
    );

    // --output: the same bytes as standard output, twice the same file.
    let stdout = s
        .run_env(&["vouchers", "--format", "csv"], &[TZ])
        .ok()
        .stdout;
    let run = s.run_env(
        &["vouchers", "--format", "csv", "-o", "out/today.csv"],
        &[TZ],
    );
    assert_ne!(run.code, 0, "a missing directory is an error");
    assert_has(&run.stderr, "out/today.csv");
    std::fs::create_dir(s.path("out")).unwrap();
    let run = s
        .run_env(
            &["vouchers", "--format", "csv", "-o", "out/today.csv"],
            &[TZ],
        )
        .ok();
    assert_has(
        &run.stderr,
        "3 vouchers, total price Rp 25.000. Written to out/today.csv.",
    );
    let first = s.read("out/today.csv");
    assert_eq!(first, stdout);
    s.run_env(
        &["vouchers", "--format", "csv", "-o", "out/today.csv"],
        &[TZ],
    )
    .ok();
    assert_eq!(s.read("out/today.csv"), first);
    let leftovers = std::fs::read_dir(s.path("out")).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left beside the export");

    // Nothing secret, in any format.
    for format in ["csv", "json", "table"] {
        let run = s.run_env(&["vouchers", "--status", "all", "--format", format], &[TZ]);
        assert_lacks(&run.stdout, TOKEN);
    }

    // Bad flags name themselves.
    let run = s.run(&["vouchers", "--status", "sold"]);
    assert_ne!(run.code, 0);
    assert_has(&run.stderr, "sukses, suspect, all");
    let run = s.run(&["vouchers", "--since", "yesterdayish"]);
    assert_ne!(run.code, 0);
    assert_has(&run.stderr, "--since \"yesterdayish\"");
    let run = s.run(&["vouchers", "--until", "later"]);
    assert_has(&run.stderr, "--until \"later\"");
    let run = s.run(&["vouchers", "--since", "2026-12-02", "--until", "2026-12-01"]);
    assert_ne!(run.code, 0);
    assert_has(&run.stderr, "until");
}

#[test]
fn history_tells_a_numbers_bindings_purchases_and_suspects() {
    let s = Scratch::new();
    let ids = known_books(&s);
    let number = Msisdn::parse(LOCAL).unwrap();
    let plus = format!("+{}", number.as_str());
    let mut seen = Vec::new();
    for form in [LOCAL, number.as_str(), plus.as_str()] {
        let run = s.run_env(&["history", form], &[TZ]).ok();
        seen.push(run.stdout);
    }
    assert!(
        seen.iter().all(|t| *t == seen[0]),
        "every form, the same story"
    );
    let text = &seen[0];
    assert_has(text, &format!("Number {} — batch A, DONE", number.as_str()));
    assert_has(text, "on server 9300");
    assert_has(text, "(OTP_TIMEOUT)");
    assert_has(text, "on server 9301");
    assert_has(text, "(EXHAUSTED); pulsa Rp 50.000 → ");
    assert_has(text, "BOUND ");
    assert_has(text, " → TRANSACTING ");
    assert_has(text, "VC-AAA2");
    assert_has(text, "3 purchases, 2 vouchers for Rp 15.000.");
    assert_has(
        text,
        &format!(
            "  {} trx TRX-2 Rp 10.000 at 2026-12-01T08:20:00+07:00",
            ids[1]
        ),
    );
    assert_has(text, "resolved by budi at ");
    assert_lacks(text, TOKEN);

    let h = s
        .run_env(&["history", LOCAL, "--format", "json"], &[TZ])
        .ok()
        .json();
    let bindings = h["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 2);
    assert_eq!(bindings[0]["end_reason"], "OTP_TIMEOUT");
    assert_eq!(bindings[1]["purchases"].as_array().unwrap().len(), 3);
    assert_eq!(h["suspects"][0]["id"], ids[1]);
    assert_lacks(&h.to_string(), TOKEN);

    let run = s.run(&["history", "081299999999"]);
    assert_eq!(run.code, 1);
    assert_has(&run.stderr, "6281299999999 was never imported");
    let run = s.run(&["history", "not-a-number"]);
    assert_ne!(run.code, 0);
    assert_has(&run.stderr, "not-a-number");
}
