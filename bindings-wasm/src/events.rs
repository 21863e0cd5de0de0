//! Lifecycle arguments (events, a state, an instant, a payload) from
//! JavaScript values, and events back to JavaScript: conversions only, with
//! the meaning the REST bodies give them.
//!
//! Read property by property rather than through `serde-wasm-bindgen` and the
//! core's `Deserialize`, to take what `JSON.stringify` would send the server
//! (a `Date` for a timestamp included), to name the bad field
//! (`events[2].seq`), and because the serde path costs the `.wasm` 18 KB
//! gzipped (157.6 KB against 139.6 KB, over the 150 KB budget; measured with
//! `bindings-wasm/build.sh web`). The names it accepts (event types,
//! statuses) are the core's own parsers'. The reading
//! follows what `JSON.stringify` would send the server: a number is
//! `String(n)`, a `Date` is its ISO text, `undefined` properties are absent,
//! non-finite numbers are `null`. Anything that is not of the expected shape
//! is a `TypeError` naming where it is (`events[2].seq`).
//!
//! Events go out by hand too (`event_out`), in the shape `JSON.parse` gives
//! of a server's body: `serde-wasm-bindgen` cannot write a payload's numbers
//! (`serde_json`'s `arbitrary_precision` serializes them as a private struct),
//! and `serde_json` text cost the `.wasm` 17 KB gzipped (BENCHMARKS.md).

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "ids")]
use carbon_tracker_core::api;
use carbon_tracker_core::lifecycle::{utc_rfc3339, Event, EventType};
#[cfg(feature = "ids")]
use carbon_tracker_core::lifecycle::{RecordState, Status};
use carbon_tracker_core::rfc3339;
use carbon_tracker_core::time::OffsetDateTime;
use carbon_tracker_core::RecordId;
use js_sys::{Array, Date, JsString, Object, Reflect};
#[cfg(feature = "ids")]
use serde::Serialize;
use serde_json::{Map, Number, Value};
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};

#[cfg(feature = "ids")]
use crate::errors::api_error;
use crate::errors::type_error;
#[cfg(feature = "ids")]
use crate::output::to_js;

/// The text of a JavaScript string; `None` when it holds a lone surrogate.
///
/// wasm-bindgen's conversion replaces lone surrogates with U+FFFD; only a
/// result holding U+FFFD needs the (slower) check of the original string.
pub(crate) fn well_formed(value: &JsValue, text: String) -> Option<String> {
    if text.contains('\u{FFFD}') && !value.unchecked_ref::<JsString>().is_valid_utf16() {
        None
    } else {
        Some(text)
    }
}

/// Deeper payloads are refused: it also stops a payload that contains itself.
const MAX_DEPTH: u32 = 64;

/// Where a value sits in the arguments, for error messages: `events[2].seq`.
#[derive(Clone, Copy)]
struct At<'a> {
    what: &'a str,
    index: Option<u32>,
    field: Option<&'a str>,
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)?;
        if let Some(index) = self.index {
            write!(f, "[{index}]")?;
        }
        if let Some(field) = self.field {
            write!(f, ".{field}")?;
        }
        Ok(())
    }
}

impl<'a> At<'a> {
    fn top(what: &'a str) -> Self {
        Self {
            what,
            index: None,
            field: None,
        }
    }

    fn field(self, field: &'a str) -> Self {
        Self {
            field: Some(field),
            ..self
        }
    }

    fn error(self, problem: &str) -> JsValue {
        type_error(&format!("invalid {self}: {problem}"))
    }
}

pub(crate) fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

fn property(object: &JsValue, at: At<'_>) -> Result<JsValue, JsValue> {
    Reflect::get(object, &JsValue::from_str(at.field.unwrap_or_default()))
}

/// A string property, refusing lone surrogates.
fn text(object: &JsValue, at: At<'_>) -> Result<String, JsValue> {
    let value = property(object, at)?;
    let text = value
        .as_string()
        .ok_or_else(|| at.error("must be a string"))?;
    well_formed(&value, text).ok_or_else(|| at.error("holds a lone surrogate"))
}

/// A string property parsed as `T`.
fn parsed<T: FromStr>(object: &JsValue, at: At<'_>, expected: &str) -> Result<T, JsValue> {
    text(object, at)?.parse().map_err(|_| at.error(expected))
}

/// An integer property from 0 to 4294967295 (`seq`, `last_seq`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked just before
fn counter(object: &JsValue, at: At<'_>) -> Result<u32, JsValue> {
    property(object, at)?
        .as_f64()
        .filter(|n| n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(n))
        // In range and integral, so the conversion is exact.
        .map(|n| n as u32)
        .ok_or_else(|| at.error("must be an integer from 0 to 4294967295"))
}

/// A timestamp property: RFC 3339 text (any offset, read as UTC) or a `Date`.
fn timestamp(object: &JsValue, at: At<'_>) -> Result<OffsetDateTime, JsValue> {
    instant_at(&property(object, at)?, at)
}

fn instant_at(value: &JsValue, at: At<'_>) -> Result<OffsetDateTime, JsValue> {
    let text = match value.dyn_ref::<Date>() {
        Some(date) if date.get_time().is_nan() => return Err(at.error("is an invalid Date")),
        Some(date) => String::from(date.to_iso_string()),
        None => value
            .as_string()
            .ok_or_else(|| at.error("must be an RFC 3339 string or a Date"))?,
    };
    let t = rfc3339::parse(&text).ok_or_else(|| {
        at.error("not an RFC 3339 timestamp (such as 2026-02-01T12:00:00Z) or no such time")
    })?;
    utc_rfc3339::to_utc(t).ok_or_else(|| at.error("out of range: years 1 to 9999 in UTC"))
}

/// A JavaScript value as JSON; `None` where `JSON.stringify` leaves a
/// property out (`undefined`, functions, symbols).
fn json(value: &JsValue, at: At<'_>, depth: u32) -> Result<Option<Value>, JsValue> {
    if depth > MAX_DEPTH {
        return Err(at.error("nests too deeply (or contains itself)"));
    }
    Ok(Some(if let Some(text) = value.as_string() {
        Value::String(well_formed(value, text).ok_or_else(|| at.error("holds a lone surrogate"))?)
    } else if let Some(n) = value.as_f64() {
        number(n)
    } else if value.is_null() {
        Value::Null
    } else if value.is_undefined() || value.is_function() || value.is_symbol() {
        return Ok(None);
    } else if let Some(flag) = value.as_bool() {
        Value::Bool(flag)
    } else if value.is_bigint() {
        return Err(at.error("a BigInt has no JSON form"));
    } else if let Some(array) = value.dyn_ref::<Array>() {
        let mut items = Vec::with_capacity(array.length().try_into().unwrap_or(0));
        for item in array.iter() {
            items.push(json(&item, at, depth + 1)?.unwrap_or(Value::Null));
        }
        Value::Array(items)
    } else if let Some(date) = value.dyn_ref::<Date>() {
        if date.get_time().is_nan() {
            Value::Null
        } else {
            Value::String(date.to_iso_string().into())
        }
    } else {
        Value::Object(object(value, at, depth)?)
    }))
}

/// A number as `JSON.stringify` writes it: integers without a fraction,
/// others in their shortest round-trip spelling; `NaN` and infinities `null`.
#[allow(clippy::cast_possible_truncation)] // checked just before
fn number(n: f64) -> Value {
    const SAFE: f64 = 9_007_199_254_740_991.0; // 2^53 - 1: every integer up to it is exact
    if n.fract() == 0.0 && n.abs() <= SAFE {
        // Integral and within ±2^53, so the conversion is exact.
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// An object's own enumerable string-keyed properties, in their order.
fn object(value: &JsValue, at: At<'_>, depth: u32) -> Result<Map<String, Value>, JsValue> {
    let object = value.unchecked_ref::<Object>();
    let mut map = Map::new();
    // The map's `insert` through an opaque pointer, so that it is not inlined
    // here: the one copy left is then the same function as the core's (its
    // `act` builds maps), and `wasm-opt` keeps one of the two (3 KB).
    let insert: fn(&mut Map<String, Value>, String, Value) -> Option<Value> =
        std::hint::black_box(Map::insert);
    for key in Object::keys(object).iter() {
        let Some(name) = key.as_string() else {
            continue;
        };
        if let Some(v) = json(&Reflect::get(value, &key)?, at, depth + 1)? {
            insert(&mut map, name, v);
        }
    }
    Ok(map)
}

/// One event; its fields are read in their order, so the first bad one is named.
fn event(value: &JsValue, at: At<'_>) -> Result<Event, JsValue> {
    if !is_plain_object(value) {
        return Err(at.error("an event must be an object"));
    }
    // `try_parse`, not `FromStr`: the same forms, without the error details
    // (`parse_str`'s position-finding error cost the `.wasm` 3 KB).
    let id = Uuid::try_parse(&text(value, at.field("id"))?)
        .map_err(|_| at.field("id").error("must be a UUID"))?;
    let record_id = parsed::<RecordId>(
        value,
        at.field("record_id"),
        "must be 64 lowercase hex digits",
    )?;
    let seq = counter(value, at.field("seq"))?;
    let event_type = EventType::parse(&text(value, at.field("event_type"))?).ok_or_else(|| {
        at.field("event_type").error(&format!(
            "must be one of {}",
            EventType::ALL.map(EventType::as_str).join(", ")
        ))
    })?;
    let payload = match property(value, at.field("payload"))? {
        p if p.is_null() || p.is_undefined() => None,
        p if is_plain_object(&p) && p.dyn_ref::<Date>().is_none() => {
            Some(object(&p, at.field("payload"), 1)?)
        }
        _ => return Err(at.field("payload").error("must be an object or null")),
    };
    let created_at = timestamp(value, at.field("created_at"))?;
    let actor = match property(value, at.field("actor"))? {
        a if a.is_null() || a.is_undefined() => None,
        _ => Some(text(value, at.field("actor"))?),
    };
    Ok(Event {
        id,
        record_id,
        seq,
        event_type,
        payload,
        created_at,
        actor,
    })
}

#[cfg(feature = "ids")]
/// The events argument: an array of events.
pub(crate) fn events(value: &JsValue) -> Result<Vec<Event>, JsValue> {
    let array = value
        .dyn_ref::<Array>()
        .ok_or_else(|| type_error("events must be an array of events"))?;
    (0..array.length())
        .zip(array.iter())
        .map(|(index, item)| {
            let at = At {
                index: Some(index),
                ..At::top("events")
            };
            event(&item, at)
        })
        .collect()
}

#[cfg(feature = "ids")]
/// The event argument of `apply`.
pub(crate) fn single_event(value: &JsValue) -> Result<Event, JsValue> {
    event(value, At::top("event"))
}

/// A certificate's event, named by its place in the certificate
/// (`records[0].events[2].event`) when it is not an event.
#[cfg(feature = "verify")]
pub(crate) fn event_at(value: &JsValue, what: &str) -> Result<Event, JsValue> {
    event(value, At::top(what))
}

/// A string property of a certificate's object at `what` (lone surrogates refused).
#[cfg(feature = "verify")]
pub(crate) fn text_at(object: &JsValue, what: &str, field: &str) -> Result<String, JsValue> {
    text(object, At::top(what).field(field))
}

/// The `TypeError` for a property of the object at `what` that is not what it should be.
#[cfg(feature = "verify")]
pub(crate) fn error_at(what: &str, field: &str, problem: &str) -> JsValue {
    At::top(what).field(field).error(problem)
}

#[cfg(feature = "ids")]
/// The state argument of `apply`: `null`/`undefined` for "no events yet".
pub(crate) fn state(value: &JsValue) -> Result<Option<RecordState>, JsValue> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    let at = At::top("state");
    if !is_plain_object(value) {
        return Err(at.error("must be an object or null"));
    }
    let status = text(value, at.field("status"))?;
    let owner = match property(value, at.field("owner"))? {
        o if o.is_null() || o.is_undefined() => None,
        _ => Some(text(value, at.field("owner"))?),
    };
    Ok(Some(RecordState {
        record_id: parsed::<RecordId>(
            value,
            at.field("record_id"),
            "must be 64 lowercase hex digits",
        )?,
        status: Status::parse(&status).ok_or_else(|| {
            at.field("status").error(&format!(
                "must be one of {}",
                Status::ALL.map(Status::as_str).join(", ")
            ))
        })?,
        last_seq: counter(value, at.field("last_seq"))?,
        created_at: timestamp(value, at.field("created_at"))?,
        updated_at: timestamp(value, at.field("updated_at"))?,
        owner,
    }))
}

#[cfg(feature = "ids")]
/// An instant: a `Date` or RFC 3339 text.
pub(crate) fn instant(value: &JsValue) -> Result<OffsetDateTime, JsValue> {
    instant_at(value, At::top("at"))
}

#[cfg(feature = "ids")]
/// What a record's history adds up to, given either its events (replayed,
/// checking every one) or a state as `replay`/`stateAt` return it.
pub(crate) fn history_state(value: &JsValue) -> Result<RecordState, JsValue> {
    if Array::is_array(value) {
        return api::replay(&events(value)?).map_err(|e| api_error(&e));
    }
    if value.is_null() || value.is_undefined() {
        return Err(type_error(
            "history must be the record's events or its state (a record with no events cannot be acted on)",
        ));
    }
    state(value)?.ok_or_else(|| type_error("history must be the record's events or its state"))
}

#[cfg(feature = "ids")]
/// An action's payload: an object, or `null`/`undefined` for none.
pub(crate) fn payload(value: &JsValue) -> Result<Option<Map<String, Value>>, JsValue> {
    let at = At::top("payload");
    match value {
        p if p.is_null() || p.is_undefined() => Ok(None),
        p if is_plain_object(p) && p.dyn_ref::<Date>().is_none() => {
            Some(object(p, at, 1)).transpose()
        }
        _ => Err(at.error("must be an object or null")),
    }
}

#[cfg(feature = "ids")]
/// The current time, from the JavaScript clock.
pub(crate) fn now() -> Result<OffsetDateTime, JsValue> {
    instant_at(&Date::new_0().into(), At::top("now"))
}

#[cfg(feature = "ids")]
/// `now` given as an argument: a `Date` or RFC 3339 text.
pub(crate) fn now_from(value: &JsValue) -> Result<OffsetDateTime, JsValue> {
    instant_at(value, At::top("now"))
}

#[cfg(feature = "ids")]
/// Sets one property of a fresh plain object, which cannot refuse it. (The
/// keys are the core's: payload keys are checked against its lists, so no
/// `__proto__` reaches here.)
pub(crate) fn set(object: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

#[cfg(feature = "ids")]
/// A JSON value as `JSON.parse` would give it; a number as the double its
/// digits name (as `JSON.parse` reads them).
fn value_out(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(flag) => JsValue::from_bool(*flag),
        Value::Number(n) => JsValue::from_f64(js_sys::Number::parse_float(n.as_str())),
        Value::String(text) => JsValue::from_str(text),
        Value::Array(items) => items.iter().map(value_out).collect::<Array>().into(),
        Value::Object(map) => map_out(map).into(),
    }
}

#[cfg(feature = "ids")]
fn map_out(map: &Map<String, Value>) -> Object {
    let object = Object::new();
    for (key, value) in map {
        set(&object, key, &value_out(value));
    }
    object
}

#[cfg(feature = "ids")]
/// A timestamp as the core writes it (through the serializer a state's
/// timestamps already take).
#[derive(Serialize)]
struct Timestamp(#[serde(with = "utc_rfc3339")] OffsetDateTime);

#[cfg(feature = "ids")]
/// An event as a plain object, in the shape of the REST bodies: `id`,
/// `record_id`, `seq`, `event_type`, `payload` (`null` for none) and
/// `created_at` (RFC 3339 in UTC, as the core writes it).
pub(crate) fn event_out(event: &Event) -> Result<JsValue, JsValue> {
    let created_at = to_js(&Timestamp(event.created_at))?;
    let object = Object::new();
    let id = event.id.hyphenated();
    set(
        &object,
        "id",
        &JsValue::from_str(id.encode_lower(&mut Uuid::encode_buffer())),
    );
    set(
        &object,
        "record_id",
        &JsValue::from_str(event.record_id.encode_hex(&mut [0; 64])),
    );
    set(&object, "seq", &JsValue::from(event.seq));
    set(
        &object,
        "event_type",
        &JsValue::from_str(event.event_type.as_str()),
    );
    let payload = event
        .payload
        .as_ref()
        .map_or(JsValue::NULL, |p| map_out(p).into());
    set(&object, "payload", &payload);
    set(&object, "created_at", &created_at);
    Ok(object.into())
}
