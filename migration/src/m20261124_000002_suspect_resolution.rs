//! The operator's resolution of a suspect purchase, on top of its evidence.
//!
//! A `SUSPECT` row keeps its status, price and pulsa as recorded: they are what the runtime saw.
//! The operator's verdict (who looked, when, what they concluded) goes in three columns of its
//! own, so the evidence and the judgement never overwrite each other.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Transactions {
    Table,
    ResolvedAt,
    ResolvedBy,
    Resolution,
}

/// The new columns, one `ALTER TABLE` each: SQLite takes a single change per statement.
fn columns() -> [ColumnDef; 3] {
    [
        timestamp_with_time_zone_null(Transactions::ResolvedAt),
        string_null(Transactions::ResolvedBy),
        string_null(Transactions::Resolution),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Transactions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Transactions::Resolution,
            Transactions::ResolvedBy,
            Transactions::ResolvedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Transactions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
