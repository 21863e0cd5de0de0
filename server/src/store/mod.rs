//! Storage: the little the HTTP layer needs from a database.
//!
//! The trait is narrow on purpose (create, append, read, list, feed) so that a
//! PostgreSQL backend fits behind it. Every lifecycle decision is the core's:
//! a backend loads a record's events, asks the core for the next event, and
//! stores it, atomically with respect to other writers.

pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use carbon_tracker_core::lifecycle::{self, Event, EventType, Status, TransitionError};
use carbon_tracker_core::{CanonicalRecord, RecordId};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// A stored record with its whole history.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// The record's id.
    pub id: RecordId,
    /// Its canonical fields.
    pub canonical: CanonicalRecord,
    /// When it was created (the time of its CREATED event).
    pub created_at: OffsetDateTime,
    /// Its events in `seq` order.
    pub events: Vec<Event>,
}

/// What a create did.
#[derive(Clone, Debug)]
pub enum Created {
    /// The record is new.
    New(StoredRecord),
    /// An identical record was already there; nothing was written.
    Existing(StoredRecord),
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record has this id.
    #[error("no record has the id {0}")]
    NotFound(RecordId),
    /// The id is taken by a record whose canonical fields differ.
    #[error("the id {0} belongs to a record with other data")]
    Conflict(RecordId),
    /// The core refused the event.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The database failed (I/O, corruption, unreachable, shutting down);
    /// retrying later may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The database kept reporting conflicts with other writers (deadlocks,
    /// serialization failures) after every retry.
    #[error("the write kept conflicting with other writers: {0}")]
    Contended(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Filters and position of one page of `GET /records`.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Only records of this (canonical) registry.
    pub registry: Option<String>,
    /// Only records of this vintage.
    pub vintage: Option<u16>,
    /// Only records whose status is this.
    pub status: Option<Status>,
    /// Only records stored after this position (the decoded cursor).
    pub after: Option<Position>,
    /// Page size.
    pub limit: u32,
}

/// One page of records.
#[derive(Clone, Debug)]
pub struct Page {
    /// The records, oldest first.
    pub items: Vec<StoredRecord>,
    /// The position to continue after, if there may be more.
    pub next: Option<Position>,
}

/// Where a record sits in the order pages are read in: by `tx`, then `pos`.
///
/// SQLite has one writer, so its rows commit in `pos` order and `tx` is
/// always 0. PostgreSQL writers commit in any order; `tx` is the inserting
/// transaction's id (see [`postgres`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The inserting transaction (0 on SQLite).
    pub tx: i64,
    /// The insertion position.
    pub pos: i64,
}

/// A database that holds records and their events.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates each record unless it exists; one outcome per record, in order.
    /// The outer error means nothing was written.
    async fn create(
        &self,
        records: Vec<CanonicalRecord>,
    ) -> Result<Vec<Result<Created, StoreError>>, StoreError>;

    /// Appends the next event of a record, if the core allows it.
    async fn append(
        &self,
        id: RecordId,
        event_type: EventType,
        payload: Option<Map<String, Value>>,
    ) -> Result<Event, StoreError>;

    /// A record and its history.
    async fn get(&self, id: RecordId) -> Result<Option<StoredRecord>, StoreError>;

    /// One page of records, oldest first.
    async fn list(&self, query: ListQuery) -> Result<Page, StoreError>;

    /// Up to `limit` events of all records, oldest first, after the event
    /// `after`; `None` if `after` is not a known event.
    async fn feed(&self, after: Option<Uuid>, limit: u32)
        -> Result<Option<Vec<Event>>, StoreError>;

    /// Whether the database answers.
    async fn check(&self) -> Result<(), StoreError>;

    /// Stops taking requests; returns once every acknowledged write is
    /// durable and the connections are closed.
    fn close(&self);
}

/// The event type a record's last event has when its status is `status`; the
/// SQL status filter matches on it.
pub(crate) const fn last_event_type(status: Status) -> EventType {
    match status {
        Status::Active => EventType::Created,
        Status::Sold => EventType::Sold,
        Status::Retired => EventType::Retired,
        Status::Cancelled => EventType::Cancelled,
    }
}

/// The next event of a record with history `events`, built by the core with
/// this host's clock and randomness.
pub(crate) fn next_event(
    id: RecordId,
    events: &[Event],
    event_type: EventType,
    payload: Option<Map<String, Value>>,
    now: OffsetDateTime,
) -> Result<Event, StoreError> {
    let state = if events.is_empty() {
        None
    } else {
        Some(lifecycle::replay(events)?)
    };
    let mut random = [0_u8; 10];
    getrandom::fill(&mut random)
        .map_err(|e| StoreError::Unavailable(format!("no randomness for an event id: {e}")))?;
    let (event, _) = lifecycle::next_event(state.as_ref(), id, event_type, payload, now, random)?;
    Ok(event)
}
