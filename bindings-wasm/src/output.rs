//! Core values out as plain JavaScript objects, in the JSON shapes of the REST
//! bodies: the core's own `Serialize` impls (snake_case keys, quantities and
//! timestamps as strings) through `serde-wasm-bindgen`, set to write what
//! `JSON.parse` of the server's body would give (objects, not `Map`s; `null`
//! for a missing owner).

use serde::Serialize;
use serde_wasm_bindgen::Serializer;
use wasm_bindgen::JsValue;

use crate::errors::type_error;

/// `value` as a plain JavaScript value. The core's types always serialize; a
/// failure (a timestamp outside years 1 to 9999) is a `TypeError`.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&Serializer::json_compatible())
        .map_err(|e| type_error(&e.to_string()))
}
