"""Stream Load over HTTP, as curl sends it, against a real FE process."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from fe_process import FeProcess, start_fe

TABLE = ("CREATE TABLE db.t (id INT NOT NULL, name VARCHAR(5), day DATE) PARTITION BY RANGE(day) "
         "(PARTITION p1 VALUES LESS THAN ('2025-01-01')) DISTRIBUTED BY HASH(id) BUCKETS 2")
CSV = b"1,ann,2024-01-01\n2,bob,2024-02-02\n3,toolongname,2024-03-03\n4,x\n5,eve,2030-01-01\n"


@pytest.fixture
def fe(tmp_path: Path, fe_conf_values: dict[str, str]) -> Iterator[FeProcess]:
    process = start_fe(tmp_path, fe_conf_values)
    run_sql(process, "CREATE DATABASE db", TABLE, "CREATE USER loader IDENTIFIED BY 'pw'",
            "CREATE USER reader IDENTIFIED BY 'pw'", "GRANT INSERT ON db.t TO loader", "GRANT SELECT ON db.* TO reader")
    yield process
    process.stop()


def run_sql(fe: FeProcess, *statements: str) -> list[tuple]:
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True)
    rows: list[tuple] = []
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
            rows = list(cursor.fetchall())
    connection.close()
    return rows


def put(fe: FeProcess, path: str, body: bytes, user: str = "root", password: str = "",
        **headers: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", fe.http_port, timeout=60)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    all_headers = {"Authorization": f"Basic {token}", "Expect": "100-continue", **headers}
    connection.request("PUT", path, body=body, headers=all_headers)
    response = connection.getresponse()
    answer = json.loads(response.read() or b"{}")
    connection.close()
    return response.status, answer


def test_csv_with_filtering_labels_and_counts(fe: FeProcess) -> None:
    status, answer = put(fe, "/api/db/t/_stream_load", CSV, label="l1", column_separator=",", max_filter_ratio="0.7")
    assert status == 200 and answer["Status"] == "Success", answer
    assert (answer["NumberTotalRows"], answer["NumberLoadedRows"], answer["NumberFilteredRows"]) == (5, 2, 3)
    assert answer["Label"] == "l1" and answer["TxnId"] > 0
    again = put(fe, "/api/db/t/_stream_load", CSV, label="l1", column_separator=",", max_filter_ratio="0.7")[1]
    assert again["Status"] == "Label Already Exists"
    refused = put(fe, "/api/db/t/_stream_load", CSV, label="l2", column_separator=",")[1]
    assert refused["Status"] == "Fail" and "filtered" in refused["Message"]
    assert run_sql(fe, "SELECT id, name FROM db.t ORDER BY id") == [(1, "ann"), (2, "bob")]


def test_json_and_column_mapping(fe: FeProcess) -> None:
    body = json.dumps([{"day": "2024-05-05", "id": 7, "name": "jo"}, {"id": 8, "day": "2024-06-06"}]).encode()
    answer = put(fe, "/api/db/t/_stream_load", body, format="json", strip_outer_array="true")[1]
    assert answer["Status"] == "Success" and answer["NumberLoadedRows"] == 2, answer
    mapped = put(fe, "/api/db/t/_stream_load", b"2024-07-07|9|zed\n", column_separator="|",
                 columns="day, id, name")[1]
    assert mapped["Status"] == "Success", mapped
    assert run_sql(fe, "SELECT id, name FROM db.t ORDER BY id") == [(7, "jo"), (8, None), (9, "zed")]


def test_auth_privileges_and_unknown_table(fe: FeProcess) -> None:
    status, answer = put(fe, "/api/db/t/_stream_load", CSV, user="loader", password="wrong")
    assert status == 401 and "Access denied" in answer["Message"]
    ok = put(fe, "/api/db/t/_stream_load", b"1,a,2024-01-01\n", user="loader", password="pw", column_separator=",")[1]
    assert ok["Status"] == "Success", ok
    denied = put(fe, "/api/db/t/_stream_load", b"1,a,2024-01-01\n", user="reader", password="pw",
                 column_separator=",")[1]
    assert denied["Status"] == "Fail" and "INSERT" in denied["Message"]
    missing = put(fe, "/api/db/nope/_stream_load", b"1\n")[1]
    assert missing["Status"] == "Fail" and "nope" in missing["Message"]


def test_truncated_upload_loads_nothing(fe: FeProcess) -> None:
    with socket.create_connection(("127.0.0.1", fe.http_port), timeout=30) as sock:
        head = (f"PUT /api/db/t/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
                f"{base64.b64encode(b'root:').decode()}\r\nlabel: cut\r\ncolumn_separator: ,\r\n"
                f"Content-Length: 100000\r\n\r\n").encode()
        sock.sendall(head + b"1,ann,2024-01-01\n2,bob,2024-02-02\n")
    # The server is still serving, and the cut upload left nothing behind.
    answer = put(fe, "/api/db/t/_stream_load", b"3,cy,2024-01-03\n", label="after", column_separator=",")[1]
    assert answer["Status"] == "Success"
    assert run_sql(fe, "SELECT id FROM db.t ORDER BY id") == [(3,)]
