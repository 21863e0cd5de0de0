//! Reading the registries' own export files (Verra, Gold Standard, ACR, CAR,
//! ART TREES) into typed rows: a block to register, with its retirement or
//! cancellation when the row records one, a row skipped and why, or a row
//! rejected naming its column. Pure: it takes the file's bytes.
//!
//! [`read_sheet`] reads CSV or XLSX into a header and text cells; [`detect`]
//! names the registry from the header; [`read_rows`] reads the rows as that
//! registry writes them. Header names match after trimming and case-folding,
//! in any order, with runs of spaces read as one (the real files spell some
//! with two spaces: ACR's `Status Effective  (GMT)`, ART's `Program  Country`;
//! one space is accepted too).
//!
//! Every row becomes one [`RegistryRow`]. What a row's fields become (SPEC
//! §2's record input, SPEC §6's retirement and cancellation payloads):
//! project name, vintage, quantity and serial are required (a quantity is a
//! whole positive number, `1,454,054` with thousands separators included;
//! the serial must parse in one of the core's schemes and name as many
//! credits as the quantity); optional texts whose cell is empty are left
//! out; a text longer than the core allows rejects the row (`too_long`),
//! it is never cut. `effective_at` is the registry's date in RFC 3339 UTC.

mod acr;
mod art_trees;
mod car;
mod gold_standard;
pub(crate) mod sheet;
mod values;
mod verra;

use std::collections::HashMap;

use carbon_tracker_core::{
    canonical_text, parse_serial, Action, MAX_NAME_CHARS, MAX_NOTE_CHARS, RETIREMENT_PURPOSES,
};
use serde_json::{Map, Value};

pub(crate) use sheet::{read_sheet, Sheet};
use values::{parse_date, parse_quantity, Dates};

/// The registries whose exports the import reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Format {
    /// Verra's VCU export (one file: held and retired blocks).
    Verra,
    /// Gold Standard's issuances and retirements exports.
    GoldStandard,
    /// ACR's retirements, cancellations and issuances exports.
    Acr,
    /// CAR's retirements, cancellations and issuances exports.
    Car,
    /// ART TREES' retirements and cancellations exports.
    ArtTrees,
}

impl Format {
    /// Every format, in the order they are listed.
    pub(crate) const ALL: [Format; 5] = [
        Format::Verra,
        Format::GoldStandard,
        Format::Acr,
        Format::Car,
        Format::ArtTrees,
    ];

    /// Its name on the command line and in `POST /imports`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Verra => "verra",
            Self::GoldStandard => "gold-standard",
            Self::Acr => "acr",
            Self::Car => "car",
            Self::ArtTrees => "art-trees",
        }
    }

    /// The format [`Format::name`] names (trimmed, any case).
    pub(crate) fn parse(s: &str) -> Option<Format> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
    }

    /// The `registry` field of the records it reads.
    pub(crate) fn registry(self) -> &'static str {
        match self {
            Self::Verra => "Verra",
            Self::GoldStandard => "Gold Standard",
            Self::Acr => "ACR",
            Self::Car => "CAR",
            Self::ArtTrees => "ART TREES",
        }
    }

    /// The kinds of file the registry exports, in the order they are tried.
    fn kinds(self) -> &'static [Kind] {
        match self {
            Self::Verra => verra::KINDS,
            Self::GoldStandard => gold_standard::KINDS,
            Self::Acr => acr::KINDS,
            Self::Car => car::KINDS,
            Self::ArtTrees => art_trees::KINDS,
        }
    }

    /// "a Verra", "an ACR", for messages.
    fn with_article(self) -> String {
        let article = if self.registry().starts_with('A') {
            "an"
        } else {
            "a"
        };
        format!("{article} {}", self.registry())
    }
}

/// One row of a registry export, read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RegistryRow {
    /// The row's number in the file ([`SheetRow::row`]).
    pub(crate) row: usize,
    /// What it holds.
    pub(crate) item: Item,
}

/// What a row holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    /// A block (and, for a retirement or cancellation row, its end).
    Block(Entry),
    /// A row that holds no block to import, and why.
    Skipped(String),
    /// A row that cannot be read, naming the column.
    Rejected(RowError),
}

/// Why a row cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowError {
    /// The column, as the file's header spells it (empty when it is the
    /// row's shape: `extra_cells`).
    pub(crate) column: String,
    /// `invalid_quantity`, `invalid_serial`, `serial_mismatch`,
    /// `invalid_date`, `invalid_vintage`, `missing_value`, `too_long`,
    /// `unknown_status` or `extra_cells`.
    pub(crate) code: &'static str,
    /// What was found and what was expected.
    pub(crate) message: String,
}

/// A block a row names.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    /// project_name, registry, vintage (integer), quantity (integer string),
    /// serial_number (as in the file): the record input of SPEC §2.
    pub(crate) record: Map<String, Value>,
    /// The file's account holder, if it names one (ACR/CAR/ART "Account Holder").
    pub(crate) holder: Option<String>,
    /// Set for a retirement/cancellation row.
    pub(crate) end: Option<End>,
}

/// A block's retirement or cancellation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct End {
    /// `Retire` or `Cancel`.
    pub(crate) action: Action,
    /// The event's payload: `effective_at` and, for a retirement,
    /// `beneficiary`, `reason`, `purpose`; for a cancellation, `reason`.
    pub(crate) payload: Map<String, Value>,
}

/// Why a file cannot be read as a registry export at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    /// Zero bytes, or nothing but white space.
    #[error("{file} is empty: a registry export starts with a header row")]
    Empty {
        /// The file.
        file: String,
    },
    /// Not text in an encoding the import reads.
    #[error("{file}: {detail}")]
    Encoding {
        /// The file.
        file: String,
        /// What was found.
        detail: String,
    },
    /// The CSV's quoting is broken.
    #[error("{file} cannot be read as CSV: {detail}")]
    Csv {
        /// The file.
        file: String,
        /// Why.
        detail: String,
    },
    /// Named `.xlsx` but not a zip.
    #[error("{file} is named .xlsx but is not an XLSX file (an XLSX is a zip archive): save it from the spreadsheet again, or export CSV")]
    NotXlsx {
        /// The file.
        file: String,
    },
    /// An Excel 97-2003 workbook.
    #[error("{file} is a legacy Excel .xls workbook, which the import does not read: save it as .xlsx or CSV")]
    LegacyXls {
        /// The file.
        file: String,
    },
    /// The XLSX cannot be read.
    #[error("{file} cannot be read as XLSX: {detail}")]
    Xlsx {
        /// The file.
        file: String,
        /// Why.
        detail: String,
    },
    /// The XLSX has no worksheet.
    #[error("{file} is an XLSX workbook without a worksheet")]
    NoSheet {
        /// The file.
        file: String,
    },
    /// The first worksheet is empty.
    #[error(
        "{file}: the worksheet {sheet:?} has no rows: a registry export starts with a header row"
    )]
    NoRows {
        /// The file.
        file: String,
        /// The worksheet.
        sheet: String,
    },
    /// The worksheet's used range is too large to read.
    #[error(
        "{file}: the worksheet {sheet:?} spans {rows} rows by {columns} columns (to its cell {far}), more than the {max} cells the import reads: \
         delete the stray cells far below or to the right of the data, or export CSV"
    )]
    TooLarge {
        /// The file.
        file: String,
        /// The worksheet.
        sheet: String,
        /// The cell farthest from the first, in A1 notation.
        far: String,
        /// Rows from the first used to the last.
        rows: u64,
        /// Columns from the first used to the last.
        columns: u64,
        /// The most cells read.
        max: usize,
    },
    /// The first row is all empty cells.
    #[error("{file}: the first row is empty: a registry export starts with a header row")]
    NoHeader {
        /// The file.
        file: String,
    },
    /// The header is no registry export's.
    #[error("the header {} is not that of a registry export the import reads ({}); give the format if the file is one of them", quoted(headers), known_kinds())]
    Unknown {
        /// The header as the file has it.
        headers: Vec<String>,
    },
    /// The header is that of more than one registry's export.
    #[error("the header {} could be {}: give the format", quoted(headers), formats.iter().map(|f| f.name()).collect::<Vec<_>>().join(" or "))]
    Ambiguous {
        /// The formats it could be.
        formats: Vec<Format>,
        /// The header as the file has it.
        headers: Vec<String>,
    },
    /// A column the format needs is missing.
    #[error("{}the header has no column {} of {} export (its header: {})", looks_like.as_ref().map(|l| format!("this looks like {l} export, not {}: ", format.name())).unwrap_or_default(), quoted(missing), expected, quoted(headers))]
    MissingColumns {
        /// The format given.
        format: Format,
        /// The kind of file expected, "a Verra VCUs".
        expected: String,
        /// The columns missing, as the registry spells them.
        missing: Vec<String>,
        /// Another registry's export the header matches ("an ACR
        /// retirements"), when it matches one.
        looks_like: Option<String>,
        /// The header as the file has it.
        headers: Vec<String>,
    },
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn known_kinds() -> String {
    Format::ALL
        .iter()
        .flat_map(|f| {
            f.kinds()
                .iter()
                .map(move |k| format!("{} {}", f.registry(), k.name))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A kind of export file of one registry.
struct Kind {
    /// "retirements", "cancellations", "issuances", "VCUs".
    name: &'static str,
    /// Headers that together identify it.
    signature: &'static [&'static str],
    /// Headers it is read from, beside the signature's.
    required: &'static [&'static str],
    /// Reads one row that is not empty.
    read: fn(&Cells<'_>) -> Result<Item, RowError>,
}

impl Kind {
    fn matches(&self, columns: &Columns) -> bool {
        self.signature.iter().all(|h| columns.has(h))
    }

    fn missing(&self, columns: &Columns) -> Vec<String> {
        let mut missing: Vec<String> = Vec::new();
        for h in self.signature.iter().chain(self.required) {
            if !columns.has(h) && !missing.iter().any(|m| m == h) {
                missing.push((*h).to_owned());
            }
        }
        missing
    }
}

/// A header's name as it is matched: trimmed, lowercase, runs of white
/// space as one space.
fn normalize(header: &str) -> String {
    header
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The header, indexed by normalized name.
struct Columns {
    headers: Vec<String>,
    index: HashMap<String, usize>,
}

impl Columns {
    fn new(headers: &[String]) -> Self {
        let mut index = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            index.entry(normalize(h)).or_insert(i);
        }
        Self {
            headers: headers.to_vec(),
            index,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.index.contains_key(&normalize(name))
    }
}

/// One row's cells, by column name.
struct Cells<'a> {
    columns: &'a Columns,
    cells: &'a [String],
}

impl<'a> Cells<'a> {
    /// The cell of the column `name` (trimmed), `None` when the column is
    /// missing or the cell empty.
    fn get(&self, name: &str) -> Option<&'a str> {
        let i = *self.columns.index.get(&normalize(name))?;
        let cell = self.cells.get(i)?.trim();
        (!cell.is_empty()).then_some(cell)
    }

    /// The column's header as the file spells it.
    fn column(&self, name: &str) -> String {
        self.columns
            .index
            .get(&normalize(name))
            .and_then(|&i| self.columns.headers.get(i))
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }

    fn error(&self, name: &str, code: &'static str, message: String) -> RowError {
        RowError {
            column: self.column(name),
            code,
            message,
        }
    }

    /// A required text: the column `name`, else the column `fallback`.
    fn required(&self, name: &str, fallback: Option<&str>) -> Result<String, RowError> {
        self.get(name)
            .or_else(|| fallback.and_then(|f| self.get(f)))
            .map(str::to_owned)
            .ok_or_else(|| {
                let either = fallback.map(|f| format!(" (and so is {})", self.column(f)));
                self.error(
                    name,
                    "missing_value",
                    format!(
                        "{} is empty{}",
                        self.column(name),
                        either.unwrap_or_default()
                    ),
                )
            })
    }

    /// An optional text of at most `max` characters.
    fn text(&self, name: &str, max: usize) -> Result<Option<String>, RowError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        let chars = text.chars().count();
        if chars > max {
            return Err(self.error(
                name,
                "too_long",
                format!(
                    "{} has {chars} characters; at most {max} are kept",
                    self.column(name)
                ),
            ));
        }
        Ok(Some(text.to_owned()))
    }

    /// The vintage year in the column `name`.
    fn vintage(&self, name: &str) -> Result<i64, RowError> {
        let text = self.required(name, None)?;
        text.parse::<i64>()
            .ok()
            .filter(|_| text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                self.error(
                    name,
                    "invalid_vintage",
                    format!("{} {text:?} is not a year", self.column(name)),
                )
            })
    }

    /// The quantity in the column `name`.
    fn quantity(&self, name: &str) -> Result<u64, RowError> {
        let text = self.get(name).unwrap_or_default();
        parse_quantity(text).ok_or_else(|| {
            self.error(
                name,
                "invalid_quantity",
                format!(
                    "{} {text:?} is not a whole positive number of credits",
                    self.column(name)
                ),
            )
        })
    }

    /// The serial in the column `name`, checked against `quantity` (from
    /// the column `quantity_column`); `None` when the cell is empty.
    fn serial(
        &self,
        name: &str,
        quantity_column: &str,
        quantity: u64,
    ) -> Result<Option<String>, RowError> {
        let Some(serial) = self.get(name) else {
            return Ok(None);
        };
        let canonical = canonical_text(serial);
        let Some(block) = parse_serial(&canonical) else {
            return Err(self.error(
                name,
                "invalid_serial",
                format!(
                    "{} {serial:?} is not a serial range in any scheme the tracker reads (SPEC §6)",
                    self.column(name)
                ),
            ));
        };
        let count = (block.end - block.start).saturating_add(1);
        if count != quantity {
            return Err(self.error(
                name,
                "serial_mismatch",
                format!(
                    "{} {serial:?} names {count} credits ({} to {}), but {} is {quantity}",
                    self.column(name),
                    block.start,
                    block.end,
                    self.column(quantity_column)
                ),
            ));
        }
        Ok(Some(serial.to_owned()))
    }

    /// The date in the column `name`; `None` when the cell is empty.
    fn date(&self, name: &str, dates: Dates) -> Result<Option<values::Stamp>, RowError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        parse_date(text, dates).map(Some).ok_or_else(|| {
            self.error(
                name,
                "invalid_date",
                format!(
                    "{} {text:?} is not a date in a form this export uses: {}",
                    self.column(name),
                    dates.forms()
                ),
            )
        })
    }

    /// The texts of `names` that are not empty, joined by "; ", at most
    /// `MAX_NOTE_CHARS` characters (else `too_long`, naming the longest).
    fn joined(&self, names: &[&str]) -> Result<Option<String>, RowError> {
        let parts: Vec<(&str, &str)> = names
            .iter()
            .filter_map(|n| self.get(n).map(|t| (*n, t)))
            .collect();
        let text = parts.iter().map(|(_, t)| *t).collect::<Vec<_>>().join("; ");
        let chars = text.chars().count();
        if chars > MAX_NOTE_CHARS {
            let longest = parts
                .iter()
                .max_by_key(|(_, t)| t.chars().count())
                .map_or("", |(n, _)| *n);
            return Err(self.error(
                longest,
                "too_long",
                format!(
                    "the reason read from {} has {chars} characters; at most {MAX_NOTE_CHARS} are kept",
                    parts
                        .iter()
                        .map(|(n, _)| self.column(n))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            ));
        }
        Ok((!text.is_empty()).then_some(text))
    }

    /// A retirement's `purpose` from the registry's category in the column
    /// `category`, when it maps cleanly, and its `reason`: the category when
    /// it does not map, then the texts of `details`, joined by "; ".
    fn purpose_and_reason(
        &self,
        category: &str,
        details: &[&str],
    ) -> Result<(Option<&'static str>, Option<String>), RowError> {
        let purpose = self.get(category).and_then(purpose);
        let mut names: Vec<&str> = Vec::new();
        if purpose.is_none() {
            names.push(category);
        }
        names.extend_from_slice(details);
        Ok((purpose, self.joined(&names)?))
    }
}

/// The core's retirement `purpose` a registry's category names, when it
/// names exactly one. Others ("Environmental Benefit", "On Behalf of Third
/// Party", "Voluntary", "... Pledge AND Host Country NDC") go to `reason`.
fn purpose(category: &str) -> Option<&'static str> {
    let purpose = match category.trim().to_lowercase().as_str() {
        "contribution towards corporate climate pledge" => "corporate_target",
        "corsia" | "corsia compliance" | "compliance" | "regulatory compliance" => {
            "regulatory_compliance"
        }
        _ => return None,
    };
    RETIREMENT_PURPOSES.iter().copied().find(|p| *p == purpose)
}

/// An event payload under construction.
#[derive(Default)]
struct Payload(Map<String, Value>);

impl Payload {
    fn at(stamp: Option<values::Stamp>) -> Self {
        let mut payload = Self::default();
        payload.put("effective_at", stamp.map(|s| s.rfc3339));
        payload
    }

    fn put(&mut self, key: &str, value: Option<impl Into<String>>) {
        if let Some(value) = value {
            self.0.insert(key.to_owned(), Value::String(value.into()));
        }
    }

    fn end(self, action: Action) -> Option<End> {
        Some(End {
            action,
            payload: self.0,
        })
    }
}

/// The fields of a block row.
struct Block {
    format: Format,
    project: String,
    vintage: i64,
    quantity: u64,
    serial: String,
    holder: Option<String>,
    end: Option<End>,
}

impl Block {
    fn item(self) -> Item {
        let mut record = Map::new();
        record.insert("project_name".into(), Value::String(self.project));
        record.insert(
            "registry".into(),
            Value::String(self.format.registry().into()),
        );
        record.insert("vintage".into(), Value::from(self.vintage));
        record.insert("quantity".into(), Value::String(self.quantity.to_string()));
        record.insert("serial_number".into(), Value::String(self.serial));
        Item::Block(Entry {
            record,
            holder: self.holder,
            end: self.end,
        })
    }
}

/// The columns a block row of ACR, CAR and ART TREES exports is read from,
/// as each names them.
struct BlockColumns {
    format: Format,
    name: &'static str,
    id: &'static str,
    vintage: &'static str,
    quantity: &'static str,
    serial: &'static str,
    holder: &'static str,
}

impl BlockColumns {
    /// The row's block, with the retirement or cancellation `end` reads.
    fn read(
        &self,
        c: &Cells<'_>,
        end: impl FnOnce(&Cells<'_>) -> Result<Option<End>, RowError>,
    ) -> Result<Item, RowError> {
        let project = c.required(self.name, Some(self.id))?;
        let vintage = c.vintage(self.vintage)?;
        let quantity = c.quantity(self.quantity)?;
        let Some(serial) = c.serial(self.serial, self.quantity, quantity)? else {
            return Ok(no_serial(c, self.serial));
        };
        Ok(Block {
            format: self.format,
            project,
            vintage,
            quantity,
            serial,
            holder: c.get(self.holder).map(str::to_owned),
            end: end(c)?,
        }
        .item())
    }
}

/// A retirement row of the registries hosted on APX (ACR, ART TREES), whose
/// reports share these columns; `date` is the date's column.
fn apx_retirement(block: &BlockColumns, date: &str, c: &Cells<'_>) -> Result<Item, RowError> {
    block.read(c, |c| {
        let mut payload = Payload::at(c.date(date, Dates::MonthFirst)?);
        payload.put(
            "beneficiary",
            c.text("Retired on Behalf of", MAX_NAME_CHARS)?,
        );
        let (purpose, reason) =
            c.purpose_and_reason("Retirement Reason", &["Purpose of Retirement"])?;
        payload.put("purpose", purpose);
        payload.put("reason", reason);
        Ok(payload.end(Action::Retire))
    })
}

/// A cancellation row of ACR, CAR or ART TREES: the date in `date`
/// (M/D/YYYY), the reason from the `reasons` columns joined.
fn cancellation_row(
    block: &BlockColumns,
    date: &str,
    reasons: &[&str],
    c: &Cells<'_>,
) -> Result<Item, RowError> {
    block.read(c, |c| {
        let mut payload = Payload::at(c.date(date, Dates::MonthFirst)?);
        payload.put("reason", c.joined(reasons)?);
        Ok(payload.end(Action::Cancel))
    })
}

/// Why a row without a serial is skipped.
fn no_serial(cells: &Cells<'_>, column: &str) -> Item {
    Item::Skipped(format!(
        "no serial number: the {} cell is empty; the import does not guess ranges",
        cells.column(column)
    ))
}

/// Why an issuance row (which carries no serial) is skipped.
fn issuance_row(format: Format) -> Item {
    Item::Skipped(format!(
        "no serial number: issuance rows of {} exports carry none; the import does not guess ranges",
        format.registry()
    ))
}

/// Every kind of export whose signature `columns` has.
fn matching(columns: &Columns) -> Vec<(Format, &'static Kind)> {
    Format::ALL
        .into_iter()
        .flat_map(|f| f.kinds().iter().map(move |k| (f, k)))
        .filter(|(_, k)| k.matches(columns))
        .collect()
}

/// The registry whose export `sheet` is, from its header.
pub(crate) fn detect(sheet: &Sheet) -> Result<Format, RegistryError> {
    let columns = Columns::new(&sheet.headers);
    let mut formats: Vec<Format> = matching(&columns).into_iter().map(|(f, _)| f).collect();
    formats.dedup();
    match formats.as_slice() {
        [format] => Ok(*format),
        [] => Err(RegistryError::Unknown {
            headers: sheet.headers.clone(),
        }),
        _ => Err(RegistryError::Ambiguous {
            formats,
            headers: sheet.headers.clone(),
        }),
    }
}

/// The rows of `sheet`, read as `format`'s export. A column the format
/// needs that the header lacks is an error for the whole file (naming the
/// columns, and the registry whose export it looks like, if any).
pub(crate) fn read_rows(format: Format, sheet: &Sheet) -> Result<Vec<RegistryRow>, RegistryError> {
    let columns = Columns::new(&sheet.headers);
    let kinds = format.kinds();
    let kind = kinds.iter().find(|k| k.matches(&columns));
    let missing = match kind {
        Some(kind) => kind.missing(&columns),
        None => kinds
            .iter()
            .map(|k| k.missing(&columns))
            .min_by_key(Vec::len)
            .unwrap_or_default(),
    };
    let Some(kind) = kind.filter(|_| missing.is_empty()) else {
        let expected_kind = kind
            .or_else(|| kinds.iter().min_by_key(|k| k.missing(&columns).len()))
            .map_or("", |k| k.name);
        let looks_like = matching(&columns)
            .into_iter()
            .find(|(f, _)| *f != format)
            .map(|(f, k)| format!("{} {}", f.with_article(), k.name));
        return Err(RegistryError::MissingColumns {
            format,
            expected: format!("{} {expected_kind}", format.with_article()),
            missing,
            looks_like,
            headers: sheet.headers.clone(),
        });
    };
    Ok(sheet
        .rows
        .iter()
        .map(|row| RegistryRow {
            row: row.row,
            item: read_row(kind, &columns, &row.cells),
        })
        .collect())
}

fn read_row(kind: &Kind, columns: &Columns, cells: &[String]) -> Item {
    if cells.iter().all(|c| c.trim().is_empty()) {
        return Item::Skipped("empty row".to_owned());
    }
    let width = columns.headers.len();
    if cells.iter().skip(width).any(|c| !c.trim().is_empty()) {
        return Item::Rejected(RowError {
            column: String::new(),
            code: "extra_cells",
            message: format!(
                "the row has {} cells, the header {width}: a cell with an unquoted delimiter shifts the columns",
                cells.len()
            ),
        });
    }
    match (kind.read)(&Cells { columns, cells }) {
        Ok(item) => item,
        Err(error) => Item::Rejected(error),
    }
}

#[cfg(test)]
mod tests;
