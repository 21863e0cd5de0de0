#![allow(
    missing_docs,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

//! Id derivation against its floor, the bare SHA-256 of the same canonical line.
//!
//! `cargo bench -p carbon-tracker-core --bench ids` prints criterion's figures
//! and then a summary: ids/s per core and the ratio to the bare hash, all
//! from this one run.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use carbon_tracker_core::{FieldValue, RecordInput};
use criterion::{criterion_group, Criterion, Throughput};
use sha2::{Digest, Sha256};

const GROUP: &str = "v1_id";

/// The records of `../shared/seed/sample-registry.json`, as the original
/// service's sample data (ASCII, mixed case, integer quantities), plus two
/// with decimal and exponent quantities.
fn sample_inputs() -> Vec<RecordInput> {
    let rows: &[(&str, &str, i64, &str, &str)] = &[
        (
            "Mangrove Restoration Project",
            "VCS",
            2023,
            "100",
            "VCS-0001",
        ),
        ("Solar Power Plant Maharashtra", "GS", 2022, "50", "GS-1001"),
        ("Wind Farm Rajasthan", "VCS", 2021, "200", "VCS-0456"),
        ("Biogas Energy Punjab", "ACR", 2020, "80", "ACR-3005"),
        ("Hydro Dam Uttarakhand", "GS", 2019, "120", "GS-2002"),
        ("Solar Rooftops Delhi", "VCS", 2023, "75", "VCS-0789"),
        (
            "Forest Conservation Kerala",
            "GS",
            2022,
            "150.25",
            "GS-3003",
        ),
        (
            "  Blue Carbon Gujarat ",
            "Verra",
            2021,
            "1.5E+3",
            "VCS-VCU-1234-01012021",
        ),
    ];
    rows.iter()
        .map(|&(p, r, v, q, s)| RecordInput {
            project_name: FieldValue::text(p),
            registry: FieldValue::text(r),
            vintage: FieldValue::from(v),
            quantity: FieldValue::number(q),
            serial_number: FieldValue::text(s),
        })
        .collect()
}

/// Inputs that take the non-ASCII path (full lowercase, NFKC).
fn unicode_inputs() -> Vec<RecordInput> {
    let names = [
        "ℌydro Ⅻ Farm",
        "ΟΔΟΣ Project",
        "İstanbul Rüzgar",
        "ＶＣＳ ﬁeld",
        "Лесной Проект",
        "碳信用项目",
    ];
    names
        .iter()
        .map(|&p| RecordInput {
            project_name: FieldValue::text(p),
            registry: FieldValue::text("Gold Standard"),
            vintage: FieldValue::Integer(2022),
            quantity: FieldValue::number("250.5"),
            serial_number: FieldValue::text("GS1-1-IN-GS1234-12-2022"),
        })
        .collect()
}

fn lines(inputs: &[RecordInput]) -> Vec<String> {
    inputs
        .iter()
        .map(|i| {
            i.canonicalize()
                .expect("valid bench input")
                .canonical_line()
        })
        .collect()
}

/// One pass of the bare SHA-256 over canonical lines: the floor.
fn floor(lines: &[String]) -> impl FnMut() + '_ {
    move || {
        for line in lines {
            black_box(Sha256::digest(black_box(line).as_bytes()));
        }
    }
}

/// One pass of `record_id` over inputs.
fn ids_of(inputs: &[RecordInput]) -> impl FnMut() + '_ {
    move || {
        for input in inputs {
            black_box(black_box(input).record_id().expect("valid"));
        }
    }
}

fn ids(c: &mut Criterion) {
    let sample = sample_inputs();
    let sample_lines = lines(&sample);
    let unicode = unicode_inputs();
    let unicode_lines = lines(&unicode);

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.bench_function("sha256_floor", |b| b.iter(floor(&sample_lines)));
    group.bench_function("record_id", |b| b.iter(ids_of(&sample)));
    group.bench_function("record_id_hex", |b| {
        b.iter(|| {
            for input in &sample {
                black_box(black_box(input).record_id().expect("valid").to_string());
            }
        });
    });
    group.bench_function("canonicalize_and_id", |b| {
        b.iter(|| {
            for input in &sample {
                let record = black_box(input).canonicalize().expect("valid");
                black_box(record.id());
            }
        });
    });
    group.throughput(Throughput::Elements(unicode.len() as u64));
    group.bench_function("sha256_floor_unicode", |b| b.iter(floor(&unicode_lines)));
    group.bench_function("record_id_unicode", |b| b.iter(ids_of(&unicode)));
    group.finish();
}

criterion_group!(benches, ids);

/// Mean nanoseconds per id of one benchmark of this run, from criterion's output.
fn ns_per_id(name: &str, per_iteration: usize) -> Option<f64> {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
                .join("criterion")
        });
    let path = home.join(GROUP).join(name).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(json["mean"]["point_estimate"].as_f64()? / per_iteration as f64)
}

/// Per-id nanoseconds of `work` over `n` ids, run for about `block`.
fn time_block(work: &mut dyn FnMut(), n: usize, reps: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..reps {
        work();
    }
    start.elapsed().as_nanos() as f64 / f64::from(reps) / n as f64
}

/// The ratio of `work` to `floor`, measured in alternating short blocks so that
/// both see the same machine: the median of the per-pair ratios, which a noisy
/// neighbour on a shared host moves far less than two separate means.
fn paired_ratio(work: &mut dyn FnMut(), floor: &mut dyn FnMut(), n: usize) -> (f64, f64, f64) {
    let (mut ratios, mut works, mut floors) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..PAIRS {
        let f = time_block(floor, n, 2_000);
        let w = time_block(work, n, 2_000);
        ratios.push(w / f);
        works.push(w);
        floors.push(f);
    }
    (median(&mut works), median(&mut floors), median(&mut ratios))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const PAIRS: usize = 150;

fn summary() {
    let (sample, unicode) = (sample_inputs(), unicode_inputs());
    let (n_sample, n_unicode) = (sample.len(), unicode.len());
    println!("\nsummary (one core, this run), from criterion's means:");
    let rows = [
        ("record_id", "sha256_floor", n_sample),
        ("record_id_hex", "sha256_floor", n_sample),
        ("canonicalize_and_id", "sha256_floor", n_sample),
        ("record_id_unicode", "sha256_floor_unicode", n_unicode),
    ];
    for (name, floor, n) in rows {
        match (ns_per_id(name, n), ns_per_id(floor, n)) {
            (Some(t), Some(f)) => println!(
                "  {name:<22} {t:8.1} ns/id  {:>12.0} ids/s  {:5.2}x bare SHA-256 ({f:.1} ns)",
                1e9 / t,
                t / f
            ),
            _ => println!("  {name:<22} (not measured in this run)"),
        }
    }
    println!("paired blocks (median of {PAIRS} alternating floor/work blocks, same run):");
    let (sample_lines, unicode_lines) = (lines(&sample), lines(&unicode));
    for (name, inputs, lines) in [
        ("record_id", &sample, &sample_lines),
        ("record_id_unicode", &unicode, &unicode_lines),
    ] {
        let (w, f, r) = paired_ratio(&mut ids_of(inputs), &mut floor(lines), inputs.len());
        println!(
            "  {name:<22} {w:8.1} ns/id  {:>12.0} ids/s  {r:5.2}x bare SHA-256 ({f:.1} ns)",
            1e9 / w
        );
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` runs each
    // benchmark once as a smoke test, where figures would mean nothing.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
