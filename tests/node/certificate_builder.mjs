// Builds a signed certificate (SPEC §7) in plain JavaScript, for inputs the
// vectors do not have: the 10-event certificate the benchmark verifies
// (bench.mjs, vectors.test.mjs). Nothing here is the code under test:
//
// - a leaf is RFC 8785 canonical JSON, which for the ASCII keys and the
//   strings and numbers written here is JSON.stringify with sorted keys (RFC
//   8785 takes its string and number forms from ECMAScript's JSON.stringify);
// - the tree and the inclusion proofs are RFC 9162 §2.1 written out
//   (node:crypto's SHA-256);
// - the checkpoint is a C2SP tlog-checkpoint in a C2SP signed note, signed
//   with node:crypto's Ed25519 by the log key of tests/vectors/log.json.
//
// That the package's verifier accepts what this builds, and refuses it once
// tampered with, is what vectors.test.mjs checks; the verifier's own
// correctness comes from the vectors (the Python reference), not from here.

import { createHash, createPrivateKey, sign } from "node:crypto";

const sha256 = (...parts) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 8785 for plain data with ASCII keys: keys sorted, JSON.stringify's forms. */
export function canonicalJson(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

const leafHash = (bytes) => sha256(Buffer.from([0]), bytes);
const nodeHash = (left, right) => sha256(Buffer.from([1]), left, right);

/** The largest power of two smaller than n (n > 1). */
const split = (n) => 2 ** Math.floor(Math.log2(n - 1));

/** RFC 9162 §2.1.1 MTH over leaf hashes. */
function root(hashes) {
  if (hashes.length === 0) return sha256();
  if (hashes.length === 1) return hashes[0];
  const k = split(hashes.length);
  return nodeHash(root(hashes.slice(0, k)), root(hashes.slice(k)));
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes. */
function path(m, hashes) {
  if (hashes.length <= 1) return [];
  const k = split(hashes.length);
  return m < k
    ? [...path(m, hashes.slice(0, k)), root(hashes.slice(k))]
    : [...path(m - k, hashes.slice(k)), root(hashes.slice(0, k))];
}

/** A note signer from an skey, `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`. */
function signer(skey) {
  const m = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(skey);
  if (!m) throw new Error("not an skey");
  const [, name, hexid, encoded] = m;
  const bytes = Buffer.from(encoded, "base64");
  if (bytes[0] !== 1 || bytes.length !== 33) throw new Error("not an Ed25519 skey");
  // PKCS #8 for an Ed25519 seed (RFC 8410): a fixed prefix, then the 32 bytes.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), bytes.subarray(1)]);
  const key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  return {
    name,
    line(text) {
      const signature = sign(null, Buffer.from(text, "utf8"), key);
      return `\u2014 ${name} ${Buffer.concat([Buffer.from(hexid, "hex"), signature]).toString("base64")}\n`;
    },
  };
}

/**
 * A certificate of one record: `record` its canonical fields, `id` its v1 id,
 * `events` its events as the server serves them (the CREATED one first).
 * Its leaves sit among `filler` unrelated leaves (a log of other records),
 * so the proofs have the length they have in a log of that size.
 */
export function buildCertificate({ skey, record, id, events, filler = 1000 }) {
  const key = signer(skey);
  const leaves = [];
  const indexes = [];
  const every = Math.max(1, Math.floor(filler / events.length));
  let next = 0;
  for (let i = 0; i < filler; i++) {
    if (next < events.length && i % every === 0) {
      const event = events[next++];
      const leaf = event.event_type === "CREATED" ? { ...event, record } : event;
      indexes.push(leaves.length);
      leaves.push(leafHash(Buffer.from(canonicalJson(leaf), "utf8")));
    }
    leaves.push(leafHash(Buffer.from(`filler ${i}`, "utf8")));
  }
  const size = leaves.length;
  const body = `${key.name}\n${size}\n${root(leaves).toString("base64")}\n`;
  return {
    record_id: id,
    records: [{
      record,
      events: events.map((event, i) => ({
        event,
        index: indexes[i],
        proof: path(indexes[i], leaves).map((h) => h.toString("hex")),
      })),
    }],
    checkpoint: `${body}\n${key.line(body)}`,
  };
}

/**
 * A record registered, sold `sales` times and retired: 2 + `sales` events,
 * ids from the main package (`recordId`, `canonicalize`).
 */
export function soldAndRetired(ct, { skey, sales = 8, filler = 1000 }) {
  const input = { project_name: "Mangrove Blue Carbon", registry: "Verra", vintage: 2022,
    quantity: "1000", serial_number: "VCS-BENCH-0001" };
  const record = ct.canonicalize(input);
  const id = ct.recordId(input);
  const at = (i) => new Date(Date.UTC(2026, 0, 1 + i)).toISOString().replace(".000Z", "Z");
  const event = (seq, event_type, payload) => ({
    id: `0192f0c1-7e00-7000-8000-${String(seq).padStart(12, "0")}`,
    record_id: id, seq, event_type, payload, created_at: at(seq),
  });
  const events = [event(1, "CREATED", null)];
  for (let i = 0; i < sales; i++) {
    events.push(event(events.length + 1, "SOLD", { buyer: `Buyer ${i + 1}`, price: 9.75 + i, currency: "EUR" }));
  }
  events.push(event(events.length + 1, "RETIRED",
    { beneficiary: `Buyer ${sales}`, reason: "2025 emissions", purpose: "corporate_target" }));
  return buildCertificate({ skey, record, id, events, filler });
}
