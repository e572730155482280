//! The four tables of the owner's model and the indexes their queries use.
//!
//! Two partial unique indexes carry the invariants that matter most: an account has at most one
//! open binding, and a server holds at most one open binding. A bug upstream then fails loudly
//! at the database instead of binding one number to two servers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Servers {
    Table,
    Id,
    Port,
    BaseUrl,
    Enabled,
    State,
    StateReason,
    DeviceId,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Msisdn,
    Email,
    Pin,
    BatchId,
    Status,
    IsReseller,
    Attempts,
    LeasedServerId,
    LeaseOwner,
    LeasedAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Bindings {
    Table,
    Id,
    AccountId,
    ServerId,
    BatchId,
    Msisdn,
    State,
    Version,
    EndReason,
    TokenLogin,
    TokenLocation,
    BalanceStart,
    BalanceLast,
    DeviceId,
    Raw,
    CreatedAt,
    UpdatedAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum Transactions {
    Table,
    Id,
    AttemptKey,
    AccountId,
    BindingId,
    ServerId,
    BatchId,
    Msisdn,
    TrxId,
    TId,
    ProductId,
    LimitHarga,
    Price,
    PulsaAwal,
    PulsaAkhir,
    Status,
    Voucher,
    Raw,
    Note,
    CreatedAt,
    UpdatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Servers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Servers::Id))
                    .col(integer(Servers::Port))
                    .col(string_uniq(Servers::BaseUrl))
                    .col(boolean(Servers::Enabled).default(true))
                    .col(string(Servers::State).default("IDLE"))
                    .col(text_null(Servers::StateReason))
                    .col(string_null(Servers::DeviceId))
                    .col(json_binary_null(Servers::Settings))
                    .col(timestamp_with_time_zone(Servers::CreatedAt))
                    .col(timestamp_with_time_zone(Servers::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Accounts::Id))
                    .col(string_uniq(Accounts::Msisdn))
                    .col(string(Accounts::Email))
                    .col(string_null(Accounts::Pin))
                    .col(string(Accounts::BatchId))
                    .col(string(Accounts::Status))
                    .col(boolean_null(Accounts::IsReseller))
                    .col(integer(Accounts::Attempts).default(0))
                    .col(big_integer_null(Accounts::LeasedServerId))
                    .col(string_null(Accounts::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Accounts::LeasedAt))
                    .col(text_null(Accounts::LastError))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_accounts_leased_server",
                        (Accounts::Table, Accounts::LeasedServerId),
                        (Servers::Table, Servers::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Bindings::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Bindings::Id))
                    .col(big_integer(Bindings::AccountId))
                    .col(big_integer(Bindings::ServerId))
                    .col(string(Bindings::BatchId))
                    .col(string(Bindings::Msisdn))
                    .col(string(Bindings::State))
                    .col(integer(Bindings::Version).default(0))
                    .col(string_null(Bindings::EndReason))
                    .col(text_null(Bindings::TokenLogin))
                    .col(text_null(Bindings::TokenLocation))
                    .col(big_integer_null(Bindings::BalanceStart))
                    .col(big_integer_null(Bindings::BalanceLast))
                    .col(string_null(Bindings::DeviceId))
                    .col(json_binary_null(Bindings::Raw))
                    .col(timestamp_with_time_zone(Bindings::CreatedAt))
                    .col(timestamp_with_time_zone(Bindings::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Bindings::EndedAt))
                    .foreign_key(&mut fk(
                        "fk_bindings_account",
                        (Bindings::Table, Bindings::AccountId),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_bindings_server",
                        (Bindings::Table, Bindings::ServerId),
                        (Servers::Table, Servers::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Transactions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Transactions::Id))
                    .col(string_uniq(Transactions::AttemptKey))
                    .col(big_integer(Transactions::AccountId))
                    .col(big_integer(Transactions::BindingId))
                    .col(big_integer(Transactions::ServerId))
                    .col(string(Transactions::BatchId))
                    .col(string(Transactions::Msisdn))
                    .col(string_null(Transactions::TrxId))
                    .col(string_null(Transactions::TId))
                    .col(string(Transactions::ProductId))
                    .col(big_integer(Transactions::LimitHarga))
                    .col(big_integer(Transactions::Price))
                    .col(big_integer(Transactions::PulsaAwal))
                    .col(big_integer_null(Transactions::PulsaAkhir))
                    .col(string(Transactions::Status))
                    .col(text_null(Transactions::Voucher))
                    .col(json_binary_null(Transactions::Raw))
                    .col(text_null(Transactions::Note))
                    .col(timestamp_with_time_zone(Transactions::CreatedAt))
                    .col(timestamp_with_time_zone(Transactions::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_transactions_account",
                        (Transactions::Table, Transactions::AccountId),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_transactions_binding",
                        (Transactions::Table, Transactions::BindingId),
                        (Bindings::Table, Bindings::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_transactions_server",
                        (Transactions::Table, Transactions::ServerId),
                        (Servers::Table, Servers::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        let indexes = [
            // The lease: the next AVAILABLE account, fewest failed attempts first, then import order.
            Index::create()
                .name("ix_accounts_lease")
                .table(Accounts::Table)
                .col(Accounts::Status)
                .col(Accounts::Attempts)
                .col(Accounts::Id)
                .to_owned(),
            // The lease limited to one batch (the order without a sort), and listing and recap
            // by batch.
            Index::create()
                .name("ix_accounts_batch_lease")
                .table(Accounts::Table)
                .col(Accounts::BatchId)
                .col(Accounts::Status)
                .col(Accounts::Attempts)
                .col(Accounts::Id)
                .to_owned(),
            Index::create()
                .name("ix_bindings_server_state")
                .table(Bindings::Table)
                .col(Bindings::ServerId)
                .col(Bindings::State)
                .to_owned(),
            Index::create()
                .name("ix_bindings_account")
                .table(Bindings::Table)
                .col(Bindings::AccountId)
                .to_owned(),
            Index::create()
                .name("ix_bindings_batch")
                .table(Bindings::Table)
                .col(Bindings::BatchId)
                .to_owned(),
            // Covers the recap's transaction half: counts and sums by batch and status.
            Index::create()
                .name("ix_transactions_recap")
                .table(Transactions::Table)
                .col(Transactions::BatchId)
                .col(Transactions::Status)
                .col(Transactions::Price)
                .to_owned(),
            Index::create()
                .name("ix_transactions_binding")
                .table(Transactions::Table)
                .col(Transactions::BindingId)
                .to_owned(),
            Index::create()
                .name("ix_transactions_status")
                .table(Transactions::Table)
                .col(Transactions::Status)
                .to_owned(),
            Index::create()
                .name("ix_transactions_trx_id")
                .table(Transactions::Table)
                .col(Transactions::TrxId)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }

        // Partial indexes: same SQL on SQLite and PostgreSQL, which sea-query's builder does not
        // express portably.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_bindings_open_account ON bindings (account_id) WHERE ended_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_bindings_open_server ON bindings (server_id) WHERE ended_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Transactions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Bindings::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Accounts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Servers::Table).to_owned())
            .await?;
        Ok(())
    }
}
