//! Canonical text fields (SPEC §2.1): Python's `str.strip()`, then full
//! lowercase, then NFKC, in that order, plus the v1 validation of the result.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use crate::error::ErrorCode;

/// Maximum length of a canonical text field, in characters (code points).
pub const MAX_TEXT_CHARS: usize = 256;

/// Every character Python's `str.isspace()` accepts (Unicode `White_Space`
/// plus U+001C..U+001F), in code point order: the set Python's
/// `str.strip()` removes (SPEC §2.1), for hosts that strip
/// elsewhere than here — SQL's `trim(text, characters)` when a store filters
/// by holder (SPEC §6).
pub const PY_WHITESPACE: &str = "\t\n\u{b}\u{c}\r\u{1c}\u{1d}\u{1e}\u{1f} \u{85}\u{a0}\u{1680}\
    \u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200a}\
    \u{2028}\u{2029}\u{202f}\u{205f}\u{3000}";

/// Python's `str.strip()` with no argument (SPEC §2.1): `s` without the
/// [`PY_WHITESPACE`] at either end. A holder is a sale's buyer stripped so
/// (SPEC §6), and so is every canonical text before its other rules.
pub fn py_strip(s: &str) -> &str {
    // Most input has no surrounding whitespace: two byte tests decide that.
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    if plain(s.as_bytes().first()) && plain(s.as_bytes().last()) {
        return s;
    }
    s.trim_matches(|c| PY_WHITESPACE.contains(c))
}

/// Where canonical text is written: a `String` for canonical records, a byte
/// buffer for the allocation-free id path.
pub(crate) trait Sink {
    /// Appends text.
    fn push_str(&mut self, s: &str);
    /// Appends ASCII `bytes` lowercased; `true` if any byte is a control
    /// character or `|` (so the caller looks closer only in that rare case).
    fn push_ascii_lowercase(&mut self, bytes: &str) -> bool;
}

/// `true` for the bytes that break a v1 text rule: ASCII controls and `|`.
fn suspect(b: u8) -> bool {
    (b < b' ') | (b == 0x7f) | (b == b'|')
}

impl Sink for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }

    fn push_ascii_lowercase(&mut self, ascii: &str) -> bool {
        let start = self.len();
        String::push_str(self, ascii);
        if let Some(pushed) = self.get_mut(start..) {
            pushed.make_ascii_lowercase();
        }
        ascii.bytes().fold(false, |acc, b| acc | suspect(b))
    }
}

impl Sink for Vec<u8> {
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    fn push_ascii_lowercase(&mut self, ascii: &str) -> bool {
        // Eight bytes at a time (fields are mostly shorter than a SIMD
        // register), then the tail byte by byte.
        let mut chunks = ascii.as_bytes().chunks_exact(8);
        let mut found = false;
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            let (lower, bad) = swar::lowercase_and_suspect(word);
            self.extend_from_slice(&lower.to_le_bytes());
            found |= bad;
        }
        for &b in chunks.remainder() {
            found |= suspect(b);
            self.push(b.to_ascii_lowercase());
        }
        found
    }
}

/// Eight ASCII bytes in a `u64` at once ("SIMD within a register").
///
/// Every byte is below 0x80, so adding a constant below 0x80 to each byte never
/// carries into the next one, and each byte's top bit answers one comparison.
mod swar {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;

    /// Each byte's top bit set where `byte >= n` (for `n` in `1..=0x80`).
    const fn at_least(word: u64, n: u8) -> u64 {
        // 0x80 - n fits in a byte and byte + (0x80 - n) < 0x100.
        word.wrapping_add(ONES.wrapping_mul(0x80 - n as u64)) & TOPS
    }

    /// The bytes lowercased, and whether any byte is a control character
    /// (below 0x20 or 0x7f) or `|` (0x7c).
    pub(super) const fn lowercase_and_suspect(word: u64) -> (u64, bool) {
        let upper = at_least(word, b'A') & !at_least(word, b'Z' + 1);
        let lower = word | (upper >> 2);
        let control = !at_least(word, b' ') & TOPS;
        let delete = at_least(word, 0x7f);
        let pipe = word ^ ONES.wrapping_mul(b'|' as u64);
        let has_pipe = pipe.wrapping_sub(ONES) & !pipe & TOPS;
        (lower, (control | delete | has_pipe) != 0)
    }

    #[cfg(test)]
    mod tests {
        /// Against the byte-by-byte definition, for every byte in every lane.
        #[test]
        fn matches_bytewise() {
            for b in 0..0x80_u8 {
                for lane in 0..8 {
                    let mut bytes = *b"Ab|z@[`{";
                    bytes[lane] = b;
                    let word = u64::from_le_bytes(bytes);
                    let (lower, _) = super::lowercase_and_suspect(word);
                    assert_eq!(lower.to_le_bytes(), bytes.map(|c| c.to_ascii_lowercase()));
                    let clean = *b"Ab_z@[`{";
                    let mut probe = clean;
                    probe[lane] = b;
                    let (_, bad) = super::lowercase_and_suspect(u64::from_le_bytes(probe));
                    assert_eq!(
                        bad,
                        probe.iter().any(|&c| super::super::suspect(c)),
                        "byte {b:#x} lane {lane}"
                    );
                }
            }
        }
    }
}

/// Appends the v1 canonical form of `raw` to `out` and returns the codes of
/// every v1 rule the canonical form breaks (empty when it is valid).
///
/// ASCII text (most registry data) takes a fast path: for ASCII, Python's
/// `lower()` is ASCII lowercasing and NFKC is the identity, so one pass over
/// the bytes gives the same result with no allocation.
pub(crate) fn push_canonical(raw: &str, out: &mut impl Sink) -> TextProblems {
    let trimmed = py_strip(raw);
    if trimmed.is_ascii() {
        let bytes = trimmed.as_bytes();
        let suspect = out.push_ascii_lowercase(trimmed);
        return TextProblems {
            empty: bytes.is_empty(),
            separator: suspect && bytes.contains(&b'|'),
            control: suspect && bytes.iter().any(u8::is_ascii_control),
            too_long: bytes.len() > MAX_TEXT_CHARS,
        };
    }
    // `str::to_lowercase` applies the full mappings and the final-sigma rule,
    // as Python's `str.lower()` does.
    let lowered = trimmed.to_lowercase();
    let canonical = if is_nfkc_quick(lowered.chars()) == IsNormalized::Yes {
        lowered
    } else {
        lowered.nfkc().collect()
    };
    out.push_str(&canonical);
    TextProblems {
        empty: canonical.is_empty(),
        separator: canonical.contains('|'),
        control: canonical.chars().any(char::is_control),
        too_long: canonical.chars().nth(MAX_TEXT_CHARS).is_some(),
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

    /// The list is Unicode `White_Space` (Rust's `char::is_whitespace`) plus
    /// the information separators, over every code point, in order.
    #[test]
    fn py_whitespace_lists_every_whitespace_character() {
        let listed: Vec<char> = PY_WHITESPACE.chars().collect();
        let all: Vec<char> = (char::MIN..=char::MAX)
            .filter(|&c| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
            .collect();
        assert_eq!(listed, all);
    }

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
