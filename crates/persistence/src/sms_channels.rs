//! The declared SMS channels: which number sits behind a device's slot or port, for the
//! forwarder apps that do not send the receiving number. Declaring a channel again replaces it
//! (a SIM moved to another phone); forgetting one is explicit.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
use serde::Serialize;
use simrotor_domain::Msisdn;

use crate::entity::sms_channel;
use crate::{Store, StoreError};

/// One channel: SMS from `device`'s `slot` were received by `msisdn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsChannel {
    pub device: String,
    /// `None` for a device with one SIM (a modem, a Kannel SMSC).
    pub slot: Option<String>,
    pub msisdn: Msisdn,
    /// Who declared it: `operator`, `capcom6` (its `app:started`), ….
    pub source: String,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Declares (or re-declares) the number behind `device`'s `slot`.
    pub async fn declare_sms_channel(
        &self,
        device: &str,
        slot: Option<&str>,
        msisdn: &Msisdn,
        source: &str,
    ) -> Result<(), StoreError> {
        let row = sms_channel::ActiveModel {
            device: Set(device.to_owned()),
            slot: Set(slot.unwrap_or("").to_owned()),
            msisdn: Set(msisdn.as_str().to_owned()),
            source: Set(source.to_owned()),
            updated_at: Set(Utc::now()),
        };
        sms_channel::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([sms_channel::Column::Device, sms_channel::Column::Slot])
                    .update_columns([
                        sms_channel::Column::Msisdn,
                        sms_channel::Column::Source,
                        sms_channel::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.writer)
            .await?;
        Ok(())
    }

    /// Forgets the channel; false when there was none.
    pub async fn forget_sms_channel(
        &self,
        device: &str,
        slot: Option<&str>,
    ) -> Result<bool, StoreError> {
        let gone =
            sms_channel::Entity::delete_by_id((device.to_owned(), slot.unwrap_or("").to_owned()))
                .exec(&self.writer)
                .await?;
        Ok(gone.rows_affected > 0)
    }

    /// Every declared channel, by device and slot.
    pub async fn sms_channels(&self) -> Result<Vec<SmsChannel>, StoreError> {
        let rows = sms_channel::Entity::find()
            .order_by_asc(sms_channel::Column::Device)
            .order_by_asc(sms_channel::Column::Slot)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|m| {
                let msisdn = Msisdn::parse(&m.msisdn).map_err(|e| StoreError::Corrupt {
                    table: "sms_channels",
                    id: 0,
                    reason: format!("device {} slot {:?}: {e}", m.device, m.slot),
                })?;
                Ok(SmsChannel {
                    slot: (!m.slot.is_empty()).then_some(m.slot),
                    device: m.device,
                    msisdn,
                    source: m.source,
                    updated_at: m.updated_at,
                })
            })
            .collect()
    }
}
