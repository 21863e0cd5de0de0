#![allow(
    missing_docs,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::panic
)]

//! Verifying a 10-event certificate (issue "Verifiable history": under 1 ms
//! in Rust): a 187-credit block sold six times, then 37 credits retired,
//! which splits it; the certificate of the retired child holds the block's
//! 8 events and the child's 2, each with its inclusion proof in a log of
//! 100,000 leaves (17 hashes a proof), and a signed checkpoint.
//!
//! `cargo bench -p carbon-tracker-core --features log --bench log` prints
//! criterion's figures and then the median of this one run.

use std::hint::black_box;
use std::time::Instant;

use carbon_tracker_core::log::{
    hash_hex, inclusion_proof, leaf_bytes, leaf_hash, root, sign_checkpoint, verify_certificate,
    Certificate, CertifiedEvent, CertifiedRecord, Checkpoint, Hash, MerkleTree, SignerKey,
};
use carbon_tracker_core::time::macros::datetime;
use carbon_tracker_core::{
    act, next_event, Acted, Action, CanonicalRecord, Event, EventType, FieldValue, RecordInput,
};
use criterion::{criterion_group, Criterion};
use serde_json::{json, Map, Value};

const ORIGIN: &str = "carbon-tracker.example/log";
const FILLER: usize = 100_000;

fn object(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn certificate() -> (Certificate, SignerKey) {
    let block = RecordInput {
        project_name: FieldValue::text("Mangrove Blue Carbon"),
        registry: FieldValue::text("Verra"),
        vintage: FieldValue::Integer(2022),
        quantity: FieldValue::Integer(187),
        serial_number: FieldValue::text(
            "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
        ),
    }
    .canonicalize()
    .unwrap();
    let id = block.id();
    let t = datetime!(2026-01-01 00:00 UTC);
    let (created, mut state) = next_event(None, id, EventType::Created, None, t, [1; 10]).unwrap();
    let mut events = vec![created];
    for n in 0..6u8 {
        let payload =
            object(json!({"buyer": format!("Buyer {n}"), "price": "12.50", "currency": "USD"}));
        let (e, s) =
            next_event(Some(&state), id, EventType::Sold, payload, t, [n + 2; 10]).unwrap();
        events.push(e);
        state = s;
    }
    let payload =
        object(json!({"quantity": 37, "beneficiary": "City of Oslo", "purpose": "public_claim"}));
    let Acted::Split(split) =
        act(&block, &state, Action::Retire, payload, t, [[9; 10]; 4]).unwrap()
    else {
        panic!("a partial retirement splits the block")
    };
    events.push(split.parent.clone());
    let front = split.front.clone();
    // The log: filler leaves, then these events, then the back child.
    let mut leaves: Vec<Hash> = (0..FILLER)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect();
    let mut placed = Vec::new();
    let mut place = |record: &CanonicalRecord, event: &Event, leaves: &mut Vec<Hash>| {
        let created = (event.event_type == EventType::Created).then_some(record);
        leaves.push(leaf_hash(&leaf_bytes(event, created).unwrap()));
        placed.push((event.clone(), leaves.len() as u64 - 1));
    };
    for e in &events {
        place(&block, e, &mut leaves);
    }
    for e in &front.events {
        place(&front.record, e, &mut leaves);
    }
    for e in &split.back.events {
        place(&split.back.record, e, &mut leaves);
    }
    let key = SignerKey::generate(ORIGIN, [42; 32]).unwrap();
    let checkpoint = Checkpoint::new(ORIGIN, leaves.len() as u64, root(&leaves)).unwrap();
    let note = sign_checkpoint(&checkpoint, &key);
    let certified = |record: &CanonicalRecord| CertifiedRecord {
        record: record.clone(),
        events: placed
            .iter()
            .filter(|(e, _)| e.record_id == record.id())
            .map(|(e, index)| CertifiedEvent {
                event: e.clone(),
                index: *index,
                proof: inclusion_proof(&leaves, *index)
                    .unwrap()
                    .iter()
                    .map(hash_hex)
                    .collect(),
            })
            .collect(),
    };
    let cert = Certificate {
        record_id: front.id,
        records: vec![certified(&block), certified(&front.record)],
        checkpoint: note,
    };
    assert_eq!(
        cert.records.iter().map(|r| r.events.len()).sum::<usize>(),
        10
    );
    (cert, key)
}

fn bench(c: &mut Criterion) {
    let (cert, key) = certificate();
    let vkey = key.verifier();
    verify_certificate(&cert, &vkey, None).expect("the certificate verifies");
    c.bench_function("verify_certificate (10 events, 100,011 leaves)", |b| {
        b.iter(|| verify_certificate(black_box(&cert), black_box(&vkey), None).unwrap());
    });
}

/// The median of 2,000 verifications, timed one by one in this process.
fn summary() {
    let (cert, key) = certificate();
    let vkey = key.verifier();
    let mut times: Vec<_> = (0..2_000)
        .map(|_| {
            let start = Instant::now();
            black_box(verify_certificate(black_box(&cert), &vkey, None).unwrap());
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "\nverify_certificate of a 10-event certificate (2 records, log of {} leaves): median {:?}, p90 {:?} (target < 1 ms)",
        FILLER + 11,
        times[times.len() / 2],
        times[times.len() * 9 / 10]
    );
}

/// A stored tree of a million leaves: an inclusion proof and a consistency
/// proof of a past size, and the root (what `GET /events/{id}/proof` and a
/// checkpoint need; the target is a proof served in under 1 ms).
fn tree(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let tree = MerkleTree::from_leaves((0..N).map(|i| leaf_hash(&i.to_be_bytes())));
    let mut i = 0u64;
    c.bench_function("MerkleTree::inclusion_proof (1,000,000 leaves)", |b| {
        b.iter(|| {
            i = (i + 7_919) % N;
            tree.inclusion_proof(black_box(i), N).unwrap()
        });
    });
    c.bench_function(
        "MerkleTree::consistency_proof (999,999 to 1,000,000)",
        |b| {
            b.iter(|| tree.consistency_proof(black_box(N - 1), N).unwrap());
        },
    );
    c.bench_function("MerkleTree::root (1,000,000 leaves)", |b| {
        b.iter(|| black_box(&tree).root());
    });
}

criterion_group!(benches, bench, tree);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
