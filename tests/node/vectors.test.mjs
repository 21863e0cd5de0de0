// Every case of tests/vectors/ through the built Node package
// (bindings-wasm/pkg-node, CommonJS, loaded as a user's require() would):
// the main module, and the certificate verifier (`carbon-tracker/verify`,
// pkg-node/verify/) for log.json.
// Expected values come from the vectors, which the pure-Python reference
// wrote; never from the code under test.
//
// The bodies are JSON text. Cases marked float_safe are read with JSON.parse,
// as a JavaScript client would read them. The others hold numbers a double
// cannot carry (1.99999999999999999999): those numbers are passed as their
// exact text, the way a JavaScript client keeps a quantity exact.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { soldAndRetired } from "./certificate_builder.mjs";

const ROOT = new URL("../../", import.meta.url);
const require = createRequire(import.meta.url);
const ct = require(new URL("bindings-wasm/pkg-node/carbon_tracker.js", ROOT).pathname);
const verifier = require(new URL("bindings-wasm/pkg-node/verify/carbon_tracker_verify.js", ROOT).pathname);

const vectors = (name) => JSON.parse(readFileSync(new URL(`tests/vectors/${name}`, ROOT), "utf8"));
const IDS = vectors("ids.json");
const REJECTS = vectors("rejects.json");
const LIFECYCLE = vectors("lifecycle.json");

/** JSON text with every number as its own exact text (a string). */
function parseExact(text) {
  const token = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/g;
  return JSON.parse(text.replace(token, (t) => (t.startsWith('"') ? t : JSON.stringify(t))));
}

/** A body as the test reads it: JSON.parse when float_safe, exact text otherwise. */
const body = (c) => (c.float_safe ? JSON.parse(c.body) : parseExact(c.body));
const pairs = (errors) => errors.map((e) => [e.field, e.code]);

function idOrNull(input) {
  try {
    return ct.recordId(input);
  } catch (e) {
    assert.ok(e instanceof ct.ValidationError, e);
    return null;
  }
}

describe("ids.json", () => {
  it("is complete", () => {
    assert.ok(IDS.cases.length >= 300);
    assert.equal(IDS.cases.filter((c) => c.source === "original-service").length, 60);
    assert.equal(ct.ID_SCHEME, IDS.scheme);
  });

  for (const c of IDS.cases) {
    it(c.name, () => {
      const input = body(c);
      assert.equal(ct.recordId(input), c.id);
      assert.deepEqual(ct.canonicalize(input), c.canonical);
      assert.deepEqual(ct.deriveId(input), { id: c.id, canonical: c.canonical });
      assert.deepEqual(ct.validate(input), []);
      // Read with plain JSON.parse (doubles): the same id exactly when float_safe.
      assert.equal(idOrNull(JSON.parse(c.body)) === c.id, c.float_safe);
      // A number quantity given as its exact text gives the same id.
      const exact = parseExact(c.body);
      if (typeof JSON.parse(c.body).quantity === "number") {
        assert.equal(ct.recordId({ ...input, quantity: exact.quantity }), c.id);
      }
    });
  }

  it("recordIds gives the same ids, in order", () => {
    const cases = IDS.cases;
    assert.deepEqual(ct.recordIds(cases.map(body)), cases.map((c) => c.id));
    assert.deepEqual(ct.recordIds([]), []);
  });

  // recordIds hashes several records at once (multi-buffer SHA-256, not the
  // one recordId uses): every batch size around its four lanes, every offset.
  it("recordIds of every slice of the vectors", () => {
    const cases = IDS.cases;
    for (let size = 1; size <= 9; size++) {
      for (let start = 0; start + size <= cases.length; start += 7) {
        const slice = cases.slice(start, start + size);
        assert.deepEqual(ct.recordIds(slice.map(body)), slice.map((c) => c.id), `${start}+${size}`);
      }
    }
  });

  it("recordIds collects rejects in their places among valid records", () => {
    const rows = [];
    const expected = [];
    REJECTS.cases.forEach((r, i) => {
      const c = IDS.cases[i % IDS.cases.length];
      rows.push(body(c), body(r));
      expected.push(c.id, pairs(r.errors));
    });
    const out = ct.recordIds(rows, { errors: "collect" });
    assert.equal(out.length, expected.length);
    out.forEach((got, i) => {
      if (typeof expected[i] === "string") {
        assert.equal(got, expected[i], `row ${i}`);
      } else {
        assert.ok(got instanceof ct.ValidationError && got.row === i, `row ${i}`);
        assert.deepEqual(pairs(got.errors), expected[i], `row ${i}`);
      }
    });
  });
});

describe("rejects.json", () => {
  for (const c of REJECTS.cases) {
    it(c.name, () => {
      const input = body(c);
      const expected = pairs(c.errors);
      const errors = ct.validate(input);
      assert.deepEqual(pairs(errors), expected);
      assert.ok(errors.every((e) => e.message.startsWith(e.field)), JSON.stringify(errors));
      for (const call of [ct.recordId, ct.canonicalize, ct.deriveId]) {
        assert.throws(
          () => call(input),
          (e) => e instanceof ct.ValidationError && e instanceof Error && e.name === "ValidationError"
            && JSON.stringify(pairs(e.errors)) === JSON.stringify(expected),
        );
      }
    });
  }
});

describe("lifecycle.json", () => {
  for (const c of LIFECYCLE.cases) {
    it(c.name, () => {
      const run = () => ("at" in c ? ct.stateAt(c.events, c.at) : ct.replay(c.events));
      if ("state" in c.expect) {
        assert.deepEqual(run(), c.expect.state);
        return;
      }
      assert.throws(run, (e) => {
        assert.ok(e instanceof ct.TransitionError && e instanceof Error, e);
        assert.equal(e.name, "TransitionError");
        assert.equal(e.code, c.expect.error.code);
        assert.deepEqual(pairs(e.errors), pairs(c.expect.error.errors ?? []));
        return true;
      });
    });
  }

  it("apply, step by step, with Date timestamps", () => {
    const c = LIFECYCLE.cases.find((x) => x.name === "five resales then retire");
    let state = null;
    for (const event of c.events) {
      state = ct.apply(state, { ...event, created_at: new Date(event.created_at) });
    }
    assert.deepEqual(state, c.expect.state);
    assert.throws(() => ct.apply(state, c.events[1]), ct.TransitionError);
  });

  it("stateAt takes a Date", () => {
    const c = LIFECYCLE.cases.find((x) => "at" in x && x.expect.state !== null);
    assert.deepEqual(ct.stateAt(c.events, new Date(c.at)), c.expect.state);
    assert.throws(() => ct.stateAt(c.events, new Date(NaN)), TypeError);
    assert.throws(() => ct.stateAt(c.events, "yesterday"), TypeError);
  });
});

describe("JavaScript values", () => {
  const spec = IDS.cases.find((c) => c.name.startsWith("original service #1"));
  const valid = JSON.parse(spec.body);

  it("lone surrogates are refused, not repaired", () => {
    const errors = ct.validate({ ...valid, project_name: "Solar \uD800", serial_number: "\uDFFF" });
    assert.deepEqual(pairs(errors), [["project_name", "invalid_unicode"], ["serial_number", "invalid_unicode"]]);
    // A real U+FFFD is text like any other.
    assert.match(ct.recordId({ ...valid, project_name: "\uFFFD" }), /^[0-9a-f]{64}$/);
  });

  it("a bigint quantity is exact; NaN, booleans, arrays and objects are not numbers", () => {
    assert.equal(ct.recordId({ ...valid, quantity: BigInt(valid.quantity) }), spec.id);
    for (const quantity of [NaN, Infinity, true, [], {}]) {
      assert.deepEqual(pairs(ct.validate({ ...valid, quantity })), [["quantity", "not_a_number"]]);
    }
    assert.deepEqual(pairs(ct.validate({ ...valid, quantity: undefined })), [["quantity", "missing"]]);
  });

  it("a value that is not an object", () => {
    for (const input of [null, undefined, 42, "text", [valid]]) {
      assert.deepEqual(pairs(ct.validate(input)), [["body", "not_an_object"]]);
      assert.throws(() => ct.recordId(input), ct.ValidationError);
    }
  });

  it("recordIds throws at the first bad row, or collects", () => {
    const rows = [valid, { ...valid, vintage: 1850 }, valid];
    assert.throws(() => ct.recordIds(rows), (e) => e instanceof ct.ValidationError && e.row === 1
      && e.message.startsWith("row 1: "));
    const out = ct.recordIds(rows, { errors: "collect" });
    assert.equal(out[0], spec.id);
    assert.ok(out[1] instanceof ct.ValidationError && out[1].row === 1);
    assert.deepEqual(pairs(out[1].errors), [["vintage", "out_of_range"]]);
    assert.equal(out[2], spec.id);
    assert.throws(() => ct.recordIds(rows, { errors: "ignore" }), TypeError);
    assert.throws(() => ct.recordIds("not an array"), TypeError);
  });

  it("errors from a getter propagate", () => {
    const input = { ...valid, get quantity() { throw new RangeError("boom"); } };
    assert.throws(() => ct.recordId(input), RangeError);
    assert.throws(() => ct.recordIds([valid, input]), RangeError);
    assert.equal(ct.recordId(valid), spec.id); // and the package still works
  });

  // Numbers cross as their 8 bytes and the core reads them through their
  // shortest spelling: a number must give exactly what String(n) gives.
  it("a number reads as String(n) writes it", () => {
    const numbers = [0, -0, 1, 100, 2023, 2023.0000001, 0.1 + 0.2, 1 / 3, 5e-324, 1e-7, 0.00005,
      99999999999999.99, 1e14, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1.7976931348623157e308,
      123456789.12345678, 1900, 2100, 2100.5, -1900];
    for (const n of numbers) {
      // A vintage as text must be written as an integer ("1e+21" is not): compare those only.
      const fields = /^-?[0-9]+$/.test(String(n)) ? ["quantity", "vintage"] : ["quantity"];
      for (const field of fields) {
        const asNumber = { ...valid, [field]: n };
        const asText = { ...valid, [field]: String(n) };
        assert.deepEqual(ct.validate(asNumber), ct.validate(asText), `${field} ${n}`);
        assert.equal(idOrNull(asNumber), idOrNull(asText), `${field} ${n}`);
      }
    }
  });

  it("records larger than the room first lent are copied in whole", () => {
    const long = (i) => ({ ...valid, project_name: `${"é".repeat(120)} ${"x".repeat(120)} ${i}`,
      serial_number: `${"s".repeat(200)}-${i}` });
    const rows = Array.from({ length: 300 }, (_, i) => long(i));
    assert.deepEqual(ct.recordIds(rows), rows.map((r) => ct.recordId(r)));
    const huge = { ...valid, project_name: "p".repeat(1 << 20) };
    assert.deepEqual(pairs(ct.validate(huge)), [["project_name", "too_long"]]);
  });

  it("a getter that calls the package again (and grows its memory) changes nothing", () => {
    const big = Array.from({ length: 20000 }, (_, i) => ({ ...valid, serial_number: `VCS-${i}` }));
    let inner;
    const sneaky = { ...valid, get serial_number() { inner = ct.recordIds(big); return valid.serial_number; } };
    assert.deepEqual(ct.recordIds([valid, sneaky, valid]), [spec.id, spec.id, spec.id]);
    assert.equal(ct.recordId(sneaky), spec.id);
    assert.equal(inner.length, big.length);
    assert.equal(inner[7], ct.recordId(big[7]));
  });

  it("events that are not events are a TypeError", () => {
    assert.throws(() => ct.replay([{ seq: "one" }]), TypeError);
    assert.throws(() => ct.replay("nope"), TypeError);
  });
});

describe("serials.json", () => {
  const SERIALS = vectors("serials.json");
  for (const c of SERIALS.cases) {
    it(c.name, () => {
      // The package canonicalizes the serial itself, as it does a record's.
      assert.deepEqual(ct.parseSerial(c.serial), c.block);
    });
  }
});

describe("splits.json", () => {
  const SPLITS = vectors("splits.json");
  /** The vectors leave out event ids (they are random): drop them, as the Python test does. */
  const withoutIds = (value) => {
    if (Array.isArray(value)) return value.map(withoutIds);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value)
        .filter(([k]) => !(k === "id" && "event_type" in value))
        .map(([k, v]) => [k, withoutIds(v)]));
    }
    return value;
  };
  const eventsOf = (acted) => ("whole" in acted ? [acted.whole]
    : [acted.split.parent, ...acted.split.front.events, ...acted.split.back.events]);
  const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it("is complete", () => {
    assert.ok(SPLITS.cases.length >= 30);
    assert.ok(SPLITS.cases.some((c) => "split" in c.expect));
    assert.ok(SPLITS.cases.some((c) => "whole" in c.expect));
    assert.ok(SPLITS.cases.some((c) => "error" in c.expect));
  });

  for (const c of SPLITS.cases) {
    it(c.name, () => {
      const run = () => ct.splitBlock(c.record, c.history, c.action, c.payload, c.now);
      if ("error" in c.expect) {
        assert.throws(run, (e) => {
          assert.ok(e instanceof ct.TransitionError, e);
          assert.equal(e.code, c.expect.error.code);
          assert.deepEqual(pairs(e.errors), pairs(c.expect.error.errors ?? []));
          return true;
        });
        return;
      }
      const got = run();
      assert.deepEqual(withoutIds(got), c.expect);
      // Every event id is a fresh UUIDv7, and the events' own ids differ.
      const events = eventsOf(got);
      assert.ok(events.every((e) => UUID_V7.test(e.id)), events.map((e) => e.id).join(" "));
      assert.equal(new Set(events.map((e) => e.id)).size, events.length);
      if ("split" in got) {
        const { parent, front, back } = got.split;
        // The children's ids are the v1 ids of their records, and the parent's SPLIT names them.
        assert.equal(front.id, ct.recordId(front.record));
        assert.equal(back.id, ct.recordId(back.record));
        assert.deepEqual([parent.payload.front, parent.payload.back], [front.id, back.id]);
        // Each child's history replays (as the core would check it), to its status.
        assert.equal(ct.replay(front.events).status, c.action);
        assert.equal(ct.replay(back.events).status, "ACTIVE");
        // The state the events add up to gives the same result as the events.
        const state = ct.replay(c.history);
        assert.deepEqual(withoutIds(ct.splitBlock(c.record, state, c.action, c.payload, c.now)), c.expect);
      }
    });
  }

  const first = SPLITS.cases.find((c) => c.name === "retire 37 of a 187-credit Verra block");

  it("now defaults to the clock, and may be a Date", () => {
    const before = Date.now();
    const got = ct.splitBlock(first.record, first.history, "RETIRED", { quantity: 37 });
    const at = Date.parse(got.split.parent.created_at);
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, got.split.parent.created_at);
    const dated = ct.splitBlock(first.record, first.history, "RETIRED", { quantity: 37 }, new Date(first.now));
    assert.equal(dated.split.parent.created_at, first.expect.split.parent.created_at);
    assert.equal(ct.splitBlock(first.record, first.history, "RETIRED", { quantity: 37 }, null)
      .split.front.id, first.expect.split.front.id);
  });

  it("the record may be given as the server's body, with its own events", () => {
    const body = { id: first.history[0].record_id, ...first.record, status: "ACTIVE", events: first.history };
    const got = ct.splitBlock(body, body.events, "RETIRED", { quantity: "37" }, first.now);
    assert.equal(got.split.front.id, first.expect.split.front.id);
    assert.equal(got.split.back.id, first.expect.split.back.id);
  });

  it("arguments of the wrong shape are a TypeError", () => {
    const args = [first.record, first.history, "RETIRED", { quantity: 37 }, first.now];
    const call = (i, v) => () => ct.splitBlock(...args.map((a, j) => (j === i ? v : a)));
    for (const action of ["retire", "Retired", "SPLIT", "CREATED", 3, undefined]) {
      assert.throws(call(2, action), TypeError, String(action));
    }
    for (const payload of [[], "37", 37, new Date()]) {
      assert.throws(call(3, payload), TypeError, String(payload));
    }
    for (const history of [undefined, null, "events", 3]) {
      assert.throws(call(1, history), TypeError, String(history));
    }
    assert.throws(call(4, "yesterday"), TypeError);
    assert.throws(call(0, null), ct.ValidationError);
    assert.throws(call(1, []), (e) => e instanceof ct.TransitionError && e.code === "no_events");
  });
});

describe("log.json: certificates through carbon-tracker/verify", () => {
  const LOG = vectors("log.json");
  const { verifyCertificate, keyFingerprint, openCheckpoint, CertificateError } = verifier;

  /** What verifying gives, in the vectors' terms: `{verified}` or `{error: {code, detail}}`. */
  const outcome = (run) => {
    try {
      return { verified: run() };
    } catch (e) {
      assert.ok(e instanceof CertificateError, e);
      assert.ok(e instanceof Error);
      assert.equal(e.name, "CertificateError");
      assert.ok(e.message.length > 0);
      return { error: { code: e.code, detail: e.detail } };
    }
  };

  it("is complete", () => {
    assert.ok(LOG.certificates.length >= 20);
    const codes = new Set(LOG.certificates.map((c) => c.expect.error?.code).filter(Boolean));
    for (const code of ["signature", "proof", "replay", "id", "lineage", "consistency"]) {
      assert.ok(codes.has(code), code);
    }
    // The main module stays without the verifier (its size budget).
    assert.equal(ct.verifyCertificate, undefined);
  });

  for (const c of LOG.certificates) {
    it(c.name, () => {
      assert.deepEqual(outcome(() => verifyCertificate(c.certificate, c.vkey, c.trusted)), c.expect);
      // The same from the certificate's JSON text, and with the key as GET /log/key serves it.
      assert.deepEqual(outcome(() => verifyCertificate(JSON.stringify(c.certificate), `${c.vkey}\n`, c.trusted ?? null)),
        c.expect);
    });
  }

  const valid = LOG.certificates.find((c) => c.name === "the retired front child of a split block, with its parent");
  const key = valid.vkey;
  /** The certificate's JSON text with the first `from` after `after` replaced by `to`. */
  const tampered = (after, from, to) => {
    const text = JSON.stringify(valid.certificate);
    const at = text.indexOf(from, text.indexOf(after));
    assert.ok(at > 0, `${from} after ${after}`);
    return text.slice(0, at) + to + text.slice(at + from.length);
  };
  const codeOf = (bundle, trusted) => outcome(() => verifyCertificate(bundle, key, trusted)).error;

  it("a tampered byte is named: proof, signature, id, replay", () => {
    assert.deepEqual(outcome(() => verifyCertificate(valid.certificate, key)), valid.expect);
    // The retirement's beneficiary, one letter changed: its leaf is not in the log.
    assert.deepEqual(codeOf(tampered('"RETIRED"', "Oslo", "Oslp")), { code: "proof", detail: "root_mismatch" });
    // A proof hash, one hex digit flipped.
    const proof = valid.certificate.records[1].events[1].proof[0];
    const flipped = proof.slice(0, 10) + (proof[10] === "0" ? "1" : "0") + proof.slice(11);
    assert.deepEqual(codeOf(tampered('"RETIRED"', proof, flipped)), { code: "proof", detail: "root_mismatch" });
    // The checkpoint's tree size: its signature no longer verifies.
    const size = valid.expect.verified.checkpoint.size;
    assert.deepEqual(codeOf(tampered('"checkpoint"', `\\n${size}\\n`, `\\n${size + 1}\\n`)),
      { code: "signature", detail: "invalid_signature" });
    // The block's quantity: its id is no longer the one its events name.
    assert.deepEqual(codeOf(tampered('"records"', '"187.0000"', '"188.0000"')), { code: "id", detail: null });
    // A seq: the history no longer replays.
    // A seq: the event's leaf changes with it (the proofs are checked first).
    assert.deepEqual(codeOf(tampered(`"record_id":"${valid.certificate.record_id}","seq":2`, '"seq":2', '"seq":3')).code,
      "proof");
    // The events in another order: the proofs hold, the history does not replay.
    const reordered = structuredClone(valid.certificate);
    reordered.records[1].events.reverse();
    assert.equal(codeOf(reordered).code, "replay");
  });

  it("a trusted checkpoint may be the signed note itself", () => {
    const note = valid.certificate.checkpoint;
    assert.deepEqual(outcome(() => verifyCertificate(valid.certificate, key, { checkpoint: note, proof: [] })),
      valid.expect);
    const other = LOG.checkpoints.find((c) => c.expect.error === "unverified_note");
    assert.deepEqual(codeOf(valid.certificate, { checkpoint: other.note, proof: [] }),
      { code: "consistency", detail: "unverified_note" });
    assert.deepEqual(codeOf(valid.certificate, { checkpoint: note, proof: ["not a hash"] }),
      { code: "consistency", detail: "invalid_hash" });
  });

  it("keyFingerprint: the keys' fingerprints; malformed keys are a TypeError naming the code", () => {
    for (const k of LOG.keys.filter((k) => k.vkey && k.expect.fingerprint)) {
      assert.equal(keyFingerprint(k.vkey), k.expect.fingerprint, k.name);
      assert.equal(keyFingerprint(` ${k.vkey}\n`), k.expect.fingerprint, k.name);
    }
    const bad = LOG.keys.filter((k) => typeof k.vkey === "string" && typeof k.expect.error === "string");
    assert.ok(bad.length > 10);
    for (const k of bad) {
      assert.throws(() => keyFingerprint(k.vkey), (e) => e instanceof TypeError
        && e.message.includes(`(${k.expect.error})`), k.name);
      assert.throws(() => verifyCertificate(valid.certificate, k.vkey), TypeError, k.name);
    }
  });

  it("openCheckpoint: the checkpoints", () => {
    for (const c of LOG.checkpoints) {
      if (c.expect.checkpoint?.size > Number.MAX_SAFE_INTEGER) {
        // A size no JavaScript number holds (2^64 - 1) is refused, never rounded.
        assert.throws(() => openCheckpoint(c.note, c.vkey), TypeError, c.name);
        continue;
      }
      const got = outcome(() => openCheckpoint(c.note, c.vkey));
      if ("checkpoint" in c.expect) {
        assert.deepEqual(got, { verified: c.expect.checkpoint }, c.name);
      } else {
        assert.deepEqual(got, { error: { code: "signature", detail: c.expect.error } }, c.name);
      }
    }
  });

  it("arguments of the wrong shape are a TypeError naming the place", () => {
    const broken = structuredClone(valid.certificate);
    broken.records[1].events[0].index = -1;
    assert.throws(() => verifyCertificate(broken, key), /certificate\.records\[1\]\.events\[0\]\.index/);
    delete broken.records[1].events[0].event.created_at;
    assert.throws(() => verifyCertificate(broken, key), TypeError);
    for (const bundle of [null, 3, [], "{", "[]"]) {
      assert.throws(() => verifyCertificate(bundle, key), TypeError, String(bundle));
    }
    assert.throws(() => verifyCertificate(valid.certificate, 7), TypeError);
    assert.throws(() => verifyCertificate(valid.certificate, key, { checkpoint: { origin: "x" }, proof: [] }), TypeError);
    assert.throws(() => verifyCertificate(valid.certificate, key, "trusted"), TypeError);
  });

  it("a 10-event certificate built here (certificate_builder.mjs) verifies, and fails tampered", () => {
    const certificate = soldAndRetired(ct, { skey: LOG.log_key.skey });
    assert.equal(certificate.records[0].events.length, 10);
    const verified = verifyCertificate(certificate, LOG.log_key.vkey);
    assert.equal(verified.state.status, "RETIRED");
    assert.equal(verified.state.last_seq, 10);
    assert.deepEqual(verified.lineage, [certificate.record_id]);
    certificate.records[0].events[4].event.payload.price = 1;
    assert.deepEqual(outcome(() => verifyCertificate(certificate, LOG.log_key.vkey)).error,
      { code: "proof", detail: "root_mismatch" });
  });
});
