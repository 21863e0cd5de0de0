//! Event payloads (SPEC §3): which keys each event type takes, and their rules.
//!
//! Unknown keys are rejected rather than ignored: a misspelt `buyer_name` would
//! otherwise be stored as an anonymous sale in an audit trail that can never be
//! corrected.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::{ErrorCode, FieldError};
use crate::lifecycle::EventType;
use crate::number::ExactDecimal;
use crate::text::py_strip;

/// Longest accepted free-text payload value, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;
/// Longest accepted name (buyer, beneficiary), in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// How a payload key is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadRule {
    /// Non-empty text without control characters, at most this many characters.
    Name(usize),
    /// Free text: control characters other than line breaks and tabs refused.
    Note(usize),
    /// A non-negative decimal below 10^14, as a JSON number or a string.
    Price,
    /// Three uppercase ASCII letters.
    Currency,
    /// A record id: 64 lowercase hex digits.
    RecordId,
    /// A whole number of credits, 1 to 2^64 − 1: a JSON integer or a string
    /// of digits.
    Credits,
}

impl PayloadRule {
    /// The rule in words, for documentation (the OpenAPI document, READMEs).
    pub fn describe(self) -> String {
        match self {
            Self::Name(max) => {
                format!("text, not empty, no control characters, at most {max} characters")
            }
            Self::Note(max) => format!(
                "free text, at most {max} characters; no control characters but line breaks and tabs"
            ),
            Self::Price => {
                "a decimal, not negative, below 10^14: a number or a string such as \"12.50\"".to_owned()
            }
            Self::Currency => "three uppercase letters, like an ISO 4217 code such as \"USD\"".to_owned(),
            Self::RecordId => "a record id: 64 lowercase hex digits".to_owned(),
            Self::Credits => "a whole number of credits, at least 1: a number or a string of digits".to_owned(),
        }
    }
}

/// One key an event type's payload accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadField {
    /// The key.
    pub name: &'static str,
    /// Whether the payload must have it.
    pub required: bool,
    /// How its value is checked.
    pub rule: PayloadRule,
}

const fn field(name: &'static str, required: bool, rule: PayloadRule) -> PayloadField {
    PayloadField {
        name,
        required,
        rule,
    }
}

const SOLD: &[PayloadField] = &[
    field("buyer", true, PayloadRule::Name(MAX_NAME_CHARS)),
    field("price", false, PayloadRule::Price),
    field("currency", false, PayloadRule::Currency),
    field("note", false, PayloadRule::Note(MAX_NOTE_CHARS)),
];
const RETIRED: &[PayloadField] = &[
    field("beneficiary", false, PayloadRule::Name(MAX_NAME_CHARS)),
    field("reason", false, PayloadRule::Note(MAX_NOTE_CHARS)),
];
const CANCELLED: &[PayloadField] = &[field("reason", false, PayloadRule::Note(MAX_NOTE_CHARS))];
/// A split's child names its parent and inherits its holder (SPEC §6); a
/// record registered by a client has no payload.
const CREATED: &[PayloadField] = &[
    field("parent", false, PayloadRule::RecordId),
    field("holder", false, PayloadRule::Name(MAX_NAME_CHARS)),
];
const SPLIT: &[PayloadField] = &[
    field("front", true, PayloadRule::RecordId),
    field("back", true, PayloadRule::RecordId),
    field("quantity", true, PayloadRule::Credits),
];

/// The keys an event type's payload accepts (SPEC §3), the one table that
/// validation, the OpenAPI document and the docs read.
pub const fn payload_fields(event_type: EventType) -> &'static [PayloadField] {
    match event_type {
        EventType::Created => CREATED,
        EventType::Sold => SOLD,
        EventType::Retired => RETIRED,
        EventType::Cancelled => CANCELLED,
        EventType::Split => SPLIT,
    }
}

/// Every problem of `payload` for `event_type`; empty when it is valid.
///
/// `null` and `{}` stand for "no payload"; the keys are named in the errors as
/// they appear in the payload (the body of `POST /records/{id}/sell`, …).
pub fn validate_payload(
    event_type: EventType,
    payload: Option<&Map<String, Value>>,
) -> Vec<FieldError> {
    let empty = Map::new();
    let payload = payload.unwrap_or(&empty);
    let rules = payload_fields(event_type);
    let mut errors = Vec::new();
    // Unknown keys first, sorted, whatever order the map keeps its keys in.
    // (A BTreeSet: `sort_unstable` cost the WASM package 8 KB of sort code.)
    let unknown: BTreeSet<&String> = payload
        .keys()
        .filter(|key| !rules.iter().any(|f| f.name == key.as_str()))
        .collect();
    let code = if rules.is_empty() {
        ErrorCode::NotAllowed
    } else {
        ErrorCode::UnknownField
    };
    errors.extend(unknown.into_iter().map(|key| FieldError::new(key, code)));
    for &PayloadField {
        name,
        required,
        rule,
    } in rules
    {
        match payload.get(name) {
            None | Some(Value::Null) if required => {
                errors.push(FieldError::new(name, ErrorCode::Missing));
            }
            None | Some(Value::Null) => {}
            Some(value) => errors.extend(check(rule, value).map(|code| describe(name, rule, code))),
        }
    }
    errors
}

fn check(rule: PayloadRule, value: &Value) -> Option<ErrorCode> {
    match (rule, value) {
        (PayloadRule::Name(max), Value::String(s)) => {
            let s = py_strip(s);
            if s.is_empty() {
                Some(ErrorCode::Empty)
            } else if s.chars().any(char::is_control) {
                Some(ErrorCode::ControlCharacter)
            } else {
                (s.chars().count() > max).then_some(ErrorCode::TooLong)
            }
        }
        (PayloadRule::Note(max), Value::String(s)) => {
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                Some(ErrorCode::ControlCharacter)
            } else {
                (s.chars().count() > max).then_some(ErrorCode::TooLong)
            }
        }
        (PayloadRule::Currency, Value::String(s)) => (s.len() != 3
            || !s.bytes().all(|b| b.is_ascii_uppercase()))
        .then_some(ErrorCode::InvalidCurrency),
        (PayloadRule::RecordId, Value::String(s)) => (s.len() != 64
            || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then_some(ErrorCode::InvalidFormat),
        (
            PayloadRule::Name(_)
            | PayloadRule::Note(_)
            | PayloadRule::Currency
            | PayloadRule::RecordId,
            _,
        ) => Some(ErrorCode::NotAString),
        (PayloadRule::Credits, value) => credits(value).err(),
        (PayloadRule::Price, Value::Number(n)) => price(&n.to_string()),
        (PayloadRule::Price, Value::String(s)) => price(py_strip(s)),
        (PayloadRule::Price, _) => Some(ErrorCode::NotANumber),
    }
}

/// A whole number of credits from a payload value (SPEC §6's `quantity`):
/// a JSON integer or a string of ASCII digits, 1 to 2^64 − 1.
pub(crate) fn credits(value: &Value) -> Result<u64, ErrorCode> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_strip(s).to_owned(),
        _ => return Err(ErrorCode::NotAnInteger),
    };
    if text.starts_with('-') && text.bytes().skip(1).any(|b| (b'1'..=b'9').contains(&b)) {
        return Err(ErrorCode::NotPositive);
    }
    let digits = text.strip_prefix('+').unwrap_or(&text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorCode::NotAnInteger);
    }
    match digits.parse::<u64>() {
        Ok(0) => Err(ErrorCode::NotPositive),
        Ok(n) => Ok(n),
        Err(_) => Err(ErrorCode::TooLarge),
    }
}

/// Decimal places a price keeps when compared against its bound.
const PRICE_PLACES: i64 = 4;
/// A price is below 10^14, like a quantity.
const PRICE_MAX_INT_DIGITS: i64 = 14;

fn price(text: &str) -> Option<ErrorCode> {
    match ExactDecimal::parse(text) {
        None => Some(ErrorCode::NotANumber),
        Some(d) if d.is_negative() => Some(ErrorCode::Negative),
        // The same bound as a quantity: a price fits NUMERIC(18,4), and every
        // host reads it back as the number that was sent.
        Some(d)
            if d.truncated_magnitude(PRICE_PLACES, PRICE_MAX_INT_DIGITS)
                .is_none() =>
        {
            Some(ErrorCode::TooLarge)
        }
        Some(_) => None,
    }
}

fn describe(name: &str, rule: PayloadRule, code: ErrorCode) -> FieldError {
    match (rule, code) {
        (PayloadRule::Name(max) | PayloadRule::Note(max), ErrorCode::TooLong) => {
            FieldError::with_message(
                name,
                code,
                format!("{name} must be at most {max} characters"),
            )
        }
        _ => FieldError::new(name, code),
    }
}
