"""The StarRocks SQL test-suite runner (bench/sqltest): its reading of R/ files, its comparison rules, and a run
of three tiny cases against a real local Cairn (one passing, one failing, one skipped)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.sqltest.__main__ import main
from bench.sqltest.cases import load_cases
from bench.sqltest.compare import check, format_rows, same_rows

TINY = """-- name: test_tiny_pass
create table t1 (k int, v varchar(10)) duplicate key(k) distributed by hash(k) buckets 1 properties("replication_num" = "1");
-- result:
-- !result
insert into t1 values (2, 'b'), (1, null);
-- result:
-- !result
[UC] select count(*) from t1;
-- result:
7
-- !result
select k, v
  from t1;
-- result:
1	None
2	b
-- !result
[ORDER]select k from t1 order by k;
-- result:
1
2
-- !result
select 1 + 1;
-- result:
[REGEX]^\\d$
-- !result
-- name: test_tiny_fail
select 2;
-- result:
2
-- !result
select 3;
-- result:
4
-- !result
select 5;
-- result:
5
-- !result
-- name: test_tiny_skip
function: wait_alter_table_finish()
-- result:
None
-- !result
"""


def _suite(root: Path) -> Path:
    (root / "test_tiny" / "R").mkdir(parents=True)
    (root / "test_tiny" / "R" / "test_tiny").write_text(TINY)
    return root


def test_reads_cases_statements_and_expected_results(tmp_path: Path) -> None:
    cases = load_cases(_suite(tmp_path), ["test_tiny"])
    assert [c.name for c in cases] == ["test_tiny_pass", "test_tiny_fail", "test_tiny_skip"]
    first = cases[0].statements
    assert first[3].sql == "select k, v\n  from t1;" and first[3].expected == "1\tNone\n2\tb"
    assert first[0].expected == "" and first[2].sql.startswith("[UC]")


def test_comparison_follows_starrocks_tester() -> None:
    assert format_rows([(1, None, b"x", 1.5)]) == "1\tNone\tx\t1.5"
    assert check("select 1", "1\n2", "2\n1") is None  # rows as a multiset
    assert check("select 1", "1\n2", "2\n1", order=True) is not None  # [ORDER]
    assert check("select 1", "[REGEX].*abc", "xxabcx") is None
    assert check("select 1", "[1, null]", "[1,null]") is None  # read as Python lists
    assert check("select 1", "E: (1064, 'Unknown table')", "E: (1051, \"x: Unknown table 't'\")") is None
    assert check("select 1", "E: (1064, 'Unknown table')", "1") == "expected an error, the statement succeeded"
    assert check("create table t (k int)", "", "E: (1064, 'nope')") is not None
    assert check("select now()", "2020-01-01", "2026-12-02") is None  # a statement the tester never checks


def test_two_paths_answers_compare_as_issue_14_says() -> None:
    assert same_rows([(1, "a"), (2, None)], [(2, None), (1, "a")], ordered=False)
    assert not same_rows([(1, "a"), (2, None)], [(2, None), (1, "a")], ordered=True)
    assert same_rows([(0.1 + 0.2,)], [(0.3,)], ordered=True)  # DOUBLEs within a relative 1e-9
    assert not same_rows([(1.0,)], [(1.0001,)], ordered=True)
    assert not same_rows([(1,)], [(1,), (1,)], ordered=False)


def test_runner_passes_fails_and_skips_against_cairn(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = main(["--cases", str(_suite(tmp_path / "suite")), "--dirs", "test_tiny", "--out", str(out), "--quiet",
                 "--timeout", "30"])
    assert code == 1  # one case failed
    results = json.loads(out.read_text())
    by_name = {c["case"]: c for c in results["cases"]}
    assert by_name["test_tiny_pass"]["status"] == "pass", by_name["test_tiny_pass"]
    failed = by_name["test_tiny_fail"]
    assert failed["status"] == "fail" and failed["statement_index"] == 1 and failed["sql"] == "select 3;"
    assert failed["expected"] == "4" and failed["actual"] == "3" and failed["cause"] == "SELECT: different result"
    skipped = by_name["test_tiny_skip"]
    assert skipped["status"] == "skip" and "wait_alter_table_finish" in skipped["reason"]
    assert results["summary"]["total"] == {"cases": 3, "pass": 1, "fail": 1, "skip": 1}
    assert results["summary"]["causes"] == [["SELECT: different result", 1, []]]


def test_runner_on_the_distributed_engine_counts_and_checks_the_selects_it_answers(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    main(["--cases", str(_suite(tmp_path / "suite")), "--dirs", "test_tiny", "--out", str(out), "--quiet",
          "--timeout", "60", "--engine"])
    by_name = {c["case"]: c for c in json.loads(out.read_text())["cases"]}
    passed = by_name["test_tiny_pass"]
    # Three of its four SELECTs read t1 and run on the engine, each answer equal to the existing path's;
    # `select 1 + 1` reads no table.
    assert passed["status"] == "pass", passed
    assert (passed["selects"], passed["on_engine"]) == (4, 3)
    assert by_name["test_tiny_fail"]["cause"] == "SELECT: different result"
