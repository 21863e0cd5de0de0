//! `carbon-tracker` for JavaScript: the Carbon Credit Tracker core through
//! wasm-bindgen, for browsers and Node.
//!
//! Only conversions live here: JavaScript values in, core calls, JavaScript
//! values out, in the JSON shapes of the REST bodies. Every decision
//! (canonical form, id, validation, lifecycle) is the core's, so a browser
//! computes the ids the server and the Python package compute.

//!
//! The crate builds two modules (build.sh): with the feature `ids`, the main
//! module, the package's root `carbon-tracker` (everything below); with
//! `verify`, the certificate verifier `carbon-tracker/verify` (`verify.rs`),
//! a `.wasm` of its own so that the main one stays within its size budget.
//! Both are on by default, for tests and lints.

mod errors;
mod events;
#[cfg(feature = "ids")]
mod input;
mod output;
mod types;
#[cfg(feature = "verify")]
mod verify;

#[cfg(feature = "verify")]
pub use verify::{key_fingerprint, open_checkpoint, verify_certificate};

#[cfg(feature = "ids")]
use carbon_tracker_core::api;
#[cfg(feature = "ids")]
use carbon_tracker_core::{
    Acted, Action, CanonicalRecord, Child, IdBatch, RecordInput, ValidationError,
};
#[cfg(feature = "ids")]
use wasm_bindgen::prelude::*;

#[cfg(feature = "ids")]
use crate::errors::{api_error, type_error, validation_error};
#[cfg(feature = "ids")]
use crate::input::{for_each_record_input, with_record_input};

#[cfg(feature = "ids")]
/// Runs `f` on the record a call names; a value that is not an object is a
/// `ValidationError` on the field `body`, as over HTTP.
fn with_required_input<T>(
    input: &JsValue,
    f: impl FnOnce(&RecordInput) -> Result<T, JsValue>,
) -> Result<T, JsValue> {
    with_record_input(input, |record| match record {
        Some(record) => f(record),
        None => Err(validation_error(&ValidationError::not_an_object(), None)),
    })
}

#[cfg(feature = "ids")]
/// The v1 id of one record: 64 lowercase hex digits.
///
/// Throws a `ValidationError` listing every problem when the record is invalid.
#[wasm_bindgen(js_name = recordId, unchecked_return_type = "string")]
pub fn record_id(
    #[wasm_bindgen(unchecked_param_type = "RecordInput")] input: &JsValue,
) -> Result<String, JsValue> {
    with_required_input(input, |input| {
        input
            .record_id()
            .map(|id| id.encode_hex(&mut [0; 64]).to_owned())
            .map_err(|e| validation_error(&e, None))
    })
}

#[cfg(feature = "ids")]
/// The v1 ids of many records, in order (types in `types.rs`: two overloads).
///
/// By default the first invalid record throws its `ValidationError`, with
/// `.row` set to its index; with `{ errors: "collect" }` each invalid record
/// gets its `ValidationError` in its place instead.
#[wasm_bindgen(js_name = recordIds, skip_typescript)]
pub fn record_ids(inputs: &JsValue, options: &JsValue) -> Result<js_sys::Array, JsValue> {
    let collect = collect_errors(options)?;
    let inputs = inputs
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| type_error("recordIds takes an array of records"))?;
    // The core hashes the whole batch at once (several records per SIMD pass).
    let mut batch = IdBatch::with_capacity(usize::try_from(inputs.length()).unwrap_or(0));
    let mut failures = Vec::new();
    let mut rows = 0_u32;
    for_each_record_input(inputs, |row, input| {
        rows = row + 1;
        let outcome = match input {
            Some(input) => batch.push(input),
            None => Err(ValidationError::not_an_object()),
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(e) if collect => {
                failures.push((row, e));
                Ok(())
            }
            Err(e) => Err(validation_error(&e, Some(row))),
        }
    })?;
    // All ids as one string, split in JavaScript: one crossing for the batch
    // instead of one string conversion per id. A bad row keeps 64 spaces
    // there, and gets its error put in its place below.
    let mut hex = String::with_capacity(usize::try_from(rows).unwrap_or(0).saturating_mul(64));
    let mut ids = batch.ids().into_iter();
    let mut failed = failures.iter().map(|(row, _)| *row).peekable();
    for row in 0..rows {
        if failed.next_if_eq(&row).is_some() {
            hex.push_str(&" ".repeat(64));
        } else if let Some(id) = ids.next() {
            hex.push_str(id.encode_hex(&mut [0; 64]));
        }
    }
    let ids = input::split_ids(&hex, rows);
    for (row, e) in &failures {
        ids.set(*row, validation_error(e, Some(*row)));
    }
    Ok(ids)
}

#[cfg(feature = "ids")]
/// `true` for `{ errors: "collect" }`, `false` for no options or
/// `{ errors: "throw" }`.
fn collect_errors(options: &JsValue) -> Result<bool, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(false);
    }
    let errors = js_sys::Reflect::get(options, &JsValue::from_str("errors"))?;
    match errors.as_string().as_deref() {
        _ if errors.is_undefined() => Ok(false),
        Some("throw") => Ok(false),
        Some("collect") => Ok(true),
        _ => Err(type_error(
            "options.errors must be \"throw\" or \"collect\"",
        )),
    }
}

#[cfg(feature = "ids")]
/// The canonical fields of one record (what its id is computed from).
///
/// Throws a `ValidationError` listing every problem when the record is invalid.
#[wasm_bindgen(unchecked_return_type = "CanonicalRecord")]
pub fn canonicalize(
    #[wasm_bindgen(unchecked_param_type = "RecordInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    output::to_js(&canonical(input)?)
}

#[cfg(feature = "ids")]
/// The canonical fields of the record a call names: one instance of the
/// record reading for `canonicalize` and `splitBlock`.
fn canonical(input: &JsValue) -> Result<CanonicalRecord, JsValue> {
    with_required_input(input, |input| {
        api::canonicalize(input).map_err(|e| api_error(&e))
    })
}

#[cfg(feature = "ids")]
/// The id and the canonical fields of one record: the body `POST /ids` answers.
///
/// Throws a `ValidationError` listing every problem when the record is invalid.
#[wasm_bindgen(js_name = deriveId, unchecked_return_type = "DerivedId")]
pub fn derive_id(
    #[wasm_bindgen(unchecked_param_type = "RecordInput")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    with_required_input(input, |input| {
        let derived = api::derive_id(input).map_err(|e| api_error(&e))?;
        output::to_js(&derived)
    })
}

#[cfg(feature = "ids")]
/// Every problem of a record, in field order; empty when it is valid.
///
/// Never throws for a bad record: anything that is not an object gives the
/// one error `{ field: "body", code: "not_an_object" }`.
#[wasm_bindgen(unchecked_return_type = "FieldError[]")]
pub fn validate(
    #[wasm_bindgen(unchecked_param_type = "unknown")] input: &JsValue,
) -> Result<JsValue, JsValue> {
    with_record_input(input, |record| {
        let errors = match record {
            Some(record) => api::validate(record),
            None => ValidationError::not_an_object().errors,
        };
        output::to_js(&errors)
    })
}

#[cfg(feature = "ids")]
/// The state a record's history adds up to, checking every event.
///
/// Throws a `TransitionError` (`.code`) when an event cannot follow the
/// ones before it, a `TypeError` when `events` is not a list of events.
#[wasm_bindgen(unchecked_return_type = "RecordState")]
pub fn replay(
    #[wasm_bindgen(unchecked_param_type = "Event[]")] events: &JsValue,
) -> Result<JsValue, JsValue> {
    let events = events::events(events)?;
    let state = api::replay(&events).map_err(|e| api_error(&e))?;
    output::to_js(&state)
}

#[cfg(feature = "ids")]
/// The state after `event`, from the state before it (`null`: no events yet).
///
/// Throws a `TransitionError` (`.code`) when the event cannot follow.
#[wasm_bindgen(unchecked_return_type = "RecordState")]
pub fn apply(
    #[wasm_bindgen(unchecked_param_type = "RecordState | null")] state: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "Event")] event: &JsValue,
) -> Result<JsValue, JsValue> {
    let state = events::state(state)?;
    let event = events::single_event(event)?;
    let next = api::apply(state.as_ref(), &event).map_err(|e| api_error(&e))?;
    output::to_js(&next)
}

#[cfg(feature = "ids")]
/// The state as of `at` (a `Date` or RFC 3339 text), or `null` if the record
/// did not exist yet. Only the events up to `at` are checked.
#[wasm_bindgen(js_name = stateAt, unchecked_return_type = "RecordState | null")]
pub fn state_at(
    #[wasm_bindgen(unchecked_param_type = "Event[]")] events: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "Date | string")] at: &JsValue,
) -> Result<JsValue, JsValue> {
    let events = events::events(events)?;
    let at = events::instant(at)?;
    let state = api::state_at(&events, at).map_err(|e| api_error(&e))?;
    output::to_js(&state)
}

#[cfg(feature = "ids")]
/// The block a registry serial names (SPEC §6), or `null` when it is not a
/// block. The serial is canonicalized first, as a record's is.
#[wasm_bindgen(js_name = parseSerial, unchecked_return_type = "Block | null")]
pub fn parse_serial(serial: &str) -> Result<JsValue, JsValue> {
    match carbon_tracker_core::parse_serial(&carbon_tracker_core::canonical_text(serial)) {
        Some(block) => output::to_js(&block),
        None => Ok(JsValue::NULL),
    }
}

#[cfg(feature = "ids")]
#[wasm_bindgen]
extern "C" {
    /// The Web Crypto API's random bytes (browsers; Node from 19 on).
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(bytes: &mut [u8]) -> Result<JsValue, JsValue>;
}

#[cfg(feature = "ids")]
/// What an action on a record does (SPEC §6), computed offline by the core's
/// `act`: `{ whole: event }`, or `{ split: { parent, front, back } }` when a
/// `quantity` below the record's splits a block (the parent's `SPLIT` event,
/// each child's canonical `record`, `id` and `events`, the front child's
/// ending with the action's event).
///
/// `record` is the record's fields (a `GET /records/{id}` body will do);
/// `history` its events, or its state as `replay`/`stateAt` return it;
/// `action` the event the action appends; `payload` the action's payload
/// with its optional `quantity`; `now` defaults to the current time. Event
/// ids are fresh UUIDv7s (`crypto.getRandomValues`).
///
/// Throws a `TransitionError` (`insufficient_quantity`, `not_divisible`,
/// `already_final`, `invalid_payload`…), a `ValidationError` for a bad record,
/// a `TypeError` for arguments of the wrong shape.
#[wasm_bindgen(js_name = splitBlock, unchecked_return_type = "Acted")]
pub fn split_block(
    #[wasm_bindgen(unchecked_param_type = "RecordInput")] record: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "Event[] | RecordState")] history: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "Action")] action: &JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Event[\"payload\"]")] payload: Option<JsValue>,
    #[wasm_bindgen(unchecked_optional_param_type = "Date | string | null")] now: Option<JsValue>,
) -> Result<JsValue, JsValue> {
    let record = canonical(record)?;
    let state = events::history_state(history)?;
    let action = action
        .as_string()
        .as_deref()
        .and_then(Action::parse)
        .ok_or_else(|| type_error("action must be \"SOLD\", \"RETIRED\" or \"CANCELLED\""))?;
    let payload = events::payload(&payload.unwrap_or(JsValue::NULL))?;
    let now = match now {
        Some(now) if !now.is_null() => events::now_from(&now)?,
        _ => events::now()?,
    };
    let mut bytes = [0_u8; 40];
    get_random_values(&mut bytes)?;
    let mut random = [[0_u8; 10]; 4];
    for (slot, chunk) in random.iter_mut().zip(bytes.chunks_exact(10)) {
        slot.copy_from_slice(chunk);
    }
    let acted = carbon_tracker_core::act(&record, &state, action, payload, now, random)
        .map_err(|e| api_error(&e.into()))?;
    let out = js_sys::Object::new();
    match acted {
        Acted::Whole(event) => events::set(&out, "whole", &events::event_out(&event)?),
        Acted::Split(split) => {
            let inner = js_sys::Object::new();
            events::set(&inner, "parent", &events::event_out(&split.parent)?);
            events::set(&inner, "front", &child(&split.front)?);
            events::set(&inner, "back", &child(&split.back)?);
            events::set(&out, "split", &inner);
        }
    }
    Ok(out.into())
}

#[cfg(feature = "ids")]
/// A split's child as `{ record, id, events }`.
fn child(child: &Child) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    events::set(&out, "record", &output::to_js(&child.record)?);
    events::set(
        &out,
        "id",
        &JsValue::from_str(child.id.encode_hex(&mut [0; 64])),
    );
    let list = js_sys::Array::new();
    for event in &child.events {
        list.push(&events::event_out(event)?);
    }
    events::set(&out, "events", &list);
    Ok(out.into())
}

#[cfg(feature = "ids")]
/// The scheme the snippet exports, for the test that it is the core's.
#[doc(hidden)]
pub fn exported_id_scheme() -> String {
    errors::EXPORTED_ID_SCHEME.with(Clone::clone)
}
