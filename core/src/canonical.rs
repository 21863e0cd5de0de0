//! Record inputs and their v1 canonical form (SPEC §2).

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, FieldError, ValidationError};
use crate::id::RecordId;
use crate::number::{float_text, small_integer, ExactDecimal};
use crate::quantity::Quantity;
use crate::text::{push_canonical, py_strip, Sink};
use crate::value::FieldValue;

/// Earliest accepted vintage.
pub const MIN_VINTAGE: u16 = 1900;
/// Latest accepted vintage.
pub const MAX_VINTAGE: u16 = 2100;

/// The names of a record's five input fields, in the order of the canonical
/// line (SPEC §2): the keys of a JSON record and the columns of a CSV import.
pub const RECORD_FIELDS: [&str; 5] = [
    "project_name",
    "registry",
    "vintage",
    "quantity",
    "serial_number",
];

/// The five fields of a record as a client sent them, before validation.
///
/// Deserializes from any JSON object (unknown keys are ignored, as the original
/// service ignored them); every field is kept as a [`FieldValue`] so that
/// validation can report all problems at once.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct RecordInput {
    /// Name of the project that issued the credits.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub project_name: FieldValue,
    /// The registry, e.g. `VCS` or `Gold Standard`.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub registry: FieldValue,
    /// Vintage year.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", tsify(type = "number | string"))]
    pub vintage: FieldValue,
    /// Number of credits (tonnes of CO₂e).
    #[serde(default)]
    #[cfg_attr(feature = "typescript", tsify(type = "string | number | bigint"))]
    pub quantity: FieldValue,
    /// The registry's serial number for the block of credits.
    #[serde(default)]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub serial_number: FieldValue,
}

/// A record's canonical fields: what its v1 id is computed from.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CanonicalRecord {
    /// Stripped, lowercased, NFKC-normalized project name.
    pub project_name: String,
    /// Stripped, lowercased, NFKC-normalized registry.
    pub registry: String,
    /// Vintage year, 1900..=2100.
    pub vintage: u16,
    /// Quantity truncated to 4 decimals; serialized as `"100.0000"`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "100.1000"))]
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub quantity: Quantity,
    /// Stripped, lowercased, NFKC-normalized serial number.
    pub serial_number: String,
}

impl CanonicalRecord {
    /// The v1 id of this record.
    pub fn id(&self) -> RecordId {
        let mut line = String::with_capacity(
            self.project_name.len() + self.registry.len() + self.serial_number.len() + 32,
        );
        self.write_line(&mut line);
        RecordId::of_canonical_line(&line)
    }

    /// The block this record is (SPEC §6): its serial names a range of
    /// credits and its quantity is the range's count. `None` for a plain
    /// record (a serial that parses with another quantity included).
    pub fn block(&self) -> Option<crate::serial::Block<'_>> {
        crate::serial::parse_serial(&self.serial_number)
            .filter(|block| self.quantity.whole_credits() == Some(block.credits()))
    }

    /// Why a record whose serial names a range is not a block: its quantity
    /// is not the range's count (SPEC §6: it stays a plain record, with the
    /// same id, and create and import say so as a warning). `None` for a
    /// block, and for a serial that names no range.
    pub fn block_warning(&self) -> Option<String> {
        let block = crate::serial::parse_serial(&self.serial_number)?;
        let credits = block.credits();
        (self.quantity.whole_credits() != Some(credits)).then(|| {
            format!(
                "the serial names {credits} credits ({} to {}) but the quantity is {}: \
                 the record is a plain record, not a block, so partial actions on it are not_divisible",
                block.start, block.end, self.quantity
            )
        })
    }

    /// The string the id hashes: `project_name|registry|vintage|quantity|serial_number`.
    pub fn canonical_line(&self) -> String {
        let mut line = String::new();
        self.write_line(&mut line);
        line
    }

    fn write_line(&self, line: &mut String) {
        line.push_str(&self.project_name);
        line.push('|');
        line.push_str(&self.registry);
        line.push('|');
        line.push_str(itoa::Buffer::new().format(self.vintage));
        line.push('|');
        self.quantity.write_to(line);
        line.push('|');
        line.push_str(&self.serial_number);
    }
}

impl RecordInput {
    /// Validates and canonicalizes; the error lists every problem in field order.
    pub fn canonicalize(&self) -> Result<CanonicalRecord, ValidationError> {
        let mut errors = Vec::new();
        let project_name = text_field("project_name", &self.project_name, &mut errors);
        let registry = text_field("registry", &self.registry, &mut errors);
        let vintage =
            vintage_year(&self.vintage).map_err(|c| errors.push(FieldError::new("vintage", c)));
        let quantity = Quantity::from_field(&self.quantity)
            .map_err(|c| errors.push(FieldError::new("quantity", c)));
        let serial_number = text_field("serial_number", &self.serial_number, &mut errors);
        match (project_name, registry, vintage, quantity, serial_number) {
            (
                Some(project_name),
                Some(registry),
                Ok(vintage),
                Ok(quantity),
                Some(serial_number),
            ) if errors.is_empty() => Ok(CanonicalRecord {
                project_name,
                registry,
                vintage,
                quantity,
                serial_number,
            }),
            _ => Err(ValidationError { errors }),
        }
    }

    /// Every problem of this input; empty when it is valid.
    pub fn validate(&self) -> Vec<FieldError> {
        self.canonicalize()
            .err()
            .map(|e| e.errors)
            .unwrap_or_default()
    }

    /// The v1 id, computed without building a [`CanonicalRecord`].
    ///
    /// This is the hot path for bulk work: the canonical line is written into a
    /// per-thread buffer and hashed, so a valid ASCII input costs no allocation.
    /// Many records at once are faster through [`IdBatch`](crate::IdBatch).
    pub fn record_id(&self) -> Result<RecordId, ValidationError> {
        crate::id::with_line_buffer(|line| {
            self.write_line(line)?;
            Ok(RecordId::of_line_bytes(line))
        })
    }

    /// Appends the canonical line (`project_name|registry|vintage|quantity|serial_number`)
    /// to `line`; on an error, what was appended is unspecified.
    pub(crate) fn write_line(&self, line: &mut Vec<u8>) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        push_text_field("project_name", &self.project_name, line, &mut errors);
        line.push(b'|');
        push_text_field("registry", &self.registry, line, &mut errors);
        line.push(b'|');
        match vintage_year(&self.vintage) {
            Ok(year) => line.extend_from_slice(itoa::Buffer::new().format(year).as_bytes()),
            Err(code) => errors.push(FieldError::new("vintage", code)),
        }
        line.push(b'|');
        match Quantity::from_field(&self.quantity) {
            Ok(q) => q.write_to(line),
            Err(code) => errors.push(FieldError::new("quantity", code)),
        }
        line.push(b'|');
        push_text_field("serial_number", &self.serial_number, line, &mut errors);
        ValidationError::check(errors)
    }
}

/// Canonicalizes one text field into its own string.
fn text_field(field: &str, value: &FieldValue, errors: &mut Vec<FieldError>) -> Option<String> {
    let mut out = String::new();
    push_text_field(field, value, &mut out, errors).then_some(out)
}

/// Appends one canonical text field to `out`; `false` (and errors) if invalid.
fn push_text_field(
    field: &str,
    value: &FieldValue,
    out: &mut impl Sink,
    errors: &mut Vec<FieldError>,
) -> bool {
    let raw = match value {
        FieldValue::Text(raw) => raw,
        FieldValue::Missing | FieldValue::Null => {
            errors.push(FieldError::new(field, ErrorCode::Missing));
            return false;
        }
        FieldValue::InvalidText => {
            errors.push(FieldError::new(field, ErrorCode::InvalidUnicode));
            return false;
        }
        _ => {
            errors.push(FieldError::new(field, ErrorCode::NotAString));
            return false;
        }
    };
    let before = errors.len();
    for code in push_canonical(raw, out).codes() {
        errors.push(match code {
            ErrorCode::TooLong => FieldError::with_message(
                field,
                code,
                format!(
                    "{field} must be at most {} characters once canonicalized",
                    crate::text::MAX_TEXT_CHARS
                ),
            ),
            _ => FieldError::new(field, code),
        });
    }
    errors.len() == before
}

/// Reads `vintage`: an integer 1900..=2100, given as an integer, an
/// integral number (`2023.0`) or an integer string (`"2023"`).
/// Reads a vintage as v1 does (an integer, or an integer-valued number or
/// string, 1900..=2100); the error is the code to report for the field.
pub fn vintage_year(value: &FieldValue) -> Result<u16, ErrorCode> {
    let mut float_buf = ryu::Buffer::new();
    let exact = match value {
        FieldValue::Missing | FieldValue::Null => return Err(ErrorCode::Missing),
        FieldValue::Integer(n) => return year_in_range(*n),
        FieldValue::Float(f) => {
            if let Some(n) = small_integer(*f) {
                return year_in_range(n.into());
            }
            if !f.is_finite() || f.fract() != 0.0 {
                return Err(ErrorCode::NotAnInteger);
            }
            ExactDecimal::parse(float_text(*f, &mut float_buf))
        }
        FieldValue::Number(text) => ExactDecimal::parse(text),
        FieldValue::Text(text) => {
            let text = py_strip(text);
            let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ErrorCode::NotAnInteger);
            }
            ExactDecimal::parse(text)
        }
        FieldValue::Bool(_) | FieldValue::Array | FieldValue::Object | FieldValue::InvalidText => {
            return Err(ErrorCode::NotAnInteger)
        }
    };
    let exact = exact
        .filter(ExactDecimal::is_integral)
        .ok_or(ErrorCode::NotAnInteger)?;
    match exact.truncated_magnitude(0, 4) {
        Some(year) if !exact.is_negative() => year_in_range(i128::from(year)),
        _ => Err(ErrorCode::OutOfRange),
    }
}

fn year_in_range(year: i128) -> Result<u16, ErrorCode> {
    u16::try_from(year)
        .ok()
        .filter(|y| (MIN_VINTAGE..=MAX_VINTAGE).contains(y))
        .ok_or(ErrorCode::OutOfRange)
}
