//! One fresh database per test, on SQLite always and on PostgreSQL when
//! `SIMROTOR_TEST_POSTGRES_URL` names a server, and the few steps every topic repeats (servers,
//! accounts, a binding walked to a state).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    QueryFilter,
};
use simrotor_domain::{BatchId, BindingEvent, Email, Pin, Rupiah};
use simrotor_persistence::entity::{account, binding};
use simrotor_persistence::{
    AccountFilter, AccountRow, Binding, BindingPatch, LeaseOwner, NewAccount, ServerRow,
    ServerSeed, Settle, Store, StoreError, StoreOptions,
};

/// The variable that turns the PostgreSQL half of the suite on.
pub const POSTGRES_ENV: &str = "SIMROTOR_TEST_POSTGRES_URL";

/// The login token every test binding gets; tests check it is stored and never printed.
pub const TOKEN_LOGIN: &str = "tok-login-5f1e9a";
/// The location token every test binding gets.
pub const TOKEN_LOCATION: &str = "tok-loc-77c2d0";

/// Runs one async test on both databases: `both_databases!(name);` next to
/// `async fn name(db: TestDb)` gives the tests `name::sqlite` and `name::postgres`, each
/// handing `name` its own fresh database. Without `SIMROTOR_TEST_POSTGRES_URL` the PostgreSQL
/// one says it is skipped and passes.
macro_rules! both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::helpers::TestDb::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                match $crate::helpers::TestDb::postgres().await {
                    Some(db) => super::$name(db).await,
                    None => eprintln!("skipped: SIMROTOR_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    };
}
pub(crate) use both_databases;

/// A fresh, migrated database for one test; removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Declared first: the pool goes before the database it points at.
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDb {
    /// A new SQLite file in its own temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("simrotor.db").display());
        let store = Store::connect(&StoreOptions::new(url.clone()))
            .await
            .expect("SQLite store connects and migrates");
        Self {
            store,
            url,
            _dir: Some(dir),
            _pg: None,
        }
    }

    /// A new database on the PostgreSQL server of `SIMROTOR_TEST_POSTGRES_URL`, or `None` when
    /// the variable is not set.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var(POSTGRES_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        let name = format!("simrotor_t_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_connection(&admin_url).await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let _ = admin.close().await;
        let pg = PgDatabase {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let url = with_database(&admin_url, &name);
        let store = Store::connect(&StoreOptions::new(url.clone()))
            .await
            .expect("PostgreSQL store connects and migrates");
        Some(Self {
            store,
            url,
            _dir: None,
            _pg: Some(pg),
        })
    }

    /// Another pool on the same database, as a second process (or a restart) would open it.
    pub async fn connect_again(&self, max_connections: u32) -> Store {
        let options = StoreOptions {
            max_connections,
            ..StoreOptions::new(self.url.clone())
        };
        Store::connect(&options)
            .await
            .expect("a second pool connects")
    }
}

async fn admin_connection(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at ${POSTGRES_ENV}: {e}"))
}

/// `url` with its database name replaced by `db` (query string kept).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{db}{query}", &base[..authority_end])
}

/// Drops its database (best effort, `WITH (FORCE)`) when the test ends, passed or not.
#[derive(Debug)]
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await; a thread with its own runtime can, even inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let mut options = ConnectOptions::new(admin_url);
                options.max_connections(1).sqlx_logging(false);
                if let Ok(admin) = Database::connect(options).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

#[test]
fn with_database_replaces_only_the_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}

// ---- data -------------------------------------------------------------------------------------

pub use simrotor_test_support::{Buy, buy};

pub fn batch(name: &str) -> BatchId {
    BatchId::parse(name).expect("a valid batch id")
}

/// The `i`-th test number, normalised (`62812…`).
pub use simrotor_test_support::number as msisdn;

/// The `i`-th test number in its local form, `0812` and eight digits.
pub fn local_number(i: u32) -> String {
    msisdn(i).local()
}

pub fn email(i: u32) -> Email {
    Email::parse(&format!("user{i}@example.com")).expect("a valid email")
}

pub fn new_account(i: u32) -> NewAccount {
    NewAccount {
        msisdn: msisdn(i),
        email: email(i),
        pin: None,
    }
}

pub fn pin(digits: &str) -> Pin {
    Pin::parse(digits).expect("a valid PIN")
}

pub fn rp(amount: u64) -> Rupiah {
    Rupiah::new(amount)
}

/// Imports numbers `range` into `batch`; returns how many were new.
pub async fn import(store: &Store, batch_id: &str, range: std::ops::Range<u32>) -> u64 {
    let rows: Vec<NewAccount> = range.map(new_account).collect();
    store
        .import_accounts(&batch(batch_id), &rows)
        .await
        .expect("import")
}

pub fn seed(port: u16) -> ServerSeed {
    ServerSeed {
        port,
        base_url: format!("http://127.0.0.1:{port}"),
        enabled: true,
        settings: serde_json::json!({ "timeout": "10s" }),
    }
}

/// `n` servers on ports 9900…, as the default configuration has them.
pub async fn servers(store: &Store, n: u16) -> Vec<ServerRow> {
    let seeds: Vec<ServerSeed> = (0..n).map(|i| seed(9900 + i)).collect();
    store.sync_servers(&seeds).await.expect("sync servers")
}

/// The owner of this test's leases.
pub fn me() -> LeaseOwner {
    LeaseOwner::named("test-process")
}

/// Leases the next account (of `batch_id`, if given) to `server_id` and opens its binding.
pub async fn bind(store: &Store, server_id: i64, batch_id: Option<&str>) -> Binding {
    let batch_id = batch_id.map(batch);
    let lease = store
        .lease_next_account(server_id, &me(), batch_id.as_ref())
        .await
        .expect("lease")
        .expect("an available account");
    store.open_binding(lease).await.expect("open binding")
}

/// One server (9900) and one number of batch `b1`, bound: the servers and the binding.
pub async fn one_binding(store: &Store) -> (Vec<ServerRow>, Binding) {
    let s = servers(store, 1).await;
    import(store, "b1", 0..1).await;
    let b = bind(store, s[0].id, None).await;
    (s, b)
}

/// Whether a lease for `server_id` (of `batch_id`, if given) finds nothing to take.
pub async fn leases_nothing(store: &Store, server_id: i64, batch_id: Option<&BatchId>) -> bool {
    let lease = store.lease_next_account(server_id, &me(), batch_id).await;
    lease.expect("lease").is_none()
}

pub async fn step(store: &Store, binding: &mut Binding, event: BindingEvent, patch: BindingPatch) {
    store
        .move_binding(binding, event, patch)
        .await
        .unwrap_or_else(|e| panic!("{event:?}: {e}"));
}

/// Walks a binding to `OTP_VERIFICATION`: waiting for its login OTP.
pub async fn await_otp(store: &Store, binding: &mut Binding) {
    step(store, binding, BindingEvent::OtpRequestSent, no_patch()).await;
    step(
        store,
        binding,
        BindingEvent::OtpRequestAcknowledged,
        no_patch(),
    )
    .await;
}

/// Walks a binding to `TOKEN_LOGIN_FETCHED` with `balance` as its starting pulsa.
pub async fn login(store: &Store, binding: &mut Binding, balance: u64) {
    await_otp(store, binding).await;
    step(store, binding, BindingEvent::OtpAccepted, token_patch()).await;
    step(
        store,
        binding,
        BindingEvent::LoginTokensFetched,
        BindingPatch {
            balance_start: Some(rp(balance)),
            token_location: Some(TOKEN_LOCATION.to_owned()),
            ..no_patch()
        },
    )
    .await;
}

/// Walks a binding to `TRANSACTING` with `balance` as its starting pulsa.
pub async fn transacting(store: &Store, binding: &mut Binding, balance: u64) {
    login(store, binding, balance).await;
    step(store, binding, BindingEvent::ResellerConfirmed, no_patch()).await;
}

pub fn no_patch() -> BindingPatch {
    BindingPatch::default()
}

/// The patch of an accepted login OTP: [`TOKEN_LOGIN`].
pub fn token_patch() -> BindingPatch {
    BindingPatch {
        token_login: Some(TOKEN_LOGIN.to_owned()),
        ..no_patch()
    }
}

/// Ends `binding` by `event`, settling its account by `settle`, without a patch.
pub async fn close(store: &Store, binding: Binding, event: BindingEvent, settle: Settle) {
    store
        .close_binding(binding, event, settle, no_patch())
        .await
        .unwrap_or_else(|e| panic!("{event:?}: {e}"));
}

/// Asserts `res` is the store's refusal for a lease lost: `account_id`'s lease on `server_id`.
#[track_caller]
pub fn assert_lease_lost<T: std::fmt::Debug>(
    res: Result<T, StoreError>,
    account_id: i64,
    server_id: i64,
) {
    match res {
        Err(StoreError::LeaseLost {
            account_id: a,
            server_id: s,
        }) => assert_eq!((a, s), (account_id, server_id)),
        other => panic!("expected LeaseLost, got {other:?}"),
    }
}

/// The account row of `id`, as `simrotor accounts` lists it.
pub async fn account_row(store: &Store, id: i64) -> AccountRow {
    store
        .accounts(&AccountFilter::default())
        .await
        .expect("list accounts")
        .into_iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("account {id} is listed"))
}

/// The id of the binding `server_id` holds open now.
pub async fn open_binding_id(store: &Store, server_id: i64) -> Option<i64> {
    let open = store.open_binding_of_server(server_id).await;
    open.expect("read the open binding").map(|b| b.id)
}

/// The stored row of binding `id`.
pub async fn binding_row(store: &Store, id: i64) -> binding::Model {
    store
        .binding_row(id)
        .await
        .expect("read the binding")
        .unwrap_or_else(|| panic!("binding {id} is stored"))
}

pub async fn account_count(store: &Store) -> usize {
    store
        .accounts(&AccountFilter::default())
        .await
        .expect("list accounts")
        .len()
}

/// Backdates (or postdates) a lease, as if it had been taken at `at`.
pub async fn set_leased_at(store: &Store, account_id: i64, at: DateTime<Utc>) {
    let res = account::Entity::update_many()
        .col_expr(account::Column::LeasedAt, Expr::value(at))
        .filter(account::Column::Id.eq(account_id))
        .exec(store.connection())
        .await
        .expect("backdate the lease");
    assert_eq!(res.rows_affected, 1);
}

/// Points an account's lease at another server, as a second process that took it over would.
pub async fn reassign_lease(store: &Store, account_id: i64, server_id: i64) {
    let res = account::Entity::update_many()
        .col_expr(account::Column::LeasedServerId, Expr::value(server_id))
        .filter(account::Column::Id.eq(account_id))
        .exec(store.connection())
        .await
        .expect("reassign the lease");
    assert_eq!(res.rows_affected, 1);
}

/// Sets when purchase `id` was made, as if it had been bought then.
pub async fn set_bought_at(store: &Store, id: i64, at: DateTime<Utc>) {
    use simrotor_persistence::entity::transaction;
    let res = transaction::Entity::update_many()
        .col_expr(transaction::Column::CreatedAt, Expr::value(at))
        .filter(transaction::Column::Id.eq(id))
        .exec(store.connection())
        .await
        .expect("backdate the purchase");
    assert_eq!(res.rows_affected, 1);
}
