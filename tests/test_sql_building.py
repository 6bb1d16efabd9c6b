"""Names and values that are hard to quote go through every statement Cairn builds for its engine
(loads, routing, pruning, scans and partial aggregates on compute nodes, compaction) and read back
exactly; and no module builds engine SQL by formatting strings."""

from __future__ import annotations

import ast
import base64
import http.client
import json
import re
from pathlib import Path

from cn_process import CnProcess, start_cn
from conftest import wait_until
from fe_process import FeProcess, run_sql, start_fe

# A backtick, double quote, single quote, backslash, semicolon and a comment opener.
AWKWARD = "a`b\"c'd\\e;f--g"


def _name(prefix: str) -> str:
    """A backquoted StarRocks identifier that contains AWKWARD."""
    return "`" + (prefix + AWKWARD).replace("`", "``") + "`"


def _string(value: str) -> str:
    """A StarRocks string literal of `value`."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


DB, TABLE, KEY, VALUE, NOTE = _name("d"), _name("t"), _name("k"), _name("v"), _name("n")
KEY_LITERAL = _string(AWKWARD)
COMPACTION = {"lake_compaction_score_selector_min_score": "3", "lake_compaction_interval_seconds": "0.3",
              "heartbeat_interval_second": "0.5"}


def _stream_load(fe: FeProcess, rows: list[dict[str, object]]) -> dict[str, object]:
    path = "/api/" + "/".join(p.strip("`").replace("``", "`") for p in (DB, TABLE)) + "/_stream_load"
    connection = http.client.HTTPConnection("127.0.0.1", fe.http_port, timeout=60)
    token = base64.b64encode(b"root:").decode()
    connection.request("PUT", path, body=json.dumps(rows).encode(),
                       headers={"Authorization": f"Basic {token}", "Expect": "100-continue", "format": "json",
                                "strip_outer_array": "true"})
    response = connection.getresponse()
    answer = json.loads(response.read() or b"{}")
    connection.close()
    assert response.status == 200 and answer.get("Status") == "Success", answer
    return answer


def test_awkward_names_and_values_survive_loads_routing_pruning_node_scans_and_compaction(
        tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    fe = start_fe(tmp_path, {**fe_conf_values, **COMPACTION})
    nodes: list[CnProcess] = [start_cn(tmp_path, None, f"cn{i}") for i in range(2)]
    try:
        run_sql(fe, "ALTER SYSTEM ADD COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in nodes),
                f"CREATE DATABASE {DB}",
                f"CREATE TABLE {DB}.{TABLE} ({KEY} VARCHAR(64), {VALUE} INT, {NOTE} VARCHAR(64) DEFAULT "
                f"{KEY_LITERAL}) PARTITION BY LIST({KEY}) (PARTITION p1 VALUES IN ({KEY_LITERAL}), "
                f"PARTITION p2 VALUES IN ('plain')) DISTRIBUTED BY HASH({KEY}) BUCKETS 3")
        target = f"{DB}.{TABLE}"
        run_sql(fe, f"INSERT INTO {target} ({KEY}, {VALUE}) VALUES ({KEY_LITERAL}, 1), ('plain', 2)",
                f"INSERT INTO {target} SELECT {KEY}, {VALUE} + 10, {NOTE} FROM {target}")
        _stream_load(fe, [{f"k{AWKWARD}": AWKWARD, f"v{AWKWARD}": 100, f"n{AWKWARD}": "x"},
                          {f"k{AWKWARD}": "plain", f"v{AWKWARD}": 200, f"n{AWKWARD}": AWKWARD}])
        expected = sorted([(AWKWARD, 1, AWKWARD), ("plain", 2, AWKWARD), (AWKWARD, 11, AWKWARD),
                           ("plain", 12, AWKWARD), (AWKWARD, 100, "x"), ("plain", 200, AWKWARD)])
        assert sorted(run_sql(fe, f"SELECT * FROM {target}")) == expected
        # Pruning to one partition and one bucket by the awkward value must keep exactly its rows.
        assert sorted(run_sql(fe, f"SELECT {VALUE}, {NOTE} FROM {target} WHERE {KEY} = {KEY_LITERAL}")) == \
            sorted((v, n) for k, v, n in expected if k == AWKWARD)
        # A filter on an awkward string, pushed down to the nodes.
        assert sorted(run_sql(fe, f"SELECT {VALUE} FROM {target} WHERE {NOTE} = {KEY_LITERAL} AND {VALUE} > 10")) \
            == [(11,), (12,), (200,)]
        grouped = f"SELECT {KEY}, count(*), sum({VALUE}), max({NOTE}) FROM {target} GROUP BY {KEY} ORDER BY {KEY}"
        aggregates = [(AWKWARD, 3, 112, "x"), ("plain", 3, 214, AWKWARD)]
        assert [(k, c, int(s), m) for k, c, s, m in run_sql(fe, grouped)] == aggregates
        assert sum(n.report()["counters"].get("scans", 0) for n in nodes) > 0
        assert sum(n.report()["counters"].get("writes", 0) for n in nodes) > 0
        # More loads make tablets due for compaction; what they hold must not change.
        for _ in range(3):
            run_sql(fe, f"INSERT INTO {target} ({KEY}, {VALUE}) VALUES ({KEY_LITERAL}, 0), ('plain', 0)")
        wait_until(lambda: sum(n.report()["counters"].get("compactions", 0) for n in nodes) > 0,
                   what="a compaction on a node")
        assert [(k, c, int(s), m) for k, c, s, m in run_sql(fe, grouped)] == \
            [(AWKWARD, 6, 112, "x"), ("plain", 6, 214, AWKWARD)]
    finally:
        for node in nodes:
            node.stop()
        fe.stop()


# What an f-string (or a `.format` / `%` template) that builds engine SQL starts with.
_SQL_START = re.compile(r"^\s*\(?\s*(SELECT|CREATE|COPY|INSERT|WITH|CAST|TRY_CAST|DROP|ALTER|ATTACH|DELETE|"
                        r"UPDATE|SET|PRAGMA|INSTALL|LOAD|EXPORT|IMPORT)\b|\bFROM\s|read_parquet\(")
# Text that is not sent to the engine: error messages, and SHOW CREATE TABLE's and SHOW CREATE
# VIEW's answers to the user.
ALLOWED = {("sql/show.py", "CREATE TABLE "), ("sql/views.py", "CREATE VIEW ")}
_SRC = Path(__file__).resolve().parent.parent / "src" / "cairn"


def _message_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when `node` is (inside) an argument of an exception or refusal constructor."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name.endswith(("Error", "Exception")) or name in {"not_supported", "warning", "Warning"}:
                return True
    return False


def _sql_templates(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str):
            text = node.func.value.value
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
                and isinstance(node.left.value, str):
            text = node.left.value
        else:
            continue
        if _SQL_START.search(text) and not _message_call(node, parents):
            found.append((node.lineno, text))
    return found


def test_no_module_builds_engine_sql_from_formatted_strings() -> None:
    offenders = []
    for path in sorted(_SRC.rglob("*.py")):
        relative = path.relative_to(_SRC).as_posix()
        for line, text in _sql_templates(path):
            if not any(relative == allowed and text.startswith(prefix) for allowed, prefix in ALLOWED):
                offenders.append(f"{relative}:{line}: {text!r}")
    assert not offenders, "SQL built from formatted strings:\n" + "\n".join(offenders)


def test_the_static_check_finds_sql_built_from_formatted_strings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('def f(t, c):\n    a = f"SELECT {c} FROM {t}"\n    b = "COPY ({}) TO x".format(c)\n'
                      '    d = "CREATE VIEW %s" % t\n    raise ValueError(f"CREATE {t} is not supported")\n')
    assert [line for line, _ in _sql_templates(sample)] == [2, 3, 4]
