// The canonical line of a v1 record id (SPEC §2) in plain JavaScript, with no
// host API: the part of purejs_ids.mjs that a browser can load as it is
// (browser_bench_ids.mjs hashes it with @noble/hashes, hash-wasm and
// WebCrypto; purejs_ids.mjs with node:crypto). Written for the benchmarks
// only, like purejs_ids.mjs: see there for what it does and why.

/** Python's str.isspace() characters: Unicode White_Space plus U+001C..U+001F. */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
const INTEGER = /^[+-]?[0-9]+$/;
const MAX_TEXT = 256;

function text(value) {
  if (typeof value !== "string") {
    return null;
  }
  const canonical = value.replace(STRIP, "").toLowerCase().normalize("NFKC");
  if (canonical.length === 0 || canonical.includes("|") || CONTROL.test(canonical)) {
    return null;
  }
  // Python's len(): code points, not UTF-16 units.
  let length = 0;
  for (const _ of canonical) {
    length += 1;
    if (length > MAX_TEXT) {
      return null;
    }
  }
  return canonical;
}

/** The digits and point of decimal text: value = 0.DIGITS × 10^point, or null. */
function decimal(textValue) {
  const m = DECIMAL.exec(textValue);
  if (m === null || (m[2] === "" && (m[3] ?? "") === "")) {
    return null;
  }
  const [, sign, int, frac = "", exp = "0"] = m;
  const digits = (int + frac).replace(/^0+/, "");
  const leadingZeros = (int + frac).length - digits.length;
  // Exponents past ±10^9 are far outside every accepted range; clamping keeps
  // the arithmetic exact in doubles.
  const exponent = Math.max(-1e9, Math.min(1e9, Number(exp)));
  return { negative: sign === "-", digits, point: int.length - leadingZeros + exponent };
}

/** `quantity`: truncated toward zero to 4 places, written with exactly 4. */
function quantity(value) {
  let source;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      return null;
    }
    source = String(value);
  } else if (typeof value === "string") {
    source = value.replace(STRIP, "");
  } else if (typeof value === "bigint") {
    source = value.toString();
  } else {
    return null;
  }
  const d = decimal(source);
  if (d === null || d.digits === "" || d.negative || d.point > 14) {
    return null;
  }
  const keep = d.point + 4; // digits of value × 10^4 before the point
  if (keep <= 0) {
    return null;
  }
  const scaled = d.digits.slice(0, keep).padEnd(keep, "0").replace(/^0+/, "");
  if (scaled === "") {
    return null;
  }
  const padded = scaled.padStart(5, "0");
  return `${padded.slice(0, -4)}.${padded.slice(-4)}`;
}

/** `vintage`: an integer 1900..2100, given as an integer-valued number or text. */
function vintage(value) {
  let d;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      return null;
    }
    d = decimal(String(value));
  } else if (typeof value === "string") {
    const t = value.replace(STRIP, "");
    if (!INTEGER.test(t)) {
      return null;
    }
    d = decimal(t);
  } else {
    return null;
  }
  if (d === null || d.negative || d.point > 4) {
    return null;
  }
  const whole = d.digits.slice(0, Math.max(d.point, 0)).padEnd(Math.max(d.point, 0), "0");
  if (d.digits.slice(Math.max(d.point, 0)).replace(/0/g, "") !== "") {
    return null;
  }
  const year = Number(whole || "0");
  return year >= 1900 && year <= 2100 ? String(year) : null;
}


/**
 * `project_name|registry|vintage|quantity|serial_number` of a record object,
 * canonical (the bytes SHA-256 is taken of), or null when it is not valid.
 */
export function canonicalLine(record) {
  if (record === null || typeof record !== "object") {
    return null;
  }
  const p = text(record.project_name);
  const r = text(record.registry);
  const v = vintage(record.vintage);
  const q = quantity(record.quantity);
  const s = text(record.serial_number);
  if (p === null || r === null || v === null || q === null || s === null) {
    return null;
  }
  return `${p}|${r}|${v}|${q}|${s}`;
}
