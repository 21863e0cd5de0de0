// End to end: the portfolio view (/portfolio) in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) against the server's
// GET /summary and GET /records.
//
// A small Verra portfolio is loaded first through POST /imports?from=verra
// (a Verra-shaped VCU export, one row per block, retired rows with a
// Retirement/Cancellation Date): per vintage and status, the sums written
// below (EXPECTED), which the view's table beside the chart must show exactly.
// Then a partial sale and a partial cancellation through the API: the open
// view must refresh by itself and show the new sums; the records table is
// filtered and paged, and its pages add up to the vintage's total. A
// screenshot: tests/output/summary-chart.png. Last, a fixture is imported
// through the view's form (a dry run, then the import, then a broken file).
//
// The server is the debug binary tests/run builds (CARBON_TRACKER_SERVER
// overrides), on a throwaway SQLite database and a free port.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROOT, launchChromium, startServer as start } from "./harness.mjs";

const OUTPUT = join(ROOT, "tests", "output");

// Three Verra blocks, each as the registry's export lists it once partly
// retired: the retired front part(s), then the held remainder (SPEC §6:
// the acted-on part is the front of the range).
const serial = (issuance, start, end, tail) => `${issuance}-${start}-${end}-VCS-VCU-${tail}`;
const T2021 = "262-VER-BR-14-1234-01012021-31122021-0";
const T2022 = "1310-VER-CN-13-3005-01012022-31102022-0";
const T2023 = "997-VER-IN-1-1500-01012023-31122023-0";
const BLOCKS = [
  // project, vintage end, the whole block, then the parts retired from its front
  { project: "Amazon Forest Guard", end: "2021-12-31", issuance: 12001, start: 100000001, count: 1250, tail: T2021, retired: [250] },
  { project: "Mangrove Blue Carbon", end: "2022-10-31", issuance: 19380, start: 941382555, count: 187, tail: T2022, retired: [50] },
  { project: "Rajasthan Solar", end: "2023-12-31", issuance: 7777, start: 200000001, count: 5000, tail: T2023, retired: [1200, 300] },
];

/** The export's rows: each retired part, then the held remainder. */
function verraCsv() {
  const header = ["Issuance Date", "Sustainable Development Goals", "Vintage Start", "Vintage End", "ID", "Name",
    "Country/Area", "Project Type", "Methodology", "Total Vintage Quantity", "Quantity Issued", "Serial Number",
    "Additional Certifications", "Retirement/Cancellation Date", "Retirement Beneficiary", "Retirement Reason",
    "Retirement Details"];
  const rows = [header];
  for (const b of BLOCKS) {
    let start = b.start;
    const row = (quantity, retired) => {
      const end = start + quantity - 1;
      rows.push(["2024-03-01", "", `${b.end.slice(0, 4)}-01-01`, b.end, String(b.issuance), b.project, "Brazil",
        "Agriculture Forestry and Other Land Use", "VM0015", b.count.toLocaleString("en-US"), String(quantity),
        serial(b.issuance, start, end, b.tail), "", retired ? "2024-05-02" : "", retired ? "Acme Corp" : "",
        retired ? "Environmental Benefit" : "", ""]);
      start = end + 1;
    };
    for (const q of b.retired) row(q, true);
    row(b.count - b.retired.reduce((a, q) => a + q, 0), false);
  }
  return rows.map((r) => r.map((c) => (/[",]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c)).join(",")).join("\r\n") + "\r\n";
}

// What the table must show once loaded, per vintage: credits per status
// (written out by hand from BLOCKS), the total and the number of leaves.
const EXPECTED = {
  2021: { ACTIVE: "1000.0000", SOLD: "0.0000", RETIRED: "250.0000", CANCELLED: "0.0000", total: "1250.0000", records: "2" },
  2022: { ACTIVE: "137.0000", SOLD: "0.0000", RETIRED: "50.0000", CANCELLED: "0.0000", total: "187.0000", records: "2" },
  2023: { ACTIVE: "3500.0000", SOLD: "0.0000", RETIRED: "1500.0000", CANCELLED: "0.0000", total: "5000.0000", records: "3" },
  total: { ACTIVE: "4637.0000", SOLD: "0.0000", RETIRED: "1800.0000", CANCELLED: "0.0000", total: "6437.0000", records: "7" },
};
// After selling 500 of the 2023 remainder to Beta Ltd and cancelling 100 of
// what is left.
const AFTER = {
  ...EXPECTED,
  2023: { ACTIVE: "2900.0000", SOLD: "500.0000", RETIRED: "1500.0000", CANCELLED: "100.0000", total: "5000.0000", records: "5" },
  total: { ACTIVE: "4037.0000", SOLD: "500.0000", RETIRED: "1800.0000", CANCELLED: "100.0000", total: "6437.0000", records: "9" },
};

let server;
let workdir;
let browser;
let base;

async function api(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Loads BLOCKS through `POST /imports`, as a user imports a registry's export. */
async function seed() {
  const response = await fetch(`${base}/imports?from=verra`, {
    method: "POST",
    headers: { "content-type": "text/csv" },
    body: verraCsv(),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const summary = JSON.parse(text);
  assert.equal(summary.format, "verra");
  assert.deepEqual(summary.rejected, []);
}

/** Starts a server on a SQLite file of its own in the work folder. */
const startServer = (database) => start(workdir, database);

before(async () => {
  workdir = mkdtempSync(join(tmpdir(), "carbon-summary-"));
  [server, base] = await startServer("summary.db");
  browser = await launchChromium();
  await seed();
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

/** The table beside the chart: per vintage (and "total"), its cells. */
async function vintageTable(page) {
  return page.locator("#vintage-table tr[data-vintage]").evaluateAll((rows) => Object.fromEntries(rows.map((tr) => {
    const cells = {};
    for (const td of tr.querySelectorAll("td[data-status]")) cells[td.dataset.status] = td.textContent;
    cells.total = tr.querySelector("td[data-total]").textContent;
    cells.records = tr.querySelector("td[data-records]").textContent;
    return [tr.dataset.vintage, cells];
  })));
}

/** Waits until the table shows `expected` (the view refreshes by itself). */
async function waitForTable(page, expected, timeout = 20_000) {
  const until = Date.now() + timeout;
  let shown;
  for (;;) {
    shown = await vintageTable(page);
    try {
      assert.deepEqual(shown, expected);
      return;
    } catch (e) {
      if (Date.now() > until) throw e;
    }
    await page.waitForTimeout(250);
  }
}

test("the portfolio view charts the summary, its table adds up, and it refreshes after changes", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));

  // Reached from the main page's navigation.
  await page.goto(`${base}/`);
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Portfolio" }).click();
  await page.waitForURL(`${base}/portfolio`);
  await page.locator('#status[data-state="ready"]').waitFor({ timeout: 30_000 });
  // The chart library is this server's, and it drew the chart.
  assert.equal(await page.evaluate(() => typeof window.Chart), "function");
  await page.waitForFunction(() => window.Chart.getChart(document.getElementById("chart"))?.data.labels.length === 3);

  await waitForTable(page, EXPECTED);
  assert.match(await page.locator("#summary-total").textContent(), /6437\.0000 credits in 7 records/);

  // One registry: the one in the selector (all the blocks are Verra's).
  const registries = await page.locator("#chart-registry option").evaluateAll((os) => os.map((o) => o.value));
  assert.equal(registries.length, 2, registries.join(", "));
  await page.getByLabel("Registry", { exact: true }).first().selectOption(registries[1]);
  assert.equal(await page.locator("#vintage-table-registry").textContent(), registries[1]);
  await waitForTable(page, EXPECTED);

  // A sale of 500 credits of the 2023 remainder and a cancellation of 100
  // of what is left, through the API, while the view is open.
  const remainder = async () => {
    const { items } = await api("GET", "/records?vintage=2023&status=ACTIVE");
    assert.equal(items.length, 1, JSON.stringify(items.map((i) => i.serial_number)));
    return items[0];
  };
  const sold = await api("POST", `/records/${(await remainder()).id}/sell`, { quantity: 500, buyer: "Beta Ltd" });
  assert.ok(sold.split, "the sale split the remainder");
  // What an import in another tab posts; the poll would find it too.
  await page.evaluate(() => new BroadcastChannel("carbon-tracker").postMessage({ type: "imported" }));
  await api("POST", `/records/${(await remainder()).id}/cancel`, { quantity: 100 });
  await waitForTable(page, AFTER);
  assert.match(await page.locator("#summary-total").textContent(), /6437\.0000 credits in 9 records/);

  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, "summary-chart.png"), fullPage: true });

  // The records: 2023's, five a page; the pages' leaves add up to the
  // vintage's total, with no record twice.
  await page.getByLabel("Vintage", { exact: true }).fill("2023");
  await page.getByLabel("Per page", { exact: true }).selectOption("5");
  await page.getByRole("button", { name: "Show" }).click();
  await page.locator("#records-page").filter({ hasText: "page 1" }).waitFor();
  const seen = new Map();
  for (let n = 1; ; n += 1) {
    await page.locator("#records-table:not([aria-busy])").waitFor();
    await page.locator("#records-page").filter({ hasText: `page ${n}` }).waitFor();
    const rows = await page.locator("#records-table tbody tr[data-id]").evaluateAll((trs) => trs.map((tr) => ({
      id: tr.dataset.id,
      vintage: tr.children[2].textContent,
      quantity: tr.querySelector("[data-quantity]").textContent,
      status: tr.querySelector("td[data-status]").dataset.status,
    })));
    assert.ok(rows.length > 0 && rows.length <= 5, `page ${n}: ${rows.length} rows`);
    for (const r of rows) {
      assert.equal(r.vintage, "2023");
      assert.ok(!seen.has(r.id), `${r.id} twice`);
      seen.set(r.id, r);
    }
    if (await page.locator("#next-page").isDisabled()) break;
    await page.getByRole("button", { name: "Next" }).click();
  }
  const leaves = [...seen.values()].filter((r) => r.status !== "SPLIT");
  const total = leaves.reduce((sum, r) => sum + BigInt(r.quantity.replace(".", "")), 0n);
  assert.equal(total, 50000000n, "the 2023 leaves add up to 5000.0000");
  assert.equal(leaves.length, 5);
  // Each row of the export is a block of its own; the partial sale and
  // cancellation above split two of them, which are listed too.
  assert.equal(seen.size - leaves.length, 2);
  await page.getByRole("button", { name: "Previous" }).click();
  await page.locator("#records-page").filter({ hasText: "page 1" }).waitFor();

  // A segment of the chart lists its records: the status filter, by hand.
  await page.getByLabel("Status", { exact: true }).selectOption("RETIRED");
  await page.getByLabel("Vintage", { exact: true }).fill("");
  await page.getByRole("button", { name: "Show" }).click();
  await page.locator("#records-table:not([aria-busy])").waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll("#records-table tbody tr[data-id] td[data-status]")]
    .every((td) => td.dataset.status === "RETIRED"));
  const retired = await page.locator("#records-table tbody tr[data-id] [data-quantity]").allTextContents();
  assert.deepEqual(retired.map((q) => BigInt(q.replace(".", ""))).reduce((a, b) => a + b, 0n), 18000000n);
  // A retired record links to its certificate.
  assert.equal(await page.locator("#records-table tbody tr[data-id] a[href^='/certificates/']").count(), retired.length);

  // A holder filter: Beta Ltd holds the 500 credits sold.
  await page.getByRole("button", { name: "Clear" }).click();
  await page.getByLabel("Holder", { exact: true }).fill("Beta Ltd");
  await page.getByRole("button", { name: "Show" }).click();
  await page.locator("#records-table tbody tr[data-id]").first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#records-table tbody tr[data-id]").length === 1);
  assert.equal(await page.locator("#records-table tbody tr[data-id] [data-quantity]").textContent(), "500.0000");

  // A click on a bar segment lists its records: 2023's ACTIVE remainder.
  await page.locator("#chart").scrollIntoViewIfNeeded();
  const point = await page.evaluate(() => {
    const chart = window.Chart.getChart(document.getElementById("chart"));
    const bar = chart.getDatasetMeta(0).data[2];
    const box = chart.canvas.getBoundingClientRect();
    return { x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2 };
  });
  await page.mouse.click(point.x, point.y);
  await page.waitForFunction(() => document.getElementById("f-status").value === "ACTIVE");
  assert.equal(await page.getByLabel("Vintage", { exact: true }).inputValue(), "2023");
  assert.equal(await page.locator("#f-registry").inputValue(), registries[1]);
  await page.waitForFunction(() => document.querySelectorAll("#records-table tbody tr[data-id]").length === 1
    && document.querySelector("#records-table tbody tr[data-id] td[data-status]").dataset.status === "ACTIVE");
  assert.equal(await page.locator("#records-table tbody tr[data-id] [data-quantity]").textContent(), "2900.0000");

  assert.deepEqual(problems, []);
});

test("the view is served from this server only, under the page's script policy", async () => {
  for (const path of ["/portfolio", "/portfolio.js", "/portfolio.css", "/vendor/chart.umd.min.js"]) {
    const response = await fetch(`${base}${path}`);
    assert.equal(response.status, 200, path);
  }
  const page = await fetch(`${base}/portfolio`);
  assert.match(page.headers.get("content-security-policy"), /script-src 'self' 'wasm-unsafe-eval';/);
  const chart = await (await fetch(`${base}/vendor/chart.umd.min.js`)).text();
  assert.match(chart, /^\/\*!\n \* Chart\.js v4\.6\.1\n/);
});

test("a registry's export imported from the view: a dry run writes nothing, then the import adds its blocks", async (t) => {
  // A server of its own: the fixture's blocks are not those of the view's.
  const [own, base] = await startServer("import.db");
  t.after(() => own.kill("SIGTERM"));
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${base}/portfolio`);
  await page.locator("#status[data-state=ready]").waitFor();
  const before = await (await fetch(`${base}/summary?group_by=status`)).json();
  const units = (q) => BigInt(q.replace(".", ""));
  const of = (summary, status) => units(summary.groups.find((g) => g.status === status)?.quantity ?? "0.0000");
  // The fixture tests/fixtures/registries/verra.csv: 425 and 500 credits
  // held, 187 and 1,250 retired, and an empty row (by hand, from the file).
  const fixture = join(ROOT, "tests", "fixtures", "registries", "verra.csv");

  await page.setInputFiles("#import-file", fixture);
  await page.getByLabel("Format").selectOption("verra");
  await page.getByLabel("Dry run: check, write nothing").check();
  await page.getByRole("button", { name: "Import" }).click();
  await page.locator("#import-result[data-state=ok]").waitFor();
  assert.equal(await page.locator("#import-result").textContent(),
    "verra.csv: 5 rows as verra (dry run, nothing written): 4 created, 0 already there, 2 retirements applied, 1 skipped, 0 rejected");
  assert.deepEqual(await page.locator("#import-rows tbody tr").allTextContents(), ["5skippedempty row"]);
  const unchanged = await (await fetch(`${base}/summary?group_by=status`)).json();
  assert.equal(unchanged.total.quantity, before.total.quantity);

  const refreshes = await page.evaluate(() => window.__portfolio.refreshes());
  await page.getByLabel("Dry run: check, write nothing").uncheck();
  await page.getByRole("button", { name: "Import" }).click();
  await page.waitForFunction((n) => window.__portfolio.refreshes() > n, refreshes);
  assert.equal(await page.locator("#import-result").textContent(),
    "verra.csv: 5 rows as verra: 4 created, 0 already there, 2 retirements applied, 1 skipped, 0 rejected");
  const after = await (await fetch(`${base}/summary?group_by=status`)).json();
  assert.equal(units(after.total.quantity) - units(before.total.quantity), 23620000n);
  assert.equal(of(after, "RETIRED") - of(before, "RETIRED"), 14370000n);
  assert.equal(of(after, "ACTIVE") - of(before, "ACTIVE"), 9250000n);
  // The view's table shows the new grand total.
  await page.waitForFunction((q) => document.querySelector("#vintage-table tfoot")?.textContent.includes(q),
    after.total.quantity);
  await page.screenshot({ path: join(OUTPUT, "summary-import.png"), fullPage: true });

  // A broken file: the rejected row is listed, nothing is written.
  await page.setInputFiles("#import-file", join(ROOT, "tests", "fixtures", "registries", "broken", "verra-serial-mismatch.csv"));
  await page.getByRole("button", { name: "Import" }).click();
  await page.locator("#import-result[data-state=error]").waitFor();
  assert.match(await page.locator("#import-result").textContent(), /1 rejected — nothing was written/);
  assert.match((await page.locator("#import-rows tbody tr").allTextContents()).join("\n"), /^3Serial Numberserial_mismatch/);
  const still = await (await fetch(`${base}/summary?group_by=status`)).json();
  assert.equal(still.total.quantity, after.total.quantity);
  // The broken file's 422 is the browser's one console line; nothing else.
  assert.deepEqual(problems.filter((p) => !p.includes("status of 422")), []);
});
