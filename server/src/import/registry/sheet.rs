//! A registry export's bytes as a header and rows of text cells: CSV (as
//! the import's own CSV reading takes it: a UTF-8 or UTF-16 byte-order mark,
//! CRLF, quoted line breaks, `,`, `;` or tab as the delimiter) or XLSX (the
//! first worksheet, read with `calamine`).
//!
//! Cells are trimmed. An XLSX number cell reads as its digits (`425`, not
//! `425.0`); a date cell as ISO 8601 (`2026-04-03`, or
//! `2026-04-03T12:35:58` when it has a time), which every format's date
//! reading accepts.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::RegistryError;

/// A file read into a header and rows of text cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sheet {
    /// The header row's cells, trimmed, as the file spells them.
    pub(crate) headers: Vec<String>,
    /// The rows after the header, empty ones included.
    pub(crate) rows: Vec<SheetRow>,
}

/// One row after the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SheetRow {
    /// The row's number in the file: the header is row 1, the first data row
    /// 2 (a CSV record's number + 1, so a record with a quoted line break
    /// counts once, as a spreadsheet's row does).
    pub(crate) row: usize,
    /// The cells, trimmed; as many as the row has (it may differ from the
    /// header's count).
    pub(crate) cells: Vec<String>,
}

/// Delimiters a CSV header is tried with, the first winning ties.
const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// Reads `bytes` (the file `file_name`) as CSV or XLSX: an XLSX is a zip
/// (its bytes start `PK\x03\x04`), whatever its name; a `.xlsx` that is not a
/// zip, an empty file, a legacy `.xls` and a file without a header row are
/// errors that say so.
pub(crate) fn read_sheet(file_name: &str, bytes: &[u8]) -> Result<Sheet, RegistryError> {
    let file = file_name.to_owned();
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if bytes.is_empty() {
        return Err(RegistryError::Empty { file });
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return xlsx(file, bytes);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(RegistryError::LegacyXls { file });
    }
    if extension == "xlsx" {
        return Err(RegistryError::NotXlsx { file });
    }
    let text = decode(bytes).map_err(|detail| RegistryError::Encoding {
        file: file.clone(),
        detail,
    })?;
    csv(file, &text)
}

/// The file's text: UTF-8 (a byte-order mark is dropped), or UTF-16 when a
/// byte-order mark says so (Excel's "Unicode Text"). Anything else is refused
/// with where the first byte that is not UTF-8 stands.
pub(crate) fn decode(bytes: &[u8]) -> Result<String, String> {
    let utf16 = |bytes: &[u8], read: fn([u8; 2]) -> u16| {
        let units = bytes.chunks(2).map(|pair| match pair {
            [a, b] => read([*a, *b]),
            _ => 0xFFFF,
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| "the file has a UTF-16 byte-order mark but is not valid UTF-16".to_owned())
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(rest),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => utf8(bytes),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes.iter().take(at).filter(|&&b| b == b'\n').count() + 1;
        let byte = bytes.get(at).copied().unwrap_or_default();
        format!(
            "the file is not UTF-8 (byte 0x{byte:02X} on line {line}); it may be in a legacy encoding such as Windows-1252: save it as UTF-8 (in Excel: \"CSV UTF-8\")"
        )
    })
}

/// A CSV: the delimiter is the one that splits the header into the most
/// cells (comma on a tie).
fn csv(file: String, text: &str) -> Result<Sheet, RegistryError> {
    if text.trim().is_empty() {
        return Err(RegistryError::Empty { file });
    }
    let reader = |delimiter: u8| {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes())
    };
    let width = |delimiter: u8| match reader(delimiter).records().next() {
        Some(Ok(header)) => header.len(),
        _ => 0,
    };
    let mut delimiter = b',';
    let mut best = 0;
    for candidate in DELIMITERS {
        let cells = width(candidate);
        if cells > best {
            (delimiter, best) = (candidate, cells);
        }
    }
    let mut records = reader(delimiter).into_records();
    let headers: Vec<String> = match records.next() {
        Some(Ok(header)) => header.iter().map(|c| c.trim().to_owned()).collect(),
        Some(Err(e)) => {
            return Err(RegistryError::Csv {
                file,
                detail: e.to_string(),
            })
        }
        None => return Err(RegistryError::Empty { file }),
    };
    if headers.iter().all(String::is_empty) {
        return Err(RegistryError::NoHeader { file });
    }
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let record = record.map_err(|e| RegistryError::Csv {
            file: file.clone(),
            detail: e.to_string(),
        })?;
        rows.push(SheetRow {
            row: index + 2,
            cells: record.iter().map(|c| c.trim().to_owned()).collect(),
        });
    }
    Ok(Sheet { headers, rows })
}

/// Most cells the used range of an XLSX worksheet may span (rows × columns):
/// a registry export of 200,000 rows and 30 columns spans 6 million. The
/// range is read whole, so a stray cell far from the data (a 2 KB file can
/// hold one at XFD1048576) would otherwise make a range of 17 billion cells.
pub(crate) const MAX_XLSX_CELLS: usize = 20_000_000;

/// An XLSX: its first worksheet; the first row of its used range (the
/// smallest rectangle holding every cell with a value) is the header.
/// Errors: [`RegistryError::TooLarge`] past [`MAX_XLSX_CELLS`].
fn xlsx(file: String, bytes: &[u8]) -> Result<Sheet, RegistryError> {
    let xlsx_error = |detail: String| RegistryError::Xlsx {
        file: file.clone(),
        detail,
    };
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| xlsx_error(e.to_string()))?;
    let sheet_name = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| RegistryError::NoSheet { file: file.clone() })?;
    // The cells with a value, one at a time, as (row, column, text): memory
    // in proportion to the file's cells, whatever range they span.
    let mut reader = workbook
        .worksheet_cells_reader(&sheet_name)
        .map_err(|e| xlsx_error(e.to_string()))?;
    let mut cells = Vec::new();
    while let Some(cell) = reader.next_cell().map_err(|e| xlsx_error(e.to_string()))? {
        let value = Data::from(cell.get_value().clone());
        if value != Data::Empty {
            let (row, column) = cell.get_position();
            cells.push((row, column, cell_text(&value)));
        }
    }
    drop(reader);
    let (Some(first_row), Some(last_row), Some(first_column), Some(last_column)) = (
        cells.iter().map(|c| c.0).min(),
        cells.iter().map(|c| c.0).max(),
        cells.iter().map(|c| c.1).min(),
        cells.iter().map(|c| c.1).max(),
    ) else {
        return Err(RegistryError::NoRows {
            file,
            sheet: sheet_name,
        });
    };
    let rows = u64::from(last_row - first_row) + 1;
    let columns = u64::from(last_column - first_column) + 1;
    let width = usize::try_from(columns).unwrap_or(usize::MAX);
    let count = usize::try_from(rows).unwrap_or(usize::MAX);
    if count.saturating_mul(width) > MAX_XLSX_CELLS {
        return Err(RegistryError::TooLarge {
            file,
            sheet: sheet_name,
            far: a1(last_row, last_column),
            rows,
            columns,
            max: MAX_XLSX_CELLS,
        });
    }
    let mut grid = vec![vec![String::new(); width]; count];
    for (row, column, text) in cells {
        let at = usize::try_from(row - first_row)
            .ok()
            .and_then(|r| grid.get_mut(r))
            .zip(usize::try_from(column - first_column).ok())
            .and_then(|(cells, c)| cells.get_mut(c));
        if let Some(slot) = at {
            *slot = text;
        }
    }
    let mut grid = grid.into_iter();
    let headers = grid.next().unwrap_or_default();
    if headers.iter().all(String::is_empty) {
        return Err(RegistryError::NoHeader { file });
    }
    let first_row = usize::try_from(first_row).unwrap_or(usize::MAX - 2);
    let rows = grid
        .enumerate()
        .map(|(index, cells)| SheetRow {
            row: first_row.saturating_add(index).saturating_add(2),
            cells,
        })
        .collect();
    Ok(Sheet { headers, rows })
}

/// A cell's name in A1 notation (row and column from 0): `a1(0, 27)` is
/// `AB1`.
fn a1(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(column) + 1;
    while n > 0 {
        let digit = u8::try_from((n - 1) % 26).unwrap_or(0);
        letters.push(char::from(b'A' + digit));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(u64::from(row) + 1).to_string()
}

/// A cell's text, trimmed.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(d) if d.is_datetime() => excel_date(d.as_f64()),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(e) => e.to_string(),
        Data::Empty => String::new(),
    }
}

/// An Excel date serial (days since 1899-12-30, the time as the fraction)
/// as ISO 8601: the date alone at midnight, else with the time to the
/// second. (Serials before 1900-03-01 are off by Excel's 1900 leap-year bug;
/// no registry export has them.)
#[allow(
    clippy::cast_possible_truncation,
    reason = "the value is checked to lie within the years 1900 to 9999 first"
)]
fn excel_date(serial: f64) -> String {
    /// The Julian day of 1899-12-30, Excel's day 0.
    const EPOCH: i64 = 2_415_019;
    if !(0.0..2_958_466.0).contains(&serial) {
        return serial.to_string();
    }
    let seconds = (serial * 86_400.0).round() as i64;
    let (days, seconds) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let date = i32::try_from(EPOCH + days)
        .ok()
        .and_then(|day| time::Date::from_julian_day(day).ok());
    let Some(date) = date else {
        return serial.to_string();
    };
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    if seconds == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        let (h, min, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_quotes_and_row_numbers() {
        let sheet = read_sheet(
            "a.csv",
            "\u{feff}A;B\r\n\"x\r\ny\";2\r\n;\r\n 3 ;4\r\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(sheet.headers, ["A", "B"]);
        let rows: Vec<(usize, Vec<&str>)> = sheet
            .rows
            .iter()
            .map(|r| (r.row, r.cells.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            rows,
            [
                (2, vec!["x\r\ny", "2"]),
                (3, vec!["", ""]),
                (4, vec!["3", "4"])
            ]
        );
    }

    #[test]
    fn excel_dates() {
        assert_eq!(excel_date(46115.0), "2026-04-03");
        assert_eq!(excel_date(45658.5), "2025-01-01T12:00:00");
        assert_eq!(excel_date(-1.0), "-1");
    }

    #[test]
    fn files_that_are_not_sheets() {
        assert!(matches!(
            read_sheet("a.xlsx", b"a,b\n"),
            Err(RegistryError::NotXlsx { .. })
        ));
        assert!(matches!(
            read_sheet("a.xls", &[0xD0, 0xCF, 0x11, 0xE0, 0]),
            Err(RegistryError::LegacyXls { .. })
        ));
        assert!(matches!(
            read_sheet("a.csv", b"\xEF\xBB\xBF\r\n"),
            Err(RegistryError::Empty { .. })
        ));
        assert!(matches!(
            read_sheet("a.csv", b",,\n1,2,3\n"),
            Err(RegistryError::NoHeader { .. })
        ));
        let error = read_sheet("a.csv", b"A\nCaf\xE9\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("a.csv") && error.contains("0xE9 on line 2"),
            "{error}"
        );
        let error = read_sheet("a.xlsx", b"PK\x03\x04broken")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("a.xlsx"), "{error}");
    }
}
