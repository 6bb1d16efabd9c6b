"""Windows, joins and sorting as StarRocks answers them: its bracketed join and window hints, and what
StarRocks refuses (expected answers from StarRocks' own SQL test cases under test/sql: test_join,
test_window_function)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

import cairn.api
from cairn.errors import AnalysisError
from cairn.server.session import Session


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("windows_joins")
    fe = cairn.api.open_frontend(local_storage_path=root / "storage", meta_dir=root / "meta")
    session = cairn.api.connect(fe)
    session.execute_script("""
        CREATE DATABASE d; USE d;
        CREATE TABLE t1 (k INT, v INT, s VARCHAR(10));
        CREATE TABLE t2 (k INT, w INT);
        INSERT INTO t1 VALUES (1, 10, 'a'), (2, 20, 'b'), (3, NULL, 'c'), (NULL, 40, 'd');
        INSERT INTO t2 VALUES (1, 100), (2, 200), (2, 201), (NULL, 400);
    """)
    yield session
    fe.close()


def _answer(session: Session, sql: str) -> tuple[list[tuple[Any, ...]], list[pa.DataType]]:
    result = session.execute(sql)
    return result.rows(), [field.type for field in result.table.schema]


JOINED = [(1, 100), (2, 200), (2, 201)]

# (query, StarRocks' rows, the result column types)
HINT_CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    # test_join/test_lazy_materialize, test_null_safe_equal, test_skew_join: a join hint changes no answer
    *[(f"SELECT t1.k, w FROM t1 JOIN {hint} t2 ON t1.k = t2.k ORDER BY 1, 2", JOINED, [pa.int32()] * 2)
      for hint in ("[broadcast]", "[shuffle]", "[BUCKET]", "[colocate]", "[unreorder]", "[skew|t1.k(1,2)]")],
    ("SELECT t1.k, w FROM t1 INNER JOIN[shuffle] t2 ON t1.k <=> t2.k ORDER BY 1, 2",
     [(None, 400), *JOINED], [pa.int32()] * 2),
    ("SELECT t1.k, w FROM t1 LEFT OUTER JOIN [broadcast] t2 USING (k) WHERE t1.k < 3 ORDER BY 1, 2",
     JOINED, [pa.int32()] * 2),
    # test_window_function/test_hash_based_process, test_skewed_partition: so does a window hint
    ("SELECT k, count(v) OVER ([hash] PARTITION BY k > 0) FROM t1 ORDER BY k",
     [(None, 1), (1, 2), (2, 2), (3, 2)], [pa.int32(), pa.int64()]),
    ("SELECT k, sum(v) OVER([skewed, hash] PARTITION BY k > 1 ORDER BY k) FROM t1 ORDER BY k",
     [(None, 40), (1, 10), (2, 20), (3, 20)], [pa.int32(), pa.int64()]),
    # a bracket elsewhere is still an array
    ("SELECT [t1.k, 2][1], s FROM t1 JOIN [broadcast] t2 ON t1.k = t2.k AND '[x]' = '[x]' WHERE t1.k = 1",
     [(1, "a")], [pa.int32(), pa.string()]),
]


@pytest.mark.parametrize("sql, rows, types", HINT_CASES, ids=[c[0][:70] for c in HINT_CASES])
def test_join_and_window_hints_change_no_answer(session: Session, sql: str, rows: list[tuple[Any, ...]],
                                                types: list[pa.DataType]) -> None:
    assert _answer(session, sql) == (rows, types)


@pytest.mark.parametrize("sql, message", [
    ("SELECT * FROM t1 JOIN [fast] t2 ON t1.k = t2.k", "JOIN hint not recognized: fast"),
    ("SELECT * FROM t1 JOIN [broadcast|t1.k(1)] t2 ON t1.k = t2.k", "JOIN hint not recognized"),
    ("SELECT * FROM t1 JOIN [skew] t2 ON t1.k = t2.k", "JOIN hint not recognized: skew"),
    ("SELECT count(v) OVER ([quick] PARTITION BY k) FROM t1", "window hint not recognized: quick"),
])
def test_unknown_hints_are_refused(session: Session, sql: str, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        session.execute(sql)

