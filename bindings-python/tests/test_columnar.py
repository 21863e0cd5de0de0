"""record_ids on columns (the Arrow PyCapsule interface): the same ids as the
dict path on every vector of tests/vectors/ids.json, and row-numbered errors
for nulls and wrong column types.

pyarrow, polars and pandas are optional extras of the package; each test
that needs one is skipped, naming the extra, only when it is not installed
(tests/run installs all three, so there nothing is skipped).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable

import pytest

import carbon_tracker as ct
from conftest import cases

IDS = cases("ids.json")
FIELDS = list(ct.RECORD_FIELDS)


def extra(module: str, extra_name: str) -> Any:
    """The optional module, or a skip naming the extra that brings it."""
    return pytest.importorskip(
        module, reason=f"{module} is not installed: pip install './bindings-python[{extra_name}]'"
    )


def pyarrow() -> Any:
    return extra("pyarrow", "arrow")


def exact(body: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(body, parse_float=Decimal)
    return result


def groups(bodies: list[dict[str, Any]]) -> dict[tuple[str, ...], list[int]]:
    """Indexes of the bodies, grouped by the Python types of their five fields
    (an Arrow column holds one type)."""
    out: dict[tuple[str, ...], list[int]] = {}
    for i, body in enumerate(bodies):
        out.setdefault(tuple(type(body[f]).__name__ for f in FIELDS), []).append(i)
    return out


def column(pa: Any, values: list[Any]) -> Any:
    """An Arrow column of the values, in the type pyarrow infers (int64,
    string, double, decimal128 with the values' own scale)."""
    if values and all(isinstance(v, Decimal) for v in values):
        exponents = [-int(v.as_tuple().exponent) for v in values]
        scale = max(exponents)
        digits = max(len(v.as_tuple().digits) - e + scale for v, e in zip(values, exponents))
        if digits <= 38:
            return pa.array(values, type=pa.decimal128(max(digits, 1), scale))
        return pa.array(values, type=pa.decimal256(max(digits, 1), scale))
    return pa.array(values)


def tables(pa: Any, bodies: list[dict[str, Any]]) -> list[tuple[list[int], Any]]:
    return [
        (rows, pa.table({f: column(pa, [bodies[i][f] for i in rows]) for f in FIELDS}))
        for rows in groups(bodies).values()
    ]


def test_vectors_typed_columns() -> None:
    """int, string and decimal128/256 columns (exact decimals) give each vector's id."""
    pa = pyarrow()
    bodies = [exact(c["body"]) for c in IDS]
    seen = 0
    for rows, table in tables(pa, bodies):
        assert ct.record_ids(table, output="list") == [IDS[i]["id"] for i in rows]
        assert ct.record_ids(table).to_pylist() == [ct.record_id(bodies[i]) for i in rows]
        seen += len(rows)
    assert seen == len(IDS)


def test_vectors_exact_decimal_strings() -> None:
    """Every quantity as its exact decimal text, all vectors in one table."""
    pa = pyarrow()
    bodies = [exact(c["body"]) for c in IDS]
    for body in bodies:
        body["quantity"] = str(body["quantity"])
    for rows, table in tables(pa, bodies):
        assert table.column("quantity").type == pa.string()
        assert ct.record_ids(table, output="list") == [IDS[i]["id"] for i in rows]


def test_vectors_float_columns() -> None:
    """The bodies read with floats (float64 columns): the vector's id exactly
    where it is float_safe, as through the dict path."""
    pa = pyarrow()
    bodies = [json.loads(c["body"]) for c in IDS]
    floats = 0
    for rows, table in tables(pa, bodies):
        floats += sum(t == pa.float64() for t in table.schema.types)
        got = ct.record_ids(table, errors="collect", output="list")
        for i, id_ in zip(rows, got):
            assert (id_ == IDS[i]["id"]) == IDS[i]["float_safe"], IDS[i]["name"]
            try:
                through_dict: Any = ct.record_id(bodies[i])
            except ct.ValidationError:
                through_dict = None
            assert (id_ if isinstance(id_, str) else None) == through_dict
    assert floats > 0


def registry_rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "project_name": f"Solar Farm {i % 97}",
            "registry": ["VCS", "GS", "ACR"][i % 3],
            "vintage": 2000 + i % 25,
            "quantity": f"{i % 1000 + 1}.{i % 10000:04d}",
            "serial_number": f"VCS-{i:08d}",
        }
        for i in range(n)
    ]


def test_large_table_uses_every_chunk_and_thread() -> None:
    """A table of several batches, large enough to be spread over threads."""
    pa = pyarrow()
    rows = registry_rows(20_000)
    table = pa.Table.from_pylist(rows)
    table = pa.Table.from_batches(table.to_batches(max_chunksize=3_000))
    assert table.column("project_name").num_chunks > 1
    ids = ct.record_ids(table)
    assert isinstance(ids, pa.Array) and ids.type == pa.string() and ids.null_count == 0
    assert ids.to_pylist() == ct.record_ids(rows)


def test_mapping_of_columns() -> None:
    pa = pyarrow()
    rows = registry_rows(100)
    table = pa.Table.from_pylist(rows)
    columns = {f: table.column(f) for f in FIELDS}  # chunked arrays
    assert ct.record_ids(columns).to_pylist() == ct.record_ids(rows)
    columns = {f: table.column(f).combine_chunks() for f in FIELDS}  # arrays
    assert ct.record_ids(columns, output="list") == ct.record_ids(rows)
    with pytest.raises(ValueError, match="rows"):
        ct.record_ids({**columns, "registry": pa.array(["VCS"])})


def test_nulls_are_row_numbered_errors() -> None:
    pa = pyarrow()
    rows: list[dict[str, Any]] = registry_rows(6)
    rows[1]["project_name"] = None
    rows[4]["quantity"] = None
    rows[4]["vintage"] = None
    table = pa.Table.from_pylist(rows)
    collected = ct.record_ids(table, errors="collect")
    assert isinstance(collected, ct.ArrowIds)
    assert collected.ids.null_count == 2
    assert collected.ids.is_null().to_pylist() == [False, True, False, False, True, False]
    assert [e.row for e in collected.errors] == [1, 4]
    assert [[(f.field, f.code) for f in e.errors] for e in collected.errors] == [
        [("project_name", "missing")],
        [("vintage", "missing"), ("quantity", "missing")],
    ]
    assert collected.ids.to_pylist()[0] == ct.record_id(rows[0])
    # The same shapes as the dict path.
    as_list = ct.record_ids(table, errors="collect", output="list")
    from_dicts = ct.record_ids(rows, errors="collect")
    assert [x if isinstance(x, str) else (x.row, [(f.field, f.code) for f in x.errors]) for x in as_list] == [
        x if isinstance(x, str) else (x.row, [(f.field, f.code) for f in x.errors]) for x in from_dicts
    ]
    with pytest.raises(ct.ValidationError) as raised:
        ct.record_ids(table)
    assert raised.value.row == 1
    assert str(raised.value).startswith("row 1: ")


def test_wrong_column_types_are_row_numbered_errors() -> None:
    pa = pyarrow()
    n = 3
    table = pa.table(
        {
            "project_name": pa.array([1, 2, 3]),  # int, not text
            "registry": pa.array(["VCS"] * n),
            "vintage": pa.array([[2023]] * n),  # a list column
            "quantity": pa.array([True, False, True]),  # bool
            "serial_number": pa.array([b"x", b"y", b"z"]),  # binary
        }
    )
    collected = ct.record_ids(table, errors="collect")
    assert collected.ids.null_count == n
    assert [e.row for e in collected.errors] == [0, 1, 2]
    assert [(f.field, f.code) for f in collected.errors[0].errors] == [
        ("project_name", "not_a_string"),
        ("vintage", "not_an_integer"),
        ("quantity", "not_a_number"),
        ("serial_number", "not_a_string"),
    ]
    dict_errors = ct.validate(project_name=1, registry="VCS", vintage=[2023], quantity=True, serial_number=b"x")
    assert [(f.field, f.code) for f in collected.errors[0].errors] == [(f.field, f.code) for f in dict_errors]
    # A missing column: every row's field is missing.
    partial = table.drop_columns(["project_name"])
    collected = ct.record_ids(partial, errors="collect")
    assert all(e.errors[0].code == "missing" for e in collected.errors)
    with pytest.raises(TypeError, match="Arrow"):
        ct.record_ids({"project_name": ["x"], "registry": pa.array(["y"])})  # type: ignore[dict-item]


def test_other_numeric_and_dictionary_types() -> None:
    pa = pyarrow()
    rows = registry_rows(50)
    table = pa.Table.from_pylist(rows)
    typed = table.set_column(2, "vintage", table.column("vintage").cast(pa.int16()))
    typed = typed.set_column(0, "project_name", typed.column("project_name").dictionary_encode())
    typed = typed.set_column(1, "registry", typed.column("registry").cast(pa.large_string()))
    typed = typed.set_column(4, "serial_number", typed.column("serial_number").cast(pa.string_view()))
    typed = typed.set_column(3, "quantity", typed.column("quantity").cast(pa.decimal128(12, 4)))
    assert ct.record_ids(typed, output="list") == ct.record_ids(rows)


def test_polars() -> None:
    pa = pyarrow()
    pl = extra("polars", "polars")
    bodies = [exact(c["body"]) for c in IDS]
    for rows, table in tables(pa, bodies):
        # polars has no 256-bit decimals: those columns as exact text.
        schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_decimal256(f.type) else f for f in table.schema])
        frame = pl.from_arrow(table.cast(schema))
        assert ct.record_ids(frame, output="list") == [IDS[i]["id"] for i in rows]
        assert ct.record_ids({f: frame[f] for f in FIELDS}, output="list") == [IDS[i]["id"] for i in rows]


def test_pandas() -> None:
    pa = pyarrow()
    pd = extra("pandas", "pandas")
    bodies = [exact(c["body"]) for c in IDS]
    for rows, table in tables(pa, bodies):
        frame = table.to_pandas()
        assert ct.record_ids(frame, output="list") == [IDS[i]["id"] for i in rows]
    frame = pd.DataFrame(registry_rows(30))
    frame["registry"] = frame["registry"].astype("category")
    assert ct.record_ids(frame).to_pylist() == ct.record_ids(registry_rows(30))


def test_dict_rows_unchanged_by_columnar_dispatch() -> None:
    """A single mapping of scalars is not columns: it is still iterated as rows."""
    collected = ct.record_ids([registry_rows(1)[0], "not a mapping"], errors="collect")  # type: ignore[call-overload]
    assert isinstance(collected[0], str)
    error = collected[1]
    assert isinstance(error, ct.ValidationError) and error.row == 1
    with pytest.raises(TypeError, match="columnar"):
        ct.record_ids(registry_rows(2), output="arrow")  # type: ignore[call-overload]


def check_raises(fn: Callable[[], Any], code: str) -> None:
    with pytest.raises(ct.ValidationError) as raised:
        fn()
    assert raised.value.errors[0].code == code


def test_keyword_calls() -> None:
    row = registry_rows(1)[0]
    assert ct.record_id(**row) == ct.record_id(row)
    check_raises(lambda: ct.record_id(project_name="x"), "missing")  # type: ignore[call-overload]
    check_raises(lambda: ct.record_id(None), "not_an_object")  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        ct.record_id(colour="red")  # type: ignore[call-overload]


def test_large_lists_and_generators_of_dicts() -> None:
    """Rows read in chunks while id threads hash the chunks before: the same
    ids, in order, and errors with their global row numbers."""
    rows: list[Any] = registry_rows(10_000)
    rows[7_000] = dict(rows[7_000], quantity="-1")
    rows[9_999] = "not a mapping"
    expected = [ct.record_id(r) if i not in (7_000, 9_999) else None for i, r in enumerate(rows)]
    for given in (rows, iter(rows)):
        got = ct.record_ids(given, errors="collect")
        assert [x if isinstance(x, str) else None for x in got] == expected
        assert [x.row for x in got if isinstance(x, ct.ValidationError)] == [7_000, 9_999]
    with pytest.raises(ct.ValidationError) as raised:
        ct.record_ids(iter(rows))
    assert raised.value.row == 7_000
