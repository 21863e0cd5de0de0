#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

//! `tests/vectors/serials.json` (from the pure-Python reference in
//! `tests/reference/serials_v1.py`) through the core: the block each
//! canonical serial names, or none, and the serials of its sub-ranges.

use carbon_tracker_core::{canonical_text, parse_serial};
use proptest::prelude::*;
use serde_json::Value;

const SERIALS: &str = include_str!("../../tests/vectors/serials.json");

fn cases() -> Vec<Value> {
    let file: Value = serde_json::from_str(SERIALS).unwrap();
    file["cases"].as_array().unwrap().clone()
}

#[test]
fn every_serial_vector() {
    let cases = cases();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let canonical = canonical_text(case["serial"].as_str().unwrap());
        assert_eq!(canonical, case["canonical"].as_str().unwrap(), "{name}");
        let block = parse_serial(&canonical);
        assert_eq!(
            serde_json::to_value(&block).unwrap(),
            case["block"],
            "{name}"
        );
        let Some(block) = block else { continue };
        for sub in case["sub_ranges"].as_array().unwrap() {
            let (start, end) = (
                sub["start"].as_str().unwrap().parse().unwrap(),
                sub["end"].as_str().unwrap().parse().unwrap(),
            );
            assert_eq!(
                block.render(start, end),
                sub["serial"].as_str().unwrap(),
                "{name}"
            );
        }
    }
}

#[test]
fn every_scheme_has_ten_cases() {
    let mut counts = std::collections::BTreeMap::new();
    for case in cases() {
        let scheme = case["block"]["scheme"]
            .as_str()
            .unwrap_or("not a block")
            .to_owned();
        *counts.entry(scheme).or_insert(0) += 1;
    }
    for scheme in [
        "verra",
        "gold-standard",
        "acr",
        "car",
        "art-trees",
        "puro",
        "undp",
        "cdm",
        "generic",
        "not a block",
    ] {
        assert!(
            counts.get(scheme).copied().unwrap_or(0) >= 10,
            "{scheme}: {counts:?}"
        );
    }
}

proptest! {
    /// Nothing panics, whatever the text.
    #[test]
    fn any_text(text in "\\PC{0,80}") {
        let _ = parse_serial(&text);
    }

    /// A sub-range of a block is a block of the same scheme and prefix with
    /// exactly that range, and renders back to itself.
    #[test]
    fn sub_ranges_parse_back(start in 0_u64..1_000_000, len in 1_u64..1_000_000, cut in 0.0_f64..1.0) {
        let end = start + len - 1;
        let serials = [
            format!("19380-{start}-{end}-vcs-vcu-1310-ver-cn-13-3005-01012022-31102022-0"),
            format!("acr-fr-1129-2025-2917-{start} to {end}"),
            format!("gs1-1-ke-gs11603-16-2025-30256-{start}-{end}"),
            format!("in-5-{start}-1-1-0-1234 - in-5-{end}-1-1-0-1234"),
            format!("vcs-001:{start}-{end}"),
        ];
        for serial in serials {
            let block = parse_serial(&serial);
            // A CDM block of one credit writes the same unit twice: not a block.
            if serial.starts_with("in-") && start == end {
                prop_assert!(block.is_none());
                continue;
            }
            let block = block.unwrap();
            prop_assert_eq!(block.credits(), len);
            prop_assert_eq!(block.render(start, end), serial.clone());
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let front_end = start + ((len - 1) as f64 * cut) as u64;
            let front_serial = block.render(start, front_end);
            let front = parse_serial(&front_serial).unwrap();
            prop_assert_eq!((front.scheme, &front.prefix, &front.suffix), (block.scheme, &block.prefix, &block.suffix));
            prop_assert_eq!((front.start, front.end), (start, front_end));
        }
    }
}
