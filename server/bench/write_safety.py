#!/usr/bin/env python3
"""What write safety costs (SPEC §8): durable creates/s with a scoped API key
on every request, and with an `Idempotency-Key` as well, beside the same
server without either, on one database kind, in one run.

    cargo build --release -p carbon-tracker-server
    python3 server/bench/write_safety.py [--duration 10] [--connections 64] [--rounds 2] [--backend sqlite|postgres]

Each scenario runs on a fresh database (a new SQLite file, or a new database
of one throwaway PostgreSQL cluster), in the order open, key, key +
Idempotency-Key, repeated `--rounds` times so that drift shows; the ratios
compare figures of the same round. Needs `wrk`. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import BINARY, Target, measure, postmaster_pid, start_server, stop
from pgcluster import PostgresCluster


def new_key(url: str, workdir: Path) -> str:
    out = subprocess.run(
        [str(BINARY), "keys", "create", "--name", "bench", "--scope", "create"],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "RUST_LOG": "warn"},
        cwd=workdir, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    if not BINARY.exists():
        sys.exit(f"{BINARY} not found: cargo build --release -p carbon-tracker-server")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
        workdir = Path(tmp)
        cluster = PostgresCluster() if args.backend == "postgres" else None
        if cluster:
            stack.callback(cluster.destroy)
        postmaster = postmaster_pid(cluster) if cluster else None
        n = 0

        def fresh_url() -> str:
            nonlocal n
            n += 1
            return cluster.create_database() if cluster else f"sqlite://{workdir}/db-{n}.db"

        rows = []
        for round_ in range(1, args.rounds + 1):
            figures = {}
            for label in ("open", "scoped key", "scoped key + Idempotency-Key"):
                url = fresh_url()
                env = {}
                if label != "open":
                    env["BENCH_TOKEN"] = new_key(url, workdir)
                if "Idempotency" in label:
                    env["BENCH_IDEMPOTENCY"] = "1"
                server, port = start_server(url, workdir)
                try:
                    print(f"round {round_}, {args.backend}, {label}: POST /records, {args.connections} connections, {args.duration} s ...", flush=True)
                    m = measure(Target([server], [port], postmaster), "create.lua", args.duration, args.connections, env)
                finally:
                    stop([server])
                if m.non2xx or m.socket_errors:
                    print(f"warning: {label}: {m.non2xx:.0f} non-2xx responses{', socket errors' if m.socket_errors else ''}")
                figures[label] = m
            rows.append(figures)
        print()
        print(f"{'round':<6} {'scenario':<30} {'creates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'server %':>9} {'ratio':>22}")
        for round_, figures in enumerate(rows, 1):
            base = figures["open"].rps
            keyed = figures["scoped key"].rps
            for label, m in figures.items():
                if label == "open":
                    ratio = ""
                elif label == "scoped key":
                    ratio = f"{m.rps / base:.2f}x open"
                else:
                    ratio = f"{m.rps / keyed:.2f}x key, {m.rps / base:.2f}x open"
                print(f"{round_:<6} {label:<30} {m.rps:>10.0f} {m.p50_ms:>8.2f} {m.p99_ms:>8.2f} {m.cpu['server']:>9.0f} {ratio:>22}")


if __name__ == "__main__":
    main()
