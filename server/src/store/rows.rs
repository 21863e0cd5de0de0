//! The rows both backends read, and their one decoding into domain types.
//!
//! A backend reads its driver's columns into these plain rows (its own
//! column types: text timestamps on SQLite, `timestamptz` on PostgreSQL);
//! everything after that — ids, quantities, years, event types, payloads,
//! seq — is decoded here, and whatever cannot be is
//! [`StoreError::Corrupt`] naming the record.

use std::str::FromStr;

use carbon_tracker_core::lifecycle::{Event, EventType};
use carbon_tracker_core::{CanonicalRecord, Quantity, RecordId};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Position, StoreError, StoredRecord};

/// A row of `records`.
#[derive(Debug)]
pub(crate) struct RecordRow {
    /// Where it sits in the order pages are read in.
    pub(crate) position: Position,
    pub(crate) id: String,
    pub(crate) project_name: String,
    pub(crate) registry: String,
    pub(crate) vintage: i64,
    /// Decimal text with 4 fractional digits.
    pub(crate) quantity: String,
    pub(crate) serial_number: String,
    pub(crate) created_at: OffsetDateTime,
}

/// A row of `events`.
#[derive(Debug)]
pub(crate) struct EventRow {
    pub(crate) id: Uuid,
    pub(crate) record_id: String,
    pub(crate) seq: i64,
    pub(crate) event_type: String,
    /// A JSON object, or none.
    pub(crate) payload: Option<Value>,
    pub(crate) created_at: OffsetDateTime,
    /// The API key that caused it (SPEC §8), if any.
    pub(crate) actor: Option<String>,
}

/// One row as a driver returns it: how each backend reads a column of each
/// kind (SQLite keeps timestamps, ids and payloads as text; PostgreSQL has
/// types for them).
pub(crate) trait Columns {
    /// An integer column.
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    /// A text column.
    fn text(&self, i: usize) -> Result<String, StoreError>;
    /// A text column that may be null.
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// A timestamp column.
    fn time(&self, i: usize) -> Result<OffsetDateTime, StoreError>;
    /// A UUID column.
    fn uuid(&self, i: usize) -> Result<Uuid, StoreError>;
    /// A JSON column that may be null.
    fn json(&self, i: usize) -> Result<Option<Value>, StoreError>;
}

/// The columns of an [`EventRow`], in order.
pub(crate) const EVENT_COLUMNS: &str = "id, record_id, seq, event_type, payload, created_at, actor";

/// The columns of an API key row (`api_keys`), in the order both backends
/// read them: `name, scopes, created_at, last_used_at, revoked_at`.
pub(crate) const API_KEY_COLUMNS: &str = "name, scopes, created_at, last_used_at, revoked_at";

impl RecordRow {
    /// Reads a row selected in this order: `tx, pos, id, project_name,
    /// registry, vintage, quantity, serial_number, created_at`.
    pub(crate) fn read(c: &impl Columns) -> Result<Self, StoreError> {
        Ok(Self {
            position: Position {
                tx: c.int(0)?,
                pos: c.int(1)?,
            },
            id: c.text(2)?,
            project_name: c.text(3)?,
            registry: c.text(4)?,
            vintage: c.int(5)?,
            quantity: c.text(6)?,
            serial_number: c.text(7)?,
            created_at: c.time(8)?,
        })
    }

    /// The record this row and its `events` hold, with its position.
    pub(crate) fn decode(self, events: Vec<Event>) -> Result<(Position, StoredRecord), StoreError> {
        let id = record_id(&self.id)?;
        let bad = |what: &str, e: String| StoreError::corrupt(Some(id), what, e);
        let record = StoredRecord {
            id,
            canonical: CanonicalRecord {
                project_name: self.project_name,
                registry: self.registry,
                vintage: u16::try_from(self.vintage).map_err(|e| bad("vintage", e.to_string()))?,
                quantity: Quantity::from_str(&self.quantity)
                    .map_err(|e| bad("quantity", e.to_string()))?,
                serial_number: self.serial_number,
            },
            created_at: self.created_at,
            events,
        };
        Ok((self.position, record))
    }
}

impl EventRow {
    /// Reads a row selected in [`EVENT_COLUMNS`] order.
    pub(crate) fn read(c: &impl Columns) -> Result<Self, StoreError> {
        Ok(Self {
            id: c.uuid(0)?,
            record_id: c.text(1)?,
            seq: c.int(2)?,
            event_type: c.text(3)?,
            payload: c.json(4)?,
            created_at: c.time(5)?,
            actor: c.opt_text(6)?,
        })
    }

    /// The event this row holds.
    pub(crate) fn decode(self) -> Result<Event, StoreError> {
        let record = record_id(&self.record_id)?;
        let bad = |what: &str, e: String| StoreError::corrupt(Some(record), what, e);
        let payload = match self.payload {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => return Err(bad("event payload", format!("not an object: {other}"))),
        };
        Ok(Event {
            id: self.id,
            record_id: record,
            seq: u32::try_from(self.seq).map_err(|e| bad("event seq", e.to_string()))?,
            event_type: EventType::parse(&self.event_type)
                .ok_or_else(|| bad("event type", format!("unknown: {:?}", self.event_type)))?,
            payload,
            created_at: self.created_at,
            actor: self.actor,
        })
    }
}

/// A stored record id.
pub(crate) fn record_id(text: &str) -> Result<RecordId, StoreError> {
    RecordId::from_str(text)
        .map_err(|e| StoreError::corrupt(None, "record id", format!("{text:?}: {e}")))
}

/// A timestamp stored as RFC 3339 text (SQLite).
pub(crate) fn timestamp(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| StoreError::corrupt(None, "timestamp", format!("{text:?}: {e}")))
}

/// A timestamp as RFC 3339 text, to store (SQLite).
pub(crate) fn timestamp_text(t: OffsetDateTime) -> Result<String, StoreError> {
    t.format(&Rfc3339)
        .map_err(|e| StoreError::corrupt(None, "timestamp", e))
}

/// An event id stored as text (SQLite).
pub(crate) fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::corrupt(None, "event id", e))
}

/// A payload stored as JSON text (SQLite).
pub(crate) fn json(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(None, "event payload", e))
}

/// A stored leaf of the log, checked: its index is the next one, its hash 32 bytes.
pub(crate) fn log_leaf(
    idx: i64,
    expected: i64,
    event: Uuid,
    hash: &[u8],
) -> Result<super::Leaf, StoreError> {
    if idx != expected {
        return Err(StoreError::corrupt(
            None,
            "log",
            format!("the leaves jump from {} to {idx}", expected - 1),
        ));
    }
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| {
        StoreError::corrupt(None, "log", format!("leaf {idx}'s hash is not 32 bytes"))
    })?;
    Ok(super::Leaf { event, hash })
}

/// A stored checkpoint, checked.
pub(crate) fn log_checkpoint(
    size: i64,
    root: &[u8],
    note: String,
) -> Result<super::StoredCheckpoint, StoreError> {
    let size = u64::try_from(size).map_err(|e| StoreError::corrupt(None, "checkpoint size", e))?;
    let root = <[u8; 32]>::try_from(root).map_err(|_| {
        StoreError::corrupt(
            None,
            "log",
            format!("checkpoint {size}'s root is not 32 bytes"),
        )
    })?;
    Ok(super::StoredCheckpoint { size, root, note })
}
