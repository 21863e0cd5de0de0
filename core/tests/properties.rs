#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Properties of the v1 scheme that must hold for every input, not only for
//! the vectors: spellings that v1 treats as equal give equal ids, nothing
//! panics, and canonical text is a fixed point wherever v1 allows it to be.

use carbon_tracker_core::{canonical_text, FieldValue, RecordInput};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// Python's `str.isspace()` characters (Unicode 14), as `str.strip()` removes them.
const PY_WHITESPACE: &[char] = &[
    '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', ' ', '\u{85}',
    '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}',
    '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}',
    '\u{205f}', '\u{3000}',
];

fn input(project: &str, registry: &str, serial: &str, quantity: &str) -> RecordInput {
    RecordInput {
        project_name: FieldValue::text(project),
        registry: FieldValue::text(registry),
        vintage: FieldValue::Integer(2023),
        quantity: FieldValue::number(quantity),
        serial_number: FieldValue::text(serial),
    }
}

/// Registry-like text: letters (some accented), digits, spaces and dashes.
fn field() -> impl Strategy<Value = String> {
    "[A-Za-z0-9àéîõüçñÀÉÎÕÜÇÑ][A-Za-z0-9 àéîõüçñÀÉÎÕÜÇÑ.-]{0,30}[A-Za-z0-9]"
}

fn whitespace() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PY_WHITESPACE), 0..4)
        .prop_map(|v| v.into_iter().collect())
}

fn quantity() -> impl Strategy<Value = String> {
    (1_u64..10_u64.pow(13), 0_u32..100_000_000).prop_map(|(i, f)| format!("{i}.{f}"))
}

/// Full-width forms (U+FF01..U+FF5E) of ASCII letters and digits: NFKC maps them back.
fn full_width(c: char) -> char {
    if c.is_ascii_alphanumeric() {
        char::from_u32(u32::from(c) - 0x21 + 0xFF01).unwrap()
    } else {
        c
    }
}

fn any_field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        Just(FieldValue::Missing),
        Just(FieldValue::Null),
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i128>().prop_map(FieldValue::Integer),
        any::<f64>().prop_map(FieldValue::Float),
        "[-+]?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][-+]?[0-9]{1,25})?".prop_map(FieldValue::Number),
        any::<String>().prop_map(FieldValue::Text),
        "\\PC{0,300}".prop_map(FieldValue::Text),
        Just(FieldValue::Array),
        Just(FieldValue::Object),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn surrounding_whitespace_never_changes_the_id(
        p in field(), r in field(), s in field(), q in quantity(),
        w in prop::collection::vec(whitespace(), 6),
    ) {
        let plain = input(&p, &r, &s, &q).record_id().unwrap();
        let padded = input(
            &format!("{}{p}{}", w[0], w[1]),
            &format!("{}{r}{}", w[2], w[3]),
            &format!("{}{s}{}", w[4], w[5]),
            &format!("{}{q}{}", w[1], w[4]),
        );
        prop_assert_eq!(padded.record_id().unwrap(), plain);
    }

    #[test]
    fn letter_case_never_changes_the_id(p in field(), r in field(), s in field(), q in quantity(), flips in any::<u64>()) {
        // Flip the case of some letters whose upper and lower forms lowercase alike.
        let flip = |t: &str| -> String {
            t.chars().enumerate().map(|(i, c)| {
                if flips >> (i % 64) & 1 == 1 { c.to_uppercase().next().unwrap() } else { c }
            }).collect()
        };
        let plain = input(&p, &r, &s, &q).record_id().unwrap();
        prop_assert_eq!(input(&flip(&p), &flip(&r), &flip(&s), &q).record_id().unwrap(), plain);
    }

    #[test]
    fn nfkc_equivalent_spellings_never_change_the_id(p in field(), r in field(), s in field(), q in quantity(), pick in any::<u64>()) {
        // Full-width letters and digits, and decomposed accents, are the same text to v1.
        let respell = |t: &str| -> String {
            t.nfd().enumerate().map(|(i, c)| if pick >> (i % 64) & 1 == 1 { full_width(c) } else { c }).collect()
        };
        let plain = input(&p, &r, &s, &q).record_id().unwrap();
        prop_assert_eq!(input(&respell(&p), &respell(&r), &respell(&s), &q).record_id().unwrap(), plain);
    }

    #[test]
    fn arbitrary_input_never_panics_and_both_paths_agree(
        p in any_field_value(), r in any_field_value(), v in any_field_value(),
        q in any_field_value(), s in any_field_value(),
    ) {
        let input = RecordInput { project_name: p, registry: r, vintage: v, quantity: q, serial_number: s };
        match (input.canonicalize(), input.record_id()) {
            (Ok(record), Ok(id)) => prop_assert_eq!(record.id(), id),
            (Err(a), Err(b)) => {
                prop_assert!(!a.errors.is_empty());
                prop_assert_eq!(a, b);
            }
            (a, b) => prop_assert!(false, "paths disagree: {a:?} vs {b:?}"),
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,200}") {
        let _ = carbon_tracker_core::api::parse_record_input(&text).map(|i| i.record_id());
    }

    #[test]
    fn canonical_text_is_a_fixed_point_where_v1_allows(raw in any::<String>()) {
        let once = canonical_text(&raw);
        // v1 lowercases *before* NFKC, so NFKC can leave capitals (ℌ → H) or
        // surrounding spaces (¨ → " ̈"); a second pass changes those, and only those.
        let lowercase_stable = once.chars().all(|c| c.to_lowercase().eq(std::iter::once(c)));
        let trimmed = once.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)) == once;
        if lowercase_stable && trimmed {
            prop_assert_eq!(canonical_text(&once), once);
        }
    }

    #[test]
    fn a_canonical_record_reads_back_as_itself(p in field(), r in field(), s in field(), q in quantity()) {
        let record = input(&p, &r, &s, &q).canonicalize().unwrap();
        let again = input(&record.project_name, &record.registry, &record.serial_number, &record.quantity.to_string());
        prop_assert_eq!(again.canonicalize().unwrap(), record);
    }
}

/// The cases where a second canonicalization differs, which v1 keeps as they
/// are (SPEC §2.1): the ids of such records must not be "fixed".
#[test]
fn known_non_fixed_points() {
    assert_eq!(canonical_text("ℌ"), "H");
    assert_eq!(canonical_text("H"), "h");
    assert_eq!(canonical_text("\u{a8}"), " \u{308}");
    assert_eq!(canonical_text(" \u{308}"), "\u{308}");
}
