"""Certificates and checkpoints of the verifiable log (SPEC §7) through the
installed package: every case of tests/vectors/log.json, whose expected
outcomes come from the pure-Python reference tests/reference/log_v1.py, and
tampered bundles and foreign keys checked against that reference too."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Optional, Union

import pytest

import carbon_tracker as ct
import log_v1
from conftest import VECTORS

LOG: dict[str, Any] = json.loads((VECTORS / "log.json").read_text(encoding="utf-8"))
CERTIFICATES: list[dict[str, Any]] = LOG["certificates"]
CHECKPOINTS: list[dict[str, Any]] = LOG["checkpoints"]
VKEY: str = LOG["log_key"]["vkey"]
SIGNER = log_v1.parse_skey(LOG["log_key"]["skey"])


def case(name: str) -> dict[str, Any]:
    return copy.deepcopy(next(c for c in CERTIFICATES if c["name"] == name))


def retired() -> dict[str, Any]:
    """A valid certificate of a split child and its parent (a fresh copy)."""
    return case("the retired front child of a split block, with its parent")


def with_trusted() -> dict[str, Any]:
    """A valid certificate with a trusted older checkpoint (a fresh copy)."""
    return case("with a trusted older checkpoint and its consistency proof")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def expected(verified: dict[str, Any]) -> ct.VerifiedCertificate:
    s = verified["state"]
    state = ct.RecordState(s["record_id"], s["status"], s["last_seq"], instant(s["created_at"]),
                           instant(s["updated_at"]), s["owner"])
    return {"checkpoint": verified["checkpoint"], "state": state, "lineage": verified["lineage"]}


def trusted_of(c: dict[str, Any]) -> Optional[tuple[dict[str, Any], list[str]]]:
    t = c.get("trusted")
    return None if t is None else (t["checkpoint"], t["proof"])


def oracle(cert: dict[str, Any], vkey: str,
           trusted: Optional[tuple[dict[str, Any], list[str]]] = None) -> Union[dict[str, Any], tuple[str, Optional[str]]]:
    """The reference's verdict: the verified result, or (code, detail)."""
    try:
        return log_v1.verify_certificate(cert, vkey, trusted)
    except log_v1.Refused as e:
        return e.code, e.detail


def test_the_vectors_cover_every_code() -> None:
    codes = {c["expect"]["error"]["code"] for c in CERTIFICATES if "error" in c["expect"]}
    assert codes == {"signature", "proof", "replay", "id", "lineage", "consistency"}
    assert sum("verified" in c["expect"] for c in CERTIFICATES) >= 5


@pytest.mark.parametrize("form", ["dict", "text", "bytes"])
@pytest.mark.parametrize("c", CERTIFICATES, ids=[c["name"] for c in CERTIFICATES])
def test_certificates(c: dict[str, Any], form: str) -> None:
    bundle: Union[str, bytes, dict[str, Any]] = c["certificate"]
    if form == "text":
        bundle = json.dumps(c["certificate"])
    elif form == "bytes":
        bundle = json.dumps(c["certificate"], ensure_ascii=False).encode("utf-8")

    def run() -> ct.VerifiedCertificate:
        return ct.verify_certificate(bundle, c["vkey"], trusted_of(c))

    expect = c["expect"]
    if "verified" in expect:
        assert run() == expected(expect["verified"])
        return
    with pytest.raises(ct.CertificateError) as raised:
        run()
    assert (raised.value.code, raised.value.detail) == (expect["error"]["code"], expect["error"]["detail"])
    assert str(raised.value)


@pytest.mark.parametrize("c", CHECKPOINTS, ids=[c["name"] for c in CHECKPOINTS])
def test_checkpoints(c: dict[str, Any]) -> None:
    expect = c["expect"]
    if "checkpoint" in expect:
        assert ct.open_checkpoint(c["note"], c["vkey"]) == expect["checkpoint"]
        return
    with pytest.raises(ct.CertificateError) as raised:
        ct.open_checkpoint(c["note"], c["vkey"])
    assert (raised.value.code, raised.value.detail) == ("signature", expect["error"])


def test_a_tampered_payload_fails_as_proof() -> None:
    cert = retired()["certificate"]
    event = cert["records"][-1]["events"][-1]["event"]
    assert event["event_type"] == "RETIRED"
    event["payload"]["beneficiary"] = "Someone Else"
    assert oracle(cert, VKEY) == ("proof", "root_mismatch")
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(cert, VKEY)
    assert (raised.value.code, raised.value.detail) == ("proof", "root_mismatch")
    assert isinstance(raised.value, ValueError)
    assert event["record_id"] in str(raised.value)


def test_a_decimal_in_a_dict_bundle_is_read_as_a_number() -> None:
    # As json.loads(..., parse_float=Decimal) gives it: "12.50" (text) became a number, so the leaf differs.
    cert = retired()["certificate"]
    sold = cert["records"][0]["events"][1]["event"]
    assert sold["event_type"] == "SOLD"
    sold["payload"]["price"] = Decimal("12.50")
    assert oracle(json.loads(json.dumps(cert, default=float)), VKEY) == ("proof", "root_mismatch")
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(cert, VKEY)
    assert raised.value.code == "proof"


@pytest.mark.parametrize("name", ["carbon-tracker.example/log", "someone-else.example/log"])
def test_a_foreign_key_fails_as_signature(name: str) -> None:
    foreign = log_v1.Signer(name, os.urandom(32)).verifier.vkey()
    cert = retired()["certificate"]
    assert oracle(cert, foreign) == ("signature", "unverified_note")
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(cert, foreign)
    assert (raised.value.code, raised.value.detail) == ("signature", "unverified_note")


def test_a_certificate_signed_by_a_foreign_key_fails_as_signature() -> None:
    foreign = log_v1.Signer(LOG["log_key"]["name"], os.urandom(32))
    cert = retired()["certificate"]
    body = log_v1.open_note(cert["checkpoint"], SIGNER.verifier)
    cert["checkpoint"] = log_v1.sign_note(body, foreign)
    assert oracle(cert, VKEY) == ("signature", "unverified_note")
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(cert, VKEY)
    assert (raised.value.code, raised.value.detail) == ("signature", "unverified_note")
    # With the key that signed it, it verifies.
    assert ct.verify_certificate(cert, foreign.verifier.vkey())["lineage"] == retired()["expect"]["verified"]["lineage"]


def signed(checkpoint: dict[str, Any], signer: log_v1.Signer = SIGNER) -> str:
    body = log_v1.checkpoint_body(checkpoint["origin"], checkpoint["size"], bytes.fromhex(checkpoint["root"]))
    note: str = log_v1.sign_note(body, signer)
    return note


def test_a_trusted_checkpoint_as_a_signed_note() -> None:
    c = with_trusted()
    old, proof = c["trusted"]["checkpoint"], c["trusted"]["proof"]
    note = signed(old)
    assert ct.open_checkpoint(note, VKEY) == old
    got = ct.verify_certificate(c["certificate"], VKEY, (note, proof))
    assert got == expected(c["expect"]["verified"])
    # An earlier result's checkpoint is a trusted checkpoint too.
    assert ct.verify_certificate(c["certificate"], VKEY, (got["checkpoint"], []))["checkpoint"] == got["checkpoint"]


def test_a_forked_trusted_note_fails_as_consistency() -> None:
    forked = case("with a trusted checkpoint of a forked history")
    note = signed(forked["trusted"]["checkpoint"])
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(forked["certificate"], VKEY, (note, forked["trusted"]["proof"]))
    assert (raised.value.code, raised.value.detail) == ("consistency", "old_root_mismatch")


def test_a_trusted_note_the_key_did_not_sign() -> None:
    c = with_trusted()
    old, proof = c["trusted"]["checkpoint"], c["trusted"]["proof"]
    note = signed(old, log_v1.Signer(LOG["log_key"]["name"], os.urandom(32)))
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(c["certificate"], VKEY, (note, proof))
    assert (raised.value.code, raised.value.detail) == ("consistency", "unverified_note")
    assert "trusted" in str(raised.value)
    # When the certificate's own checkpoint is not signed by the key either,
    # that is the failure: it is checked first, as the core does.
    cert = c["certificate"]
    cert["checkpoint"] = note
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(cert, VKEY, (note, proof))
    assert raised.value.code == "signature"


def test_a_trusted_proof_that_is_not_hex() -> None:
    c = with_trusted()
    old, proof = c["trusted"]["checkpoint"], c["trusted"]["proof"]
    with pytest.raises(ct.CertificateError) as raised:
        ct.verify_certificate(c["certificate"], VKEY, (old, ["zz" * 32, *proof[1:]]))
    assert (raised.value.code, raised.value.detail) == ("consistency", "invalid_hash")


def test_inputs_that_are_not_a_certificate_or_a_key() -> None:
    cert = retired()["certificate"]
    with pytest.raises(ValueError, match="not a certificate"):
        ct.verify_certificate("{}", VKEY)
    with pytest.raises(ValueError, match="not a certificate"):
        ct.verify_certificate({**cert, "record_id": "xyz"}, VKEY)
    with pytest.raises(ValueError, match="invalid log key"):
        ct.verify_certificate(cert, "not a key")
    with pytest.raises(ValueError, match="invalid trusted checkpoint"):
        ct.verify_certificate(cert, VKEY, ({"origin": "x"}, []))
    with pytest.raises(TypeError):
        ct.verify_certificate(cert, VKEY, (with_trusted()["trusted"]["checkpoint"], "00" * 32))
    # The key as GET /log/key serves it, with its newline.
    assert ct.verify_certificate(cert, VKEY + "\n") == expected(retired()["expect"]["verified"])


def test_key_fingerprint() -> None:
    raw = base64.b64decode(VKEY.rsplit("+", 1)[1])  # 0x01 || public key
    assert ct.key_fingerprint(VKEY) == hashlib.sha256(raw).hexdigest() == SIGNER.verifier.fingerprint()
    with pytest.raises(ValueError):
        ct.key_fingerprint(LOG["log_key"]["skey"])
