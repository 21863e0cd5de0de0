#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

//! The shared conformance vectors (`tests/vectors/`, written from the Python
//! reference) through the Rust core: ids, rejects and lifecycle histories.

use std::path::PathBuf;

use carbon_tracker_core::api::{self, ApiError};
use carbon_tracker_core::time::format_description::well_known::Rfc3339;
use carbon_tracker_core::time::OffsetDateTime;
use carbon_tracker_core::{Event, FieldValue, IdBatch, RecordInput};
use serde_json::{json, Value};

fn load(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: Value = serde_json::from_str(&text).unwrap();
    file["cases"].as_array().unwrap().clone()
}

fn errors_of(e: &ApiError) -> Vec<Value> {
    e.errors
        .iter()
        .map(|f| json!({"field": f.field, "code": f.code}))
        .collect()
}

/// The outcome of an input, in the vectors' terms.
fn outcome(input: &RecordInput) -> Result<(Value, String), Vec<Value>> {
    match api::derive_id(input) {
        Ok(d) => {
            // The allocation-free path must agree with the canonical-record path.
            assert_eq!(input.record_id().unwrap(), d.id);
            Ok((
                serde_json::to_value(&d.canonical).unwrap(),
                d.id.to_string(),
            ))
        }
        Err(e) => {
            assert_eq!(input.record_id().unwrap_err().errors, e.errors);
            Err(errors_of(&e))
        }
    }
}

/// The input a host that reads numbers as IEEE doubles (JavaScript, Python
/// `float`) would build from the same body.
fn through_doubles(input: &RecordInput) -> RecordInput {
    let f = |v: &FieldValue| match v {
        FieldValue::Number(text) => FieldValue::Float(text.parse().unwrap()),
        other => other.clone(),
    };
    RecordInput {
        project_name: f(&input.project_name),
        registry: f(&input.registry),
        vintage: f(&input.vintage),
        quantity: f(&input.quantity),
        serial_number: f(&input.serial_number),
    }
}

#[test]
fn ids() {
    let cases = load("ids.json");
    assert!(cases.len() >= 300, "{} id cases", cases.len());
    let mut original = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let input = api::parse_record_input(case["body"].as_str().unwrap()).unwrap();
        let (canonical, id) = outcome(&input).unwrap_or_else(|e| panic!("{name}: rejected: {e:?}"));
        assert_eq!(canonical, case["canonical"], "{name}: canonical");
        assert_eq!(id, case["id"].as_str().unwrap(), "{name}: id");
        let doubles = outcome(&through_doubles(&input));
        assert_eq!(
            doubles == Ok((canonical, id)),
            case["float_safe"] == true,
            "{name}: float_safe"
        );
        original += usize::from(case["source"] == "original-service");
    }
    assert_eq!(
        original, 60,
        "every case of the original service is in ids.json"
    );
}

/// Every id case and every reject in one [`IdBatch`], interleaved: the
/// batch's ids are the vectors' (its multi-buffer SHA-256 is not `sha2`), and
/// a reject is refused with the vectors' errors without disturbing the rest.
#[test]
fn ids_in_one_batch() {
    let ids = load("ids.json");
    let rejects = load("rejects.json");
    let mut batch = IdBatch::default();
    let mut expected = Vec::new();
    for (i, case) in ids.iter().enumerate() {
        let input = api::parse_record_input(case["body"].as_str().unwrap()).unwrap();
        batch.push(&input).unwrap();
        expected.push(case["id"].as_str().unwrap());
        let Some(reject) = rejects.get(i) else {
            continue;
        };
        if let Ok(input) = api::parse_record_input(reject["body"].as_str().unwrap()) {
            let errors = batch.push(&input).unwrap_err();
            let errors: Vec<Value> = errors
                .errors
                .iter()
                .map(|f| json!({"field": f.field, "code": f.code}))
                .collect();
            assert_eq!(
                &errors,
                reject["errors"].as_array().unwrap(),
                "{}",
                reject["name"]
            );
        }
    }
    assert_eq!(batch.len(), expected.len());
    let got: Vec<String> = batch.ids().iter().map(ToString::to_string).collect();
    assert_eq!(got, expected);
}

#[test]
fn rejects() {
    for case in load("rejects.json") {
        let name = case["name"].as_str().unwrap();
        let expected = case["errors"].as_array().unwrap();
        let errors = match api::parse_record_input(case["body"].as_str().unwrap()) {
            Ok(input) => outcome(&input)
                .map(|ok| panic!("{name}: accepted as {ok:?}"))
                .unwrap_err(),
            Err(e) => errors_of(&e),
        };
        assert_eq!(&errors, expected, "{name}");
        for e in api::parse_record_input(case["body"].as_str().unwrap())
            .map(|i| api::validate(&i))
            .unwrap_or_default()
        {
            assert!(
                e.message.starts_with(&e.field),
                "{name}: message names the field: {}",
                e.message
            );
        }
    }
}

#[test]
fn lifecycle() {
    for case in load("lifecycle.json") {
        let name = case["name"].as_str().unwrap();
        let events: Vec<Event> = serde_json::from_value(case["events"].clone()).unwrap();
        let got = match case.get("at") {
            None => api::replay(&events).map(|s| serde_json::to_value(s).unwrap()),
            Some(at) => {
                let at = OffsetDateTime::parse(at.as_str().unwrap(), &Rfc3339).unwrap();
                api::state_at(&events, at).map(|s| serde_json::to_value(s).unwrap())
            }
        };
        let expect = &case["expect"];
        match (got, expect.get("state")) {
            (Ok(state), Some(expected)) => assert_eq!(&state, expected, "{name}"),
            (Err(e), None) => {
                let error = &expect["error"];
                assert_eq!(
                    e.code,
                    error["code"].as_str().unwrap(),
                    "{name}: {}",
                    e.message
                );
                let errors = error.get("errors").cloned().unwrap_or(json!([]));
                assert_eq!(Value::from(errors_of(&e)), errors, "{name}");
            }
            (got, _) => panic!("{name}: got {got:?}, expected {expect}"),
        }
    }
}
