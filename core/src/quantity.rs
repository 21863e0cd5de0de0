//! `quantity`: an exact decimal, truncated toward zero to 4 places (SPEC §2.3).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ErrorCode;
use crate::number::{float_text, small_integer, ExactDecimal};
use crate::text::{py_strip, Sink};
use crate::value::FieldValue;

/// Fractional digits kept by v1.
const PLACES: u32 = 4;
/// `10^PLACES`.
const SCALE: u64 = 10_000;
/// Quantities must be below 10^14.
const LIMIT: u64 = 100_000_000_000_000;
/// Integer digits allowed: a quantity is below 10^14 so that it fits NUMERIC(18,4).
const MAX_INT_DIGITS: i64 = 14;

/// A valid v1 quantity: greater than 0, below 10^14, with exactly 4 decimals.
///
/// Held as a count of ten-thousandths, which fits a `u64` (< 10^18), so
/// comparing, hashing and formatting need no decimal arithmetic. Serialized as
/// its canonical text (`"100.0000"`), as the original service returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u64);

impl Quantity {
    /// Reads a quantity as v1 does; the error is the code to report for `quantity`.
    pub fn from_field(value: &FieldValue) -> Result<Self, ErrorCode> {
        match value {
            FieldValue::Missing | FieldValue::Null => Err(ErrorCode::Missing),
            // An integer needs no decimal reading: 0 < n < 10^14 or an error.
            FieldValue::Integer(n) => match u64::try_from(*n) {
                _ if *n <= 0 => Err(ErrorCode::NotPositive),
                Ok(n) if n < LIMIT => Ok(Self(n * SCALE)),
                _ => Err(ErrorCode::TooLarge),
            },
            FieldValue::Float(f) => match small_integer(*f) {
                // Integral doubles (most JavaScript quantities) skip the decimal reading.
                Some(n) => Self::from_field(&FieldValue::Integer(n.into())),
                None if f.is_finite() => Self::from_exact(
                    &ExactDecimal::parse(float_text(*f, &mut ryu::Buffer::new()))
                        .ok_or(ErrorCode::NotANumber)?,
                ),
                None => Err(ErrorCode::NotANumber),
            },
            FieldValue::Number(text) | FieldValue::Text(text) => Self::from_text(text),
            FieldValue::Bool(_)
            | FieldValue::Array
            | FieldValue::Object
            | FieldValue::InvalidText => Err(ErrorCode::NotANumber),
        }
    }

    /// Reads decimal text (surrounding whitespace allowed, as Python's
    /// `Decimal(str.strip())` would) and truncates it to 4 places.
    pub fn from_text(text: &str) -> Result<Self, ErrorCode> {
        Self::from_exact(&ExactDecimal::parse(py_strip(text)).ok_or(ErrorCode::NotANumber)?)
    }

    fn from_exact(exact: &ExactDecimal<'_>) -> Result<Self, ErrorCode> {
        let magnitude = exact.truncated_magnitude(i64::from(PLACES), MAX_INT_DIGITS);
        match magnitude {
            _ if exact.is_negative() => Err(ErrorCode::NotPositive),
            None => Err(ErrorCode::TooLarge),
            Some(0) => Err(ErrorCode::NotPositive),
            Some(n) => Ok(Self(n)),
        }
    }

    /// A quantity of `credits` whole credits: `None` for 0 and from 10^14.
    pub fn from_credits(credits: u64) -> Option<Self> {
        (1..LIMIT).contains(&credits).then(|| Self(credits * SCALE))
    }

    /// The quantity as whole credits, if it has no fraction (what a block's
    /// quantity must be: its range's count, SPEC §6).
    pub const fn whole_credits(self) -> Option<u64> {
        if self.0.is_multiple_of(SCALE) {
            Some(self.0 / SCALE)
        } else {
            None
        }
    }

    /// The sum of two quantities, if it is still a valid one (below 10^14):
    /// the parts of a split block add up to its quantity (SPEC §6).
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0
            .checked_add(other.0)
            .filter(|&sum| sum < LIMIT * SCALE)
            .map(Self)
    }

    /// Appends the canonical text (`"100.0000"`) to `out` without allocating.
    pub(crate) fn write_to(self, out: &mut impl Sink) {
        let mut buf = itoa::Buffer::new();
        out.push_str(buf.format(self.0 / SCALE));
        out.push_str(".");
        // 10000 + frac always has 5 digits; its last 4 are the zero-padded fraction.
        let padded = buf.format(SCALE + self.0 % SCALE);
        out.push_str(padded.get(1..).unwrap_or_default());
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(24);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Quantity {
    type Err = ErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_text(s)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = FieldValue::deserialize(deserializer)?;
        Self::from_field(&value)
            .map_err(|code| serde::de::Error::custom(format!("quantity {}", code.message())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text() {
        let q = |v: FieldValue| Quantity::from_field(&v).map(|q| q.to_string());
        assert_eq!(q(FieldValue::Integer(100)), Ok("100.0000".into()));
        assert_eq!(q(FieldValue::Float(100.1)), Ok("100.1000".into()));
        assert_eq!(q(FieldValue::Float(1e-4)), Ok("0.0001".into()));
        assert_eq!(q(FieldValue::number("628E+6")), Ok("628000000.0000".into()));
        assert_eq!(q(FieldValue::text(" 0.00019\n")), Ok("0.0001".into()));
        assert_eq!(q(FieldValue::Float(1e30)), Err(ErrorCode::TooLarge));
        assert_eq!(q(FieldValue::Float(f64::NAN)), Err(ErrorCode::NotANumber));
        assert_eq!(q(FieldValue::Integer(-5)), Err(ErrorCode::NotPositive));
        assert_eq!(q(FieldValue::Integer(0)), Err(ErrorCode::NotPositive));
        assert_eq!(
            q(FieldValue::Integer(99_999_999_999_999)),
            Ok("99999999999999.0000".into())
        );
        assert_eq!(
            q(FieldValue::Integer(100_000_000_000_000)),
            Err(ErrorCode::TooLarge)
        );
        assert_eq!(q(FieldValue::Integer(i128::MAX)), Err(ErrorCode::TooLarge));
        assert_eq!(
            q(FieldValue::Integer(i128::MIN)),
            Err(ErrorCode::NotPositive)
        );
        assert_eq!(q(FieldValue::text("-0.00001")), Err(ErrorCode::NotPositive));
        assert_eq!(q(FieldValue::text("-1e30")), Err(ErrorCode::NotPositive));
        assert_eq!(q(FieldValue::Bool(true)), Err(ErrorCode::NotANumber));
    }

    proptest::proptest! {
        /// The integral-double shortcut reads what the double's shortest
        /// spelling reads, for quantities and vintages, at and around ±2^53.
        #[test]
        fn integral_doubles_read_as_their_spelling(
            n in proptest::prop_oneof![
                -(1_i64 << 53)..=(1_i64 << 53),
                1900_i64..=2100,
                0_i64..=1000,
            ],
            scale in proptest::prop_oneof![proptest::strategy::Just(1.0), proptest::strategy::Just(-1.0)],
        ) {
            #[allow(clippy::cast_precision_loss)] // |n| <= 2^53: exact
            let f = n as f64 * scale;
            let spelled = FieldValue::Number(float_text(f, &mut ryu::Buffer::new()).to_owned());
            proptest::prop_assert_eq!(
                Quantity::from_field(&FieldValue::Float(f)),
                Quantity::from_field(&spelled)
            );
            proptest::prop_assert_eq!(
                crate::vintage_year(&FieldValue::Float(f)),
                crate::vintage_year(&spelled)
            );
        }
    }

    #[test]
    fn negative_zero_is_zero() {
        assert_eq!(
            Quantity::from_field(&FieldValue::Float(-0.0)),
            Err(ErrorCode::NotPositive)
        );
        assert_eq!(
            crate::vintage_year(&FieldValue::Float(-0.0)),
            Err(ErrorCode::OutOfRange)
        );
    }
}
