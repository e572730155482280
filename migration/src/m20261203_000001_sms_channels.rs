//! `sms_channels`: which number sits behind a device's SIM slot or gateway port.
//!
//! Most SMS forwarder apps post a device id and a slot, not the number that received the SMS.
//! The operator declares the channel (`simrotor sms channel …`), or capcom6's `app:started`
//! reports it; kept here so a restart knows it. One row per device and slot (`''` for a
//! one-SIM modem); `source` says who declared it (`operator`, `capcom6`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SmsChannels {
    Table,
    Device,
    Slot,
    Msisdn,
    Source,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SmsChannels::Table)
                    .if_not_exists()
                    .col(string(SmsChannels::Device))
                    .col(string(SmsChannels::Slot))
                    .col(string(SmsChannels::Msisdn))
                    .col(string(SmsChannels::Source))
                    .col(timestamp_with_time_zone(SmsChannels::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(SmsChannels::Device)
                            .col(SmsChannels::Slot),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SmsChannels::Table).to_owned())
            .await
    }
}
