"""Typed scan requests: what the FE pushes down is (column, operator, literal) data, never SQL text,
and what a node compiles from it keeps exactly the rows the WHERE clause keeps."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from pydantic import ValidationError
from sqlglot import exp

from cairn.catalog.model import Column, Table
from cairn.compute.fragment import fragment, parquet_source
from cairn.compute.requests import ScanRequest, VolumeRef
from cairn.query.pushdown import ScanFilter, scan_filters
from cairn.storage.engine_sandbox import SandboxedEngine

TABLE = Table(id=1, name="t", columns=[Column(name="a", type="INT"), Column(name="s", type="VARCHAR(8)"),
                                       Column(name="d", type="DATE")])
WHERE = ("a > 1 AND 9 >= a AND s LIKE 'x%' AND d BETWEEN '2024-01-01' AND '2024-03-01' AND a IN (2, 3, 5, -4) "
         "AND s IS NOT NULL AND NOT a IN (5) AND a + 0 > 1")


def _filters(where: str) -> list[ScanFilter]:
    tree = sqlglot.parse_one(f"SELECT * FROM t WHERE {where}", dialect="starrocks")
    return scan_filters(tree.find(exp.Table), TABLE)


def test_pushed_filters_are_typed_and_keep_exactly_the_rows_the_where_clause_keeps(tmp_path: Path) -> None:
    filters = _filters(WHERE)
    assert [(f.column, f.op) for f in filters] == [
        ("a", ">"), ("a", "<="), ("s", "LIKE"), ("d", ">="), ("d", "<="), ("a", "IN"), ("s", "IS NOT NULL"),
        ("a", "NOT IN")]  # `a + 0 > 1` is not a column against a literal: the FE applies it alone
    assert [(f.column, f.op, [v.text for v in f.values]) for f in _filters("(a = 1 OR 2 = a OR a IN (3))")] == [
        ("a", "IN", ["1", "2", "3"])]
    assert _filters("a = 1 OR s = 'x'") == [] and _filters("a = 1 OR a > 2") == []
    data = pa.table({"a": list(range(-5, 12)), "s": [f"x{i}" if i % 4 else None for i in range(17)],
                     "d": pa.array([f"2024-0{1 + i % 3}-01" for i in range(17)]).cast(pa.date32())})
    pq.write_table(data, tmp_path / "rows.parquet")
    engine = SandboxedEngine(tmp_path / "scratch", tmp_path / "spill", lambda: [tmp_path])
    con = engine.cursor()
    try:
        query = fragment(TABLE, ["a"], filters, None, parquet_source(TABLE, [tmp_path / "rows.parquet"]))
        pushed = sorted(con.sql(query.sql(dialect="duckdb")).fetchall())
        con.register("source", data)
        expected = sorted(con.sql(f"SELECT a FROM source WHERE {WHERE}").fetchall())
    finally:
        con.close()
    assert pushed == expected == [(2,)]


@pytest.mark.parametrize("bad", [
    {"column": "a", "op": "=", "values": [{"kind": "number", "text": "1) OR (1=1"}]},
    {"column": "a", "op": "=", "values": [{"kind": "boolean", "text": "1=1"}]},
    {"column": "a", "op": "IN", "values": []},
    {"column": "a", "op": "; DROP TABLE t", "values": []},
])
def test_a_filter_that_is_not_a_typed_conjunct_is_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        ScanFilter.model_validate(bad)


def test_a_scan_request_refuses_keys_outside_the_data_prefix_and_sql_fields() -> None:
    ref = VolumeRef(name="v", version="0" * 32)
    good = {"volume": ref.model_dump(), "cluster_id": "c1", "table": TABLE.model_dump(),
            "rowsets": [{"key": "c1/data/1/2/3/4_x.parquet"}]}
    ScanRequest.model_validate(good)
    for key in ("c1/meta/journal/000001/1", "c1/data/../meta/x", "/etc/passwd", "c2/data/1.parquet", "c1/data/"):
        with pytest.raises(ValidationError, match="data prefix"):
            ScanRequest.model_validate({**good, "rowsets": [{"key": key}]})
    with pytest.raises(ValidationError, match="xtra"):
        ScanRequest.model_validate({**good, "sql": "SELECT 1"})
