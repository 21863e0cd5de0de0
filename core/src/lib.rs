#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod api;
mod batch;
mod canonical;
mod error;
mod id;
pub mod lifecycle;
#[cfg(feature = "log-small")]
pub mod log;
mod number;
mod payload;
mod quantity;
pub mod rfc3339;
mod serial;
mod split;
mod text;
mod value;

pub use batch::IdBatch;
pub use canonical::{
    vintage_year, CanonicalRecord, RecordInput, MAX_VINTAGE, MIN_VINTAGE, RECORD_FIELDS,
};
pub use error::{ErrorCode, FieldError, ValidationError};
pub use id::{ParseRecordIdError, RecordId, ID_SCHEME};
pub use lifecycle::{
    apply, next_event, replay, state_at, Event, EventType, RecordState, Status, TransitionCode,
    TransitionError,
};
pub use payload::{
    action_fields, country_codes, payload_fields, validate_payload, PayloadField, PayloadRule,
    ACTION_QUANTITY, MAX_NAME_CHARS, MAX_NOTE_CHARS, MAX_PUBLIC_NOTE_CHARS, RETIREMENT_PURPOSES,
};
pub use quantity::Quantity;
pub use serial::{parse_serial, Block, Scheme};
pub use split::{act, requested, route, split_records, Acted, Action, Child, Lineage, Split};
pub use text::{canonical_text, py_strip, MAX_TEXT_CHARS, PY_WHITESPACE};
pub use value::FieldValue;

/// The `time` crate this crate's timestamps use, so hosts share its version.
pub use time;
