#!/usr/bin/env python3
"""A 100,000-row Verra-shaped export imported by the command, on SQLite
(issue 16's target: under 30 s on this machine), beside the same file's
dry run and the tracker's own 5-column records import of as many rows
(plain records, then blocks, which the import looks up for overlaps first),
in one run.

    cargo build --release -p carbon-tracker-server
    python3 server/bench/import.py [--rows 100000]

The file: one issuance per two rows, as Verra lists blocks after a partial
retirement — a retired block (with its date, beneficiary and reason) and the
held remainder — with thousands separators in the quantities and half the
dates in the older dd/mm/yyyy form. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import BINARY

HEADER = ["Issuance Date", "Sustainable Development Goals", "Vintage Start", "Vintage End", "ID", "Name",
          "Country/Area", "Project Type", "Methodology", "Total Vintage Quantity", "Quantity Issued", "Serial Number",
          "Additional Certifications", "Retirement/Cancellation Date", "Retirement Beneficiary", "Retirement Reason",
          "Retirement Details"]


def verra_file(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows // 2):
            issuance = 20000 + i
            start = 1_000_000 + i * 10
            retired = 1 + i % 997
            held = 2_000 + i % 5_000
            for n, (first, last) in enumerate([(start, start + retired - 1), (start + retired, start + retired + held - 1)]):
                serial = f"{issuance}-{first}-{last}-VCS-VCU-1310-VER-CN-13-{3000 + i % 50}-01012022-31102022-0"
                date = "2026-04-03" if i % 2 else "03/04/2026"
                w.writerow(["2026-04-01", "", "2022-01-01", "2022-10-31", 3000 + i % 50, f"Project {i % 50}", "China",
                            "Energy industries", "ACM0010", "1,000,000", f"{last - first + 1:,}", serial, "",
                            date if n == 0 else "", "Acme GmbH" if n == 0 else "", "Environmental Benefit" if n == 0 else "", ""])


def records_file(path: Path, rows: int, blocks: bool = False) -> None:
    """The tracker's 5-column records; `blocks`: each a 100-credit block of
    its own issuance (`BENCH-{i}:1-100`), which the import first looks up
    for overlaps (SPEC §6)."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["project_name", "registry", "vintage", "quantity", "serial_number"])
        for i in range(rows):
            w.writerow([f"Project {i % 50}", "VCS", 2022, 100, f"BENCH-{i}:1-100" if blocks else f"BENCH-{i}"])


def timed(args: list[str], url: str) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run([str(BINARY), *args], capture_output=True, text=True, env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"})
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{args}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return elapsed, p.stdout.splitlines()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        verra, records, blocks = Path(d) / "verra.csv", Path(d) / "records.csv", Path(d) / "blocks.csv"
        verra_file(verra, a.rows)
        records_file(records, a.rows)
        records_file(blocks, a.rows, blocks=True)
        print(f"{a.rows} rows, {verra.stat().st_size / 1e6:.1f} MB of Verra CSV")
        dry, line = timed(["import", "--dry-run", str(verra)], f"sqlite:///{d}/dry.db")
        print(f"dry run:                {dry:6.1f} s   {line}")
        full, line = timed(["import", str(verra)], f"sqlite:///{d}/verra.db")
        print(f"verra import:           {full:6.1f} s   {line}")
        again, line = timed(["import", str(verra)], f"sqlite:///{d}/verra.db")
        print(f"verra import again:     {again:6.1f} s   {line}")
        plain, line = timed(["import", str(records)], f"sqlite:///{d}/records.db")
        print(f"records import:         {plain:6.1f} s   {line}")
        block_rows, line = timed(["import", str(blocks)], f"sqlite:///{d}/blocks.db")
        print(f"records import, blocks: {block_rows:6.1f} s   {line}")
        print(f"verra import / records import: {full / plain:.2f}x the time; target: verra import < 30 s")


if __name__ == "__main__":
    main()
