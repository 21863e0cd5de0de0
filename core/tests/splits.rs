#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

//! `tests/vectors/splits.json` (from the pure-Python reference in
//! `tests/reference/splits_v1.py`) through the core's `act`: whole actions,
//! splits with their children, ids and events, and the errors.

use carbon_tracker_core::api::ApiError;
use carbon_tracker_core::time::format_description::well_known::Rfc3339;
use carbon_tracker_core::time::OffsetDateTime;
use carbon_tracker_core::{act, replay, Acted, Action, CanonicalRecord, Event};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const SPLITS: &str = include_str!("../../tests/vectors/splits.json");

/// An event as the vectors write it: without its random id.
fn event(e: &Event) -> Value {
    let mut v = serde_json::to_value(e).unwrap();
    v.as_object_mut().unwrap().remove("id");
    v
}

fn outcome(acted: &Acted) -> Value {
    match acted {
        Acted::Whole(e) => json!({"whole": event(e)}),
        Acted::Split(s) => {
            let child = |c: &carbon_tracker_core::Child| json!({"record": c.record, "id": c.id, "events": c.events.iter().map(event).collect::<Vec<_>>()});
            json!({"split": {"parent": event(&s.parent), "front": child(&s.front), "back": child(&s.back)}})
        }
    }
}

fn action(name: &str) -> Action {
    match name {
        "SOLD" => Action::Sell,
        "RETIRED" => Action::Retire,
        "CANCELLED" => Action::Cancel,
        other => panic!("{other}"),
    }
}

#[test]
fn every_split_vector() {
    let file: Value = serde_json::from_str(SPLITS).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let record: CanonicalRecord = serde_json::from_value(case["record"].clone()).unwrap();
        let history: Vec<Event> = serde_json::from_value(case["history"].clone()).unwrap();
        let state = replay(&history).unwrap();
        let payload: Option<Map<String, Value>> =
            serde_json::from_value(case["payload"].clone()).unwrap();
        let now = OffsetDateTime::parse(case["now"].as_str().unwrap(), &Rfc3339).unwrap();
        let got = act(
            &record,
            &state,
            action(case["action"].as_str().unwrap()),
            payload,
            now,
            [[7; 10]; 4],
        );
        match got {
            Ok(acted) => {
                assert_eq!(outcome(&acted), case["expect"], "{name}");
                if let Acted::Split(split) = &acted {
                    // Each child's history replays, and its id is its own fields' v1 id.
                    for child in [&split.front, &split.back] {
                        assert_eq!(child.record.id(), child.id, "{name}");
                        replay(&child.events).unwrap();
                    }
                    let mut parent = history.clone();
                    parent.push(split.parent.clone());
                    assert_eq!(replay(&parent).unwrap().status.as_str(), "SPLIT", "{name}");
                }
            }
            Err(e) => {
                let e = ApiError::from(e);
                let errors: Vec<Value> = e
                    .errors
                    .iter()
                    .map(|f| json!({"field": f.field, "code": f.code}))
                    .collect();
                assert_eq!(
                    json!({"error": {"code": e.code, "errors": errors}}),
                    case["expect"],
                    "{name}"
                );
            }
        }
    }
}

proptest! {
    /// Any sequence of partial retirements on a block conserves its credits:
    /// the leaves add up to the root, their ranges are disjoint, inside the
    /// root and tile it, and each child's id is the v1 id of its own fields.
    #[test]
    fn partial_actions_conserve_the_block(start in 1_u64..1_000_000_000, len in 2_u64..10_000, cuts in prop::collection::vec(1_u64..5_000, 1..8)) {
        let end = start + len - 1;
        let record: CanonicalRecord = serde_json::from_value(json!({
            "project_name": "p", "registry": "r", "vintage": 2022,
            "quantity": format!("{len}.0000"), "serial_number": format!("lot:{start}-{end}"),
        })).unwrap();
        let created = json!([{"id": "00000000-0000-7000-8000-000000000001", "record_id": record.id(), "seq": 1,
            "event_type": "CREATED", "payload": null, "created_at": "2026-01-01T00:00:00Z"}]);
        let mut current = (record, serde_json::from_value::<Vec<Event>>(created).unwrap());
        let mut leaves: Vec<(u64, u64)> = Vec::new();
        for cut in cuts {
            let block = carbon_tracker_core::parse_serial(&current.0.serial_number).unwrap();
            if cut >= block.credits() {
                break;
            }
            let state = replay(&current.1).unwrap();
            let payload = json!({"quantity": cut}).as_object().cloned();
            let Acted::Split(split) = act(&current.0, &state, Action::Retire, payload, OffsetDateTime::UNIX_EPOCH, [[1; 10]; 4]).unwrap() else {
                panic!("a partial retirement splits");
            };
            let front = carbon_tracker_core::parse_serial(&split.front.record.serial_number).unwrap();
            prop_assert_eq!(split.front.record.id(), split.front.id);
            prop_assert_eq!(split.back.record.id(), split.back.id);
            prop_assert_eq!(front.credits(), cut);
            leaves.push((front.start, front.end));
            current = (split.back.record.clone(), split.back.events.clone());
        }
        let rest = carbon_tracker_core::parse_serial(&current.0.serial_number).unwrap();
        leaves.push((rest.start, rest.end));
        leaves.sort_unstable();
        prop_assert_eq!(leaves.first().map(|l| l.0), Some(start));
        prop_assert_eq!(leaves.last().map(|l| l.1), Some(end));
        for pair in leaves.windows(2) {
            prop_assert_eq!(pair[0].1 + 1, pair[1].0, "the leaves tile the block");
        }
        prop_assert_eq!(leaves.iter().map(|(a, b)| b - a + 1).sum::<u64>(), len);
    }
}
