//! The write flows both backends run, each between its own reads and inserts:
//! create-or-find and the append plan. The decisions are the core's.

use carbon_tracker_core::lifecycle::{self, Event, EventType, RecordState};
use carbon_tracker_core::{act, route, Acted, CanonicalRecord, RecordId};
use time::OffsetDateTime;

use super::blocks::LiveBlock;
use super::{Append, Created, StoreError, StoredRecord};

/// The state a stored history adds up to. A stored history the core refuses
/// is corrupt data (500), never a transition error of the request (409).
pub(crate) fn history(id: RecordId, events: &[Event]) -> Result<RecordState, StoreError> {
    lifecycle::replay(events).map_err(|e| StoreError::corrupt(Some(id), "history", e))
}

/// The CREATED event of a new record, made with this host's clock and
/// randomness, naming the API key that asked for it (SPEC §8).
pub(crate) fn created_event(
    id: RecordId,
    now: OffsetDateTime,
    actor: Option<&str>,
) -> Result<Event, StoreError> {
    let (mut event, _) =
        lifecycle::next_event(None, id, EventType::Created, None, now, random_bytes()?)?;
    event.actor = actor.map(str::to_owned);
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

/// What to do for `request` at the record it has reached (`followed`: by
/// going on from a split parent), as stored (`None`: no such record): act
/// there, or go on to the split block's remainder. The core decides both
/// (SPEC §6).
pub(crate) fn step(
    request: &Append,
    reached: RecordId,
    stored: Option<&StoredRecord>,
    followed: bool,
    now: OffsetDateTime,
    actor: Option<&str>,
) -> Result<Step, StoreError> {
    let Some((record, events)) = stored
        .filter(|r| !r.events.is_empty())
        .map(|r| (&r.canonical, r.events.as_slice()))
    else {
        return Err(if followed {
            StoreError::corrupt(
                Some(reached),
                "record",
                "a split names a child that is not stored",
            )
        } else {
            StoreError::NotFound(reached)
        });
    };
    let state = history(reached, events)?;
    let payload = request.payload.as_ref();
    if let Some(next) = route(events, &state, request.action, payload, followed)? {
        return Ok(Step::Follow(next));
    }
    let random = [
        random_bytes()?,
        random_bytes()?,
        random_bytes()?,
        random_bytes()?,
    ];
    Ok(Step::Act(
        act(
            record,
            &state,
            request.action,
            request.payload.clone(),
            now,
            random,
        )?
        .by(actor),
    ))
}

/// The range to look up to reach the remainder of `stored`, a split block,
/// at once (SPEC §6: a partial action on a SPLIT record acts on its live
/// remainder). The remainder is the back child's back child and so on, each
/// holding the block's last credit, so it is the live block inside this one
/// that holds that credit — as long as the block's tree is in the index,
/// which the backends check: no block the migration left out overlaps it.
/// Without the lookup, reaching the remainder loads every split record on
/// the way, and a block retired a credit at a time gets slower with each
/// retirement. The walk goes on from the record found as usual, so a stale
/// answer costs hops, never a wrong record.
pub(crate) fn block_of(stored: &StoredRecord) -> Option<LiveBlock> {
    LiveBlock::with_id(stored.id, &stored.canonical)
}

/// Where a request goes next.
pub(crate) enum Step {
    /// On to this record (the remainder of a split block).
    Follow(RecordId),
    /// The core's answer at this record: the events and records to write.
    Act(Acted),
}

/// Most records a request may pass through on its way to a split block's
/// remainder: a bound so that a corrupt history naming its own ancestor
/// cannot loop forever.
pub(crate) const MAX_HOPS: usize = 1 << 20;

/// The error for a walk longer than [`MAX_HOPS`].
pub(crate) fn too_deep(record: RecordId) -> StoreError {
    StoreError::corrupt(
        Some(record),
        "lineage",
        format!("more than {MAX_HOPS} splits lead to its remainder"),
    )
}

/// The 10 random bytes of a UUIDv7.
fn random_bytes() -> Result<[u8; 10], StoreError> {
    let mut random = [0_u8; 10];
    getrandom::fill(&mut random)
        .map_err(|e| StoreError::unavailable("no randomness for an event id", e.to_string()))?;
    Ok(random)
}
