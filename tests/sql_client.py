"""A MySQL-protocol client for tests against a real FE: connect as a user, fetch rows, catch an
error's code and message, and open a cursor in a fresh database."""

from __future__ import annotations

import itertools
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
