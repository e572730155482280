//! The answers the parser could not use, kept with the call, the server and the binding or
//! purchase they came in, so a real shape nobody predicted is never lost: `simrotor answers`
//! lists them, and each becomes a fixture of the slot crate.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect as _,
};
use serde::Serialize;

use crate::entity::{server, unusable_answer};
use crate::{Store, StoreError};

/// Why an answer is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnswerKind {
    /// The parser could not read it (missing field, not JSON, HTML, an unexpected status).
    Unusable,
    /// A refusal whose words no rule knows: read, but its reason is a guess ("other").
    UnknownRefusal,
}

impl AnswerKind {
    pub const fn name(self) -> &'static str {
        match self {
            AnswerKind::Unusable => "UNUSABLE",
            AnswerKind::UnknownRefusal => "UNKNOWN_REFUSAL",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [AnswerKind::Unusable, AnswerKind::UnknownRefusal]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// An answer to keep. `body` must already have its secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnusableAnswer {
    pub server_id: i64,
    /// The call's name (`verifyOtp`, `list_idv`, …).
    pub call: String,
    pub binding_id: Option<i64>,
    pub transaction_id: Option<i64>,
    pub kind: AnswerKind,
    /// What the parser said.
    pub error: String,
    pub body: Option<String>,
}

/// A kept answer, as `simrotor answers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusableAnswer {
    pub id: i64,
    pub recorded_at: DateTime<Utc>,
    pub server_id: i64,
    pub port: Option<u16>,
    pub call: String,
    pub binding_id: Option<i64>,
    pub transaction_id: Option<i64>,
    pub kind: AnswerKind,
    pub error: String,
    pub body: Option<String>,
}

/// Which kept answers to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerFilter {
    pub call: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
}

impl Store {
    pub async fn record_unusable_answer(
        &self,
        answer: &NewUnusableAnswer,
    ) -> Result<i64, StoreError> {
        let row = unusable_answer::ActiveModel {
            recorded_at: Set(Utc::now()),
            server_id: Set(answer.server_id),
            call: Set(answer.call.clone()),
            binding_id: Set(answer.binding_id),
            transaction_id: Set(answer.transaction_id),
            kind: Set(answer.kind.name().to_owned()),
            error: Set(answer.error.clone()),
            body: Set(answer.body.clone()),
            ..Default::default()
        };
        let inserted = unusable_answer::Entity::insert(row)
            .exec(&self.writer)
            .await?;
        Ok(inserted.last_insert_id)
    }

    pub async fn unusable_answers(
        &self,
        filter: &AnswerFilter,
    ) -> Result<Vec<UnusableAnswer>, StoreError> {
        let mut query = unusable_answer::Entity::find().order_by_desc(unusable_answer::Column::Id);
        if let Some(call) = &filter.call {
            query = query.filter(unusable_answer::Column::Call.eq(call.as_str()));
        }
        if let Some(since) = filter.since {
            query = query.filter(unusable_answer::Column::RecordedAt.gte(since));
        }
        if let Some(limit) = filter.limit {
            query = query.limit(limit);
        }
        let rows = query.all(&self.db).await?;
        let ports: std::collections::HashMap<i64, i32> = server::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.port))
            .collect();
        rows.into_iter()
            .map(|m| {
                let kind = AnswerKind::parse(&m.kind)
                    .ok_or_else(|| StoreError::corrupt("unusable_answers", m.id, &m.kind))?;
                Ok(UnusableAnswer {
                    id: m.id,
                    recorded_at: m.recorded_at,
                    server_id: m.server_id,
                    port: ports.get(&m.server_id).and_then(|p| u16::try_from(*p).ok()),
                    call: m.call,
                    binding_id: m.binding_id,
                    transaction_id: m.transaction_id,
                    kind,
                    error: m.error,
                    body: m.body,
                })
            })
            .collect()
    }
}
