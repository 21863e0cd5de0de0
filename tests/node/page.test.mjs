// End to end, as a person would use it: the server's page at `/` in headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core). A record
// with Unicode edge cases is typed into the form; the id the page computes in
// the browser (WASM, no request) must be the one the pure-Python reference
// computes (tests/reference/ids_v1.py, the oracle of the vectors); then the
// record is registered and the page must report that the server's id matches.
//
// The server is the debug binary tests/run builds (CARBON_TRACKER_SERVER
// overrides), on a throwaway SQLite database and a free port. A screenshot
// is saved in tests/output/page.png.

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
