"""The exceptions of carbon_tracker, raised by the native module too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

__all__ = ["FieldError", "ValidationError", "TransitionError"]


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: its name, a stable code and a message."""

    field: str
    code: str
    message: str


def _field_errors(errors: Iterable[Tuple[str, str, str]]) -> list[FieldError]:
    return [FieldError(field, code, message) for field, code, message in errors]


class ValidationError(ValueError):
    """The input breaks the v1 rules; ``errors`` lists every problem, in field order.

    ``row`` is the index of the row, for errors from :func:`record_ids`.
    """

    errors: list[FieldError]
    row: Optional[int]

    def __init__(self, message: str, errors: Iterable[Tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.errors = _field_errors(errors)
        self.row = None


class TransitionError(Exception):
    """An event cannot follow the record's state.

    ``code`` is stable, one of ``carbon_tracker.TRANSITION_CODES`` (the core's
    list); when the payload breaks its event type's rules, ``errors`` lists
    the problems.
    """

    code: str
    errors: list[FieldError]

    def __init__(self, message: str, code: str, errors: Iterable[Tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.errors = _field_errors(errors)
