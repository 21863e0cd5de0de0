// Records across the JavaScript/WebAssembly boundary as bytes, in one crossing.
//
// Reading a record property by property from Rust costs several calls across
// the boundary per field, each with its own string copy; that was most of the
// time of an id. Here a record's five fields are written as bytes straight
// into WebAssembly memory (src/input.rs reads them): ASCII text by a plain
// loop, other text with TextEncoder.encodeInto. A batch's ids come back as
// one string. Conversion only: the core decides everything.
//
// A record is five fields in the order project_name, registry, vintage,
// quantity, serial_number; in a batch each record starts with "R", and a
// value that is not a record object is "-" alone. A field is one tag byte,
// and then:
//   S  a string (well-formed UTF-16): a 4-byte little-endian length and that
//      many UTF-8 bytes
//   N  a bigint: its exact digits, as for S
//   D  a number: its 8 bytes (IEEE 754, little-endian); the core reads it
//      through its shortest spelling, as String(n) writes it
//   U  a string with a lone surrogate (refused by the core, never repaired)
//   M  undefined (missing)    Z  null    T / F  true / false
//   A  an array               O  anything else

const TAG = {
  S: 0x53, N: 0x4e, D: 0x44, U: 0x55, M: 0x4d, Z: 0x5a, T: 0x54, F: 0x46, A: 0x41, O: 0x4f,
  RECORD: 0x52, NOT_A_RECORD: 0x2d,
};

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

const encoder = new TextEncoder();
// A number's 8 bytes, little-endian (as WebAssembly reads memory) whatever
// the platform's own byte order.
const doubleBytes = new Uint8Array(8);
const double = new DataView(doubleBytes.buffer);
let memory;
let view = new Uint8Array(0);

// The module's memory, given once by Rust: records are written there.
export function setMemory(m) {
  memory = m;
}

// A view of all of WebAssembly memory; growing the memory detaches the old
// one (its length becomes 0), and then a new view is taken.
function memoryView() {
  if (view.byteLength === 0) {
    view = new Uint8Array(memory.buffer);
  }
  return view;
}

// Writes packed records into the `capacity` bytes Rust lent at `ptr`. Once
// they would not fit, it carries on in a buffer of its own, which Rust then
// makes room for and takes with writePending(). One writer per call, so a
// getter that calls this package again cannot disturb an outer call.
class Writer {
  constructor(ptr, capacity) {
    this.out = memoryView();
    this.start = ptr;
    this.at = ptr;
    this.end = ptr + capacity;
    this.spilled = false;
  }

  // Reading a record may have run a getter that grew WebAssembly memory: write
  // through a current view.
  refresh() {
    if (!this.spilled) {
      this.out = memoryView();
    }
  }

  // Makes room for `n` more bytes, never past the bytes Rust lent.
  room(n) {
    if (this.at + n <= this.end) {
      return;
    }
    const used = this.at - this.start;
    const bigger = new Uint8Array(Math.max(2 * (used + n), 1 << 16));
    bigger.set(this.out.subarray(this.start, this.at));
    this.out = bigger;
    this.start = 0;
    this.at = used;
    this.end = bigger.length;
    this.spilled = true;
  }

  tag(t) {
    this.room(1);
    this.out[this.at++] = t;
  }

  text(tag, s) {
    const n = s.length;
    this.room(5 + 3 * n); // UTF-8 bytes per UTF-16 code unit: at most 3
    const out = this.out;
    const p = this.at + 5;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        break;
      }
      out[p + i] = c;
    }
    let len = i;
    if (i < n) {
      if (!wellFormed(s)) {
        out[this.at++] = TAG.U;
        return;
      }
      len += encoder.encodeInto(i === 0 ? s : s.slice(i), out.subarray(p + i, p + 3 * n)).written;
    }
    out[this.at] = tag;
    out[this.at + 1] = len & 0xff;
    out[this.at + 2] = (len >>> 8) & 0xff;
    out[this.at + 3] = (len >>> 16) & 0xff;
    out[this.at + 4] = len >>> 24;
    this.at = p + len;
  }

  number(v) {
    this.room(9);
    double.setFloat64(0, v, true);
    const out = this.out;
    const at = this.at;
    out[at] = TAG.D;
    // Byte by byte: faster than set() for eight bytes.
    for (let i = 0; i < 8; i++) {
      out[at + 1 + i] = doubleBytes[i];
    }
    this.at = at + 9;
  }

  field(v) {
    switch (typeof v) {
      case "string":
        this.text(TAG.S, v);
        break;
      case "number":
        this.number(v);
        break;
      case "bigint":
        this.text(TAG.N, String(v));
        break;
      case "undefined":
        this.tag(TAG.M);
        break;
      case "boolean":
        this.tag(v ? TAG.T : TAG.F);
        break;
      case "object":
        this.tag(v === null ? TAG.Z : Array.isArray(v) ? TAG.A : TAG.O);
        break;
      default:
        this.tag(TAG.O);
    }
  }

  // The five fields of a record object. Every property is read (getters
  // run) before anything is written.
  record(o) {
    const p = o.project_name;
    const r = o.registry;
    const v = o.vintage;
    const q = o.quantity;
    const s = o.serial_number;
    this.refresh();
    this.field(p);
    this.field(r);
    this.field(v);
    this.field(q);
    this.field(s);
  }

  // What the pack functions return: the bytes written where Rust asked, or
  // -(bytes needed) when they did not fit (then writePending()).
  finish() {
    const len = this.at - this.start;
    if (!this.spilled) {
      return len;
    }
    pending = this.out.subarray(0, len);
    return -len;
  }
}

function isRecord(o) {
  return typeof o === "object" && o !== null && !Array.isArray(o);
}

// Bytes that did not fit where Rust asked, and an exception thrown while
// reading (a getter that throws), kept for Rust to take with takeThrown()
// and rethrow once its own state is clean.
let pending = new Uint8Array(0);
let thrown;

// Copies the bytes kept by a pack function that returned -(bytes needed).
export function writePending(ptr, capacity) {
  const len = pending.length;
  if (len > capacity) {
    return -len;
  }
  memoryView().set(pending, ptr);
  pending = new Uint8Array(0);
  return len;
}

// What packRecord returns for a value that is not a record object, and what
// the pack functions return when reading a record threw (see takeThrown()).
const NOT_A_RECORD = -0x7fff_fff0;
const THREW = -0x7fff_fff1;

// Packs one record at `ptr`, as Writer.finish() returns, or NOT_A_RECORD, or THREW.
export function packRecord(o, ptr, capacity) {
  if (!isRecord(o)) {
    return NOT_A_RECORD;
  }
  const w = new Writer(ptr, capacity);
  try {
    w.record(o);
  } catch (e) {
    thrown = e;
    return THREW;
  }
  return w.finish();
}

// Packs a batch ("R" and a record, or "-"), as packRecord does.
export function packRecords(list, ptr, capacity) {
  const w = new Writer(ptr, capacity);
  try {
    for (let i = 0; i < list.length; i++) {
      const o = list[i];
      if (isRecord(o)) {
        w.tag(TAG.RECORD);
        w.record(o);
      } else {
        w.tag(TAG.NOT_A_RECORD);
      }
    }
  } catch (e) {
    thrown = e;
    return THREW;
  }
  return w.finish();
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
