#!/usr/bin/env python3
"""Server throughput on SQLite and on PostgreSQL, side by side, in one run.

    cargo build --release -p carbon-tracker-server
    python3 server/bench/bench.py [--duration 10] [--connections 64] [--only sqlite|postgres]

Scenarios, each on a fresh database:
- floor: a raw SQLite loop doing one durable create (a record row and its
  CREATED event, WAL, synchronous=FULL) per transaction, on the server's schema;
- sqlite: one server on a SQLite file;
- postgres, 1 server: one server on a throwaway PostgreSQL cluster (initdb into
  a temporary folder, fsync on, the defaults otherwise);
- postgres, 2 servers: two server processes on one database, each driven by
  its own wrk with half the connections (their figures summed);
- postgres, 1 server, synchronous_commit=off: creates only; not a setting to
  run with, it shows how much of a create's cost is waiting for the WAL flush.

For each: durable creates/s (POST /records, every one a new record) and
GET /records/{id} per second over 10,000 stored records, p50/p99 latency,
non-2xx responses, and where the CPU went during the run (the servers, the
PostgreSQL processes, wrk itself, in % of one core) with the machine's busy and
iowait share, which is where the ceiling shows.

Needs `wrk` (Debian package `wrk`) and, for PostgreSQL, the `postgresql`
package (see tests/contract/pgcluster.py). A benchmark, not a test: it asserts
nothing.
"""

from __future__ import annotations

import argparse
import resource
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
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The binary under test: CARBON_TRACKER_SERVER (as for the contract suite), or
# the workspace's release build.
BINARY = Path(os.environ.get("CARBON_TRACKER_SERVER") or ROOT / "target" / "release" / "carbon-tracker-server")
SCHEMA = (ROOT / "server" / "migrations" / "sqlite" / "0001_init.sql").read_text()
sys.path.insert(0, str(ROOT / "tests" / "contract"))
from pgcluster import PostgresCluster  # noqa: E402  (the contract suite's throwaway cluster)

TICKS = os.sysconf("SC_CLK_TCK")


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


def wrk_start(script: str, seconds: int, connections: int, threads: int, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(HERE / script), f"http://127.0.0.1:{port}"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **env},
    )


def wrk_figures(out: str) -> dict[str, float]:
    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if "Socket errors" in out else 0.0,
    }


def stat_seconds(stat: Path) -> float:
    """User + system CPU seconds in a /proc `stat` file (a process's or a thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_seconds() -> float:
    """User + system CPU seconds of this script's ended and waited-for
    children (wrk, once `communicate` has returned)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process in `pids`."""
    out = {}
    for pid in pids:
        try:
            out[pid] = stat_seconds(Path(f"/proc/{pid}/stat"))
        except OSError:
            continue
    return out


def machine_ticks() -> tuple[int, int, int]:
    """(total, idle, iowait) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3], fields[4]


def children_of(parent: int) -> list[int]:
    pids = [parent]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return pids


@dataclass
class Target:
    """What one scenario drives: server processes and, maybe, a PostgreSQL cluster."""

    servers: list[subprocess.Popen[bytes]]
    ports: list[int]
    postmaster: int | None = None

    def groups(self) -> dict[str, list[int]]:
        groups = {"server": [s.pid for s in self.servers]}
        if self.postmaster is not None:
            groups["postgres"] = children_of(self.postmaster)
        return groups


@dataclass
class Measure:
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: float
    socket_errors: bool
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core


def measure(target: Target, script: str, seconds: int, connections: int, env: dict[str, str] | None = None) -> Measure:
    """One wrk per server port, all at once, with the connections split between them."""
    groups = target.groups()
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    wrk_before = children_seconds()
    m0 = machine_ticks()
    n = len(target.ports)
    # BENCH_PROCESS: each wrk's number, so that two of them never send the
    # same new record (create.lua puts it in every body).
    runs = [wrk_start(script, seconds, connections // n, 2 if n == 1 else 1, port, {**(env or {}), "BENCH_PROCESS": str(i)})
            for i, port in enumerate(target.ports)]
    outputs = [r.communicate()[0] for r in runs]
    m1 = machine_ticks()
    wrk_after = children_seconds()
    groups = target.groups()  # PostgreSQL may have started backends meanwhile
    cpu = {}
    for name, pids in groups.items():
        after = cpu_seconds(pids)
        cpu[name] = sum(t - before[name].get(pid, 0.0) for pid, t in after.items()) / seconds * 100
    cpu["wrk"] = (wrk_after - wrk_before) / seconds * 100
    total = m1[0] - m0[0]
    cpu["machine busy"] = (total - (m1[1] - m0[1]) - (m1[2] - m0[2])) / total * 100 * (os.cpu_count() or 1)
    cpu["machine iowait"] = (m1[2] - m0[2]) / total * 100 * (os.cpu_count() or 1)
    figures = [wrk_figures(out) for out in outputs]
    return Measure(
        rps=sum(f["rps"] for f in figures),
        p50_ms=max(f["p50_ms"] for f in figures),
        p99_ms=max(f["p99_ms"] for f in figures),
        non2xx=sum(f["non2xx"] for f in figures),
        socket_errors=any(f["socket_errors"] for f in figures),
        cpu=cpu,
    )


def start_server(url: str, workdir: Path, args: tuple[str, ...] = ()) -> tuple[subprocess.Popen[bytes], int]:
    log_path = workdir / f"server-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(BINARY), "--port", "0", *args], cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn,carbon_tracker_server=info"},
        )
    for _ in range(600):
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log_path.read_text())
        if m:
            return server, int(m.group(1))
        if server.poll() is not None:
            break
        time.sleep(0.05)
    server.kill()
    sys.exit("the server did not start:\n" + log_path.read_text())


def stop(servers: list[subprocess.Popen[bytes]]) -> None:
    for s in servers:
        s.send_signal(signal.SIGTERM)
    for s in servers:
        s.wait(timeout=30)


def store_read_set(port: int, path: Path) -> int:
    """Creates 10,000 records in batches and writes their ids to `path`."""
    ids: list[str] = []
    for chunk in range(10):
        body = json.dumps([
            {"project_name": "Read Bench", "registry": "GS", "vintage": 2022, "quantity": i + 1, "serial_number": f"R-{chunk}-{i}"}
            for i in range(1000)
        ]).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/records/batch", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            ids += [item["id"] for item in json.load(r)["items"]]
    path.write_text("\n".join(ids) + "\n")
    return len(ids)


def scenario(label: str, urls: list[str], workdir: Path, args: argparse.Namespace, postmaster: int | None, reads: bool = True) -> tuple[Measure, Measure | None]:
    started = [start_server(url, workdir) for url in urls]
    target = Target([s for s, _ in started], [p for _, p in started], postmaster)
    try:
        print(f"{label}: POST /records, {args.connections} connections, {args.duration} s ...", flush=True)
        create = measure(target, "create.lua", args.duration, args.connections)
        read = None
        if reads:
            ids_file = workdir / f"ids-{time.monotonic_ns()}.txt"
            n = store_read_set(target.ports[0], ids_file)
            print(f"{label}: GET /records/{{id}} over {n} records, {args.connections} connections, {args.duration} s ...", flush=True)
            read = measure(target, "read.lua", args.duration, args.connections, {"IDS_FILE": str(ids_file)})
    finally:
        stop(target.servers)
    return create, read


def postmaster_pid(cluster: PostgresCluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split("\n", 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections in all (default 64)")
    ap.add_argument("--only", choices=["sqlite", "postgres"], help="one backend only (default both)")
    args = ap.parse_args()
    if not BINARY.exists():
        sys.exit(f"build it first: cargo build --release -p carbon-tracker-server ({BINARY} is missing)")

    results: list[tuple[str, Measure, Measure | None]] = []
    floor = float("nan")
    (ROOT / "target").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "target") as tmp, ExitStack() as cleanup:
        workdir = Path(tmp)
        if args.only != "postgres":
            print(f"floor: raw SQLite, one durable create per transaction, {args.duration} s ...", flush=True)
            floor = sqlite_floor(workdir, args.duration)
            results.append(("sqlite, 1 server", *scenario("sqlite", ["sqlite://bench.db"], workdir, args, None)))
        if args.only != "sqlite":
            print("postgres: initdb and start a throwaway cluster ...", flush=True)
            cluster = PostgresCluster()
            cleanup.callback(cluster.destroy)
            pm = postmaster_pid(cluster)
            results.append(("postgres, 1 server", *scenario("postgres, 1 server", [cluster.create_database()], workdir, args, pm)))
            url = cluster.create_database()
            results.append(("postgres, 2 servers", *scenario("postgres, 2 servers", [url, url], workdir, args, pm)))
            url = cluster.create_database()
            cluster.psql(url, f"ALTER DATABASE {url.rsplit('/', 1)[1]} SET synchronous_commit = off")
            results.append(("postgres, 1 server, no commit wait", *scenario("postgres, 1 server, synchronous_commit=off", [url], workdir, args, pm, reads=False)))

    print()
    if floor == floor:
        print(f"raw SQLite durable creates/s (the floor of the sqlite backend): {floor:,.0f}")
    base_c, base_r = results[0][1].rps, results[0][2].rps if results[0][2] else float("nan")
    print(f"{'scenario':<36} {'creates/s':>10} {'x row 1':>8} {'p50/p99 ms':>13} {'reads/s':>10} {'x row 1':>8} {'p50/p99 ms':>13}")
    for label, c, r in results:
        reads = f"{r.rps:>10,.0f} {r.rps / base_r:>7.2f}x {r.p50_ms:>6.1f}/{r.p99_ms:<6.1f}" if r else f"{'-':>10}"
        print(f"{label:<36} {c.rps:>10,.0f} {c.rps / base_c:>7.2f}x {c.p50_ms:>6.1f}/{c.p99_ms:<6.1f} {reads}")
    print()
    print(f"CPU during each run, % of one core ({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%)")
    print(f"{'run':<44} {'server':>7} {'postgres':>9} {'wrk':>6} {'busy':>6} {'iowait':>7}")
    for label, c, r in results:
        for kind, m in (("creates", c), ("reads", r)):
            if m is None:
                continue
            u = m.cpu
            print(f"{label + ' ' + kind:<44} {u['server']:>7.0f} {u.get('postgres', 0):>9.0f} {u['wrk']:>6.0f} {u['machine busy']:>6.0f} {u['machine iowait']:>7.0f}")
    bad = [(label, m) for label, c, r in results for m in (c, r) if m and (m.non2xx or m.socket_errors)]
    for label, m in bad:
        print(f"warning: {label}: {m.non2xx:.0f} non-2xx responses{', socket errors' if m.socket_errors else ''}")


if __name__ == "__main__":
    main()
