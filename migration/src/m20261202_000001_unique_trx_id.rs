//! One row per trx id: the server names each executed purchase by its `trx_id`, so two rows
//! holding the same one would book one voucher twice. A partial unique index
//! (`ux_transactions_trx_id`, on rows that have a trx id) makes the database refuse the second.
//!
//! A database that already holds such twins cannot take the index: the step fails naming each
//! trx id and how many rows hold it, so the operator resolves them instead of losing one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Statement;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The trx ids held by more than one row, with their counts.
const TWINS: &str = "SELECT trx_id, COUNT(*) AS rows_holding FROM transactions \
                     WHERE trx_id IS NOT NULL GROUP BY trx_id HAVING COUNT(*) > 1 ORDER BY trx_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let twins = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), TWINS))
            .await?;
        if !twins.is_empty() {
            let mut named = Vec::with_capacity(twins.len());
            for row in &twins {
                let trx_id: String = row.try_get("", "trx_id")?;
                let rows: i64 = row.try_get("", "rows_holding")?;
                named.push(format!("{trx_id} ({rows} rows)"));
            }
            return Err(DbErr::Migration(format!(
                "cannot make transactions.trx_id unique: more than one row holds trx id {}; \
                 keep one row for each before migrating",
                named.join(", ")
            )));
        }
        // Same SQL on SQLite and PostgreSQL, which sea-query's builder does not express
        // portably for a partial index.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_transactions_trx_id ON transactions (trx_id) WHERE trx_id IS NOT NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ux_transactions_trx_id")
            .await?;
        Ok(())
    }
}
