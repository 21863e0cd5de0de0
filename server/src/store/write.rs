//! The write flows both backends run, each between its own reads and inserts:
//! create-or-find and the append plan. The decisions are the core's.

use carbon_tracker_core::lifecycle::{self, Event, EventType, RecordState};
use carbon_tracker_core::{CanonicalRecord, RecordId};
use time::OffsetDateTime;

use super::{Append, Created, StoreError, StoredRecord};

/// The state a stored history adds up to. A stored history the core refuses
/// is corrupt data (500), never a transition error of the request (409).
pub(crate) fn history(id: RecordId, events: &[Event]) -> Result<RecordState, StoreError> {
    lifecycle::replay(events).map_err(|e| StoreError::corrupt(Some(id), "history", e))
}

/// The CREATED event of a new record, made with this host's clock and
/// randomness.
pub(crate) fn created_event(id: RecordId, now: OffsetDateTime) -> Result<Event, StoreError> {
    let (event, _) =
        lifecycle::next_event(None, id, EventType::Created, None, now, random_bytes()?)?;
    Ok(event)
}

/// What to answer for `record` when a record with its id is already stored:
/// the existing record if it is the same one, a conflict otherwise.
pub(crate) fn existing(
    record: &CanonicalRecord,
    stored: StoredRecord,
) -> Result<Created, StoreError> {
    if stored.canonical == *record {
        Ok(Created::Existing(stored))
    } else {
        Err(StoreError::Conflict(stored.id))
    }
}

/// The event to insert for `request` after the stored history `events` of
/// its record (empty: no such record), as the core builds and allows it.
pub(crate) fn next_event(
    request: Append,
    events: &[Event],
    now: OffsetDateTime,
) -> Result<Event, StoreError> {
    let Append {
        record,
        event_type,
        payload,
    } = request;
    if events.is_empty() {
        return Err(StoreError::NotFound(record));
    }
    let state = history(record, events)?;
    let (event, _) = lifecycle::next_event(
        Some(&state),
        record,
        event_type,
        payload,
        now,
        random_bytes()?,
    )?;
    Ok(event)
}

/// The 10 random bytes of a UUIDv7.
fn random_bytes() -> Result<[u8; 10], StoreError> {
    let mut random = [0_u8; 10];
    getrandom::fill(&mut random)
        .map_err(|e| StoreError::unavailable("no randomness for an event id", e.to_string()))?;
    Ok(random)
}
