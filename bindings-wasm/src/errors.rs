//! The core's errors as thrown JavaScript `Error` subclasses.
//!
//! The classes are defined in `js/errors.js` and `js/verify.js` (wasm-bindgen
//! snippets) and re-exported from the module that throws them, so that
//! `err instanceof ValidationError` works for users and `err instanceof
//! Error` holds for everything thrown.

#[cfg(feature = "ids")]
use carbon_tracker_core::api::{ApiError, ErrorKind};
#[cfg(feature = "verify")]
use carbon_tracker_core::log::CertificateError;
#[cfg(feature = "ids")]
use carbon_tracker_core::{FieldError, ValidationError};
use wasm_bindgen::prelude::*;

#[cfg(feature = "ids")]
use crate::output::to_js;

#[cfg(feature = "ids")]
#[wasm_bindgen(module = "/js/errors.js")]
extern "C" {
    // Never called from Rust: imported only to be re-exported. Their types are
    // declared in `types.rs` (they are JavaScript classes, not core shapes).
    #[wasm_bindgen(js_name = ValidationError, reexport, skip_typescript)]
    fn validation_error_class();
    #[wasm_bindgen(js_name = TransitionError, reexport, skip_typescript)]
    fn transition_error_class();
    #[wasm_bindgen(js_name = ID_SCHEME, reexport, skip_typescript)]
    fn id_scheme_constant();

    #[wasm_bindgen(js_name = validationError)]
    fn new_validation_error(message: &str, errors: JsValue, row: Option<u32>) -> JsValue;
    #[wasm_bindgen(js_name = transitionError)]
    fn new_transition_error(message: &str, code: &str, errors: JsValue) -> JsValue;

    /// The `ID_SCHEME` the package exports, read back for the test that it is the core's.
    #[wasm_bindgen(thread_local_v2, js_name = ID_SCHEME)]
    pub(crate) static EXPORTED_ID_SCHEME: String;
}

#[cfg(feature = "verify")]
#[wasm_bindgen(module = "/js/verify.js")]
extern "C" {
    // Re-exported by the verifier module; its type is in `types.rs`.
    #[wasm_bindgen(js_name = CertificateError, reexport, skip_typescript)]
    fn certificate_error_class();

    #[wasm_bindgen(js_name = certificateError)]
    fn new_certificate_error(message: &str, code: &str, detail: Option<String>) -> JsValue;
}

/// The thrown value for a core error: `ValidationError` for a record that
/// breaks the field rules, `TransitionError` for the lifecycle (an invalid
/// payload included, with its field errors), `TypeError` for an argument that
/// does not have the expected shape at all.
#[cfg(feature = "ids")]
pub(crate) fn api_error(e: &ApiError) -> JsValue {
    match e.kind {
        ErrorKind::Validation => new_validation_error(&e.message, field_errors(&e.errors), None),
        ErrorKind::Transition => new_transition_error(&e.message, &e.code, field_errors(&e.errors)),
        ErrorKind::Parse => type_error(&e.message),
    }
}

/// A `ValidationError` for one record; `row` is its index in a batch.
#[cfg(feature = "ids")]
pub(crate) fn validation_error(e: &ValidationError, row: Option<u32>) -> JsValue {
    let message = match row {
        Some(row) => format!("row {row}: {e}"),
        None => e.to_string(),
    };
    new_validation_error(&message, field_errors(&e.errors), row)
}

/// The field errors as a JavaScript array of `{field, code, message}`.
#[cfg(feature = "ids")]
fn field_errors(errors: &[FieldError]) -> JsValue {
    to_js(errors).unwrap_or_else(|e| e)
}

/// A `CertificateError` for what the core's verifier refused: `code` is the
/// core's `CertificateError::code()`, `detail` its `detail()`.
#[cfg(feature = "verify")]
pub(crate) fn certificate_error(e: &CertificateError) -> JsValue {
    certificate_error_of(&e.to_string(), e.code(), e.detail())
}

/// A `CertificateError` from its parts (for a refusal the binding words
/// itself, with the core's codes).
#[cfg(feature = "verify")]
pub(crate) fn certificate_error_of(message: &str, code: &str, detail: Option<&str>) -> JsValue {
    new_certificate_error(message, code, detail.map(str::to_owned))
}

/// A `TypeError`: the argument is not what the function takes.
pub(crate) fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}
