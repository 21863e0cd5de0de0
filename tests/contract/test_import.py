"""The import command reads what the common tools that produce CSV and JSON
files write (issue "Hardening", kind 3), on both backends: byte-order marks,
CRLF, `;` and tab delimiters, quoted line breaks, header names in any case,
rows a spreadsheet leaves all empty (skipped, not rejected); and a file that
cannot be read as the expected format is one error naming what was found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import Backend, Server, assert_problem
from test_config import one_line_error, run_cli

HEADER = "project_name,registry,vintage,quantity,serial_number"


def run_import(backend: Backend, tmp_path: Path, name: str, content: bytes, *flags: str) -> tuple[str, int, str]:
    url = backend.new_url(tmp_path)
    f = tmp_path / name
    f.write_bytes(content)
    p = run_cli("import", *flags, str(f), env={"DATABASE_URL": url})
    return url, p.returncode, p.stdout + p.stderr


def summary(output: str) -> str:
    return output.split(" rows as records: ", 1)[1].splitlines()[0]


def ids_in(url: str, tmp_path: Path) -> list[str]:
    s = Server(url, tmp_path).start()
    try:
        return [r["serial_number"] for r in s.get("/records?limit=100").json["items"]]
    finally:
        s.stop()


def test_cleared_spreadsheet_rows_are_skipped_not_rejected(backend: Backend, tmp_path: Path) -> None:
    content = f"{HEADER}\nWind Farm,VCS,2021,200,VCS-1\n,,,,\n,,,,\n".encode()
    url, code, out = run_import(backend, tmp_path, "sheet.csv", content)
    assert code == 0, out
    assert "3 rows as records: 1 created, 0 already there, 0 retirements applied, 2 skipped, 0 rejected" in out
    assert ids_in(url, tmp_path) == ["vcs-1"]


def test_what_spreadsheets_write(backend: Backend, tmp_path: Path) -> None:
    # Excel's "CSV UTF-8": a byte-order mark, CRLF, a header in other case and
    # spacing, a quoted line break in a column the import does not read, a
    # quoted comma, blank-looking rows of spaces, trailing empty cells.
    content = (
        "\ufeffProject_Name, Registry ,VINTAGE,quantity,serial_number,notes\r\n"
        'Wind Farm,VCS,2021,200,VCS-1,"two\r\nlines"\r\n'
        '"Solar, Phase 2",GS,2022,5,GS-2,\r\n'
        " , ,,  ,,\r\n"
        "Hydro,VCS,2020,7,VCS-3,,,\r\n"
    ).encode()
    url, code, out = run_import(backend, tmp_path, "excel.csv", content)
    assert code == 0, out
    assert summary(out) == "3 created, 0 already there, 0 retirements applied, 1 skipped, 0 rejected"
    assert sorted(ids_in(url, tmp_path)) == ["gs-2", "vcs-1", "vcs-3"]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_delimited(backend: Backend, tmp_path: Path, delimiter: str) -> None:
    rows = [HEADER.split(","), ["Wind Farm", "VCS", "2021", "200.5", "VCS-1"], ["", "", "", "", ""]]
    content = "\r\n".join(delimiter.join(r) for r in rows).encode()
    url, code, out = run_import(backend, tmp_path, "eu.csv", content)
    assert code == 0, out
    assert summary(out) == "1 created, 0 already there, 0 retirements applied, 1 skipped, 0 rejected"


def test_utf16_from_excel_unicode_text(backend: Backend, tmp_path: Path) -> None:
    content = "\ufeff" + "\t".join(HEADER.split(",")) + "\r\nCafé Project\tVCS\t2021\t10\tVCS-É\r\n"
    url, code, out = run_import(backend, tmp_path, "unicode.csv", content.encode("utf-16-le"))
    assert code == 0, out
    assert ids_in(url, tmp_path) == ["vcs-é"]


def test_json_with_a_byte_order_mark_and_empty_rows(backend: Backend, tmp_path: Path) -> None:
    rows = [
        {"project_name": "A", "registry": "VCS", "vintage": 2021, "quantity": 1, "serial_number": "J-1"},
        {"project_name": None, "registry": "", "vintage": None, "quantity": None, "serial_number": " "},
        {},
    ]
    url, code, out = run_import(backend, tmp_path, "bom.json", b"\xef\xbb\xbf" + json.dumps(rows).encode())
    assert code == 0, out
    assert summary(out) == "1 created, 0 already there, 0 retirements applied, 2 skipped, 0 rejected"


def test_a_header_the_import_cannot_read_is_one_error(backend: Backend, tmp_path: Path) -> None:
    # A pipe-separated file: no delimiter tried gives the five columns.
    content = ("project_name|registry|vintage|quantity|serial_number\n" + "A|VCS|2021|1|P-1\n" * 3).encode()
    url, code, out = run_import(backend, tmp_path, "pipes.csv", content)
    assert code == 2, out
    errors = [line for line in out.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "row 1:" not in out, out
    assert "header row" in errors[0] and "project_name|registry" in errors[0] and "delimiter" in errors[0]


def test_a_misspelt_column_is_named_once(backend: Backend, tmp_path: Path) -> None:
    content = ("project_name;registry;vintage;quantity;serial_numbr\n" + "A;VCS;2021;1;P-1\n" * 3).encode()
    url, code, out = run_import(backend, tmp_path, "typo.csv", content)
    assert code == 2, out
    assert "does not name serial_number" in out and "semicolon" in out and "row 1:" not in out, out


def test_every_problem_of_a_row_is_reported_with_its_field_and_code(backend: Backend, tmp_path: Path) -> None:
    """A row with two bad fields: two lines, each naming its column and a
    stable code; the row counts once (the second problem was folded into
    the first's message, without its column or code)."""
    content = (HEADER + "\nA,VCS,20x1,-5,P-1\nB,VCS,2021,1,P-2\n").encode()
    url, code, out = run_import(backend, tmp_path, "two.csv", content)
    assert code == 1, out
    assert "1 rejected" in out, out
    assert "row 2: vintage: not_an_integer" in out and "row 2: quantity: not_positive" in out, out


def test_a_column_named_twice_is_refused(backend: Backend, tmp_path: Path) -> None:
    """Which of two `quantity` columns holds the quantity is a guess; the
    import took the last one without a word."""
    content = (HEADER + ",Quantity\nA,VCS,2021,1,P-1,2\n").encode()
    url, code, out = run_import(backend, tmp_path, "twice.csv", content)
    assert code == 2, out
    assert "names quantity more than once (columns 4 and 6)" in out, out
    assert ids_in(url, tmp_path) == []


def test_a_legacy_encoding_is_named(backend: Backend, tmp_path: Path) -> None:
    content = f"{HEADER}\nCaf\xe9,VCS,2021,1,L-1\n".encode("latin-1")
    url, code, out = run_import(backend, tmp_path, "latin1.csv", content)
    assert code == 2, out
    assert "not UTF-8" in out and "line 2" in out and "Windows-1252" in out


def test_a_row_with_more_cells_than_the_header_is_rejected_alone(backend: Backend, tmp_path: Path) -> None:
    content = f"{HEADER}\nA,VCS,2021,1,R-1\nB,VCS,2021,1,R-2,extra\nC,VCS,2021,1,R-3\n".encode()
    url, code, out = run_import(backend, tmp_path, "extra.csv", content)
    assert code == 1, out
    # Every row is checked first: a file with a rejected row writes nothing.
    assert summary(out).startswith("0 created, 0 already there, 0 retirements applied, 0 skipped, 1 rejected — nothing was written")
    assert "row 3: unreadable_row: the row has 6 cells, the header 5" in out
    assert ids_in(url, tmp_path) == []
    url, code, out = run_import(backend, tmp_path, "extra.csv", content, "--skip-rejected")
    assert code == 1, out
    assert summary(out) == "2 created, 0 already there, 0 retirements applied, 0 skipped, 1 rejected"
    assert sorted(ids_in(url, tmp_path)) == ["r-1", "r-3"]


def test_an_empty_file(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    one_line_error(run_cli("import", str(tmp_path / "empty.csv"), env={"DATABASE_URL": backend.new_url(tmp_path)}), "empty")


def test_a_serial_naming_another_count_is_imported_with_a_warning(backend: Backend, tmp_path: Path) -> None:
    """SPEC §6: a serial that parses with another quantity stays a plain
    record, and the import says so."""
    content = (
        f"{HEADER}\n"
        "Wind Farm,Verra,2022,100,19380-1-187-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0\n"
        "Wind Farm,Verra,2022,187,19381-1-187-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0\n"
    ).encode()
    _, code, out = run_import(backend, tmp_path, "blocks.csv", content)
    assert code == 0, out
    assert "2 rows as records: 2 created, 0 already there, 0 retirements applied, 0 skipped, 0 rejected, 1 with a warning" in out
    assert "row 2: warning: the serial names 187 credits (1 to 187) but the quantity is 100.0000" in out


def test_a_file_with_an_overlapping_block_writes_nothing(backend: Backend, tmp_path: Path) -> None:
    """SPEC §6 `serial_overlap`, found before anything is written: a row whose
    block shares credits with another row's (row 3: 5-14 against 1-10) or
    with a tracked block stops the whole file. The good row was written, and
    the answer over HTTP was 200 `written: true`."""
    overlapping = f"{HEADER}\nA,R,2022,10,CLX:1-10\nB,R,2022,10,CLX:5-14\nA,R,2022,10,CLX:1-10\n".encode()
    url, code, out = run_import(backend, tmp_path, "overlap.csv", overlapping)
    assert code == 1, out
    assert "0 created" in out and "1 rejected" in out and "nothing was written" in out, out
    assert "row 3: serial_number: serial_overlap" in out and "row 2's block" in out, out
    assert ids_in(url, tmp_path) == []
    s = Server(url, tmp_path).start()
    try:
        tracked = s.post("/records", {"project_name": "T", "registry": "R", "vintage": 2022, "quantity": 10, "serial_number": "TRK:11-20"})
        assert tracked.status == 201
        body = f"{HEADER}\nC,R,2022,5,NEW:1-5\nD,R,2022,3,TRK:20-22\n".encode()

        def post(query: str) -> dict[str, Any]:
            r = s.request("POST", f"/imports?{query}", raw=body, headers={"Content-Type": "text/csv"})
            assert r.status in (200, 422), r.raw
            answer: dict[str, Any] = r.json
            return answer

        for query in ("from=records", "from=records&dry_run=true"):
            answer = post(query)
            assert answer["written"] is False and answer["created"] == (1 if "dry_run" in query else 0), answer
            rejected = answer["rejected"]
            assert isinstance(rejected, list) and [(r["row"], r["code"]) for r in rejected] == [(3, "serial_overlap")], answer
            assert tracked.json["id"] in rejected[0]["message"], rejected
        assert len(s.get("/records").json["items"]) == 1
        answer = post("from=records&skip_rejected=true")
        assert answer["written"] is True and answer["created"] == 1, answer
    finally:
        s.stop()


def test_a_dry_run_counts_what_is_stored(backend: Backend, tmp_path: Path) -> None:
    """A dry run of a file of records said 0 created and 0 already there,
    whatever the file and the store held."""
    content = f"{HEADER}\nA,R,2022,10,DRY:1-10\nA,R,2022,5,DRY2\nA,R,2022,5,DRY2\n".encode()
    url, code, out = run_import(backend, tmp_path, "dry.csv", content, "--dry-run")
    assert code == 0 and "(dry run, nothing written): 2 created, 1 already there" in out, out
    f = tmp_path / "again.csv"
    f.write_bytes(content)
    assert run_cli("import", str(f), env={"DATABASE_URL": url}).returncode == 0
    p = run_cli("import", "--dry-run", str(f), env={"DATABASE_URL": url})
    assert "(dry run, nothing written): 0 created, 3 already there" in p.stdout + p.stderr, p.stdout + p.stderr


def test_a_block_split_since_is_already_there_and_rejected_rows_hold_no_credits(backend: Backend, tmp_path: Path) -> None:
    """A row that is a stored block, split since its first import, is that
    record ("already there"), not an overlap with its live remainder (the
    first version of the look refused the re-import). And a row rejected for
    an overlap is never written, so it holds no credits against later rows."""
    url = backend.new_url(tmp_path)
    s = Server(url, tmp_path).start()
    try:
        def post(body: bytes, query: str = "from=records") -> dict[str, Any]:
            r = s.request("POST", f"/imports?{query}", raw=body, headers={"Content-Type": "text/csv"})
            assert r.status in (200, 422), r.raw
            answer: dict[str, Any] = r.json
            return answer

        block = f"{HEADER}\nP,Verra,2020,100,A:1-100\n".encode()
        assert post(block)["created"] == 1
        rid = s.get("/records").json["items"][0]["id"]
        assert s.post(f"/records/{rid}/sell", {"buyer": "X", "quantity": 30}).status == 200
        for query in ("from=records", "from=records&dry_run=true"):
            answer = post(block, query)
            assert (answer["created"], answer["existing"], answer["rejected"]) == (0, 1, []), answer
        tracked = s.post("/records", {"project_name": "T", "registry": "R", "vintage": 2022, "quantity": 10, "serial_number": "X:11-20"})
        assert tracked.status == 201
        # Row 2 overlaps the tracked block; row 3 only overlaps row 2.
        answer = post(f"{HEADER}\nP,Verra,2020,3,X:19-21\nP,Verra,2020,5,X:21-25\n".encode(), "from=records&skip_rejected=true&dry_run=true")
        assert [r["row"] for r in answer["rejected"]] == [2] and answer["created"] == 1, answer
        # Row 3 overlaps row 2; row 4 only overlaps row 3.
        answer = post(f"{HEADER}\nQ,Verra,2020,10,Z:1-10\nQ,Verra,2020,3,Z:9-11\nQ,Verra,2020,5,Z:11-15\n".encode(), "from=records&skip_rejected=true&dry_run=true")
        assert [r["row"] for r in answer["rejected"]] == [3] and answer["created"] == 2, answer
    finally:
        s.stop()


def test_import_and_proof_problems_say_what_to_do(server: Server) -> None:
    # Found without `help` by a review (the README promises one on every error).
    assert_problem(server.request("POST", "/imports", raw=b"", headers={"Content-Type": "text/csv"}), 400, "empty_body")
    form = b'--zz\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--zz--\r\n'
    r = server.request("POST", "/imports", raw=form, headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert_problem(r, 400, "missing_file")
    assert_problem(server.get("/events/nope/proof"), 404, "not_found")
    assert_problem(server.get("/events/00000000-0000-7000-8000-000000000000/proof"), 404, "not_found")


def test_an_import_racing_clients_that_register_and_split_its_blocks(fresh_server: Server, tmp_path: Path) -> None:
    """While the import checks a file of blocks, HTTP clients register the
    same blocks and retire part of each. A row whose block another client
    registered (and split) meanwhile is that record, not an overlap with its
    remainder (README: "a row that is a stored block, split since or not, is
    that record"): the re-test saw such rows rejected as serial_overlap and
    the whole file refused."""
    import threading
    import uuid

    s = fresh_server
    tag = uuid.uuid4().hex[:8]
    rows = [(f"Race {tag} {i}", f"RACE-{tag}-{i}:1-100") for i in range(800)]
    f = tmp_path / "race.csv"
    f.write_text(HEADER + "\n" + "".join(f"{name},Verra,2021,100,{serial}\n" for name, serial in rows))

    def client(k: int) -> None:
        for name, serial in rows[k::4]:
            r = s.post("/records", {"project_name": name, "registry": "Verra", "vintage": 2021, "quantity": 100, "serial_number": serial})
            assert r.status in (200, 201), r.raw
            assert s.post(f"/records/{r.json['id']}/retire", {"quantity": 10}).status == 200

    clients = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for c in clients:
        c.start()
    try:
        outputs = []
        while any(c.is_alive() for c in clients):
            p = run_cli("import", str(f), env={"DATABASE_URL": s.database_url})
            outputs.append(p.stdout + p.stderr)
            assert p.returncode == 0 and " 0 rejected" in p.stdout, p.stdout + p.stderr
    finally:
        for c in clients:
            c.join()
    assert outputs, "the clients finished before an import ran"


def test_an_error_says_each_thing_once(backend: Backend, tmp_path: Path) -> None:
    """The cause of a failure is printed after its message, unless the
    message says it already (it printed "No such file or directory (os error
    2): No such file or directory (os error 2)"); a file the sheet reader
    refuses is named once."""
    missing = tmp_path / "missing.csv"
    p = run_cli("import", str(missing), env={"DATABASE_URL": backend.new_url(tmp_path)})
    one_line_error(p, f"cannot read {missing}")
    assert p.stderr.count("No such file or directory") == 1, p.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + b"\nFor\xeat,Verra,2021,10,VCS-1\n")
    p = run_cli("import", str(latin), env={"DATABASE_URL": backend.new_url(tmp_path)})
    one_line_error(p, "not UTF-8")
    assert p.stderr.count(str(latin)) == 1, p.stderr
