#!/usr/bin/env python3
"""What write safety costs (SPEC §8): durable creates/s with a scoped API key
on every request, and with an `Idempotency-Key` as well, beside the same
server without either, on one database kind, in one run.

    cargo build --release -p carbon-tracker-server
    python3 server/bench/write_safety.py [--duration 10] [--connections 64] [--rounds 2] [--backend sqlite|postgres]

Two servers run side by side (an open one, and one whose database has a key
with the `create` scope), each on its own new database (SQLite files, or
databases of one throwaway PostgreSQL cluster); the three scenarios take
turns, `--rounds` times in a rotating order, and the figures are the
medians (the machine's speed drifts by a factor of two between runs of a
few seconds). Needs `wrk`. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
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
    parser.add_argument("--duration", type=int, default=4, help="seconds of each run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    if not BINARY.exists():
        sys.exit(f"{BINARY} not found: cargo build --release -p carbon-tracker-server")
    labels = ("open", "scoped key", "scoped key + Idempotency-Key")
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ct-bench-") as tmp:
        workdir = Path(tmp)
        cluster = PostgresCluster() if args.backend == "postgres" else None
        if cluster:
            stack.callback(cluster.destroy)
        postmaster = postmaster_pid(cluster) if cluster else None
        urls = [cluster.create_database() if cluster else f"sqlite:///{workdir}/db-{n}.db" for n in range(2)]
        # Two servers side by side: one open (no key in its database), one
        # whose database has a key with the `create` scope. The scenarios
        # take turns on them, round after round, in a rotating order, so
        # that the machine's drift falls on each alike.
        token = new_key(urls[1], workdir)
        servers = [start_server(url, workdir) for url in urls]
        stack.callback(stop, [s for s, _ in servers])
        envs = {
            "open": (servers[0], {}),
            "scoped key": (servers[1], {"BENCH_TOKEN": token}),
            "scoped key + Idempotency-Key": (servers[1], {"BENCH_TOKEN": token, "BENCH_IDEMPOTENCY": "1"}),
        }
        figures: dict[str, list[float]] = {label: [] for label in labels}
        for round_ in range(args.rounds):
            order = labels[round_ % 3:] + labels[:round_ % 3]
            for label in order:
                (server, port), env = envs[label]
                m = measure(Target([server], [port], postmaster), "create.lua", args.duration, args.connections, env)
                if m.non2xx or m.socket_errors:
                    print(f"warning: {label}: {m.non2xx:.0f} non-2xx responses{', socket errors' if m.socket_errors else ''}")
                figures[label].append(m.rps)
                # CPU time per create of each process group (µs): where the ceiling is.
                per = ", ".join(f"{name} {pct / 100 / m.rps * 1e6:.0f}" for name, pct in m.cpu.items() if not name.startswith("machine"))
                print(f"round {round_ + 1}, {args.backend}, {label}: {m.rps:.0f} creates/s "
                      f"(CPU µs per create: {per}; machine busy {m.cpu.get('machine busy', 0):.0f}%)", flush=True)
        median = {label: statistics.median(v) for label, v in figures.items()}
        print()
        print(f"{args.backend}, {args.rounds} rounds of {args.duration} s, {args.connections} connections: median durable creates/s")
        for label in labels:
            print(f"  {label:<30} {median[label]:>8.0f}   (runs: {', '.join(f'{x:.0f}' for x in figures[label])})")
        key, idem = figures["scoped key"], figures["scoped key + Idempotency-Key"]
        per_round_key = [k / o for k, o in zip(key, figures["open"])]
        per_round_idem = [i / k for i, k in zip(idem, key)]
        print(f"  scoped key / open:                        {median['scoped key'] / median['open']:.2f} "
              f"(per round {min(per_round_key):.2f} to {max(per_round_key):.2f})")
        print(f"  with Idempotency-Key / scoped key alone:  {median['scoped key + Idempotency-Key'] / median['scoped key']:.2f} "
              f"(per round {min(per_round_idem):.2f} to {max(per_round_idem):.2f})")
        print(f"  with Idempotency-Key / open:              {median['scoped key + Idempotency-Key'] / median['open']:.2f}")


if __name__ == "__main__":
    main()
