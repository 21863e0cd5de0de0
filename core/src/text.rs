//! Canonical text fields (SPEC §2.1): Python's `str.strip()`, then full
//! lowercase, then NFKC, in that order, plus the v1 validation of the result.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use crate::error::ErrorCode;

/// Maximum length of a canonical text field, in characters (code points).
pub const MAX_TEXT_CHARS: usize = 256;

/// Python's `str.isspace()`: Unicode `White_Space` plus the information
/// separators U+001C..U+001F, which Python also treats as whitespace.
pub(crate) fn is_py_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_whitespace)
}

/// Appends the v1 canonical form of `raw` to `out` and returns the codes of
/// every v1 rule the canonical form breaks (empty when it is valid).
///
/// ASCII text (most registry data) takes a fast path: for ASCII, Python's
/// `lower()` is ASCII lowercasing and NFKC is the identity, so one copy and an
/// in-place lowercase give the same bytes with no allocation.
pub(crate) fn push_canonical(raw: &str, out: &mut String) -> TextProblems {
    let trimmed = py_strip(raw);
    let start = out.len();
    if trimmed.is_ascii() {
        out.push_str(trimmed);
        if let Some(pushed) = out.get_mut(start..) {
            pushed.make_ascii_lowercase();
        }
        let bytes = trimmed.as_bytes();
        return TextProblems {
            empty: bytes.is_empty(),
            separator: bytes.contains(&b'|'),
            control: bytes.iter().any(u8::is_ascii_control),
            too_long: bytes.len() > MAX_TEXT_CHARS,
        };
    }
    // `str::to_lowercase` applies the full mappings and the final-sigma rule,
    // as Python's `str.lower()` does.
    let lowered = trimmed.to_lowercase();
    if is_nfkc_quick(lowered.chars()) == IsNormalized::Yes {
        out.push_str(&lowered);
    } else {
        out.extend(lowered.nfkc());
    }
    let pushed = out.get(start..).unwrap_or_default();
    TextProblems {
        empty: pushed.is_empty(),
        separator: pushed.contains('|'),
        control: pushed.chars().any(char::is_control),
        too_long: pushed.chars().nth(MAX_TEXT_CHARS).is_some(),
    }
}

/// Which v1 text rules a canonical field breaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TextProblems {
    empty: bool,
    separator: bool,
    control: bool,
    too_long: bool,
}

impl TextProblems {
    /// The codes of the broken rules, in a fixed order.
    pub(crate) fn codes(self) -> impl Iterator<Item = ErrorCode> {
        [
            (self.empty, ErrorCode::Empty),
            (self.separator, ErrorCode::ContainsSeparator),
            (self.control, ErrorCode::ControlCharacter),
            (self.too_long, ErrorCode::TooLong),
        ]
        .into_iter()
        .filter_map(|(broken, code)| broken.then_some(code))
    }
}

/// The v1 canonical form of one text field, without validation.
pub fn canonical_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    push_canonical(raw, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(canonical_text("  Solar Farm \n"), "solar farm");
        assert_eq!(canonical_text("\u{1c}Ⓐ\t\r"), "a");
        assert_eq!(canonical_text("İ"), "i\u{307}");
        assert_eq!(canonical_text("ΟΔΟΣ"), "οδος");
        assert_eq!(canonical_text("ℌ"), "H");
        assert_eq!(canonical_text("ﬁ"), "fi");
        assert_eq!(canonical_text("ＡＢ"), "ab");
    }

    #[test]
    fn problems() {
        let codes = |s: &str| {
            let mut out = String::new();
            push_canonical(s, &mut out).codes().collect::<Vec<_>>()
        };
        assert_eq!(codes(" \u{3000}\n"), [ErrorCode::Empty]);
        assert_eq!(codes("a|b"), [ErrorCode::ContainsSeparator]);
        assert_eq!(codes("a\tb"), [ErrorCode::ControlCharacter]);
        assert_eq!(codes("é\u{85}é"), [ErrorCode::ControlCharacter]);
        assert_eq!(codes(&"a".repeat(257)), [ErrorCode::TooLong]);
        assert!(codes(&"é".repeat(256)).is_empty());
        assert_eq!(codes(&"é".repeat(257)), [ErrorCode::TooLong]);
    }
}
