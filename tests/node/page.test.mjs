// End to end, as a person would use it: the server's page at `/` in headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core). A record
// with Unicode edge cases is typed into the form; the id the page computes in
// the browser (WASM, no request) must be the one the pure-Python reference
// computes (tests/reference/ids_v1.py, the oracle of the vectors); then the
// record is registered and the page must report that the server's id matches.
//
// A 187-credit Verra block (SPEC §6) is registered the same way and retired
// in part: the ids of the two children the page derives in the browser
// before sending must be the ones the pure-Python reference derives
// (tests/reference/splits_v1.py), the page must report that the server's
// children are the same, and its lineage tree must show them.
//
// The server is the debug binary tests/run builds (CARBON_TRACKER_SERVER
// overrides), on a throwaway SQLite database and a free port. Screenshots
// are saved in tests/output/ (page.png; page-block-preview.png before the
// partial retirement is sent, page-block-split.png after).

import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = process.env.CARBON_TRACKER_SERVER
  ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "debug", "carbon-tracker-server");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const OUTPUT = join(ROOT, "tests", "output");

// Full-width letters, a ligature, a Kelvin sign, a final sigma, an İ, and
// whitespace Python strips (a no-break space, U+001F) around the fields.
const RECORD = {
  project_name: "\u00a0 ＳＯＬＡＲ ﬁeld ΟΔΟΣ İstanbul \u001f",
  registry: " Ｖerra\u3000",
  vintage: "2023",
  quantity: "1234.567891",
  serial_number: "VCS-\u212a-0001 ",
};

/** The id from the pure-Python reference, never from the code under test. */
function referenceId(record) {
  const script = [
    "import json, sys",
    "sys.path.insert(0, sys.argv[1])",
    "import ids_v1",
    "print(ids_v1.record_id(ids_v1.parse_body(sys.stdin.read())))",
  ].join("\n");
  return execFileSync("python3", ["-c", script, join(ROOT, "tests", "reference")], {
    input: JSON.stringify(record),
    encoding: "utf8",
  }).trim();
}

// The block of SPEC §6: credits 941382555 to 941382741.
const BLOCK = {
  project_name: "Mangrove Blue Carbon",
  registry: "Verra",
  vintage: "2022",
  quantity: "187",
  serial_number: "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
};

/** The block's id and the ids of the two children retiring `quantity` of it
 *  makes, from the pure-Python references (ids_v1, lifecycle_v1, splits_v1). */
function referenceSplit(record, quantity) {
  const script = [
    "import json, sys",
    "sys.path.insert(0, sys.argv[1])",
    "import ids_v1, lifecycle_v1, splits_v1",
    "args = json.loads(sys.stdin.read())",
    "record = ids_v1.canonicalize(args['record'])",
    "rid = ids_v1.record_id(args['record'])",
    "created = {'id': '00000000-0000-7000-8000-000000000001', 'record_id': rid, 'seq': 1,",
    "           'event_type': 'CREATED', 'payload': None, 'created_at': '2026-01-01T00:00:00Z'}",
    "state = lifecycle_v1.replay([created])",
    "split = splits_v1.act(record, state, 'RETIRED', {'quantity': args['quantity']}, '2026-01-01T00:00:01Z')['split']",
    "print(json.dumps({'id': rid, 'front': split['front']['id'], 'back': split['back']['id'],",
    "                  'front_serial': split['front']['record']['serial_number'],",
    "                  'back_serial': split['back']['record']['serial_number']}))",
  ].join("\n");
  return JSON.parse(execFileSync("python3", ["-c", script, join(ROOT, "tests", "reference")], {
    input: JSON.stringify({ record, quantity }),
    encoding: "utf8",
  }));
}

let server;
let workdir;
let browser;
let base;

before(async () => {
  workdir = mkdtempSync(join(tmpdir(), "carbon-page-"));
  // An open server: no API_TOKEN at all (an empty one is refused at start).
  const { API_TOKEN: _unused, ...env } = process.env;
  server = spawn(SERVER, ["--port", "0", "--database-url", "sqlite://page.db"], {
    cwd: workdir,
    env: { ...env, RUST_LOG: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  base = await new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log}`)), 30_000);
    const read = (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    server.stdout.on("data", read);
    server.stderr.on("data", read);
    server.on("exit", (code) => reject(new Error(`the server exited (${code}):\n${log}`)));
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

test("the page computes the reference id in the browser and the server agrees", async () => {
  const expected = referenceId(RECORD);
  assert.match(expected, /^[0-9a-f]{64}$/);

  const page = await browser.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));

  await page.goto(`${base}/`);
  await page.locator('#status[data-state="ready"]').waitFor({ timeout: 30_000 });

  // Typed key by key into the labelled fields, as a person would.
  for (const [field, value] of Object.entries(RECORD)) {
    const input = page.getByLabel(
      { project_name: "Project name", registry: "Registry", vintage: "Vintage (year)",
        quantity: "Quantity (tonnes CO₂e)", serial_number: "Serial number" }[field],
      { exact: true },
    );
    await input.pressSequentially(value);
  }
  await assert.doesNotReject(page.locator("#local-id").filter({ hasText: /^[0-9a-f]{64}$/ }).waitFor());
  assert.equal(await page.locator("#local-id").textContent(), expected);
  assert.equal(await page.locator("#canonical-quantity").textContent(), "1234.5678");
  assert.equal(await page.locator("#canonical-serial_number").textContent(), "vcs-k-0001");
  // Computing the id sent nothing to the server.
  assert.deepEqual(requests.filter((r) => !r.startsWith("GET ")), []);

  await page.getByRole("button", { name: "Register on the server" }).click();
  const result = page.locator("#register-result[data-match]");
  await result.waitFor({ timeout: 30_000 });
  assert.equal(await result.getAttribute("data-match"), "true", await result.textContent());
  assert.match(await result.textContent(), /^Registered: the server's id matches/);
  assert.ok(requests.includes("POST /records"), requests.join(", "));

  // The lookup that follows shows the record's status and its history.
  await page.locator("#lookup-status").waitFor();
  assert.equal(await page.locator("#lookup-status").textContent(), "Status: ACTIVE");
  assert.equal(await page.locator("#lookup-result tbody tr").count(), 1);
  assert.match(await page.locator("#lookup-result").textContent(), /Replayed in the browser: ACTIVE/);

  // An invalid field is reported by the page, with the core's message.
  await page.getByLabel("Vintage (year)", { exact: true }).fill("1850");
  await page.locator("#vintage-error").filter({ hasText: "vintage must be a year from 1900 to 2100" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Register on the server" }).isDisabled(), true);
  await page.getByLabel("Vintage (year)", { exact: true }).fill("2023");
  await page.locator("#local-id").filter({ hasText: expected }).waitFor();

  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, "page.png"), fullPage: true });
  assert.deepEqual(problems, []);
});

test("looking up an unknown id says so", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.locator('#status[data-state="ready"]').waitFor({ timeout: 30_000 });
  await page.getByLabel("Record id", { exact: true }).fill("0".repeat(64));
  await page.getByRole("button", { name: "Look up" }).click();
  await page.locator("#lookup-result").filter({ hasText: "No record has this id." }).waitFor();
});

test("a partial retirement: the page derives both children before sending, and the server agrees", async () => {
  const expected = referenceSplit(BLOCK, 37);
  for (const id of [expected.id, expected.front, expected.back]) {
    assert.match(id, /^[0-9a-f]{64}$/);
  }

  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests = [];
  page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(`${base}/`);
  await page.locator('#status[data-state="ready"]').waitFor({ timeout: 30_000 });

  // Registered with the form; the page then opens the record.
  const labels = { project_name: "Project name", registry: "Registry", vintage: "Vintage (year)",
    quantity: "Quantity (tonnes CO₂e)", serial_number: "Serial number" };
  for (const [field, value] of Object.entries(BLOCK)) {
    await page.getByLabel(labels[field], { exact: true }).fill(value);
  }
  await page.locator("#local-id").filter({ hasText: expected.id }).waitFor();
  await page.getByRole("button", { name: "Register on the server" }).click();
  const registered = page.locator("#register-result[data-match]");
  await registered.waitFor({ timeout: 30_000 });
  assert.equal(await registered.getAttribute("data-match"), "true", await registered.textContent());
  await page.locator("#lookup-status").filter({ hasText: "Status: ACTIVE" }).waitFor();

  // The record's view: its range, its holder, its (one-node) lineage tree.
  assert.equal(await page.locator("#lookup-block").textContent(),
    "Block: verra 941382555–941382741 (187 credits)");
  assert.match(await page.locator("#lookup-holder").textContent(), /^Holder: the registrant/);
  const node = (id) => page.locator(`#lineage li[data-id="${id}"]`);
  assert.equal(await node(expected.id).getAttribute("data-status"), "ACTIVE");

  // 37 credits: both children's ids are shown before anything is sent.
  await page.getByLabel("Credits to retire", { exact: true }).fill("37");
  await page.locator("#retire-front-id").waitFor();
  assert.equal(await page.locator("#retire-front-id").textContent(), expected.front);
  assert.equal(await page.locator("#retire-back-id").textContent(), expected.back);
  const preview = await page.locator("#retire-preview").textContent();
  assert.ok(preview.includes(`37.0000 credits, ${expected.front_serial}`), preview);
  assert.ok(preview.includes(`150.0000 credits, ${expected.back_serial}`), preview);
  assert.ok(!requests.some((r) => r.endsWith("/retire")), requests.join(", "));
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, "page-block-preview.png"), fullPage: true });

  await page.getByRole("button", { name: "Retire on the server" }).click();
  const result = page.locator("#retire-result[data-match]");
  await result.waitFor({ timeout: 30_000 });
  assert.equal(await result.getAttribute("data-match"), "true", await result.textContent());
  assert.match(await result.textContent(), /the server agrees/);
  assert.ok(requests.includes(`POST /records/${expected.id}/retire`), requests.join(", "));

  // The tree now: the SPLIT parent, the RETIRED front child of 37, the ACTIVE back child of 150.
  await page.locator("#lookup-status").filter({ hasText: "Status: SPLIT" }).waitFor();
  const shown = async (id) => [await node(id).getAttribute("data-status"), await node(id).getAttribute("data-quantity")];
  assert.deepEqual(await shown(expected.id), ["SPLIT", "187.0000"]);
  assert.deepEqual(await shown(expected.front), ["RETIRED", "37.0000"]);
  assert.deepEqual(await shown(expected.back), ["ACTIVE", "150.0000"]);
  assert.equal(await page.locator(`#lineage li[data-id="${expected.id}"] > ul > li`).count(), 2);
  assert.match(await page.locator("#lineage-totals").textContent(), /ACTIVE 150\.0000/);
  assert.match(await page.locator("#lineage-totals").textContent(), /RETIRED 37\.0000/);
  await page.screenshot({ path: join(OUTPUT, "page-block-split.png"), fullPage: true });

  // Clicking a node opens it: the remainder, with its own range.
  await node(expected.back).locator("> button").click();
  await page.locator("#lookup-status").filter({ hasText: "Status: ACTIVE" }).waitFor();
  assert.equal(await page.locator("#lookup-id").inputValue(), expected.back);
  assert.equal(await page.locator("#lookup-block").textContent(),
    "Block: verra 941382592–941382741 (150 credits)");
  assert.equal(await node(expected.back).getAttribute("aria-current"), null);
  assert.equal(await node(expected.back).locator("> button").getAttribute("aria-current"), "true");
  // On the remainder: all of it makes no split; more than it holds is refused before sending.
  const quantity = page.getByLabel("Credits to retire", { exact: true });
  await quantity.fill("150");
  await page.locator("#retire-preview").filter({ hasText: "no split" }).waitFor();
  await quantity.fill("151");
  await page.locator("#retire-error").filter({ hasText: /150/ }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Retire on the server" }).isDisabled(), true);
  assert.equal(requests.filter((r) => r.endsWith("/retire")).length, 1, requests.join(", "));
  assert.deepEqual(problems, []);
});
