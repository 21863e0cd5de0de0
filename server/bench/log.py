#!/usr/bin/env python3
"""What the verifiable log (SPEC §7) costs, side by side in one run.

    cargo build --release -p carbon-tracker-server
    python3 server/bench/log.py [--duration 10] [--rounds 2] [--leaves 1000000]

1. Durable creates/s on SQLite with the log on and with `--no-log`, each on a
   fresh database, alternating (`wrk -t2 -c64`, server/bench/create.lua); the
   issue's target: on ≥ 90% of off.
2. Inclusion proofs over a log of `--leaves` leaves: the records are stored
   in batches, the script waits until the log's checkpoint covers them all,
   then `wrk -t1 -c1` asks `GET /events/{id}/proof` for events spread over
   the log; the target: median < 1 ms.
A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from bench import BINARY, start_server, stop, wrk_figures, wrk_start


def creates(workdir: Path, args: argparse.Namespace, extra: tuple[str, ...]) -> dict[str, float]:
    server, port = start_server(f"sqlite:///{workdir}/c-{uuid.uuid4().hex[:6]}.db", workdir, extra)
    try:
        run = wrk_start("create.lua", args.duration, 64, 2, port, {})
        out, _ = run.communicate()
        return wrk_figures(out)
    finally:
        stop([server])


def get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
        return bytes(r.read())


def proofs(workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    server, port = start_server(f"sqlite:///{workdir}/p.db", workdir)
    try:
        print(f"storing {args.leaves:,} records ...", flush=True)
        started = time.perf_counter()
        for at in range(0, args.leaves, 1000):
            body = json.dumps([
                {"project_name": "Log Bench", "registry": "VCS", "vintage": 2022, "quantity": 1, "serial_number": f"L-{at + i}"}
                for i in range(min(1000, args.leaves - at))
            ]).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/records/batch", data=body, headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req).read()
        print(f"  stored in {time.perf_counter() - started:.0f} s; waiting for the log ...", flush=True)
        while int(get(port, "/log/checkpoint").decode().split("\n")[1]) < args.leaves:
            time.sleep(1)
        print(f"  the log covers them after {time.perf_counter() - started:.0f} s", flush=True)
        ids: list[str] = []
        after = None
        while len(ids) < 20_000:
            page = json.loads(get(port, "/events?limit=1000" + (f"&after={after}" if after else "")))
            ids += [e["id"] for e in page["items"]]
            if not page["items"]:
                break
            after = page["items"][-1]["id"]
            # Skip ahead: proofs for events spread over the whole log.
            for _ in range(max(1, args.leaves // 20_000 // 1000) - 1):
                page = json.loads(get(port, f"/events?limit=1000&after={after}"))
                if not page["items"]:
                    break
                after = page["items"][-1]["id"]
        random.shuffle(ids)
        ids_file = workdir / "event-ids"
        ids_file.write_text("\n".join(ids) + "\n")
        run = wrk_start("proof.lua", args.duration, 1, 1, port, {"IDS_FILE": str(ids_file)})
        out, _ = run.communicate()
        return wrk_figures(out)
    finally:
        stop([server])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--leaves", type=int, default=1_000_000)
    p.add_argument("--skip-proofs", action="store_true")
    args = p.parse_args()
    if not BINARY.exists():
        sys.exit(f"build it first: cargo build --release -p carbon-tracker-server ({BINARY} is missing)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for round_ in range(args.rounds):
            on = creates(workdir, args, ())
            off = creates(workdir, args, ("--no-log",))
            print(f"round {round_ + 1}: creates/s log on {on['rps']:,.0f} (p99 {on['p99_ms']:.1f} ms), "
                  f"off {off['rps']:,.0f} (p99 {off['p99_ms']:.1f} ms): on ÷ off {on['rps'] / off['rps']:.0%} (target ≥ 90%)", flush=True)
        if not args.skip_proofs:
            figures = proofs(workdir, args)
            print(f"inclusion proofs over {args.leaves:,} leaves, 1 connection: {figures['rps']:,.0f}/s, "
                  f"p50 {figures['p50_ms']:.3f} ms, p99 {figures['p99_ms']:.3f} ms (target: median < 1 ms), non-2xx {figures['non2xx']:.0f}")


if __name__ == "__main__":
    main()
