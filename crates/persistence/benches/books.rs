//! The operator's books at scale: how long the voucher export and the live page's answers take
//! over 10,000,000 transactions, on SQLite and (when `SIMROTOR_TEST_POSTGRES_URL` is set)
//! PostgreSQL. Issue: "a benchmark reports `vouchers` export time and the page's API answers
//! over 10 M transactions", and the hourly series and batch progress "fast at 10 M".
//!
//! ```text
//! cargo bench -p simrotor-persistence --bench books              # 10,000,000 transactions
//! cargo bench -p simrotor-persistence --bench books -- --quick   # 1,000,000, a smoke test
//! SIMROTOR_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p simrotor-persistence --bench books           # SQLite, then PostgreSQL
//! ```
//!
//! `-- --keep` leaves the databases behind (the SQLite file's path and the PostgreSQL database's
//! name are printed) to look at the plans by hand.
//!
//! The books are written straight into the tables by `INSERT … SELECT` over a generated series
//! (a recursive CTE on SQLite, `generate_series` on PostgreSQL), in time order: 30 days ending
//! now, 20 servers buying side by side, one binding of 25 purchases per number, 20 batches one
//! after the other, ~95% `SUKSES` with a voucher, ~3% `GAGAL`, ~2% `SUSPECT` (unresolved), the 20
//! in-flight purchases `PROCESSING`. The timestamps are the text SeaORM writes (checked against
//! a value it binds, and read back through the entity), and every measured answer is checked
//! against the counts computed here from the same formulas, so a wrong range cannot pass as a
//! fast one.
//!
//! What is measured is what the store's callers do: the CLI's export (`simrotor vouchers`: pages
//! of 10,000 by [`Store::voucher_page`] into a `csv::Writer`), the admin API's `/api/vouchers`
//! (`Store::vouchers` then one CSV body in memory), `/api/hourly`, `/api/batches`,
//! `/api/history/{msisdn}`, `/api/suspects`, `/api/today`, `/api/servers`. Wall-clock per call,
//! the median of a few runs (one when a run takes over a minute), on a warm cache (the fill just
//! wrote the pages). A report, not a test: it asserts only that the answers hold the rows they
//! must.
//!
//! SQLite is measured twice: `[no stats]` as the store leaves a file (nothing in simrotor runs
//! `ANALYZE`, so the planner has no `sqlite_stat1`), then `[ANALYZE]`. PostgreSQL once,
//! `[vacuumed]`: after `VACUUM ANALYZE`, what autovacuum gives a live database.

// A benchmark that cannot set up has nothing to report: it stops at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/postgres.rs"]
mod postgres;
use postgres::{drop_postgres, postgres_store};

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound as _, SecondsFormat, TimeDelta, Utc};
use sea_orm::sqlx::sqlite::SqliteSynchronous;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, EntityTrait,
    Statement, TransactionTrait,
};
use simrotor_domain::{BatchId, Msisdn, TrxStatus};
use simrotor_persistence::entity::transaction;
use simrotor_persistence::{
    ServerSeed, Store, StoreOptions, Synchronous, VoucherFilter, VoucherRow, VoucherStatus,
};

const DAY_US: i64 = 86_400_000_000;
const HOUR_US: i64 = 3_600_000_000;
const SERVERS: u64 = 20;
const BATCHES: u64 = 20;
/// Purchases per binding (one binding per number).
const PER_BINDING: u64 = 25;
/// The export's page, as `simrotor vouchers` reads it.
const PAGE: u64 = 10_000;
/// Rows per `INSERT … SELECT` of the fill (one transaction each).
const CHUNK: u64 = 1_000_000;

/// The books' shape, and the formulas the fill's SQL and the expected counts share.
#[derive(Debug, Clone, Copy)]
struct Shape {
    trx: u64,
    /// Accounts = bindings.
    numbers: u64,
    start_us: i64,
    step_us: i64,
    now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Sukses,
    Gagal,
    Suspect,
    Processing,
}

impl Shape {
    fn new(trx: u64, now: DateTime<Utc>) -> Self {
        let group = SERVERS * PER_BINDING;
        assert!(
            trx.is_multiple_of(group) && (trx / PER_BINDING).is_multiple_of(BATCHES),
            "{trx} transactions: must be a multiple of {}",
            group * BATCHES
        );
        let now_us = now.timestamp_micros();
        Shape {
            trx,
            numbers: trx / PER_BINDING,
            start_us: now_us - 30 * DAY_US,
            step_us: 30 * DAY_US / i64::try_from(trx).unwrap(),
            now,
        }
    }

    fn per_batch(&self) -> u64 {
        self.numbers / BATCHES
    }

    /// Purchase `i` (0-based, id `i + 1`): made at `start + i·step`.
    fn time_us(&self, i: u64) -> i64 {
        self.start_us + i64::try_from(i).unwrap() * self.step_us
    }

    /// Its binding (= its account, 0-based): the servers buy side by side, each through one
    /// binding of `PER_BINDING` purchases after the other.
    fn binding(&self, i: u64) -> u64 {
        (i / (SERVERS * PER_BINDING)) * SERVERS + i % SERVERS
    }

    fn batch(&self, binding: u64) -> u64 {
        binding / self.per_batch()
    }

    fn status(&self, i: u64) -> Status {
        let r = (i * 61) % 100;
        if i >= self.trx - SERVERS {
            Status::Processing
        } else if r < 95 {
            Status::Sukses
        } else if r < 98 {
            Status::Gagal
        } else {
            Status::Suspect
        }
    }

    fn msisdn(&self, b: u64) -> String {
        format!("62813{b:08}")
    }
}

fn batch_name(b: u64) -> String {
    format!("B{:02}", b + 1)
}

fn micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap()
}

/// The SQL that differs between the two backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    fn of(store: &Store) -> Self {
        match store.backend() {
            DatabaseBackend::Sqlite => Db::Sqlite,
            DatabaseBackend::Postgres => Db::Postgres,
            other => panic!("no bench for {other:?}"),
        }
    }

    /// The column value of the moment `e` (microseconds since the epoch, an integer expression),
    /// as SeaORM writes a `DateTime<Utc>`: on SQLite the text sqlx encodes
    /// (`to_rfc3339_opts(AutoSi, false)`: `2026-12-04T10:00:00.259200+00:00`, no fraction on a
    /// whole second, three digits on a whole millisecond), on PostgreSQL a `timestamptz`.
    fn ts(self, e: &str) -> String {
        match self {
            Db::Sqlite => format!(
                "(strftime('%Y-%m-%dT%H:%M:%S', ({e}) / 1000000, 'unixepoch') || \
                 CASE WHEN ({e}) % 1000000 = 0 THEN '' \
                      WHEN ({e}) % 1000 = 0 THEN printf('.%03d', (({e}) % 1000000) / 1000) \
                      ELSE printf('.%06d', ({e}) % 1000000) END || '+00:00')"
            ),
            // float8 × interval: exact below 2^53 µs (year 2255).
            Db::Postgres => {
                format!("(TIMESTAMPTZ '1970-01-01 00:00:00+00' + ({e}) * INTERVAL '1 microsecond')")
            }
        }
    }

    /// The moment `e` as RFC 3339 text, for the JSON trail.
    fn ts_text(self, e: &str) -> String {
        match self {
            Db::Sqlite => self.ts(e),
            Db::Postgres => format!(
                "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
                self.ts(e)
            ),
        }
    }

    /// `e` in decimal, zero-padded to `width` digits.
    fn pad(self, e: &str, width: usize) -> String {
        match self {
            Db::Sqlite => format!("printf('%0{width}d', {e})"),
            Db::Postgres => format!("lpad(CAST({e} AS TEXT), {width}, '0')"),
        }
    }

    fn text(self, e: &str) -> String {
        format!("CAST({e} AS TEXT)")
    }

    /// A JSON column's value from its text.
    fn json(self, e: &str) -> String {
        match self {
            Db::Sqlite => e.to_owned(),
            Db::Postgres => format!("CAST({e} AS JSONB)"),
        }
    }

    /// `INSERT INTO {into} SELECT {select} FROM (… i in [lo, hi) …)`.
    fn insert_series(self, into: &str, select: &str, lo: u64, hi: u64) -> String {
        match self {
            Db::Sqlite => format!(
                "WITH RECURSIVE g(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM g WHERE i + 1 < {hi}) \
                 INSERT INTO {into} {}",
                select.replace("{series}", "g")
            ),
            Db::Postgres => format!(
                "INSERT INTO {into} {}",
                select.replace(
                    "{series}",
                    &format!(
                        "generate_series(CAST({lo} AS BIGINT), CAST({} AS BIGINT)) AS g(i)",
                        hi - 1
                    )
                )
            ),
        }
    }
}

async fn exec<C: ConnectionTrait>(conn: &C, sql: &str) {
    conn.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

async fn scalar_i64(store: &Store, sql: &str) -> i64 {
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(store.backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("an integer")
}

async fn text(store: &Store, sql: &str, values: Vec<sea_orm::Value>) -> String {
    let row = store
        .connection()
        .query_one_raw(Statement::from_sql_and_values(store.backend(), sql, values))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
        .expect("a row");
    row.try_get_by_index::<String>(0).expect("text")
}

/// What SeaORM writes for a moment on this backend, and what the fill writes for it, must be
/// one text: the range filters compare text on SQLite.
async fn check_time_format(store: &Store, db: Db, shape: &Shape) {
    // A row the Store API wrote itself (the servers' `sync_servers`).
    let written = text(
        store,
        "SELECT CAST(created_at AS TEXT) FROM servers ORDER BY id LIMIT 1",
        vec![],
    )
    .await;
    eprintln!("  {db:?}: servers.created_at as the store wrote it: {written}");
    if db == Db::Sqlite {
        assert!(
            written.len() >= 25 && &written[10..11] == "T" && written.ends_with("+00:00"),
            "SeaORM's SQLite time text changed: {written}; the fill's `ts` must follow"
        );
        // Whole second, whole millisecond, whole microsecond, and a real step of the fill.
        let base = shape.now.duration_trunc(TimeDelta::seconds(1)).unwrap();
        for us in [
            base.timestamp_micros(),
            base.timestamp_micros() + 123_000,
            base.timestamp_micros() + 123_456,
            shape.time_us(shape.trx / 2 + 1),
        ] {
            let bound = text(store, "SELECT CAST($1 AS TEXT)", vec![micros(us).into()]).await;
            let ours = text(store, &format!("SELECT {}", db.ts(&us.to_string())), vec![]).await;
            assert_eq!(
                ours, bound,
                "the fill's time text must be what SeaORM binds"
            );
            assert_eq!(
                bound,
                micros(us).to_rfc3339_opts(SecondsFormat::AutoSi, false)
            );
        }
    }
}

/// Servers by the Store API, then accounts, bindings and transactions straight into the tables
/// through `bulk`.
async fn fill(store: &Store, bulk: &DatabaseConnection, db: Db, shape: &Shape) -> Duration {
    let seeds: Vec<ServerSeed> = (0..SERVERS)
        .map(|s| ServerSeed {
            port: 9001 + u16::try_from(s).unwrap(),
            base_url: format!("http://books-bench:{}", 9001 + s),
            enabled: true,
            settings: serde_json::Value::Null,
        })
        .collect();
    store.sync_servers(&seeds).await.expect("servers");
    check_time_format(store, db, shape).await;
    let first = scalar_i64(store, "SELECT MIN(id) FROM servers").await;
    let last = scalar_i64(store, "SELECT MAX(id) FROM servers").await;
    assert_eq!(last - first + 1, SERVERS as i64, "server ids in one run");

    let t = Instant::now();
    let (n, numbers, per_batch) = (shape.trx, shape.numbers, shape.per_batch());
    let (start, step) = (shape.start_us, shape.step_us);
    let group = SERVERS * PER_BINDING;
    let open = numbers - SERVERS;

    // Accounts: imported an hour before the first purchase; the last 20 leased (their bindings
    // are open), the others done.
    let accounts = format!(
        "SELECT a + 1, '62813' || {msisdn}, 'user' || {a_text} || '@example.com', NULL, \
           'B' || {batch}, CASE WHEN a >= {open} THEN 'LEASED' ELSE 'DONE' END, TRUE, 0, \
           CASE WHEN a >= {open} THEN {first} + a % {SERVERS} END, \
           CASE WHEN a >= {open} THEN 'books-bench' END, \
           CASE WHEN a >= {open} THEN {t0_ts} END, NULL, {imported}, {t0_ts} \
         FROM (SELECT i AS a, {start} + ((i / {SERVERS}) * {group} + i % {SERVERS}) * {step} AS t0 \
               FROM {{series}}) AS s",
        msisdn = db.pad("a", 8),
        a_text = db.text("a"),
        batch = db.pad(&format!("a / {per_batch} + 1"), 2),
        t0_ts = db.ts("t0"),
        imported = db.ts(&format!("{start} - {HOUR_US}")),
    );
    exec(
        bulk,
        &db.insert_series(
            "accounts (id, msisdn, email, pin, batch_id, status, is_reseller, attempts, \
             leased_server_id, lease_owner, leased_at, last_error, created_at, updated_at)",
            &accounts,
            0,
            numbers,
        ),
    )
    .await;
    eprintln!(
        "  accounts: {numbers} in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Bindings: one per account, opened 90 s before its first purchase, logged out 5 s after
    // its last, with the trail a binding writes on the way.
    let step_json = |state: &str, at: &str| {
        format!(
            "'{{\"state\":\"{state}\",\"at\":\"' || {} || '\"}}'",
            db.ts_text(at)
        )
    };
    let trail = format!(
        "'[' || {} || ',' || {} || ',' || {} || ',' || {} || ',' || {} || ',' || {} || \
         CASE WHEN a >= {open} THEN '' ELSE ',' || {} END || ']'",
        step_json("BOUND", "c"),
        step_json("OTP_REQUESTED", "c + 1000000"),
        step_json("OTP_VERIFICATION", "c + 3000000"),
        step_json("OTP_VERIFIED", "c + 41000000"),
        step_json("TOKEN_LOGIN_FETCHED", "c + 43000000"),
        step_json("TRANSACTING", "c + 45000000"),
        step_json("LOGGED_OUT", "e"),
    );
    let bindings = format!(
        "SELECT a + 1, a + 1, {first} + a % {SERVERS}, 'B' || {batch}, '62813' || {msisdn}, \
           CASE WHEN a >= {open} THEN 'TRANSACTING' ELSE 'LOGGED_OUT' END, \
           CASE WHEN a >= {open} THEN 5 ELSE 6 END, \
           CASE WHEN a >= {open} THEN NULL ELSE 'EXHAUSTED' END, NULL, NULL, 3000000, \
           CASE WHEN a >= {open} THEN 1000000 ELSE 450000 END, 'device-' || {server_text}, NULL, \
           {trail}, {c_ts}, {e_ts}, CASE WHEN a >= {open} THEN NULL ELSE {e_ts} END \
         FROM (SELECT a, t0 - 90000000 AS c, t0 + {last_offset} + 5000000 AS e \
               FROM (SELECT i AS a, {start} + ((i / {SERVERS}) * {group} + i % {SERVERS}) * {step} AS t0 \
                     FROM {{series}}) AS s0) AS s",
        batch = db.pad(&format!("a / {per_batch} + 1"), 2),
        msisdn = db.pad("a", 8),
        server_text = db.text(&format!("a % {SERVERS}")),
        trail = db.json(&trail),
        c_ts = db.ts("c"),
        e_ts = db.ts("e"),
        last_offset = (PER_BINDING as i64 - 1) * SERVERS as i64 * step,
    );
    exec(
        bulk,
        &db.insert_series(
            "bindings (id, account_id, server_id, batch_id, msisdn, state, version, end_reason, \
             token_login, token_location, balance_start, balance_last, device_id, raw, trail, \
             created_at, updated_at, ended_at)",
            &bindings,
            0,
            numbers,
        ),
    )
    .await;
    eprintln!(
        "  bindings: {numbers} in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Transactions, in time order: s1 the purchase's binding, sequence, status and price; s2
    // its voucher and trx id; the row.
    let vc = db.pad("(i * 982451653 + 7) % 10000000000000000", 16);
    let tx = format!("'TRX' || {}", db.pad("i", 10));
    let raw = format!(
        "CASE st \
           WHEN 'SUKSES' THEN '{{\"trx_idv\":{{\"status\":\"SUKSES\",\"message\":\"Transaksi berhasil\",\"trx_id\":\"' || tx || '\",\"sn\":\"' || vc || '\",\"harga\":' || {pr} || ',\"saldo\":' || {left} || '}}}}' \
           WHEN 'GAGAL' THEN '{{\"trx_idv\":{{\"status\":\"GAGAL\",\"message\":\"Stok voucher sedang kosong\",\"trx_id\":\"' || tx || '\"}}}}' \
           WHEN 'SUSPECT' THEN '{{\"status_idv\":[{{\"status\":\"PENDING\",\"trx_id\":\"' || tx || '\"}},{{\"error\":\"timed out after 10s\"}},{{\"status\":\"PENDING\",\"trx_id\":\"' || tx || '\"}}]}}' \
         END",
        pr = db.text("pr"),
        left = db.text("pa - pr"),
    );
    let select = format!(
        "SELECT i + 1, 'b' || {b_text} || '-' || {k_text}, b + 1, b + 1, {first} + i % {SERVERS}, \
           'B' || {batch}, '62813' || {msisdn}, CASE WHEN st = 'PROCESSING' THEN NULL ELSE tx END, \
           NULL, CASE pr WHEN 5000 THEN 'VCR5' WHEN 10000 THEN 'VCR10' ELSE 'VCR100' END, \
           CASE pr WHEN 5000 THEN 'Voucher 5.000' WHEN 10000 THEN 'Voucher 10.000' ELSE 'Voucher 100.000' END, \
           pr + 500, pr, pa, \
           CASE st WHEN 'GAGAL' THEN pa WHEN 'PROCESSING' THEN NULL ELSE pa - pr END, st, \
           CASE WHEN st = 'SUKSES' THEN vc END, {raw_json}, \
           CASE WHEN st = 'SUSPECT' THEN 'pulsa went down by the price, no voucher after 3 status_idv' END, \
           {created}, {updated}, NULL, NULL, NULL \
         FROM (SELECT i, t, b, k, st, pr, 3000000 - k * 100000 AS pa, {vc} AS vc, {tx} AS tx \
               FROM (SELECT i, {start} + i * {step} AS t, (i / {group}) * {SERVERS} + i % {SERVERS} AS b, \
                       (i / {SERVERS}) % {PER_BINDING} AS k, \
                       CASE WHEN i >= {processing} THEN 'PROCESSING' \
                            WHEN (i * 61) % 100 < 95 THEN 'SUKSES' \
                            WHEN (i * 61) % 100 < 98 THEN 'GAGAL' ELSE 'SUSPECT' END AS st, \
                       CASE WHEN (i * 7 + i / 20) % 20 = 0 THEN 100000 \
                            WHEN (i * 7 + i / 20) % 20 <= 6 THEN 5000 ELSE 10000 END AS pr \
                     FROM {{series}}) AS s1) AS s2",
        b_text = db.text("b + 1"),
        k_text = db.text("k"),
        batch = db.pad(&format!("b / {per_batch} + 1"), 2),
        msisdn = db.pad("b", 8),
        raw_json = db.json(&raw),
        created = db.ts("t"),
        updated = db.ts("t + 2000000"),
        processing = n - SERVERS,
    );
    let into = "transactions (id, attempt_key, account_id, binding_id, server_id, batch_id, \
                msisdn, trx_id, t_id, product_id, product_name, limit_harga, price, pulsa_awal, \
                pulsa_akhir, status, voucher, raw, note, created_at, updated_at, resolved_at, \
                resolved_by, resolution)";
    let mut lo = 0;
    while lo < n {
        let hi = (lo + CHUNK).min(n);
        let txn = bulk.begin().await.expect("begin");
        if db == Db::Postgres {
            // The rows are consistent by construction: no foreign-key triggers (superuser),
            // no wait for the WAL's flush.
            for set in [
                "SET LOCAL synchronous_commit = off",
                "SET LOCAL session_replication_role = replica",
            ] {
                txn.execute_unprepared(set).await.expect("bulk settings");
            }
        }
        let sql = db.insert_series(into, &select, lo, hi);
        txn.execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        txn.commit().await.expect("commit");
        lo = hi;
        eprintln!("  transactions: {lo} in {:.1} s", t.elapsed().as_secs_f64());
    }
    let _ = std::io::stderr().flush();
    match db {
        Db::Sqlite => exec(bulk, "PRAGMA wal_checkpoint(TRUNCATE)").await,
        Db::Postgres => {
            for table in ["servers", "accounts", "bindings", "transactions"] {
                exec(
                    bulk,
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                    ),
                )
                .await;
            }
        }
    }
    let took = t.elapsed();

    // The rows are what the entity reads: the times exactly the formula's.
    for i in [0, 1, n / 3 + 7, n - 1] {
        let id = i64::try_from(i + 1).unwrap();
        let row = transaction::Entity::find_by_id(id)
            .one(store.connection())
            .await
            .expect("read back")
            .expect("the row");
        assert_eq!(row.created_at, micros(shape.time_us(i)), "row {id}'s time");
        assert_eq!(
            row.status.parse::<TrxStatus>().expect("status").name(),
            row.status
        );
        assert_eq!(row.batch_id, batch_name(shape.batch(shape.binding(i))));
    }
    assert_eq!(
        scalar_i64(store, "SELECT COUNT(*) FROM transactions").await,
        n as i64
    );
    took
}

/// Brings the planner's statistics up to date (what ANALYZE on SQLite, autovacuum on a live
/// PostgreSQL do).
async fn analyze(store: &Store, db: Db) -> Duration {
    let t = Instant::now();
    match db {
        Db::Sqlite => exec(store.connection(), "ANALYZE").await,
        Db::Postgres => exec(store.connection(), "VACUUM ANALYZE").await,
    }
    t.elapsed()
}

/// The counts the answers must hold, from the fill's formulas.
#[derive(Debug, Default)]
struct Expected {
    sukses_24h: u64,
    all_24h: u64,
    sukses_batch: u64,
    sukses_hour: u64,
    hourly_total: u64,
    sukses: u64,
    suspect: u64,
}

struct Windows {
    since_24h: DateTime<Utc>,
    hour: (DateTime<Utc>, DateTime<Utc>),
    batch: u64,
    hourly_from: DateTime<Utc>,
}

fn windows(shape: &Shape) -> Windows {
    let current = shape.now.duration_trunc(TimeDelta::hours(1)).unwrap();
    let hour_start = current - TimeDelta::hours(5);
    Windows {
        since_24h: shape.now - TimeDelta::hours(24),
        hour: (hour_start, hour_start + TimeDelta::hours(1)),
        batch: BATCHES / 2,
        hourly_from: current - TimeDelta::hours(23),
    }
}

fn expected(shape: &Shape, w: &Windows) -> Expected {
    let mut e = Expected::default();
    let since = w.since_24h.timestamp_micros();
    let (h0, h1) = (w.hour.0.timestamp_micros(), w.hour.1.timestamp_micros());
    let from = w.hourly_from.timestamp_micros();
    for i in 0..shape.trx {
        let t = shape.time_us(i);
        let status = shape.status(i);
        let sukses = status == Status::Sukses;
        if t >= since {
            e.all_24h += 1;
            e.sukses_24h += u64::from(sukses);
        }
        if sukses && (h0..h1).contains(&t) {
            e.sukses_hour += 1;
        }
        if sukses && shape.batch(shape.binding(i)) == w.batch {
            e.sukses_batch += 1;
        }
        if t >= from {
            e.hourly_total += 1;
        }
        e.sukses += u64::from(sukses);
        e.suspect += u64::from(status == Status::Suspect);
    }
    e
}

/// `io::sink()` that counts what the CSV writer gave it.
#[derive(Debug, Default)]
struct Counted(u64);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What one run of an operation answered: how many rows, and a note on them.
#[derive(Debug)]
struct Answer {
    rows: u64,
    note: String,
}

fn csv_note(bytes: u64, store: Duration, total: Duration) -> String {
    format!(
        "{:.1} MiB of CSV; {:.0}% of the time in the store's call",
        bytes as f64 / 1_048_576.0,
        100.0 * store.as_secs_f64() / total.as_secs_f64().max(1e-9)
    )
}

/// `simrotor vouchers`: pages of 10,000 in time order, each row through `VoucherRow::record`
/// into a CSV writer (counted, then dropped).
async fn export_pages(store: &Store, filter: &VoucherFilter) -> Answer {
    let t = Instant::now();
    let mut in_store = Duration::ZERO;
    let mut w = csv::Writer::from_writer(Counted::default());
    w.write_record(VoucherRow::HEADER).expect("header");
    let mut rows = 0u64;
    let mut cursor = None;
    loop {
        let asked = Instant::now();
        let page = store
            .voucher_page(filter, cursor, PAGE)
            .await
            .expect("page");
        in_store += asked.elapsed();
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        for row in &page {
            w.write_record(row.record()).expect("record");
        }
        rows += page.len() as u64;
    }
    w.flush().expect("flush");
    Answer {
        rows,
        note: csv_note(w.get_ref().0, in_store, t.elapsed()),
    }
}

/// `/api/vouchers?format=csv`: every row in memory by `Store::vouchers`, then one CSV body.
async fn export_api(store: &Store, filter: &VoucherFilter) -> Answer {
    let t = Instant::now();
    let rows = store.vouchers(filter).await.expect("vouchers");
    let in_store = t.elapsed();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(VoucherRow::HEADER).expect("header");
    for row in &rows {
        w.write_record(row.record()).expect("record");
    }
    let body = w.into_inner().expect("body");
    Answer {
        rows: rows.len() as u64,
        note: csv_note(body.len() as u64, in_store, t.elapsed()),
    }
}

/// An operation's answer and its median wall-clock time.
#[derive(Debug)]
struct Measured {
    rows: u64,
    median: Duration,
    runs: usize,
    note: String,
}

/// Past this, an operation is not run again: one slow run says what a few would.
const REPEAT_BUDGET: Duration = Duration::from_secs(60);

/// Runs `op` up to `runs` times (fewer once `REPEAT_BUDGET` is spent); the rows must be the
/// same every run.
async fn measure<F, Fut>(runs: usize, mut op: F) -> Measured
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last: Option<Answer> = None;
    let began = Instant::now();
    while times.len() < runs && (times.is_empty() || began.elapsed() < REPEAT_BUDGET) {
        let t = Instant::now();
        let answer = op().await;
        times.push(t.elapsed());
        if let Some(before) = &last {
            assert_eq!(before.rows, answer.rows, "the same answer every run");
        }
        last = Some(answer);
    }
    times.sort();
    let last = last.expect("one run at least");
    Measured {
        rows: last.rows,
        median: times[times.len() / 2],
        runs: times.len(),
        note: last.note,
    }
}

fn print_line(label: &str, what: &str, m: &Measured) {
    let secs = m.median.as_secs_f64();
    let rate = if m.rows > 0 && secs > 0.0 {
        format!("{:>11.0}", m.rows as f64 / secs)
    } else {
        format!("{:>11}", "-")
    };
    let time = if secs >= 1.0 {
        format!("{secs:>8.2} s ")
    } else {
        format!("{:>8.1} ms", secs * 1e3)
    };
    println!(
        "{label:<9} {what:<56} {:>9} {time} {rate} {:>4}  {}",
        m.rows, m.runs, m.note
    );
    let _ = std::io::stdout().flush();
}

fn header() {
    println!(
        "{:<9} {:<56} {:>9} {:>11} {:>11} {:>4}  note",
        "backend", "operation", "rows", "median", "rows/s", "runs"
    );
}

async fn measure_all(label: &str, store: &Store, shape: &Shape, stats: &str) {
    let w = windows(shape);
    let e = expected(shape, &w);
    let show = |what: &str, m: &Measured| print_line(label, &format!("{what} [{stats}]"), m);

    let last_24h = VoucherFilter {
        since: Some(w.since_24h),
        status: VoucherStatus::Sukses,
        ..VoucherFilter::default()
    };
    let m = measure(3, || export_pages(store, &last_24h)).await;
    assert_eq!(m.rows, e.sukses_24h, "the last 24 h's vouchers");
    show("export last 24h SUKSES (pages 10k, CSV)", &m);

    let batch = VoucherFilter {
        batch: Some(BatchId::parse(&batch_name(w.batch)).unwrap()),
        status: VoucherStatus::Sukses,
        ..VoucherFilter::default()
    };
    let m = measure(3, || export_pages(store, &batch)).await;
    assert_eq!(m.rows, e.sukses_batch, "the batch's vouchers");
    show(
        &format!(
            "export batch {} SUKSES (pages 10k, CSV)",
            batch_name(w.batch)
        ),
        &m,
    );

    let hour = VoucherFilter {
        since: Some(w.hour.0),
        until: Some(w.hour.1),
        status: VoucherStatus::Sukses,
        ..VoucherFilter::default()
    };
    let m = measure(5, || export_pages(store, &hour)).await;
    assert_eq!(m.rows, e.sukses_hour, "the hour's vouchers");
    show("export 1h window SUKSES (pages 10k, CSV)", &m);

    let m = measure(5, || export_api(store, &hour)).await;
    assert_eq!(m.rows, e.sukses_hour);
    show("/api/vouchers 1h (Store::vouchers + CSV body)", &m);

    let m = measure(3, || export_api(store, &last_24h)).await;
    assert_eq!(m.rows, e.sukses_24h);
    show("/api/vouchers 24h (Store::vouchers + CSV body)", &m);

    let m = measure(5, || async {
        let series = store.hourly(24, shape.now).await.expect("hourly");
        assert_eq!(series.len(), 24);
        Answer {
            rows: series
                .iter()
                .map(|h| h.sukses + h.gagal + h.suspect + h.processing)
                .sum(),
            note: "24 hours; rows = purchases counted".into(),
        }
    })
    .await;
    assert_eq!(m.rows, e.hourly_total, "the hourly series' purchases");
    show("/api/hourly: Store::hourly(24, now)", &m);

    let m = measure(5, || async {
        let recap = store.recap(None).await.expect("recap");
        assert_eq!(recap.batches.len() as u64, BATCHES);
        assert_eq!(recap.total.transactions.success, e.sukses);
        assert_eq!(recap.total.numbers.total, shape.numbers);
        Answer {
            rows: recap.total.transactions.total,
            note: format!("{BATCHES} batches; rows = purchases counted"),
        }
    })
    .await;
    assert_eq!(m.rows, shape.trx);
    show("/api/batches: Store::recap(None)", &m);

    let msisdn = Msisdn::parse(&shape.msisdn(shape.numbers / 2 + 3)).unwrap();
    let m = measure(5, || async {
        let h = store
            .history(&msisdn)
            .await
            .expect("history")
            .expect("imported");
        assert_eq!(h.bindings.len(), 1);
        assert_eq!(h.bindings[0].trail.len(), 7, "the trail as written");
        Answer {
            rows: h.purchases().count() as u64,
            note: format!("{msisdn}: 1 binding, 7 trail steps; rows = purchases"),
        }
    })
    .await;
    assert_eq!(m.rows, PER_BINDING);
    show("/api/history: Store::history(msisdn)", &m);

    let m = measure(3, || async {
        Answer {
            rows: store.suspects(false).await.expect("suspects").len() as u64,
            note: "every suspect unresolved".into(),
        }
    })
    .await;
    assert_eq!(m.rows, e.suspect, "every suspect, unresolved");
    show("/api/suspects: Store::suspects(false)", &m);

    let m = measure(5, || async {
        let t = store.totals_since(w.since_24h).await.expect("totals");
        Answer {
            rows: t.transactions.total,
            note: "since now - 24h (the API: local midnight); rows = purchases".into(),
        }
    })
    .await;
    assert_eq!(m.rows, e.all_24h);
    show("/api/today: Store::totals_since(now - 24h)", &m);

    let m = measure(5, || async {
        Answer {
            rows: store.server_overview().await.expect("overview").len() as u64,
            note: "rows = servers".into(),
        }
    })
    .await;
    assert_eq!(m.rows, SERVERS);
    show("/api/servers: Store::server_overview()", &m);
}

/// The connection the fill writes through: on SQLite a connection of its own, without foreign
/// keys (the rows are consistent by construction), without fsync, with 1 GiB of page cache for
/// the indexes' hot pages; the store's own pool stays as the store opens it.
async fn bulk_connection(store: &Store, sqlite_url: Option<&str>) -> DatabaseConnection {
    match sqlite_url {
        Some(url) => {
            let mut opt = ConnectOptions::new(url.to_owned());
            opt.max_connections(1).sqlx_logging(false);
            opt.map_sqlx_sqlite_opts(|o| {
                o.foreign_keys(false)
                    .synchronous(SqliteSynchronous::Off)
                    .pragma("cache_size", "-1048576")
            });
            Database::connect(opt).await.expect("bulk connection")
        }
        None => store.connection().clone(),
    }
}

async fn run(label: &str, store: Store, sqlite_url: Option<&str>, shape: &Shape) {
    let db = Db::of(&store);
    eprintln!("{label}: filling {} transactions", shape.trx);
    let bulk = bulk_connection(&store, sqlite_url).await;
    let took = fill(&store, &bulk, db, shape).await;
    if sqlite_url.is_some() {
        bulk.close().await.expect("close the bulk connection");
    }
    print_line(
        label,
        "fill (accounts, bindings, transactions)",
        &Measured {
            rows: shape.trx,
            median: took,
            runs: 1,
            note: format!(
                "{} numbers and bindings; transactions/s, informative only",
                shape.numbers
            ),
        },
    );
    match db {
        // A SQLite file as the store leaves it has no statistics (nothing runs ANALYZE):
        // measured as it is, then again after ANALYZE.
        Db::Sqlite => {
            measure_all(label, &store, shape, "no stats").await;
            let took = analyze(&store, db).await;
            eprintln!("{label}: ANALYZE took {:.1} s", took.as_secs_f64());
            measure_all(label, &store, shape, "ANALYZE").await;
        }
        // A live PostgreSQL has them: autovacuum analyzes and sets the visibility map.
        Db::Postgres => {
            let took = analyze(&store, db).await;
            eprintln!("{label}: VACUUM ANALYZE took {:.1} s", took.as_secs_f64());
            measure_all(label, &store, shape, "vacuumed").await;
        }
    }
    store.close().await.expect("close");
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; `--quick` and `--keep` are ours.
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let keep = args.iter().any(|a| a == "--keep");
    let trx = if quick { 1_000_000 } else { 10_000_000 };
    // To the microsecond, as PostgreSQL keeps a moment.
    let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
    let shape = Shape::new(trx, now);
    println!(
        "simrotor books benchmark: {trx} transactions over 30 days up to {}, {} numbers \
         (one binding each) in {BATCHES} batches, {SERVERS} servers, {} cores",
        now.to_rfc3339_opts(SecondsFormat::Secs, true),
        shape.numbers,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    header();

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("books.db");
    let mut opts = StoreOptions::new(format!("sqlite://{}", file.display()));
    // The fill's durability is not what is measured; the reads do not depend on it.
    opts.synchronous = Synchronous::Normal;
    let store = Store::connect(&opts).await.expect("sqlite store");
    run("sqlite", store, Some(&opts.url), &shape).await;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "sqlite: the file is {:.2} GiB",
        size as f64 / (1u64 << 30) as f64
    );
    if keep {
        let kept = dir.keep();
        eprintln!("sqlite: kept {}", kept.join("books.db").display());
    } else {
        drop(dir);
    }

    match std::env::var("SIMROTOR_TEST_POSTGRES_URL") {
        Ok(url) => {
            let name = "simrotor_bench_books";
            let store = postgres_store(&url, name, None).await;
            run("postgres", store, None, &shape).await;
            if keep {
                eprintln!("postgres: kept database {name}");
            } else {
                drop_postgres(&url, name).await;
            }
        }
        Err(_) => println!("postgres  skipped: SIMROTOR_TEST_POSTGRES_URL is not set"),
    }
}
