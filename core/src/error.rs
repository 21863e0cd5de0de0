//! Structured validation errors: every problem names its field, carries a
//! stable machine code and a human message, and all problems of one input are
//! reported together.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason a field was rejected.
///
/// The string forms (`snake_case`) are part of the contract: the REST server's
/// `errors[].code`, the WASM package and the Python package all expose them.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The field is absent or `null`.
    Missing,
    /// A text field holds a number, a boolean, an array or an object.
    NotAString,
    /// A text field is not valid Unicode (it holds a lone surrogate).
    InvalidUnicode,
    /// A text field is empty once canonicalized.
    Empty,
    /// A text field contains `|`, the separator of the canonical string.
    ContainsSeparator,
    /// A text field contains a control character (Unicode category Cc).
    ControlCharacter,
    /// A text field is longer than its limit once canonicalized.
    TooLong,
    /// A number field holds something that is not a finite decimal number.
    NotANumber,
    /// `quantity` is zero or negative once truncated to 4 decimals.
    NotPositive,
    /// `quantity` or a price is 10^14 or more: it would not fit NUMERIC(18,4).
    TooLarge,
    /// `vintage` is not an integer.
    NotAnInteger,
    /// `vintage` is outside 1900..=2100.
    OutOfRange,
    /// The body or a payload is not a JSON object.
    NotAnObject,
    /// A payload holds a key its event type does not define.
    UnknownField,
    /// A price is negative.
    Negative,
    /// A currency is not three uppercase letters (the shape of an ISO 4217 code).
    InvalidCurrency,
    /// The field must not be present for this event type.
    NotAllowed,
    /// A parameter is not in its expected format (a timestamp, a cursor, an id).
    InvalidFormat,
    /// A payload value is not one of the values its key allows (a retirement's
    /// `purpose`); the message lists them.
    InvalidChoice,
    /// A country is not an officially assigned ISO 3166-1 alpha-2 code in
    /// uppercase (a retirement's `beneficiary_country`).
    InvalidCountry,
}

impl ErrorCode {
    /// Every code, the one list hosts, docs and the OpenAPI document use.
    pub const ALL: [Self; 20] = [
        Self::Missing,
        Self::NotAString,
        Self::InvalidUnicode,
        Self::Empty,
        Self::ContainsSeparator,
        Self::ControlCharacter,
        Self::TooLong,
        Self::NotANumber,
        Self::NotPositive,
        Self::TooLarge,
        Self::NotAnInteger,
        Self::OutOfRange,
        Self::NotAnObject,
        Self::UnknownField,
        Self::Negative,
        Self::InvalidCurrency,
        Self::NotAllowed,
        Self::InvalidFormat,
        Self::InvalidChoice,
        Self::InvalidCountry,
    ];

    /// The code as it appears in JSON, e.g. `"contains_separator"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotAString => "not_a_string",
            Self::InvalidUnicode => "invalid_unicode",
            Self::Empty => "empty",
            Self::ContainsSeparator => "contains_separator",
            Self::ControlCharacter => "control_character",
            Self::TooLong => "too_long",
            Self::NotANumber => "not_a_number",
            Self::NotPositive => "not_positive",
            Self::TooLarge => "too_large",
            Self::NotAnInteger => "not_an_integer",
            Self::OutOfRange => "out_of_range",
            Self::NotAnObject => "not_an_object",
            Self::UnknownField => "unknown_field",
            Self::Negative => "negative",
            Self::InvalidCurrency => "invalid_currency",
            Self::NotAllowed => "not_allowed",
            Self::InvalidFormat => "invalid_format",
            Self::InvalidChoice => "invalid_choice",
            Self::InvalidCountry => "invalid_country",
        }
    }

    /// A human sentence for the code, without the field name.
    pub const fn message(self) -> &'static str {
        match self {
            Self::Missing => "is required",
            Self::NotAString => "must be a string",
            Self::InvalidUnicode => "must be valid Unicode text (it holds a lone surrogate)",
            Self::Empty => "must not be empty (after trimming whitespace)",
            Self::ContainsSeparator => {
                "must not contain '|': it separates the fields of the canonical string, so two different records could share an id"
            }
            Self::ControlCharacter => "must not contain control characters",
            Self::TooLong => "is too long",
            Self::NotANumber => "must be a finite decimal number, e.g. 100.5 or \"100.5\"",
            Self::NotPositive => "must be greater than 0 once truncated to 4 decimals",
            Self::TooLarge => "must be less than 10^14 (it is stored as NUMERIC(18,4))",
            Self::NotAnInteger => "must be an integer year, e.g. 2023 or \"2023\"",
            Self::OutOfRange => "must be a year from 1900 to 2100",
            Self::NotAnObject => "must be a JSON object",
            Self::UnknownField => "is not a field of this event type",
            Self::Negative => "must not be negative",
            Self::InvalidCurrency => "must be three uppercase letters, like an ISO 4217 code such as \"USD\"",
            Self::NotAllowed => "must not be given for this event type",
            Self::InvalidFormat => "is not in its expected format",
            Self::InvalidChoice => "is not one of the values it allows",
            Self::InvalidCountry => {
                "must be an ISO 3166-1 alpha-2 country code, officially assigned and in uppercase, such as \"KE\""
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field.
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name as it appears in the JSON body, e.g. `"quantity"`.
    pub field: String,
    /// The stable reason.
    pub code: ErrorCode,
    /// A human message naming the field.
    pub message: String,
}

impl FieldError {
    /// An error for `field` with the code's standard message.
    pub fn new(field: &str, code: ErrorCode) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: format!("{field} {}", code.message()),
        }
    }

    /// An error with a message more specific than the code's standard one.
    pub fn with_message(field: &str, code: ErrorCode, message: String) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// Every problem of one input, in field order; never empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidationError {
    /// The problems, in the order of the fields.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input: ")?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

impl ValidationError {
    /// The error for a record body that is not an object (or, in a host
    /// language, not a mapping): `body` / `not_an_object`.
    pub fn not_an_object() -> Self {
        Self {
            errors: vec![FieldError::new("body", ErrorCode::NotAnObject)],
        }
    }

    /// `Ok(())` when `errors` is empty, the error otherwise.
    pub(crate) fn check(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self { errors })
        }
    }
}
