"""`GET /summary` (issue 16, part 5): credits and records per registry,
vintage, status and holder over the leaves of every tree, on both backends.

The test keeps its own model of the portfolio: which records are leaves, and
each leaf's registry, vintage, status, holder and quantity, from the
quantities it sends and SPEC §6's rules (a partial action splits the block
it reaches: the front child takes the action, the back child is the
remainder, ACTIVE, and both inherit the holder). The expected totals are
sums over that model, with Python's exact `Decimal`, never the server's
numbers; the server's ids only name the model's leaves.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Iterator, Optional
from urllib.parse import quote

import pytest

from conftest import Server, assert_problem, new_record

KEYS = ("registry", "vintage", "status", "holder")
STATUS_ORDER = ("ACTIVE", "SOLD", "RETIRED", "CANCELLED")
ACTIONS = {"sell": "SOLD", "retire": "RETIRED", "cancel": "CANCELLED"}


@dataclass(frozen=True)
class Leaf:
    registry: str
    vintage: int
    status: str
    holder: Optional[str]
    quantity: Decimal


class Portfolio:
    """The records the test made, and its model of their leaves."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.leaves: dict[str, Leaf] = {}
        # The leaf a partial action addressed to a split block reaches.
        self.remainder: dict[str, str] = {}
        self.registered = Decimal(0)

    def register(self, registry: str, vintage: int, quantity: str, serial: str) -> str:
        r = self.server.post("/records", new_record(
            registry=registry, vintage=vintage, quantity=quantity, serial_number=serial,
        ))
        assert r.status == 201, r.raw
        rid: str = r.json["id"]
        self.leaves[rid] = Leaf(registry.strip().lower(), vintage, "ACTIVE", None, Decimal(quantity))
        self.registered += Decimal(quantity)
        return rid

    def act(self, rid: str, action: str, quantity: Optional[int] = None, buyer: Optional[str] = None) -> str:
        """Acts on `rid`; returns the id of the leaf that took the action."""
        body: dict[str, Any] = {}
        if quantity is not None:
            body["quantity"] = quantity
        if buyer is not None:
            body["buyer"] = buyer
        r = self.server.post(f"/records/{rid}/{action}", body)
        assert r.status == 200, r.raw
        target = self.remainder.get(rid, rid)
        leaf = self.leaves.pop(target)
        status = ACTIONS[action]
        holder = buyer.strip() if buyer is not None else leaf.holder
        if quantity is None or Decimal(quantity) == leaf.quantity:
            assert "split" not in r.json, r.json
            self.leaves[target] = replace(leaf, status=status, holder=holder)
            return target
        split = r.json["split"]
        assert split["parent"]["record_id"] == target
        front: str = split["front"]["id"]
        back: str = split["back"]["id"]
        self.leaves[front] = replace(leaf, status=status, holder=holder, quantity=Decimal(quantity))
        self.leaves[back] = replace(leaf, status="ACTIVE", quantity=leaf.quantity - Decimal(quantity))
        for root, at in list(self.remainder.items()):
            if at == target:
                self.remainder[root] = back
        self.remainder[rid] = back
        self.remainder[target] = back
        return front

    def expected(self, keys: tuple[str, ...]) -> list[dict[str, Any]]:
        """The groups `GET /summary?group_by=keys` must answer, in order."""
        groups: dict[tuple[Any, ...], tuple[int, Decimal]] = {}
        for leaf in self.leaves.values():
            key = tuple(getattr(leaf, k) for k in keys)
            count, total = groups.get(key, (0, Decimal(0)))
            groups[key] = (count + 1, total + leaf.quantity)
        if not keys and not groups:
            groups[()] = (0, Decimal(0))

        def order(key: tuple[Any, ...]) -> tuple[Any, ...]:
            out: list[Any] = []
            for name, value in zip(keys, key):
                if name == "status":
                    out.append(STATUS_ORDER.index(value))
                elif name == "holder":
                    out.append((value is not None, value or ""))
                else:
                    out.append(value)
            return tuple(out)

        return [
            {**dict(zip(keys, key)), "records": count, "quantity": f"{total:.4f}"}
            for key, (count, total) in sorted(groups.items(), key=lambda kv: order(kv[0]))
        ]


def ordered_subsets() -> Iterator[tuple[str, ...]]:
    for n in range(len(KEYS) + 1):
        yield from itertools.permutations(KEYS, n)


@pytest.fixture(scope="module")
def portfolio(server: Server) -> Portfolio:
    """Blocks split by partial sales, retirements and cancellations, in several
    registries, vintages and holders, plus plain records near the largest
    quantity (their sums are past 10^14 and past what a double holds exactly)."""
    p = Portfolio(server)
    # A Verra-style block of 1,000 credits, acted on again and again.
    a = p.register("VCS", 2021, "1000", "SUMMARY-VCS-A:1-1000")
    p.act(a, "retire", 100)
    acme = p.act(a, "sell", 300, buyer="Acme Corp")
    p.act(a, "retire", 50)  # addressed to the split block: its remainder
    p.act(acme, "sell", 100, buyer=" Beta Ltd ")  # a partial resale
    acme_rest = p.remainder[acme]
    p.act(acme_rest, "retire", 40)  # retired for Acme, who holds it
    p.act(a, "cancel", 10)
    # The remainder of Acme's part, sold whole to Beta.
    p.act(p.remainder[acme_rest], "sell", buyer="Beta Ltd")
    # Another block in the same registry, another vintage.
    b = p.register("VCS", 2022, "500", "SUMMARY-VCS-B:1-500")
    p.act(b, "sell", 499, buyer="Acme Corp")
    p.act(b, "retire", 1)
    # A plain record with a fraction, sold whole; one retired whole.
    c = p.register("VCS", 2022, "250.5", "SUMMARY-VCS-C")
    p.act(c, "sell", buyer="Acme Corp")
    # A buyer with whitespace around it that SQL's trim() does not take (a
    # no-break space, a tab, Python's U+001F): the holder is Python's strip.
    c2 = p.register("VCS", 2022, "12", "SUMMARY-VCS-C2")
    p.act(c2, "sell", buyer="\u00a0\u001fDelta SA\t\u3000")
    d = p.register("Gold Standard", 2022, "0.0001", "SUMMARY-GS-D")
    p.act(d, "retire")
    # A Gold Standard block, partly sold then partly retired by the buyer.
    e = p.register("Gold Standard", 2020, "5463", "SUMMARY-GS-E:1-5463")
    gamma = p.act(e, "sell", 2000, buyer="Gamma GmbH")
    p.act(gamma, "retire", 1999)
    p.act(e, "cancel", 3463)  # the whole remainder: no split
    # The largest quantities (below 10^14), in ACR.
    p.register("ACR", 2020, "99999999999999.9999", "SUMMARY-ACR-F")
    p.register("ACR", 2020, "12345678901234.5678", "SUMMARY-ACR-G")
    p.register("ACR", 2021, "0.0003", "SUMMARY-ACR-H")
    return p


def test_every_grouping_adds_up_the_leaves(portfolio: Portfolio) -> None:
    registered = f"{portfolio.registered:.4f}"
    for keys in ordered_subsets():
        r = portfolio.server.get("/summary" + ("?group_by=" + ",".join(keys) if keys else ""))
        assert r.status == 200, (keys, r.raw)
        body = r.json
        assert body["group_by"] == list(keys)
        assert body["groups"] == portfolio.expected(keys), keys
        # The leaves tile the registered blocks: the totals are the
        # quantities registered, whatever the grouping.
        assert body["total"] == {"records": len(portfolio.leaves), "quantity": registered}, keys


def test_a_split_block_is_counted_through_its_children(portfolio: Portfolio) -> None:
    groups = portfolio.server.get("/summary?group_by=status").json["groups"]
    assert "SPLIT" not in {g["status"] for g in groups}
    vcs_2021 = portfolio.server.get("/summary?group_by=registry,vintage").json["groups"]
    assert {"registry": "vcs", "vintage": 2021, "records": 7, "quantity": "1000.0000"} in vcs_2021


def test_no_group_by_is_one_grand_total(portfolio: Portfolio) -> None:
    body = portfolio.server.get("/summary").json
    assert body["group_by"] == []
    assert body["groups"] == [{"records": len(portfolio.leaves), "quantity": f"{portfolio.registered:.4f}"}]


@pytest.mark.parametrize("query", ["?group_by=", "?group_by=%20", "?group_by=,", "?group_by=%20,%20", "?group_by=registry,", "?group_by=,vintage"])
def test_an_empty_group_by_name_is_refused(portfolio: Portfolio, query: str) -> None:
    # Found by Schemathesis: the document says each name is a key, once;
    # `group_by=,` was read as no names at all, though each name must be a
    # key, once; leave `group_by` out for one grand total.
    problem = assert_problem(portfolio.server.get("/summary" + query), 422, "invalid_query")
    assert "group_by" in problem["detail"] and "empty" in problem["detail"], problem


def test_group_by_is_read_loosely_but_exactly(portfolio: Portfolio) -> None:
    body = portfolio.server.get("/summary?group_by=%20Holder%20,VINTAGE").json
    assert body["group_by"] == ["holder", "vintage"]
    assert body["groups"] == portfolio.expected(("holder", "vintage"))


def test_the_holder_is_the_one_the_list_filter_finds(portfolio: Portfolio) -> None:
    server = portfolio.server
    for group in server.get("/summary?group_by=holder").json["groups"]:
        if group["holder"] is None:
            continue
        items = server.get(f"/records?limit=1000&holder={quote(group['holder'])}").json["items"]
        leaves = [i for i in items if i["status"] != "SPLIT"]
        assert len(leaves) == group["records"], group
        assert sum(Decimal(i["quantity"]) for i in leaves) == Decimal(group["quantity"]), group


@pytest.mark.parametrize("query", ["Delta%20SA", "%C2%A0Delta%20SA%09", "%1FDelta%20SA%E3%80%80"])
def test_the_holder_filter_strips_as_python_does(portfolio: Portfolio, query: str) -> None:
    # Found in review: the filter compared SQL's trim() of the buyer (spaces
    # only) and Rust's trim() of the query (no U+001F) with the core's holder.
    holder = "\u00a0\u001fDelta SA\t\u3000".strip()
    expected = sorted(rid for rid, leaf in portfolio.leaves.items() if leaf.holder == holder)
    assert len(expected) == 1
    items = portfolio.server.get(f"/records?limit=1000&holder={query}").json["items"]
    assert sorted(i["id"] for i in items) == expected
    assert [i["holder"] for i in items] == [holder]


@pytest.mark.parametrize("group_by,bad", [
    ("project", "project"),
    ("registry,serial_number", "serial_number"),
    ("registry,registry", "registry"),
    ("status,holder,Status", "Status"),
    ("SPLIT", "SPLIT"),
])
def test_a_bad_group_by_is_a_422_naming_it(server: Server, group_by: str, bad: str) -> None:
    body = assert_problem(server.get(f"/summary?group_by={group_by}"), 422, "invalid_query")
    assert [e["field"] for e in body["errors"]] == ["group_by"]
    assert "registry, vintage, status, holder" in body["detail"]
    assert repr(bad).replace("'", '"') in body["detail"], body["detail"]


def test_an_unknown_parameter_is_a_422(server: Server) -> None:
    assert_problem(server.get("/summary?groupby=registry"), 422, "invalid_query")


def test_an_empty_store(fresh_server: Server) -> None:
    body = fresh_server.get("/summary").json
    assert body == {"group_by": [], "groups": [{"records": 0, "quantity": "0.0000"}],
                    "total": {"records": 0, "quantity": "0.0000"}}
    body = fresh_server.get("/summary?group_by=registry,holder").json
    assert body["groups"] == [] and body["total"] == {"records": 0, "quantity": "0.0000"}


def test_the_openapi_document_describes_the_summary(server: Server) -> None:
    doc = server.get("/openapi.json").json
    op = doc["paths"]["/summary"]["get"]
    assert [p["name"] for p in op["parameters"]] == ["group_by"]
    assert {"200", "422"} <= set(op["responses"])
    schemas = doc["components"]["schemas"]
    assert {"group_by", "groups", "total"} <= set(schemas["SummaryBody"]["properties"])
    assert {"registry", "vintage", "status", "holder", "records", "quantity"} <= set(
        schemas["SummaryGroup"]["properties"])
    assert schemas["GroupKey"]["enum"] == list(KEYS)
