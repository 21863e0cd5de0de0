"""Pure-Python reference of the verifiable log of SPEC §7, the oracle for
``tests/vectors/log.json``. It shares no code with the Rust core: ``hashlib``
for SHA-256, ``json`` and ``decimal`` for RFC 8785, and the ``cryptography``
package's Ed25519 for signed notes (the one dependency outside the standard
library).

- ``jcs``: RFC 8785 canonical JSON (keys sorted by UTF-16 code units, the
  fewest string escapes, numbers as ECMAScript writes the nearest double);
- ``leaf_bytes``: an event as a leaf (SPEC §7), a CREATED event with a
  ``record`` key holding its record's canonical fields;
- ``mth``, ``inclusion_proof``, ``consistency_proof``: RFC 9162 §2.1 as its
  recursions define them;
- ``verify_inclusion``, ``verify_consistency``: by decomposing a proof into
  its inner part and its border (the way transparency-dev's Go verifier
  works), not the bit walk of RFC 9162 §2.1.3.2 / §2.1.4.2 the core
  follows, so the two agree only if both are right;
- signed notes (C2SP signed-note, with Go's ``sumdb/note`` parsing rules) and
  checkpoints (C2SP tlog-checkpoint, no extension lines);
- ``verify_certificate``: the checks of the core's ``verify_certificate``, in
  the same order, raising ``Refused(code, detail)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import struct
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Optional, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import ids_v1
import lifecycle_v1
import splits_v1

EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_SIGNATURES = 100


class Refused(Exception):
    """A refusal with the core's code (and, for certificates, the inner code)."""

    def __init__(self, code: str, detail: Optional[str] = None) -> None:
        super().__init__(code if detail is None else f"{code}: {detail}")
        self.code = code
        self.detail = detail


# ---------------------------------------------------------------- RFC 8785

def es_number(value: float) -> str:
    """ECMAScript's Number.prototype.toString for a finite double (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise Refused("not_canonical_json")
    if value == 0:
        return "0"
    # repr gives the shortest digits that read back as the same double.
    exact = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, exact.digits)).lstrip("0")
    exponent = int(exact.exponent)
    while len(digits) > 1 and digits.endswith("0"):
        digits, exponent = digits[:-1], exponent + 1
    # value = 0.d1d2...dk * 10^n
    k = len(digits)
    n = k + exponent
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return ("-" if value < 0 else "") + out


def _jcs_string(s: str) -> str:
    out = ['"']
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[c])
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def jcs(value: Any) -> str:
    """RFC 8785 text of a JSON value (numbers as int, float or Decimal)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float, Decimal)):
        return es_number(float(value))
    if isinstance(value, str):
        return _jcs_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_jcs_string(k) + ":" + jcs(value[k]) for k in keys) + "}"
    raise TypeError(f"not JSON: {value!r}")


def read_json(text: str) -> Any:
    """JSON text with its numbers kept exact (as Decimal or int)."""
    return json.loads(text, parse_float=Decimal)


# ---------------------------------------------------------------- leaves

def utc_rfc3339(text: str) -> str:
    """RFC 3339 in UTC as the core writes it: ``Z``, a fraction only when
    non-zero, without trailing zeros, up to nanoseconds (SQLite keeps them;
    ``datetime`` cannot, so the fraction is carried as text)."""
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})", text)
    if m is None:
        raise Refused("malformed_time")
    offset = "+00:00" if m.group(4) in ("Z", "z") else m.group(4)
    t = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{offset}").astimezone(timezone.utc)
    out = t.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = (m.group(3) or "").rstrip("0")
    if fraction:
        out += "." + fraction
    return out + "Z"


def leaf_bytes(event: dict[str, Any], record: Optional[dict[str, Any]]) -> bytes:
    """SPEC §7: the event's six keys, ``actor`` when the event names one
    (SPEC §8; absent or ``null``: no key, so older leaves keep their bytes),
    and ``record`` for a CREATED event."""
    created = event["event_type"] == "CREATED"
    if created != (record is not None):
        raise Refused("leaf_record")
    obj: dict[str, Any] = {
        "id": event["id"].lower(),
        "record_id": event["record_id"],
        "seq": event["seq"],
        "event_type": event["event_type"],
        "payload": event.get("payload"),
        "created_at": utc_rfc3339(event["created_at"]),
    }
    if event.get("actor") is not None:
        obj["actor"] = event["actor"]
    if record is not None:
        if line_id(record) != event["record_id"]:
            raise Refused("record_mismatch")
        obj["record"] = {k: record[k] for k in ids_v1.FIELD_ORDER}
    return jcs(obj).encode("utf-8")


def line_id(record: dict[str, Any]) -> str:
    """The v1 id of a record's canonical fields, taken as they are (SPEC §2.4:
    the SHA-256 of the five joined by ``|``). Canonicalizing canonical fields
    again need not give them back (``ℌ`` becomes ``H``, which lowercases)."""
    return hashlib.sha256(ids_v1.canonical_string(record).encode("utf-8")).hexdigest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# ---------------------------------------------------------------- RFC 9162 §2.1

def _k(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _k(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], m: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    n = len(leaves)
    if not 0 <= m < n:
        raise Refused("index_out_of_range")
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return inclusion_proof(leaves[:k], m) + [mth(leaves[k:])]
    return inclusion_proof(leaves[k:], m - k) + [mth(leaves[:k])]


def _subproof(m: int, leaves: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = _k(n)
    if m <= k:
        return _subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], m: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1; empty for m == n."""
    if not 0 < m <= len(leaves):
        raise Refused("invalid_sizes")
    return [] if m == len(leaves) else _subproof(m, leaves, True)


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != 32 for h in hashes):
        raise Refused("invalid_hash")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Inner proof size (levels below where the paths to ``index`` and to the
    last leaf part) and border size (left siblings above it)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner, bin(index >> inner).count("1")


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raises Refused unless ``proof`` proves ``leaf`` at ``index`` of the tree ``root``."""
    _check_hashes(leaf, root, *proof)
    if index >= size:
        raise Refused("index_out_of_range")
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise Refused("proof_length")
    r = _chain_inner(leaf, proof[:inner], index)
    r = _chain_border_right(r, proof[inner:])
    if r != root:
        raise Refused("root_mismatch")


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Raises Refused unless the tree (size1, root1) is a prefix of (size2, root2)."""
    _check_hashes(root1, root2, *proof)
    if size1 == 0 or size1 > size2:
        raise Refused("invalid_sizes")
    if size1 == size2:
        if proof:
            raise Refused("proof_length")
        if root1 != root2:
            raise Refused("root_mismatch")
        return
    fork, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner = fork - shift
    perfect = size1 == 1 << shift
    start = 0 if perfect else 1
    if len(proof) != start + inner + border:
        raise Refused("proof_length")
    seed = root1 if perfect else proof[0]
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    if not perfect:
        # The proof's nodes inside the old tree must rebuild its root.
        sub_inner = rest[:inner]
        h1 = _chain_inner_right(seed, sub_inner, mask)
        h1 = _chain_border_right(h1, rest[inner:])
        if h1 != root1:
            raise Refused("old_root_mismatch")
    h2 = _chain_inner(seed, rest[:inner], mask)
    h2 = _chain_border_right(h2, rest[inner:])
    if h2 != root2:
        raise Refused("root_mismatch")


# ---------------------------------------------------------------- keys and notes

def b64decode_strict(text: str) -> bytes:
    """Standard base64 with padding, canonical (what re-encodes the same)."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise Refused("base64")
    return data


def valid_name(name: str) -> bool:
    # White_Space as Go's unicode.IsSpace and Rust's char::is_whitespace read it.
    spaces = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}
    return bool(name) and not any(c in spaces or c == "+" for c in name)


def key_id(name: str, public: bytes) -> int:
    digest = hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class Verifier:
    def __init__(self, name: str, public: bytes) -> None:
        self.name, self.public = name, public
        self.id = key_id(name, public)
        self.key = Ed25519PublicKey.from_public_bytes(public)

    def vkey(self) -> str:
        key = base64.b64encode(b"\x01" + self.public).decode()
        return f"{self.name}+{self.id:08x}+{key}"

    def fingerprint(self) -> str:
        return hashlib.sha256(b"\x01" + self.public).hexdigest()

    def verifies(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self.key.verify(signature, message)
            return True
        except InvalidSignature:
            return False


class Signer:
    def __init__(self, name: str, seed: bytes) -> None:
        if not valid_name(name):
            raise Refused("invalid_key_name")
        self.name, self.seed = name, seed
        self.key = Ed25519PrivateKey.from_private_bytes(seed)
        self.verifier = Verifier(name, _public_bytes(self.key.public_key()))
        self.id = self.verifier.id

    def skey(self) -> str:
        key = base64.b64encode(b"\x01" + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.id:08x}+{key}"

    def signature_line(self, text: bytes) -> str:
        sig = struct.pack(">I", self.id) + self.key.sign(text)
        return f"\u2014 {self.name} {base64.b64encode(sig).decode()}\n"


def _id_and_key(rest: str) -> tuple[int, bytes]:
    if "+" not in rest:
        raise Refused("malformed_key")
    hexid, b64 = rest.split("+", 1)
    if len(hexid) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hexid):
        raise Refused("malformed_key")
    try:
        raw = b64decode_strict(b64)
    except Refused:
        raise Refused("malformed_key") from None
    if not raw:
        raise Refused("malformed_key")
    if raw[0] != 1:
        raise Refused("unsupported_key_type")
    if len(raw) != 33:
        raise Refused("malformed_key")
    return int(hexid, 16), raw[1:]


def parse_vkey(vkey: str) -> Verifier:
    if "+" not in vkey:
        raise Refused("malformed_key")
    name, rest = vkey.split("+", 1)
    if not valid_name(name):
        raise Refused("invalid_key_name")
    kid, public = _id_and_key(rest)
    if kid != key_id(name, public):
        raise Refused("key_id_mismatch")
    try:
        return Verifier(name, public)
    except ValueError:
        raise Refused("malformed_key") from None


def parse_skey(skey: str) -> Signer:
    if not skey.startswith("PRIVATE+KEY+"):
        raise Refused("malformed_key")
    rest = skey[len("PRIVATE+KEY+"):]
    if "+" not in rest:
        raise Refused("malformed_key")
    name, rest = rest.split("+", 1)
    kid, seed = _id_and_key(rest)
    signer = Signer(name, seed)
    if signer.id != kid:
        raise Refused("key_id_mismatch")
    return signer


def sign_note(text: str, signer: Signer) -> str:
    return text + "\n" + signer.signature_line(text.encode("utf-8"))


def open_note(note: str, key: Verifier) -> str:
    """The text of a note the pinned key signed: every line of that key
    (name and ID) must verify; other keys' lines are ignored."""
    if len(note.encode("utf-8")) > 1 << 20:
        raise Refused("malformed_note")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Refused("malformed_note")
    split = note.rfind("\n\n")
    if split < 0:
        raise Refused("malformed_note")
    text, sigs = note[: split + 1], note[split + 2:]
    if not sigs or not sigs.endswith("\n"):
        raise Refused("malformed_note")
    verified = False
    for n, line in enumerate(sigs[:-1].split("\n")):
        if n >= MAX_SIGNATURES:
            raise Refused("malformed_note")
        if not line.startswith("\u2014 ") or " " not in line[2:]:
            raise Refused("malformed_note")
        name, b64 = line[2:].split(" ", 1)
        if not valid_name(name) or not b64:
            raise Refused("malformed_note")
        try:
            raw = b64decode_strict(b64)
        except Refused:
            raise Refused("malformed_note") from None
        if len(raw) < 5:
            raise Refused("malformed_note")
        kid = int(struct.unpack(">I", raw[:4])[0])
        if name != key.name or kid != key.id:
            continue
        if not key.verifies(text.encode("utf-8"), raw[4:]):
            raise Refused("invalid_signature")
        verified = True
    if not verified:
        raise Refused("unverified_note")
    return text


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(text: str) -> dict[str, Any]:
    """C2SP tlog-checkpoint note text, without extension lines: {origin, size, root (hex)}."""
    if not text.endswith("\n"):
        raise Refused("malformed_checkpoint")
    lines = text[:-1].split("\n")
    origin = lines[0]
    if not origin or any(ord(c) < 0x20 for c in origin):
        raise Refused("malformed_checkpoint")
    if len(lines) < 3:
        raise Refused("malformed_checkpoint")
    size_text = lines[1]
    if not size_text or not all(c in "0123456789" for c in size_text) or (len(size_text) > 1 and size_text[0] == "0"):
        raise Refused("malformed_checkpoint")
    size = int(size_text)
    if size >= 2**64:
        raise Refused("malformed_checkpoint")
    try:
        root = b64decode_strict(lines[2])
    except Refused:
        raise Refused("malformed_checkpoint") from None
    if len(root) != 32 or len(lines) > 3:
        raise Refused("malformed_checkpoint")
    return {"origin": origin, "size": size, "root": root.hex()}


def open_checkpoint(note: str, key: Verifier) -> dict[str, Any]:
    checkpoint = parse_checkpoint(open_note(note, key))
    if checkpoint["origin"] != key.name:
        raise Refused("wrong_origin")
    return checkpoint


# ---------------------------------------------------------------- certificates

def _lineage(events: list[dict[str, Any]]) -> tuple[Optional[str], Optional[tuple[str, str]]]:
    def rid(event: dict[str, Any], key: str) -> Optional[str]:
        value = (event.get("payload") or {}).get(key)
        if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value
        return None

    parent = rid(events[0], "parent") if events and events[0]["event_type"] == "CREATED" else None
    children = None
    for e in events:
        if e["event_type"] == "SPLIT":
            front, back = rid(e, "front"), rid(e, "back")
            children = (front, back) if front and back else None
            break
    return parent, children


def _descends(parent: tuple[str, dict[str, Any], list[dict[str, Any]]], rid: str, events: list[dict[str, Any]]) -> None:
    """A child is what its parent's SPLIT makes (SPEC §6): one of the two
    records the parent's block and the split's quantity give (both named by
    the SPLIT), created by it (at its time, naming the parent and the holder
    the parent had), the front one acted on at once. The leaves' order in the
    log is not checked (see the core's verify_certificate)."""
    pid, precord, pevents = parent
    at = next((i for i, e in enumerate(pevents) if e["event_type"] == "SPLIT"), None)
    if at is None or _lineage(events)[0] != pid:
        raise Refused("lineage", "not_a_child")
    split = pevents[at]
    quantity, code = lifecycle_v1.credits((split.get("payload") or {}).get("quantity"))
    if code or quantity is None:
        raise Refused("lineage", "not_derived")
    try:
        front, back = splits_v1.children(precord, quantity)
    except lifecycle_v1.Refused:
        raise Refused("lineage", "not_derived") from None
    front_id, back_id = line_id(front), line_id(back)
    if _lineage(pevents)[1] != (front_id, back_id):
        raise Refused("lineage", "not_derived")
    if rid not in (front_id, back_id):
        raise Refused("lineage", "not_a_child")
    owner = lifecycle_v1.replay(pevents[:at])["owner"]
    inherited: dict[str, Any] = {"parent": pid}
    if owner is not None:
        inherited["holder"] = owner
    if events[0].get("payload") != inherited:
        raise Refused("lineage", "not_derived")
    when = lifecycle_v1.instant(split["created_at"])
    if lifecycle_v1.instant(events[0]["created_at"]) != when:
        raise Refused("lineage", "not_derived")
    if rid == front_id:
        acted = len(events) > 1 and events[1]["event_type"] in ("SOLD", "RETIRED", "CANCELLED") and lifecycle_v1.instant(events[1]["created_at"]) == when
        if not acted:
            raise Refused("lineage", "not_derived")


def verify_certificate(cert: dict[str, Any], vkey: str, trusted: Optional[tuple[dict[str, Any], list[str]]] = None) -> dict[str, Any]:
    """SPEC §7: {checkpoint, state, lineage}, or Refused(code, inner code)."""
    key = parse_vkey(vkey)
    try:
        checkpoint = open_checkpoint(cert["checkpoint"], key)
    except Refused as e:
        raise Refused("signature", e.code) from None
    if trusted is not None:
        old, hexes = trusted
        try:
            if old["origin"] != checkpoint["origin"]:
                raise Refused("wrong_origin")
            proof = [bytes.fromhex(h) for h in hexes]
            if old["size"] == 0:
                if proof:
                    raise Refused("proof_length")
                if bytes.fromhex(old["root"]) != EMPTY_ROOT:
                    raise Refused("old_root_mismatch")
            elif old["size"] > checkpoint["size"]:
                # A certificate older than the trusted checkpoint: its tree
                # is a prefix of the trusted one.
                verify_consistency(checkpoint["size"], old["size"], bytes.fromhex(checkpoint["root"]), bytes.fromhex(old["root"]), proof)
            else:
                verify_consistency(old["size"], checkpoint["size"], bytes.fromhex(old["root"]), bytes.fromhex(checkpoint["root"]), proof)
        except Refused as e:
            raise Refused("consistency", e.code) from None
    lineage: list[str] = []
    previous: Optional[tuple[str, dict[str, Any], list[dict[str, Any]]]] = None
    state: Optional[dict[str, Any]] = None
    root = bytes.fromhex(checkpoint["root"])
    for certified in cert["records"]:
        record = certified["record"]
        rid = line_id(record)
        events = []
        for ce in certified["events"]:
            event = ce["event"]
            if event["record_id"] != rid:
                raise Refused("id")
            try:
                leaf = leaf_bytes(event, record if event["event_type"] == "CREATED" else None)
                try:
                    proof = [bytes.fromhex(h) for h in ce["proof"]]
                except ValueError:
                    raise Refused("invalid_hash") from None
                verify_inclusion(leaf_hash(leaf), ce["index"], checkpoint["size"], proof, root)
            except Refused as e:
                raise Refused("proof", e.code) from None
            events.append(event)
        try:
            state = lifecycle_v1.replay(events)
        except lifecycle_v1.Refused as e:
            raise Refused("replay", e.code) from None
        parent, _ = _lineage(events)
        if previous is None:
            if parent is not None:
                raise Refused("lineage", "missing_ancestor")
            # A registered record starts with no holder: only a split's
            # child inherits one (SPEC §6).
            if (events[0].get("payload") or {}).get("holder") is not None:
                raise Refused("lineage", "not_derived")
        else:
            _descends(previous, rid, events)
        lineage.append(rid)
        previous = (rid, record, events)
    if state is None:
        raise Refused("lineage", "empty")
    if cert["record_id"] != lineage[-1]:
        raise Refused("id")
    return {"checkpoint": checkpoint, "state": state, "lineage": lineage}
