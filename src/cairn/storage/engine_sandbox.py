"""The one way Cairn opens DuckDB: sandboxed, so the engine reaches no file or URL that Cairn did
not hand it (DESIGN invariant 7).

External access is off; the only directories the engine may open are the ones named here: the
object cache and each local volume's data prefix (read in place), and Cairn's scratch directory
(where loads and compactions write Parquet before putting it on a volume). Extensions are never
installed or loaded, and the configuration is locked, so no SQL can loosen any of it. A cluster's
`meta/` (journal, images, markers), the configuration files and the rest of the host stay out of
reach, whatever SQL reaches the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
from sqlglot import exp


def _directory(path: Path) -> str:
    return f"{path.expanduser().resolve().as_posix().rstrip('/')}/"


def _set(con: duckdb.DuckDBPyConnection, name: str, value: exp.Expression) -> None:
    con.execute(exp.Set(expressions=[exp.SetItem(this=exp.EQ(this=exp.to_identifier(name), expression=value))])
                .sql(dialect="duckdb"))


def _open(readable: frozenset[str], scratch: Path, spill: Path, memory_limit: int = 0) -> duckdb.DuckDBPyConnection:
    for directory in (scratch, spill):
        directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                 "allow_community_extensions": False})
    allowed = sorted({*readable, _directory(scratch)})
    _set(con, "temp_directory", exp.Literal.string(_directory(spill)))
    if memory_limit > 0:
        _set(con, "memory_limit", exp.Literal.string(f"{memory_limit}B"))
    _set(con, "allowed_directories", exp.Array(expressions=[exp.Literal.string(p) for p in allowed]))
    _set(con, "enable_external_access", exp.false())
    _set(con, "lock_configuration", exp.true())
    return con


class SandboxedEngine:
    """One DuckDB database for a process's data work; each statement or fragment takes a cursor.

    `readable` lists the directories the engine must read in place (the object cache, local
    volumes' data prefixes); it is asked again at each cursor, and when it names a directory the
    database was not opened with (a local volume created since), a new database is opened with it.
    """

    def __init__(self, scratch: Path, spill: Path, readable: Callable[[], Iterable[Path]]) -> None:
        self.scratch = scratch
        self._spill = spill
        self._readable_now = readable
        self._lock = threading.Lock()
        self._readable = frozenset(_directory(p) for p in readable())
        self._con = _open(self._readable, scratch, spill)

    def cursor(self, memory_limit: int = 0) -> duckdb.DuckDBPyConnection:
        """A cursor of the sandboxed database (its own temp views; close it when done). With a
        `memory_limit` (bytes), a database of its own, sandboxed alike, whose buffer manager keeps
        to that limit (spilling to the spill directory where it can): DuckDB bounds memory per
        database, not per cursor. Closing it closes that database."""
        wanted = frozenset(_directory(p) for p in self._readable_now())
        with self._lock:
            if not wanted <= self._readable:
                # Cursors of the old database keep it alive until they close.
                self._readable |= wanted
                self._con = _open(self._readable, self.scratch, self._spill)
            if memory_limit > 0:
                return _open(self._readable, self.scratch, self._spill, memory_limit)
            return self._con.cursor()

    def close(self) -> None:
        with self._lock:
            self._con.close()
