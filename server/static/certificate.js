// The page at `/certificates/{id}`: a record's certificate (GET
// /records/{id}/certificate, SPEC §7) shown as a human retirement certificate
// and verified here, in the browser, by the WASM verifier
// (`carbon-tracker/verify`, the core's verify_certificate) against the log key
// the user pins. The page decides nothing itself: the verifier says whether
// the certificate holds and what failed; the main module reads the serial's
// range (parseSerial). Text is only ever set with textContent.
//
// Test hooks: `?tamper=1` (or `window.__tamper()`) flips one bit of one byte
// of the certificate's text before verifying it (a letter of the
// beneficiary, else a digit of a proof), `window.__untamper()` verifies the
// served text again; `window.__verifyTimes(samples, batch)` verifies the
// certificate again, timed in batches, and returns the median milliseconds
// per verification.

import initCore, { parseSerial, replay } from "/pkg/carbon_tracker.js";
import initVerifier, { CertificateError, keyFingerprint, verifyCertificate } from "/pkg/verify/carbon_tracker_verify.js";

const $ = (id) => document.getElementById(id);
const PIN = "carbon-tracker.pinned-log-key";

/** What each failure means, by the core's CertificateError code. */
const FAILURES = {
  signature: "the log's signature does not verify with the pinned key: the checkpoint was not signed by that "
    + "key, or it was changed after signing",
  proof: "an event is not in the log as the certificate shows it: an event, a record or a proof was changed",
  replay: "the record's history breaks the lifecycle rules",
  id: "a record's id is not the one its fields give: a record's fields were changed",
  lineage: "the records are not one line of descent from a registered block",
  consistency: "the log's checkpoint does not extend the one you trust: the log was rewritten or forked",
};

const recordId = decodeURIComponent(location.pathname.split("/").pop() ?? "");
/** The certificate's JSON text as the server sent it. */
let served = null;
/** The text verified last (the served one, or a tampered copy). */
let shown = null;
/** The log key the server serves (GET /log/key). */
let serverKey = null;

function element(tag, text = "", className = "") {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) {
    node.className = className;
  }
  return node;
}

function fact(list, term, value, id = "") {
  const dd = element("dd", value);
  if (id) {
    dd.id = id;
  }
  list.append(element("dt", term), dd);
  return dd;
}

/** `37.0000` → `37`, `12.5000` → `12.5`. */
const credits = (quantity) => String(quantity).replace(/\.?0+$/, "");
/** The date of an RFC 3339 timestamp. */
const day = (timestamp) => String(timestamp).slice(0, 10);

/** A serial's range of credits as the core reads it, or null. */
function range(serial) {
  try {
    const block = parseSerial(serial);
    return block ? { text: `${block.start}–${block.end}`, count: BigInt(block.end) - BigInt(block.start) + 1n } : null;
  } catch {
    return null;
  }
}

/** Flips one bit of one byte of the certificate's text: the case of a letter
 *  of the last beneficiary, else a digit of the last proof's first hash. */
function tampered(text) {
  const find = (pattern) => {
    let at = -1;
    for (const m of text.matchAll(pattern)) {
      at = m.index + m[0].length;
    }
    return at;
  };
  let at = find(/"beneficiary"\s*:\s*"(?=[A-Za-z])/g);
  if (at < 0) {
    at = find(/"proof"\s*:\s*\[\s*"/g);
  }
  if (at < 0) {
    throw new Error("nothing to tamper with in this certificate");
  }
  const flipped = String.fromCharCode(text.charCodeAt(at) ^ (/[A-Za-z]/.test(text[at]) ? 0x20 : 0x01));
  return text.slice(0, at) + flipped + text.slice(at + 1);
}

/** The key as typed, and its fingerprint (or why it is not a key). */
function showKey() {
  const key = $("key").value.trim();
  try {
    $("key-fingerprint").textContent = keyFingerprint(key);
    $("key").setAttribute("aria-invalid", "false");
    return key;
  } catch (e) {
    $("key-fingerprint").textContent = `— not a log key: ${e.message}`;
    $("key").setAttribute("aria-invalid", "true");
    return null;
  }
}

function keyNote() {
  const pinned = localStorage.getItem(PIN);
  const typed = $("key").value.trim();
  let note;
  if (pinned && serverKey && pinned !== serverKey) {
    let theirs = "";
    try {
      theirs = ` (fingerprint ${keyFingerprint(serverKey)})`;
    } catch {
      theirs = "";
    }
    note = `Warning: this server now serves another key${theirs} than the one you pinned. The certificate is `
      + "checked against the key in the field.";
  } else if (pinned && pinned === typed) {
    note = "This is the key you pinned in this browser.";
  } else {
    note = "This key came from the server itself: pin it once you have compared its fingerprint with the one the "
      + "registry publishes, to be warned if it ever changes.";
  }
  $("key-note").textContent = note;
}

/** The certificate's contents, from `text` (what was verified), and the verdict. */
function render(text, outcome) {
  const article = $("certificate");
  let bundle;
  try {
    bundle = JSON.parse(text);
  } catch {
    bundle = null;
  }
  const records = Array.isArray(bundle?.records) ? bundle.records : [];
  const last = records.at(-1);
  const record = last?.record ?? {};
  const events = Array.isArray(last?.events) ? last.events.map((e) => e.event) : [];
  let state = outcome.verified?.state ?? null;
  if (!state) {
    try {
      state = replay(events);
    } catch {
      state = null;
    }
  }
  const status = state?.status ?? events.at(-1)?.event_type ?? "unknown";
  const final = events.find((e) => e.event_type === status && ["RETIRED", "CANCELLED"].includes(status));
  const payload = final?.payload ?? {};

  article.dataset.verified = outcome.verified ? "true" : "false";
  article.dataset.status = status;
  $("certificate-title").textContent = status === "RETIRED" ? "Certificate of retirement"
    : status === "CANCELLED" ? "Certificate of cancellation" : `Certificate of a record (${status})`;
  const what = `${credits(record.quantity)} tonnes CO₂e of ${record.project_name} (${record.registry}, vintage `
    + `${record.vintage})`;
  $("headline").textContent = status === "RETIRED"
    ? `${what} retired on ${day(final?.created_at)}${payload.beneficiary ? ` on behalf of ${payload.beneficiary}` : ""}.`
    : status === "CANCELLED" ? `${what} cancelled on ${day(final?.created_at)}.`
      : `${what}: ${status}, not retired.`;

  const facts = $("facts");
  facts.replaceChildren();
  fact(facts, "Project", record.project_name ?? "—", "fact-project");
  fact(facts, "Registry", record.registry ?? "—", "fact-registry");
  fact(facts, "Vintage", String(record.vintage ?? "—"), "fact-vintage");
  const block = range(record.serial_number);
  fact(facts, "Serial range", block ? `${block.text} (${block.count} credits)` : "— (the serial names no range)",
    "fact-range");
  fact(facts, "Serial number", record.serial_number ?? "—", "fact-serial");
  fact(facts, "Quantity", `${credits(record.quantity)} tonnes CO₂e (${record.quantity})`, "fact-quantity");
  if (status === "RETIRED") {
    const beneficiary = [payload.beneficiary, payload.beneficiary_country].filter(Boolean).join(", ");
    fact(facts, "Beneficiary", beneficiary || "— (not stated)", "fact-beneficiary");
    fact(facts, "Purpose", payload.purpose ? String(payload.purpose).replaceAll("_", " ") : "— (not stated)",
      "fact-purpose");
    if (payload.note ?? payload.reason) {
      fact(facts, "Note", String(payload.note ?? payload.reason), "fact-note");
    }
  }
  if (final) {
    fact(facts, status === "RETIRED" ? "Retired on" : "Cancelled on", `${day(final.created_at)} (${final.created_at})`,
      "fact-date");
  }
  fact(facts, "Holder", state?.owner ?? "the registrant (never sold)", "fact-holder");
  fact(facts, "Record id (v1)", bundle?.record_id ?? recordId, "fact-id");

  const lineage = $("lineage");
  lineage.replaceChildren();
  records.forEach((r, i) => {
    const li = element("li");
    const created = r.events?.[0]?.event;
    const parent = records[i - 1];
    const split = parent?.events?.map((e) => e.event).find((e) => e.event_type === "SPLIT");
    const id = created?.record_id ?? "";
    li.dataset.id = id;
    const role = i === 0 ? "Registered block"
      : split?.payload?.front === id ? `Split off on ${day(split.created_at)}: the part acted on`
        : `Split off on ${day(split?.created_at)}: the remainder`;
    const r2 = range(r.record?.serial_number);
    const end = r.events?.at(-1)?.event?.event_type;
    li.append(element("strong", role), element("span",
      ` · ${credits(r.record?.quantity)} credits${r2 ? ` · ${r2.text}` : ""} · last event ${end ?? "—"} · `),
    element("code", id));
    lineage.append(li);
  });

  const tbody = $("events").querySelector("tbody");
  tbody.replaceChildren();
  for (const entry of last?.events ?? []) {
    const e = entry.event ?? {};
    const row = document.createElement("tr");
    const details = e.payload ? Object.entries(e.payload).map(([k, v]) => `${k}: ${v}`).join("; ") : "";
    for (const text of [String(e.seq), e.event_type, e.created_at, String(entry.index), details]) {
      row.append(element("td", text));
    }
    tbody.append(row);
  }

  const proof = $("proof");
  proof.replaceChildren();
  const checkpoint = outcome.verified?.checkpoint;
  const note = typeof bundle?.checkpoint === "string" ? bundle.checkpoint.split("\n") : [];
  fact(proof, "Log", checkpoint?.origin ?? note[0] ?? "—", "proof-origin");
  fact(proof, "Checkpoint", checkpoint ? `${checkpoint.size} leaves, root ${checkpoint.root}`
    : `${note[1] ?? "?"} leaves (unverified)`, "proof-checkpoint");
  fact(proof, "Key fingerprint", outcome.fingerprint ?? "—", "proof-fingerprint");
  fact(proof, "Checked", `${records.length} record(s), ${records.reduce((n, r) => n + (r.events?.length ?? 0), 0)} `
    + `event(s), in ${outcome.ms.toFixed(1)} ms`, "proof-time");

  const verdict = $("verdict");
  verdict.dataset.result = outcome.verified ? "verified" : "failed";
  delete verdict.dataset.code;
  if (outcome.verified) {
    verdict.textContent = `✓ Verified in your browser: signed by the pinned key (${outcome.fingerprint.slice(0, 16)}…), `
      + `every proof, id and history checked against a checkpoint of ${checkpoint.size} leaves of `
      + `${checkpoint.origin}.`;
  } else if (outcome.error instanceof CertificateError) {
    verdict.dataset.code = outcome.error.code;
    verdict.textContent = `✗ NOT VERIFIED — ${outcome.error.code}${outcome.error.detail ? ` (${outcome.error.detail})` : ""}: `
      + `${FAILURES[outcome.error.code] ?? "the certificate does not verify"}. The verifier says: ${outcome.error.message}. `
      + "Do not rely on anything this certificate states.";
  } else {
    verdict.dataset.code = "unreadable";
    verdict.textContent = `✗ NOT VERIFIED — ${outcome.error?.message ?? "the certificate could not be read"}. `
      + "Do not rely on anything this certificate states.";
  }
}

/** Verifies `text` with the key in the field, and shows the outcome. */
function check(text) {
  shown = text;
  const key = showKey();
  keyNote();
  const t0 = performance.now();
  let outcome;
  try {
    if (key === null) {
      throw new Error("the key in the field is not a log key");
    }
    outcome = { verified: verifyCertificate(text, key), fingerprint: keyFingerprint(key) };
  } catch (e) {
    outcome = { error: e };
  }
  outcome.ms = performance.now() - t0;
  render(text, outcome);
  return outcome;
}

/** GET as text: the body, or throws with the server's problem. A 503 (an
 *  event not in the log yet: the log covers new events within a second) is
 *  retried for a few seconds. */
async function getText(path) {
  let response;
  for (let attempt = 0; ; attempt++) {
    response = await fetch(path);
    if (response.status !== 503 || attempt >= 20) {
      break;
    }
    $("status").textContent = "The log does not cover the record's latest event yet: retrying…";
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const text = await response.text();
  if (!response.ok) {
    let detail = text;
    try {
      const problem = JSON.parse(text);
      detail = `${problem.title ?? ""}: ${problem.detail ?? ""}`;
    } catch {
      // not a problem+json body: the text itself
    }
    const error = new Error(`${path} answered HTTP ${response.status} ${detail}`);
    error.status = response.status;
    throw error;
  }
  return text;
}

async function main() {
  const status = $("status");
  if (!/^[0-9a-f]{64}$/.test(recordId)) {
    status.dataset.state = "error";
    status.textContent = "This address does not name a record: /certificates/ and 64 lowercase hex digits.";
    return;
  }
  try {
    [served, serverKey] = await Promise.all([
      getText(`/records/${recordId}/certificate`),
      getText("/log/key").then((k) => k.trim()),
      initCore(),
      initVerifier(),
    ]);
  } catch (e) {
    status.dataset.state = "error";
    status.textContent = e.status === 404 ? "No record has this id (or the log is off on this server)."
      : `The certificate could not be loaded: ${e.message}`;
    return;
  }
  $("key").value = localStorage.getItem(PIN) ?? serverKey;
  $("key").addEventListener("input", () => {
    showKey();
    keyNote();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    check(shown ?? served);
  });
  $("pin").addEventListener("click", () => {
    const key = showKey();
    if (key !== null) {
      localStorage.setItem(PIN, key);
      keyNote();
    }
  });
  $("print").addEventListener("click", () => window.print());

  window.__tamper = () => check(tampered(served));
  window.__untamper = () => check(served);
  // Timed in batches: the browser's clock is coarse (100 µs, with jitter).
  window.__verifyTimes = (samples = 30, batch = 10) => {
    const key = $("key").value.trim();
    const times = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      for (let j = 0; j < batch; j++) {
        try {
          verifyCertificate(shown, key);
        } catch {
          // timed all the same
        }
      }
      times.push((performance.now() - t0) / batch);
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(samples / 2)], min: times[0], max: times.at(-1), runs: samples * batch };
  };

  check(new URLSearchParams(location.search).get("tamper") === "1" ? tampered(served) : served);
  status.dataset.state = "ready";
  status.textContent = "Checked in this browser with the key below: nothing but the certificate and the key was "
    + "fetched.";
}

main();
