//! The host-neutral API: what the WASM, Python and server hosts re-export.
//!
//! Every function takes and returns serde types whose JSON shapes are the REST
//! bodies (snake_case keys), and every failure is an [`ApiError`]: plain data
//! with a `kind`, a stable `code`, a `message`, a `help` hint and, for
//! validation, the list of field errors. A host maps `ApiError` to its own
//! idiom (a problem+json response, a JS `Error` subclass, a Python exception)
//! and adds no logic of its own.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::canonical::{CanonicalRecord, RecordInput};
use crate::error::{FieldError, ValidationError};
use crate::id::RecordId;
use crate::lifecycle::{self, Event, RecordState, TransitionError};

pub use crate::id::ID_SCHEME;

/// The family of an [`ApiError`]: which exception or error class a host
/// raises. A host derives anything else (an HTTP status) from the family and
/// the typed error, never from the text of `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A record breaks the field rules of SPEC §2; `errors` lists every problem.
    Validation,
    /// An event cannot follow a record's state (SPEC §3); `code` is a
    /// [`TransitionCode`](crate::TransitionCode), and for `invalid_payload`
    /// `errors` lists the payload's problems.
    Transition,
    /// The input does not have the expected shape at all.
    Parse,
}

/// A failure, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// A stable machine code: `"invalid_record"`, a transition code such as
    /// `"already_final"`, or `"invalid_shape"`.
    pub code: String,
    /// A human message.
    pub message: String,
    /// A hint on how to fix it.
    pub help: Option<String>,
    /// The field errors, for validation failures and invalid payloads.
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            kind: ErrorKind::Validation,
            code: "invalid_record".to_owned(),
            message: e.to_string(),
            help: Some("fix the fields listed in `errors`; nothing was stored".to_owned()),
            errors: e.errors,
        }
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        let help = match &e {
            TransitionError::AlreadyFinal { .. } => {
                "a retired, cancelled or split record cannot change again (act on a split block's children)"
            }
            TransitionError::InsufficientQuantity { .. } => {
                "ask for at most the credits the block holds"
            }
            TransitionError::NotDivisible { .. } => {
                "act on the whole record, or register it as a block: a serial naming its range (e.g. REGISTRY-LOT:1-100) with a quantity equal to the range's count"
            }
            TransitionError::InvalidPayload { .. } => "fix the payload fields listed in `errors`",
            TransitionError::NotCreated { .. } | TransitionError::NoEvents => {
                "a record's history starts with its CREATED event"
            }
            _ => "events must be given in seq order, for one record, in time order",
        };
        let errors = match &e {
            TransitionError::InvalidPayload { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        Self {
            kind: ErrorKind::Transition,
            code: e.code().to_owned(),
            message: e.to_string(),
            help: Some(help.to_owned()),
            errors,
        }
    }
}

impl ApiError {
    /// An input that could not be read into the expected shape.
    pub fn parse(message: impl std::fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Parse,
            code: "invalid_shape".to_owned(),
            message: message.to_string(),
            help: None,
            errors: Vec::new(),
        }
    }
}

/// The answer to "what is this record's id?": the id and the canonical fields
/// it was computed from (the body of `POST /ids`).
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedId {
    /// The v1 id.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[0-9a-f]{64}$"))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub id: RecordId,
    /// The canonical fields.
    pub canonical: CanonicalRecord,
}

/// Reads a host value (JSON, a JS value, …) into one of this module's inputs.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(ApiError::parse)
}

/// Reads a record input from a JSON value. A value that is not an object is a
/// validation error on the field `body`, so clients get one error shape.
pub fn record_input_from_value(value: serde_json::Value) -> Result<RecordInput, ApiError> {
    if !value.is_object() {
        return Err(ValidationError::not_an_object().into());
    }
    from_value(value)
}

/// Reads a record input from JSON text; numbers keep their exact digits.
pub fn parse_record_input(json: &str) -> Result<RecordInput, ApiError> {
    let value = serde_json::from_str(json).map_err(|e| ApiError {
        code: "invalid_json".to_owned(),
        help: Some(format!(
            "send a JSON object with the fields {}",
            crate::canonical::RECORD_FIELDS.join(", ")
        )),
        ..ApiError::parse(e)
    })?;
    record_input_from_value(value)
}

/// The v1 id of an input.
pub fn record_id(input: &RecordInput) -> Result<RecordId, ApiError> {
    Ok(input.record_id()?)
}

/// The v1 ids of many inputs, each with its own outcome, in input order.
pub fn record_ids(inputs: &[RecordInput]) -> Vec<Result<RecordId, ApiError>> {
    inputs.iter().map(record_id).collect()
}

/// The canonical fields of an input.
pub fn canonicalize(input: &RecordInput) -> Result<CanonicalRecord, ApiError> {
    Ok(input.canonicalize()?)
}

/// The id and canonical fields of an input.
pub fn derive_id(input: &RecordInput) -> Result<DerivedId, ApiError> {
    let canonical = input.canonicalize()?;
    Ok(DerivedId {
        id: canonical.id(),
        canonical,
    })
}

/// Every problem of an input; empty when it is valid.
pub fn validate(input: &RecordInput) -> Vec<FieldError> {
    input.validate()
}

/// The state after `event`, from the state before it (`None`: no events yet).
pub fn apply(state: Option<&RecordState>, event: &Event) -> Result<RecordState, ApiError> {
    Ok(lifecycle::apply(state, event)?)
}

/// The state a history adds up to.
pub fn replay(events: &[Event]) -> Result<RecordState, ApiError> {
    Ok(lifecycle::replay(events)?)
}

/// The state as of `at`, or `None` if the record did not exist yet.
pub fn state_at(events: &[Event], at: OffsetDateTime) -> Result<Option<RecordState>, ApiError> {
    Ok(lifecycle::state_at(events, at)?)
}
