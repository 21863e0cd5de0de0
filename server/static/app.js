// The page at `/`: ids computed in the browser by the WASM package (the same
// core as the server), registration with POST /records, lookup with
// GET /records/{id}: a record's block, holder and lineage tree
// (GET /records/{id}/lineage), a partial retirement whose two children
// the package derives before anything is sent (SPEC §6), and a link to the
// record's certificate page (/certificates/{id}, certificate.js; SPEC §7).
// The page decides nothing itself: the package computes and validates, the
// server stores; this file only moves values between the form, the package
// and the server.
// Text is only ever set with textContent.

import init, {
  deriveId, replay, splitBlock, TransitionError, ValidationError, ID_SCHEME,
} from "/pkg/carbon_tracker.js";

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

/** An element with text (and an id). */
function element(tag, text = "", id = "") {
  const node = document.createElement(tag);
  node.textContent = text;
  if (id) {
    node.id = id;
  }
  return node;
}

/** GET a JSON body: `{ ok, status, body }`, or throws when the server cannot be reached. */
async function getJson(path) {
  const response = await fetch(path);
  return { ok: response.ok, status: response.status, body: await response.json() };
}

/** A block's range as the page shows it: `verra 941382555–941382741 (187 credits)`. */
function blockText(block) {
  const count = BigInt(block.end) - BigInt(block.start) + 1n;
  return `${block.scheme} ${block.start}–${block.end} (${count} credit${count === 1n ? "" : "s"})`;
}

/** Bumped by every lookup, so that an answer to an earlier one is dropped. */
let lookupSeq = 0;

/** Opens a record in the lookup section. */
async function open(id) {
  $("lookup-id").value = id;
  await lookup();
}

async function lookup(event) {
  event?.preventDefault();
  const seq = ++lookupSeq;
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
  let lineage;
  try {
    response = await fetch(`/records/${id}`);
    record = await response.json();
    if (response.ok) {
      lineage = await getJson(`/records/${id}/lineage`);
    }
  } catch (e) {
    if (seq === lookupSeq) {
      say(`The server could not be reached: ${e.message}`);
    }
    return;
  }
  if (seq !== lookupSeq) {
    return;
  }
  if (!response.ok) {
    say(response.status === 404 ? "No record has this id." : problemText(response.status, record));
    return;
  }
  const status = say(`Status: ${record.status}`);
  status.id = "lookup-status";
  // Its certificate (SPEC §7): the record's story, verified in the browser against the log's key.
  const certificate = say("");
  const link = element("a", record.status === "RETIRED" ? "Retirement certificate" : "Certificate of its history",
    "lookup-certificate");
  link.href = `/certificates/${record.id ?? id}`;
  certificate.append(link, " (verified in your browser against the log's key; printable)");
  say(`${record.project_name} | ${record.registry} | ${record.vintage} | ${record.quantity} | ${record.serial_number}`);
  const block = say(record.block ? `Block: ${blockText(record.block)}` : "Block: none (its serial names no range of "
    + "credits, or its quantity is not the range's count)");
  block.id = "lookup-block";
  const holder = say(`Holder: ${record.holder ?? "the registrant (never sold)"}`);
  holder.id = "lookup-holder";
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
  for (const title of ["seq", "event", "at", "by", "payload"]) {
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
    cell(row, e.actor ?? "");
    cell(row, e.payload ? JSON.stringify(e.payload) : "");
    tbody.append(row);
  }
  table.append(caption, thead, tbody);
  out.append(table);

  if (!lineage.ok) {
    say(`The lineage could not be read: ${problemText(lineage.status, lineage.body)}`);
    return;
  }
  out.append(lineageView(lineage.body));
  const retire = await retireView(record, lineage.body);
  if (seq === lookupSeq && retire) {
    out.append(retire);
  }
}

/** The tree a record belongs to: from its root down, the record's whole subtree. */
function lineageView(lineage) {
  const nodes = new Map([...lineage.ancestors, ...lineage.subtree].map((n) => [n.id, n]));
  const wrap = element("div", "", "lineage");
  wrap.append(element("h3", "Lineage"));
  const roles = new Map();
  for (const n of nodes.values()) {
    if (n.children.length === 2) {
      roles.set(n.children[0], "front (acted on)");
      roles.set(n.children[1], "back (remainder)");
    }
  }
  const item = (id) => {
    const li = document.createElement("li");
    const node = nodes.get(id);
    li.dataset.id = id;
    const button = element("button", "");
    button.type = "button";
    button.className = "node";
    button.title = `Open ${id}`;
    const parts = [roles.get(id) ?? "registered block", `${id.slice(0, 12)}…`];
    if (node) {
      li.dataset.status = node.status;
      li.dataset.quantity = node.quantity;
      parts.push(node.status, `${node.quantity} credits`);
      if (node.block) {
        parts.push(`${node.block.start}–${node.block.end}`);
      }
      if (node.holder) {
        parts.push(`held by ${node.holder}`);
      }
    } else {
      parts.push("(open it to see)");
    }
    button.textContent = parts.join(" · ");
    if (id === lineage.id) {
      li.classList.add("current");
      button.setAttribute("aria-current", "true");
    }
    button.addEventListener("click", () => open(id));
    li.append(button);
    if (node && node.children.length > 0) {
      const ul = document.createElement("ul");
      ul.append(...node.children.map(item));
      li.append(ul);
    }
    return li;
  };
  const tree = document.createElement("ul");
  tree.className = "tree";
  tree.append(item(lineage.root));
  wrap.append(tree);
  const totals = Object.entries(lineage.totals).map(([status, quantity]) => `${status} ${quantity}`);
  wrap.append(element("p", `Credits of the whole tree by status: ${totals.join(", ")}.`, "lineage-totals"));
  return wrap;
}

/** The record a partial action sent to `record` acts on: the record itself,
 *  or for a split block its live remainder (the back child, followed down). */
function remainderOf(record, lineage) {
  const nodes = new Map(lineage.subtree.map((n) => [n.id, n]));
  let node = nodes.get(record.id);
  while (node && node.status === "SPLIT" && node.children.length === 2) {
    node = nodes.get(node.children[1]);
  }
  return node;
}

/** The partial retirement form of a block (or of a split block's remainder),
 *  or null when there is nothing to retire. */
async function retireView(record, lineage) {
  if (!record.block && record.status !== "SPLIT") {
    return null;
  }
  const wrap = element("div", "", "retire");
  wrap.append(element("h3", "Retire part of the block"));
  const target = remainderOf(record, lineage);
  if (!target || target.status === "RETIRED" || target.status === "CANCELLED") {
    wrap.append(element("p", "No credits are left to retire in this block."));
    return wrap;
  }
  // The record the package acts on, with its history: this one, or the remainder's.
  let body = record;
  if (target.id !== record.id) {
    try {
      const got = await getJson(`/records/${target.id}`);
      if (!got.ok) {
        wrap.append(element("p", `The remainder could not be read: ${problemText(got.status, got.body)}`));
        return wrap;
      }
      body = got.body;
    } catch (e) {
      wrap.append(element("p", `The server could not be reached: ${e.message}`));
      return wrap;
    }
    wrap.append(element("p", `A split block: a retirement goes to its remainder, ${target.id} `
      + `(${target.quantity} credits).`, "retire-target"));
  }

  const form = element("form", "", "retire-form");
  form.noValidate = true;
  const field = element("div");
  field.className = "field";
  const label = element("label", "Credits to retire");
  label.htmlFor = "retire-quantity";
  const input = element("input", "", "retire-quantity");
  input.inputMode = "numeric";
  input.autocomplete = "off";
  input.setAttribute("aria-describedby", "retire-hint");
  const hint = element("p", `Whole credits, at most ${target.quantity.replace(/\.0000$/, "")}; `
    + "taken from the front of the range.", "retire-hint");
  hint.className = "hint";
  field.append(label, input, hint);
  const preview = element("div", "", "retire-preview");
  preview.setAttribute("aria-live", "polite");
  const send = element("button", "Retire on the server", "retire-send");
  send.type = "submit";
  send.disabled = true;
  const result = element("p", "", "retire-result");
  result.setAttribute("aria-live", "polite");
  form.append(field, preview, send);
  wrap.append(form, result);

  /** What the package says the retirement does, for the quantity typed. */
  let expected = null;
  const compute = () => {
    expected = null;
    send.disabled = true;
    preview.replaceChildren();
    const text = input.value.trim();
    if (text === "") {
      return;
    }
    if (!/^[0-9]+$/.test(text)) {
      preview.append(element("p", "A whole number of credits, such as 37.", "retire-error"));
      return;
    }
    try {
      expected = splitBlock(body, body.events, "RETIRED", { quantity: text });
    } catch (e) {
      if (!(e instanceof TransitionError)) {
        throw e;
      }
      const details = e.errors.map((x) => x.message).join("; ");
      preview.append(element("p", details || e.message, "retire-error"));
      return;
    }
    if ("whole" in expected) {
      preview.append(element("p", `Computed in the browser: the whole of ${target.id} is retired; `
        + "no split."));
    } else {
      const { front, back } = expected.split;
      const list = element("dl");
      list.className = "canonical";
      list.append(
        element("dt", `Front child, retired (${front.record.quantity} credits, ${front.record.serial_number})`),
        element("dd"),
        element("dt", `Back child, the remainder (${back.record.quantity} credits, ${back.record.serial_number})`),
        element("dd"),
      );
      list.children[1].append(element("code", front.id, "retire-front-id"));
      list.children[3].append(element("code", back.id, "retire-back-id"));
      preview.append(element("p", "Computed in the browser, before sending:"), list);
    }
    send.disabled = false;
  };
  input.addEventListener("input", compute);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    compute();
    if (expected === null) {
      return;
    }
    const predicted = expected;
    const typed = input.value.trim();
    send.disabled = true;
    result.removeAttribute("data-match");
    result.textContent = "Sending…";
    let response;
    let answer;
    try {
      response = await fetch(`/records/${record.id}/retire`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...authHeaders() },
        // A number, as a client would send it; its digits when a double cannot hold it.
        body: JSON.stringify({ quantity: Number.isSafeInteger(Number(typed)) ? Number(typed) : typed }),
      });
      answer = await response.json();
    } catch (e) {
      result.textContent = `The server could not be reached: ${e.message}`;
      send.disabled = false;
      return;
    }
    if (!response.ok) {
      result.textContent = problemText(response.status, answer);
      send.disabled = false;
      return;
    }
    let match;
    let text;
    if ("split" in predicted) {
      const mine = predicted.split;
      const theirs = answer.split;
      match = theirs?.front?.id === mine.front.id && theirs?.back?.id === mine.back.id;
      text = match
        ? `Retired: the server agrees with the browser on both children (front ${mine.front.id}, `
          + `back ${mine.back.id}).`
        : `Retired, but the server's children (front ${theirs?.front?.id ?? "none"}, back `
          + `${theirs?.back?.id ?? "none"}) differ from the browser's (front ${mine.front.id}, `
          + `back ${mine.back.id}).`;
    } else {
      match = !answer.split && answer.record_id === target.id;
      text = match
        ? `Retired: the server agrees, the whole of ${target.id} is retired.`
        : `Retired, but the server's answer (record ${answer.record_id}${answer.split ? ", split" : ""}) `
          + `differs from the browser's (the whole of ${target.id}).`;
    }
    // Shown again with the record as it is now: SPLIT, with its children in the tree.
    await lookup();
    const shown = $("retire-result") ?? $("lookup-result").appendChild(element("p", "", "retire-result"));
    shown.dataset.match = String(match);
    shown.textContent = text;
  });
  return wrap;
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
