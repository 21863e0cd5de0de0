// The WASM package in the browser, where it is used (issue 17): `recordId`
// and `recordIds` on 1,000 registry-like records (bench_records.mjs, the
// workload of bench.mjs) in headless Chromium, against the same pure-JavaScript
// canonical line (purejs_canonical.mjs) hashed with hash-wasm, @noble/hashes
// and WebCrypto (a Promise.all batch): browser_bench_ids.mjs, which checks
// first that every side gives the package's ids and throws if one does not.
//
//   node tests/node/browser-bench.mjs [--pkg bindings-wasm/pkg-web] [--runs 5]
//        [--rounds 20] [--passes 10] [--no-node] [--no-isolation]
//
// A benchmark, not a test (tests/run does not run it). A small HTTP server on
// 127.0.0.1 serves a page with an import map, the pkg-web build (the `web`
// target, `init()` fetching the .wasm as a page would) and the two hash
// packages from tests/node/node_modules; the page is cross-origin isolated
// (COOP/COEP headers) so that performance.now() is fine-grained. Chromium is
// Debian's /usr/bin/chromium (CHROMIUM overrides) driven by playwright-core,
// launched as page.test.mjs does. Each of the --runs is a fresh page load
// measuring every side; then (unless --no-node) the same module runs in this
// Node process on the same .wasm (pkg-web's initSync), for the figures beside
// Chromium's. Exit code 3 when a target is missed in Chromium (`recordId` ≥ 2×
// and `recordIds` ≥ 4× the fastest alternative, on the median of the runs).

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CHROMIUM, ROOT, launchChromium } from "./harness.mjs";
import { registryRecords } from "./bench_records.mjs";
import { runIdBench } from "./browser_bench_ids.mjs";

const HERE = fileURLToPath(new URL("./", import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const PKG = join(ROOT, option("--pkg", "bindings-wasm/pkg-web"));
const RUNS = Number(option("--runs", "5"));
const ROUNDS = Number(option("--rounds", "20"));
const PASSES = Number(option("--passes", "10"));
const NODE = !args.includes("--no-node");
// Without COOP/COEP the page is not cross-origin isolated and performance.now()
// is coarser (100 µs in Chromium): samples are milliseconds long either way.
const ISOLATED = !args.includes("--no-isolation");
const TARGET = { recordId: 2, recordIds: 4 };

const records = registryRecords(JSON.parse(readFileSync(join(ROOT, "..", "shared", "seed", "sample-registry.json"), "utf8")));

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>carbon-tracker ids in the browser</title>
<link rel="icon" href="data:,">
<script type="importmap">
{ "imports": {
    "carbon-tracker": "/pkg/carbon_tracker.js",
    "hash-wasm": "/node_modules/hash-wasm/dist/index.esm.js",
    "@noble/hashes/": "/node_modules/@noble/hashes/"
} }
</script>
<script type="module">
  import init, * as ct from "carbon-tracker";
  import { runIdBench } from "/bench/browser_bench_ids.mjs";
  await init();
  window.__bench = (records, options) => runIdBench(ct, records, options);
  window.__ready = true;
</script>
<p>carbon-tracker: recordId and recordIds against pure JavaScript (browser-bench.mjs)</p>
`;

const TYPES = {
  ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
  ".json": "application/json", ".html": "text/html; charset=utf-8",
};
/** URL prefixes and the folders they serve; nothing outside them. */
const MOUNTS = [
  ["/pkg/", PKG],
  ["/node_modules/hash-wasm/", join(HERE, "node_modules", "hash-wasm")],
  ["/node_modules/@noble/hashes/", join(HERE, "node_modules", "@noble", "hashes")],
  ["/bench/", HERE],
];
const BENCH_FILES = new Set(["browser_bench_ids.mjs", "purejs_canonical.mjs"]);

function serve() {
  const server = createServer(async (req, res) => {
    const headers = ISOLATED
      ? {
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "no-store",
      }
      : { "Cache-Control": "no-store" };
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path === "/") {
      res.writeHead(200, { ...headers, "Content-Type": TYPES[".html"] });
      res.end(PAGE);
      return;
    }
    for (const [prefix, dir] of MOUNTS) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      const file = normalize(join(dir, rest));
      if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) break;
      if (prefix === "/bench/" && !BENCH_FILES.has(rest)) break;
      try {
        const body = await readFile(file);
        res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
        res.end(body);
      } catch {
        break;
      }
      return;
    }
    res.writeHead(404, headers);
    res.end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const fmt = (x, digits = 0) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A markdown table of one or more runs: per side the median over runs of each run's medians. */
function table(label, results) {
  const n = results.length;
  console.log(`\n${label}: ${results[0].records} registry records, ${n} run${n > 1 ? "s" : ""} of `
    + `${results[0].rounds} rounds × ${results[0].passes} passes; medians (of the runs' medians)`);
  console.log("| | ns/id | ids/s | its time ÷ recordId's | its time ÷ recordIds' |");
  console.log("|---|---:|---:|---:|---:|");
  const summary = {};
  for (const side of results[0].sides) {
    const per = results.map((r) => r.sides.find((s) => s.key === side.key));
    const ns = median(per.map((s) => s.ns));
    const a = median(per.map((s) => s.overRecordId));
    const b = median(per.map((s) => s.overRecordIds));
    summary[side.key] = { ns, a, b, kind: side.kind };
    const ratios = side.kind === "wasm" ? ["", ""] : [`${fmt(a, 2)}×`, `${fmt(b, 2)}×`];
    console.log(`| ${side.name} | ${fmt(ns)} | ${fmt(1e9 / ns)} | ${ratios[0]} | ${ratios[1]} |`);
  }
  if (n > 1) {
    console.log("per run, the fastest alternative's paired ratios (recordId; recordIds): "
      + results.map((r) => `${r.fastest} ${fmt(r.recordIdRatio, 2)}×; ${fmt(r.recordIdsRatio, 2)}×`).join(" | "));
  }
  const alternatives = Object.entries(summary).filter(([, s]) => s.kind === "alternative");
  const [fastest, f] = alternatives.reduce((x, y) => (y[1].ns < x[1].ns ? y : x));
  console.log(`fastest alternative: ${fastest}; recordId ${fmt(f.a, 2)}× (target ≥ ${TARGET.recordId}), `
    + `recordIds ${fmt(f.b, 2)}× (target ≥ ${TARGET.recordIds})`);
  return { fastest, recordId: f.a, recordIds: f.b };
}

const server = await serve();
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await launchChromium();
let chromiumResult;
try {
  const results = [];
  let env;
  for (let run = 0; run < RUNS; run++) {
    const page = await browser.newPage();
    page.on("console", (m) => console.log(`  [page console.${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => console.error(`  [page exception] ${e.message}`));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.__ready === true, null, { timeout: 60_000 });
    env ??= await page.evaluate(() => ({ ua: navigator.userAgent, isolated: globalThis.crossOriginIsolated }));
    const result = await page.evaluate(
      ([rs, options]) => window.__bench(rs, options),
      [records, { rounds: ROUNDS, passes: PASSES }],
    );
    results.push(result);
    await page.close();
    console.log(`run ${run + 1}/${RUNS} in Chromium: ${result.checked} sides give the package's ids on all `
      + `${result.records} records; fastest alternative ${result.fastest}, recordId ${fmt(result.recordIdRatio, 2)}×, `
      + `recordIds ${fmt(result.recordIdsRatio, 2)}×`);
  }
  console.log(`\nChromium ${browser.version()} (headless, ${CHROMIUM}), crossOriginIsolated ${env.isolated}; `
    + `${join(PKG, "carbon_tracker_bg.wasm")}`);
  chromiumResult = table("Chromium", results);
} finally {
  await browser.close();
  server.close();
}

if (NODE) {
  const ct = await import(pathToFileURL(join(PKG, "carbon_tracker.js")).href);
  ct.initSync({ module: readFileSync(join(PKG, "carbon_tracker_bg.wasm")) });
  const results = [];
  for (let run = 0; run < RUNS; run++) {
    results.push(await runIdBench(ct, records, { rounds: ROUNDS, passes: PASSES }));
  }
  console.log(`\nNode ${process.version}, the same module and .wasm (initSync)`);
  table("Node", results);
}

const met = chromiumResult.recordId >= TARGET.recordId && chromiumResult.recordIds >= TARGET.recordIds;
console.log(`\nChromium targets ${met ? "met" : "NOT met"}: recordId ${fmt(chromiumResult.recordId, 2)}× `
  + `and recordIds ${fmt(chromiumResult.recordIds, 2)}× the fastest alternative (${chromiumResult.fastest})`);
process.exitCode = met ? 0 : 3;
