// The page at `/`: ids computed in the browser by the WASM package (the same
// core as the server), registration with POST /records, lookup with
// GET /records/{id}. The page decides nothing itself: the package computes
// and validates, the server stores; this file only moves values between the
// form, the package and the server. Text is only ever set with textContent.

import init, { deriveId, replay, ValidationError, ID_SCHEME } from "/pkg/carbon_tracker.js";

const FIELDS = ["project_name", "registry", "vintage", "quantity", "serial_number"];
const $ = (id) => document.getElementById(id);

/** Fields the user has typed in: only their errors are shown while typing. */
const touched = new Set();
/** The id the package computed for the form as it is, or null. */
let localId = null;

/** The form as a record body. Vintage and quantity stay text, so the
 *  quantity keeps its exact digits; the package and the server both read
 *  `"2023"` and `"100.10"`. */
function formRecord() {
  const record = {};
  for (const field of FIELDS) {
    record[field] = $(field).value;
  }
  return record;
}

function showFieldErrors(errors, all) {
  for (const field of [...FIELDS, "body"]) {
    const messages = errors.filter((e) => e.field === field && (all || touched.has(field) || field === "body"));
    const slot = $(`${field}-error`);
    slot.textContent = messages.map((e) => e.message).join("; ");
    const input = $(field);
    if (input) {
      input.setAttribute("aria-invalid", messages.length > 0 ? "true" : "false");
    }
  }
}

/** Recomputes the canonical fields and the id as the user types. */
function compute(all = false) {
  try {
    const { id, canonical } = deriveId(formRecord());
    localId = id;
    for (const field of FIELDS) {
      $(`canonical-${field}`).textContent = String(canonical[field]);
    }
    $("local-id").textContent = id;
    showFieldErrors([], all);
    $("register").disabled = false;
  } catch (e) {
    if (!(e instanceof ValidationError)) {
      throw e;
    }
    localId = null;
    for (const field of FIELDS) {
      $(`canonical-${field}`).textContent = "—";
    }
    $("local-id").textContent = "— (the record is not valid yet)";
    showFieldErrors(e.errors, all);
    $("register").disabled = true;
  }
}

function authHeaders() {
  const token = $("token").value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A problem+json answer as one line of text. */
function problemText(status, body) {
  if (!body || typeof body !== "object") {
    return `HTTP ${status}`;
  }
  const details = Array.isArray(body.errors) ? body.errors.map((e) => e.message).join("; ") : "";
  return `HTTP ${status} ${body.title ?? ""}: ${body.detail ?? ""}${details ? ` (${details})` : ""}`;
}

async function register(event) {
  event.preventDefault();
  compute(true);
  if (localId === null) {
    return;
  }
  const expected = localId;
  const result = $("register-result");
  result.removeAttribute("data-match");
  result.textContent = "Sending…";
  let response;
  let body;
  try {
    response = await fetch("/records", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify(formRecord()),
    });
    body = await response.json();
  } catch (e) {
    result.textContent = `The server could not be reached: ${e.message}`;
    return;
  }
  if (!response.ok) {
    result.textContent = problemText(response.status, body);
    return;
  }
  const how = response.status === 201 ? "Registered" : "Already registered";
  const match = body.id === expected;
  result.dataset.match = String(match);
  result.textContent = match
    ? `${how}: the server's id matches the one computed in the browser (${body.id}).`
    : `${how}, but the server's id ${body.id} differs from the browser's ${expected}.`;
  $("lookup-id").value = body.id;
  await lookup();
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

async function lookup(event) {
  event?.preventDefault();
  const id = $("lookup-id").value.trim();
  const out = $("lookup-result");
  out.replaceChildren();
  const say = (text) => {
    const p = document.createElement("p");
    p.textContent = text;
    out.append(p);
    return p;
  };
  if (!/^[0-9a-f]{64}$/.test(id)) {
    say("A record id is 64 lowercase hexadecimal digits.");
    return;
  }
  let response;
  let record;
  try {
    response = await fetch(`/records/${id}`);
    record = await response.json();
  } catch (e) {
    say(`The server could not be reached: ${e.message}`);
    return;
  }
  if (!response.ok) {
    say(response.status === 404 ? "No record has this id." : problemText(response.status, record));
    return;
  }
  const status = say(`Status: ${record.status}`);
  status.id = "lookup-status";
  say(`${record.project_name} | ${record.registry} | ${record.vintage} | ${record.quantity} | ${record.serial_number}`);
  try {
    const state = replay(record.events);
    say(`Replayed in the browser: ${state.status}${state.owner ? `, owned by ${state.owner}` : ""}.`);
  } catch (e) {
    say(`Replaying the history in the browser failed: ${e.message}`);
  }
  const table = document.createElement("table");
  const caption = document.createElement("caption");
  caption.textContent = "Event history";
  const head = document.createElement("tr");
  for (const title of ["seq", "event", "at", "payload"]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = title;
    head.append(th);
  }
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  for (const e of record.events) {
    const row = document.createElement("tr");
    cell(row, String(e.seq));
    cell(row, e.event_type);
    cell(row, e.created_at);
    cell(row, e.payload ? JSON.stringify(e.payload) : "");
    tbody.append(row);
  }
  table.append(caption, thead, tbody);
  out.append(table);
}

async function main() {
  const status = $("status");
  try {
    await init();
  } catch (e) {
    status.dataset.state = "error";
    // An engine without WebAssembly SIMD (before Chrome 91, Firefox 89, Safari 16.4) fails here.
    status.textContent = `The WebAssembly package could not be loaded (it needs WebAssembly SIMD: `
      + `Chrome or Edge 91+, Firefox 89+, Safari 16.4+): ${e.message}`;
    return;
  }
  $("id-scheme").textContent = ID_SCHEME;
  for (const field of FIELDS) {
    $(field).addEventListener("input", () => {
      touched.add(field);
      compute();
    });
  }
  $("record-form").addEventListener("submit", register);
  $("lookup-form").addEventListener("submit", lookup);
  compute();
  status.dataset.state = "ready";
  status.textContent = "Ready: ids are computed in this browser as you type.";
}

main();
