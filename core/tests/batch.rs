#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

//! [`IdBatch`] hashes with `tape-sha256`'s multi-buffer SHA-256;
//! [`RecordInput::record_id`] with `sha2`. The two must agree on every line:
//! any length (one, two or more 64-byte blocks, and the lengths next to the
//! padding boundaries at 55/56 and 119/120 bytes), any batch size (full and
//! partial groups of lanes), valid and invalid records mixed.

use carbon_tracker_core::{FieldValue, IdBatch, RecordInput};
use proptest::prelude::*;

fn input(project: &str, serial: &str, quantity: &str) -> RecordInput {
    RecordInput {
        project_name: FieldValue::text(project),
        registry: FieldValue::text("VCS"),
        vintage: FieldValue::Integer(2023),
        quantity: FieldValue::number(quantity),
        serial_number: FieldValue::text(serial),
    }
}

/// A record, or (one time in eight) an invalid one.
fn record() -> impl Strategy<Value = RecordInput> {
    (
        "[a-z][a-z0-9 éü€𝄞]{0,200}[a-z]",
        "[a-z0-9-]{1,40}",
        prop_oneof![7 => Just("100"), 1 => Just("-1")],
    )
        .prop_map(|(p, s, q)| input(&p, &s, q))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn batch_ids_are_sha2_ids(records in prop::collection::vec(record(), 0..40)) {
        let mut batch = IdBatch::with_capacity(records.len());
        let mut expected = Vec::new();
        for r in &records {
            let one = r.record_id();
            let pushed = batch.push(r);
            prop_assert_eq!(pushed.is_ok(), one.is_ok());
            if let Ok(id) = one {
                expected.push(id);
            }
        }
        prop_assert_eq!(batch.len(), expected.len());
        prop_assert_eq!(batch.ids(), expected);
    }
}

/// Lines of every length from 9 to 300 bytes, in one batch.
#[test]
fn every_line_length() {
    let mut batch = IdBatch::default();
    let mut expected = Vec::new();
    // The shortest line: "p|vcs|2023|100.0000|s" is 21 bytes; pad the project name.
    for extra in 0_usize..280 {
        // Fields hold at most 256 characters: the serial takes the rest.
        let (p, s) = (extra.min(250), extra.saturating_sub(250));
        let r = input(
            &format!("p{}", "x".repeat(p)),
            &format!("s{}", "y".repeat(s)),
            "100",
        );
        expected.push(r.record_id().unwrap());
        batch.push(&r).unwrap();
    }
    assert_eq!(batch.ids(), expected);
    batch.clear();
    assert!(batch.is_empty());
    assert!(batch.ids().is_empty());
}
