#!/usr/bin/env python3
"""Partial retires addressed to a block that has split many times, over HTTP
on SQLite (SPEC §6: a partial action on a SPLIT record acts on its live
remainder).

    cargo build --release -p carbon-tracker-server
    python3 server/bench/remainder.py [--splits 4000] [--segment 500]

One server on a fresh SQLite file, one block of `--splits + 1` credits. One
client retires 1 credit at a time, each addressed to the registered block,
one request after another, so that request k reaches a remainder k - 1 splits
down. Prints the rate of each `--segment` requests, and as a reference in
the same run the rate of the same requests addressed to the remainder
itself (the back child the previous answer named). If reaching the
remainder costs a walk down the chain, the first rate falls as the chain
grows and the second does not. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import time
from pathlib import Path

from bench import start_server, stop

TAIL = "VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0"


def post(conn: http.client.HTTPConnection, path: str, body: object) -> dict[str, object]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    answer = json.loads(r.read())
    if r.status not in (200, 201):
        raise SystemExit(f"POST {path}: {r.status} {answer}")
    assert isinstance(answer, dict)
    return answer


def run(conn: http.client.HTTPConnection, issuance: int, splits: int, segment: int, to_root: bool) -> list[float]:
    block = post(conn, "/records", {
        "project_name": "bench", "registry": "verra", "vintage": 2022, "quantity": splits + 1,
        "serial_number": f"{issuance}-1-{splits + 1}-{TAIL}",
    })
    root = target = str(block["id"])
    rates = []
    started = time.perf_counter()
    for k in range(1, splits + 1):
        answer = post(conn, f"/records/{root if to_root else target}/retire", {"quantity": 1})
        split = answer["split"]
        assert isinstance(split, dict)
        back = split["back"]
        assert isinstance(back, dict)
        target = str(back["id"])
        if k % segment == 0:
            now = time.perf_counter()
            rates.append(segment / (now - started))
            started = now
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=int, default=4000)
    parser.add_argument("--segment", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server, port = start_server(f"sqlite:///{workdir / 'bench.db'}", workdir)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            direct = run(conn, 19380, args.splits, args.segment, to_root=False)
            root = run(conn, 19381, args.splits, args.segment, to_root=True)
        finally:
            stop([server])
    print(f"{'splits so far':>14} {'to the block /s':>16} {'to the remainder /s':>20} {'ratio':>6}")
    for n, (a, b) in enumerate(zip(root, direct), start=1):
        print(f"{n * args.segment:>14} {a:>16.0f} {b:>20.0f} {a / b:>6.2f}")


if __name__ == "__main__":
    main()
