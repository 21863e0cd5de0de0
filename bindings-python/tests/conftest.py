"""Shared helpers: the conformance vectors and the pure-Python reference, by path."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
sys.path.insert(0, str(ROOT / "tests" / "reference"))


def cases(name: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    result: list[dict[str, Any]] = data["cases"]
    return result
