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

// The canonical line itself is in purejs_canonical.mjs (no node: imports, so
// the browser benchmark loads the same code).

import * as crypto from "node:crypto";
import { canonicalLine } from "./purejs_canonical.mjs";

/** SHA-256 in hex through the classic streaming API most code uses. */
const createHashHex = (line) => crypto.createHash("sha256").update(line, "utf8").digest("hex");

/** SHA-256 in hex: the one-shot `crypto.hash` where Node has it (>= 20.12), the faster of the two. */
const sha256Hex = typeof crypto.hash === "function"
  ? (line) => crypto.hash("sha256", line, "hex")
  : createHashHex;

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
  const line = canonicalLine(record);
  return line === null ? null : hashHex(line);
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
