//! Who drives which server, in the database, so that several runtimes can share one database
//! and a runtime that dies, hangs or loses the database gives its servers up by itself.
//!
//! - `runtimes`: one row per runtime process that ever started on this database: its name (the
//!   operator's, from `[ownership] name`), host and pid, and its last heartbeat. A row whose
//!   heartbeat is older than the lease expiry is a runtime that is gone.
//! - `server_leases`: one row per server a runtime ever held: the owner (`NULL` once released on
//!   a clean stop), when the lease expires unless renewed, and the fencing counter, raised by one
//!   at every change of owner. Every write a server's driver makes checks the counter it was
//!   started with, so a stale owner's late write is refused, never applied.
//!
//! Times are microseconds since the Unix epoch on the database's own clock (every runtime reads
//! the same clock, whatever its host's says).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Runtimes {
    Table,
    Id,
    Name,
    Host,
    Pid,
    Servers,
    StartedAt,
    HeartbeatAt,
    StoppedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServerLeases {
    Table,
    ServerId,
    Owner,
    Fence,
    ExpiresAt,
    AcquiredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Servers {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Runtimes::Table)
                    .if_not_exists()
                    .col(string(Runtimes::Id).primary_key())
                    .col(string(Runtimes::Name))
                    .col(string(Runtimes::Host))
                    .col(big_integer(Runtimes::Pid))
                    .col(string(Runtimes::Servers))
                    .col(big_integer(Runtimes::StartedAt))
                    .col(big_integer(Runtimes::HeartbeatAt))
                    .col(big_integer_null(Runtimes::StoppedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServerLeases::Table)
                    .if_not_exists()
                    .col(big_integer(ServerLeases::ServerId).primary_key())
                    .col(string_null(ServerLeases::Owner))
                    .col(big_integer(ServerLeases::Fence))
                    .col(big_integer(ServerLeases::ExpiresAt))
                    .col(big_integer(ServerLeases::AcquiredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ServerLeases::Table, ServerLeases::ServerId)
                            .to(Servers::Table, Servers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_server_leases_owner")
                    .table(ServerLeases::Table)
                    .col(ServerLeases::Owner)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServerLeases::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Runtimes::Table).to_owned())
            .await
    }
}
