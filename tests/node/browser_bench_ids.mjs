// The measurement of browser-bench.mjs: the WASM package's `recordId` and
// `recordIds` against what a browser app would otherwise use, the same
// pure-JavaScript canonical line (purejs_canonical.mjs, bench.mjs's baseline)
// hashed with
//   - hash-wasm's SHA-256 (one hasher made once with `createSHA256()`, then
//     `init().update(line).digest("hex")` per id: its fastest synchronous use),
//   - @noble/hashes' `sha256(utf8ToBytes(line))` with its `bytesToHex`,
//   - WebCrypto, `crypto.subtle.digest("SHA-256", …)`: asynchronous, so a batch
//     of 1,000 digests awaited with one Promise.all (and, for reference, the
//     same digests awaited one at a time).
// Host-neutral (no DOM, no node: imports): the page browser-bench.mjs serves
// runs it in Chromium, and browser-bench.mjs runs it in Node too, on the same
// records and the same .wasm, for the figures beside it.
//
// Before any timing, every side's ids are compared with the package's on every
// record: one difference throws (the comparison would mean nothing).

import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { createSHA256 } from "hash-wasm";
import { canonicalLine } from "./purejs_canonical.mjs";

/** SPEC §2's known value: checked through every side first. */
const KNOWN = {
  record: { project_name: "Solar Farm", registry: "VCS", vintage: 2023, quantity: 100.1, serial_number: "VCS-001" },
  id: "a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187",
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The sides, each a function of the records giving their ids (an array) or,
 * for the per-id loops, the last id; `ids` gives every id for the check.
 * `kind`: "wasm" (the package), "alternative" (what the targets are judged
 * against), "reference" (shown, not an alternative a page would pick).
 */
async function sides(ct, records) {
  const lines = records.map(canonicalLine);
  const hasher = await createSHA256();
  const hashWasm = (line) => hasher.init().update(line).digest("hex");
  const noble = (line) => bytesToHex(nobleSha256(utf8ToBytes(line)));
  const subtle = globalThis.crypto.subtle;
  const encoder = new TextEncoder();
  const webCrypto = async (line) => bytesToHex(new Uint8Array(await subtle.digest("SHA-256", encoder.encode(line))));
  const lineOrThrow = (record) => {
    const line = canonicalLine(record);
    if (line === null) throw new Error(`the pure-JavaScript canonical line refuses ${JSON.stringify(record)}`);
    return line;
  };
  const loop = (hash) => (records) => {
    let last = "";
    for (let i = 0; i < records.length; i++) last = hash(lineOrThrow(records[i]));
    return last;
  };
  const each = (hash) => (records) => records.map((r) => hash(lineOrThrow(r)));
  return [
    {
      name: "recordId (WASM, one call per id)", key: "recordId", kind: "wasm",
      run: (records) => {
        let last = "";
        for (let i = 0; i < records.length; i++) last = ct.recordId(records[i]);
        return last;
      },
      ids: (records) => records.map((r) => ct.recordId(r)),
    },
    {
      name: "recordIds (WASM, one batch)", key: "recordIds", kind: "wasm",
      run: (records) => ct.recordIds(records), ids: (records) => ct.recordIds(records),
    },
    { name: "pure JS + hash-wasm SHA-256", key: "hash-wasm", kind: "alternative", run: loop(hashWasm), ids: each(hashWasm) },
    { name: "pure JS + @noble/hashes SHA-256", key: "noble", kind: "alternative", run: loop(noble), ids: each(noble) },
    {
      name: "pure JS + WebCrypto digest, Promise.all of the batch", key: "webcrypto-batch", kind: "alternative", async: true,
      run: (records) => Promise.all(records.map((r) => webCrypto(lineOrThrow(r)))),
      ids: (records) => Promise.all(records.map((r) => webCrypto(lineOrThrow(r)))),
    },
    {
      name: "pure JS + WebCrypto digest, awaited one by one", key: "webcrypto-serial", kind: "reference", async: true,
      run: async (records) => {
        let last = "";
        for (let i = 0; i < records.length; i++) last = await webCrypto(lineOrThrow(records[i]));
        return last;
      },
      ids: async (records) => {
        const out = [];
        for (const r of records) out.push(await webCrypto(lineOrThrow(r)));
        return out;
      },
    },
    // Where a pure-JS side's time goes: each hash alone, on the canonical
    // lines made beforehand (the line alone is the row after).
    {
      name: "hash-wasm SHA-256 alone (lines made beforehand)", key: "hash-wasm-hash-only", kind: "reference",
      run: () => {
        let last = "";
        for (let i = 0; i < lines.length; i++) last = hashWasm(lines[i]);
        return last;
      },
      ids: null,
    },
    {
      name: "@noble/hashes SHA-256 alone (lines made beforehand)", key: "noble-hash-only", kind: "reference",
      run: () => {
        let last = "";
        for (let i = 0; i < lines.length; i++) last = noble(lines[i]);
        return last;
      },
      ids: null,
    },
    {
      name: "WebCrypto Promise.all alone (lines made beforehand)", key: "webcrypto-hash-only", kind: "reference", async: true,
      run: () => Promise.all(lines.map(webCrypto)), ids: null,
    },
    {
      name: "pure JS canonical line alone, no hash (the floor of every pure-JS side)", key: "line-only", kind: "reference",
      run: (records) => {
        let n = 0;
        for (let i = 0; i < records.length; i++) n += lineOrThrow(records[i]).length;
        return [n];
      },
      ids: null,
    },
  ];
}

/** Every side gives the package's ids on the records and the known value, or this throws. */
async function check(ct, list, records) {
  const expected = ct.recordIds(records);
  if (expected.length !== records.length) throw new Error("recordIds gave the wrong number of ids");
  const wrong = [];
  for (const side of list) {
    if (side.ids === null) continue;
    const [known] = await side.ids([KNOWN.record]);
    if (known !== KNOWN.id) wrong.push(`${side.name}: the SPEC §2 record gives ${known}, not ${KNOWN.id}`);
    const got = await side.ids(records);
    const bad = got.findIndex((id, i) => id !== expected[i]);
    if (got.length !== records.length || bad >= 0) {
      const i = bad >= 0 ? bad : got.length;
      wrong.push(`${side.name}: record ${i} ${JSON.stringify(records[i])} gives ${got[i]}, recordIds ${expected[i]}`);
    }
  }
  if (wrong.length) throw new Error(`ids differ, nothing timed:\n  ${wrong.join("\n  ")}`);
  return list.filter((s) => s.ids !== null).length;
}

/**
 * Checks, warms up, then times every side: `rounds` rounds, each timing every
 * side over `passes` passes of the records, the order rotating by one side
 * each round. Per side the median ns/id; per alternative the median of the
 * per-round ratios (its time ÷ recordId's, ÷ recordIds'), paired: the two
 * sides of a ratio ran within the same round, a few hundred milliseconds apart.
 */
export async function runIdBench(ct, records, { rounds = 30, passes = 20, warmup = 5 } = {}) {
  const list = await sides(ct, records);
  const checked = await check(ct, list, records);
  const now = () => globalThis.performance.now();
  let sink = 0;
  const time = async (side) => {
    const t0 = now();
    if (side.async) {
      for (let p = 0; p < passes; p++) sink ^= (await side.run(records)).length;
    } else {
      for (let p = 0; p < passes; p++) sink ^= side.run(records).length;
    }
    return ((now() - t0) * 1e6) / (passes * records.length);
  };
  for (let w = 0; w < warmup; w++) for (const side of list) await time(side);
  const samples = Object.fromEntries(list.map((s) => [s.key, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < list.length; k++) {
      const side = list[(k + r) % list.length];
      samples[side.key].push(await time(side));
    }
  }
  const ratio = (key, over) => median(samples[key].map((t, i) => t / samples[over][i]));
  const result = {
    records: records.length, rounds, passes, checked,
    sides: list.map((s) => {
      const ns = median(samples[s.key]);
      return {
        key: s.key, name: s.name, kind: s.kind, ns, idsPerSecond: 1e9 / ns,
        overRecordId: ratio(s.key, "recordId"), overRecordIds: ratio(s.key, "recordIds"),
      };
    }),
    sink: sink === 0.5 ? sink : 0,
  };
  const alternatives = result.sides.filter((s) => s.kind === "alternative");
  const fastest = alternatives.reduce((a, b) => (b.ns < a.ns ? b : a));
  result.fastest = fastest.key;
  result.recordIdRatio = fastest.overRecordId;
  result.recordIdsRatio = fastest.overRecordIds;
  return result;
}
