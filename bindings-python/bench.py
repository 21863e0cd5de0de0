#!/usr/bin/env python3
"""carbon_tracker against pure-Python ids of the same rows, in one process.

    python bindings-python/bench.py            # after pip install './bindings-python[arrow,polars,pandas]'

The baseline is the six lines a Python user would write for a v1 id
(`six_line_id` below: strip/lower/NFKC, Decimal quantize, an f-string,
hashlib) — it validates nothing. The validating pure-Python reference
(tests/reference/ids_v1.py) is timed beside it for the single-id figure.

Each figure is µs per id, the best of several runs of each, the package and
the baseline alternating so that both see the same machine, and the ratio of
the two. Without pyarrow, polars or pandas, their lines are left out.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import unicodedata
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reference"))

import carbon_tracker as ct  # noqa: E402
import ids_v1  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "seed" / "sample-registry.json"


def six_line_id(r: Any) -> str:
    """What a Python user would write instead: no validation at all."""
    def t(s: str) -> str: return unicodedata.normalize("NFKC", s.strip().lower())
    q = Decimal(str(r["quantity"])).quantize(Decimal("0.0001"), ROUND_DOWN)
    line = f"{t(r['project_name'])}|{t(r['registry'])}|{int(r['vintage'])}|{q}|{t(r['serial_number'])}"
    return hashlib.sha256(line.encode()).hexdigest()


def paired_best(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best times of `a` and `b`, run in alternation so that both see the same machine."""
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((a, times_a), (b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return min(times_a), min(times_b)


def line(name: str, package: float, baseline: float, n: int, target: Optional[float]) -> None:
    p, b = package / n * 1e6, baseline / n * 1e6
    goal = f"(target >= {target:g}x)" if target else ""
    print(f"  {name:<34} {p:8.3f} us/id   six-line {b:7.3f} us/id   {b / p:6.1f}x {goal}")


def registry_rows(sample: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """`n` distinct registry-like rows: the sample's records with numbered serials."""
    return [
        dict(sample[i % len(sample)], serial_number=f"{sample[i % len(sample)]['serial_number']}-{i:07d}")
        for i in range(n)
    ]


def main() -> None:
    sample: list[dict[str, Any]] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    for row in registry_rows(sample, 1000):
        assert ct.record_id(row) == ids_v1.record_id(row) == six_line_id(row)
    print(f"python {sys.version.split()[0]}, carbon_tracker ids against the six-line pure-Python id")

    calls = registry_rows(sample, 20_000)
    n = len(calls)
    native, six = paired_best(lambda: [ct.record_id(r) for r in calls], lambda: [six_line_id(r) for r in calls], 7)
    line("record_id(mapping)", native, six, n, 6)
    _, reference = paired_best(lambda: None, lambda: [ids_v1.record_id(r) for r in calls], 3)
    print(f"  {'(validating reference ids_v1)':<34} {reference / n * 1e6:8.3f} us/id   "
          f"record_id(mapping) is {reference / native:.1f}x faster")
    native, six = paired_best(lambda: [ct.record_id(**r) for r in calls], lambda: [six_line_id(r) for r in calls], 7)
    line("record_id(**kwargs)", native, six, n, 5)

    bulk = registry_rows(sample, 100_000)
    native, six = paired_best(lambda: ct.record_ids(bulk), lambda: [six_line_id(r) for r in bulk], 5)
    line("record_ids(100,000 dicts)", native, six, len(bulk), 10)

    try:
        import pyarrow as pa  # type: ignore[import-untyped]
    except ImportError:
        print("  (pyarrow not installed: no columnar figures)")
        return
    big = registry_rows(sample, 1_000_000)
    table = pa.Table.from_pylist(big)
    assert ct.record_ids(table).to_pylist()[:1000] == [six_line_id(r) for r in big[:1000]]
    # The columnar inputs and the baseline, all in one round-robin, so that
    # the pandas/pyarrow comparison sees the same machine too.
    runs: dict[str, Callable[[], Any]] = {
        "six-line": lambda: [six_line_id(r) for r in big],
        "record_ids(pyarrow Table, 1M rows)": lambda: ct.record_ids(table),
    }
    try:
        import pandas as pd

        frame = pd.DataFrame(big)
        runs["record_ids(pandas DataFrame, 1M)"] = lambda: ct.record_ids(frame)
    except ImportError:
        print("  (pandas not installed)")
    try:
        import polars as pl

        pframe = pl.DataFrame(big)
        runs["record_ids(polars DataFrame, 1M)"] = lambda: ct.record_ids(pframe)
    except ImportError:
        print("  (polars not installed)")
    best = round_robin_best(runs, 3)
    six = best.pop("six-line")
    targets = {"record_ids(pyarrow Table, 1M rows)": 25.0}
    arrow = best["record_ids(pyarrow Table, 1M rows)"]
    for name, native in best.items():
        line(name, native, six, len(big), targets.get(name))
    if "record_ids(pandas DataFrame, 1M)" in best:
        pandas_time = best["record_ids(pandas DataFrame, 1M)"]
        print(f"  pandas / pyarrow time: {pandas_time / arrow:.2f} (target <= 1.5)")


def round_robin_best(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """The best time of each run, all run in turn `repeats` times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


if __name__ == "__main__":
    main()
