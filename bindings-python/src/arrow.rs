//! Columnar input: the five record fields read from Arrow columns (any
//! object with the Arrow PyCapsule interface — a pyarrow Table or
//! RecordBatch, a polars DataFrame — or a mapping of such columns), without
//! a Python object per row. The arrays come in through `pyo3-arrow` (the C
//! data and stream interfaces); their values are read by `arrow-array`.

use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Decimal256Array, Float64Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, StringViewArray, UInt64Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use carbon_tracker_core::{FieldValue, RecordInput, ValidationError, RECORD_FIELDS};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};
use pyo3_arrow::PyArray;

use crate::bulk::{self, set_number, set_text, Rows};

/// One field's column, in the few shapes the reader handles; every other
/// Arrow type is cast to one of these or read as a value of the wrong type.
enum Column {
    /// The column is not there: every row's field is missing.
    Absent,
    Utf8(StringArray),
    LargeUtf8(LargeStringArray),
    View(StringViewArray),
    Int(Int64Array),
    UInt(UInt64Array),
    Float(Float64Array),
    Decimal(Decimal128Array, i8),
    Decimal256(Decimal256Array, i8),
    Bool(BooleanArray),
    /// A type no field takes (lists, structs, dates, binary…) or all nulls:
    /// each row is this value, or null.
    Other(ArrayRef, FieldValue),
}

fn downcast<T: Clone + 'static>(array: &ArrayRef) -> Option<T> {
    array.as_any().downcast_ref::<T>().cloned()
}

fn cast_to(array: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
    arrow_cast::cast(array, to).ok()
}

impl Column {
    fn new(array: &ArrayRef) -> Self {
        let other = |value| Self::Other(array.clone(), value);
        let read = match array.data_type() {
            DataType::Null => Some(other(FieldValue::Null)),
            DataType::Utf8 => downcast(array).map(Self::Utf8),
            DataType::LargeUtf8 => downcast(array).map(Self::LargeUtf8),
            DataType::Utf8View => downcast(array).map(Self::View),
            DataType::Int64 => downcast(array).map(Self::Int),
            DataType::UInt64 => downcast(array).map(Self::UInt),
            DataType::Float64 => downcast(array).map(Self::Float),
            DataType::Boolean => downcast(array).map(Self::Bool),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => {
                cast_to(array, &DataType::Int64).and_then(|a| downcast(&a).map(Self::Int))
            }
            DataType::Float16 | DataType::Float32 => {
                cast_to(array, &DataType::Float64).and_then(|a| downcast(&a).map(Self::Float))
            }
            DataType::Decimal128(_, scale) => downcast(array).map(|a| Self::Decimal(a, *scale)),
            DataType::Decimal32(_, scale) | DataType::Decimal64(_, scale) => {
                cast_to(array, &DataType::Decimal128(38, *scale))
                    .and_then(|a| downcast(&a).map(|a| Self::Decimal(a, *scale)))
            }
            DataType::Decimal256(_, scale) => downcast(array).map(|a| Self::Decimal256(a, *scale)),
            // Categoricals (pandas, polars): the values they stand for.
            DataType::Dictionary(_, values) => cast_to(array, values).map(|a| Self::new(&a)),
            DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(_, _) => Some(other(FieldValue::Array)),
            _ => None,
        };
        read.unwrap_or_else(|| other(FieldValue::Object))
    }

    /// Sets `slot` to row `row`'s value (`row` is within the column).
    fn fill(&self, row: usize, slot: &mut FieldValue) {
        let is_null = |a: &dyn Array| a.is_null(row);
        match self {
            Self::Absent => *slot = FieldValue::Missing,
            Self::Utf8(a) if !is_null(a) => set_text(slot, a.value(row)),
            Self::LargeUtf8(a) if !is_null(a) => set_text(slot, a.value(row)),
            Self::View(a) if !is_null(a) => set_text(slot, a.value(row)),
            Self::Int(a) if !is_null(a) => *slot = FieldValue::Integer(a.value(row).into()),
            Self::UInt(a) if !is_null(a) => *slot = FieldValue::Integer(a.value(row).into()),
            Self::Float(a) if !is_null(a) => *slot = FieldValue::Float(a.value(row)),
            Self::Bool(a) if !is_null(a) => *slot = FieldValue::Bool(a.value(row)),
            // The exact value: its unscaled digits and an exponent (`1001E-1`).
            Self::Decimal(a, scale) if !is_null(a) => {
                let (value, scale) = (a.value(row), *scale);
                set_number(slot, |text| write_scaled(text, &value, scale));
            }
            Self::Decimal256(a, scale) if !is_null(a) => {
                let (value, scale) = (a.value(row), *scale);
                set_number(slot, |text| write_scaled(text, &value, scale));
            }
            Self::Other(a, value) if !is_null(a) => *slot = value.clone(),
            _ => *slot = FieldValue::Null,
        }
    }
}

/// `value × 10^-scale` as exact decimal text: the digits, then `E-scale`.
fn write_scaled(text: &mut String, value: &impl std::fmt::Display, scale: i8) {
    use std::fmt::Write;
    // Writing to a `String` cannot fail.
    let _ = write!(text, "{value}");
    if scale != 0 {
        let _ = write!(text, "E{}", -i16::from(scale));
    }
}

/// Five columns of equal length, in [`RECORD_FIELDS`] order.
struct Chunk {
    columns: [Column; 5],
    len: usize,
}

/// Every chunk of an input, read as one run of rows.
struct ColumnRows {
    chunks: Vec<Chunk>,
    /// The first row of each chunk.
    starts: Vec<usize>,
    len: usize,
}

impl ColumnRows {
    fn new(chunks: Vec<Chunk>) -> Self {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut len = 0;
        for chunk in &chunks {
            starts.push(len);
            len += chunk.len;
        }
        Self {
            chunks,
            starts,
            len,
        }
    }
}

impl Rows for ColumnRows {
    fn len(&self) -> usize {
        self.len
    }

    fn fill(&self, row: usize, input: &mut RecordInput) -> Result<(), ValidationError> {
        // The chunk holding `row`: the last one starting at or before it.
        let at = self.starts.partition_point(|&s| s <= row).saturating_sub(1);
        let (Some(chunk), Some(start)) = (self.chunks.get(at), self.starts.get(at)) else {
            return Err(ValidationError::not_an_object());
        };
        let row = row - start;
        let [p, r, v, q, s] = &chunk.columns;
        p.fill(row, &mut input.project_name);
        r.fill(row, &mut input.registry);
        v.fill(row, &mut input.vintage);
        q.fill(row, &mut input.quantity);
        s.fill(row, &mut input.serial_number);
        Ok(())
    }
}

/// The chunks of a table-like object (a record batch or a stream of them).
fn table_chunks(data: AnyRecordBatch) -> PyResult<Vec<Chunk>> {
    let reader = data.into_reader()?;
    let mut chunks = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| PyValueError::new_err(e.to_string()))?;
        let columns = RECORD_FIELDS.map(|name| {
            batch
                .column_by_name(name)
                .map_or(Column::Absent, Column::new)
        });
        chunks.push(Chunk {
            columns,
            len: batch.num_rows(),
        });
    }
    Ok(chunks)
}

/// The one chunk of a mapping of columns (each an Arrow array or chunked
/// array); every column given must have the same length.
fn mapping_chunks(columns: &Bound<'_, PyDict>) -> PyResult<Vec<Chunk>> {
    let mut len = None;
    let mut read = Vec::with_capacity(5);
    for name in RECORD_FIELDS {
        let Some(column) = columns.get_item(name)? else {
            read.push(Column::Absent);
            continue;
        };
        let array: AnyArray = column.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "column {name:?} is not an Arrow array (an object with __arrow_c_array__ or __arrow_c_stream__)"
            ))
        })?;
        let chunked = array.into_chunked_array()?;
        let parts: Vec<&dyn Array> = chunked.chunks().iter().map(|a| a.as_ref()).collect();
        let array = match parts.as_slice() {
            [one] => one.slice(0, one.len()),
            _ => arrow_select::concat::concat(&parts)
                .map_err(|e| PyValueError::new_err(e.to_string()))?,
        };
        match len {
            Some(n) if n != array.len() => {
                return Err(PyValueError::new_err(format!(
                    "column {name:?} has {} rows, the columns before it {n}",
                    array.len()
                )))
            }
            _ => len = Some(array.len()),
        }
        read.push(Column::new(&array));
    }
    let columns: [Column; 5] = read
        .try_into()
        .map_err(|_| PyValueError::new_err("five columns expected"))?;
    Ok(vec![Chunk {
        columns,
        len: len.unwrap_or(0),
    }])
}

/// The ids of the rows of Arrow columns: `(ids, errors)`, `ids` an Arrow
/// string array (null at each invalid row) or, with `as_list`, a list of
/// `str` (the `ValidationError` in place of each invalid row), `errors` the
/// invalid rows' `ValidationError`s (`.row` set), in order. Without
/// `collect_errors` the first invalid row raises instead.
#[pyfunction]
#[pyo3(signature = (data, collect_errors = false, as_list = false))]
pub(crate) fn record_ids_arrow(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    collect_errors: bool,
    as_list: bool,
) -> PyResult<(Py<PyAny>, Vec<Py<PyAny>>)> {
    let chunks = if let Ok(columns) = data.cast::<PyDict>() {
        mapping_chunks(columns)?
    } else {
        let table: AnyRecordBatch = data.extract().map_err(|_| {
            PyTypeError::new_err(
                "expected an Arrow table (an object with __arrow_c_stream__ or __arrow_c_array__) or a dict of Arrow columns",
            )
        })?;
        table_chunks(table)?
    };
    let rows = ColumnRows::new(chunks);
    let computed = py
        .detach(|| bulk::compute(&rows))
        .map_err(PyValueError::new_err)?;
    let n = rows.len;
    let errors = crate::row_errors(py, computed.errors, collect_errors)?;
    if as_list {
        let list = crate::id_list(py, &[&computed.hex], &errors)?;
        return Ok((list, errors.into_iter().map(|(_, e)| e).collect()));
    }
    let mut valid = vec![true; n];
    for (row, _) in &errors {
        if let Some(v) = valid.get_mut(*row) {
            *v = false;
        }
    }
    let nulls = (!errors.is_empty()).then(|| NullBuffer::from(valid));
    let values = arrow_buffer::Buffer::from_vec(computed.hex);
    let bad = |e: arrow_schema::ArrowError| PyValueError::new_err(e.to_string());
    // Every row takes 64 bytes (an invalid row's are zeros, under its null).
    let array: ArrayRef = match i32::try_from(n * 64) {
        Ok(_) => {
            let offsets = (0..=n).map(|i| i32::try_from(i * 64).unwrap_or(i32::MAX));
            let offsets = OffsetBuffer::new(ScalarBuffer::from_iter(offsets));
            Arc::new(StringArray::try_new(offsets, values, nulls).map_err(bad)?)
        }
        Err(_) => {
            let offsets = (0..=n).map(|i| i64::try_from(i * 64).unwrap_or(i64::MAX));
            let offsets = OffsetBuffer::new(ScalarBuffer::from_iter(offsets));
            Arc::new(LargeStringArray::try_new(offsets, values, nulls).map_err(bad)?)
        }
    };
    let field = Field::new("record_id", array.data_type().clone(), true);
    let ids = PyArray::new(array, Arc::new(field))
        .into_pyobject(py)?
        .into_any()
        .unbind();
    Ok((ids, errors.into_iter().map(|(_, e)| e).collect()))
}
