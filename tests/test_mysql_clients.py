"""Real MySQL client libraries against a real `cairn fe`: JDBC (MariaDB Connector/J), node's mysql2,
PyMySQL, mysqlclient and the mysql command-line client. scripts/install installs every one of them;
a missing one fails here rather than being skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import MySQLdb
import pymysql
import pytest
from fe_process import FeProcess, module_fe  # noqa: F401 - module_fe is the `fe` fixture
from MySQLdb.constants import CLIENT as MYSQLDB_CLIENT
from pymysql.constants import CLIENT

CLIENTS = Path(__file__).parent / "clients"
JDBC_JAR = Path("/usr/share/java/mariadb-java-client.jar")


def run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, check=False)
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def jdbc_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert JDBC_JAR.exists() and shutil.which("javac"), "scripts/install installs libmariadb-java and a JDK"
    classes = tmp_path_factory.mktemp("jdbc")
    run(["javac", "-d", str(classes), str(CLIENTS / "JdbcCheck.java")])
    return classes


@pytest.mark.parametrize("server_prepare", [True, False], ids=["server-prepare", "client-prepare"])
def test_jdbc(fe: FeProcess, jdbc_classes: Path, server_prepare: bool) -> None:
    database = f"jdbc_{'server' if server_prepare else 'client'}"
    url = (f"jdbc:mariadb://127.0.0.1:{fe.query_port}/?user=root"
           f"&useServerPrepStmts={str(server_prepare).lower()}")
    output = run(["java", "-cp", f"{jdbc_classes}:{JDBC_JAR}", "JdbcCheck", url, database])
    seen = dict(line.split("=", 1) for line in output.splitlines())
    assert seen["insert_values"] == "2" and seen["insert_select"] == "2"
    assert seen["insert_prepared"] == "1" and seen["batch_counts"] == "1,1,1"
    assert seen["prepared_meta_columns"] == "4"
    # java.sql.Types: INTEGER 4, VARCHAR 12, DECIMAL 3, TIMESTAMP 93.
    assert seen["columns"] == "id:4,name:12,price:3,at:93"
    assert seen["rows"].split(";") == [
        "2|ink|2.25|null", "3|O'Brien \\ ?|9.99|2024-05-06 07:08:09.0", "11|pen|1.50|2024-01-02 03:04:05.0",
        "12|ink|2.25|null", "20|batch20|null|null", "21|batch21|null|null", "22|batch22|null|null"]
    assert seen["count"] == "8"
    assert database in seen["catalogs"].split(",")
    assert seen["tables"] == "items:TABLE"
    assert seen["table_columns"] == "id:INT,name:VARCHAR,price:DECIMAL,at:DATETIME"
    assert seen["multi_batch_counts"] == "1,1,1"
    assert seen["multi_results"] == "a,3"
    assert seen["done"] == "true"


def test_node_mysql2(fe: FeProcess) -> None:
    node = CLIENTS / "node"
    assert (node / "node_modules" / "mysql2").is_dir(), "scripts/install runs npm ci in tests/clients/node"
    seen = json.loads(run(["node", "mysql2_check.js", str(fe.query_port), "node_db"], cwd=node))
    assert seen["query_affected"] == 2
    assert seen["execute_affected"] == 1
    assert seen["execute_select_affected"] == 2
    assert seen["execute_rows"] == [[2, "ink", "2.25", 20, 0.25, None], [3, "it's", "9.99", 30, 1.5, "2024-03-04"],
                                    [11, "pen", "1.50", 10, 0.5, "2024-01-02"], [12, "ink", "2.25", 20, 0.25, None]]
    # MySQL column types: LONG 3, VAR_STRING 253, NEWDECIMAL 246, LONGLONG 8, DOUBLE 5, DATE 10.
    assert seen["execute_types"] == [["id", 3], ["name", 253], ["price", 246], ["qty", 8], ["ratio", 5], ["day", 10]]
    assert seen["query_rows"] == [[1, "pen", "1.50"]]
    assert seen["query_types"] == [["id", 3], ["name", 253], ["price", 246]]
    assert seen["execute_again"] == 5
    assert seen["stacked_without_flag"] == 1064
    assert seen["multi"] == [[{"a": 1}], 2, [{"b": "x"}]]


def test_pymysql(fe: FeProcess) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True,
                                 client_flag=CLIENT.MULTI_STATEMENTS)
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE py; CREATE TABLE py.t (k INT, s VARCHAR(10)) DISTRIBUTED BY HASH(k)")
        while cursor.nextset():
            pass
        assert cursor.execute("INSERT INTO py.t VALUES (%s, %s), (%s, %s)", (1, "it's", 2, None)) == 2
        assert cursor.executemany("INSERT INTO py.t VALUES (%s, %s)", [(3, "c"), (4, "d")]) == 2
        cursor.execute("SELECT k, s FROM py.t ORDER BY k")
        assert cursor.fetchall() == ((1, "it's"), (2, None), (3, "c"), (4, "d"))
        assert [d[0] for d in cursor.description] == ["k", "s"]
    connection.close()


def test_mysqlclient(fe: FeProcess) -> None:
    connection = MySQLdb.connect(host="127.0.0.1", port=fe.query_port, user="root",
                                 client_flag=MYSQLDB_CLIENT.MULTI_STATEMENTS)
    cursor = connection.cursor()
    cursor.execute("CREATE DATABASE mc")
    cursor.execute("CREATE TABLE mc.t (k INT, d DECIMAL(6,2), at DATETIME) DISTRIBUTED BY HASH(k)")
    assert cursor.execute("INSERT INTO mc.t VALUES (1, 1.25, '2024-01-02 03:04:05'), (2, NULL, NULL)") == 2
    assert connection.affected_rows() == 2
    assert cursor.execute("INSERT INTO mc.t SELECT k + 2, d, at FROM mc.t") == 2
    cursor.execute("SELECT k, d, at FROM mc.t ORDER BY k")
    rows = cursor.fetchall()
    assert [(k, str(d) if d is not None else None, str(at) if at else None) for k, d, at in rows] == [
        (1, "1.25", "2024-01-02 03:04:05"), (2, None, None), (3, "1.25", "2024-01-02 03:04:05"), (4, None, None)]
    cursor.execute("SELECT 1; SELECT 2, 3")
    assert cursor.fetchall() == ((1,),)
    assert cursor.nextset() and cursor.fetchall() == ((2, 3),)
    cursor.close()
    connection.close()


def test_mysql_command_line_client_reports_rows_affected(fe: FeProcess) -> None:
    assert shutil.which("mysql"), "scripts/install installs the mysql client"
    sql = ("CREATE DATABASE cli; CREATE TABLE cli.t (k INT) DISTRIBUTED BY HASH(k);"
           "INSERT INTO cli.t VALUES (1), (2), (3); INSERT INTO cli.t SELECT k FROM cli.t WHERE k > 1;")
    done = subprocess.run(["mysql", "-h127.0.0.1", f"-P{fe.query_port}", "-uroot", "-vvv"], input=sql, text=True,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Query OK, 3 rows affected" in done.stdout
    assert "Query OK, 2 rows affected" in done.stdout


def test_change_user_runs_as_the_new_user(fe: FeProcess) -> None:
    connection = MySQLdb.connect(host="127.0.0.1", port=fe.query_port, user="root")
    connection.cursor().execute("CREATE USER 'clerk' IDENTIFIED BY 'pw'")
    connection.change_user("clerk", "pw", "")
    cursor = connection.cursor()
    cursor.execute("SELECT CURRENT_USER()")
    assert cursor.fetchone() == ("'clerk'@'%'",)
    with pytest.raises(MySQLdb.OperationalError) as denied:
        cursor.execute("CREATE DATABASE clerk_db")
    assert denied.value.args[0] == 1142
    with pytest.raises(MySQLdb.OperationalError) as refused:
        connection.change_user("root", "wrong", "")
    assert refused.value.args[0] == 1045
    connection.close()
