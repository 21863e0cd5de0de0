#!/usr/bin/env python3
"""Partial retires against whole retires over HTTP on SQLite (SPEC §6), side
by side in one run.

    cargo build --release -p carbon-tracker-server
    python3 server/bench/partial.py [--duration 5] [--connections 64] [--rounds 2]

One server on a fresh SQLite file. Each round stores, in batches, a set of
plain records and a set of 100-credit blocks, each used once, then drives:
- whole: `POST /records/{id}/retire` (no body) on a fresh record: one event;
- partial: `POST /records/{id}/retire {"quantity": 1}` on a fresh block: the
  block splits, so the server writes two records and four events (the
  parent's SPLIT, each child's CREATED, the front child's RETIRED) and moves
  the range index.
The issue's target: partial ≥ 50% of whole. A benchmark, not a test.

Each line also gives CPU time per retire (from /proc, over the wrk run): of
the server's SQLite writer thread, of the rest of the server, and of wrk.
The writer commits every write, so its time per retire says how close the
scenario is to that thread's ceiling, and it varies far less from run to run
than the rates do; the three together say how much of the two cores a
retire takes (`--threads` breaks the server's down by thread name).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench import BINARY, children_seconds, start_server, stat_seconds, stop, wrk_figures, wrk_start

TAIL = "VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0"


def store(port: int, records: list[dict[str, object]]) -> list[str]:
    ids: list[str] = []
    for at in range(0, len(records), 1000):
        body = json.dumps(records[at:at + 1000]).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/records/batch", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            items = json.load(r)["items"]
        assert all(i["outcome"] == "created" for i in items), items[:3]
        ids += [i["id"] for i in items]
    return ids


def thread_seconds(server: int) -> dict[str, float]:
    """User + system CPU seconds of the server's threads, summed by name
    (as /proc spells them, at most 15 characters: `sqlite-writer`,
    `sqlite-checkpoi`, `tokio-rt-worker`, …)."""
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{server}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            seconds[name] = seconds.get(name, 0.0) + stat_seconds(task / "stat")
        except OSError:  # a thread that ended meanwhile
            continue
    if "sqlite-writer" not in seconds:
        sys.exit("the server has no sqlite-writer thread")
    return seconds


def drive(server: int, port: int, ids: list[str], body: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    ids_file = workdir / f"ids-{uuid.uuid4().hex[:6]}"
    ids_file.write_text("\n".join(ids) + "\n")
    before = thread_seconds(server)
    wrk_before = children_seconds()
    run = wrk_start("retire.lua", args.duration, args.connections, 2, port, {"IDS_FILE": str(ids_file), "BODY": body, "THREADS": "2"})
    out, _ = run.communicate()
    figures = wrk_figures(out)
    # Per answered retire: wrk's count ("N requests in …") less the non-2xx.
    done = re.search(r"(\d+) requests in", out)
    answered = (int(done.group(1)) if done else 0) - figures["non2xx"]
    per = 1e6 / answered if answered > 0 else float("nan")
    threads = {name: (t - before.get(name, 0.0)) * per for name, t in thread_seconds(server).items()}
    figures["threads"] = threads
    figures["writer_us"] = threads["sqlite-writer"]
    # The rest of the server (HTTP workers, the log's sequencer, the
    # checkpointer, …) and wrk itself: the two cores the scenarios share.
    figures["others_us"] = sum(threads.values()) - threads["sqlite-writer"]
    figures["wrk_us"] = (children_seconds() - wrk_before) * per
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--records", type=int, default=60_000, help="records of each kind per round (each is acted on once)")
    p.add_argument("--threads", action="store_true", help="also print the server's CPU per retire by thread name")
    args = p.parse_args()
    if not BINARY.exists():
        sys.exit(f"build it first: cargo build --release -p carbon-tracker-server ({BINARY} is missing)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server, port = start_server(f"sqlite:///{workdir}/partial.db", workdir)
        try:
            for round_ in range(args.rounds):
                tag = uuid.uuid4().hex[:8]
                print(f"round {round_ + 1}: storing {args.records:,} records and {args.records:,} blocks ...", flush=True)
                plain = store(port, [
                    {"project_name": "Bench", "registry": "VCS", "vintage": 2022, "quantity": 100, "serial_number": f"P-{tag}-{i}"}
                    for i in range(args.records)
                ])
                blocks = store(port, [
                    {"project_name": "Bench", "registry": "Verra", "vintage": 2022, "quantity": 100,
                     "serial_number": f"{round_ + 1}{i:07d}-1-100-{TAIL}"}
                    for i in range(args.records)
                ])
                whole = drive(server.pid, port, plain, "", args, workdir)
                partial = drive(server.pid, port, blocks, '{"quantity": 1}', args, workdir)
                rows.append((whole, partial))
                for label, f in (("whole retires/s  ", whole), ("partial retires/s", partial)):
                    print(f"  {label} {f['rps']:>9,.0f}  p50 {f['p50_ms']:.1f} ms  p99 {f['p99_ms']:.1f} ms  non-2xx {f['non2xx']:.0f}"
                          f"  µs CPU per retire: writer {f['writer_us']:.0f}, rest of the server {f['others_us']:.0f}, wrk {f['wrk_us']:.0f}")
                    if args.threads:
                        print("      " + ", ".join(f"{name} {us:.0f}" for name, us in sorted(f["threads"].items(), key=lambda kv: -kv[1]) if us >= 1))
                print(f"  partial ÷ whole   {partial['rps'] / whole['rps']:.0%}  (target ≥ 50%)", flush=True)
        finally:
            stop([server])


if __name__ == "__main__":
    main()
