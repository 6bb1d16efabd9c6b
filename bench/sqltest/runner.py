"""Replaying one case against a running Cairn, as StarRocks' tester does, and classifying its outcome."""

from __future__ import annotations

import ast
import re
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import pymysql

from bench.sqltest.cases import (
    ENGINE_FLAGS,
    FUNCTION_FLAG,
    ORDER_FLAG,
    SHELL_FLAG,
    UNCHECK_FLAG,
    Case,
)
from bench.sqltest.compare import check, format_error, format_rows, pretreat, same_rows
from bench.sqltest.server import LocalCairn

# Statements that reach outside the database: the only skips besides the tester's own helpers and other engines.
EXTERNAL = [
    (re.compile(r"create\s+external\s+catalog|hive_metastore_uris", re.I), "external catalog"),
    (re.compile(r"\bfiles\s*\(|with\s+broker|\bload\s+label\b|routine\s+load|create\s+(external\s+)?resource|"
                r"\b(s3a?|oss|hdfs|gs|cos)://|\$\{oss_|\$\{root_path\}|\$\{url\}|create\s+pipe", re.I),
     "load from an external system"),
]
LOST_CONNECTION = {2006, 2013, 2014, 2055}
# The cause of a case whose SELECT the distributed engine answered otherwise than the existing path (`--engine`).
ENGINE_DIFFERS = "SELECT: the distributed engine's answer differs from the existing path's"
VARIABLE = re.compile(r"[a-zA-Z0-9_-]+=")


@dataclass
class CaseResult:
    """One case's outcome; for a failure, the first statement that differed and why."""

    directory: str
    file: str
    case: str
    status: str  # pass | fail | skip
    statements: int
    seconds: float = 0.0
    reason: str = ""  # skip: why
    cause: str = ""  # fail: the short cause, grouped across cases
    detail: str = ""  # fail: the error or mismatch in full (trimmed)
    statement_index: int = -1
    statement_line: int = 0
    sql: str = ""
    expected: str = ""
    actual: str = ""
    # With the distributed engine (`--engine`): the SELECTs run, and those the engine answered.
    selects: int = 0
    on_engine: int = 0

    def to_json(self) -> dict[str, Any]:
        """Its JSON form (empty fields left out)."""
        return {k: v for k, v in asdict(self).items()
                if (v not in ("", -1) or k in ("status",)) and not (k in ("selects", "on_engine") and v == 0)}


def skip_reason(case: Case) -> str | None:
    """Why the case cannot run against one database server, or None."""
    for statement in case.statements:
        sql = statement.sql[len(UNCHECK_FLAG):] if statement.sql.startswith(UNCHECK_FLAG) else statement.sql
        if sql.startswith(FUNCTION_FLAG):
            return f"uses the tester's helper function: {sql[len(FUNCTION_FLAG):].split('(')[0].strip()}"
        if sql.startswith(SHELL_FLAG):
            return f"uses the tester's shell: helper ({sql[len(SHELL_FLAG):].split()[0]})"
        for flag in ENGINE_FLAGS:
            if sql.startswith(flag):
                return f"runs statements on another engine ({flag.strip(': ')})"
        for pattern, reason in EXTERNAL:
            if pattern.search(sql):
                return reason
    if case.block:
        return f"uses the tester's {case.block} block"
    return None


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _kind(sql: str) -> str:
    """The statement's leading keywords (`SELECT`, `CREATE VIEW`, `SHOW CREATE TABLE`...)."""
    words = re.findall(r"[A-Za-z_]+", re.sub(r"/\*.*?\*/", " ", sql, flags=re.S))[:4]
    upper = [w.upper() for w in words]
    if not upper:
        return "?"
    first = upper[0]
    if first in ("CREATE", "DROP", "ALTER") and len(upper) > 1:
        rest = [w for w in upper[1:] if w not in ("OR", "REPLACE", "IF", "NOT", "EXISTS", "EXTERNAL", "TEMPORARY",
                                                   "GLOBAL", "SESSION")]
        return f"{first} {rest[0] if rest else ''}".strip()
    if first == "SHOW" and len(upper) > 1:
        return " ".join(upper[:3] if upper[1] in ("CREATE", "FULL") else upper[:2])
    if first == "INSERT" and len(upper) > 1 and upper[1] == "OVERWRITE":
        return "INSERT OVERWRITE"
    if first == "WITH":
        return "SELECT"
    return str(first)


def tidy(text: str) -> str:
    """The parser's token dumps in a message shortened to their text (`<Token ... text: [ ...>` → `[`)."""
    return re.sub(r"<Token token_type: [^>]*?text: (.*?), line: [^>]*>", r"\1", text)


def _mask_quoted(found: re.Match[str]) -> str:
    """A quoted name masked, unless it is a keyword (upper case) or the type an error names."""
    inner = found.group(0)[1:-1]
    if re.fullmatch(r"[A-Z][A-Z0-9_]*(\([0-9, ]*\))?", inner) or found.string[:found.start()].endswith("type "):
        return found.group(0)
    return "'…'"


def normalize_error(message: str) -> str:
    """An error message with the case's own names and numbers taken out, so causes group across cases."""
    text = message.split("\n")[0]
    text = re.sub(r"^Getting (\w+) error.*?Detail message: ", r"\1 error: ", text)
    text = tidy(text)
    text = re.sub(r"[0-9a-f]{32}", "…", text)
    text = re.sub(r"\*{6}\S*", "…", text)
    text = re.sub(r"`[^`]*`", "`…`", text)
    text = re.sub(r"'[^']*'", _mask_quoted, text)
    text = re.sub(r'"[^"]*"', '"…"', text)
    text = re.sub(r"\b\d+(\.\d+)?\b", "N", text)
    return _short(text.strip(), 160)


def _message(actual: str) -> str:
    """The server's message in an `E: (code, 'message')` text."""
    try:
        args = ast.literal_eval(actual[3:])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        found = re.match(r"E: \(\d+, ['\"](.*)", actual, flags=re.S)  # a text cut short
        return found.group(1) if found else actual[3:]
    return str(args[1]) if isinstance(args, tuple) and len(args) > 1 else str(args)


def cause_of(sql: str, expected: str, actual: str, why: str) -> str:
    """The short cause of a failed comparison: the statement's kind and Cairn's error, or `why`."""
    kind = _kind(sql)
    if actual.startswith("E: "):
        message = _message(actual)
        if expected.startswith("E:"):
            return f"{kind}: a different error ({normalize_error(message)})"
        return f"{kind}: {normalize_error(message)}"
    if expected.startswith("E:"):
        return f"{kind}: succeeded where StarRocks gives an error"
    return f"{kind}: {why}"


def run_case(server: LocalCairn, case: Case, timeout: float, case_timeout: float) -> CaseResult:
    """Run `case` in a fresh database and compare each statement with its expected result."""
    result = CaseResult(case.directory, case.file, case.name, "pass", len(case.statements))
    reason = skip_reason(case)
    if reason:
        result.status, result.reason = "skip", reason
        return result
    started = time.monotonic()
    names = {name: uuid.uuid4().hex for s in case.statements for name in re.findall(r"\$\{(uuid[0-9]*)\}", s.sql)}
    statements = []
    for statement in case.statements:
        sql = statement.sql
        for name, value in names.items():
            sql = sql.replace("${%s}" % name, value)
        statements.append((sql, statement))
    databases = [sql.rstrip(";").strip().split(" ")[-1] for sql, _ in statements if "CREATE DATABASE" in sql.upper()]
    try:
        connection = server.connect(timeout)
    except pymysql.Error as exc:
        return _failed(result, -1, None, "", format_error(exc.args), "could not connect to Cairn", started)
    try:
        _setup(connection, databases)
        variables: dict[str, str] = {}
        for index, (sql, statement) in enumerate(statements):
            if time.monotonic() - started > case_timeout:
                return _failed(result, index, statement, sql, "", f"case ran over {case_timeout:g} s", started)
            answered = server.engine_answers() if server.engine else 0.0
            outcome = _run_statement(connection, sql, variables)
            if server.engine and not outcome.lost and _kind(outcome.sql) == "SELECT":
                result.selects += 1
                if server.engine_answers() > answered:
                    result.on_engine += 1
                    differs = _differs_from_existing_path(connection, outcome)
                    if differs is not None:
                        return _failed(result, index, statement, outcome.sql, outcome.text,
                                       ENGINE_DIFFERS, started, differs)
            if outcome.lost:
                cause = (f"{_kind(outcome.sql)}: timed out after {timeout:g} s" if "timed out" in outcome.text
                         else f"{_kind(outcome.sql)}: connection lost ({normalize_error(_message(outcome.text))})")
                return _failed(result, index, statement, outcome.sql, outcome.text, cause, started)
            if outcome.uncheck or statement.expected is None:
                continue
            why = check(outcome.sql, statement.expected, outcome.text, outcome.order)
            if why is not None:
                cause = cause_of(outcome.sql, statement.expected, outcome.text, why)
                return _failed(result, index, statement, outcome.sql, outcome.text, cause, started)
    finally:
        _teardown(connection, databases)
    result.seconds = round(time.monotonic() - started, 2)
    return result


def _differs_from_existing_path(connection: Any, outcome: _Outcome) -> str | None:
    """None when `outcome`, the distributed engine's answer, is the existing path's answer to the same
    statement (run again with `cairn_distributed_engine` off); otherwise the existing path's answer."""
    with connection.cursor() as cursor:
        cursor.execute("SET cairn_distributed_engine = 0")
        try:
            cursor.execute(outcome.sql)
            rows = list(cursor.fetchall())
        except pymysql.Error as exc:
            return "the existing path: " + format_error(exc.args)
        finally:
            cursor.execute("SET cairn_distributed_engine = 1")
    if outcome.rows is not None and same_rows(outcome.rows, rows, outcome.order):
        return None
    return "the existing path: " + format_rows(rows)


def _failed(result: CaseResult, index: int, statement: Any, sql: str, actual: str, cause: str,
            started: float, detail: str | None = None) -> CaseResult:
    result.status, result.cause, result.statement_index = "fail", cause, index
    result.sql, result.actual, result.detail = _short(sql), _short(actual), _short(detail or actual, 300)
    if statement is not None:
        result.statement_line = statement.line
        result.expected = _short(statement.expected or "")
    result.seconds = round(time.monotonic() - started, 2)
    return result


@dataclass
class _Outcome:
    sql: str
    text: str
    order: bool
    uncheck: bool
    lost: bool
    rows: list[tuple[Any, ...]] | None = None


def _run_statement(connection: Any, sql: str, variables: dict[str, str]) -> _Outcome:
    uncheck = sql.startswith(UNCHECK_FLAG)
    if uncheck:
        sql = sql[len(UNCHECK_FLAG):]
    order = sql.startswith(ORDER_FLAG)
    if order:
        sql = sql[len(ORDER_FLAG):]
    var = None
    found = VARIABLE.match(sql)
    if found:
        var, sql = found.group()[:-1], sql[found.end():]
    for name, value in variables.items():
        sql = sql.replace("${%s}" % name, value)
    lost = False
    rows = None
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            rows = list(cursor.fetchall())
            text = format_rows(rows)
    except pymysql.err.OperationalError as exc:
        text = format_error(exc.args)
        lost = bool(exc.args) and exc.args[0] in LOST_CONNECTION
    except pymysql.Error as exc:
        text = format_error(exc.args)
    except Exception as exc:  # noqa: BLE001 - a client-side failure decoding a reply is this statement's failure
        text = format_error((0, f"client: {type(exc).__name__}: {exc}"))
    if var:
        variables[var] = str(pretreat(text))
    return _Outcome(sql, text, order, uncheck, lost, rows)


def _setup(connection: Any, databases: list[str]) -> None:
    with connection.cursor() as cursor:
        for name in databases:
            try:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            except pymysql.Error:
                pass
        if not databases:
            name = f"test_db_{uuid.uuid4().hex}"
            databases.append(name)
            cursor.execute(f"CREATE DATABASE {name}")
            cursor.execute(f"USE {name}")


def _teardown(connection: Any, databases: list[str]) -> None:
    try:
        with connection.cursor() as cursor:
            for name in databases:
                try:
                    cursor.execute(f"DROP DATABASE IF EXISTS {name} FORCE")
                except pymysql.Error:
                    try:
                        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
                    except pymysql.Error:
                        pass
    except pymysql.Error:
        pass
    finally:
        try:
            connection.close()
        except pymysql.Error:
            pass
