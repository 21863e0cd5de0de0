// The portfolio view (/portfolio): credits by vintage stacked by status for
// one registry or all, from GET /summary, charted with Chart.js (served by
// this server, /vendor/chart.umd.min.js) and tabled beside the chart with the
// exact numbers; and a paged, filtered table of records from GET /records.
//
// Quantities are added in the browser only for the table's row and column
// totals, exactly: as BigInt ten-thousandths of the server's 4-decimal
// strings. The chart's bar heights are the only floating-point numbers.
//
// A form imports a registry's export (POST /imports) and shows its summary
// and the rows not imported; the view then redraws.
//
// It refreshes when records change: a Refresh button; a message
// `{type: "imported"}` on the BroadcastChannel "carbon-tracker" (what an
// import in another tab of this origin posts); and, while the tab is
// visible, a poll of GET /summary every few seconds (longer on a store whose
// summary is slow to read) that redraws only when the answer differs (an
// import through the API or the CLI).

const STATUSES = ["ACTIVE", "SOLD", "RETIRED", "CANCELLED"];
// Okabe–Ito colours (distinguishable with the common colour-vision
// deficiencies), each status with a pattern too.
const STYLE = {
  ACTIVE: { color: "#0072B2", pattern: "plain" },
  SOLD: { color: "#E69F00", pattern: "stripes" },
  RETIRED: { color: "#009E73", pattern: "dots" },
  CANCELLED: { color: "#6b6b6b", pattern: "crosshatch" },
};
const POLL_MS = 4000;
const CHANNEL = "carbon-tracker";

const $ = (id) => document.getElementById(id);
const status = $("status");

// ---------------------------------------------------------------- numbers

/** "123.4500" → 1234500n (ten-thousandths). */
function units(text) {
  const [whole, fraction = ""] = String(text).split(".");
  return BigInt(whole) * 10000n + BigInt((fraction + "0000").slice(0, 4));
}

/** 1234500n → "123.4500". */
function decimal(n) {
  const whole = n / 10000n;
  const fraction = (n % 10000n).toString().padStart(4, "0");
  return `${whole}.${fraction}`;
}

// ---------------------------------------------------------------- patterns

/** A fill for a status: its colour with its pattern drawn over it. */
function fill(name) {
  const { color, pattern } = STYLE[name];
  if (pattern === "plain") return color;
  const size = 10;
  const tile = document.createElement("canvas");
  tile.width = size;
  tile.height = size;
  const g = tile.getContext("2d");
  g.fillStyle = color;
  g.fillRect(0, 0, size, size);
  g.strokeStyle = "rgba(255,255,255,0.85)";
  g.fillStyle = "rgba(255,255,255,0.9)";
  g.lineWidth = 2;
  if (pattern === "stripes") {
    g.beginPath();
    g.moveTo(0, size);
    g.lineTo(size, 0);
    g.moveTo(-size / 2, size / 2);
    g.lineTo(size / 2, -size / 2);
    g.moveTo(size / 2, size * 1.5);
    g.lineTo(size * 1.5, size / 2);
    g.stroke();
  } else if (pattern === "dots") {
    g.beginPath();
    g.arc(size / 2, size / 2, 2, 0, Math.PI * 2);
    g.fill();
  } else {
    g.lineWidth = 1.5;
    g.beginPath();
    g.moveTo(0, size / 2);
    g.lineTo(size, size / 2);
    g.moveTo(size / 2, 0);
    g.lineTo(size / 2, size);
    g.stroke();
  }
  return g.createPattern(tile, "repeat");
}

/** Writes each segment's status initial and value on it when it is tall
 *  enough, so the chart reads without the colours or the legend. */
const directLabels = {
  id: "directLabels",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    ctx.save();
    ctx.font = "600 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    chart.data.datasets.forEach((dataset, i) => {
      const meta = chart.getDatasetMeta(i);
      if (meta.hidden) return;
      meta.data.forEach((bar, j) => {
        const text = dataset.labels?.[j];
        const { y, base, width } = bar.getProps(["y", "base", "width"], true);
        const height = Math.abs(base - y);
        if (!text || height < 16) return;
        const label = `${dataset.label[0]} ${text}`;
        if (ctx.measureText(label).width > width - 4) return;
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(0,0,0,0.75)";
        ctx.strokeText(label, bar.x, (y + base) / 2);
        ctx.fillStyle = "#fff";
        ctx.fillText(label, bar.x, (y + base) / 2);
      });
    });
    ctx.restore();
  },
};

// ---------------------------------------------------------------- summary

let summary = null; // the last GET /summary?group_by=registry,vintage,status
let summaryText = "";
let chart = null;
let refreshes = 0;

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body?.detail ?? response.statusText;
    throw new Error(`${path}: ${response.status} ${detail}`);
  }
  return body;
}

/** The registry the chart shows ("" for all). */
function chosenRegistry() {
  return $("chart-registry").value;
}

/** Per vintage: per status ten-thousandths, the row total, the records. */
function rows(groups, registry) {
  const byVintage = new Map();
  for (const g of groups) {
    if (registry && g.registry !== registry) continue;
    let row = byVintage.get(g.vintage);
    if (!row) {
      row = { vintage: g.vintage, by: Object.fromEntries(STATUSES.map((s) => [s, 0n])), total: 0n, records: 0 };
      byVintage.set(g.vintage, row);
    }
    const q = units(g.quantity);
    row.by[g.status] += q;
    row.total += q;
    row.records += g.records;
  }
  return [...byVintage.values()].sort((a, b) => a.vintage - b.vintage);
}

function cell(tag, text, attrs = {}) {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function renderRegistries(groups) {
  const select = $("chart-registry");
  const chosen = select.value;
  const registries = [...new Set(groups.map((g) => g.registry))].sort();
  select.replaceChildren(cell("option", "All registries", { value: "" }),
    ...registries.map((r) => cell("option", r, { value: r })));
  select.value = registries.includes(chosen) ? chosen : "";
  $("registries").replaceChildren(...registries.map((r) => cell("option", "", { value: r })));
}

function renderTable(data, registry) {
  $("vintage-table-registry").textContent = registry || "all registries";
  const body = $("vintage-table").tBodies[0];
  body.replaceChildren(...data.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.vintage = row.vintage;
    tr.append(cell("th", String(row.vintage), { scope: "row" }));
    for (const s of STATUSES) tr.append(cell("td", decimal(row.by[s]), { "data-status": s, class: "num" }));
    tr.append(cell("td", decimal(row.total), { "data-total": "", class: "num" }));
    tr.append(cell("td", String(row.records), { "data-records": "", class: "num" }));
    return tr;
  }));
  const foot = document.createElement("tr");
  foot.dataset.vintage = "total";
  foot.append(cell("th", "Total", { scope: "row" }));
  let all = 0n;
  let records = 0;
  for (const s of STATUSES) {
    const sum = data.reduce((acc, row) => acc + row.by[s], 0n);
    all += sum;
    foot.append(cell("td", decimal(sum), { "data-status": s, class: "num" }));
  }
  for (const row of data) records += row.records;
  foot.append(cell("td", decimal(all), { "data-total": "", class: "num" }));
  foot.append(cell("td", String(records), { "data-records": "", class: "num" }));
  $("vintage-table").tFoot.replaceChildren(foot);
  $("summary-total").textContent = data.length
    ? `${registry || "All registries"}: ${decimal(all)} credits in ${records} records (leaves), ${data.length} vintage${data.length === 1 ? "" : "s"}.`
    : `${registry || "All registries"}: no records yet.`;
  return { all, records };
}

function renderChart(data, registry) {
  const canvas = $("chart");
  canvas.setAttribute("aria-label", `Stacked bar chart of credits by vintage and status, ${registry || "all registries"}; the numbers are in the table beside it.`);
  if (!window.Chart) {
    status.dataset.state = "error";
    status.textContent = "The chart library did not load (/vendor/chart.umd.min.js); the table has the numbers.";
    return;
  }
  const datasets = STATUSES.map((s) => ({
    label: s,
    data: data.map((row) => Number(decimal(row.by[s]))),
    labels: data.map((row) => (row.by[s] > 0n ? decimal(row.by[s]).replace(/\.0000$/, "") : "")),
    backgroundColor: fill(s),
    borderColor: "#222",
    borderWidth: 1,
  }));
  const labels = data.map((row) => String(row.vintage));
  if (chart) {
    chart.data.labels = labels;
    chart.data.datasets = datasets;
    chart.update();
    return;
  }
  chart = new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets },
    plugins: [directLabels],
    options: {
      animation: false,
      maintainAspectRatio: false,
      responsive: true,
      scales: {
        x: { stacked: true, title: { display: true, text: "Vintage" } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: "Credits (tCO₂e)" } },
      },
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            label: (item) => `${item.dataset.label}: ${decimal(current[item.dataIndex]?.by[item.dataset.label] ?? 0n)}`,
          },
        },
      },
      onClick: (_event, elements) => {
        const [hit] = elements;
        if (!hit) return;
        const row = current[hit.index];
        const s = STATUSES[hit.datasetIndex];
        if (row) showRecordsOf(chosenRegistry(), row.vintage, s);
      },
    },
  });
}

let current = []; // the rows the chart and the table show

function render() {
  if (!summary) return;
  renderRegistries(summary.groups);
  const registry = chosenRegistry();
  current = rows(summary.groups, registry);
  renderTable(current, registry);
  renderChart(current, registry);
}

/** Reads the summary again; redraws (and reloads the records' page) only
 *  when it changed, or always when `force`. */
async function refresh(force = false) {
  try {
    const body = await getJson("/summary?group_by=registry,vintage,status");
    const text = JSON.stringify(body);
    if (text !== summaryText || force) {
      const changed = summaryText !== "" && text !== summaryText;
      summaryText = text;
      summary = body;
      refreshes += 1;
      render();
      if (changed || force) await loadRecords(cursors.at(-1) ?? null);
    }
    if (status.dataset.state !== "ready") {
      status.dataset.state = "ready";
      status.textContent = "Up to date.";
    }
    status.title = `Last read ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    status.dataset.state = "error";
    status.textContent = `Could not read the summary: ${e.message}`;
  }
}

// ---------------------------------------------------------------- records

// Cursors of the pages shown so far: cursors[i] opened page i + 1 (null: the first).
let cursors = [null];
let nextCursor = null;

function filters() {
  const params = new URLSearchParams();
  for (const name of ["registry", "vintage", "status", "holder", "limit"]) {
    const value = $("filters").elements[name].value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

async function loadRecords(cursor) {
  const params = filters();
  if (cursor) params.set("cursor", cursor);
  const table = $("records-table");
  table.setAttribute("aria-busy", "true");
  try {
    const page = await getJson(`/records?${params}`);
    $("records-error").textContent = "";
    table.tBodies[0].replaceChildren(...page.items.map(recordRow));
    if (!page.items.length) {
      table.tBodies[0].append(cell("tr", ""));
      table.tBodies[0].lastChild.append(cell("td", "No records match.", { colspan: "8" }));
    }
    nextCursor = page.next_cursor;
  } catch (e) {
    $("records-error").textContent = e.message;
    nextCursor = null;
  } finally {
    table.removeAttribute("aria-busy");
  }
  $("records-page").textContent = `page ${cursors.length}`;
  $("next-page").disabled = !nextCursor;
  $("prev-page").disabled = cursors.length < 2;
  $("first-page").disabled = cursors.length < 2;
}

function recordRow(r) {
  const tr = document.createElement("tr");
  tr.dataset.id = r.id;
  tr.append(
    cell("td", r.project_name),
    cell("td", r.registry),
    cell("td", String(r.vintage)),
    cell("td", r.quantity, { class: "num", "data-quantity": "" }),
    cell("td", r.status, { "data-status": r.status }),
    cell("td", r.holder ?? "—"),
    cell("td", r.serial_number, { class: "serial" }),
  );
  const id = document.createElement("td");
  const code = cell("code", `${r.id.slice(0, 12)}…`, { title: r.id });
  if (r.status === "RETIRED") {
    const a = cell("a", "", { href: `/certificates/${r.id}` });
    a.append(code);
    id.append(a);
  } else {
    id.append(code);
  }
  tr.append(id);
  return tr;
}

function firstPage() {
  cursors = [null];
  return loadRecords(null);
}

/** Lists the records of one bar segment (the chart's click). */
function showRecordsOf(registry, vintage, s) {
  const form = $("filters");
  form.elements.registry.value = registry;
  form.elements.vintage.value = String(vintage);
  form.elements.status.value = s;
  form.elements.holder.value = "";
  firstPage();
  $("records-heading").scrollIntoView({ block: "start" });
}

// ---------------------------------------------------------------- import

const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** Sends the chosen file to POST /imports and shows the summary it answers. */
async function importFile(event) {
  event.preventDefault();
  const file = $("import-file").files[0];
  if (!file) return;
  const result = $("import-result");
  const rows = $("import-rows");
  const params = new URLSearchParams({ from: $("import-from").value, filename: file.name });
  const dryRun = $("import-dry-run").checked;
  if (dryRun) params.set("dry_run", "true");
  const headers = { "content-type": file.name.toLowerCase().endsWith(".xlsx") ? XLSX_TYPE : "text/csv" };
  const token = $("import-token").value.trim();
  if (token) headers.authorization = `Bearer ${token}`;
  result.dataset.state = "loading";
  result.textContent = `Importing ${file.name}…`;
  rows.hidden = true;
  let body;
  try {
    const response = await fetch(`/imports?${params}`, { method: "POST", headers, body: file });
    body = await response.json();
  } catch (e) {
    result.dataset.state = "error";
    result.textContent = `${file.name} could not be sent: ${e.message}`;
    return;
  }
  if (body.rows === undefined) {
    // A problem (RFC 9457): the file cannot be read, or the token is wrong.
    result.dataset.state = "error";
    result.textContent = `${file.name}: ${body.detail ?? body.title ?? "the import failed"}`;
    return;
  }
  const counts = `${body.rows} rows as ${body.format}${dryRun ? " (dry run, nothing written)" : ""}: ` +
    `${body.created} created, ${body.existing} already there, ${body.retired} retirements applied, ` +
    `${body.skipped.length} skipped, ${body.rejected.length} rejected`;
  const stopped = !body.written && !body.dry_run ? " — nothing was written: fix the rejected rows" : "";
  result.dataset.state = body.rejected.length ? "error" : "ok";
  result.textContent = `${file.name}: ${counts}${stopped}`;
  const listed = [
    ...body.rejected.map((r) => [r.row, r.column ?? "", r.code, r.message]),
    ...body.skipped.map((s) => [s.row, "", "skipped", s.reason]),
  ];
  const tbody = rows.querySelector("tbody");
  tbody.replaceChildren(...listed.map((cells) => {
    const tr = document.createElement("tr");
    for (const [i, text] of cells.entries()) {
      const td = document.createElement("td");
      td.textContent = String(text);
      if (i === 0) td.className = "num";
      tr.append(td);
    }
    return tr;
  }));
  rows.hidden = listed.length === 0;
  if (body.written) {
    await refresh(true);
    await firstPage();
    if ("BroadcastChannel" in window) new BroadcastChannel(CHANNEL).postMessage({ type: "imported" });
  }
}

// ---------------------------------------------------------------- wiring

$("import-form").addEventListener("submit", importFile);
$("chart-registry").addEventListener("change", render);
$("refresh").addEventListener("click", () => refresh(true));
$("filters").addEventListener("submit", (e) => {
  e.preventDefault();
  firstPage();
});
$("clear").addEventListener("click", () => {
  $("filters").reset();
  firstPage();
});
$("next-page").addEventListener("click", () => {
  if (!nextCursor) return;
  cursors.push(nextCursor);
  loadRecords(nextCursor);
});
$("prev-page").addEventListener("click", () => {
  if (cursors.length < 2) return;
  cursors.pop();
  loadRecords(cursors.at(-1));
});
$("first-page").addEventListener("click", firstPage);

if ("BroadcastChannel" in window) {
  new BroadcastChannel(CHANNEL).addEventListener("message", (e) => {
    if (e.data?.type === "imported") refresh(true);
  });
}
// The poll backs off on a large store: it waits at least 20 times as long
// as the last summary took to read (a scan of every record).
let lastReadMs = 0;
async function poll() {
  if (document.visibilityState === "visible") {
    const started = performance.now();
    await refresh();
    lastReadMs = performance.now() - started;
  }
  setTimeout(poll, Math.max(POLL_MS, 20 * lastReadMs));
}
setTimeout(poll, POLL_MS);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refresh();
});

// Test hooks: how many times the view redrew from a new summary.
window.__portfolio = { refreshes: () => refreshes, refresh: () => refresh(true) };

await refresh(true);
