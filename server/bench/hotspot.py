#!/usr/bin/env python3
"""Partial retires of one block from many clients at once, on PostgreSQL
with two server processes (SPEC §6: a partial action addressed to a split
block acts on its remainder, which every request then contends for).

    cargo build --release -p carbon-tracker-server
    python3 server/bench/hotspot.py [--threads 96] [--per-thread 10]

A throwaway cluster (tests/contract/pgcluster.py), two servers on one
database, one block of `threads × per-thread + 11` credits, retired one
credit at a time: half the clients address the registered block, half its
first remainder (the back child of a first retire); odd clients go to the
second server. Prints the answers by status and code, the elapsed time and
the latency median and maximum, then the lineage's totals (which must add
up). A benchmark, not a test: a binary given as `CARBON_TRACKER_SERVER` is
measured instead (an older build, to compare).
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import tempfile
import threading
import time
from pathlib import Path

from bench import start_server, stop
from pgcluster import PostgresCluster

TAIL = "-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0"


def post(port: int, path: str, body: object) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=96)
    parser.add_argument("--per-thread", type=int, default=10)
    args = parser.parse_args()
    cluster = PostgresCluster()
    try:
        url = cluster.create_database()
        workdir = Path(tempfile.mkdtemp(prefix="hotspot-"))
        servers = [start_server(url, workdir) for _ in range(2)]
        ports = [port for _, port in servers]
        n = args.threads * args.per_thread
        status, block = post(ports[0], "/records", {
            "project_name": "hot", "registry": "verra", "vintage": 2022, "quantity": n + 11,
            "serial_number": f"19399-1-{n + 11}{TAIL}"})
        assert status == 201, block
        root = str(block["id"])
        status, first = post(ports[0], f"/records/{root}/retire", {"quantity": 1})
        split = first["split"]
        assert status == 200 and isinstance(split, dict), first
        remainder = str(split["back"]["id"])
        answers: collections.Counter[tuple[int, object]] = collections.Counter()
        latencies: list[float] = []
        lock = threading.Lock()

        def client(i: int) -> None:
            target = root if (i // 2) % 2 else remainder
            for _ in range(args.per_thread):
                started = time.monotonic()
                status, body = post(ports[i % 2], f"/records/{target}/retire", {"quantity": 1})
                with lock:
                    answers[(status, body.get("code"))] += 1
                    latencies.append(time.monotonic() - started)

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        latencies.sort()
        print(f"answers {dict(answers)} in {elapsed:.1f} s; latency median {latencies[len(latencies) // 2]:.2f} s, "
              f"max {latencies[-1]:.2f} s")
        conn = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=300)
        conn.request("GET", f"/records/{root}/lineage")
        print("lineage totals", json.loads(conn.getresponse().read()).get("totals"))
        stop([s for s, _ in servers])
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
