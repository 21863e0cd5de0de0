//! `carbon-tracker-server import FILE`: idempotent bulk loading.

mod files;
pub(crate) mod registry;

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use files::{read_rows, Row};

use crate::create::{create_all, Outcome};
use crate::problem::Problem;
use crate::store::{Created, Store, StoreError};

/// Rows sent to the store per transaction.
const CHUNK: usize = 1000;

/// Why a file could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a JSON array of objects.
    #[error("{path} is not a JSON array of records: {detail}")]
    Json {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The file is not text in an encoding the import reads.
    #[error("{path}: {detail}")]
    Encoding {
        /// The file.
        path: String,
        /// What was found.
        detail: String,
    },
    /// The CSV could not be read: its header, or its quoting.
    #[error("{path} cannot be read as CSV: {detail}")]
    Csv {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// Neither `.json` nor `.csv`.
    #[error("{0}: unknown file type; use a .json array or a .csv file with a header row")]
    UnknownType(String),
    /// The database failed; rows imported before stay imported.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A rejected row: its number in the file (from 1) and why.
#[derive(Debug)]
pub struct Rejected {
    /// The row: the array index + 1, or the CSV record number after the header.
    pub row: usize,
    /// Why it was not imported.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Rows read.
    pub rows: usize,
    /// Records created.
    pub created: usize,
    /// Records that were already there.
    pub existing: usize,
    /// Rows with nothing in them (what spreadsheets leave of cleared rows).
    pub skipped: usize,
    /// Rows not imported.
    pub rejected: Vec<Rejected>,
    /// Rows imported with something to say: a serial naming a range of
    /// another count than the quantity (a plain record, not a block, SPEC §6).
    pub warnings: Vec<Rejected>,
}

/// Imports `path` into `store`, showing progress on a terminal.
pub async fn import(store: &dyn Store, path: &Path) -> Result<Summary, ImportError> {
    let rows = read_rows(path)?;
    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Summary {
        rows: rows.len(),
        ..Summary::default()
    };
    let mut row_number = 0;
    let mut rows = rows.into_iter();
    loop {
        let chunk: Vec<Row> = rows.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        let mut numbers = Vec::with_capacity(chunk.len());
        let mut records = Vec::with_capacity(chunk.len());
        for row in chunk {
            row_number += 1;
            match row {
                Row::Record(value) => {
                    numbers.push(row_number);
                    records.push(value);
                }
                Row::Empty => summary.skipped += 1,
                Row::Unreadable(reason) => summary.rejected.push(Rejected {
                    row: row_number,
                    reason,
                }),
            }
        }
        for (row, outcome) in numbers.into_iter().zip(create_all(store, records).await?) {
            if let Outcome::Stored(Ok(Created::New(r) | Created::Existing(r))) = &outcome {
                if let Some(reason) = r.canonical.block_warning() {
                    summary.warnings.push(Rejected { row, reason });
                }
            }
            match outcome {
                Outcome::Stored(Ok(Created::New(_))) => summary.created += 1,
                Outcome::Stored(Ok(Created::Existing(_))) => summary.existing += 1,
                Outcome::Stored(Err(e)) => summary.rejected.push(rejected(row, e.into())),
                Outcome::Invalid(e) => summary.rejected.push(rejected(row, e.into())),
            }
        }
        bar.set_position(row_number as u64);
    }
    bar.finish_and_clear();
    summary.rejected.sort_by_key(|r| r.row);
    Ok(summary)
}

fn rejected(row: usize, problem: Problem) -> Rejected {
    let reason = if problem.errors.is_empty() {
        problem.detail
    } else {
        problem
            .errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    Rejected { row, reason }
}

/// Prints the summary: the counts, then each rejected row.
#[allow(
    clippy::print_stdout,
    reason = "the import command's report is its output"
)]
pub fn report(path: &Path, summary: &Summary) {
    println!(
        "{}: {} rows: {} created, {} existing, {} rejected, {} skipped (empty){}",
        path.display(),
        summary.rows,
        summary.created,
        summary.existing,
        summary.rejected.len(),
        summary.skipped,
        match summary.warnings.len() {
            0 => String::new(),
            n => format!(", {n} with a warning"),
        },
    );
    for r in &summary.rejected {
        println!("  row {}: {}", r.row, r.reason);
    }
    for w in &summary.warnings {
        println!("  row {}: warning: {}", w.row, w.reason);
    }
}
