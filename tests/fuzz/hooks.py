"""Schemathesis hooks for tests/fuzz/run.py (loaded through SCHEMATHESIS_HOOKS).

An `Idempotency-Key` (SPEC §8) is the client's promise that a request with
that key is the same request: the server answers 422
`idempotency_key_reused` when the key comes again with another body, and a
generator that draws keys from a small space sends the same key with many
bodies. A valid generated key is made unique here, so that each request
means what its body says; malformed keys (negative cases: empty, too long,
not printable ASCII) go out as generated. Replays and reuse are the contract
suite's (tests/contract/test_access.py).
"""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

_counter = itertools.count()


def _valid(key: object) -> bool:
    return isinstance(key, str) and 1 <= len(key) <= 255 and all(0x20 <= ord(c) <= 0x7E for c in key)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Runs before every request of every phase."""
    for headers in (case.headers, kwargs.get("headers")):
        if not headers:
            continue
        for name in list(headers):
            if name.lower() == "idempotency-key" and _valid(headers[name]):
                suffix = f"#{next(_counter)}"
                headers[name] = headers[name][: 255 - len(suffix)] + suffix
