//! Reading import files as the tools that make them write them: a UTF-8 or
//! UTF-16 byte-order mark, CRLF line ends, quoted line breaks, `;` or tab as
//! the delimiter (spreadsheets outside the US), header names in any case,
//! and rows a spreadsheet leaves all empty when rows are cleared.
//!
//! A file that cannot be read as the expected format is one error that says
//! what was found (the encoding, the header, the delimiter), never a list of
//! "field missing" on every row.

use carbon_tracker_core::RECORD_FIELDS;
use serde_json::{Map, Value};

use super::registry::sheet::decode;
use super::ImportError;

/// One row of a file, before validation.
#[derive(Debug)]
pub(super) enum Row {
    /// A record input (a JSON object with the fields found).
    Record(Value),
    /// A row with nothing in it: skipped, not rejected.
    Empty,
    /// A row that cannot be a record, and why.
    Unreadable(String),
}

/// Delimiters a CSV header is tried with, the first winning ties.
const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// Reads the rows of a file of records: a JSON array (`json`) or a CSV file
/// with a header row naming the five fields; `name` is the file's name for
/// messages.
pub(super) fn read_rows(name: &str, bytes: &[u8], json: bool) -> Result<Vec<Row>, ImportError> {
    let path = name.to_owned();
    let text = decode(bytes).map_err(|detail| ImportError::Encoding {
        path: path.clone(),
        detail,
    })?;
    if json {
        json_rows(&text).map_err(|detail| ImportError::Json { path, detail })
    } else {
        csv_rows(&text).map_err(|detail| ImportError::Csv { path, detail })
    }
}

/// A JSON array of objects; an element whose values are all null or blank
/// text is an empty row.
fn json_rows(text: &str) -> Result<Vec<Row>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Value::Array(rows) = value else {
        return Err("the top level is not an array".to_owned());
    };
    Ok(rows
        .into_iter()
        .map(|row| match &row {
            Value::Object(map) if map.values().all(is_blank) => Row::Empty,
            _ => Row::Record(row),
        })
        .collect())
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A CSV file with a header row naming the five fields (in any order and
/// case; other columns are ignored, as unknown JSON keys are).
fn csv_rows(text: &str) -> Result<Vec<Row>, String> {
    let header_line = text.lines().next().unwrap_or_default();
    if header_line.trim().is_empty() {
        return Err(format!(
            "the first line is empty; expected a header row naming {}",
            RECORD_FIELDS.join(", ")
        ));
    }
    let mut best = (b',', Vec::new(), 0);
    for delimiter in DELIMITERS {
        let columns = header_columns(header_line, delimiter);
        let named = columns.iter().flatten().count();
        // Most fields named; the earlier delimiter on a tie.
        if named > best.2 {
            best = (delimiter, columns, named);
        }
    }
    let (delimiter, columns, named) = best;
    let fields = RECORD_FIELDS.join(", ");
    if named == 0 {
        return Err(format!(
            "the header row {header_line:?} names none of the columns {fields}, read with comma, semicolon or tab as the delimiter: the first row must name them"
        ));
    }
    let missing: Vec<&str> = RECORD_FIELDS
        .iter()
        .filter(|field| !columns.iter().flatten().any(|c| c == *field))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the header row {header_line:?}, read with {} as the delimiter, does not name {}: the first row must name the columns {fields}",
            delimiter_name(delimiter),
            missing.join(", "),
        ));
    }
    // A field named twice: which column holds it is a guess, so none is made.
    if let Some(field) = RECORD_FIELDS
        .iter()
        .find(|field| columns.iter().flatten().filter(|c| c == *field).count() > 1)
    {
        let at: Vec<String> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.as_deref() == Some(*field))
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        return Err(format!(
            "the header row {header_line:?} names {field} more than once (columns {}): keep one",
            at.join(" and ")
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            rows.push(Row::Empty);
            continue;
        }
        let extra = record
            .iter()
            .skip(columns.len())
            .filter(|cell| !cell.trim().is_empty())
            .count();
        if extra > 0 {
            rows.push(Row::Unreadable(format!(
                "the row has {} cells, the header {}",
                record.len(),
                columns.len()
            )));
            continue;
        }
        // An empty cell is a missing field, so it gets that error.
        let row: Map<String, Value> = columns
            .iter()
            .zip(record.iter())
            .filter_map(|(column, cell)| {
                let field = column.as_ref()?;
                (!cell.is_empty()).then(|| (field.clone(), Value::String(cell.to_owned())))
            })
            .collect();
        rows.push(Row::Record(Value::Object(row)));
    }
    Ok(rows)
}

/// The header's columns split at `delimiter`: the field each names (its
/// name trimmed and in any case), `None` for other columns.
fn header_columns(line: &str, delimiter: u8) -> Vec<Option<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(line.as_bytes());
    let Some(Ok(header)) = reader.records().next() else {
        return Vec::new();
    };
    header
        .iter()
        .map(|cell| {
            let cell = cell.trim().to_ascii_lowercase();
            RECORD_FIELDS.contains(&cell.as_str()).then_some(cell)
        })
        .collect()
}

fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "comma",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_marks_and_encodings() {
        assert_eq!(decode(b"\xEF\xBB\xBF[]"), Ok("[]".to_owned()));
        assert_eq!(decode(b"\xFF\xFEa\x00\xE9\x00"), Ok("a\u{e9}".to_owned()));
        assert_eq!(decode(b"\xFE\xFF\x00a\x00\xE9"), Ok("a\u{e9}".to_owned()));
        let latin1 = decode(b"a,b\nCaf\xE9,1\n").unwrap_err();
        assert!(latin1.contains("0xE9 on line 2"), "{latin1}");
    }

    #[test]
    fn delimiters_are_found_from_the_header() {
        let rows = csv_rows("project_name;registry;vintage;quantity;serial_number\r\nA;VCS;2020;1,5;S-1\r\n;;;;\r\n").unwrap();
        assert!(matches!(&rows[..], [Row::Record(_), Row::Empty]));
        let Row::Record(Value::Object(first)) = &rows[0] else {
            panic!("{rows:?}");
        };
        assert_eq!(first["quantity"], "1,5");
        let error = csv_rows("name;registry\nA;B\n").unwrap_err();
        assert!(
            error.contains("project_name, vintage, quantity, serial_number"),
            "{error}"
        );
    }
}
