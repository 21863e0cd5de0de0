#![allow(missing_docs, clippy::expect_used, clippy::print_stdout)]

//! Parsing a registry serial against deriving a record's id, side by side
//! (issue "Credit blocks": parsing costs under 10% of an id).
//!
//! `cargo bench -p carbon-tracker-core --bench serials` prints criterion's
//! figures and then the ratio of the two, from this one run.

use std::hint::black_box;
use std::time::Instant;

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

/// Both, timed in turn in one process: the ratio the issue asks about.
fn summary(records: &[RecordInput]) {
    const ROUNDS: u32 = 200_000;
    let time = |f: &dyn Fn() -> usize| {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            black_box(f());
        }
        start.elapsed() / ROUNDS
    };
    let parse = time(&|| {
        SERIALS
            .iter()
            .filter_map(|s| parse_serial(black_box(s)))
            .count()
    });
    let ids = time(&|| {
        records
            .iter()
            .filter_map(|r| black_box(r).record_id().ok())
            .count()
    });
    println!(
        "\n{} serials: parse_serial {parse:?}, record_id {ids:?} per round: parsing costs {:.1}% of deriving the ids",
        SERIALS.len(),
        100.0 * parse.as_secs_f64() / ids.as_secs_f64()
    );
}

criterion_group!(benches, serials);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary(&records());
}
