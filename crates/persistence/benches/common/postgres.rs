//! A fresh PostgreSQL database per bench run, shared by the store's benches (`#[path]`).

use sea_orm::ConnectionTrait as _;
use simrotor_persistence::{Store, StoreOptions};

/// A fresh database `name` on the server behind `url` with `max_connections` (the default when
/// `None`), dropped by the caller with [`drop_postgres`].
pub async fn postgres_store(url: &str, name: &str, max_connections: Option<u32>) -> Store {
    let admin = Store::connect_without_migrating(&StoreOptions::new(url))
        .await
        .expect("postgres");
    let conn = admin.connection();
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create");
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
    let mut opts = StoreOptions::new(format!("{base}/{name}"));
    if let Some(n) = max_connections {
        opts.max_connections = n;
    }
    Store::connect(&opts).await.expect("postgres bench store")
}

pub async fn drop_postgres(url: &str, name: &str) {
    if let Ok(admin) = Store::connect_without_migrating(&StoreOptions::new(url)).await {
        let _ = admin
            .connection()
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}
