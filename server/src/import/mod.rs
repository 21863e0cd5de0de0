//! `carbon-tracker-server import FILE` and `POST /imports`: idempotent bulk
//! loading of three kinds of file, told apart by `--from` (default `auto`):
//!
//! - **records**: a JSON array, or a CSV file naming the five fields of
//!   SPEC §2 (`files`);
//! - **a registry's own export** (`verra`, `gold-standard`, `acr`, `car`,
//!   `art-trees`; CSV or XLSX): each row a block (SPEC §6), a retirement row
//!   inside a tracked block a partial retirement of it (`registry`, `apply`);
//! - **the tracker's own export** (`tracker`; CSV, JSON lines or XLSX): the
//!   same ids, statuses, holders and lineage (`tracker`).
//!
//! Every row is read and checked before anything is written: a file with a
//! rejected row writes nothing (unless rejected rows are to be skipped), and
//! a dry run stops there. Nothing already stored is changed: importing the
//! same file again finds every row already there.

mod apply;
mod files;
pub(crate) mod registry;
mod tracker;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use carbon_tracker_core::lifecycle::{self, Status};
use carbon_tracker_core::{
    api, validate_payload, Acted, Action, CanonicalRecord, ErrorCode, FieldError, RecordId,
};
use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use files::Row;
use registry::{Format, Item};

use crate::access::{Caller, Scope};
use crate::create::{create_all, Outcome};
use crate::problem::Problem;
use crate::store::blocks::LiveBlock;
use crate::store::{Append, Created, Store, StoreError, Write};

/// Rows sent to the store per transaction.
const CHUNK: usize = 1000;
/// Files with more rows than this show a progress bar on a terminal.
const PROGRESS_ROWS: usize = 2000;

/// Why a file could not be imported at all. Nothing was written.
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
    /// The report (`--report`) cannot be written: checked before anything
    /// is imported, so nothing was.
    #[error("cannot write the report {path}: {source}")]
    Report {
        /// The report file.
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
    /// A registry export or a tracker export that cannot be read as the
    /// format given (or any, for `auto`).
    #[error("{path}: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What was found.
        detail: String,
    },
    /// The file cannot be read as a sheet (CSV or XLSX): the reader's
    /// message, which names the file.
    #[error("{0}")]
    Sheet(String),
    /// `--from` names no format.
    #[error("unknown format {0:?}: use {FORMATS}")]
    UnknownFormat(String),
    /// The caller's key lacks the scope of an action a row records: nothing
    /// was written (SPEC §8).
    #[error("{}", .0.detail)]
    Forbidden(Box<Problem>),
    /// The database failed; rows imported before stay imported.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ImportError> for Problem {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(e) => e.into(),
            ImportError::Forbidden(problem) => *problem,
            ImportError::UnknownFormat(_) => Problem::invalid(
                "invalid_parameter",
                format!("from: {e}"),
                vec![FieldError::with_message(
                    "from",
                    ErrorCode::InvalidChoice,
                    e.to_string(),
                )],
            )
            .with_help(format!("name the file's format in `from`: {FORMATS}")),
            other => Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "unreadable_file",
                other.to_string(),
            )
            .with_help(
                "nothing was written; see the README's \"Importing\" section for the formats read",
            ),
        }
    }
}

/// The names `--from` takes.
pub const FORMATS: &str = "auto, records, tracker, verra, gold-standard, acr, car or art-trees";

/// What kind of file an import reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The five fields of SPEC §2, as JSON or CSV.
    Records,
    /// The tracker's own export.
    Tracker,
    /// A registry's export.
    Registry(Format),
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Self::Records => "records",
            Self::Tracker => "tracker",
            Self::Registry(f) => f.name(),
        }
    }
}

/// How to import.
#[derive(Clone, Debug)]
pub struct Options {
    /// The file's format: `auto` (or `None`), `records`, `tracker`, or a
    /// registry's name.
    pub from: Option<String>,
    /// Read and check every row, look up what is already stored, write
    /// nothing.
    pub dry_run: bool,
    /// Write the rows that pass even when others are rejected.
    pub skip_rejected: bool,
    /// The API key whose request this is: the `actor` of every event the
    /// import writes (SPEC §8), and its scopes, which must allow every sale
    /// (`trade`), retirement and cancellation (`retire`) the file records;
    /// [`Caller::anyone`] from the command line.
    pub caller: Caller,
}

/// A row not imported: its number in the file, the column, a code and why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Rejected {
    /// The file's own row number (a CSV or XLSX header is row 1; a JSON
    /// array's first element is row 1).
    pub row: usize,
    /// The column (or field) at fault, as the file names it, when one is.
    pub column: Option<String>,
    /// A stable code: a field error's (`too_long`, `invalid_format`, …), a
    /// transition's (`already_final`, …) or the import's own
    /// (`serial_mismatch`, `invalid_date`, `serial_overlap`, `not_at_front`,
    /// `id_mismatch`, `lineage_differs`, …).
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
}

/// A row left out on purpose, and why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Skipped {
    /// The file's own row number.
    pub row: usize,
    /// Why it was left out.
    pub reason: String,
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Summary {
    /// The format the file was read as.
    pub format: String,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// Whether anything was written: false for a dry run, and for a file
    /// with rejected rows unless they were to be skipped.
    pub written: bool,
    /// Data rows read.
    pub rows: usize,
    /// Records (blocks) created.
    pub created: usize,
    /// Rows already there as the file has them.
    pub existing: usize,
    /// Retirements and cancellations applied (whole or partial).
    pub retired: usize,
    /// Sales applied (a tracker export's holders).
    pub sold: usize,
    /// Rows left out: empty rows, rows without a serial.
    pub skipped: Vec<Skipped>,
    /// Rows not imported: one entry per problem, each with its column and
    /// code (a row may have several).
    pub rejected: Vec<Rejected>,
    /// Rows imported with something to say: a serial naming a range of
    /// another count than the quantity (a plain record, not a block, SPEC §6).
    pub warnings: Vec<Skipped>,
}

/// The store as an import writes to it: every write by the import's actor.
pub(crate) struct Writer<'a> {
    store: &'a dyn Store,
    actor: Option<String>,
}

impl<'a> std::ops::Deref for Writer<'a> {
    type Target = dyn Store + 'a;

    fn deref(&self) -> &Self::Target {
        self.store
    }
}

impl Writer<'_> {
    /// [`Store::create`] by the import's actor.
    pub(crate) async fn create(
        &self,
        records: Vec<CanonicalRecord>,
    ) -> Result<Vec<Result<Created, StoreError>>, StoreError> {
        self.store
            .create(records, Write::by(self.actor.clone()))
            .await?
            .fresh()
    }

    /// [`Store::append`] by the import's actor.
    pub(crate) async fn append(&self, request: Append) -> Result<Acted, StoreError> {
        self.store
            .append(request, Write::by(self.actor.clone()))
            .await?
            .fresh()
    }
}

/// Imports the file at `path`, showing progress on a terminal.
pub async fn import(
    store: &dyn Store,
    path: &Path,
    options: &Options,
) -> Result<Summary, ImportError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: name.clone(),
        source,
    })?;
    import_bytes(store, &name, &bytes, options, true).await
}

/// Imports a file's bytes; `name` (its file name) gives its type by
/// extension where its content does not. `progress`: a bar on a terminal.
pub async fn import_bytes(
    store: &dyn Store,
    name: &str,
    bytes: &[u8],
    options: &Options,
    progress: bool,
) -> Result<Summary, ImportError> {
    let store = &Writer {
        store,
        actor: options.caller.actor.clone(),
    };
    let format_error = |detail: String| ImportError::Format {
        path: name.to_owned(),
        detail,
    };
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let requested = match options.from.as_deref().map(str::trim) {
        None | Some("" | "auto") => None,
        Some("records") => Some(Source::Records),
        Some("tracker") => Some(Source::Tracker),
        Some(other) => {
            Some(Source::Registry(Format::parse(other).ok_or_else(|| {
                ImportError::UnknownFormat(other.to_owned())
            })?))
        }
    };
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    // JSON: records (an array) or a tracker export (JSON lines).
    if extension == "json" || (extension == "jsonl" && requested != Some(Source::Tracker)) {
        if matches!(requested, Some(Source::Registry(_))) {
            return Err(format_error(
                "registry exports are read from .csv or .xlsx files".to_owned(),
            ));
        }
        if extension == "json" && requested != Some(Source::Tracker) {
            summary.format = Source::Records.name().to_owned();
            let rows = files::read_rows(name, bytes, true)?;
            return records(store, rows, 1, summary, options, progress).await;
        }
    }
    if extension == "jsonl" || (extension == "json" && requested == Some(Source::Tracker)) {
        summary.format = Source::Tracker.name().to_owned();
        let rows = json_lines(name, bytes)?;
        let rows_read = rows.len();
        let nodes = tracker::plan(rows, &mut summary);
        summary.rows = rows_read;
        return finish_tracker(store, nodes, summary, options, progress).await;
    }
    if !matches!(extension.as_str(), "csv" | "xlsx")
        && !bytes.starts_with(b"PK\x03\x04")
        && !extension.is_empty()
    {
        return Err(ImportError::Format {
            path: name.to_owned(),
            detail:
                "unknown file type; use .csv, .xlsx, .json (records) or .jsonl (a tracker export)"
                    .to_owned(),
        });
    }
    let sheet = registry::read_sheet(name, bytes).map_err(|e| ImportError::Sheet(e.to_string()))?;
    let headers: Vec<String> = sheet
        .headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let has = |column: &str| headers.iter().any(|h| h == column);
    let source = match requested {
        Some(source) => source,
        None if has("id") && has("status") && has("serial_number") => Source::Tracker,
        None if carbon_tracker_core::RECORD_FIELDS.iter().all(|f| has(f)) => Source::Records,
        None => match registry::detect(&sheet) {
            Ok(format) => Source::Registry(format),
            // A header naming some of the five fields is a file of records
            // with a fault the records reader names (a delimiter, a typo).
            Err(_) if names_a_record_field(bytes) => Source::Records,
            Err(e) => return Err(format_error(e.to_string())),
        },
    };
    summary.format = source.name().to_owned();
    match source {
        Source::Records => {
            if extension == "xlsx" || bytes.starts_with(b"PK\x03\x04") {
                return Err(format_error(
                    "records are read from .json or .csv files".to_owned(),
                ));
            }
            let rows = files::read_rows(name, bytes, false)?;
            records(store, rows, 2, summary, options, progress).await
        }
        Source::Tracker => {
            let rows = sheet
                .rows
                .iter()
                .map(|r| {
                    let cells = headers
                        .iter()
                        .zip(&r.cells)
                        .map(|(h, c)| (h.clone(), Value::String(c.clone())))
                        .collect();
                    (r.row, cells)
                })
                .collect();
            let nodes = tracker::plan(rows, &mut summary);
            summary.rows = sheet.rows.len();
            finish_tracker(store, nodes, summary, options, progress).await
        }
        Source::Registry(format) => {
            let rows =
                registry::read_rows(format, &sheet).map_err(|e| format_error(e.to_string()))?;
            summary.rows = rows.len();
            let planned = plan_registry(rows, &mut summary);
            allowed(
                options,
                planned
                    .iter()
                    .filter_map(|p| p.end.as_ref().map(|(action, _)| (p.row, *action))),
            )?;
            if stop_before_writing(&mut summary, options) {
                if options.dry_run {
                    dry_run_blocks(store.store, &planned, &mut summary).await?;
                }
                return Ok(sorted(summary));
            }
            let bar = bar(planned.len(), progress);
            apply::apply(store, planned, &mut summary, &bar).await?;
            bar.finish_and_clear();
            summary.written = true;
            Ok(sorted(summary))
        }
    }
}

/// Whether the first line of a text file names one of SPEC §2's five
/// fields, whatever its delimiter.
fn names_a_record_field(bytes: &[u8]) -> bool {
    let first = registry::sheet::decode(bytes).unwrap_or_default();
    let header = first
        .lines()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    carbon_tracker_core::RECORD_FIELDS
        .iter()
        .any(|f| header.contains(f))
}

/// `Ok` when the caller may take every `(row, action)` a file records, each
/// with the scope its endpoint needs ([`Scope::of_action`]): an import is
/// not a way around them (SPEC §8). Checked before anything is written, for
/// every such row, whether or not the store holds its action already; a dry
/// run writes nothing and is not checked.
fn allowed(
    options: &Options,
    actions: impl IntoIterator<Item = (usize, Action)>,
) -> Result<(), ImportError> {
    if options.dry_run {
        return Ok(());
    }
    let caller = &options.caller;
    // The reason is written only for the row that fails, not for each row.
    let Some((row, action)) = actions
        .into_iter()
        .find(|(_, action)| !caller.scopes.allow(Scope::of_action(*action)))
    else {
        return Ok(());
    };
    let why = format!(
        "that row {row} needs: the file records a {} (nothing was written)",
        action.event_type().as_str()
    );
    caller
        .require(Scope::of_action(action), &why)
        .map_err(|p| ImportError::Forbidden(Box::new(p)))
}

/// Whether to stop after reading: a dry run, or rejected rows that are not
/// to be skipped.
fn stop_before_writing(summary: &mut Summary, options: &Options) -> bool {
    options.dry_run || (!summary.rejected.is_empty() && !options.skip_rejected)
}

fn sorted(mut summary: Summary) -> Summary {
    summary.rejected.sort_by_key(|r| r.row);
    summary.skipped.sort_by_key(|r| r.row);
    summary.warnings.sort_by_key(|r| r.row);
    summary
}

fn bar(len: usize, progress: bool) -> ProgressBar {
    if !progress || len <= PROGRESS_ROWS {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {rate} rows/s, eta {eta}")
            .map(|style| {
                // Whole rows a second: indicatif's {per_sec} shows four decimals.
                style.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}", state.per_sec());
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The rows of a registry export, checked by the core: each a block with a
/// valid payload for its action.
fn plan_registry(rows: Vec<registry::RegistryRow>, summary: &mut Summary) -> Vec<apply::Planned> {
    let mut planned = Vec::with_capacity(rows.len());
    for registry::RegistryRow { row, item } in rows {
        let entry = match item {
            Item::Block(entry) => entry,
            Item::Skipped(reason) => {
                summary.skipped.push(Skipped { row, reason });
                continue;
            }
            Item::Rejected(e) => {
                summary.rejected.push(Rejected {
                    row,
                    column: Some(e.column),
                    code: e.code.to_owned(),
                    message: e.message,
                });
                continue;
            }
        };
        let record = match api::record_input_from_value(Value::Object(entry.record))
            .and_then(|input| api::canonicalize(&input))
        {
            Ok(record) => record,
            Err(e) => {
                summary.rejected.extend(api_rejection(row, &e));
                continue;
            }
        };
        if record.block().is_none() {
            summary.rejected.push(Rejected {
                row,
                column: Some("serial_number".to_owned()),
                code: "serial_mismatch".to_owned(),
                message: record
                    .block_warning()
                    .unwrap_or_else(|| "the serial names no block of credits (SPEC §6)".to_owned()),
            });
            continue;
        }
        let end = match entry.end {
            None => None,
            Some(end) => {
                let errors = validate_payload(end.action.event_type(), Some(&end.payload));
                if let Some(e) = errors.first() {
                    summary.rejected.push(Rejected {
                        row,
                        column: Some(e.field.clone()),
                        code: e.code.as_str().to_owned(),
                        message: e.message.clone(),
                    });
                    continue;
                }
                Some((end.action, end.payload))
            }
        };
        planned.push(apply::Planned { row, record, end });
    }
    planned
}

fn api_rejection(row: usize, e: &api::ApiError) -> Vec<Rejected> {
    if e.errors.is_empty() {
        return vec![Rejected {
            row,
            column: None,
            code: e.code.clone(),
            message: e.message.clone(),
        }];
    }
    // Every problem of the row, each with its field and code.
    e.errors
        .iter()
        .map(|f| Rejected {
            row,
            column: Some(f.field.clone()),
            code: f.code.as_str().to_owned(),
            message: f.message.clone(),
        })
        .collect()
}

/// A dry run of registry rows: which blocks are stored already, which
/// retirements are still to apply. (Whether a new block lies inside a
/// tracked one is found by the real run.)
async fn dry_run_blocks(
    store: &dyn Store,
    planned: &[apply::Planned],
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let ids: Vec<RecordId> = planned.iter().map(|p| p.record.id()).collect();
    let stored = stored_ids(store, &ids).await?;
    for p in planned {
        let id = p.record.id();
        if !stored.contains(&id) {
            summary.created += 1;
            summary.retired += usize::from(p.end.is_some());
        } else if p.end.is_some() && !is_final(store, id).await? {
            summary.retired += 1;
        } else {
            summary.existing += 1;
        }
    }
    Ok(())
}

async fn is_final(store: &dyn Store, id: RecordId) -> Result<bool, StoreError> {
    let Some(record) = store.get(id).await? else {
        return Ok(false);
    };
    let state = lifecycle::replay(&record.events)
        .map_err(|e| StoreError::corrupt(Some(id), "history", e))?;
    Ok(matches!(state.status, Status::Retired | Status::Cancelled))
}

/// The lines of a JSON-lines file, each an object; blank lines skipped.
fn json_lines(name: &str, bytes: &[u8]) -> Result<Vec<tracker::Cells>, ImportError> {
    let text = registry::sheet::decode(bytes).map_err(|detail| ImportError::Encoding {
        path: name.to_owned(),
        detail,
    })?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => rows.push((i + 1, map)),
            Ok(_) => {
                return Err(ImportError::Format {
                    path: name.to_owned(),
                    detail: format!("line {}: not a JSON object", i + 1),
                })
            }
            Err(e) => {
                return Err(ImportError::Format {
                    path: name.to_owned(),
                    detail: format!("line {}: {e}", i + 1),
                })
            }
        }
    }
    if rows.is_empty() {
        return Err(ImportError::Format {
            path: name.to_owned(),
            detail: "the file holds no records".to_owned(),
        });
    }
    Ok(rows)
}

async fn finish_tracker(
    store: &Writer<'_>,
    nodes: Vec<tracker::Node>,
    mut summary: Summary,
    options: &Options,
    progress: bool,
) -> Result<Summary, ImportError> {
    allowed(options, nodes.iter().flat_map(tracker::Node::actions))?;
    // The rows whose stored record cannot reach the row's state are
    // rejected before anything is written, as the rows' own faults are.
    let ids: Vec<RecordId> = nodes.iter().map(tracker::Node::id).collect();
    let stored = stored_ids(store.store, &ids).await?;
    let mut reachable = Vec::with_capacity(nodes.len());
    for n in nodes {
        let refused = if stored.contains(&n.id()) {
            match store.get(n.id()).await? {
                Some(record) => tracker::unreachable(&n, &record)?,
                None => None,
            }
        } else {
            None
        };
        match refused {
            Some(r) => summary.rejected.push(r),
            None => reachable.push(n),
        }
    }
    let nodes = reachable;
    if stop_before_writing(&mut summary, options) {
        if options.dry_run {
            let existing = nodes.iter().filter(|n| stored.contains(&n.id())).count();
            summary.existing = existing;
            summary.created = nodes.len() - existing;
        }
        return Ok(sorted(summary));
    }
    let bar = bar(nodes.len(), progress);
    tracker::apply(store, nodes, &mut summary, &bar).await?;
    bar.finish_and_clear();
    summary.written = true;
    Ok(sorted(summary))
}

/// A file of records (SPEC §2's five fields); `first_row` is the first
/// row's number (2 in a CSV file, after its header; 1 in a JSON array).
async fn records(
    store: &Writer<'_>,
    rows: Vec<Row>,
    first_row: usize,
    mut summary: Summary,
    options: &Options,
    progress: bool,
) -> Result<Summary, ImportError> {
    summary.rows = rows.len();
    let mut inputs = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let number = i + first_row;
        match row {
            Row::Record(value) => inputs.push((number, value)),
            Row::Empty => summary.skipped.push(Skipped {
                row: number,
                reason: "empty row".to_owned(),
            }),
            Row::Unreadable(reason) => summary.rejected.push(Rejected {
                row: number,
                column: None,
                code: "unreadable_row".to_owned(),
                message: reason,
            }),
        }
    }
    // Every row is checked before any is written: its fields, then whether
    // its block shares credits with another row's or a tracked one.
    let mut checked = Vec::with_capacity(inputs.len());
    for (row, value) in inputs {
        match api::record_input_from_value(value.clone())
            .and_then(|input| api::canonicalize(&input))
        {
            Ok(record) => checked.push((row, value, record)),
            Err(e) => summary.rejected.extend(api_rejection(row, &e)),
        }
    }
    let overlaps = overlapping_rows(store.store, &checked).await?;
    checked.retain(|(row, _, _)| match overlaps.get(row) {
        Some(rejected) => {
            summary.rejected.push(rejected.clone());
            false
        }
        None => true,
    });
    if stop_before_writing(&mut summary, options) {
        if options.dry_run {
            count_stored(store.store, &checked, &mut summary).await?;
        }
        return Ok(sorted(summary));
    }
    let bar = bar(checked.len(), progress);
    for chunk in checked.chunks(CHUNK) {
        let values = chunk.iter().map(|(_, v, _)| v.clone()).collect();
        let outcomes = create_all(store.store, values, store.actor.clone(), None)
            .await?
            .fresh()?;
        for ((row, _, _), outcome) in chunk.iter().zip(outcomes.each()) {
            if let Outcome::Stored(Ok(Created::New(r) | Created::Existing(r))) = &outcome {
                if let Some(reason) = r.canonical.block_warning() {
                    summary.warnings.push(Skipped { row: *row, reason });
                }
            }
            match outcome {
                Outcome::Stored(Ok(Created::New(_))) => summary.created += 1,
                Outcome::Stored(Ok(Created::Existing(_))) => summary.existing += 1,
                Outcome::Stored(Err(e)) => {
                    let p = Problem::of(e);
                    summary.rejected.push(Rejected {
                        row: *row,
                        column: None,
                        code: p.code.clone(),
                        message: p.detail,
                    });
                }
                Outcome::Invalid(e) => summary.rejected.extend(api_rejection(*row, e)),
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    summary.written = true;
    Ok(sorted(summary))
}

/// The rows of `checked` (row number, input, canonical fields) whose block
/// shares a credit with a tracked block or with another row's block (SPEC §6
/// `serial_overlap`), each with its rejection. A row that is a stored record
/// (split since, or not) is that record, not an overlap, as is a row
/// repeating another. Rows are first looked up against the tracked blocks;
/// of two remaining rows that overlap, the one whose range starts later (or,
/// starting together, comes later in the file) is rejected. A row rejected
/// is never written, so it holds no credits against the others.
async fn overlapping_rows(
    store: &dyn Store,
    checked: &[(usize, Value, CanonicalRecord)],
) -> Result<HashMap<usize, Rejected>, StoreError> {
    let overlap = |row: usize, message: String| Rejected {
        row,
        column: Some("serial_number".to_owned()),
        code: "serial_overlap".to_owned(),
        message,
    };
    // The blocks of the file, each once, and which of them are stored.
    let mut seen = HashSet::new();
    let blocks: Vec<(usize, &CanonicalRecord)> = checked
        .iter()
        .filter(|(_, _, record)| record.block().is_some() && seen.insert(record.id()))
        .map(|(row, _, record)| (*row, record))
        .collect();
    let ids: Vec<RecordId> = blocks.iter().map(|(_, record)| record.id()).collect();
    let stored = stored_ids(store, &ids).await?;
    // Against the tracked blocks, several looks at a time (a round trip each
    // on PostgreSQL).
    let looks: Vec<_> = blocks
        .iter()
        .filter(|(_, record)| !stored.contains(&record.id()))
        .map(|&(row, record)| async move {
            store
                .overlapping(record.clone())
                .await
                .map(|tracked| (row, tracked))
        })
        .collect();
    let mut rejected = HashMap::new();
    let mut found = Vec::new();
    let mut looks = stream::iter(looks).buffer_unordered(LOOKS_AT_ONCE);
    while let Some(look) = looks.next().await {
        if let (row, Some(tracked)) = look? {
            found.push((row, tracked));
        }
    }
    // A row's own record, stored (and maybe split) by another client since
    // the first look, is that record, not an overlap.
    let row_ids: HashMap<usize, RecordId> = blocks.iter().map(|(row, r)| (*row, r.id())).collect();
    let found_ids: Vec<RecordId> = found
        .iter()
        .filter_map(|(row, _)| row_ids.get(row).copied())
        .collect();
    let stored_since = stored_ids(store, &found_ids).await?;
    for (row, tracked) in found {
        if row_ids
            .get(&row)
            .is_some_and(|id| stored_since.contains(id))
        {
            continue;
        }
        rejected.insert(
            row,
            overlap(
                row,
                format!(
                    "the block shares credits with the tracked block {tracked}: \
                     the same credits cannot be registered twice"
                ),
            ),
        );
    }
    // Among the rows still kept, in order of first credit.
    let mut kept: Vec<(usize, LiveBlock)> = checked
        .iter()
        .filter(|(row, _, _)| !rejected.contains_key(row))
        .filter_map(|(row, _, record)| LiveBlock::with_id(record.id(), record).map(|b| (*row, b)))
        .collect();
    kept.sort_by(|(ra, a), (rb, b)| {
        (a.scheme, &a.prefix, a.first, ra).cmp(&(b.scheme, &b.prefix, b.first, rb))
    });
    // The last block kept, in this scheme and prefix: by first credit, the
    // only one a later block can overlap (the kept ones are disjoint).
    let mut reach: Option<&(usize, LiveBlock)> = None;
    let mut in_file = Vec::new();
    for entry in &kept {
        let (row, block) = entry;
        match reach {
            Some((first_row, last)) if last.overlaps(block) => {
                if last.record != block.record {
                    in_file.push(overlap(
                        *row,
                        format!(
                            "its credits {}-{} share credits with row {first_row}'s block ({}-{}): \
                             the same credits cannot be registered twice",
                            block.first, block.last, last.first, last.last
                        ),
                    ));
                }
            }
            _ => reach = Some(entry),
        }
    }
    rejected.extend(in_file.into_iter().map(|r| (r.row, r)));
    Ok(rejected)
}

/// Overlap looks of an import in flight at once.
const LOOKS_AT_ONCE: usize = 16;

/// A dry run of a file of records: how many rows would be created, and how
/// many are stored already (a row repeating an earlier one counts as stored).
async fn count_stored(
    store: &dyn Store,
    checked: &[(usize, Value, CanonicalRecord)],
    summary: &mut Summary,
) -> Result<(), StoreError> {
    let ids: Vec<RecordId> = checked.iter().map(|(_, _, r)| r.id()).collect();
    let mut stored = stored_ids(store, &ids).await?;
    for id in ids {
        if stored.insert(id) {
            summary.created += 1;
        } else {
            summary.existing += 1;
        }
    }
    Ok(())
}

/// Which of `ids` are stored, looked up [`CHUNK`] at a time.
async fn stored_ids(store: &dyn Store, ids: &[RecordId]) -> Result<HashSet<RecordId>, StoreError> {
    let mut stored = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let found = store.canonical_records(chunk.to_vec()).await?;
        stored.extend(found.into_iter().map(|(id, _)| id));
    }
    Ok(stored)
}

/// The one-line summary: the counts.
pub fn summary_line(name: &str, s: &Summary) -> String {
    let mut line = format!(
        "{name}: {} rows as {}{}: {} created, {} already there, {} retirements applied",
        s.rows,
        s.format,
        if s.dry_run {
            " (dry run, nothing written)"
        } else {
            ""
        },
        s.created,
        s.existing,
        s.retired,
    );
    if s.sold > 0 {
        line.push_str(&format!(", {} sales applied", s.sold));
    }
    // Rows, not problems: a row may be rejected for several.
    let rejected_rows: HashSet<usize> = s.rejected.iter().map(|r| r.row).collect();
    line.push_str(&format!(
        ", {} skipped, {} rejected",
        s.skipped.len(),
        rejected_rows.len()
    ));
    if !s.warnings.is_empty() {
        line.push_str(&format!(", {} with a warning", s.warnings.len()));
    }
    if !s.written && !s.dry_run {
        line.push_str(
            " — nothing was written: fix the rejected rows, or import with --skip-rejected",
        );
    }
    line
}

/// Prints the summary: the counts, then each rejected, skipped and warned row.
#[allow(
    clippy::print_stdout,
    reason = "the import command's report is its output"
)]
pub fn report(name: &str, summary: &Summary) {
    println!("{}", summary_line(name, summary));
    for r in &summary.rejected {
        println!(
            "  row {}: {}{}: {}",
            r.row,
            r.column
                .as_deref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default(),
            r.code,
            r.message
        );
    }
    for s in &summary.skipped {
        println!("  row {}: skipped: {}", s.row, s.reason);
    }
    for w in &summary.warnings {
        println!("  row {}: warning: {}", w.row, w.reason);
    }
}

/// Opens (creates or empties) the report file before the import, so that a
/// path that cannot be written stops it before anything is imported.
///
/// # Errors
/// [`ImportError::Report`].
pub fn open_report(path: &Path) -> Result<std::fs::File, ImportError> {
    std::fs::File::create(path).map_err(|source| ImportError::Report {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the rejected and skipped rows as CSV (`row, column, code,
/// message`), rejected first, to the report file [`open_report`] opened.
pub fn write_report(
    file: std::fs::File,
    path: &Path,
    summary: &Summary,
) -> Result<(), ImportError> {
    let io = |source: std::io::Error| ImportError::Report {
        path: path.display().to_string(),
        source,
    };
    let mut writer = csv::Writer::from_writer(file);
    let mut write = |cells: [&str; 4]| writer.write_record(cells).map_err(|e| io(e.into()));
    write(["row", "column", "code", "message"])?;
    for r in &summary.rejected {
        write([
            &r.row.to_string(),
            r.column.as_deref().unwrap_or_default(),
            &r.code,
            &r.message,
        ])?;
    }
    for s in &summary.skipped {
        write([&s.row.to_string(), "", "skipped", &s.reason])?;
    }
    writer.flush().map_err(io)
}
