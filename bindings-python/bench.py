#!/usr/bin/env python3
"""carbon_tracker against the pure-Python reference of the same algorithm, in one process.

    python bindings-python/bench.py            # after pip install ./bindings-python

Prints µs per id for single calls (record_id) and for bulk work (record_ids on
100,000 rows), each beside the reference (tests/reference/ids_v1.py) measured
in the same run, and the ratio: the best of five runs of each, the two
alternating so that both see the same machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reference"))

import carbon_tracker as ct  # noqa: E402
import ids_v1  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "seed" / "sample-registry.json"


def paired_best(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best times of `a` and `b`, run in alternation so that both see the same machine."""
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((a, times_a), (b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return min(times_a), min(times_b)


def main() -> None:
    sample: list[dict[str, Any]] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    for row in sample:
        assert ct.record_id(row) == ids_v1.record_id(row)

    per_call_rows = sample * 2000
    n = len(per_call_rows)
    native, reference = paired_best(
        lambda: [ct.record_id(r) for r in per_call_rows], lambda: [ids_v1.record_id(r) for r in per_call_rows], 5
    )
    native, reference = native / n, reference / n
    print(f"record_id, {len(sample)} sample records x 2000 (python {sys.version.split()[0]}):")
    print(f"  carbon_tracker.record_id  {native * 1e6:7.3f} us/id")
    print(f"  reference ids_v1          {reference * 1e6:7.3f} us/id")
    print(f"  speed-up                  {reference / native:7.1f}x")

    bulk_rows = (sample * (100_000 // len(sample) + 1))[:100_000]
    bulk, reference_bulk = paired_best(
        lambda: ct.record_ids(bulk_rows), lambda: [ids_v1.record_id(r) for r in bulk_rows], 5
    )
    bulk, reference_bulk = bulk / len(bulk_rows), reference_bulk / len(bulk_rows)
    print("record_ids, 100,000 rows:")
    print(f"  carbon_tracker.record_ids {bulk * 1e6:7.3f} us/row")
    print(f"  reference ids_v1 loop     {reference_bulk * 1e6:7.3f} us/row")
    print(f"  speed-up                  {reference_bulk / bulk:7.1f}x")


if __name__ == "__main__":
    main()
