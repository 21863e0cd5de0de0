"""Importing the registries' own exports (issue 16, parts 1 and 2), on both
backends: every fixture of tests/fixtures/registries (each registry's shapes
and quirks), dry runs and reports, broken files that write nothing, a block
partly retired in several rows in any order, and `POST /imports`.

Expected ids come from the Python reference (tests/reference/ids_v1.py), the
expected counts from reading the fixtures by hand (their README)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Backend, Server
from test_config import run_cli

sys.path.insert(0, str(ROOT / "tests" / "reference"))
import ids_v1  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "registries"
BROKEN = FIXTURES / "broken"

# file, --from, (rows, created, retirements applied, skipped)
EXPORTS = [
    ("verra.csv", "verra", (5, 4, 2, 1)),
    ("verra.xlsx", "verra", (5, 4, 2, 1)),
    ("verra-partial.csv", "verra", (4, 4, 3, 0)),
    ("gold-standard-issuances.csv", "gold-standard", (2, 2, 0, 0)),
    ("gold-standard-retirements.csv", "gold-standard", (3, 3, 3, 0)),
    ("acr-retirements.csv", "acr", (3, 3, 3, 0)),
    ("acr-cancellations.csv", "acr", (2, 2, 2, 0)),
    ("acr-issuances.csv", "acr", (2, 0, 0, 2)),
    ("car-retirements.csv", "car", (2, 2, 2, 0)),
    ("car-cancellations.csv", "car", (2, 2, 2, 0)),
    ("car-issuances.csv", "car", (2, 0, 0, 2)),
    ("art-trees-retirements.csv", "art-trees", (3, 3, 3, 0)),
    ("art-trees-cancellations.csv", "art-trees", (2, 2, 2, 0)),
]


def counts(out: str) -> tuple[int, int, int, int, int, int]:
    """(rows, created, already there, retirements applied, skipped, rejected)
    from the summary line."""
    line = next(line for line in out.splitlines() if " rows as " in line)
    head, tail = line.split(": ", 1)[1].split(": ", 1)
    rows = int(head.split()[0])
    numbers = [int(part.strip().split()[0]) for part in tail.split(" — ")[0].split(",")]
    created, existing, retired = numbers[0], numbers[1], numbers[2]
    skipped, rejected = numbers[-2], numbers[-1]
    return rows, created, existing, retired, skipped, rejected


def records_of(url: str, tmp_path: Path) -> list[dict[str, Any]]:
    s = Server(url, tmp_path).start()
    try:
        return list(s.get("/records?limit=1000").json["items"])
    finally:
        s.stop()


@pytest.mark.parametrize("name,fmt,expected", EXPORTS, ids=[e[0] for e in EXPORTS])
def test_each_registry_export_imports_then_changes_nothing(backend: Backend, tmp_path: Path, name: str, fmt: str,
                                                          expected: tuple[int, int, int, int]) -> None:
    url = backend.new_url(tmp_path)
    rows, created, retired, skipped = expected
    for given in (fmt, "auto"):
        p = run_cli("import", "--from", given, str(FIXTURES / name), env={"DATABASE_URL": url})
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"rows as {fmt}" in p.stdout, p.stdout
        if given == fmt:
            assert counts(p.stdout) == (rows, created, 0, retired, skipped, 0), p.stdout
        else:
            # The second import finds every block, and its retirement, already there.
            assert counts(p.stdout) == (rows, 0, created, 0, skipped, 0), p.stdout
    stored = records_of(url, tmp_path)
    assert len(stored) == created
    assert sum(r["status"] in ("RETIRED", "CANCELLED") for r in stored) == retired
    assert all(r["block"] is not None for r in stored)


def test_the_xlsx_copy_gives_the_records_of_its_csv(backend: Backend, tmp_path: Path) -> None:
    ids = []
    for name in ("verra.csv", "verra.xlsx"):
        url = backend.new_url(tmp_path)
        p = run_cli("import", "--from", "verra", str(FIXTURES / name), env={"DATABASE_URL": url})
        assert p.returncode == 0, p.stdout
        ids.append(sorted((r["id"], r["status"]) for r in records_of(url, tmp_path)))
    assert ids[0] == ids[1]


def test_a_verra_row_becomes_the_block_the_reference_derives(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    assert run_cli("import", str(FIXTURES / "verra.csv"), env={"DATABASE_URL": url}).returncode == 0
    stored = {r["id"]: r for r in records_of(url, tmp_path)}
    # Row 3 of verra.csv: the SPEC's block, retired on 2026-04-09 for Acme GmbH.
    expected = ids_v1.record_id({
        "project_name": "Tongxu Biogas Recovery and Utilization Project", "registry": "Verra", "vintage": 2022,
        "quantity": 187, "serial_number": "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
    })
    r = stored[expected]
    assert r["status"] == "RETIRED"
    retired = r["events"][-1]["payload"]
    assert retired["beneficiary"] == "Acme GmbH"
    assert retired["effective_at"] == "2026-04-09T00:00:00Z"
    # Row 4: a vintage from 01/07/2021 to 30/06/2022 is vintage 2022; 1,250 credits.
    pacajai = [r for r in stored.values() if r["project_name"] == "pacajai redd+ project"]
    assert len(pacajai) == 1 and pacajai[0]["vintage"] == 2022 and pacajai[0]["quantity"] == "1250.0000"
    assert pacajai[0]["events"][-1]["payload"]["effective_at"] == "2026-04-03T00:00:00Z"


def partial_rows() -> tuple[list[str], list[list[str]]]:
    with open(FIXTURES / "verra-partial.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def tracked_root(header: list[str], rows: list[list[str]]) -> dict[str, Any]:
    """The whole issued block 1001-2000 the partial rows came from, as a
    tracker would have registered it."""
    held = next(dict(zip(header, r)) for r in rows if not r[header.index("Retirement/Cancellation Date")])
    return {"project_name": held["Name"], "registry": "Verra", "vintage": int(held["Vintage End"][:4]),
            "quantity": 1000, "serial_number": held["Serial Number"].replace("-1401-2000-", "-1001-2000-")}


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::5])
def test_a_block_partly_retired_in_several_rows_in_any_order(backend: Backend, tmp_path: Path, order: tuple[int, ...]) -> None:
    header, rows = partial_rows()
    root = tracked_root(header, rows)
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        r = s.post("/records", root)
        assert r.status == 201, r.raw
        root_id = r.json["id"]
        assert root_id == ids_v1.record_id(root)
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(header)
        w.writerows(rows[i] for i in order)
        f = tmp_path / "shuffled.csv"
        f.write_text(out.getvalue())
        p = run_cli("import", str(f), env={"DATABASE_URL": url})
        assert p.returncode == 0, p.stdout
        # Three partial retirements of the tracked block; the held row is its remainder.
        assert counts(p.stdout) == (4, 0, 1, 3, 0, 0), p.stdout
        lineage = s.get(f"/records/{root_id}/lineage").json
        by_id = {n["id"]: n for n in lineage["subtree"]}
        for row in rows:
            fields = dict(zip(header, row))
            rid = ids_v1.record_id({"project_name": root["project_name"], "registry": "Verra", "vintage": root["vintage"],
                                    "quantity": int(fields["Quantity Issued"].replace(",", "")), "serial_number": fields["Serial Number"]})
            assert rid in by_id, (fields["Serial Number"], list(by_id))
            assert by_id[rid]["status"] == ("RETIRED" if fields["Retirement/Cancellation Date"] else "ACTIVE")
        statuses = sorted(n["status"] for n in lineage["subtree"])
        assert statuses == ["ACTIVE", "RETIRED", "RETIRED", "RETIRED", "SPLIT", "SPLIT", "SPLIT"]
    finally:
        s.stop()


def test_a_retirement_from_the_middle_of_a_tracked_block_is_refused_naming_it(backend: Backend, tmp_path: Path) -> None:
    header, rows = partial_rows()
    root = tracked_root(header, rows)
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        root_id = s.post("/records", root).json["id"]
        middle = [r for r in rows if "-1101-1250-" in r[header.index("Serial Number")]]
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(header)
        w.writerows(middle)
        f = tmp_path / "middle.csv"
        f.write_text(out.getvalue())
        p = run_cli("import", str(f), env={"DATABASE_URL": url})
        assert p.returncode == 1
        assert "not_at_front" in p.stdout and root_id in p.stdout, p.stdout
        assert f"the credits 1101-1250 lie in the tracked block {root_id}" in p.stdout, p.stdout
        assert s.get(f"/records/{root_id}").json["status"] == "ACTIVE"
    finally:
        s.stop()


@pytest.mark.parametrize("name,fmt,words", [
    ("verra-missing-column.csv", "verra", ["Serial Number"]),
    ("empty.csv", "auto", ["empty"]),
    ("empty.xlsx", "verra", ["empty"]),
    ("far-cell.xlsx", "verra", ["1048576 rows by 16384 columns", "XFD1048576", "stray cells"]),
])
def test_a_file_that_cannot_be_read_is_one_clear_error(backend: Backend, tmp_path: Path, name: str, fmt: str, words: list[str]) -> None:
    url = backend.new_url(tmp_path)
    p = run_cli("import", "--from", fmt, str(BROKEN / name), env={"DATABASE_URL": url})
    assert p.returncode == 2, p.stdout + p.stderr
    error = [line for line in p.stderr.splitlines() if line.startswith("error")]
    assert len(error) == 1, p.stderr
    for w in words:
        assert w in error[0], error[0]
    assert records_of(url, tmp_path) == []


def test_another_registry_s_export_given_as_verra_is_named(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    p = run_cli("import", "--from", "verra", str(FIXTURES / "acr-retirements.csv"), env={"DATABASE_URL": url})
    assert p.returncode == 2
    assert "ACR" in p.stderr and "verra" in p.stderr, p.stderr
    assert records_of(url, tmp_path) == []


@pytest.mark.parametrize("name,row,column,code", [
    ("verra-serial-mismatch.csv", 3, "Serial Number", "serial_mismatch"),
    ("verra-bad-date.csv", 3, "Retirement/Cancellation Date", "invalid_date"),
])
def test_a_rejected_row_writes_nothing_and_is_reported(backend: Backend, tmp_path: Path, name: str, row: int,
                                                      column: str, code: str) -> None:
    url = backend.new_url(tmp_path)
    report = tmp_path / "report.csv"
    p = run_cli("import", str(BROKEN / name), "--report", str(report), env={"DATABASE_URL": url})
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"row {row}: {column}: {code}:" in p.stdout, p.stdout
    assert "nothing was written" in p.stdout
    assert records_of(url, tmp_path) == []
    lines = list(csv.DictReader(report.open(newline="")))
    assert [(int(r["row"]), r["column"], r["code"]) for r in lines] == [(row, column, code)]
    assert lines[0]["message"]
    # --skip-rejected writes the others.
    p = run_cli("import", str(BROKEN / name), "--skip-rejected", env={"DATABASE_URL": url})
    assert p.returncode == 1
    stored = records_of(url, tmp_path)
    assert stored and counts(p.stdout)[1] == len(stored)


def test_a_bom_and_crlf_read_as_the_plain_file(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    p = run_cli("import", str(BROKEN / "verra-bom-crlf.csv"), env={"DATABASE_URL": url})
    assert p.returncode == 0, p.stdout + p.stderr
    assert counts(p.stdout)[:2] == (2, 2)


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(backend: Backend, tmp_path: Path) -> None:
    url = backend.new_url(tmp_path)
    p = run_cli("import", "--dry-run", str(FIXTURES / "verra.csv"), env={"DATABASE_URL": url})
    assert p.returncode == 0, p.stdout
    assert "dry run, nothing written" in p.stdout
    assert counts(p.stdout) == (5, 4, 0, 2, 1, 0)
    assert records_of(url, tmp_path) == []
    assert run_cli("import", str(FIXTURES / "verra.csv"), env={"DATABASE_URL": url}).returncode == 0
    p = run_cli("import", "--dry-run", str(FIXTURES / "verra.csv"), env={"DATABASE_URL": url})
    assert counts(p.stdout) == (5, 0, 4, 0, 1, 0)


def test_an_unknown_format_is_refused(backend: Backend, tmp_path: Path) -> None:
    p = run_cli("import", "--from", "cadt", str(FIXTURES / "verra.csv"), env={"DATABASE_URL": backend.new_url(tmp_path)})
    assert p.returncode == 2
    assert "cadt" in p.stderr and "gold-standard" in p.stderr


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_post_imports_raw_multipart_and_dry_run(fresh_server: Server) -> None:
    s = fresh_server
    content = (FIXTURES / "verra.csv").read_bytes()
    r = s.post("/imports?from=verra&dry_run=true", raw=content, headers={"Content-Type": "text/csv"})
    assert r.status == 200, r.raw
    assert (r.json["dry_run"], r.json["written"], r.json["created"], r.json["retired"]) == (True, False, 4, 2)
    assert s.get("/records").json["items"] == []
    r = s.post("/imports?from=verra", raw=content, headers={"Content-Type": "text/csv"})
    assert r.status == 200, r.raw
    assert (r.json["format"], r.json["created"], r.json["retired"], r.json["rejected"]) == ("verra", 4, 2, [])
    assert r.json["skipped"] == [{"row": 5, "reason": "empty row"}]
    body, content_type = multipart("verra.xlsx", (FIXTURES / "verra.xlsx").read_bytes())
    r = s.post("/imports", raw=body, headers={"Content-Type": content_type})
    assert r.status == 200, r.raw
    assert (r.json["format"], r.json["created"], r.json["existing"]) == ("verra", 0, 4)
    # A rejected row: 422 with the summary, nothing written.
    bad = (BROKEN / "verra-serial-mismatch.csv").read_bytes()
    r = s.post("/imports", raw=bad, headers={"Content-Type": "text/csv"})
    assert r.status == 422
    assert r.json["written"] is False
    assert [(x["row"], x["column"], x["code"]) for x in r.json["rejected"]] == [(3, "Serial Number", "serial_mismatch")]
    # A file that cannot be read: a problem naming what was found.
    r = s.post("/imports?from=verra", raw=(FIXTURES / "acr-retirements.csv").read_bytes(), headers={"Content-Type": "text/csv"})
    assert r.status == 422 and r.json["code"] == "unreadable_file", r.raw
    r = s.post("/imports?from=cadt", raw=content, headers={"Content-Type": "text/csv"})
    assert r.status == 422 and r.json["code"] == "invalid_parameter"
    # The parameter at fault is named, as for every other query parameter.
    assert [(e["field"], e["code"]) for e in r.json["errors"]] == [("from", "invalid_choice")], r.json
    assert "cadt" in r.json["detail"] and r.json["detail"].startswith("from:"), r.json
    r = s.post("/imports", raw=b"", headers={"Content-Type": "text/csv"})
    assert r.status == 400 and r.json["code"] == "empty_body"


def test_a_sheet_whose_range_is_too_large_is_refused_and_the_server_goes_on(fresh_server: Server) -> None:
    """A 2 KB XLSX with one cell at the sheet's end (XFD1048576) used to
    make the server allocate its whole used range (17 billion cells) and
    abort; it is an unreadable file, and nothing else changes."""
    s = fresh_server
    content = (BROKEN / "far-cell.xlsx").read_bytes()
    for query in ("?dry_run=true", ""):
        r = s.post(f"/imports{query}", raw=content, headers={"Content-Type": "application/octet-stream"})
        assert r.status == 422 and r.json["code"] == "unreadable_file", r.raw
        assert "1048576 rows by 16384 columns" in r.json["detail"], r.json
    assert s.get("/health").status == 200
    assert s.get("/records").json["items"] == []


def test_post_imports_is_documented(fresh_server: Server) -> None:
    doc = fresh_server.get("/openapi.json").json
    op = doc["paths"]["/imports"]["post"]
    assert {p["name"] for p in op["parameters"]} >= {"from", "dry_run", "skip_rejected"}
    assert "Summary" in json.dumps(op["responses"]["200"])
