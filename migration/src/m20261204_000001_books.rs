//! The operator's books: what a voucher export and a number's history need.
//!
//! - `transactions.product_name`: the product's name as the server listed it when it was
//!   bought (the id alone is what `trx_idv` takes, not what the operator sells by);
//! - `bindings.trail`: each state the binding entered and when, written with the move itself,
//!   so a number's history reads one row per binding instead of the audit log;
//! - `ix_transactions_created` (created_at, id, status, price): an export of every status in
//!   time order, and the hourly series of the page without touching the table;
//! - `ix_transactions_status_created` (status, created_at, id): the export of one status (the
//!   vouchers, the suspects) over a time range, in its order: an equality then the range, which
//!   SQLite's planner takes even without statistics (it would otherwise take the status index
//!   and sort, minutes at 10 M rows);
//! - `ix_transactions_batch_created` (batch_id, status, created_at, id): the same for one batch.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Transactions {
    Table,
    ProductName,
    CreatedAt,
    Id,
    Status,
    Price,
    BatchId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Bindings {
    Table,
    Trail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One `ALTER TABLE` each: SQLite takes a single change per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Transactions::Table)
                    .add_column(string_null(Transactions::ProductName))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Bindings::Table)
                    .add_column(json_binary_null(Bindings::Trail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transactions_created")
                    .table(Transactions::Table)
                    .col(Transactions::CreatedAt)
                    .col(Transactions::Id)
                    .col(Transactions::Status)
                    .col(Transactions::Price)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transactions_status_created")
                    .table(Transactions::Table)
                    .col(Transactions::Status)
                    .col(Transactions::CreatedAt)
                    .col(Transactions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transactions_batch_created")
                    .table(Transactions::Table)
                    .col(Transactions::BatchId)
                    .col(Transactions::Status)
                    .col(Transactions::CreatedAt)
                    .col(Transactions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in [
            "ix_transactions_batch_created",
            "ix_transactions_status_created",
            "ix_transactions_created",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(Transactions::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Bindings::Table)
                    .drop_column(Bindings::Trail)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Transactions::Table)
                    .drop_column(Transactions::ProductName)
                    .to_owned(),
            )
            .await
    }
}
