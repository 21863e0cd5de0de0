"""Carbon Credit Tracker for Python: v1 record ids, validation and the credit
lifecycle, and certificates of the verifiable log checked offline, computed by
the same Rust core as the REST server and the browser.

>>> import carbon_tracker
>>> carbon_tracker.record_id(project_name="Solar Farm", registry="VCS", vintage=2023,
...                          quantity="100.1", serial_number="VCS-001")
'a5bc4dc91565de74176de49c87f05596fdaecb63004268bc71473c4f1fda6187'
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Literal, Mapping, NamedTuple, Optional, Protocol, Sequence, TypedDict, Union, overload

from . import _native
from ._native import record_id
from ._errors import CertificateError, FieldError, TransitionError, ValidationError

__all__ = [
    "ArrowIds",
    "ERROR_CODES",
    "ID_SCHEME",
    "RECORD_FIELDS",
    "RETIREMENT_PURPOSES",
    "TRANSITION_CODES",
    "CanonicalRecord",
    "CertificateError",
    "Checkpoint",
    "DerivedId",
    "FieldError",
    "RecordState",
    "TransitionError",
    "ValidationError",
    "VerifiedCertificate",
    "apply",
    "canonicalize",
    "derive_id",
    "key_fingerprint",
    "open_checkpoint",
    "record_id",
    "parse_serial",
    "record_ids",
    "replay",
    "split_block",
    "state_at",
    "validate",
    "verify_certificate",
]

#: The id scheme this package computes.
ID_SCHEME: str = _native.ID_SCHEME

#: A quantity: ``str``, ``int`` and ``Decimal`` are exact; a ``float`` reads as its ``repr``.
Quantity = Union[str, int, Decimal, float]
Vintage = Union[int, str]


#: The five input fields of a record, in the order of the canonical line (the core's list).
RECORD_FIELDS: tuple[str, ...] = tuple(_native.RECORD_FIELDS)
#: Every ``FieldError.code`` (the core's list).
ERROR_CODES: tuple[str, ...] = tuple(_native.ERROR_CODES)
#: Every ``TransitionError.code`` (the core's list).
TRANSITION_CODES: tuple[str, ...] = tuple(_native.TRANSITION_CODES)
#: The values a retirement's ``purpose`` takes (SPEC §6; the core's list).
RETIREMENT_PURPOSES: tuple[str, ...] = tuple(_native.RETIREMENT_PURPOSES)


@dataclass(frozen=True)
class CanonicalRecord:
    """A record's canonical fields: what its v1 id is computed from."""

    project_name: str
    registry: str
    vintage: int
    quantity: str
    serial_number: str

    def as_dict(self) -> dict[str, Any]:
        """The canonical fields, as the REST API returns them."""
        return asdict(self)


@dataclass(frozen=True)
class DerivedId:
    """A record's v1 id and the canonical fields it was computed from: the
    body ``POST /ids`` answers."""

    id: str
    canonical: CanonicalRecord

    def as_dict(self) -> dict[str, Any]:
        """``{"id": …, "canonical": {…}}``, as the REST API returns it."""
        return {"id": self.id, "canonical": self.canonical.as_dict()}


@overload
def canonicalize(fields: Mapping[str, Any], /) -> CanonicalRecord: ...
@overload
def canonicalize(*, project_name: str, registry: str, vintage: Vintage, quantity: Quantity,
                 serial_number: str) -> CanonicalRecord: ...
def canonicalize(*args: Any, **kwargs: Any) -> CanonicalRecord:
    """The canonical fields of a record, from a mapping or keyword arguments;
    raises :class:`ValidationError`."""
    return CanonicalRecord(*_native.canonicalize(*args, **kwargs))


@overload
def derive_id(fields: Mapping[str, Any], /) -> DerivedId: ...


@overload
def derive_id(*, project_name: str, registry: str, vintage: Vintage, quantity: Quantity,
              serial_number: str) -> DerivedId: ...


def derive_id(*args: Any, **kwargs: Any) -> DerivedId:
    """The v1 id and the canonical fields of a record, from a mapping or
    keyword arguments; raises :class:`ValidationError`."""
    id_, canonical = _native.derive_id(*args, **kwargs)
    return DerivedId(id_, CanonicalRecord(*canonical))


@overload
def validate(fields: Mapping[str, Any], /) -> list[FieldError]: ...
@overload
def validate(*, project_name: Any = ..., registry: Any = ..., vintage: Any = ..., quantity: Any = ...,
             serial_number: Any = ...) -> list[FieldError]: ...
def validate(*args: Any, **kwargs: Any) -> list[FieldError]:
    """Every problem of a record, in field order; empty when it is valid."""
    return [FieldError(*e) for e in _native.validate(*args, **kwargs)]


class ArrowStream(Protocol):
    """A table with the Arrow PyCapsule stream interface: a pyarrow ``Table``,
    a polars or pandas (2.2+) ``DataFrame``…"""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...


class ArrowArray(Protocol):
    """An array or record batch with the Arrow PyCapsule array interface."""

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any: ...


#: Columnar input: a table (or record batch) with the Arrow PyCapsule
#: interface, or a mapping of field names to Arrow columns.
Columns = Union[ArrowStream, ArrowArray, Mapping[str, Union[ArrowStream, ArrowArray]]]

#: The extra that brings pyarrow (and so pandas' Arrow export).
_ARROW_EXTRA = "pip install 'carbon-tracker[arrow]' (pyarrow)"


class ArrowIds(NamedTuple):
    """The ids of columnar rows with ``errors="collect"``: ``ids``, an Arrow
    string array with a null at each invalid row, and ``errors``, the invalid
    rows' :class:`ValidationError` (``.row`` set), in row order."""

    ids: Any
    errors: list[ValidationError]


def _is_arrow(obj: object) -> bool:
    return hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__")


def _columnar(rows: object) -> Any:
    """``rows`` as the native columnar reader takes it, or ``None`` for rows of mappings."""
    if _is_arrow(rows):
        return rows
    if type(rows).__module__.split(".")[0] == "pandas" and hasattr(rows, "columns"):
        # pandas before 2.2 has no __arrow_c_stream__: through pyarrow.
        try:
            pyarrow = importlib.import_module("pyarrow")
        except ImportError:
            raise ImportError(f"a pandas DataFrame is read through pyarrow: {_ARROW_EXTRA}") from None
        return pyarrow.Table.from_pandas(rows, preserve_index=False)
    if isinstance(rows, Mapping) and any(_is_arrow(v) for v in rows.values()):
        return dict(rows)
    return None


def _arrow_array(native: Any) -> Any:
    """The native Arrow array as a ``pyarrow.Array`` (zero-copy), or as it
    is (it has ``__arrow_c_array__``) when pyarrow is not installed."""
    try:
        pyarrow = importlib.import_module("pyarrow")
    except ImportError:
        return native
    return pyarrow.array(native)


@overload
def record_ids(rows: Columns, *, errors: Literal["raise"] = "raise", output: Literal["arrow"] = "arrow") -> Any: ...
@overload
def record_ids(rows: Columns, *, errors: Literal["collect"], output: Literal["arrow"] = "arrow") -> ArrowIds: ...
@overload
def record_ids(rows: Iterable[Mapping[str, Any]], *, errors: Literal["raise"] = "raise") -> list[str]: ...
@overload
def record_ids(rows: Iterable[Mapping[str, Any]], *, errors: Literal["collect"]) -> list[Union[str, ValidationError]]: ...
@overload
def record_ids(rows: Columns, *, errors: Literal["raise"] = "raise", output: Literal["list"]) -> list[str]: ...
@overload
def record_ids(
    rows: Columns, *, errors: Literal["collect"], output: Literal["list"]
) -> list[Union[str, ValidationError]]: ...
def record_ids(
    rows: Union[Iterable[Mapping[str, Any]], Columns],
    *,
    errors: Literal["raise", "collect"] = "raise",
    output: Optional[Literal["arrow", "list"]] = None,
) -> Any:
    """The v1 ids of many records, in input order, computed without holding the GIL.

    ``rows`` is an iterable of mappings, or columns: a table with the Arrow
    PyCapsule interface (a pyarrow ``Table`` or ``RecordBatch``, a polars or
    pandas ``DataFrame``) or a mapping of field names to Arrow columns. Columns
    are read without a Python object per row, and their ids come back as an
    Arrow string array (a ``pyarrow.Array``; ``output="list"``: a list).

    With ``errors="raise"`` (the default) the first invalid row raises its
    :class:`ValidationError` (its ``row`` says which); with ``errors="collect"``
    each invalid row's ``ValidationError`` takes its place in the list, or,
    for Arrow output, a null takes its place and the errors come beside the
    ids in an :class:`ArrowIds`.
    """
    if errors not in ("raise", "collect"):
        raise ValueError('errors must be "raise" or "collect"')
    if output not in (None, "arrow", "list"):
        raise ValueError('output must be "arrow" or "list"')
    columns = _columnar(rows)
    if columns is None:
        if output == "arrow":
            raise TypeError('output="arrow" is for columnar input (an Arrow table or a mapping of Arrow columns)')
        return _native.record_ids(rows, errors == "collect")
    ids, row_errors = _native.record_ids_arrow(columns, errors == "collect", output == "list")
    if output == "list":
        return ids
    array = _arrow_array(ids)
    return ArrowIds(array, row_errors) if errors == "collect" else array


@dataclass(frozen=True)
class RecordState:
    """A record's state after some prefix of its events."""

    record_id: str
    status: str
    last_seq: int
    created_at: datetime
    updated_at: datetime
    owner: Optional[str]

    def as_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data (RFC 3339 timestamps, as ``datetime.isoformat`` writes them)."""
        return {**asdict(self), "created_at": _rfc3339(self.created_at), "updated_at": _rfc3339(self.updated_at)}


def _rfc3339(value: Union[datetime, str]) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware datetimes (e.g. datetime.now(timezone.utc))")
    return value.isoformat()


def _parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _payload_value(value: Any) -> Any:
    """A payload value in a form JSON (and so the core) can hold."""
    if isinstance(value, Decimal):
        return str(value)  # exact
    if isinstance(value, float) and not math.isfinite(value):
        # No JSON form: passed as a one-element list so the core reports the
        # field's type error instead of reading it as absent.
        return [repr(value)]
    return value


def _event_data(event: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(event)
    if isinstance(data.get("payload"), Mapping):
        data["payload"] = {k: _payload_value(v) for k, v in data["payload"].items()}
    if "created_at" in data:
        data["created_at"] = _rfc3339(data["created_at"])
    if "id" in data:
        data["id"] = str(data["id"])
    return data


def _state(data: Mapping[str, Any]) -> RecordState:
    return RecordState(
        record_id=data["record_id"],
        status=data["status"],
        last_seq=data["last_seq"],
        created_at=_parse_instant(data["created_at"]),
        updated_at=_parse_instant(data["updated_at"]),
        owner=data["owner"],
    )


def replay(events: Sequence[Mapping[str, Any]]) -> RecordState:
    """The state a record's events add up to; raises :class:`TransitionError`.

    Events are mappings shaped as the REST API writes them (``id``,
    ``record_id``, ``seq``, ``event_type``, ``payload``, ``created_at``);
    ``created_at`` may be an aware ``datetime`` or RFC 3339 text.
    """
    return _state(_native.replay([_event_data(e) for e in events]))


def apply(state: Optional[RecordState], event: Mapping[str, Any]) -> RecordState:
    """The state after ``event``, from the state before it (``None``: no events yet)."""
    before = None if state is None else state.as_dict()
    return _state(_native.apply(before, _event_data(event)))


def state_at(events: Sequence[Mapping[str, Any]], at: Union[datetime, str]) -> Optional[RecordState]:
    """The state as of ``at``, or ``None`` if the record did not exist yet."""
    data = _native.state_at([_event_data(e) for e in events], _rfc3339(at))
    return None if data is None else _state(data)


def parse_serial(serial: str) -> Optional[dict[str, Any]]:
    """The block a registry serial names (SPEC §6), or ``None`` when it is not
    a block: ``{scheme, prefix, start, end, suffix, project, vintage,
    country}``, ``start`` and ``end`` as decimal text (they may exceed 2**53).
    The serial is canonicalized first, as a record's is."""
    block: Optional[dict[str, Any]] = _native.parse_serial(serial)
    return block


def split_block(
    record: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    action: Literal["SOLD", "RETIRED", "CANCELLED"],
    payload: Optional[Mapping[str, Any]] = None,
    *,
    now: Union[datetime, str, None] = None,
) -> dict[str, Any]:
    """What an action on a record does (SPEC §6), computed offline.

    ``record`` is the record's five fields, ``events`` its history, ``payload``
    the action's payload: with a ``quantity`` below the record's, on a block,
    the result is ``{"split": {"parent", "front", "back"}}`` (the parent's
    ``SPLIT`` event, and each child's ``record``, ``id`` and ``events``);
    otherwise ``{"whole": event}``. ``now`` defaults to the current time.
    Raises :class:`TransitionError` (``insufficient_quantity``,
    ``not_divisible``, ``already_final``, ``invalid_payload``…) or
    :class:`ValidationError` for a bad record.
    """
    at = datetime.now(timezone.utc) if now is None else now
    data = {k: _payload_value(v) for k, v in (payload or {}).items()}
    text = _native.act(record, [_event_data(e) for e in events], action, data or None, _rfc3339(at))
    result: dict[str, Any] = json.loads(text)
    return result


class Checkpoint(TypedDict):
    """A signed checkpoint's body (C2SP tlog-checkpoint): the log's name, its
    number of leaves and its root hash (64 lowercase hex digits)."""

    origin: str
    size: int
    root: str


class VerifiedCertificate(TypedDict):
    """What a valid certificate proves: the checkpoint its proofs lead to
    (signed by the pinned key), the certified record's state (the replay of
    its events) and the ids from the registered block down to the record."""

    checkpoint: Checkpoint
    state: RecordState
    lineage: list[str]


def _checkpoint(data: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint(origin=data["origin"], size=data["size"], root=data["root"])


def _json_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        # RFC 8785 reads every number as an IEEE double, so the leaf is the
        # same; pass the JSON text to keep a number's exact spelling.
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def verify_certificate(
    bundle: Union[str, bytes, Mapping[str, Any]],
    key: str,
    trusted: Optional[tuple[Union[str, Mapping[str, Any]], Sequence[str]]] = None,
) -> VerifiedCertificate:
    """Verifies a record's certificate offline (SPEC §7) against the log key
    you pinned, recomputing everything: the checkpoint's signature, every
    event's inclusion proof, the replay of each history by the lifecycle
    rules, every v1 id and the lineage back to the registered block.

    ``bundle`` is the certificate ``GET /records/{id}/certificate`` serves: its
    JSON text (``str`` or ``bytes``; numbers keep their exact spelling) or the
    ``dict`` ``json.loads`` gives. ``key`` is the log's verifier key text
    (``GET /log/key``). ``trusted`` is ``(checkpoint, proof)``: a checkpoint
    you hold from before (its signed note text, opened with ``key``, or a
    ``{origin, size, root}`` mapping such as an earlier result's
    ``"checkpoint"``) and the consistency proof from it to the certificate's
    checkpoint (``GET /log/consistency?from=OLD&to=NEW``'s ``proof``, hex
    hashes); the certificate's log must extend it. A checkpoint you hold that
    is newer than the certificate's works too, with the proof from the
    certificate's size to yours: the certificate's log must be a prefix of
    it.

    Returns ``{"checkpoint": {origin, size, root}, "state": RecordState,
    "lineage": [ids]}``. Raises :class:`CertificateError` saying what failed
    (``code``: ``signature``, ``proof``, ``replay``, ``id``, ``lineage`` or
    ``consistency``; ``detail``: the inner code), or ``ValueError`` for a
    bundle that is not a certificate or a key that is not a verifier key.
    """
    if isinstance(bundle, bytes):
        text = bundle.decode("utf-8")
    elif isinstance(bundle, str):
        text = bundle
    else:
        text = json.dumps(bundle, ensure_ascii=False, default=_json_number)
    native_trusted = None
    if trusted is not None:
        checkpoint, proof = trusted
        if isinstance(proof, str):
            raise TypeError("the consistency proof is a sequence of hex hashes, not one string")
        native_trusted = (checkpoint if isinstance(checkpoint, str) else dict(checkpoint), list(proof))
    data = _native.verify_certificate(text, key, native_trusted)
    return VerifiedCertificate(
        checkpoint=_checkpoint(data["checkpoint"]),
        state=_state(data["state"]),
        lineage=list(data["lineage"]),
    )


def open_checkpoint(note: str, key: str) -> Checkpoint:
    """The checkpoint a signed note carries (``GET /log/checkpoint``), once its
    signature by the pinned ``key`` is verified and its origin found to be the
    key's name: ``{origin, size, root}``. Raises :class:`CertificateError`
    with ``code`` ``"signature"`` (``detail``: ``unverified_note``,
    ``invalid_signature``, ``malformed_note``, ``wrong_origin``…)."""
    return _checkpoint(_native.open_checkpoint(note, key))


def key_fingerprint(key: str) -> str:
    """The fingerprint of a verifier key, to compare a pinned key with the one
    its operator publishes (and with the certificate page's): the SHA-256 of
    its type byte and public key, 64 hex digits."""
    return _native.key_fingerprint(key)
