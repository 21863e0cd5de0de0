"""The exceptions of carbon_tracker, raised by the native module too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

__all__ = ["CertificateError", "FieldError", "ValidationError", "TransitionError"]


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


class CertificateError(ValueError):
    """A certificate (or a checkpoint) does not verify against the pinned key.

    ``code`` says what failed, the core's ``CertificateError::code()``:
    ``"signature"`` (the checkpoint is not signed by the key, or is not a
    checkpoint of its log), ``"proof"`` (an event is not in the log as shown:
    a tampered event, record or proof), ``"replay"`` (the history breaks the
    lifecycle rules), ``"id"`` (an id is not the one the fields give),
    ``"lineage"`` (the records are not one line of descent, or a child is not
    what its parent's split makes) or ``"consistency"`` (the checkpoint and
    the trusted one do not extend each other). ``detail`` is the code of what
    failed inside (``"root_mismatch"``, ``"unverified_note"``,
    ``"out_of_sequence"``, ``"missing_ancestor"``, ``"not_derived"``…), or
    ``None`` for ``"id"``. The message names the record and event.

    A subclass of ``ValueError``, as are the errors for input that is not a
    certificate or a key at all, so ``except ValueError`` catches every refusal.
    """

    code: str
    detail: Optional[str]

    def __init__(self, message: str, code: str, detail: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail
