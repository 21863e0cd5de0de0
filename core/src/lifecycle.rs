//! The credit lifecycle (SPEC §3) as a pure state machine.
//!
//! ```text
//! (none) --CREATED--> ACTIVE --SOLD--> SOLD --SOLD--> SOLD
//!                       |                |
//!                       +--RETIRED / CANCELLED / SPLIT--> final
//! ```
//!
//! `SPLIT` ends a block whose part was acted on (SPEC §6): its two children
//! are new records whose `CREATED` events name it as `parent`; [`crate::act`]
//! derives them.
//!
//! A record's state is never stored as truth: it is the fold of its events with
//! [`apply`]. The same function decides whether a new event may be appended
//! ([`next_event`]) and checks a stored history ([`replay`]), so a host cannot
//! append what it would later refuse to replay.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::FieldError;
use crate::id::RecordId;
use crate::payload::validate_payload;
use crate::text::py_strip;

/// What happened to a record.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// The record was registered; always the first event.
    Created,
    /// The credits changed hands (payload: `buyer`, `price`, `currency`, `note`).
    Sold,
    /// The credits were retired against emissions (final).
    Retired,
    /// The credits were cancelled (final).
    Cancelled,
    /// Part of the block was acted on: the block ends, split into a front
    /// child (the acted-on part) and a back child (the remainder), SPEC §6
    /// (final; payload: `front`, `back`, `quantity`).
    Split,
}

impl EventType {
    /// Every event type, in the order of SPEC §3 and §6.
    pub const ALL: [Self; 5] = [
        Self::Created,
        Self::Sold,
        Self::Retired,
        Self::Cancelled,
        Self::Split,
    ];

    /// The name as stored and sent: `"CREATED"`, `"SOLD"`, …
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Sold => "SOLD",
            Self::Retired => "RETIRED",
            Self::Cancelled => "CANCELLED",
            Self::Split => "SPLIT",
        }
    }

    /// Parses `"CREATED"`, `"SOLD"`, `"RETIRED"`, `"CANCELLED"` or `"SPLIT"`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record's status: what its events add up to.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Created and not yet sold, retired or cancelled.
    Active,
    /// Sold at least once; may be sold again, retired or cancelled.
    Sold,
    /// Retired: final.
    Retired,
    /// Cancelled: final.
    Cancelled,
    /// Split into two children after a partial action (SPEC §6): final.
    Split,
}

impl Status {
    /// Every status, in the order of SPEC §3 and §6.
    pub const ALL: [Self; 5] = [
        Self::Active,
        Self::Sold,
        Self::Retired,
        Self::Cancelled,
        Self::Split,
    ];

    /// Parses `"ACTIVE"`, `"SOLD"`, `"RETIRED"`, `"CANCELLED"` or `"SPLIT"`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The name as sent: `"ACTIVE"`, `"SOLD"`, …
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Sold => "SOLD",
            Self::Retired => "RETIRED",
            Self::Cancelled => "CANCELLED",
            Self::Split => "SPLIT",
        }
    }

    /// `true` for `RETIRED`, `CANCELLED` and `SPLIT`: nothing may follow.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Retired | Self::Cancelled | Self::Split)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a record's append-only history.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// A UUIDv7: unique, and ordered by creation time.
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub id: Uuid,
    /// The record this event belongs to.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub record_id: RecordId,
    /// 1, 2, 3… within the record.
    pub seq: u32,
    /// What happened.
    pub event_type: EventType,
    /// Details of the event (a JSON object), or `null`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[cfg_attr(feature = "typescript", tsify(type = "Record<string, unknown> | null"))]
    pub payload: Option<Map<String, Value>>,
    /// When it happened, RFC 3339 in UTC. (A JavaScript host also takes a
    /// `Date`, which it reads as `JSON.stringify` writes it.)
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "typescript", tsify(type = "string | Date"))]
    #[serde(with = "utc_rfc3339")]
    pub created_at: OffsetDateTime,
    /// The name of the API key whose request caused the event (SPEC §8);
    /// absent (`null`) on a server without keys, and on events from before
    /// keys. Written only when present, so that the log's leaf of an event
    /// without an actor is the same bytes as before (SPEC §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub actor: Option<String>,
}

/// A record's state after some prefix of its events.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordState {
    /// The record.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub record_id: RecordId,
    /// Its status.
    pub status: Status,
    /// The `seq` of the last event applied.
    pub last_seq: u32,
    /// When the record was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    #[serde(with = "utc_rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the last event applied happened.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    #[serde(with = "utc_rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The buyer of the latest sale, if the credits were ever sold.
    #[cfg_attr(feature = "typescript", tsify(type = "string | null"))]
    pub owner: Option<String>,
}

/// Why an event cannot follow a state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// A history must hold at least its `CREATED` event.
    #[error("the history is empty: a record's history starts with a CREATED event")]
    NoEvents,
    /// The first event of a record must be `CREATED`.
    #[error("a record's history must start with a CREATED event, not {found}")]
    NotCreated {
        /// The event type given instead.
        found: EventType,
    },
    /// `CREATED` may only be the first event.
    #[error("the record already exists: CREATED can only be its first event")]
    AlreadyCreated,
    /// Nothing may follow `RETIRED` or `CANCELLED`.
    #[error("the record is already {status}: no event can follow a final one")]
    AlreadyFinal {
        /// The final status.
        status: Status,
    },
    /// `seq` must be 1 for the first event and one more than the last after that.
    #[error("expected event seq {expected}, got {found}")]
    OutOfSequence {
        /// The seq the event should have had.
        expected: u64,
        /// The seq it had.
        found: u32,
    },
    /// The event is for a different record.
    #[error("the event belongs to record {found}, not {expected}")]
    WrongRecord {
        /// The record being replayed.
        expected: RecordId,
        /// The event's record.
        found: RecordId,
    },
    /// Events must not go back in time.
    #[error("the event's created_at is earlier than the previous event's")]
    TimeWentBackwards,
    /// The event's time cannot be written in UTC within years 1 to 9999.
    #[error("timestamp out of range: years 1 to 9999 in UTC")]
    TimestampOutOfRange,
    /// A partial action asks for more credits than the block holds.
    #[error("the block holds {available} credits and the action asks for {requested}")]
    InsufficientQuantity {
        /// The credits the block holds.
        available: u64,
        /// The credits the action asked for.
        requested: u64,
    },
    /// A partial action on a record that is not a block (SPEC §6).
    #[error("only part of this record was asked for, but it is not a block: {why}")]
    NotDivisible {
        /// Why: its serial names no range, or its quantity is not the range's count.
        why: String,
    },
    /// The payload breaks the rules of its event type.
    #[error("invalid {event_type} payload: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidPayload {
        /// The event type.
        event_type: EventType,
        /// Every problem with the payload.
        errors: Vec<FieldError>,
    },
}

/// The stable code of a [`TransitionError`]: the `code` every host reports
/// (`TransitionError.code` in JavaScript and Python, `code` of a 409 over HTTP).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionCode {
    /// See [`TransitionError::NoEvents`].
    NoEvents,
    /// See [`TransitionError::NotCreated`].
    NotCreated,
    /// See [`TransitionError::AlreadyCreated`].
    AlreadyCreated,
    /// See [`TransitionError::AlreadyFinal`].
    AlreadyFinal,
    /// See [`TransitionError::OutOfSequence`].
    OutOfSequence,
    /// See [`TransitionError::WrongRecord`].
    WrongRecord,
    /// See [`TransitionError::TimeWentBackwards`].
    TimeWentBackwards,
    /// See [`TransitionError::TimestampOutOfRange`].
    TimestampOutOfRange,
    /// See [`TransitionError::InvalidPayload`].
    InvalidPayload,
    /// See [`TransitionError::InsufficientQuantity`].
    InsufficientQuantity,
    /// See [`TransitionError::NotDivisible`].
    NotDivisible,
    /// A new block overlaps a block already tracked (SPEC §6): decided by a
    /// store, which sees the other blocks.
    SerialOverlap,
}

impl TransitionCode {
    /// Every code, the one list hosts and docs use.
    pub const ALL: [Self; 12] = [
        Self::NoEvents,
        Self::NotCreated,
        Self::AlreadyCreated,
        Self::AlreadyFinal,
        Self::OutOfSequence,
        Self::WrongRecord,
        Self::TimeWentBackwards,
        Self::TimestampOutOfRange,
        Self::InvalidPayload,
        Self::InsufficientQuantity,
        Self::NotDivisible,
        Self::SerialOverlap,
    ];

    /// The code as sent, e.g. `"already_final"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NoEvents => "no_events",
            Self::NotCreated => "not_created",
            Self::AlreadyCreated => "already_created",
            Self::AlreadyFinal => "already_final",
            Self::OutOfSequence => "out_of_sequence",
            Self::WrongRecord => "wrong_record",
            Self::TimeWentBackwards => "time_went_backwards",
            Self::TimestampOutOfRange => "timestamp_out_of_range",
            Self::InvalidPayload => "invalid_payload",
            Self::InsufficientQuantity => "insufficient_quantity",
            Self::NotDivisible => "not_divisible",
            Self::SerialOverlap => "serial_overlap",
        }
    }
}

impl TransitionError {
    /// Its stable code.
    pub const fn kind(&self) -> TransitionCode {
        match self {
            Self::NoEvents => TransitionCode::NoEvents,
            Self::NotCreated { .. } => TransitionCode::NotCreated,
            Self::AlreadyCreated => TransitionCode::AlreadyCreated,
            Self::AlreadyFinal { .. } => TransitionCode::AlreadyFinal,
            Self::OutOfSequence { .. } => TransitionCode::OutOfSequence,
            Self::WrongRecord { .. } => TransitionCode::WrongRecord,
            Self::TimeWentBackwards => TransitionCode::TimeWentBackwards,
            Self::TimestampOutOfRange => TransitionCode::TimestampOutOfRange,
            Self::InvalidPayload { .. } => TransitionCode::InvalidPayload,
            Self::InsufficientQuantity { .. } => TransitionCode::InsufficientQuantity,
            Self::NotDivisible { .. } => TransitionCode::NotDivisible,
        }
    }

    /// The stable code as text, e.g. `"already_final"`.
    pub const fn code(&self) -> &'static str {
        self.kind().as_str()
    }

    /// `true` when the event itself is malformed (an HTTP 422) rather than in
    /// conflict with the record's state (an HTTP 409).
    pub const fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::InvalidPayload { .. } | Self::NotDivisible { .. }
        )
    }
}

/// The state after `event`, given the state before it (`None`: no events yet).
pub fn apply(state: Option<&RecordState>, event: &Event) -> Result<RecordState, TransitionError> {
    let next = match state {
        None => {
            if event.event_type != EventType::Created {
                return Err(TransitionError::NotCreated {
                    found: event.event_type,
                });
            }
            if event.seq != 1 {
                return Err(TransitionError::OutOfSequence {
                    expected: 1,
                    found: event.seq,
                });
            }
            RecordState {
                record_id: event.record_id,
                status: Status::Active,
                last_seq: event.seq,
                created_at: event.created_at,
                updated_at: event.created_at,
                // A split's child inherits its parent's holder (SPEC §6).
                owner: text_value(event.payload.as_ref(), "holder"),
            }
        }
        Some(state) => {
            if event.record_id != state.record_id {
                return Err(TransitionError::WrongRecord {
                    expected: state.record_id,
                    found: event.record_id,
                });
            }
            let expected = u64::from(state.last_seq) + 1;
            if u64::from(event.seq) != expected {
                return Err(TransitionError::OutOfSequence {
                    expected,
                    found: event.seq,
                });
            }
            if event.created_at < state.updated_at {
                return Err(TransitionError::TimeWentBackwards);
            }
            let status = transition(state.status, event.event_type)?;
            let owner = match event.event_type {
                EventType::Sold => text_value(event.payload.as_ref(), "buyer"),
                _ => state.owner.clone(),
            };
            RecordState {
                status,
                last_seq: event.seq,
                updated_at: event.created_at,
                owner,
                ..state.clone()
            }
        }
    };
    let errors = validate_payload(event.event_type, event.payload.as_ref());
    if errors.is_empty() {
        Ok(next)
    } else {
        Err(TransitionError::InvalidPayload {
            event_type: event.event_type,
            errors,
        })
    }
}

/// The table of SPEC §3, for a record that exists.
fn transition(from: Status, event_type: EventType) -> Result<Status, TransitionError> {
    if from.is_final() {
        return Err(TransitionError::AlreadyFinal { status: from });
    }
    match event_type {
        EventType::Created => Err(TransitionError::AlreadyCreated),
        EventType::Sold => Ok(Status::Sold),
        EventType::Retired => Ok(Status::Retired),
        EventType::Cancelled => Ok(Status::Cancelled),
        EventType::Split => Ok(Status::Split),
    }
}

/// The types a record's last event can have when its status is `status`:
/// the projection from events to status that a store's status filter needs
/// (it matches on the last event instead of replaying every history).
/// Derived from the same table as [`apply`]; a test checks the two agree.
pub const fn last_event_types(status: Status) -> &'static [EventType] {
    match status {
        Status::Active => &[EventType::Created],
        Status::Sold => &[EventType::Sold],
        Status::Retired => &[EventType::Retired],
        Status::Cancelled => &[EventType::Cancelled],
        Status::Split => &[EventType::Split],
    }
}

/// A text value of a payload, stripped: the buyer of a sale, the holder a
/// split's child inherits.
fn text_value(payload: Option<&Map<String, Value>>, key: &str) -> Option<String> {
    payload?.get(key)?.as_str().map(|b| py_strip(b).to_owned())
}

/// The state a history adds up to, checking every event on the way.
pub fn replay(events: &[Event]) -> Result<RecordState, TransitionError> {
    let mut state: Option<RecordState> = None;
    for event in events {
        state = Some(apply(state.as_ref(), event)?);
    }
    state.ok_or(TransitionError::NoEvents)
}

/// The state as of `at`: the replay of the events created at or before `at`;
/// `None` if the record did not exist yet. Only that prefix is checked.
pub fn state_at(
    events: &[Event],
    at: OffsetDateTime,
) -> Result<Option<RecordState>, TransitionError> {
    let mut state: Option<RecordState> = None;
    for event in events.iter().take_while(|e| e.created_at <= at) {
        state = Some(apply(state.as_ref(), event)?);
    }
    Ok(state)
}

/// Builds the next event of a record and checks it may be appended.
///
/// Time and randomness are arguments, so the core stays deterministic: `now`
/// is the host's clock, `random` 10 random bytes for the UUIDv7. If the clock
/// has gone backwards since the last event, the event takes the last event's
/// time instead, so histories never go back in time.
pub fn next_event(
    state: Option<&RecordState>,
    record_id: RecordId,
    event_type: EventType,
    payload: Option<Map<String, Value>>,
    now: OffsetDateTime,
    random: [u8; 10],
) -> Result<(Event, RecordState), TransitionError> {
    let (seq, created_at) = match state {
        None => (1, now),
        Some(s) => {
            let seq = s
                .last_seq
                .checked_add(1)
                .ok_or(TransitionError::OutOfSequence {
                    expected: u64::from(s.last_seq) + 1,
                    found: s.last_seq,
                })?;
            (seq, now.max(s.updated_at))
        }
    };
    let created_at = utc_rfc3339::to_utc(created_at).ok_or(TransitionError::TimestampOutOfRange)?;
    // Milliseconds since 1970 (0 before it), without the 128-bit division
    // `unix_timestamp_nanos() / 1_000_000` brings (1 KB of the WASM package).
    // Years 1 to 9999 only, so the product fits.
    let millis = u64::try_from(created_at.unix_timestamp())
        .map_or(0, |s| s * 1000 + u64::from(created_at.millisecond()));
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let payload = payload.filter(|p| !p.is_empty());
    let event = Event {
        id,
        record_id,
        seq,
        event_type,
        payload,
        created_at,
        actor: None,
    };
    let next = apply(state, &event)?;
    Ok((event, next))
}

/// RFC 3339 timestamps, always written in UTC (`…Z`), years 1 to 9999.
pub mod utc_rfc3339 {
    use serde::{de, ser, Deserializer, Serializer};
    use time::{OffsetDateTime, UtcOffset};

    const OUT_OF_RANGE: &str = "timestamp out of range: years 1 to 9999 in UTC";

    /// `t` in UTC, if it falls in years 1..=9999 there (what RFC 3339 and every
    /// host's date type can hold).
    pub fn to_utc(t: OffsetDateTime) -> Option<OffsetDateTime> {
        t.checked_to_offset(UtcOffset::UTC)
            .filter(|t| (1..=9999).contains(&t.year()))
    }

    /// Writes `t` in UTC.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        let utc = to_utc(*t).ok_or_else(|| ser::Error::custom(OUT_OF_RANGE))?;
        time::serde::rfc3339::serialize(&utc, serializer)
    }

    /// Reads any RFC 3339 offset and converts it to UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let t = time::serde::rfc3339::deserialize(deserializer)?;
        to_utc(t).ok_or_else(|| de::Error::custom(OUT_OF_RANGE))
    }
}
