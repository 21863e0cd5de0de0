// Values across the JavaScript/WebAssembly boundary in one crossing each.
//
// Reading a record property by property from Rust costs several calls across
// the boundary per field, each with its own string copy; that was most of the
// time of an id. Here a record's five fields become one string, which crosses
// once (src/input.rs unpacks it); a batch's ids come back as one string too.
// Conversion only: the core decides everything.
//
// Each field is a tag, and for text and numbers its length in UTF-16 code
// units, ":" and the text itself:
//   S<n>:<text>  a string (well-formed UTF-16)
//   N<n>:<text>  a number as String(n) writes it, or a bigint's exact digits
//   U  a string with a lone surrogate (refused by the core, never repaired)
//   M  undefined (missing)    Z  null    T / F  true / false
//   A  an array               O  anything else
// A record that is not an object is "" (and "-" inside a batch; "R" starts
// each record that is).

// String.prototype.isWellFormed where the engine has it (Node 20, Chrome 111,
// Safari 16.4), else the same test by hand.
function wellFormedByHand(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) {
        return false;
      }
      i++;
    }
  }
  return true;
}
const wellFormed = typeof String.prototype.isWellFormed === "function"
  ? (s) => s.isWellFormed()
  : wellFormedByHand;

function field(v) {
  switch (typeof v) {
    case "string":
      return wellFormed(v) ? `S${v.length}:${v}` : "U";
    case "number":
    case "bigint": {
      const text = String(v);
      return `N${text.length}:${text}`;
    }
    case "undefined":
      return "M";
    case "boolean":
      return v ? "T" : "F";
    case "object":
      return v === null ? "Z" : Array.isArray(v) ? "A" : "O";
    default:
      return "O";
  }
}

function pack(o) {
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    return "";
  }
  return field(o.project_name) + field(o.registry) + field(o.vintage) + field(o.quantity)
    + field(o.serial_number);
}

// The packed text waiting to be copied into WebAssembly memory, and an
// exception thrown while reading (a getter that throws), kept for Rust to take
// with takeThrown() and rethrow once its own state is clean.
let pending = "";
let thrown;
let memory;
const encoder = new TextEncoder();

// The module's memory, given once by Rust: the packed text is written there.
export function setMemory(m) {
  memory = m;
}

// Copies the pending text as UTF-8 into WebAssembly memory at `ptr` if it
// fits in `capacity` bytes; returns the bytes written, or -(bytes needed)
// and keeps the text for a second call with more room. TextEncoder.encodeInto
// is native code; wasm-bindgen's own string copy walks the characters in
// JavaScript, which is slow on the concatenated strings packing builds.
function write(ptr, capacity) {
  const needed = pending.length * 3; // UTF-8 bytes per UTF-16 code unit: at most 3
  if (needed > capacity) {
    return -needed;
  }
  const { written } = encoder.encodeInto(pending, new Uint8Array(memory.buffer, ptr, capacity));
  pending = "";
  return written;
}

export function writePending(ptr, capacity) {
  return write(ptr, capacity);
}

// Packs one record into memory at `ptr`: as write() returns, or
// NOT_A_RECORD when `o` is not a record object, or THREW when reading it
// threw (a getter); see takeThrown().
const NOT_A_RECORD = -0x7fff_fff0;
const THREW = -0x7fff_fff1;

export function packRecord(o, ptr, capacity) {
  try {
    pending = pack(o);
  } catch (e) {
    thrown = e;
    return THREW;
  }
  return pending === "" ? NOT_A_RECORD : write(ptr, capacity);
}

// Packs many records ("R" + record, or "-" for one that is not an object),
// as packRecord does.
export function packRecords(list, ptr, capacity) {
  try {
    let out = "";
    for (let i = 0; i < list.length; i++) {
      const p = pack(list[i]);
      out += p === "" ? "-" : `R${p}`;
    }
    pending = out;
  } catch (e) {
    thrown = e;
    return THREW;
  }
  return write(ptr, capacity);
}

export function takeThrown() {
  const e = thrown;
  thrown = undefined;
  return e;
}

// `count` ids of 64 characters each, written one after the other.
export function splitIds(text, count) {
  const ids = new Array(count);
  for (let i = 0; i < count; i++) {
    ids[i] = text.slice(i * 64, i * 64 + 64);
  }
  return ids;
}

