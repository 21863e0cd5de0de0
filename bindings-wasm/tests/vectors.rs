//! The package's exports, called as JavaScript calls them, under Node
//! (`wasm-pack test --node`) and in headless Chromium (`wasm-pack test
//! --headless --chrome`). Expected values come from `tests/vectors/`, never
//! from the code under test. The full vector sets run through the built npm
//! package in `tests/node/vectors.test.mjs`; this checks the same binding
//! inside each engine: the main module's exports and the certificate
//! verifier's (the crate's default features build both).
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use carbon_tracker_wasm::{
    canonicalize, key_fingerprint, record_id, record_ids, replay, split_block, state_at, validate,
    verify_certificate,
};
use js_sys::{Array, Reflect, JSON};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const IDS: &str = include_str!("../../tests/vectors/ids.json");
const REJECTS: &str = include_str!("../../tests/vectors/rejects.json");
const LIFECYCLE: &str = include_str!("../../tests/vectors/lifecycle.json");
const SPLITS: &str = include_str!("../../tests/vectors/splits.json");
const LOG: &str = include_str!("../../tests/vectors/log.json");

fn cases(text: &str) -> Vec<Value> {
    let file: Value = serde_json::from_str(text).unwrap();
    file["cases"].as_array().unwrap().clone()
}

/// A vector body as JavaScript's own `JSON.parse` reads it.
fn js_body(case: &Value) -> JsValue {
    JSON::parse(case["body"].as_str().unwrap()).unwrap()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

fn field_codes(errors: &JsValue) -> Vec<(String, String)> {
    errors
        .unchecked_ref::<Array>()
        .iter()
        .map(|e| {
            (
                get(&e, "field").as_string().unwrap(),
                get(&e, "code").as_string().unwrap(),
            )
        })
        .collect()
}

fn expected_codes(case: &Value) -> Vec<(String, String)> {
    case["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[wasm_bindgen_test]
fn float_safe_ids_through_json_parse() {
    let cases = cases(IDS);
    let safe: Vec<_> = cases.iter().filter(|c| c["float_safe"] == true).collect();
    assert!(safe.len() > 300);
    for case in safe {
        let name = case["name"].as_str().unwrap();
        let body = js_body(case);
        assert_eq!(
            record_id(&body).ok(),
            case["id"].as_str().map(str::to_owned),
            "{name}"
        );
        let canonical = canonicalize(&body).unwrap();
        let expected = &case["canonical"];
        for key in ["project_name", "registry", "quantity", "serial_number"] {
            assert_eq!(
                get(&canonical, key).as_string().as_deref(),
                expected[key].as_str(),
                "{name} {key}"
            );
        }
        assert_eq!(
            get(&canonical, "vintage").as_f64(),
            expected["vintage"].as_f64(),
            "{name}"
        );
    }
}

#[wasm_bindgen_test]
fn exact_quantities_as_strings() {
    // The cases a double cannot hold: the quantity passed as its exact text.
    for case in cases(IDS).iter().filter(|c| c["float_safe"] == false) {
        let body = js_body(case);
        let exact: Value = serde_json::from_str(case["body"].as_str().unwrap()).unwrap();
        let text = exact["quantity"].to_string();
        Reflect::set(&body, &"quantity".into(), &JsValue::from_str(&text)).unwrap();
        assert_eq!(
            record_id(&body).ok(),
            case["id"].as_str().map(str::to_owned),
            "{}",
            case["name"]
        );
    }
}

#[wasm_bindgen_test]
fn batch_matches_single_ids() {
    let cases = cases(IDS);
    let safe: Vec<_> = cases
        .iter()
        .filter(|c| c["float_safe"] == true)
        .take(50)
        .collect();
    let inputs: Array = safe.iter().map(|c| js_body(c)).collect();
    let ids = record_ids(&inputs, &JsValue::UNDEFINED).unwrap();
    let got: Vec<_> = ids.iter().map(|id| id.as_string().unwrap()).collect();
    let want: Vec<_> = safe
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
}

#[wasm_bindgen_test]
fn rejects_throw_validation_errors() {
    for case in cases(REJECTS).iter().filter(|c| c["float_safe"] == true) {
        let name = case["name"].as_str().unwrap();
        let body = js_body(case);
        assert_eq!(
            field_codes(&validate(&body).unwrap()),
            expected_codes(case),
            "{name}"
        );
        let thrown = record_id(&body).expect_err(name);
        assert!(thrown.is_instance_of::<js_sys::Error>(), "{name}");
        assert_eq!(
            get(&thrown, "name").as_string().as_deref(),
            Some("ValidationError"),
            "{name}"
        );
        assert_eq!(
            field_codes(&get(&thrown, "errors")),
            expected_codes(case),
            "{name}"
        );
    }
}

#[wasm_bindgen_test]
fn lone_surrogates_are_refused() {
    // "\uD800" cannot come from a Rust string: build it in JavaScript.
    let body = JSON::parse(
        r#"{"project_name": "Solar \ud800", "registry": "VCS", "vintage": 2023, "quantity": 1, "serial_number": "\udfff"}"#,
    )
    .unwrap();
    assert_eq!(
        field_codes(&validate(&body).unwrap()),
        [
            ("project_name".to_owned(), "invalid_unicode".to_owned()),
            ("serial_number".to_owned(), "invalid_unicode".to_owned())
        ]
    );
}

#[wasm_bindgen_test]
fn lifecycle_vectors() {
    for case in cases(LIFECYCLE) {
        let name = case["name"].as_str().unwrap();
        let events = JSON::parse(&case["events"].to_string()).unwrap();
        let outcome = match case.get("at") {
            Some(at) => state_at(&events, &JsValue::from_str(at.as_str().unwrap())),
            None => replay(&events),
        };
        let expect = &case["expect"];
        if let Some(state) = expect.get("state") {
            let got = JSON::stringify(&outcome.expect(name)).unwrap();
            let got: Value = serde_json::from_str(&String::from(got)).unwrap();
            assert_eq!(&got, state, "{name}");
        } else {
            let thrown = outcome.expect_err(name);
            assert!(thrown.is_instance_of::<js_sys::Error>(), "{name}");
            assert_eq!(
                get(&thrown, "name").as_string().as_deref(),
                Some("TransitionError"),
                "{name}"
            );
            assert_eq!(
                get(&thrown, "code").as_string().as_deref(),
                expect["error"]["code"].as_str(),
                "{name}"
            );
        }
    }
}

/// `value` without its events' ids, which are random (the vectors leave them out).
fn without_event_ids(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("event_type") {
                map.remove("id");
            }
            map.values_mut().for_each(without_event_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(without_event_ids),
        _ => {}
    }
}

#[wasm_bindgen_test]
fn split_vectors() {
    for case in cases(SPLITS) {
        let name = case["name"].as_str().unwrap();
        let js = |key: &str| JSON::parse(&case[key].to_string()).unwrap();
        let outcome = split_block(
            &js("record"),
            &js("history"),
            &js("action"),
            Some(js("payload")),
            Some(js("now")),
        );
        let expect = &case["expect"];
        if let Some(error) = expect.get("error") {
            let thrown = outcome.expect_err(name);
            assert_eq!(
                get(&thrown, "code").as_string().as_deref(),
                error["code"].as_str(),
                "{name}"
            );
        } else {
            let got = JSON::stringify(&outcome.expect(name)).unwrap();
            let mut got: Value = serde_json::from_str(&String::from(got)).unwrap();
            // Event ids come from this engine's crypto.getRandomValues: UUIDv7s.
            let parent_id = got
                .pointer("/split/parent/id")
                .or_else(|| got.pointer("/whole/id"))
                .and_then(Value::as_str)
                .unwrap()
                .to_owned();
            assert_eq!(
                uuid::Uuid::parse_str(&parent_id).unwrap().get_version_num(),
                7
            );
            without_event_ids(&mut got);
            assert_eq!(&got, expect, "{name}");
        }
    }
}

#[wasm_bindgen_test]
fn id_scheme_is_the_cores() {
    let file: Value = serde_json::from_str(IDS).unwrap();
    assert_eq!(
        file["scheme"].as_str(),
        Some(carbon_tracker_core::ID_SCHEME)
    );
    assert_eq!(
        carbon_tracker_wasm::exported_id_scheme(),
        carbon_tracker_core::ID_SCHEME
    );
}

#[wasm_bindgen_test]
fn certificate_vectors() {
    let file: Value = serde_json::from_str(LOG).unwrap();
    let cases = file["certificates"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let certificate = JSON::parse(&case["certificate"].to_string()).unwrap();
        let key = JsValue::from_str(case["vkey"].as_str().unwrap());
        let trusted = case
            .get("trusted")
            .map(|t| JSON::parse(&t.to_string()).unwrap());
        let outcome = verify_certificate(&certificate, &key, trusted);
        let expect = &case["expect"];
        if let Some(verified) = expect.get("verified") {
            let got = JSON::stringify(&outcome.expect(name)).unwrap();
            let got: Value = serde_json::from_str(&String::from(got)).unwrap();
            assert_eq!(&got, verified, "{name}");
        } else {
            let thrown = outcome.expect_err(name);
            assert!(thrown.is_instance_of::<js_sys::Error>(), "{name}");
            assert_eq!(
                get(&thrown, "name").as_string().as_deref(),
                Some("CertificateError"),
                "{name}"
            );
            assert_eq!(
                get(&thrown, "code").as_string().as_deref(),
                expect["error"]["code"].as_str(),
                "{name}"
            );
            assert_eq!(
                get(&thrown, "detail").as_string().as_deref(),
                expect["error"]["detail"].as_str(),
                "{name}"
            );
        }
    }
}

#[wasm_bindgen_test]
fn key_fingerprints() {
    let file: Value = serde_json::from_str(LOG).unwrap();
    let mut checked = 0;
    for case in file["keys"].as_array().unwrap() {
        let (Some(vkey), Some(expect)) = (case["vkey"].as_str(), case.get("expect")) else {
            continue;
        };
        let got = key_fingerprint(&JsValue::from_str(vkey));
        if let Some(fingerprint) = expect.get("fingerprint") {
            assert_eq!(got.ok().as_deref(), fingerprint.as_str(), "{vkey}");
            checked += 1;
        } else if let Some(code) = expect.get("error").and_then(Value::as_str) {
            let thrown = got.expect_err(vkey);
            assert!(thrown.is_instance_of::<js_sys::TypeError>(), "{vkey}");
            let message = get(&thrown, "message").as_string().unwrap();
            assert!(message.contains(&format!("({code})")), "{vkey}: {message}");
            checked += 1;
        }
    }
    assert!(checked > 50);
}
