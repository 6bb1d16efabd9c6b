"""StarRocks' tester's result rules: how a statement's outcome is printed, and when it matches the R/ file.

Printing (its `execute_sql`): each row's values `str()`-ed as PyMySQL returns them (NULL prints `None`,
bytes are UTF-8 decoded), tab-separated, one row per line; an error prints `E: (code, 'message')`.
Matching (its `check`): rows compare as a multiset unless the statement has `[ORDER]`; `[REGEX]` expectations
are searched as regular expressions; a result that starts with `[` is read as a Python list and one within
`{...}` as JSON (each falling back to plain text); for expected errors only the message must appear in the
actual error; an empty expectation means no error and no rows; statements the tester never checks (its
`skip_res_cmd`, e.g. `explain ...`, `select now()`) only run.
"""

from __future__ import annotations

import ast
import json
import math
import re
import unittest
from collections.abc import Sequence
from typing import Any

REGEX_FLAG = "[REGEX]"

# StarRocks' test/lib/skip.py: statements whose result the tester never checks (re.search on the statement).
UNCHECKED_STATEMENTS = [
    "show backends", "show backends;", "select connection_id()", "select connection_id();",
    ".*explain costs select.*", "rand()", "show stats meta", "SHOW RESOURCES", "show alter table column",
    "select db_id, table_id, column_name,.* from _statistics_.column_statistics.*", "SELECT \\* FROM .* LIMIT 1.*",
    "explain(?! select).*", "select \\* from t2 where c1 = \\(select c1 from t2 limit 1\\).*",
    "SHOW ALTER TABLE COLUMN ORDER BY CreateTime DESC LIMIT 1.*", "show load.*",
    "SELECT `v2` FROM `test_except_with_only_one_tablet`.*", "SHOW PARTITIONS.*", "SHOW REPLICA",
    "show routine load", "SELECT DISTINCT k1 FROM aggregate_tbl LIMIT 1",
    "SELECT DISTINCT k1 FROM aggregate_par_tbl LIMIT 1", "select.* db_id.*", "select.* table_id.*",
    "SELECT * FROM unnest_es_external_table limit 1", "select last_query_id", "select uuid",
    "select unix_timestamp", "select utc_timestamp", "select now\\(\\)", "select current_timestamp",
    "select localtime", "select curtime\\(\\)", "select current_time\\(\\)", "select curdate\\(\\)",
    "select current_date\\(\\)", "refresh materialized view.*", "REFRESH MATERIALIZED VIEW.*",
]

_ASSERT = unittest.TestCase()
_ASSERT.maxDiff = None


def unchecked(sql: str) -> bool:
    """Whether the tester runs `sql` without checking its result."""
    for pattern in UNCHECKED_STATEMENTS:
        try:
            if re.search(pattern, sql):
                return True
        except re.error:
            if pattern in sql:
                return True
    return False


def format_rows(rows: Sequence[Sequence[Any]] | None) -> str:
    """Rows printed as the tester prints them."""
    lines = []
    for row in rows or ():
        values = []
        for value in row:
            if isinstance(value, bytes):
                try:
                    value = value.decode()
                except UnicodeDecodeError:
                    pass
            values.append(str(value))
        lines.append("\t".join(values))
    return "\n".join(lines)


def same_rows(got: Sequence[Sequence[Any]], want: Sequence[Sequence[Any]], ordered: bool) -> bool:
    """Issue #14's "the same" for two answers to one query: equal values, floats within a relative
    1e-9, in the same order when `ordered`, else as multisets."""
    if len(got) != len(want):
        return False
    if not ordered:
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    for g, w in zip(got, want):
        if len(g) != len(w):
            return False
        for a, b in zip(g, w):
            if isinstance(a, float) and isinstance(b, float):
                if not (a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))):
                    return False
            elif a != b:
                return False
    return True


def format_error(args: tuple[Any, ...]) -> str:
    """An error printed as the tester prints PyMySQL's exception arguments."""
    return f"E: {args}"


def pretreat(actual: str) -> Any:
    """The tester's reading of an actual result that starts with `[` (as a list)."""
    if actual.startswith("["):
        if "\n" in actual:
            return actual.replace("null", "None").replace("NULL", "None").split("\n")
        try:
            return ast.literal_eval(actual.replace("null", "None"))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return actual
    return actual


def _same(expected: Any, actual: Any, order: bool) -> bool:
    try:
        if order:
            _ASSERT.assertListEqual(expected, actual)
        else:
            _ASSERT.assertCountEqual(expected, actual)
        return True
    except (AssertionError, TypeError):
        return False


def check(sql: str, expected: str, actual_text: str, order: bool = False) -> str | None:
    """None when `actual_text` (printed by `format_rows`/`format_error`) matches `expected` for `sql`;
    otherwise why not, in a few words."""
    actual = pretreat(actual_text)
    if expected == "":
        if str(actual).startswith("E: "):
            return "error where no error and no rows were expected"
        if not unchecked(sql) and actual != "":
            return "rows where none were expected"
        return None
    if unchecked(sql):
        return None
    if expected.startswith(REGEX_FLAG):
        try:
            matched = re.search(expected[len(REGEX_FLAG):], str(actual)) is not None
        except re.error:
            matched = False
        return None if matched else "result does not match the expected regular expression"
    if expected.startswith("["):
        if "\n" in expected:
            as_list: Any = expected.replace("null", "None").split("\n")
        else:
            try:
                as_list = ast.literal_eval(expected.replace("null", "None"))
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                as_list = expected
        if type(as_list) is type(actual) and _same(as_list, actual, order):
            return None
    elif expected.startswith("{") and expected.endswith("}") and isinstance(actual, str):
        try:
            if json.loads(expected) == json.loads(actual):
                return None
        except ValueError:
            pass
    if not isinstance(actual, str):
        return "different result"
    if expected.startswith("E:") and actual.startswith("E:"):
        if "url:" in expected and "url:" in actual:
            return None
        found = re.match(r"E: \(\d+, ['\"](.*)['\"]\)", expected)
        if found:
            return None if found.group(1) in actual else "different error message"
        if actual != expected:
            return "different error message"
    if expected.startswith("E:"):
        return "expected an error, the statement succeeded"
    if actual.startswith("E:"):
        return "error"
    if _same(expected.split("\n"), actual.split("\n"), order):
        return None
    return "different result"
