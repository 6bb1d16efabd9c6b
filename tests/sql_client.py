"""A MySQL-protocol client for tests against a real FE: connect as a user, fetch rows, catch an
error's code and message, open a cursor in a fresh database, and run a statement in the background."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql
import pytest

from fe_process import FeProcess

_databases = itertools.count(1)


def connect(fe: FeProcess, user: str = "root", password: str = "", database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=fe.query_port, user=user, password=password, database=database,
                           autocommit=True, connect_timeout=10, read_timeout=60)


def rows(cursor: pymysql.cursors.Cursor, sql: str) -> list[tuple]:
    cursor.execute(sql)
    return list(cursor.fetchall())


def error_of(cursor: pymysql.cursors.Cursor, sql: str) -> tuple[int, str]:
    with pytest.raises(pymysql.MySQLError) as caught:
        cursor.execute(sql)
    return caught.value.args[0], caught.value.args[1]


@contextmanager
def fresh_database(fe: FeProcess, prefix: str, *statements: str) -> Iterator[tuple[str, pymysql.cursors.Cursor]]:
    """A root cursor using a new database named `<prefix>_<n>`, after running `statements` in it."""
    name = f"{prefix}_{next(_databases)}"
    connection = connect(fe)
    try:
        cursor = connection.cursor()
        for statement in (f"CREATE DATABASE {name}", f"USE {name}", *statements):
            cursor.execute(statement)
        yield name, cursor
    finally:
        connection.close()


class RunningStatement:
    """`sql` running on `connection` in a thread (to be killed, queued or cancelled by the test);
    `id` is the connection's id, `finished()` what the statement failed with, if anything."""

    def __init__(self, connection: pymysql.Connection, sql: str) -> None:
        self.connection = connection
        self.id = connection.thread_id()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self.thread.start()

    def _run(self, sql: str) -> None:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()
        except BaseException as exc:  # noqa: BLE001 - the test reads what it failed with
            self.error = exc

    def finished(self) -> BaseException | None:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the statement did not stop"
        return self.error
