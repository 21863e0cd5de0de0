#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! `last_event_types`, the projection a store's status filter uses, agrees
//! with `replay` on every history of up to six events: whatever status a
//! valid history adds up to, its last event's type is one the projection
//! lists for that status, and no other status lists it.

use carbon_tracker_core::lifecycle::{last_event_types, next_event, replay, EventType, Status};
use carbon_tracker_core::RecordId;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

fn payload(event_type: EventType) -> Option<Map<String, Value>> {
    match event_type {
        EventType::Sold => json!({"buyer": "Acme"}).as_object().cloned(),
        EventType::Split => json!({"front": "a".repeat(64), "back": "b".repeat(64), "quantity": 1})
            .as_object()
            .cloned(),
        _ => None,
    }
}

/// Every sequence of event types of length `len`.
fn sequences(len: usize) -> Vec<Vec<EventType>> {
    (0..len).fold(vec![Vec::new()], |acc, _| {
        acc.into_iter()
            .flat_map(|seq| {
                EventType::ALL.into_iter().map(move |t| {
                    let mut next = seq.clone();
                    next.push(t);
                    next
                })
            })
            .collect()
    })
}

#[test]
fn the_status_filter_projection_agrees_with_replay() {
    let id = RecordId::of_canonical_line("a|b|2023|1.0000|c");
    let now = OffsetDateTime::UNIX_EPOCH;
    let mut seen = std::collections::HashSet::new();
    for len in 1..=6 {
        for types in sequences(len) {
            let mut events = Vec::new();
            let mut state = None;
            let mut valid = true;
            for t in types {
                match next_event(state.as_ref(), id, t, payload(t), now, [0; 10]) {
                    Ok((event, next)) => {
                        events.push(event);
                        state = Some(next);
                    }
                    Err(_) => {
                        valid = false;
                        break;
                    }
                }
            }
            if !valid {
                continue;
            }
            let status = replay(&events).unwrap().status;
            let last = events.last().unwrap().event_type;
            assert!(
                last_event_types(status).contains(&last),
                "{status} after {last}"
            );
            for other in Status::ALL.into_iter().filter(|s| *s != status) {
                assert!(
                    !last_event_types(other).contains(&last),
                    "{other} also lists {last}"
                );
            }
            seen.insert(status);
        }
    }
    assert_eq!(seen.len(), Status::ALL.len(), "every status is reached");
}

#[test]
fn statuses_and_event_types_parse_their_own_names() {
    for s in Status::ALL {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    for t in EventType::ALL {
        assert_eq!(EventType::parse(t.as_str()), Some(t));
    }
    assert_eq!(Status::parse("active"), None);
}
