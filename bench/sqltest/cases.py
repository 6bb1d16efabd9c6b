"""Reading StarRocks' SQL test cases: the R/ files, split into `-- name:` cases of statements and expected results.

The reading follows StarRocks' tester: a statement runs to the line that ends with `;` (lines starting `--`
inside it are dropped), `function:`/`shell:` lines are one line each, and a statement's expected result is the
text between the `-- result:` and `-- !result` lines that follow it.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NAME_FLAG = "-- name: "
RESULT_FLAG = "-- result:"
RESULT_END_FLAG = "-- !result"
UNCHECK_FLAG = "[UC]"
ORDER_FLAG = "[ORDER]"
SHELL_FLAG = "shell: "
FUNCTION_FLAG = "function: "
ENGINE_FLAGS = ("trino: ", "spark: ", "hive: ")
BLOCK_FLAGS = ("LOOP", "CONCURRENCY", "CLEANUP", "SET_VAR")

# The issue's measure: these directories of StarRocks' test/sql.
DEFAULT_DIRS = (
    "test_agg test_agg_function test_alter_table test_array test_array_fn test_automatic_partition test_case_when "
    "test_cast test_column_rename test_condition_update test_create_table test_datetime test_ddl test_decimal "
    "test_delete test_dml test_drop_table test_function test_grouping_sets test_information_schema "
    "test_insert_empty test_insert_overwrite test_join test_json test_lead_lag test_limit test_list_partition "
    "test_map test_number test_partition_by_expr test_pk_update test_semi test_set_operation test_show test_sort "
    "test_sort_key test_string_functions test_subquery test_temporary_table test_time_fn test_union test_view "
    "test_window_function"
).split()


@dataclass
class Statement:
    """One statement of a case (prefixes such as `[UC]` kept) and its expected result (None: none recorded)."""

    sql: str
    expected: str | None
    line: int


@dataclass
class Case:
    """A `-- name:` case: where it comes from, its tags (`@sequential`...) and its statements in order."""

    directory: str
    file: str
    name: str
    tags: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    block: str = ""  # a LOOP/CONCURRENCY/... block the case holds (the tester's own control flow)

    @property
    def key(self) -> str:
        """`directory/file:name`, unique across the suite."""
        return f"{self.directory}/{self.file}:{self.name}"


def parse_file(path: Path, directory: str) -> list[Case]:
    """The cases of one R/ (or T/) file."""
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    cases: list[Case] = []
    current: Case | None = None
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\n")
        if line == "" or (line.startswith("--") and not line.startswith(NAME_FLAG)):
            index += 1
            continue
        if line.startswith(NAME_FLAG):
            names = re.findall(r"name: ([a-zA-Z0-9_-]+)", line)
            current = Case(directory, path.name, names[0] if names else "", re.findall(r"@([a-zA-Z0-9_-]+)", line))
            cases.append(current)
            index += 1
            continue
        if current is None:  # statements before any name: the tester files them under an empty name, never run
            current = Case(directory, path.name, "")
        if any(re.fullmatch(rf"{flag}\s*\{{\s*", line) for flag in BLOCK_FLAGS):
            current.block = current.block or line.split()[0]
            index = _skip_block(lines, index, line.split()[0])
            continue
        index = _read_statement(lines, index, current)
    return [case for case in cases if case.name.strip() and case.statements]


def _skip_block(lines: list[str], index: int, flag: str) -> int:
    """The line after a `FLAG {` ... `} END FLAG` block."""
    end = re.compile(rf"\}}\s*END {flag}")
    index += 1
    while index < len(lines) and not end.fullmatch(lines[index].strip()):
        index += 1
    return index + 1


def _read_statement(lines: list[str], index: int, case: Case) -> int:
    first = lines[index]
    indent = len(first) - len(first.lstrip())
    content = first.lstrip()  # trailing blanks kept: `select 1;  ` does not end the statement, as in the tester
    start = index
    command = [content]
    index += 1
    body = content[len(UNCHECK_FLAG):] if content.startswith(UNCHECK_FLAG) else content
    if not (body.startswith(SHELL_FLAG) or body.startswith(FUNCTION_FLAG)) and not content.endswith(";"):
        while index < len(lines):
            text = re.sub(rf"^ {{{indent}}}", "", lines[index].rstrip("\n"))
            index += 1
            if not text.startswith("--"):
                command.append(text)
                if text.endswith(";"):
                    break
    result: list[str] = []
    if index < len(lines) and lines[index].lstrip().startswith(RESULT_FLAG):
        while index < len(lines):
            text = re.sub(rf"^ {{{indent}}}", "", lines[index].rstrip("\n"))
            result.append(text)
            index += 1
            if text.startswith(RESULT_END_FLAG):
                break
    case.statements.append(Statement("\n".join(command), "\n".join(result[1:-1]) if result else None, start + 1))
    return index


def load_cases(root: Path, directories: list[str]) -> list[Case]:
    """Every case of the R/ files of `directories` under `root`, in file order (a file without R/ is read from T/)."""
    cases: list[Case] = []
    for directory in directories:
        base = root / directory
        if not base.is_dir():
            raise FileNotFoundError(f"no directory {directory} in {root}")
        names = sorted({p.name for sub in ("R", "T") if (base / sub).is_dir() for p in (base / sub).iterdir()
                        if p.is_file() and not p.name.startswith(".")})
        for name in names:
            path = base / "R" / name if (base / "R" / name).is_file() else base / "T" / name
            cases.extend(parse_file(path, directory))
    return cases


def case_root(source: Path) -> Path:
    """The directory holding the `test_*` directories: `source` itself, its `sql/`, or its `test-sql.tgz`
    unpacked once into a cache under the system's temporary directory."""
    if (source / "sql").is_dir():
        return source / "sql"
    archive = source / "test-sql.tgz"
    if archive.is_file():
        stat = archive.stat()
        digest = hashlib.sha1(f"{archive.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        target = Path(tempfile.gettempdir()) / f"cairn-sqltest-{digest}"
        if not (target / "sql").is_dir():
            staging = Path(tempfile.mkdtemp(prefix="cairn-sqltest-"))
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")
            staging.rename(target)
        return target / "sql"
    return source
