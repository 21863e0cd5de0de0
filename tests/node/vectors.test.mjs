// Every case of tests/vectors/ through the built Node package
// (bindings-wasm/pkg-node, CommonJS, loaded as a user's require() would).
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

const ROOT = new URL("../../", import.meta.url);
const require = createRequire(import.meta.url);
const ct = require(new URL("bindings-wasm/pkg-node/carbon_tracker.js", ROOT).pathname);

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
  });

  it("events that are not events are a TypeError", () => {
    assert.throws(() => ct.replay([{ seq: "one" }]), TypeError);
    assert.throws(() => ct.replay("nope"), TypeError);
  });
});
