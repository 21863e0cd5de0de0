#![allow(missing_docs, clippy::expect_used, clippy::print_stdout)]

//! Parsing a registry serial against deriving a record's id, side by side
//! (issue "Credit blocks": parsing costs under 10% of an id).
//!
//! `cargo bench -p carbon-tracker-core --bench serials` prints criterion's
//! figures and then the ratio of the two, from this one run.
//!
//! A third figure is a floor, not a parser: [`separators`] only notes where
//! every separator stands, one byte at a time — the least a parser that
//! splits a serial into fields does. Its ratio to the ids says how far below
//! the 10% any such parser can go on the machine at hand.

use std::hint::black_box;
use std::time::{Duration, Instant};

use carbon_tracker_core::{parse_serial, FieldValue, RecordInput};
use criterion::{criterion_group, Criterion};

/// The SPEC §6 serials of each scheme, canonical.
const SERIALS: &[&str] = &[
    "19380-941382555-941382741-vcs-vcu-1310-ver-cn-13-3005-01012022-31102022-0",
    "gs1-1-ke-gs11603-16-2025-30256-110-5463",
    "acr-fr-1129-2025-2917-30932 to 35143",
    "car-1-us-1335-31-983-ks-2025-9205-1 to 5000",
    "art-gy-102-2016-9-1401 to 1408",
    "puro_pr_corc100+_fi_577166_2020_055a3fbe-eabc-4535-b9cf-1028e7d18f89_1-100",
    "ca0004-vu-ch-356-1-3000-2023",
    "vcs-001:1-100",
];

fn records() -> Vec<RecordInput> {
    SERIALS
        .iter()
        .map(|serial| RecordInput {
            project_name: FieldValue::text("Mangrove Blue Carbon"),
            registry: FieldValue::text("Verra"),
            vintage: FieldValue::Integer(2022),
            quantity: FieldValue::Integer(187),
            serial_number: FieldValue::text(*serial),
        })
        .collect()
}

/// The offsets of every separator a SPEC §6 shape uses (`-`, ` `, `_`, `:`),
/// up to 32 of them: one pass over the bytes and nothing else.
fn separators(serial: &str) -> ([u8; 32], usize) {
    let mut at = [0; 32];
    let mut n = 0;
    for (i, &b) in serial.as_bytes().iter().enumerate() {
        if matches!(b, b'-' | b' ' | b'_' | b':') {
            if let Some(slot) = at.get_mut(n) {
                *slot = u8::try_from(i).unwrap_or(u8::MAX);
                n += 1;
            }
        }
    }
    (at, n)
}

fn serials(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("serials");
    group.bench_function("parse_serial", |b| {
        b.iter(|| {
            SERIALS
                .iter()
                .filter_map(|s| parse_serial(black_box(s)))
                .count()
        });
    });
    group.bench_function("separators (floor)", |b| {
        b.iter(|| {
            SERIALS
                .iter()
                .map(|s| separators(black_box(s)).1)
                .sum::<usize>()
        });
    });
    group.bench_function("record_id", |b| {
        b.iter(|| {
            records
                .iter()
                .filter_map(|r| black_box(r).record_id().ok())
                .count()
        });
    });
    group.finish();
}

/// The mean time of one call of `f`, over 200,000 calls (static dispatch,
/// as criterion's `iter` calls it).
fn time(f: impl Fn() -> usize) -> Duration {
    const ROUNDS: u32 = 200_000;
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(f());
    }
    start.elapsed() / ROUNDS
}

/// All three, timed in turn in one process, five times over (the machine's
/// speed drifts between seconds): the ratios the issue asks about, each
/// repetition's and their medians.
fn summary(records: &[RecordInput]) {
    let parse = || {
        SERIALS
            .iter()
            .filter_map(|s| parse_serial(black_box(s)))
            .count()
    };
    let floor = || {
        SERIALS
            .iter()
            .map(|s| separators(black_box(s)).1)
            .sum::<usize>()
    };
    let ids = || {
        records
            .iter()
            .filter_map(|r| black_box(r).record_id().ok())
            .count()
    };
    let mut ratios = Vec::new();
    for _ in 0..5 {
        let (parse, floor, ids) = (time(parse), time(floor), time(ids));
        let of_ids = |t: Duration| 100.0 * t.as_secs_f64() / ids.as_secs_f64();
        println!(
            "{} serials per round: parse_serial {parse:?} ({:.1}% of the ids), separators (floor) {floor:?} ({:.1}%), record_id {ids:?}",
            SERIALS.len(),
            of_ids(parse),
            of_ids(floor),
        );
        ratios.push((of_ids(parse), of_ids(floor)));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!(
        "median: parsing costs {:.1}% of deriving the ids; the one-pass floor {:.1}%",
        median(ratios.iter().map(|r| r.0).collect()),
        median(ratios.iter().map(|r| r.1).collect()),
    );
}

criterion_group!(benches, serials);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary(&records());
}
