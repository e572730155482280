//! Two facts the real servers taught us to keep.
//!
//! - `servers.session_msisdn`: the number whose session the server may still hold. A server holds
//!   one number's session at a time and may refuse the next number's login while an earlier one
//!   is open, so the runtime writes the number here before `/verifyOtp` and clears it only when a
//!   logout is answered; a crash or an end without logout leaves it, and the next binding on the
//!   server logs that number out first.
//! - `unusable_answers`: every answer the parser could not use (or a refusal no rule knows), with
//!   its call, server, binding or purchase, the parse error and the body (secrets masked), so a
//!   real shape nobody predicted is never lost and becomes a fixture (`simrotor answers`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Servers {
    Table,
    Id,
    SessionMsisdn,
}

#[derive(DeriveIden, Clone, Copy)]
enum Bindings {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Transactions {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum UnusableAnswers {
    Table,
    Id,
    RecordedAt,
    ServerId,
    Call,
    BindingId,
    TransactionId,
    Kind,
    Error,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Servers::Table)
                    .add_column(string_null(Servers::SessionMsisdn))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnusableAnswers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(UnusableAnswers::Id))
                    .col(timestamp_with_time_zone(UnusableAnswers::RecordedAt))
                    .col(big_integer(UnusableAnswers::ServerId))
                    .col(string(UnusableAnswers::Call))
                    .col(big_integer_null(UnusableAnswers::BindingId))
                    .col(big_integer_null(UnusableAnswers::TransactionId))
                    .col(string(UnusableAnswers::Kind))
                    .col(text(UnusableAnswers::Error))
                    .col(text_null(UnusableAnswers::Body))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_unusable_answers_server")
                            .from(UnusableAnswers::Table, UnusableAnswers::ServerId)
                            .to(Servers::Table, Servers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_unusable_answers_binding")
                            .from(UnusableAnswers::Table, UnusableAnswers::BindingId)
                            .to(Bindings::Table, Bindings::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_unusable_answers_transaction")
                            .from(UnusableAnswers::Table, UnusableAnswers::TransactionId)
                            .to(Transactions::Table, Transactions::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_unusable_answers_recorded_at")
                    .table(UnusableAnswers::Table)
                    .col(UnusableAnswers::RecordedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UnusableAnswers::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Servers::Table)
                    .drop_column(Servers::SessionMsisdn)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
