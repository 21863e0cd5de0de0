//! `carbon_tracker._native`: the core for Python.
//!
//! Only conversions live here: Python objects in, core calls, Python objects
//! out. Every decision (canonical form, id, validation, lifecycle) is the
//! core's. The typed public API is the Python package around this module
//! (`python/carbon_tracker/`), which also defines the exception classes raised
//! here, so that users catch one `ValidationError` whatever raised it.

mod arrow;
mod bulk;

use carbon_tracker_core::api::{self, ApiError};
use carbon_tracker_core::log::{
    self as tlog, Certificate, CertificateError, Checkpoint, VerifierKey,
};
use carbon_tracker_core::time::format_description::well_known::Rfc3339;
use carbon_tracker_core::time::OffsetDateTime;
use carbon_tracker_core::{
    canonical_text, Action, CanonicalRecord, ErrorCode, Event, FieldValue, RecordId, RecordInput,
    RecordState, TransitionCode, ValidationError, ID_SCHEME, RECORD_FIELDS, RETIREMENT_PURPOSES,
};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// One Python value as the core's untyped field value.
fn field_value(obj: &Bound<'_, PyAny>) -> PyResult<FieldValue> {
    let py = obj.py();
    Ok(if let Ok(s) = obj.cast::<PyString>() {
        // The str's own UTF-8, not a copy (also under abi3 for 3.10+).
        match s.to_str() {
            Ok(text) => FieldValue::text(text),
            Err(_) => FieldValue::InvalidText,
        }
    } else if obj.is_none() {
        FieldValue::Null
    } else if let Ok(b) = obj.cast::<PyBool>() {
        FieldValue::Bool(b.is_true())
    } else if obj.is_instance_of::<PyInt>() {
        // i64 first: under abi3, i128 extraction goes through a slower path.
        match obj
            .extract::<i64>()
            .map(i128::from)
            .or_else(|_| obj.extract::<i128>())
        {
            Ok(n) => FieldValue::Integer(n),
            // Beyond i128 (and perhaps beyond `str()`'s digit limit) only the
            // sign matters: such an integer is outside every v1 range.
            Err(_) => FieldValue::number(if obj.gt(0)? { "1e40" } else { "-1e40" }),
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        // A float reads as its shortest round-trip spelling, like `repr()`.
        FieldValue::Float(f.value())
    } else if obj.is_instance(
        &py.import(intern!(py, "decimal"))?
            .getattr(intern!(py, "Decimal"))?,
    )? {
        // `str(Decimal)` is exact: "1E+2", "0.00019", "NaN".
        FieldValue::number(obj.str()?.to_string())
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        FieldValue::Array
    } else {
        FieldValue::Object
    })
}

/// Sets `slot` to a Python value, reusing the slot's string for a `str`.
fn set_field(slot: &mut FieldValue, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    match obj.cast::<PyString>() {
        Ok(s) => match s.to_str() {
            Ok(text) => bulk::set_text(slot, text),
            Err(_) => *slot = FieldValue::InvalidText,
        },
        Err(_) => *slot = field_value(obj)?,
    }
    Ok(())
}

/// The interned field names: one Python string per name for the process.
fn field_keys(py: Python<'_>) -> &[Py<PyString>; 5] {
    static KEYS: PyOnceLock<[Py<PyString>; 5]> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        RECORD_FIELDS.map(|f| PyString::intern(py, f).unbind())
    })
}

/// A dict of at most this many keys is read by walking its entries and
/// naming each key's field, not by five lookups: rows from `json.load` or
/// `csv.DictReader` have keys that are equal to the field names but not the
/// interned names themselves, so each lookup also compared the strings
/// (`perf`: a quarter of reading a row), and a walk compares each key once.
const WALK_UP_TO: usize = 8;

/// The values of the five fields of a small dict whose keys are all exact
/// `str`s, found by walking its entries; `None` for any other dict (too
/// large, or a key of another type, whose own `__eq__` a lookup would ask),
/// which five lookups read instead.
fn walk<'py>(
    dict: &Bound<'py, PyDict>,
    keys: &[Py<PyString>; 5],
) -> Option<[Option<Bound<'py, PyAny>>; 5]> {
    if dict.len() > WALK_UP_TO {
        return None;
    }
    let mut values: [Option<Bound<'py, PyAny>>; 5] = Default::default();
    for (key, value) in dict.iter() {
        let key = key.cast_exact::<PyString>().ok()?;
        if let Some(slot) = field_of(key, keys).and_then(|i| values.get_mut(i)) {
            *slot = Some(value);
        }
    }
    Some(values)
}

/// The index in [`RECORD_FIELDS`] of the field a `str` key names, if any:
/// the interned name itself, or a string equal to it (as a lookup matches).
fn field_of(key: &Bound<'_, PyString>, keys: &[Py<PyString>; 5]) -> Option<usize> {
    let ptr = key.as_ptr();
    if let Some(i) = keys.iter().position(|k| k.as_ptr() == ptr) {
        return Some(i);
    }
    let text = key.to_str().ok()?;
    RECORD_FIELDS.iter().position(|name| *name == text)
}

/// Calls `f` on each of the five values of a mapping of record fields, in
/// [`RECORD_FIELDS`] order (`None`: the key is absent); `false` if `row` is
/// not a mapping.
fn for_each_field(
    row: &Bound<'_, PyAny>,
    mut f: impl FnMut(usize, Option<Bound<'_, PyAny>>) -> PyResult<()>,
) -> PyResult<bool> {
    let py = row.py();
    let keys = field_keys(py);
    if let Ok(dict) = row.cast::<PyDict>() {
        if let Some(values) = walk(dict, keys) {
            for (i, value) in values.into_iter().enumerate() {
                f(i, value)?;
            }
        } else {
            for (i, key) in keys.iter().enumerate() {
                f(i, dict.get_item(key.bind(py))?)?;
            }
        }
    } else if row.hasattr(intern!(py, "keys"))? && row.hasattr(intern!(py, "__getitem__"))? {
        for (i, key) in keys.iter().enumerate() {
            match row.get_item(key.bind(py)) {
                Ok(v) => f(i, Some(v))?,
                Err(e) if e.is_instance_of::<PyKeyError>(py) => f(i, None)?,
                Err(e) => return Err(e),
            }
        }
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// The five fields of `input`, in [`RECORD_FIELDS`] order.
fn input_fields(input: &mut RecordInput) -> [&mut FieldValue; 5] {
    [
        &mut input.project_name,
        &mut input.registry,
        &mut input.vintage,
        &mut input.quantity,
        &mut input.serial_number,
    ]
}

/// Sets `input` to a mapping of record fields; `false` if `row` is not a mapping.
fn fill_input(row: &Bound<'_, PyAny>, input: &mut RecordInput) -> PyResult<bool> {
    let mut slots = input_fields(input);
    for_each_field(row, |i, value| {
        if let Some(slot) = slots.get_mut(i) {
            match value {
                Some(v) => set_field(slot, &v)?,
                None => **slot = FieldValue::Missing,
            }
        }
        Ok(())
    })
}

/// A mapping of record fields as a core input; `None` if `row` is not a mapping.
fn record_input(row: &Bound<'_, PyAny>) -> PyResult<Option<RecordInput>> {
    let mut input = RecordInput::default();
    Ok(fill_input(row, &mut input)?.then_some(input))
}

/// The package's exception for an [`ApiError`]: `ValidationError` or `TransitionError`.
fn api_error(py: Python<'_>, e: &ApiError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let errors = e
            .errors
            .iter()
            .map(|f| (f.field.as_str(), f.code.as_str(), f.message.as_str()))
            .collect::<Vec<_>>();
        let module = py.import("carbon_tracker._errors")?;
        let exception = match e.kind {
            api::ErrorKind::Transition => module
                .getattr("TransitionError")?
                .call1((&e.message, &e.code, errors))?,
            api::ErrorKind::Validation => module
                .getattr("ValidationError")?
                .call1((&e.message, errors))?,
            api::ErrorKind::Parse => return Ok(PyValueError::new_err(e.message.clone())),
        };
        Ok(PyErr::from_value(exception))
    };
    build().unwrap_or_else(|err| err)
}

fn validation_error(py: Python<'_>, e: ValidationError) -> PyErr {
    api_error(py, &e.into())
}

/// The input of a call `f(mapping)` or `f(project_name=…, …)`; `None` when
/// the one positional argument is not a mapping.
///
/// Read here rather than in a Python wrapper: for a single id the wrapper's
/// argument shuffling cost as much as the id itself.
fn input_from_args(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Option<RecordInput>> {
    let kwargs = kwargs.filter(|k| !k.is_empty());
    match (args.len(), kwargs) {
        (1, None) => record_input(&args.get_item(0)?),
        (0, Some(kwargs)) => {
            for key in kwargs.keys() {
                let key = key.str()?;
                if !RECORD_FIELDS.contains(&&*key.to_cow()?) {
                    return Err(PyTypeError::new_err(format!(
                        "unexpected keyword argument '{key}'"
                    )));
                }
            }
            record_input(kwargs.as_any())
        }
        (0, None) => record_input(PyDict::new(args.py()).as_any()),
        _ => Err(PyTypeError::new_err(
            "pass one mapping or the fields as keyword arguments, not both",
        )),
    }
}

/// [`input_from_args`], with a row that is not a mapping as a `ValidationError`.
fn required_input(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<RecordInput> {
    input_from_args(args, kwargs)?
        .ok_or_else(|| validation_error(args.py(), ValidationError::not_an_object()))
}

thread_local! {
    /// The input `record_id` fills, kept so that its strings are reused.
    static INPUT: std::cell::RefCell<RecordInput> = std::cell::RefCell::default();
}

/// Runs `f` on this thread's reusable input (a fresh one if re-entered).
fn with_input<T>(f: impl FnOnce(&mut RecordInput) -> T) -> T {
    INPUT.with(|cell| match cell.try_borrow_mut() {
        Ok(mut input) => f(&mut input),
        Err(_) => f(&mut RecordInput::default()),
    })
}

/// `record_id`'s positional argument: absent, or the object given (`None`
/// included, which is not a mapping): an `Option` would read `None` as absent.
enum Positional<'py> {
    Absent,
    Given(Bound<'py, PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Positional<'py> {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Self::Given(obj.to_owned()))
    }
}

/// The v1 id of one record: `record_id(mapping)` or `record_id(project_name=…, …)`.
///
/// The mapping is a positional-only parameter and the fields are named
/// keyword-only parameters (not `*args`, `**kwargs`), so a call is matched by
/// the vectorcall protocol without building a tuple or a dict. With neither
/// (`record_id()`, `record_id(**{})`) every field is missing, as with an
/// empty mapping.
#[pyfunction]
#[pyo3(signature = (record=Positional::Absent, /, *, project_name=None, registry=None, vintage=None, quantity=None, serial_number=None))]
fn record_id<'py>(
    py: Python<'py>,
    record: Positional<'py>,
    project_name: Option<&Bound<'py, PyAny>>,
    registry: Option<&Bound<'py, PyAny>>,
    vintage: Option<&Bound<'py, PyAny>>,
    quantity: Option<&Bound<'py, PyAny>>,
    serial_number: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyString>> {
    let keywords = [project_name, registry, vintage, quantity, serial_number];
    with_input(|input| {
        match (record, keywords.iter().any(Option::is_some)) {
            (Positional::Given(record), false) => {
                if !fill_input(&record, input)? {
                    return Err(validation_error(py, ValidationError::not_an_object()));
                }
            }
            (Positional::Absent, _) => {
                for (slot, value) in input_fields(input).into_iter().zip(keywords) {
                    match value {
                        Some(v) => set_field(slot, v)?,
                        None => *slot = FieldValue::Missing,
                    }
                }
            }
            (Positional::Given(_), true) => {
                return Err(PyTypeError::new_err(
                    "pass one mapping or the fields as keyword arguments, not both",
                ))
            }
        }
        input
            .record_id()
            .map(|id| hex_string(py, &id))
            .map_err(|e| validation_error(py, e))
    })
}

/// `(project_name, registry, vintage, quantity, serial_number)` of one record.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn canonicalize(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<CanonicalTuple> {
    let input = required_input(args, kwargs)?;
    let c = api::canonicalize(&input).map_err(|e| api_error(args.py(), &e))?;
    Ok(canonical_tuple(c))
}

/// A canonical record as Python receives it: its fields in [`RECORD_FIELDS`] order.
type CanonicalTuple = (String, String, u16, String, String);

/// The fields of a canonical record, in [`RECORD_FIELDS`] order.
fn canonical_tuple(c: CanonicalRecord) -> CanonicalTuple {
    (
        c.project_name,
        c.registry,
        c.vintage,
        c.quantity.to_string(),
        c.serial_number,
    )
}

/// The id and the canonical fields of a record: `(id, canonical)`.
#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn derive_id(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<(String, CanonicalTuple)> {
    let input = required_input(args, kwargs)?;
    let derived = api::derive_id(&input).map_err(|e| api_error(args.py(), &e))?;
    Ok((derived.id.to_string(), canonical_tuple(derived.canonical)))
}

#[pyfunction]
#[pyo3(signature = (*args, **kwargs))]
fn validate(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(String, String, String)>> {
    let errors = match input_from_args(args, kwargs)? {
        Some(input) => input.validate(),
        None => ValidationError::not_an_object().errors,
    };
    Ok(errors
        .into_iter()
        .map(|e| (e.field, e.code.as_str().to_owned(), e.message))
        .collect())
}

/// One field of a row read from Python for [`StagedRows`]: text is kept as a
/// range of one shared string, so reading a row allocates nothing.
enum Slot {
    Text(usize, usize),
    Number(usize, usize),
    Value(FieldValue),
}

/// Rows of mappings read into plain Rust data, for the id threads.
#[derive(Default)]
struct StagedRows {
    text: String,
    /// Each row's five fields; `None`: the row is not a mapping.
    rows: Vec<Option<[Slot; 5]>>,
}

impl StagedRows {
    /// Room for `rows` rows of registry-like text without growing.
    fn with_capacity(rows: usize) -> Self {
        Self {
            text: String::with_capacity(rows * 96),
            rows: Vec::with_capacity(rows),
        }
    }

    fn stage(&mut self, value: Option<Bound<'_, PyAny>>) -> PyResult<Slot> {
        let Some(value) = value else {
            return Ok(Slot::Value(FieldValue::Missing));
        };
        let start = self.text.len();
        if let Ok(s) = value.cast::<PyString>() {
            return Ok(match s.to_str() {
                Ok(text) => {
                    self.text.push_str(text);
                    Slot::Text(start, self.text.len())
                }
                Err(_) => Slot::Value(FieldValue::InvalidText),
            });
        }
        Ok(match field_value(&value)? {
            FieldValue::Number(n) => {
                self.text.push_str(&n);
                Slot::Number(start, self.text.len())
            }
            other => Slot::Value(other),
        })
    }

    fn push(&mut self, row: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut slots: [Slot; 5] = Default::default();
        let is_mapping = for_each_field(row, |i, value| {
            let slot = self.stage(value)?;
            if let Some(s) = slots.get_mut(i) {
                *s = slot;
            }
            Ok(())
        })?;
        self.rows.push(is_mapping.then_some(slots));
        Ok(())
    }
}

impl Default for Slot {
    fn default() -> Self {
        Self::Value(FieldValue::Missing)
    }
}

impl bulk::Rows for StagedRows {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn fill(&self, row: usize, input: &mut RecordInput) -> Result<(), ValidationError> {
        let Some(Some(slots)) = self.rows.get(row) else {
            return Err(ValidationError::not_an_object());
        };
        for (field, slot) in input_fields(input).into_iter().zip(slots) {
            match slot {
                Slot::Text(a, b) => bulk::set_text(field, self.text.get(*a..*b).unwrap_or("")),
                Slot::Number(a, b) => bulk::set_number(field, |t| {
                    t.push_str(self.text.get(*a..*b).unwrap_or(""));
                }),
                Slot::Value(v) => *field = v.clone(),
            }
        }
        Ok(())
    }
}

/// The Python errors of invalid rows, each with its `.row`; without
/// `collect`, the first one raised (its message starting `row N: `).
fn row_errors(
    py: Python<'_>,
    errors: Vec<(usize, ValidationError)>,
    collect: bool,
) -> PyResult<Vec<(usize, Py<PyAny>)>> {
    let mut out = Vec::with_capacity(errors.len());
    for (row, e) in errors {
        let error = validation_error(py, e);
        let exception = error.value(py);
        exception.setattr("row", row)?;
        if !collect {
            let message = format!("row {row}: {exception}");
            exception.setattr("args", (message,))?;
            return Err(error);
        }
        out.push((row, error.into_value(py).into_any()));
    }
    Ok(out)
}

/// One `str` per row from 64 hex digits each (the rows of `parts` in turn),
/// with each invalid row's error in its place.
fn id_list(
    py: Python<'_>,
    parts: &[impl AsRef<[u8]>],
    errors: &[(usize, Py<PyAny>)],
) -> PyResult<Py<PyAny>> {
    let mut errors = errors.iter().peekable();
    let mut items = Vec::with_capacity(parts.iter().map(|hex| hex.as_ref().len() / 64).sum());
    let digits = parts.iter().flat_map(|hex| hex.as_ref().chunks_exact(64));
    for (row, digits) in digits.enumerate() {
        match errors.next_if(|(r, _)| *r == row) {
            Some((_, e)) => items.push(e.clone_ref(py)),
            None => {
                let text = std::str::from_utf8(digits).unwrap_or("");
                items.push(PyString::new(py, text).into_any().unbind());
            }
        }
    }
    Ok(PyList::new(py, items)?.into_any().unbind())
}

/// The ids of many records, in order. With `collect_errors`, a row that is not
/// valid gives its `ValidationError` in its place instead of raising.
///
/// Rows are read while holding the GIL; ids are computed without it, over
/// every core for large inputs.
#[pyfunction]
#[pyo3(signature = (rows, collect_errors = false))]
fn record_ids(
    py: Python<'_>,
    rows: &Bound<'_, PyAny>,
    collect_errors: bool,
) -> PyResult<Py<PyAny>> {
    if let Ok(list) = rows.cast::<PyList>() {
        if list.len() <= PIPELINE_CHUNK {
            let mut staged = StagedRows::default();
            for row in list.iter() {
                staged.push(&row)?;
            }
            let computed = py
                .detach(|| bulk::compute(&staged))
                .map_err(PyValueError::new_err)?;
            let errors = row_errors(py, computed.errors, collect_errors)?;
            return id_list(py, &[&computed.hex], &errors);
        }
    }
    let (parts, errors) = pipelined(py, rows)?;
    let errors = row_errors(py, errors, collect_errors)?;
    id_list(py, &parts, &errors)
}

/// Rows per chunk handed from the reading thread to the id threads.
const PIPELINE_CHUNK: usize = 4096;

/// Invalid rows: each row's number and why, in row order.
type RowErrors = Vec<(usize, ValidationError)>;

/// A chunk's ids: its first row, its 64 hex digits per row, its invalid rows.
type ChunkIds = (usize, Vec<u8>, RowErrors);

/// Reads the rows in chunks while holding the GIL (it must: they are Python
/// objects) and hands each chunk to id threads, which hash it while the next
/// one is read; then waits for the ids without the GIL.
///
/// The ids come back as each chunk's own buffer, in row order: they become
/// Python strings from there, with no copy into one buffer first.
fn pipelined(py: Python<'_>, rows: &Bound<'_, PyAny>) -> PyResult<(Vec<Vec<u8>>, RowErrors)> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let (to_workers, inbox) = std::sync::mpsc::channel::<(usize, StagedRows)>();
    let inbox = std::sync::Mutex::new(inbox);
    let (to_main, results) = std::sync::mpsc::channel::<ChunkIds>();
    let chunks = std::thread::scope(|scope| {
        for _ in 0..workers {
            let (inbox, to_main) = (&inbox, to_main.clone());
            scope.spawn(move || loop {
                let next = match inbox.lock() {
                    Ok(inbox) => inbox.recv(),
                    Err(_) => return,
                };
                let Ok((first, chunk)) = next else { return };
                let mut hex = vec![0_u8; chunk.rows.len() * 64];
                let errors = bulk::work(&chunk, 0, &mut hex)
                    .into_iter()
                    .map(|(row, e)| (first + row, e))
                    .collect();
                if to_main.send((first, hex, errors)).is_err() {
                    return;
                }
            });
        }
        drop(to_main);
        let read = (|| -> PyResult<()> {
            let mut first = 0;
            // Full room only once a first chunk filled up: an input that
            // is not a list may hold three rows or three million.
            let mut chunk = StagedRows::default();
            for row in rows.try_iter()? {
                chunk.push(&row?)?;
                if chunk.rows.len() == PIPELINE_CHUNK {
                    let full =
                        std::mem::replace(&mut chunk, StagedRows::with_capacity(PIPELINE_CHUNK));
                    let n = full.rows.len();
                    to_workers
                        .send((first, full))
                        .map_err(|_| PyValueError::new_err("the id threads stopped"))?;
                    first += n;
                }
            }
            if !chunk.rows.is_empty() {
                to_workers
                    .send((first, chunk))
                    .map_err(|_| PyValueError::new_err("the id threads stopped"))?;
            }
            Ok(())
        })();
        // The workers stop once the chunks sent so far are done.
        drop(to_workers);
        let chunks = py.detach(move || results.iter().collect::<Vec<ChunkIds>>());
        read.map(|()| chunks)
    })?;
    let mut chunks = chunks;
    chunks.sort_unstable_by_key(|(first, _, _)| *first);
    let mut parts = Vec::with_capacity(chunks.len());
    let mut errors = Vec::new();
    for (_, hex, e) in chunks {
        parts.push(hex);
        errors.extend(e);
    }
    Ok((parts, errors))
}

/// The id as a Python `str`, without an intermediate Rust `String`.
fn hex_string<'py>(py: Python<'py>, id: &RecordId) -> Bound<'py, PyString> {
    PyString::new(py, id.encode_hex(&mut [0; 64]))
}

fn events_from(events: &Bound<'_, PyAny>) -> PyResult<Vec<Event>> {
    pythonize::depythonize(events)
        .map_err(|e| PyValueError::new_err(format!("invalid events: {e}")))
}

/// The state a history adds up to, as a dict with RFC 3339 timestamps.
#[pyfunction]
fn replay(py: Python<'_>, events: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let events = events_from(events)?;
    let state = api::replay(&events).map_err(|e| api_error(py, &e))?;
    to_py(py, &state)
}

/// The state after `event`, from the state before it (`None`: no events yet).
#[pyfunction]
fn apply(
    py: Python<'_>,
    state: &Bound<'_, PyAny>,
    event: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let state: Option<RecordState> = pythonize::depythonize(state)
        .map_err(|e| PyValueError::new_err(format!("invalid state: {e}")))?;
    let event: Event = pythonize::depythonize(event)
        .map_err(|e| PyValueError::new_err(format!("invalid event: {e}")))?;
    let next = api::apply(state.as_ref(), &event).map_err(|e| api_error(py, &e))?;
    to_py(py, &next)
}

/// The state as of `at` (RFC 3339), or `None` if the record did not exist yet.
#[pyfunction]
fn state_at(py: Python<'_>, events: &Bound<'_, PyAny>, at: &str) -> PyResult<Option<Py<PyAny>>> {
    let events = events_from(events)?;
    let at = OffsetDateTime::parse(at, &Rfc3339)
        .map_err(|e| PyValueError::new_err(format!("invalid `at`: {e}")))?;
    match api::state_at(&events, at).map_err(|e| api_error(py, &e))? {
        Some(state) => to_py(py, &state).map(Some),
        None => Ok(None),
    }
}

/// The block a serial names (SPEC §6), as a dict, or `None`: the serial is
/// canonicalized first, as a record's is.
#[pyfunction]
fn parse_serial(py: Python<'_>, serial: &str) -> PyResult<Option<Py<PyAny>>> {
    carbon_tracker_core::parse_serial(&canonical_text(serial))
        .map(|block| to_py(py, &block))
        .transpose()
}

/// An action on a record, whole or partial (SPEC §6), as JSON text:
/// `{"whole": event}` or `{"split": {"parent", "front", "back"}}` (text, as
/// payload numbers keep their exact digits; the Python package parses it).
#[pyfunction]
#[pyo3(signature = (record, events, action, payload, now))]
fn act(
    py: Python<'_>,
    record: &Bound<'_, PyAny>,
    events: &Bound<'_, PyAny>,
    action: &str,
    payload: &Bound<'_, PyAny>,
    now: &str,
) -> PyResult<String> {
    let input = record_input(record)?
        .ok_or_else(|| validation_error(py, ValidationError::not_an_object()))?;
    let record = api::canonicalize(&input).map_err(|e| api_error(py, &e))?;
    let events = events_from(events)?;
    let state = api::replay(&events).map_err(|e| api_error(py, &e))?;
    let action = Action::parse(action).ok_or_else(|| {
        PyValueError::new_err(format!(
            "invalid action {action:?}: SOLD, RETIRED or CANCELLED"
        ))
    })?;
    let payload: Option<serde_json::Map<String, serde_json::Value>> =
        pythonize::depythonize(payload)
            .map_err(|e| PyValueError::new_err(format!("invalid payload: {e}")))?;
    let now = OffsetDateTime::parse(now, &Rfc3339)
        .map_err(|e| PyValueError::new_err(format!("invalid `now`: {e}")))?;
    let mut random = [[0_u8; 10]; 4];
    for bytes in &mut random {
        getrandom::fill(bytes).map_err(|e| PyValueError::new_err(format!("no randomness: {e}")))?;
    }
    let acted = carbon_tracker_core::act(&record, &state, action, payload, now, random)
        .map_err(|e| api_error(py, &e.into()))?;
    serde_json::to_string(&acted).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The package's `CertificateError(message, code, detail)`.
fn certificate_error(py: Python<'_>, message: String, code: &str, detail: Option<&str>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let exception = py
            .import("carbon_tracker._errors")?
            .getattr("CertificateError")?
            .call1((message, code, detail))?;
        Ok(PyErr::from_value(exception))
    };
    build().unwrap_or_else(|err| err)
}

fn core_certificate_error(py: Python<'_>, e: &CertificateError) -> PyErr {
    certificate_error(py, e.to_string(), e.code(), e.detail())
}

/// A pinned verifier key (`GET /log/key`; surrounding whitespace ignored).
fn verifier_key(key: &str) -> PyResult<VerifierKey> {
    VerifierKey::parse(key.trim())
        .map_err(|e| PyValueError::new_err(format!("invalid log key ({}): {e}", e.code())))
}

/// A trusted checkpoint the caller already holds: a signed note (opened with
/// the key) or a mapping `{origin, size, root}`.
enum Trusted {
    Note(String),
    Checkpoint(Checkpoint),
}

fn trusted_checkpoint(obj: &Bound<'_, PyAny>) -> PyResult<Trusted> {
    if let Ok(note) = obj.cast::<PyString>() {
        return Ok(Trusted::Note(note.to_cow()?.into_owned()));
    }
    pythonize::depythonize(obj)
        .map(Trusted::Checkpoint)
        .map_err(|e| {
            PyValueError::new_err(format!(
                "invalid trusted checkpoint (a signed note, or {{origin, size, root}}): {e}"
            ))
        })
}

/// Verifies a certificate (JSON text) against a pinned key, optionally
/// against a trusted older checkpoint and the consistency proof to the
/// certificate's: `{checkpoint, state, lineage}`, or `CertificateError`.
#[pyfunction]
#[pyo3(signature = (bundle, key, trusted = None))]
fn verify_certificate(
    py: Python<'_>,
    bundle: &str,
    key: &str,
    trusted: Option<(Bound<'_, PyAny>, Vec<String>)>,
) -> PyResult<Py<PyAny>> {
    let certificate: Certificate = serde_json::from_str(bundle)
        .map_err(|e| PyValueError::new_err(format!("not a certificate: {e}")))?;
    let key = verifier_key(key)?;
    let trusted = trusted
        .map(|(checkpoint, proof)| trusted_checkpoint(&checkpoint).map(|c| (c, proof)))
        .transpose()?;
    let outcome = py.detach(
        || -> Result<_, (String, &'static str, Option<&'static str>)> {
            let from_core = |e: CertificateError| (e.to_string(), e.code(), e.detail());
            let trusted = match trusted {
                None => None,
                Some((checkpoint, proof)) => {
                    let checkpoint =
                        match checkpoint {
                            Trusted::Checkpoint(c) => c,
                            Trusted::Note(note) => match tlog::open_checkpoint(&note, &key) {
                                Ok(c) => c,
                                Err(e) => {
                                    // The certificate's own signature is checked first, as the core does.
                                    tlog::open_checkpoint(&certificate.checkpoint, &key)
                                        .map_err(|e| from_core(CertificateError::Signature(e)))?;
                                    return Err((
                                format!("the trusted checkpoint does not open with the key: {e}"),
                                "consistency",
                                Some(e.code()),
                            ));
                                }
                            },
                        };
                    let proof = proof
                        .iter()
                        .map(|h| tlog::parse_hash(h))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| from_core(CertificateError::Consistency(e)))?;
                    Some((checkpoint, proof))
                }
            };
            tlog::verify_certificate(
                &certificate,
                &key,
                trusted.as_ref().map(|(c, p)| (c, p.as_slice())),
            )
            .map_err(from_core)
        },
    );
    match outcome {
        Ok(verified) => to_py(py, &verified),
        Err((message, code, detail)) => Err(certificate_error(py, message, code, detail)),
    }
}

/// The checkpoint a signed note carries, once its signature by the pinned
/// key is verified: `{origin, size, root}`, or `CertificateError` with code
/// `signature`.
#[pyfunction]
fn open_checkpoint(py: Python<'_>, note: &str, key: &str) -> PyResult<Py<PyAny>> {
    let key = verifier_key(key)?;
    let checkpoint = tlog::open_checkpoint(note, &key)
        .map_err(|e| core_certificate_error(py, &CertificateError::Signature(e)))?;
    to_py(py, &checkpoint)
}

/// The fingerprint of a verifier key people compare: the SHA-256 of its
/// type byte and public key, 64 hex digits.
#[pyfunction]
fn key_fingerprint(key: &str) -> PyResult<String> {
    Ok(verifier_key(key)?.fingerprint())
}

/// A core value as plain Python data (dicts, lists, str, int).
fn to_py<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    Ok(pythonize::pythonize(py, value)
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .unbind())
}

/// The core for Python.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ID_SCHEME", ID_SCHEME)?;
    // The core's lists, so that no Python code keeps a copy.
    m.add("RECORD_FIELDS", RECORD_FIELDS.to_vec())?;
    m.add(
        "ERROR_CODES",
        ErrorCode::ALL.map(ErrorCode::as_str).to_vec(),
    )?;
    m.add(
        "TRANSITION_CODES",
        TransitionCode::ALL.map(TransitionCode::as_str).to_vec(),
    )?;
    m.add("RETIREMENT_PURPOSES", RETIREMENT_PURPOSES.to_vec())?;
    m.add_function(wrap_pyfunction!(record_id, m)?)?;
    m.add_function(wrap_pyfunction!(record_ids, m)?)?;
    m.add_function(wrap_pyfunction!(arrow::record_ids_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(canonicalize, m)?)?;
    m.add_function(wrap_pyfunction!(derive_id, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    m.add_function(wrap_pyfunction!(apply, m)?)?;
    m.add_function(wrap_pyfunction!(state_at, m)?)?;
    m.add_function(wrap_pyfunction!(parse_serial, m)?)?;
    m.add_function(wrap_pyfunction!(act, m)?)?;
    m.add_function(wrap_pyfunction!(verify_certificate, m)?)?;
    m.add_function(wrap_pyfunction!(open_checkpoint, m)?)?;
    m.add_function(wrap_pyfunction!(key_fingerprint, m)?)?;
    Ok(())
}
