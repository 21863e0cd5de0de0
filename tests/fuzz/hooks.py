"""Schemathesis hooks for tests/fuzz/run.py (loaded through SCHEMATHESIS_HOOKS).

An `Idempotency-Key` (SPEC §8) is the client's promise that a request with
that key is the same request: the server answers 422
`idempotency_key_reused` when the key comes again with another body, and a
generator that draws keys from a small space sends the same key with many
bodies. A valid generated key is made unique here, so that each request
means what its body says; malformed keys (negative cases: empty, too long,
not printable ASCII) go out as generated. Replays and reuse are the contract
suite's (tests/contract/test_access.py).

schemathesis.toml lets a sale, retirement or cancellation answer a
schema-valid body with 422, for SPEC §6's `not_divisible` (a partial action
on a record that is not a block: what is stored decides, not the body). The
check below keeps the rest of that check's teeth: any other 422 to a
schema-valid body is a fault of the document or of the server.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import schemathesis

_counter = itertools.count()

# The operations whose 422 may depend on what is stored (schemathesis.toml).
_ACTIONS = re.compile(r"^/records/\{id\}/(sell|retire|cancel)$")


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


@schemathesis.check
def schema_valid_actions_refused_only_as_not_divisible(ctx: Any, response: Any, case: Any) -> None:
    """A schema-valid body to sell, retire or cancel gets no 422 but
    `not_divisible` (SPEC §6)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if response.status_code != 422 or not _ACTIONS.match(case.operation.path):
        return
    try:
        code = response.json().get("code")
    except ValueError:
        code = None
    if code != "not_divisible":
        raise AssertionError(
            f"a schema-valid body got 422 `{code}`: of the 422s, only `not_divisible` depends on what is stored"
        )
