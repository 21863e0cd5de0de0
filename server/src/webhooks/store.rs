//! What webhooks need from a database, beside [`crate::store::Store`]'s
//! feed: endpoints with their cursors, the delivery log, and (with several
//! processes on one database) who delivers which endpoint.
//!
//! Each backend implements it in a file of its own:
//! `store/sqlite/webhooks.rs` and `store/postgres/webhooks.rs`.

use async_trait::async_trait;
use carbon_tracker_core::lifecycle::EventType;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::StoreError;

/// A registered endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Its row id (a removed and re-added URL gets a new one).
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// `whsec_` + base64 of the HMAC key.
    pub secret: String,
    /// The event types it receives (never empty).
    pub event_types: Vec<EventType>,
    /// When it was added.
    pub created_at: OffsetDateTime,
    /// The last event delivered or skipped, in feed order; `None` before the
    /// first event of the feed.
    pub cursor: Option<Uuid>,
}

/// An endpoint to add.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    /// Where events are POSTed (checked: http or https).
    pub url: String,
    /// `whsec_` + base64 of the HMAC key.
    pub secret: String,
    /// The event types it receives (never empty).
    pub event_types: Vec<EventType>,
    /// Where delivery starts: after this event (`None`: from the first).
    pub cursor: Option<Uuid>,
}

/// One delivery attempt, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// When the attempt was made.
    pub at: OffsetDateTime,
    /// The event delivered (also the `webhook-id` header).
    pub event: Uuid,
    /// 1 for the first attempt of this event in this run of the worker.
    pub attempt: u32,
    /// The HTTP status the endpoint answered.
    pub status: Option<u16>,
    /// Why no status came (timeout, connection refused, …).
    pub error: Option<String>,
}

/// The column text of a list of event types: `CREATED,SOLD`.
pub(crate) fn types_text(types: &[EventType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The event types of a column's text; an unknown name is corrupt data.
pub(crate) fn parse_types(text: &str) -> Result<Vec<EventType>, StoreError> {
    text.split(',')
        .map(|name| {
            EventType::parse(name).ok_or_else(|| {
                StoreError::corrupt(
                    None,
                    "webhook event types",
                    format!("unknown event type {name:?}"),
                )
            })
        })
        .collect()
}

/// Storage of webhook endpoints and their delivery log.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Adds an endpoint; `None` when one with this URL exists.
    async fn add_endpoint(&self, new: NewEndpoint) -> Result<Option<Endpoint>, StoreError>;

    /// Every endpoint, oldest first.
    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError>;

    /// The endpoint with this row id, if it still exists.
    async fn endpoint(&self, id: i64) -> Result<Option<Endpoint>, StoreError>;

    /// Removes the endpoint with this URL and its delivery log; whether there
    /// was one.
    async fn remove_endpoint(&self, url: &str) -> Result<bool, StoreError>;

    /// The last `limit` attempts logged for an endpoint, oldest first.
    async fn deliveries(&self, endpoint: i64, limit: u32) -> Result<Vec<Delivery>, StoreError>;

    /// The last event of the feed as it stands (settled events only on
    /// PostgreSQL), `None` when the feed is empty.
    async fn last_event(&self) -> Result<Option<Uuid>, StoreError>;

    /// Moves an endpoint's cursor from `from` to `to` if it still is at
    /// `from` (another process, or a replay, may have moved it), and logs
    /// `delivery` (the 2xx that allows the move) in the same transaction.
    /// Whether the cursor moved; the attempt is logged either way.
    async fn advance(
        &self,
        endpoint: i64,
        from: Option<Uuid>,
        to: Uuid,
        delivery: Option<Delivery>,
    ) -> Result<bool, StoreError>;

    /// Sets an endpoint's cursor whatever it was (`webhooks replay`).
    async fn rewind(&self, endpoint: i64, to: Option<Uuid>) -> Result<(), StoreError>;

    /// Logs a failed attempt.
    async fn log_attempt(&self, endpoint: i64, delivery: Delivery) -> Result<(), StoreError>;

    /// Whether this process may deliver this endpoint now: on PostgreSQL,
    /// a session advisory lock (kept until released or the session ends);
    /// on SQLite, always.
    async fn claim(&self, endpoint: i64) -> Result<bool, StoreError>;

    /// Gives up an endpoint claimed before.
    async fn release(&self, endpoint: i64) -> Result<(), StoreError>;
}
