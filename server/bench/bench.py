#!/usr/bin/env python3
"""Server throughput, side by side with its floor, in one run.

    cargo build --release -p carbon-tracker-server
    python3 server/bench/bench.py [--duration 10] [--connections 64]

Prints, for this machine and this run:
- the floor: a raw SQLite loop doing one durable create (a record row and its
  CREATED event, WAL, synchronous=FULL) per transaction, on the server's schema;
- durable creates/s through the server (POST /records, every one a new record),
  and its ratio to the floor;
- GET /records/{id} per second over 10,000 stored records;
- p50/p99 latency, non-2xx responses, and the server's peak RSS.

Needs `wrk` (Debian package `wrk`). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BINARY = ROOT / "target" / "release" / "carbon-tracker-server"
SCHEMA = (ROOT / "server" / "migrations" / "sqlite" / "0001_init.sql").read_text()


def sqlite_floor(workdir: Path, seconds: float) -> float:
    """Creates/s of a raw loop: one durable transaction per create."""
    conn = sqlite3.connect(workdir / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        rid = uuid.uuid4().hex * 2
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO records (id, project_name, registry, vintage, quantity, serial_number, created_at) "
            "VALUES (?, 'floor project', 'vcs', 2023, '1.0000', ?, '2026-01-01T00:00:00Z')",
            (rid, rid),
        )
        conn.execute(
            "INSERT INTO events (id, record_id, seq, event_type, created_at) VALUES (?, ?, 1, 'CREATED', '2026-01-01T00:00:00Z')",
            (str(uuid.uuid4()), rid),
        )
        conn.execute("COMMIT")
        n += 1
    return n / (time.perf_counter() - start)


def wrk(script: str, seconds: int, connections: int, port: int, env: dict[str, str] | None = None) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(HERE / script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(m.group(1)) / 1024 if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    args = ap.parse_args()
    if not BINARY.exists():
        sys.exit(f"build it first: cargo build --release -p carbon-tracker-server ({BINARY} is missing)")

    with tempfile.TemporaryDirectory(dir=ROOT / "target") as tmp:
        workdir = Path(tmp)
        print(f"floor: raw SQLite, one durable create per transaction, {args.duration} s ...", flush=True)
        floor = sqlite_floor(workdir, args.duration)

        log = open(workdir / "server.log", "wb")
        server = subprocess.Popen(
            [str(BINARY), "--port", "0"], cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "DATABASE_URL": "sqlite://bench.db", "RUST_LOG": "warn,carbon_tracker_server=info"},
        )
        port = 0
        for _ in range(300):
            text = (workdir / "server.log").read_text()
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text)
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        if not port:
            sys.exit("the server did not start:\n" + (workdir / "server.log").read_text())
        try:
            print(f"server: POST /records, {args.connections} connections, {args.duration} s ...", flush=True)
            create = wrk("create.lua", args.duration, args.connections, port)

            ids_file = workdir / "ids.txt"
            ids: list[str] = []
            for chunk in range(10):
                body = json.dumps([
                    {"project_name": "Read Bench", "registry": "GS", "vintage": 2022, "quantity": i + 1, "serial_number": f"R-{chunk}-{i}"}
                    for i in range(1000)
                ]).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{port}/records/batch", data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req) as r:
                    ids += [item["id"] for item in json.load(r)["items"]]
            ids_file.write_text("\n".join(ids) + "\n")
            print(f"server: GET /records/{{id}} over {len(ids)} records, {args.connections} connections, {args.duration} s ...", flush=True)
            read = wrk("read.lua", args.duration, args.connections, port, {"IDS_FILE": str(ids_file)})
            rss = peak_rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            log.close()

    print()
    print(f"{'measure':<38} {'value':>12}")
    print(f"{'raw SQLite durable creates/s (floor)':<38} {floor:>12,.0f}")
    print(f"{'server durable creates/s':<38} {create['rps']:>12,.0f}   {create['rps'] / floor:.1f}x the floor")
    print(f"{'  create p50 / p99 ms':<38} {create['p50_ms']:>5.1f} / {create['p99_ms']:<5.1f}")
    print(f"{'  create non-2xx responses':<38} {create['non2xx']:>12,.0f}")
    print(f"{'server GET /records/{id} per s':<38} {read['rps']:>12,.0f}")
    print(f"{'  read p50 / p99 ms':<38} {read['p50_ms']:>5.1f} / {read['p99_ms']:<5.1f}")
    print(f"{'  read non-2xx responses':<38} {read['non2xx']:>12,.0f}")
    print(f"{'server peak RSS MB':<38} {rss:>12.1f}")
    if create["socket_errors"] or read["socket_errors"]:
        print("wrk reported socket errors: see its output")


if __name__ == "__main__":
    main()
