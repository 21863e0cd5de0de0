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
#[derive(Clone, Copy)]
enum Rule {
    /// Non-empty text without control characters, at most this many characters.
    Name(usize),
    /// Free text: control characters other than line breaks and tabs refused.
    Note(usize),
    /// A non-negative decimal, as a JSON number or a string.
    Price,
    /// Three uppercase ASCII letters.
    Currency,
}

/// The keys an event type accepts: `(key, required, rule)`.
fn schema(event_type: EventType) -> &'static [(&'static str, bool, Rule)] {
    match event_type {
        EventType::Created => &[],
        EventType::Sold => &[
            ("buyer", true, Rule::Name(MAX_NAME_CHARS)),
            ("price", false, Rule::Price),
            ("currency", false, Rule::Currency),
            ("note", false, Rule::Note(MAX_NOTE_CHARS)),
        ],
        EventType::Retired => &[
            ("beneficiary", false, Rule::Name(MAX_NAME_CHARS)),
            ("reason", false, Rule::Note(MAX_NOTE_CHARS)),
        ],
        EventType::Cancelled => &[("reason", false, Rule::Note(MAX_NOTE_CHARS))],
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
    let rules = schema(event_type);
    let mut errors = Vec::new();
    // Unknown keys first, sorted, whatever order the map keeps its keys in.
    // (A BTreeSet: `sort_unstable` cost the WASM package 8 KB of sort code.)
    let unknown: BTreeSet<&String> = payload
        .keys()
        .filter(|key| !rules.iter().any(|(name, ..)| name == key))
        .collect();
    let code = if rules.is_empty() {
        ErrorCode::NotAllowed
    } else {
        ErrorCode::UnknownField
    };
    errors.extend(unknown.into_iter().map(|key| FieldError::new(key, code)));
    for &(name, required, rule) in rules {
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

fn check(rule: Rule, value: &Value) -> Option<ErrorCode> {
    match (rule, value) {
        (Rule::Name(max), Value::String(s)) => {
            let s = py_strip(s);
            if s.is_empty() {
                Some(ErrorCode::Empty)
            } else if s.chars().any(char::is_control) {
                Some(ErrorCode::ControlCharacter)
            } else {
                (s.chars().count() > max).then_some(ErrorCode::TooLong)
            }
        }
        (Rule::Note(max), Value::String(s)) => {
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                Some(ErrorCode::ControlCharacter)
            } else {
                (s.chars().count() > max).then_some(ErrorCode::TooLong)
            }
        }
        (Rule::Currency, Value::String(s)) => (s.len() != 3
            || !s.bytes().all(|b| b.is_ascii_uppercase()))
        .then_some(ErrorCode::InvalidCurrency),
        (Rule::Name(_) | Rule::Note(_) | Rule::Currency, _) => Some(ErrorCode::NotAString),
        (Rule::Price, Value::Number(n)) => price(&n.to_string()),
        (Rule::Price, Value::String(s)) => price(py_strip(s)),
        (Rule::Price, _) => Some(ErrorCode::NotANumber),
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

fn describe(name: &str, rule: Rule, code: ErrorCode) -> FieldError {
    match (rule, code) {
        (Rule::Name(max) | Rule::Note(max), ErrorCode::TooLong) => FieldError::with_message(
            name,
            code,
            format!("{name} must be at most {max} characters"),
        ),
        _ => FieldError::new(name, code),
    }
}
