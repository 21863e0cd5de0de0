"""The native core. Use the typed API of ``carbon_tracker`` instead."""

from decimal import Decimal
from typing import Any, Iterable, Mapping, Optional, Union, overload

from ._errors import ValidationError

ID_SCHEME: str
RECORD_FIELDS: list[str]
ERROR_CODES: list[str]
TRANSITION_CODES: list[str]
RETIREMENT_PURPOSES: list[str]

@overload
def record_id(fields: Mapping[str, Any], /) -> str:
    """The v1 id of a record, from a mapping or keyword arguments.

    ``quantity`` is exact as ``str``, ``int`` or ``Decimal``; a ``float`` reads
    as its ``repr()``. Raises ``ValidationError`` listing every problem.
    """
@overload
def record_id(
    *,
    project_name: str,
    registry: str,
    vintage: Union[int, str],
    quantity: Union[str, int, Decimal, float],
    serial_number: str,
) -> str: ...

def record_ids(rows: Any, collect_errors: bool = False) -> list[Union[str, ValidationError]]:
    """The v1 ids of many records, in order, computed without the GIL."""

def record_ids_arrow(
    data: Any, collect_errors: bool = False, as_list: bool = False
) -> tuple[Any, list[ValidationError]]:
    """``(ids, errors)`` of Arrow columns (a table with the PyCapsule interface,
    or a dict of Arrow columns): ``ids`` an Arrow string array (``__arrow_c_array__``)
    null at invalid rows, or with ``as_list`` a list; ``errors`` the invalid rows'
    errors (``.row`` set). Without ``collect_errors`` the first invalid row raises."""

def canonicalize(*args: Any, **kwargs: Any) -> tuple[str, str, int, str, str]:
    """``(project_name, registry, vintage, quantity, serial_number)`` of a mapping or keywords."""

def derive_id(*args: Any, **kwargs: Any) -> tuple[str, tuple[str, str, int, str, str]]:
    """``(id, canonical)`` of a mapping or keywords."""

def validate(*args: Any, **kwargs: Any) -> list[tuple[str, str, str]]:
    """Every problem of a mapping or keywords as ``(field, code, message)``."""

def replay(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The state a history adds up to; raises ``TransitionError``."""

def apply(state: Optional[dict[str, Any]], event: dict[str, Any]) -> dict[str, Any]:
    """The state after one event; raises ``TransitionError``."""

def state_at(events: list[dict[str, Any]], at: str) -> Optional[dict[str, Any]]:
    """The state as of an RFC 3339 instant, or ``None`` before creation."""

def parse_serial(serial: str) -> Optional[dict[str, Any]]:
    """The block a serial names, or ``None``."""

def act(record: Mapping[str, Any], events: list[dict[str, Any]], action: str, payload: Optional[dict[str, Any]], now: str) -> str:
    """``{"whole": event}`` or ``{"split": ...}`` as JSON text; raises ``TransitionError``."""

def verify_certificate(
    bundle: str, key: str, trusted: Optional[tuple[Union[str, Mapping[str, Any]], list[str]]] = None
) -> dict[str, Any]:
    """``{checkpoint, state, lineage}`` of a certificate's JSON text; raises ``CertificateError``."""

def open_checkpoint(note: str, key: str) -> dict[str, Any]:
    """``{origin, size, root}`` of a signed checkpoint note; raises ``CertificateError``."""

def key_fingerprint(key: str) -> str:
    """The SHA-256 of a verifier key's type byte and public key, as hex."""
