//! RFC 3339 timestamps read by hand, exactly as `time`'s
//! `OffsetDateTime::parse(text, &Rfc3339)` reads them (the server's reader):
//! the same texts accepted, the same instants.
//!
//! `time`'s parser, its `Parsed` machinery and its error messages were 5 KB
//! of the WASM package's gzipped `.wasm`; this reader is a few hundred bytes,
//! and it is what made room for `splitBlock` within the 150 KB budget. The
//! WASM binding reads event times with it, and the core checks a payload's
//! `effective_at` with it. The test below holds it to `time`'s parser on
//! every spelling it can think of.
//!
//! The grammar, as `time` 0.3 implements it: `YYYY-MM-DD`, any one byte as
//! the separator, `hh:mm:ss`, an optional `.` and one or more digits (those
//! past the ninth ignored), then `Z`/`z` or `+hh:mm`/`-hh:mm` (offset hours
//! ≤ 23), and nothing after. A second of 60 is a leap second, read as the
//! last nanosecond before it, and only where one can be: 23:59:60 in UTC on
//! the last day of a month.

use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// Reads `text`; `None` when `time`'s parser would refuse it.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    let mut reader = Reader(text.as_bytes());
    let year = reader.digits(4)?;
    reader.byte(b'-')?;
    let month = reader.digits(2)?;
    reader.byte(b'-')?;
    let day = reader.digits(2)?;
    // Any separator, one byte (`T`, `t`, a space…).
    reader.0 = reader.0.get(1..)?;
    let hour = reader.digits(2)?;
    reader.byte(b':')?;
    let minute = reader.digits(2)?;
    reader.byte(b':')?;
    let mut second = reader.digits(2)?;
    let mut nanosecond = 0;
    if reader.byte(b'.').is_some() {
        let mut scale = 100_000_000;
        nanosecond = reader.digit()? * scale;
        while let Some(digit) = reader.digit() {
            scale /= 10;
            nanosecond += digit * scale;
        }
    }
    let offset = if reader.byte(b'Z').or_else(|| reader.byte(b'z')).is_some() {
        UtcOffset::UTC
    } else {
        let (&sign, rest) = reader.0.split_first()?;
        let negative = match sign {
            b'+' => false,
            b'-' => true,
            _ => return None,
        };
        reader.0 = rest;
        let hours = reader.digits(2).filter(|&h| h <= 23)?;
        reader.byte(b':')?;
        let minutes = reader.digits(2)?;
        // Both fit an i8: at most 23 and 99.
        let (hours, minutes) = (i8::try_from(hours).ok()?, i8::try_from(minutes).ok()?);
        let (hours, minutes) = if negative {
            (-hours, -minutes)
        } else {
            (hours, minutes)
        };
        UtcOffset::from_hms(hours, minutes, 0).ok()?
    };
    if !reader.0.is_empty() {
        return None;
    }
    let leap = second == 60;
    if leap {
        second = 59;
        nanosecond = 999_999_999;
    }
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanosecond,
    )
    .ok()?;
    let t = date.with_time(time).assume_offset(offset);
    if leap {
        let utc = t.checked_to_offset(UtcOffset::UTC)?;
        let last_of_month = utc.day() == utc.month().length(utc.year());
        if (utc.hour(), utc.minute(), utc.second()) != (23, 59, 59) || !last_of_month {
            return None;
        }
    }
    Some(t)
}

/// The bytes not read yet.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    /// One ASCII digit's value.
    fn digit(&mut self) -> Option<u32> {
        let (&first, rest) = self.0.split_first()?;
        let value = char::from(first).to_digit(10)?;
        self.0 = rest;
        Some(value)
    }

    /// Exactly `n` ASCII digits' value.
    fn digits(&mut self, n: usize) -> Option<u32> {
        (0..n).try_fold(0, |value, _| Some(value * 10 + self.digit()?))
    }

    /// The byte `b`.
    fn byte(&mut self, b: u8) -> Option<()> {
        let rest = self.0.strip_prefix(&[b])?;
        self.0 = rest;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use time::format_description::well_known::Rfc3339;

    use super::*;

    /// Every spelling below, and every one-byte change of each, reads as
    /// `time`'s parser reads it.
    #[test]
    fn reads_what_time_reads() {
        let seeds = [
            "2026-02-01T00:00:00Z",
            "2026-02-01t00:00:00z",
            "2026-02-01 00:00:00Z",
            "2026-02-01_00:00:00Z",
            "2026-02-01T00:00:00.5Z",
            "2026-02-01T00:00:00.123456789Z",
            "2026-02-01T00:00:00.1234567891234Z",
            "2026-02-01T00:00:00.Z",
            "2026-02-01T23:59:59+05:30",
            "2026-02-01T23:59:59-05:30",
            "2026-02-01T23:59:59-00:00",
            "2026-02-01T23:59:59+23:59",
            "2026-02-01T23:59:59+24:00",
            "2026-02-01T23:59:59+05:60",
            "2026-02-01T23:59:59+0530",
            "2026-02-01T23:59:59",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2017-01-01T05:29:60+05:30",
            "2016-12-31T18:59:60-05:00",
            "2016-12-30T23:59:60Z",
            "2016-06-30T23:59:60Z",
            "2016-12-31T22:59:60Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2023-04-31T12:00:00Z",
            "2023-00-10T12:00:00Z",
            "2023-13-10T12:00:00Z",
            "2023-01-00T12:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T23:60:00Z",
            "2023-01-01T23:59:61Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:59-01:00",
            "2026-2-01T00:00:00Z",
            "12026-02-01T00:00:00Z",
            "2026-02-01T00:00:00Z ",
            " 2026-02-01T00:00:00Z",
            "2026-02-01\u{e9}00:00:00Z",
            "2026-02-01T00:00:00\u{2212}05:00",
            "",
            "yesterday",
        ];
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for seed in seeds {
            let bytes = seed.as_bytes();
            texts.push(bytes.to_vec());
            for i in 0..bytes.len() {
                let mut removed = bytes.to_vec();
                removed.remove(i);
                texts.push(removed);
                for b in [b'0', b'9', b'-', b'+', b':', b'.', b'Z', b'T', b' ', b'x'] {
                    let mut changed = bytes.to_vec();
                    changed[i] = b;
                    texts.push(changed.clone());
                    changed.insert(i, b);
                    texts.push(changed);
                }
            }
        }
        let mut accepted = 0;
        for text in &texts {
            let Ok(text) = std::str::from_utf8(text) else {
                continue;
            };
            let expected = OffsetDateTime::parse(text, &Rfc3339).ok();
            assert_eq!(parse(text), expected, "{text:?}");
            // Equal instants in the same offset.
            assert_eq!(
                parse(text).map(|t| t.offset()),
                expected.map(|t| t.offset())
            );
            accepted += usize::from(expected.is_some());
        }
        assert!(accepted > 500, "{accepted} of {}", texts.len());
    }
}
