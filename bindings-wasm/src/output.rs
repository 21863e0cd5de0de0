//! Core values out as plain JavaScript objects, in the JSON shapes of the REST
//! bodies: snake_case keys, quantities and timestamps as strings.
//!
//! Each value is written here as JSON text and parsed by `JSON.parse` on the
//! JavaScript side: one crossing of the boundary per value. Building objects
//! property by property took a crossing and a string conversion per property
//! (several microseconds per result), and serde with `serde_json`'s writer
//! and reader was a third of the package's gzipped size, over its 150 KB
//! budget, for four small shapes.

use std::fmt::Write as _;

use carbon_tracker_core::api::DerivedId;
use carbon_tracker_core::lifecycle::utc_rfc3339;
use carbon_tracker_core::time::format_description::well_known::Rfc3339;
use carbon_tracker_core::time::OffsetDateTime;
use carbon_tracker_core::{CanonicalRecord, FieldError, RecordState};
use wasm_bindgen::prelude::*;

use crate::errors::type_error;

#[wasm_bindgen(module = "/js/convert.js")]
extern "C" {
    /// `JSON.parse` of text this module wrote (so it cannot throw).
    #[wasm_bindgen(js_name = parseJson)]
    fn parse_json(text: &str) -> JsValue;
}

/// JSON text under construction.
struct Json(String);

impl Json {
    fn new() -> Self {
        Self(String::with_capacity(160))
    }

    /// A JSON string: `"`, `\` and control characters escaped, the rest as is.
    fn string(&mut self, s: &str) -> &mut Self {
        self.0.push('"');
        let mut start = 0;
        for (at, c) in s.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                c if u32::from(c) < 0x20 => "",
                _ => continue,
            };
            self.0.push_str(s.get(start..at).unwrap_or_default());
            if escape.is_empty() {
                let _ = write!(self.0, "\\u{:04x}", u32::from(c));
            } else {
                self.0.push_str(escape);
            }
            start = at + c.len_utf8();
        }
        self.0.push_str(s.get(start..).unwrap_or_default());
        self.0.push('"');
        self
    }

    fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    /// `"key":`, after a `,` unless it is the first key of its object.
    fn key(&mut self, key: &str) -> &mut Self {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.string(key).raw(":")
    }

    fn number(&mut self, n: u32) -> &mut Self {
        let _ = write!(self.0, "{n}");
        self
    }

    fn canonical(&mut self, c: &CanonicalRecord) -> &mut Self {
        self.raw("{")
            .key("project_name")
            .string(&c.project_name)
            .key("registry")
            .string(&c.registry)
            .key("vintage")
            .number(c.vintage.into())
            .key("quantity")
            .string(&c.quantity.to_string())
            .key("serial_number")
            .string(&c.serial_number)
            .raw("}")
    }

    fn field_errors(&mut self, errors: &[FieldError]) -> &mut Self {
        self.raw("[");
        for (i, e) in errors.iter().enumerate() {
            if i > 0 {
                self.raw(",");
            }
            self.raw("{")
                .key("field")
                .string(&e.field)
                .key("code")
                .string(e.code.as_str())
                .key("message")
                .string(&e.message)
                .raw("}");
        }
        self.raw("]")
    }

    fn timestamp(&mut self, t: OffsetDateTime) -> Result<&mut Self, JsValue> {
        let text = utc_rfc3339::to_utc(t)
            .and_then(|t| t.format(&Rfc3339).ok())
            .ok_or_else(|| type_error("timestamp out of range: years 1 to 9999 in UTC"))?;
        Ok(self.string(&text))
    }

    fn state(&mut self, s: &RecordState) -> Result<&mut Self, JsValue> {
        self.raw("{")
            .key("record_id")
            .string(s.record_id.encode_hex(&mut [0; 64]))
            .key("status")
            .string(s.status.as_str())
            .key("last_seq")
            .number(s.last_seq)
            .key("created_at")
            .timestamp(s.created_at)?
            .key("updated_at")
            .timestamp(s.updated_at)?
            .key("owner");
        match &s.owner {
            Some(owner) => self.string(owner),
            None => self.raw("null"),
        };
        Ok(self.raw("}"))
    }

    fn parse(&self) -> JsValue {
        parse_json(&self.0)
    }
}

/// The canonical fields: `{project_name, registry, vintage, quantity, serial_number}`.
pub(crate) fn canonical(c: &CanonicalRecord) -> JsValue {
    Json::new().canonical(c).parse()
}

/// The body of `POST /ids`: `{id, canonical}`.
pub(crate) fn derived(d: &DerivedId) -> JsValue {
    Json::new()
        .raw("{")
        .key("id")
        .string(d.id.encode_hex(&mut [0; 64]))
        .key("canonical")
        .canonical(&d.canonical)
        .raw("}")
        .parse()
}

/// `[{field, code, message}, …]`.
pub(crate) fn field_errors(errors: &[FieldError]) -> JsValue {
    Json::new().field_errors(errors).parse()
}

/// `[{field, code, message}, …]` as JSON text, for the error classes' `errors`.
pub(crate) fn field_errors_json(errors: &[FieldError]) -> String {
    let mut json = Json::new();
    json.field_errors(errors);
    json.0
}

/// `{record_id, status, last_seq, created_at, updated_at, owner}`.
pub(crate) fn state(s: &RecordState) -> Result<JsValue, JsValue> {
    Ok(Json::new().state(s)?.parse())
}

/// A state, or `null`.
pub(crate) fn optional_state(s: Option<&RecordState>) -> Result<JsValue, JsValue> {
    s.map_or(Ok(JsValue::NULL), state)
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let mut json = Json::new();
        json.string("a\"b\\c\u{1}\u{1f}\n é|ς");
        assert_eq!(json.0, r#""a\"b\\c\u0001\u001f\u000a é|ς""#);
    }
}
