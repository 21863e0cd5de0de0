//! Exports of every record (issue 16): `carbon-tracker-server export` and
//! `GET /records?format=csv|jsonl`. One row per record — split parents too —
//! with its block, status, holder, lineage and retirement fields, in the
//! order records were stored (a parent before its children), read page by
//! page so memory stays constant however many records there are, every
//! page from one snapshot of the database, so that each split block comes
//! with its children however long the export takes.
//!
//! An export is also an import: `import --from tracker` (or `auto`) replays
//! it into a database and gives the same ids, statuses, holders and lineage
//! (`import::tracker`). The columns are `columns()`, the one list both read.

use std::io::Write;
use std::sync::Arc;

use carbon_tracker_core::lifecycle::{self, EventType};
use carbon_tracker_core::{Lineage, RecordId};
use futures_util::stream::{self, Stream};
use serde_json::{Map, Value};

use crate::store::{ListQuery, Store, StoreError, StoredRecord};

/// Records read per page.
const PAGE: u32 = 1000;

/// The columns of an export before the retirement fields, in order. The
/// first five are the record's fields (SPEC §2); `id` is its v1 id, which
/// an import checks; `front` and `back` are a split block's children.
const STATE_COLUMNS: [&str; 16] = [
    "id",
    "project_name",
    "registry",
    "vintage",
    "quantity",
    "serial_number",
    "status",
    "holder",
    "parent",
    "front",
    "back",
    "block_scheme",
    "block_prefix",
    "block_start",
    "block_end",
    "created_at",
];

/// The last columns of an export: the payload keys of the record's
/// `RETIRED` or `CANCELLED` event (`reason` and `effective_at` from either).
pub(crate) const FINAL_FIELDS: [&str; 6] = [
    "beneficiary",
    "reason",
    "purpose",
    "beneficiary_country",
    "note",
    "effective_at",
];

/// Every column of an export, in order: the one list the writers and the
/// import read.
pub(crate) fn columns() -> impl Iterator<Item = &'static str> {
    STATE_COLUMNS.into_iter().chain(FINAL_FIELDS)
}

/// The formats an export is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row (RFC 4180, UTF-8, CRLF).
    Csv,
    /// One JSON object per line, keyed by the column names.
    Jsonl,
    /// An Excel workbook with one sheet (the command only: it is written to
    /// a file).
    Xlsx,
}

/// One record as an export row: a JSON value per column (null when empty).
pub(crate) fn row(record: &StoredRecord) -> Result<Map<String, Value>, StoreError> {
    let state = lifecycle::replay(&record.events)
        .map_err(|e| StoreError::corrupt(Some(record.id), "history", e))?;
    let lineage = Lineage::of(&record.events);
    let canonical = &record.canonical;
    let block = canonical.block();
    let end = record
        .events
        .iter()
        .rev()
        .find(|e| matches!(e.event_type, EventType::Retired | EventType::Cancelled))
        .and_then(|e| e.payload.as_ref());
    let text = |s: &str| Value::String(s.to_owned());
    let id = |id: Option<RecordId>| id.map_or(Value::Null, |id| Value::String(id.to_string()));
    let mut out = Map::new();
    out.insert("id".into(), Value::String(record.id.to_string()));
    out.insert("project_name".into(), text(&canonical.project_name));
    out.insert("registry".into(), text(&canonical.registry));
    out.insert("vintage".into(), Value::from(canonical.vintage));
    out.insert(
        "quantity".into(),
        Value::String(canonical.quantity.to_string()),
    );
    out.insert("serial_number".into(), text(&canonical.serial_number));
    out.insert("status".into(), text(state.status.as_str()));
    out.insert(
        "holder".into(),
        state.owner.map_or(Value::Null, Value::String),
    );
    out.insert("parent".into(), id(lineage.parent));
    out.insert("front".into(), id(lineage.children.map(|c| c.0)));
    out.insert("back".into(), id(lineage.children.map(|c| c.1)));
    out.insert(
        "block_scheme".into(),
        block
            .as_ref()
            .map_or(Value::Null, |b| text(b.scheme.as_str())),
    );
    out.insert(
        "block_prefix".into(),
        block.as_ref().map_or(Value::Null, |b| text(&b.prefix)),
    );
    out.insert(
        "block_start".into(),
        block
            .as_ref()
            .map_or(Value::Null, |b| Value::String(b.start.to_string())),
    );
    out.insert(
        "block_end".into(),
        block
            .as_ref()
            .map_or(Value::Null, |b| Value::String(b.end.to_string())),
    );
    out.insert(
        "created_at".into(),
        Value::String(
            record
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        ),
    );
    for key in FINAL_FIELDS {
        let value = end.and_then(|p| p.get(key)).cloned().unwrap_or(Value::Null);
        out.insert(key.into(), value);
    }
    Ok(out)
}

/// Every record matching `query`'s filters, page by page, oldest first, all
/// from one snapshot of the database ([`Store::snapshot`]): an export taken
/// while others write holds each split block with its children. It owns its
/// handle on the store: a response body outlives its handler.
pub(crate) fn pages(
    store: Arc<dyn Store>,
    query: ListQuery,
) -> impl Stream<Item = Result<Vec<StoredRecord>, StoreError>> + Send {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    let query = ListQuery {
        limit: PAGE,
        ..query
    };
    tokio::spawn(async move { store.snapshot(query, sender).await });
    stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|page| (page, receiver))
    })
}

/// The CSV header line.
pub(crate) fn csv_header() -> Vec<u8> {
    csv_line(columns().map(str::to_owned))
}

/// One row as a CSV line.
pub(crate) fn csv_row(row: &Map<String, Value>) -> Vec<u8> {
    csv_line(columns().map(|c| cell(row.get(c))))
}

/// One row as a JSON line.
pub(crate) fn json_row(row: &Map<String, Value>) -> Vec<u8> {
    let mut line = serde_json::to_vec(row).unwrap_or_default();
    line.push(b'\n');
    line
}

/// A value as a cell's text: empty for null, a string as it is, anything
/// else as JSON.
pub(crate) fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn csv_line(cells: impl Iterator<Item = String>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let cells: Vec<String> = cells.collect();
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(&cells);
    writer.into_inner().unwrap_or_default()
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output could not be written.
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    /// The workbook could not be written.
    #[error("cannot write the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// An XLSX export needs a file to write to.
    #[error("an XLSX export is written to a file: give --output FILE.xlsx")]
    XlsxNeedsFile,
}

/// Writes every record in `format` to `output` (standard output when
/// `None`); returns how many were written.
pub async fn export(
    store: Arc<dyn Store>,
    format: ExportFormat,
    output: Option<&std::path::Path>,
) -> Result<usize, ExportError> {
    use futures_util::TryStreamExt;
    let mut pages = std::pin::pin!(pages(store, ListQuery::default()));
    let mut count = 0;
    if format == ExportFormat::Xlsx {
        let path = output.ok_or(ExportError::XlsxNeedsFile)?;
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory();
        sheet.set_name("records")?;
        for (c, name) in (0_u16..).zip(columns()) {
            sheet.write_string(0, c, name)?;
        }
        let mut r: u32 = 0;
        while let Some(records) = pages.try_next().await? {
            for record in &records {
                r += 1;
                let row = row(record)?;
                for (c, name) in (0_u16..).zip(columns()) {
                    let text = cell(row.get(name));
                    if !text.is_empty() {
                        sheet.write_string(r, c, &text)?;
                    }
                }
                count += 1;
            }
        }
        workbook.save(path)?;
        return Ok(count);
    }
    let mut out: Box<dyn Write + Send> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    if format == ExportFormat::Csv {
        out.write_all(&csv_header())?;
    }
    while let Some(records) = pages.try_next().await? {
        for record in &records {
            let row = row(record)?;
            out.write_all(&match format {
                ExportFormat::Jsonl => json_row(&row),
                _ => csv_row(&row),
            })?;
            count += 1;
        }
    }
    out.flush()?;
    Ok(count)
}
