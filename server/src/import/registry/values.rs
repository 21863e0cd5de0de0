//! The cell values registry exports write: dates in their several forms and
//! quantities with thousands separators.

/// How a format writes a date with slashes (ISO 8601 is read in every
/// format: it is also what an XLSX date cell reads as).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dates {
    /// ISO 8601 only (Gold Standard).
    Iso,
    /// `DD/MM/YYYY` (Verra's older exports).
    DayFirst,
    /// `M/D/YYYY`, with an optional `h:mm:ss AM` (ACR, CAR, ART TREES).
    MonthFirst,
}

impl Dates {
    /// The forms accepted, for an error message.
    pub(super) fn forms(self) -> &'static str {
        match self {
            Self::Iso => "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff] (UTC when no zone is given)",
            Self::DayFirst => {
                "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[.ffffff] (UTC when no zone is given) or DD/MM/YYYY"
            }
            Self::MonthFirst => {
                "M/D/YYYY, M/D/YYYY h:mm:ss AM/PM (GMT), YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.ffffff]"
            }
        }
    }
}

/// A date read from a cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    /// The year.
    pub(super) year: i32,
    /// RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SSZ`, with the fraction of a second
    /// the cell had, if any.
    pub(super) rfc3339: String,
}

/// The date `text` in one of the forms `dates` names, or `None`.
pub(super) fn parse_date(text: &str, dates: Dates) -> Option<Stamp> {
    let text = text.trim();
    if text.contains('/') {
        return match dates {
            Dates::Iso => None,
            Dates::DayFirst => slashed(text, false),
            Dates::MonthFirst => slashed(text, true),
        };
    }
    iso(text)
}

/// `YYYY-MM-DD`, optionally followed by `T` or a space and
/// `HH:MM:SS[.fraction]`, optionally ending in `Z`.
fn iso(text: &str) -> Option<Stamp> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?, 4, 4)?;
    let month = digits(parts.next()?, 2, 2)?;
    let day = digits(parts.next()?, 2, 2)?;
    if parts.next().is_some() {
        return None;
    }
    let (hour, minute, second, fraction) = match time {
        None => (0, 0, 0, ""),
        Some(time) => {
            let (hms, fraction) = match time.split_once('.') {
                Some((hms, fraction))
                    if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    (hms, fraction)
                }
                Some(_) => return None,
                None => (time, ""),
            };
            let (h, m, s) = hms_parts(hms, 2)?;
            (h, m, s, fraction)
        }
    };
    stamp(year, month, day, hour, minute, second, fraction)
}

/// `a/b/YYYY` (month first when `month_first`, else day first), optionally
/// followed by ` h:mm[:ss]` and an optional ` AM`/` PM`.
fn slashed(text: &str, month_first: bool) -> Option<Stamp> {
    let (date, time) = match text.split_once(' ') {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let mut parts = date.split('/');
    let a = digits(parts.next()?, 1, 2)?;
    let b = digits(parts.next()?, 1, 2)?;
    let year = digits(parts.next()?, 4, 4)?;
    if parts.next().is_some() {
        return None;
    }
    let (month, day) = if month_first { (a, b) } else { (b, a) };
    let (hour, minute, second) = match time {
        None => (0, 0, 0),
        Some(time) => {
            let (clock, meridiem) = match time.rsplit_once(' ') {
                Some((clock, m)) => (clock.trim(), Some(m.to_ascii_uppercase())),
                None => (time, None),
            };
            let (h, m, s) = hms_parts(clock, 1)?;
            let h = match meridiem.as_deref() {
                None => h,
                Some("AM") if (1..=12).contains(&h) => h % 12,
                Some("PM") if (1..=12).contains(&h) => h % 12 + 12,
                Some(_) => return None,
            };
            (h, m, s)
        }
    };
    stamp(year, month, day, hour, minute, second, "")
}

/// `H:MM` or `H:MM:SS`, the hour at least `min_hour_digits` long.
fn hms_parts(text: &str, min_hour_digits: usize) -> Option<(u32, u32, u32)> {
    let mut parts = text.split(':');
    let h = digits(parts.next()?, min_hour_digits, 2)?;
    let m = digits(parts.next()?, 2, 2)?;
    let s = match parts.next() {
        Some(s) => digits(s, 2, 2)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((h, m, s))
}

/// The value of `min..=max` ASCII digits.
fn digits(text: &str, min: usize, max: usize) -> Option<u32> {
    if !(min..=max).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn stamp(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    fraction: &str,
) -> Option<Stamp> {
    let year = i32::try_from(year).ok()?;
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    Some(Stamp {
        year,
        rfc3339: format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z",
            date.year(),
            u8::from(date.month()),
            date.day(),
            clock.hour(),
            clock.minute(),
            clock.second(),
        ),
    })
}

/// A whole positive number of credits: digits, optionally grouped by
/// thousands with commas (`1,454,054`).
pub(super) fn parse_quantity(text: &str) -> Option<u64> {
    let text = text.trim();
    let mut groups = text.split(',');
    let first = groups.next()?;
    let grouped = text.contains(',');
    let digits_only = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(first) || (grouped && first.len() > 3) {
        return None;
    }
    let mut all = first.to_owned();
    for group in groups {
        if group.len() != 3 || !digits_only(group) {
            return None;
        }
        all.push_str(group);
    }
    all.parse().ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, dates: Dates) -> Option<String> {
        parse_date(text, dates).map(|s| s.rfc3339)
    }

    #[test]
    fn dates_in_every_form() {
        use Dates::*;
        assert_eq!(
            at("2026-04-03", DayFirst).as_deref(),
            Some("2026-04-03T00:00:00Z")
        );
        assert_eq!(
            at("03/04/2026", DayFirst).as_deref(),
            Some("2026-04-03T00:00:00Z")
        );
        assert_eq!(
            at("03/04/2026", MonthFirst).as_deref(),
            Some("2026-03-04T00:00:00Z")
        );
        assert_eq!(
            at("2026-04-13T12:35:58.842275", Iso).as_deref(),
            Some("2026-04-13T12:35:58.842275Z")
        );
        assert_eq!(
            at("11/3/2025 7:10:41 PM", MonthFirst).as_deref(),
            Some("2025-11-03T19:10:41Z")
        );
        assert_eq!(
            at("1/2/2026 12:21:44 AM", MonthFirst).as_deref(),
            Some("2026-01-02T00:21:44Z")
        );
        assert_eq!(
            at("4/13/2026 12:05:00 PM", MonthFirst).as_deref(),
            Some("2026-04-13T12:05:00Z")
        );
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "31/12/2026",
            "April 3, 2026",
            "2026-4-3",
            "11/3/2025 13:10:41 PM",
            "",
        ] {
            assert_eq!(at(bad, MonthFirst), None, "{bad}");
        }
        assert_eq!(at("03/04/2026", Iso), None);
        assert_eq!(
            parse_date("31/12/2025", DayFirst).map(|s| s.year),
            Some(2025)
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("1,454,054"), Some(1_454_054));
        assert_eq!(parse_quantity(" 425 "), Some(425));
        for bad in ["0", "1,45", "1454,054", "12.5", "-3", "", "1,,000", "1 000"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }
}
