//! Records in: JavaScript values to the core's [`RecordInput`], conversions only.
//!
//! Reading a record property by property from Rust took several crossings of
//! the JavaScript/WASM boundary per field, each with its own string copy:
//! most of the time of an id. Instead `js/convert.js` writes a record's five
//! fields (or a whole batch) as tagged bytes (text as length-prefixed UTF-8,
//! numbers as their 8 bytes) straight into a buffer reused across calls: one
//! call each way. The format is described at the top of `js/convert.js`.
//! Each field then becomes the core's untyped [`FieldValue`] (reusing the
//! previous record's strings), so the core reports every bad field at once
//! with its own codes. A string with a lone surrogate arrives as
//! [`FieldValue::InvalidText`]: the core refuses it rather than letting a
//! conversion repair it to U+FFFD.

use std::cell::{Cell, RefCell};

use carbon_tracker_core::{FieldValue, RecordInput};
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::errors::type_error;

#[wasm_bindgen(module = "/js/convert.js")]
extern "C" {
    /// Gives `js/convert.js` this module's memory, once.
    #[wasm_bindgen(js_name = setMemory)]
    fn set_memory(memory: &JsValue);
    /// Packs a record and writes it as UTF-8 at `ptr`: the bytes written,
    /// `-needed` when `capacity` is too small (then `write_pending`), or
    /// [`NOT_A_RECORD`], or [`THREW`] (then `take_thrown`).
    #[wasm_bindgen(js_name = packRecord)]
    fn pack_record(record: &JsValue, ptr: u32, capacity: u32) -> i32;
    /// Packs a batch, as `pack_record` does.
    #[wasm_bindgen(js_name = packRecords)]
    fn pack_records(records: &Array, ptr: u32, capacity: u32) -> i32;
    /// Writes the packed text kept by a call that returned `-needed`.
    #[wasm_bindgen(js_name = writePending)]
    fn write_pending(ptr: u32, capacity: u32) -> i32;
    /// The exception that made a pack function return [`THREW`].
    #[wasm_bindgen(js_name = takeThrown)]
    fn take_thrown() -> JsValue;
    /// `count` ids of 64 characters each, from their concatenation.
    #[wasm_bindgen(js_name = splitIds)]
    pub(crate) fn split_ids(text: &str, count: u32) -> Array;
}

/// What `pack_record` returns for a value that is not a record object.
const NOT_A_RECORD: i32 = -0x7fff_fff0;
/// What the pack functions return when reading a record threw.
const THREW: i32 = -0x7fff_fff1;
/// The scratch buffer's size to start with: room for most batches of a few
/// records, and for every single record but huge ones.
const MIN_SCRATCH: usize = 4096;
/// The packed size of a registry-like record: five tags and lengths and
/// about 60 bytes of text.
const TYPICAL_RECORD_BYTES: usize = 96;

thread_local! {
    /// The buffer packed text is written into, kept between calls.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The record fields are read into, kept between calls so that their
    /// strings are reused rather than allocated per record.
    static RECORD: RefCell<RecordInput> = RefCell::new(RecordInput::default());
    /// Whether `js/convert.js` has this module's memory yet.
    static MEMORY_GIVEN: Cell<bool> = const { Cell::new(false) };
}

fn malformed() -> JsValue {
    type_error("carbon-tracker: packed records in a form this module does not read (mismatched package files?)")
}

/// The address and size of `buffer`, as the JavaScript side takes them.
fn region(buffer: &mut [u8]) -> Result<(u32, u32), JsValue> {
    let ptr = u32::try_from(buffer.as_mut_ptr() as usize).map_err(|_| malformed())?;
    let len = u32::try_from(buffer.len()).map_err(|_| malformed())?;
    Ok((ptr, len))
}

/// Runs `pack` (a pack function of `js/convert.js`) into the scratch
/// buffer, then `f` on the packed bytes; `None` for a value that is not a
/// record object. `hint`: the bytes the scratch buffer should have to begin with.
fn with_packed<T>(
    hint: usize,
    pack: impl FnOnce(u32, u32) -> i32,
    f: impl FnOnce(Option<&[u8]>) -> Result<T, JsValue>,
) -> Result<T, JsValue> {
    if !MEMORY_GIVEN.get() {
        set_memory(&wasm_bindgen::memory());
        MEMORY_GIVEN.set(true);
    }
    SCRATCH.with(|cell| {
        let mut fresh = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let buffer = borrowed.as_deref_mut().unwrap_or(&mut fresh);
        if buffer.len() < hint.max(MIN_SCRATCH) {
            buffer.resize(hint.max(MIN_SCRATCH), 0);
        }
        let (ptr, room) = region(buffer)?;
        let mut written = pack(ptr, room);
        match written {
            NOT_A_RECORD => return f(None),
            THREW => return Err(take_thrown()),
            needed if needed < 0 => {
                let needed = usize::try_from(needed.unsigned_abs()).map_err(|_| malformed())?;
                buffer.resize(needed, 0);
                let (ptr, room) = region(buffer)?;
                written = write_pending(ptr, room);
            }
            _ => {}
        }
        let bytes = usize::try_from(written)
            .ok()
            .and_then(|n| buffer.get(..n))
            .ok_or_else(malformed)?;
        f(Some(bytes))
    })
}

/// Runs `f` with the scratch record (a fresh one if it is in use).
fn with_record<T>(f: impl FnOnce(&mut RecordInput) -> T) -> T {
    RECORD.with(|cell| match cell.try_borrow_mut() {
        Ok(mut record) => f(&mut record),
        Err(_) => f(&mut RecordInput::default()),
    })
}

/// One packed field, borrowing its text from the packed bytes.
enum Packed<'a> {
    Text(&'a str),
    /// A bigint's digits (other numbers arrive as `Other(FieldValue::Float)`).
    Number(&'a str),
    Other(FieldValue),
}

/// Reads one packed field from the front of `rest`.
fn next_field<'a>(rest: &mut &'a [u8]) -> Option<Packed<'a>> {
    let (&tag, tail) = rest.split_first()?;
    *rest = tail;
    Some(Packed::Other(match tag {
        b'S' | b'N' => {
            let (len, tail) = tail.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
            let (bytes, tail) = tail.split_at_checked(len)?;
            let text = std::str::from_utf8(bytes).ok()?;
            *rest = tail;
            return Some(if tag == b'S' {
                Packed::Text(text)
            } else {
                Packed::Number(text)
            });
        }
        b'D' => {
            let (bytes, tail) = tail.split_first_chunk::<8>()?;
            *rest = tail;
            FieldValue::Float(f64::from_le_bytes(*bytes))
        }
        b'U' => FieldValue::InvalidText,
        b'M' => FieldValue::Missing,
        b'Z' => FieldValue::Null,
        b'T' => FieldValue::Bool(true),
        b'F' => FieldValue::Bool(false),
        b'A' => FieldValue::Array,
        b'O' => FieldValue::Object,
        _ => return None,
    }))
}

/// Puts a packed field into `slot`, reusing the string already there.
fn assign(slot: &mut FieldValue, field: Packed<'_>) {
    match (slot, field) {
        (FieldValue::Text(s), Packed::Text(text))
        | (FieldValue::Number(s), Packed::Number(text)) => {
            s.clear();
            s.push_str(text);
        }
        (slot, Packed::Text(text)) => *slot = FieldValue::text(text),
        (slot, Packed::Number(text)) => *slot = FieldValue::number(text),
        (slot, Packed::Other(value)) => *slot = value,
    }
}

/// Reads one packed record from the front of `rest` into `record`.
fn read_record(rest: &mut &[u8], record: &mut RecordInput) -> Result<(), JsValue> {
    for slot in [
        &mut record.project_name,
        &mut record.registry,
        &mut record.vintage,
        &mut record.quantity,
        &mut record.serial_number,
    ] {
        assign(slot, next_field(rest).ok_or_else(malformed)?);
    }
    Ok(())
}

/// Runs `f` on a record object read as a core input (`None` when `value` is
/// not an object; an array is not a record either). A getter that throws
/// propagates its error.
pub(crate) fn with_record_input<T>(
    value: &JsValue,
    f: impl FnOnce(Option<&RecordInput>) -> Result<T, JsValue>,
) -> Result<T, JsValue> {
    with_packed(
        0,
        |ptr, room| pack_record(value, ptr, room),
        |bytes| match bytes {
            None => f(None),
            Some(mut bytes) => with_record(|record| {
                read_record(&mut bytes, record)?;
                f(Some(record))
            }),
        },
    )
}

/// Runs `f` on each record of `values` in order, as [`with_record_input`]
/// does; stops at the first error `f` returns.
pub(crate) fn for_each_record_input(
    values: &Array,
    mut f: impl FnMut(u32, Option<&RecordInput>) -> Result<(), JsValue>,
) -> Result<(), JsValue> {
    // Room for a batch of typical records, so that most are written in
    // place rather than copied in by a second call.
    let hint = usize::try_from(values.length())
        .unwrap_or(0)
        .saturating_mul(TYPICAL_RECORD_BYTES);
    with_packed(
        hint,
        |ptr, room| pack_records(values, ptr, room),
        |bytes| {
            let mut bytes = bytes.unwrap_or_default();
            with_record(|record| {
                let mut row = 0_u32;
                while let Some((&tag, tail)) = bytes.split_first() {
                    bytes = tail;
                    match tag {
                        b'-' => f(row, None)?,
                        b'R' => {
                            read_record(&mut bytes, record)?;
                            f(row, Some(record))?;
                        }
                        _ => return Err(malformed()),
                    }
                    row += 1;
                }
                Ok(())
            })
        },
    )
}
