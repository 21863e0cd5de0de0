"""Pure-Python reference of registry serial parsing (SPEC §6).

The independent oracle for every host's serial tests: standard library only
(``re``), one regular expression per scheme, written from the SPEC's table and
sharing no code with the Rust core. ``tests/vectors/serials.json`` is written
from this module by ``tests/vectors/generate.py``.

Public API:

* ``parse(canonical) -> dict | None``: the block a canonical serial (SPEC §2:
  stripped, lowercased, NFKC) names: ``scheme``, ``prefix`` (the text before
  the range), ``start`` and ``end`` (decimal text without leading zeros),
  ``suffix`` (the text after the range), and the scheme's ``project``,
  ``vintage`` and ``country`` where it has them (else ``None``); ``None`` when
  the serial is not a block (no scheme matches, ``start > end``, a number
  beyond 2^64 - 1, or more than 2^64 - 1 credits);
* ``render(canonical, start, end) -> str``: the serial of the sub-range
  ``start..=end`` of that block, in the scheme's own notation: only the two
  numbers change, each zero-padded to the width it had when it had leading
  zeros.
"""

from __future__ import annotations

import re
from typing import Any, Optional

U64_MAX = 2**64 - 1

N = r"(?P<start>[0-9]+)"
E = r"(?P<end>[0-9]+)"

# Each scheme: (name, pattern, separator between start and end). The patterns
# match the whole canonical serial; `pre` and `post` are the text around the
# range, which children keep.
SCHEMES: list[tuple[str, re.Pattern[str]]] = [
    (
        "verra",
        re.compile(
            r"(?P<pre>[0-9]+-)" + N + "(?P<sep>-)" + E
            + r"(?P<post>-(?:vcs-)?vcu-[0-9]+-(?:ver|apx|mer)-(?P<country>[a-z]{2})-[0-9]+-(?P<project>[0-9]+)"
            r"-[0-9]{8}-[0-9]{4}(?P<vintage>[0-9]{4})-[01])"
        ),
    ),
    (
        "gold-standard",
        re.compile(
            r"(?P<pre>gs1-1-(?P<country>[a-z]{2})-gs(?P<project>[0-9]+)-[0-9]+-(?P<vintage>[0-9]{4})-[0-9]+-)"
            + N + "(?P<sep>-)" + E + "(?P<post>)"
        ),
    ),
    (
        "acr",
        re.compile(
            r"(?P<pre>acr-(?P<country>[a-z]{2})-(?P<project>[0-9]+)-(?P<vintage>[0-9]{4})-[0-9]+-)"
            + N + "(?P<sep> to |-)" + E + "(?P<post>)"
        ),
    ),
    (
        "car",
        re.compile(
            r"(?P<pre>car-(?:1|roc)-(?P<country>[a-z]{2})-(?P<project>[0-9]+)-[0-9]+-[0-9]+-[a-z]{2}-(?P<vintage>[0-9]{4})-[0-9]+-)"
            + N + "(?P<sep> to )" + E + "(?P<post>)"
        ),
    ),
    (
        "art-trees",
        re.compile(
            r"(?P<pre>(?:art|fcpf)-(?P<country>[a-z]{2})-(?P<project>[0-9]+)-(?P<vintage>[0-9]{4})-[0-9]+-)"
            + N + "(?P<sep> to )" + E + "(?P<post>)"
        ),
    ),
    (
        "puro",
        re.compile(
            r"(?P<pre>puro_pr_[^_]+_(?P<country>[a-z]{2})_(?P<project>[^_]+)_(?P<vintage>[0-9]{4})_[0-9a-f-]+_)"
            + N + "(?P<sep>-)" + E + "(?P<post>)"
        ),
    ),
    (
        "undp",
        re.compile(
            r"(?P<pre>[a-z0-9]+-(?P<country>[a-z]{2})-[a-z]{2}-(?P<project>[0-9]+)-)"
            + N + "(?P<sep>-)" + E + r"(?P<post>-(?P<vintage>[0-9]{4}))"
        ),
    ),
]

GENERIC = re.compile(r"(?P<pre>.+:)" + N + "(?P<sep>-)" + E + "(?P<post>)")


def _cdm(canonical: str) -> Optional[dict[str, Any]]:
    """Two unit serials joined by `` - ``, equal but for one numeric field."""
    halves = canonical.split(" - ")
    if len(halves) != 2:
        return None
    a, b = (h.split("-") for h in halves)
    if len(a) != len(b) or len(a) < 2:
        return None
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(differ) != 1:
        return None
    i = differ[0]
    if not (re.fullmatch(r"[0-9]+", a[i]) and re.fullmatch(r"[0-9]+", b[i])):
        return None
    pre = "-".join(a[:i]) + ("-" if i > 0 else "")
    post = ("-" if i < len(a) - 1 else "") + "-".join(a[i + 1:])
    country = a[0] if re.fullmatch(r"[a-z]{2}", a[0]) else None
    return {"scheme": "cdm", "pre": pre, "start": a[i], "sep": post + " - " + pre, "end": b[i], "post": post,
            "country": country, "project": None, "vintage": None}


def _match(canonical: str) -> Optional[dict[str, Any]]:
    for name, pattern in SCHEMES:
        m = pattern.fullmatch(canonical)
        if m:
            groups = m.groupdict()
            return {"scheme": name, **{k: groups.get(k) for k in ("pre", "start", "sep", "end", "post", "country", "project", "vintage")}}
    cdm = _cdm(canonical)
    if cdm:
        return cdm
    m = GENERIC.fullmatch(canonical)
    if m:
        return {"scheme": "generic", **m.groupdict(), "country": None, "project": None, "vintage": None}
    return None


def parse(canonical: str) -> Optional[dict[str, Any]]:
    m = _match(canonical)
    if m is None:
        return None
    start, end = int(m["start"]), int(m["end"])
    if start > U64_MAX or end > U64_MAX or start > end or end - start + 1 > U64_MAX:
        return None
    return {
        "scheme": m["scheme"],
        "prefix": m["pre"],
        "start": str(start),
        "end": str(end),
        "suffix": m["post"],
        "project": m["project"],
        "vintage": int(m["vintage"]) if m["vintage"] is not None else None,
        "country": m["country"],
    }


def _width(original: str, value: int) -> str:
    text = str(value)
    if len(original) > 1 and original.startswith("0"):
        return text.rjust(len(original), "0")
    return text


def render(canonical: str, start: int, end: int) -> str:
    m = _match(canonical)
    if m is None or parse(canonical) is None:
        raise ValueError(f"not a block: {canonical!r}")
    return str(m["pre"]) + _width(m["start"], start) + str(m["sep"]) + _width(m["end"], end) + str(m["post"])
