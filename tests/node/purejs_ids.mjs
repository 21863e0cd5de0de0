// A pure-JavaScript v1 record id (SPEC §2), written for the benchmark only:
// the baseline the WASM package is measured against (bench.mjs), and a
// record of where plain JavaScript building blocks differ from the vectors.
// Not part of the package, and not a second implementation to rely on.
//
// It uses what a JavaScript developer would reach for — String.prototype
// .normalize("NFKC"), toLowerCase(), node:crypto's SHA-256 — plus the two
// rules plain JavaScript gets wrong unless told: Python's whitespace set for
// strip() (String.prototype.trim() also strips U+FEFF and keeps U+001C..U+001F
// and U+0085), and exact decimal quantities (never through a double).

import * as crypto from "node:crypto";

/** Python's str.isspace() characters: Unicode White_Space plus U+001C..U+001F. */
const PY_SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
const INTEGER = /^[+-]?[0-9]+$/;
const MAX_TEXT = 256;

/** SHA-256 in hex through the classic streaming API most code uses. */
const createHashHex = (line) => crypto.createHash("sha256").update(line, "utf8").digest("hex");

/** SHA-256 in hex: the one-shot `crypto.hash` where Node has it (>= 20.12), the faster of the two. */
const sha256Hex = typeof crypto.hash === "function"
  ? (line) => crypto.hash("sha256", line, "hex")
  : createHashHex;

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

/** The v1 id of a record object, or null when the record is not valid. */
export function recordId(record) {
  return recordIdWith(sha256Hex, record);
}

/**
 * The same id hashed with `crypto.createHash` instead of `crypto.hash`: a
 * second baseline, timed beside the first so that the choice of call shows.
 */
export function recordIdCreateHash(record) {
  return recordIdWith(createHashHex, record);
}

function recordIdWith(hashHex, record) {
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
  return hashHex(`${p}|${r}|${v}|${q}|${s}`);
}

/**
 * The same id as a JavaScript developer might first write it, with the
 * language's own trim() and a double for the quantity: not used for timing,
 * only to list which vectors such code gets wrong (bench.mjs).
 */
export function naiveRecordId(record) {
  if (record === null || typeof record !== "object") {
    return null;
  }
  const t = (v) => (typeof v === "string" ? v.trim().toLowerCase().normalize("NFKC") : null);
  const [p, r, s] = [t(record.project_name), t(record.registry), t(record.serial_number)];
  const q = Number(record.quantity);
  const v = Number(record.vintage);
  if (!p || !r || !s || [p, r, s].some((x) => x.includes("|")) || !(q > 0) || !(q < 1e14)
    || !Number.isInteger(v) || v < 1900 || v > 2100) {
    return null;
  }
  const quantity = (Math.trunc(q * 10000) / 10000).toFixed(4);
  return sha256Hex(`${p}|${r}|${v}|${quantity}|${s}`);
}
