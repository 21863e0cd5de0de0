//! Exact reading of decimal text, for `quantity` and `vintage`.
//!
//! v1 truncates a quantity to 4 decimals *exactly*, whatever the number of
//! digits or the size of the exponent (`"0.99999999999999999999999999999999"`
//! must give `0.9999`, `"1e-999999999"` must be rejected as not positive, not
//! overflow). A decimal library rounds past 28 significant digits and `f64` rounds
//! past 17, so the text is read here digit by digit, without allocating, into
//! an integer count of ten-thousandths (`Quantity`).

/// Exponents beyond this are clamped: any nonzero value with such an exponent is
/// far outside every range v1 accepts, and clamping keeps the arithmetic in `i64`.
const EXPONENT_CLAMP: i64 = 1_000_000_000;

/// A decimal number read from text: `±0.D₁D₂D₃… × 10^point`, where `D₁` is the
/// first nonzero digit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExactDecimal<'a> {
    negative: bool,
    /// The digits with leading zeros removed, split where the text had its point.
    int: &'a [u8],
    frac: &'a [u8],
    /// The decimal exponent of the first significant digit, plus one.
    point: i64,
}

impl<'a> ExactDecimal<'a> {
    /// Reads `[+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?` (ASCII digits only); `None` for
    /// anything else, including `NaN`, `inf` and empty text.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, bytes),
        };
        let (int, rest) = split_digits(rest);
        let (frac, rest) = match rest.split_first() {
            Some((b'.', rest)) => split_digits(rest),
            _ => (&[][..], rest),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let exponent = match rest.split_first() {
            None => 0,
            Some((b'e' | b'E', rest)) => parse_exponent(rest)?,
            Some(_) => return None,
        };
        // Drop leading zeros so that `point` locates the first significant digit.
        let int_zeros = int.iter().take_while(|&&d| d == b'0').count();
        let int = int.get(int_zeros..).unwrap_or_default();
        let (frac, frac_zeros) = if int.is_empty() {
            let zeros = frac.iter().take_while(|&&d| d == b'0').count();
            (frac.get(zeros..).unwrap_or_default(), zeros)
        } else {
            (frac, 0)
        };
        let int_len = i64::try_from(int.len()).ok()?;
        let frac_zeros = i64::try_from(frac_zeros).ok()?;
        Some(Self {
            negative,
            int,
            frac,
            point: int_len - frac_zeros + exponent,
        })
    }

    /// `true` when every digit is zero.
    pub(crate) fn is_zero(&self) -> bool {
        self.int.is_empty() && self.frac.is_empty()
    }

    /// `true` for a negative sign on a nonzero value.
    pub(crate) fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    /// The significant digits, as values 0..=9.
    fn digits(&self) -> impl Iterator<Item = u64> + '_ {
        self.int
            .iter()
            .chain(self.frac.iter())
            .map(|d| u64::from(d.wrapping_sub(b'0')))
    }

    /// `|value| × 10^places`, truncated toward zero, if it is below
    /// `10^(max_int_digits + places)`; `None` when it is not.
    pub(crate) fn truncated_magnitude(&self, places: i64, max_int_digits: i64) -> Option<u64> {
        if self.is_zero() {
            return Some(0);
        }
        if self.point > max_int_digits {
            return None;
        }
        let keep = self.point + places;
        if keep <= 0 {
            return Some(0);
        }
        let keep = usize::try_from(keep).ok()?;
        let mut n: u64 = 0;
        let mut digits = self.digits();
        for _ in 0..keep {
            n = n.checked_mul(10)?.checked_add(digits.next().unwrap_or(0))?;
        }
        Some(n)
    }

    /// `true` when the value has no nonzero digit after the decimal point.
    pub(crate) fn is_integral(&self) -> bool {
        let whole = usize::try_from(self.point.max(0)).unwrap_or(usize::MAX);
        self.digits().skip(whole).all(|d| d == 0)
    }
}

/// The shortest decimal spelling of a finite `f64` that reads back as the same
/// double, ties to even: the digits JavaScript's `String(n)` and Python's
/// `repr()` write. (Rust's own `{:e}` breaks such ties upward, so
/// `90961303843695.625` would read as `…695.63` instead of `…695.62`.)
pub(crate) fn float_text(f: f64, buf: &mut ryu::Buffer) -> &str {
    buf.format_finite(f)
}

/// The value of an integral `f64` of magnitude at most 2^53, where every
/// integer is exact: its shortest spelling is those digits (`String(2023)` is
/// `"2023"`, `-0` reads as `0`), so it needs no decimal reading at all.
/// `None` for anything else.
pub(crate) fn small_integer(f: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    #[allow(clippy::cast_possible_truncation)] // integral and within ±2^53: exact
    (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
}

fn split_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    bytes.split_at(n)
}

/// `[+-]?D+` to an `i64`, clamped to ±[`EXPONENT_CLAMP`].
fn parse_exponent(bytes: &[u8]) -> Option<i64> {
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    let (digits, tail) = split_digits(rest);
    if digits.is_empty() || !tail.is_empty() {
        return None;
    }
    let magnitude = digits.iter().fold(0_i64, |acc, d| {
        (acc * 10 + i64::from(d - b'0')).min(EXPONENT_CLAMP)
    });
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::{float_text, ExactDecimal};

    fn quantity(text: &str) -> Option<u64> {
        ExactDecimal::parse(text)?.truncated_magnitude(4, 14)
    }

    #[test]
    fn reads_exactly_and_truncates() {
        assert_eq!(quantity("100"), Some(1_000_000));
        assert_eq!(quantity("0.00019"), Some(1));
        assert_eq!(quantity("1E+2"), Some(1_000_000));
        assert_eq!(quantity(".5"), Some(5_000));
        assert_eq!(quantity("5."), Some(50_000));
        assert_eq!(quantity("0.99999999999999999999999999999999"), Some(9_999));
        assert_eq!(
            quantity("99999999999999.99999"),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(quantity("100000000000000"), None);
        assert_eq!(quantity("1e-999999999999999999999"), Some(0));
        assert_eq!(quantity("1e999999999999999999999"), None);
        assert_eq!(quantity("000000.000"), Some(0));
    }

    #[test]
    fn rejects_what_is_not_decimal_text() {
        for text in [
            "", "-", ".", "e5", "1e", "1e+", "NaN", "inf", "1_000", "１", "1.2.3", " 1", "0x10",
        ] {
            assert!(ExactDecimal::parse(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn floats_read_as_javascript_and_python_write_them() {
        let read = |f: f64| {
            ExactDecimal::parse(float_text(f, &mut ryu::Buffer::new()))?.truncated_magnitude(4, 14)
        };
        // Exactly 90961303843695.625: both ...62 and ...63 round-trip; repr() picks the even one.
        assert_eq!(read(90_961_303_843_695.62), Some(909_613_038_436_956_200));
        assert_eq!(read(10_153_007_241_567.312), Some(101_530_072_415_673_120));
        assert_eq!(read(100.1), Some(1_001_000));
        assert_eq!(read(1e-7), Some(0));
        assert_eq!(read(1e30), None);
    }

    #[test]
    fn integral_values() {
        let integral = |t: &str| ExactDecimal::parse(t).is_some_and(|d| d.is_integral());
        assert!(integral("2023"));
        assert!(integral("2023.000"));
        assert!(integral("2.023e3"));
        assert!(integral("0"));
        assert!(!integral("2023.5"));
        assert!(!integral("2.0235e3"));
    }
}
