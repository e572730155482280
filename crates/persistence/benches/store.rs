//! The foundation's numbers, on this machine, for SQLite and (when `SIMROTOR_TEST_POSTGRES_URL`
//! is set) PostgreSQL: import rows/s for a 1,000,000-row CSV, recap time over 1,000,000
//! transactions, and leases/s with 20 concurrent leasers.
//!
//! `cargo bench -p simrotor-persistence --bench store` (sizes: `SIMROTOR_BENCH_ROWS`,
//! `SIMROTOR_BENCH_TRX`, `SIMROTOR_BENCH_LEASES`). A report, not a test: it asserts only that
//! the work was done (every row imported, every lease distinct).

// A benchmark that cannot set up has nothing to report: it stops at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/postgres.rs"]
mod postgres;
use postgres::{drop_postgres, postgres_store};

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use simrotor_domain::{BatchId, Email, Msisdn};
use simrotor_persistence::entity::{binding, transaction};
use simrotor_persistence::import::{ImportOptions, import_csv};
use simrotor_persistence::{LeaseOwner, NewAccount, ServerSeed, Store, StoreOptions, Synchronous};

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn msisdn(i: usize) -> String {
    format!("0812{:08}", i)
}

async fn sqlite_store(dir: &std::path::Path, name: &str) -> Store {
    let mut opts = StoreOptions::new(format!("sqlite://{}", dir.join(name).display()));
    opts.synchronous = Synchronous::Full;
    Store::connect(&opts).await.expect("sqlite store")
}

async fn bench_import(store: &Store, csv: &std::path::Path, rows: usize) -> f64 {
    let file = std::fs::File::open(csv).expect("csv");
    let opts = ImportOptions {
        batch: BatchId::parse("IMPORT").expect("batch"),
        default_pin: None,
        source_name: "bench.csv".into(),
        rejected_path: None,
    };
    let t = Instant::now();
    let report = import_csv(store, file, opts, |_| {}).await.expect("import");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(report.accepted as usize, rows, "every row must land");
    rows as f64 / secs
}

/// Loads `trx` transactions over 10 batches straight into the tables (bulk, not the purchase
/// path: this measures the recap, not the writer).
async fn load_transactions(store: &Store, trx: usize) -> Duration {
    let servers = store
        .sync_servers(&[ServerSeed {
            port: 9900,
            base_url: "http://bench:9900".into(),
            enabled: true,
            settings: serde_json::Value::Null,
        }])
        .await
        .expect("server");
    let server_id = servers[0].id;
    let per_binding = 100;
    let bindings = trx.div_ceil(per_binding);
    let owner = LeaseOwner::named("bench");
    let mut binding_ids = Vec::with_capacity(bindings);
    for b in 0..bindings {
        let batch = BatchId::parse(&format!("RECAP{}", b % 10)).expect("batch");
        let account = NewAccount {
            msisdn: Msisdn::parse(&format!("0813{:08}", b)).expect("msisdn"),
            email: Email::parse("bench@example.com").expect("email"),
            pin: None,
        };
        store
            .import_accounts(&batch, &[account])
            .await
            .expect("account");
        let lease = store
            .lease_next_account(server_id, &owner, Some(&batch))
            .await
            .expect("lease")
            .expect("one");
        let binding = store.open_binding(lease).await.expect("binding");
        binding_ids.push((binding.id, binding.account.id, batch));
        // Close it at once so the next one can open on the same server: the partial unique
        // index allows one open binding per server.
        binding::Entity::update_many()
            .col_expr(
                binding::Column::EndedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .col_expr(
                binding::Column::State,
                sea_orm::sea_query::Expr::value("LOGGED_OUT"),
            )
            .col_expr(
                binding::Column::EndReason,
                sea_orm::sea_query::Expr::value("EXHAUSTED"),
            )
            .col_expr(
                binding::Column::BalanceStart,
                sea_orm::sea_query::Expr::value(1_000_000i64),
            )
            .col_expr(
                binding::Column::BalanceLast,
                sea_orm::sea_query::Expr::value(5_000i64),
            )
            .filter(binding::Column::Id.eq(binding.id))
            .exec(store.connection())
            .await
            .expect("close");
    }
    let t = Instant::now();
    let statuses = ["SUKSES", "SUKSES", "SUKSES", "SUSPECT", "GAGAL"];
    let now = Utc::now();
    let txn = store.connection().begin().await.expect("begin");
    let mut rows = Vec::with_capacity(1000);
    let mut n = 0usize;
    for (binding_id, account_id, batch) in &binding_ids {
        for seq in 0..per_binding {
            if n == trx {
                break;
            }
            n += 1;
            rows.push(transaction::ActiveModel {
                attempt_key: Set(format!("b{binding_id}-{seq}")),
                account_id: Set(*account_id),
                binding_id: Set(*binding_id),
                server_id: Set(server_id),
                batch_id: Set(batch.as_str().to_owned()),
                msisdn: Set("6281300000000".into()),
                trx_id: Set(Some(format!("T{n}"))),
                t_id: Set(None),
                product_id: Set("VCR10".into()),
                limit_harga: Set(10_500),
                price: Set(10_000),
                pulsa_awal: Set(50_000),
                pulsa_akhir: Set(Some(40_000)),
                status: Set(statuses[n % statuses.len()].into()),
                voucher: Set(None),
                raw: Set(None),
                note: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
            if rows.len() == 1000 {
                transaction::Entity::insert_many(std::mem::take(&mut rows))
                    .exec_without_returning(&txn)
                    .await
                    .expect("insert");
            }
        }
    }
    if !rows.is_empty() {
        transaction::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .expect("insert");
    }
    txn.commit().await.expect("commit");
    // Fresh statistics, as a long-running database would have them.
    store
        .connection()
        .execute_unprepared("ANALYZE")
        .await
        .expect("analyze");
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn bench_recap(store: &Store) -> (Duration, Duration) {
    let mut all = Vec::new();
    let mut one = Vec::new();
    let batch = BatchId::parse("RECAP3").expect("batch");
    for _ in 0..5 {
        let t = Instant::now();
        let recap = store.recap(None).await.expect("recap");
        all.push(t.elapsed());
        assert!(recap.total.transactions.total > 0);
        let t = Instant::now();
        store.recap(Some(&batch)).await.expect("recap one");
        one.push(t.elapsed());
    }
    (median(all), median(one))
}

async fn bench_leases(store: &Store, leases: usize) -> f64 {
    let seeds: Vec<ServerSeed> = (0..20)
        .map(|i| ServerSeed {
            port: 9800 + i,
            base_url: format!("http://lease:{}", 9800 + i),
            enabled: true,
            settings: serde_json::Value::Null,
        })
        .collect();
    let servers = store.sync_servers(&seeds).await.expect("servers");
    let batch = BatchId::parse("LEASE").expect("batch");
    let accounts: Vec<NewAccount> = (0..leases)
        .map(|i| NewAccount {
            msisdn: Msisdn::parse(&format!("0815{:08}", i)).expect("msisdn"),
            email: Email::parse("lease@example.com").expect("email"),
            pin: None,
        })
        .collect();
    store
        .import_accounts(&batch, &accounts)
        .await
        .expect("accounts");
    let owner = LeaseOwner::named("bench-leaser");
    let t = Instant::now();
    let mut tasks = Vec::new();
    for s in servers
        .iter()
        .filter(|s| s.base_url.starts_with("http://lease"))
    {
        let store = store.clone();
        let owner = owner.clone();
        let (server_id, batch) = (s.id, batch.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(lease) = store
                .lease_next_account(server_id, &owner, Some(&batch))
                .await
                .expect("lease")
            {
                got.push(lease.account().id);
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.expect("task") {
            assert!(seen.insert(id), "account {id} leased twice");
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(seen.len(), leases, "every account leased exactly once");
    leases as f64 / secs
}

async fn run(
    label: &str,
    make: impl AsyncFn(&str) -> Store,
    csv: &std::path::Path,
    rows: usize,
    trx: usize,
    leases: usize,
) {
    let store = make("simrotor_bench_import").await;
    let import = bench_import(&store, csv, rows).await;
    println!("{label:<10} import      {rows:>9} rows      {import:>10.0} rows/s");
    let _ = std::io::stdout().flush();
    let store = make("simrotor_bench_recap").await;
    let load = load_transactions(&store, trx).await;
    let (all, one) = bench_recap(&store).await;
    println!(
        "{label:<10} recap       {trx:>9} trx       all batches {:>7.1} ms, one batch {:>6.1} ms   (bulk load took {:.1} s)",
        all.as_secs_f64() * 1e3,
        one.as_secs_f64() * 1e3,
        load.as_secs_f64()
    );
    let _ = std::io::stdout().flush();
    let store = make("simrotor_bench_lease").await;
    let rate = bench_leases(&store, leases).await;
    println!(
        "{label:<10} lease       {leases:>9} accounts  {rate:>10.0} leases/s (20 concurrent leasers)"
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rows = env_usize("SIMROTOR_BENCH_ROWS", 1_000_000);
    let trx = env_usize("SIMROTOR_BENCH_TRX", 1_000_000);
    let leases = env_usize("SIMROTOR_BENCH_LEASES", 20_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("bench.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
        writeln!(w, "msisdn,email,pin").expect("write");
        for i in 0..rows {
            writeln!(w, "{},user{i}@example.com,123456", msisdn(i)).expect("write");
        }
    }
    println!(
        "simrotor store benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let path = dir.path().to_owned();
    run(
        "sqlite",
        async |name: &str| sqlite_store(&path, &format!("{name}.db")).await,
        &csv,
        rows,
        trx,
        leases,
    )
    .await;
    match std::env::var("SIMROTOR_TEST_POSTGRES_URL") {
        Ok(url) => {
            run(
                "postgres",
                async |name: &str| postgres_store(&url, name, Some(20)).await,
                &csv,
                rows,
                trx,
                leases,
            )
            .await;
            for name in [
                "simrotor_bench_import",
                "simrotor_bench_recap",
                "simrotor_bench_lease",
            ] {
                drop_postgres(&url, name).await;
            }
        }
        Err(_) => println!("postgres   skipped: SIMROTOR_TEST_POSTGRES_URL is not set"),
    }
}
