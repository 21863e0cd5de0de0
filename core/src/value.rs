//! The untyped value an input field arrives as.
//!
//! Input comes from JSON (the server), JavaScript values (WASM) and Python
//! objects. Reading each field into a [`FieldValue`] first, instead of straight
//! into `String`/`u16`/`Decimal`, lets validation report *every* bad field at
//! once with a field-specific code rather than stopping at the first serde type
//! error, and keeps a JSON number's exact digits for `quantity`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The key `serde_json` uses (with its `arbitrary_precision` feature) to hand a
/// number's original text to a visitor as a one-entry map.
const SERDE_JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// One field of an input, as given, before validation.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// The field is absent.
    #[default]
    Missing,
    /// JSON `null`, JavaScript `null`/`undefined`, Python `None`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer without a fractional part or exponent.
    Integer(i128),
    /// A binary floating-point number from a host that has no exact text for it
    /// (a JavaScript number, a Python `float`): read through its shortest
    /// round-trip decimal spelling, as `String(n)` or `repr()` writes it.
    Float(f64),
    /// A number's exact decimal text, e.g. `"100.10"` or `"1E+2"` (a JSON number
    /// read with `arbitrary_precision`, a Python `Decimal`).
    Number(String),
    /// A string.
    Text(String),
    /// A host string that is not valid Unicode (a JavaScript or Python string
    /// with a lone surrogate): never valid, and never silently repaired.
    InvalidText,
    /// An array (never valid; kept so the error can say what was given).
    Array,
    /// An object (never valid; kept so the error can say what was given).
    Object,
}

impl FieldValue {
    /// A text value.
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }

    /// A number given by its exact decimal text.
    pub fn number(s: impl Into<String>) -> Self {
        Self::Number(s.into())
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<i64> for FieldValue {
    fn from(n: i64) -> Self {
        Self::Integer(n.into())
    }
}

impl From<f64> for FieldValue {
    fn from(n: f64) -> Self {
        Self::Float(n)
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldValueVisitor)
    }
}

struct FieldValueVisitor;

impl<'de> Visitor<'de> for FieldValueVisitor {
    type Value = FieldValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<FieldValue, E> {
        Ok(FieldValue::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<FieldValue, E> {
        Ok(FieldValue::Integer(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<FieldValue, E> {
        Ok(FieldValue::Integer(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<FieldValue, E> {
        Ok(FieldValue::Integer(v))
    }

    fn visit_u128<E>(self, v: u128) -> Result<FieldValue, E> {
        Ok(i128::try_from(v)
            .map_or_else(|_| FieldValue::Number(v.to_string()), FieldValue::Integer))
    }

    fn visit_f64<E>(self, v: f64) -> Result<FieldValue, E> {
        Ok(FieldValue::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<FieldValue, E> {
        Ok(FieldValue::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<FieldValue, E> {
        Ok(FieldValue::Text(v))
    }

    fn visit_unit<E>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Null)
    }

    fn visit_none<E>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<FieldValue, D::Error> {
        FieldValue::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(FieldValue::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldValue, A::Error> {
        let first = map.next_key::<String>()?;
        if first.as_deref() == Some(SERDE_JSON_NUMBER_TOKEN) {
            return Ok(FieldValue::Number(map.next_value::<String>()?));
        }
        if first.is_some() {
            map.next_value::<de::IgnoredAny>()?;
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
        }
        Ok(FieldValue::Object)
    }
}
