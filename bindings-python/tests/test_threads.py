"""Calling into the package from several threads at once gives the same results."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import carbon_tracker as ct
from conftest import cases


def test_threads_agree() -> None:
    ids = cases("ids.json")
    rows = [json.loads(c["body"], parse_float=Decimal) for c in ids] * 20
    expected = [c["id"] for c in ids] * 20

    def one_by_one(_: int) -> list[str]:
        return [ct.record_id(r) for r in rows]

    def in_bulk(_: int) -> list[str]:
        return ct.record_ids(rows)

    with ThreadPoolExecutor(max_workers=8) as pool:
        singles = list(pool.map(one_by_one, range(8)))
        bulks = list(pool.map(in_bulk, range(8)))
    assert all(result == expected for result in singles + bulks)
