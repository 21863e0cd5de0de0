// What the browser tests and the browser benchmark share: the server binary
// started on a throwaway SQLite file, and headless Chromium launched as a
// root container allows (Debian's /usr/bin/chromium, driven by
// playwright-core).

import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The debug binary tests/run builds; CARBON_TRACKER_SERVER overrides. */
export const SERVER = process.env.CARBON_TRACKER_SERVER
  ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "debug", "carbon-tracker-server");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * Starts an open server (no API_TOKEN: an empty one is refused at start) on
 * the SQLite file `database` in `workdir`, on a free port; resolves to its
 * process and base URL once it listens.
 */
export async function startServer(workdir, database) {
  const { API_TOKEN: _unused, ...env } = process.env;
  const proc = spawn(SERVER, ["--port", "0", "--database-url", `sqlite://${database}`], {
    cwd: workdir,
    env: { ...env, RUST_LOG: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await new Promise((resolve, reject) => {
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
    proc.stdout.on("data", read);
    proc.stderr.on("data", read);
    proc.on("exit", (code) => reject(new Error(`the server exited (${code}):\n${log}`)));
  });
  return [proc, url];
}

/** Headless Chromium with the flags it needs as root in a container. */
export function launchChromium() {
  return chromium.launch({
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
}
