"""Stream Load over HTTP, as curl sends it, against a real FE process (one per backend for the module;
each test gets the database `db` anew)."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import USER_PASSWORD, cluster_conf_values
from fe_process import FeProcess, run_sql, start_fe

TABLE = ("CREATE TABLE db.t (id INT NOT NULL, name VARCHAR(5), day DATE) PARTITION BY RANGE(day) "
         "(PARTITION p1 VALUES LESS THAN ('2025-01-01')) DISTRIBUTED BY HASH(id) BUCKETS 2")
CSV = b"1,ann,2024-01-01\n2,bob,2024-02-02\n3,toolongname,2024-03-03\n4,x\n5,eve,2030-01-01\n"


@pytest.fixture(scope="module", params=["local", "s3"])
def module_fe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeProcess]:
    """One FE per backend for the module's tests, with the users `loader` and `reader`."""
    root = tmp_path_factory.mktemp(f"stream-load-{request.param}")
    process = start_fe(root, cluster_conf_values(root, request.param, request))
    run_sql(process, f"CREATE USER loader IDENTIFIED BY '{USER_PASSWORD}'",
            f"CREATE USER reader IDENTIFIED BY '{USER_PASSWORD}'")
    yield process
    process.stop()


@pytest.fixture
def fe(module_fe: FeProcess) -> FeProcess:
    """The module's FE with an empty table db.t that `loader` may load into and `reader` may read."""
    run_sql(module_fe, "DROP DATABASE IF EXISTS db FORCE", "CREATE DATABASE db", TABLE,
            "GRANT INSERT ON db.t TO loader", "GRANT SELECT ON db.* TO reader")
    return module_fe


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
    ok = put(fe, "/api/db/t/_stream_load", b"1,a,2024-01-01\n", user="loader", password=USER_PASSWORD, column_separator=",")[1]
    assert ok["Status"] == "Success", ok
    denied = put(fe, "/api/db/t/_stream_load", b"1,a,2024-01-01\n", user="reader", password=USER_PASSWORD,
                 column_separator=",")[1]
    assert denied["Status"] == "Fail" and "INSERT" in denied["Message"]
    missing = put(fe, "/api/db/nope/_stream_load", b"1\n")[1]
    assert missing["Status"] == "Fail" and "nope" in missing["Message"]
    # Refused from the headers: a client that waits for 100-continue never sends the body.
    token = base64.b64encode(f"reader:{USER_PASSWORD}".encode()).decode()
    head = ["PUT /api/db/t/_stream_load HTTP/1.1", "Host: x", f"Authorization: Basic {token}",
            "Expect: 100-continue", "Content-Length: 1000000"]
    status, answer = raw_request(fe, "\r\n".join(head))
    assert status == 200 and answer["Status"] == "Fail" and "INSERT" in answer["Message"], answer
    assert run_sql(fe, "SELECT id FROM db.t") == [(1,)]


def raw_request(fe: FeProcess, head: str, body: bytes = b"", close_write: bool = True) -> tuple[int, dict]:
    """Send `head` (the request line and headers, without the blank line) and `body` as raw bytes,
    then read the one answer."""
    with socket.create_connection(("127.0.0.1", fe.http_port), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read() or b"{}")


def assert_no_http_traceback(fe: FeProcess) -> None:
    """No request made the HTTP server log a traceback (socketserver's or Cairn's own)."""
    log = fe.log.read_text()
    # Paths of Cairn's files as a traceback shows them (the loggers' dotted names are not signs).
    for sign in ("Exception occurred during processing of request", "http_server.py", "/stream_load",
                 "request_body.py", "Exception ignored"):
        assert sign not in log, log


def load_head(*headers: str, path: str = "/api/db/t/_stream_load") -> str:
    token = base64.b64encode(b"root:").decode()
    return "\r\n".join([f"PUT {path} HTTP/1.1", "Host: x", f"Authorization: Basic {token}",
                        "column_separator: ,", *headers])


def chunked(body: bytes, size: int) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def test_truncated_upload_loads_nothing(fe: FeProcess) -> None:
    status, answer = raw_request(fe, load_head("label: cut", "Content-Length: 100000"),
                                 b"1,ann,2024-01-01\n2,bob,2024-02-02\n")
    assert status == 400 and answer["Status"] == "Fail" and "Content-Length" in answer["Message"], answer
    # The server is still serving, and the cut upload left nothing behind.
    answer = put(fe, "/api/db/t/_stream_load", b"3,cy,2024-01-03\n", label="after", column_separator=",")[1]
    assert answer["Status"] == "Success"
    assert run_sql(fe, "SELECT id FROM db.t ORDER BY id") == [(3,)]


def test_chunked_upload_over_a_raw_socket(fe: FeProcess) -> None:
    rows = b"".join(b"%d,n%d,2024-01-01\n" % (i, i) for i in range(1, 501))
    status, answer = raw_request(fe, load_head("label: chunks", "Transfer-Encoding: chunked"), chunked(rows, 777))
    assert status == 200 and answer["Status"] == "Success" and answer["NumberLoadedRows"] == 500, answer
    assert answer["LoadBytes"] == len(rows)
    # A chunked body cut short, or with a broken chunk size, is refused and loads nothing.
    cut = chunked(b"600,x,2024-01-01\n", 5)[:-5]
    status, answer = raw_request(fe, load_head("Transfer-Encoding: chunked"), cut)
    assert status == 400 and "chunk" in answer["Message"], answer
    status, answer = raw_request(fe, load_head("Transfer-Encoding: chunked"), b"zz\r\n1,a,2024-01-01\n\r\n0\r\n\r\n")
    assert status == 400 and "chunk size" in answer["Message"], answer
    assert run_sql(fe, "SELECT count(*), max(id) FROM db.t") == [(500, 500)]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (scripts/install installs it)")
def test_curl_sends_stdin_chunked(fe: FeProcess, tmp_path: Path) -> None:
    rows = b"".join(b"%d,c%d,2024-02-02\n" % (i, i) for i in range(1, 2001))
    answer = curl_load(fe, rows, "label: from_curl")
    assert answer["Status"] == "Success" and answer["NumberLoadedRows"] == 2000, answer
    assert run_sql(fe, "SELECT count(*), sum(id) FROM db.t") == [(2000, 2001000)]


def curl_load(fe: FeProcess, body: bytes, *headers: str) -> dict:
    """`curl -T -`: the body from stdin, sent chunked after `Expect: 100-continue`."""
    args = ["curl", "-sS", "-u", "root:", "-H", "column_separator: ,"]
    for header in headers:
        args += ["-H", header]
    done = subprocess.run([*args, "-T", "-", f"http://127.0.0.1:{fe.http_port}/api/db/t/_stream_load"],
                          input=body, capture_output=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.fixture
def capped_fe(tmp_path: Path, fe_conf_values: dict[str, str]) -> Iterator[FeProcess]:
    """An FE that takes Stream Load bodies of at most 1 MiB."""
    process = start_fe(tmp_path, {**fe_conf_values, "streaming_load_max_mb": "1"})
    run_sql(process, "CREATE DATABASE db", TABLE)
    yield process
    process.stop()


def test_body_over_streaming_load_max_mb_is_refused(capped_fe: FeProcess) -> None:
    limit = 1 << 20
    line = b"1,abcd,2024-01-01\n"
    small = line * (limit // len(line))
    large = small + line * 10
    # Announced too large: refused from the headers, with or without Expect: 100-continue.
    for expect in ([], ["Expect: 100-continue"]):
        status, answer = raw_request(capped_fe, load_head(f"Content-Length: {len(large)}", *expect), large)
        assert status == 413 and answer["Message"] == f"body exceed max size: {limit}, data: {len(large)}", answer
    # Chunked: refused once it passes the cap.
    status, answer = raw_request(capped_fe, load_head("Transfer-Encoding: chunked"), chunked(large, 65536))
    assert status == 413 and answer["Message"].startswith(f"body exceed max size: {limit}, data: "), answer
    if shutil.which("curl"):
        answer = curl_load(capped_fe, large)
        assert answer["Status"] == "Fail" and "body exceed max size" in answer["Message"], answer
    assert run_sql(capped_fe, "SELECT count(*) FROM db.t") == [(0,)]
    # Up to the cap, a body loads.
    status, answer = put(capped_fe, "/api/db/t/_stream_load", small, column_separator=",")
    assert status == 200 and answer["NumberLoadedRows"] == len(small) // len(line), answer
    assert_no_http_traceback(capped_fe)


REFUSALS = [
    ({"max_filter_ratio": "abc"}, b"1,a,2024-01-01\n", "max_filter_ratio"),
    ({"max_filter_ratio": "1.5"}, b"1,a,2024-01-01\n", "max_filter_ratio"),
    ({"format": "parquet"}, b"1,a,2024-01-01\n", "unknown data format"),
    ({"columns": "id, name=upper(name), day"}, b"1,a,2024-01-01\n", "Invalid columns"),
    ({"columns": "id, id, day"}, b"1,a,2024-01-01\n", "named twice"),
    ({"columns": "id, nope, day"}, b"1,a,2024-01-01\n", "unknown column 'nope'"),
    ({"columns": "id,,day"}, b"1,a,2024-01-01\n", "Invalid columns"),
    ({"label": "x" * 129}, b"1,a,2024-01-01\n", "Label format error"),
    ({"label": "bad label!"}, b"1,a,2024-01-01\n", "Label format error"),
    ({"column_separator": "ab"}, b"1,a,2024-01-01\n", "column_separator"),
    ({"strip_outer_array": "maybe", "format": "json"}, b"[]", "strip_outer_array"),
    ({"format": "json", "strip_outer_array": "true"}, b"[" * 100000, "nested too deeply"),
    ({"format": "json"}, b"{\"id\":" * 100000, "nested too deeply"),
    ({"format": "json", "strip_outer_array": "true"}, b'[{"id": 1}, {"id": 2]', "not valid JSON"),
    ({"format": "json"}, b'{"id": 1}\n{"id": \xff}\n', "not valid"),
]


def test_bad_headers_and_bodies_get_a_clear_400(fe: FeProcess) -> None:
    run_sql(fe, "INSERT INTO db.t VALUES (1, 'keep', '2024-01-01')")
    for headers, body, expected in REFUSALS:
        all_headers = {"column_separator": ",", **headers}
        status, answer = put(fe, "/api/db/t/_stream_load", body, **all_headers)
        assert status == 400 and answer["Status"] == "Fail" and expected in answer["Message"], (headers, answer)
    for length in ("abc", "-5", "99999999999999999999999999999999999999", "1e3"):
        status, answer = raw_request(fe, load_head(f"Content-Length: {length}"), b"2,b,2024-01-01\n")
        assert 400 <= status < 500 and answer["Status"] == "Fail", (length, answer)
    status, answer = raw_request(fe, load_head("Content-Length: 5", "Transfer-Encoding: chunked"), b"0\r\n\r\n")
    assert status == 400 and "both" in answer["Message"], answer
    status, answer = raw_request(fe, load_head("Transfer-Encoding: gzip"), b"")
    assert status == 400 and "Transfer-Encoding" in answer["Message"], answer
    assert run_sql(fe, "SELECT id, name FROM db.t") == [(1, "keep")]
    assert_no_http_traceback(fe)


def test_other_endpoints_reveal_nothing_and_change_nothing(fe: FeProcess) -> None:
    for method, path in (("GET", "/api/db/t/_stream_load"), ("GET", "/api/show_proc?path=/"), ("POST", "/api/health"),
                         ("DELETE", "/api/db/t"), ("PUT", "/api/db/t"), ("GET", "/../../etc/passwd")):
        connection = http.client.HTTPConnection("127.0.0.1", fe.http_port, timeout=60)
        connection.request(method, path, body=b"1,a,2024-01-01\n" if method != "GET" else None)
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
        assert 400 <= response.status < 500 and answer["Status"] == "Fail", (method, path, answer)
    # Stream Load needs a MySQL user's password: no credentials, a wrong one, or a malformed header fail.
    for authorization in (None, "Basic " + base64.b64encode(b"root:wrong").decode(), "Basic !!!", "Bearer x"):
        head = [f"PUT /api/db/t/_stream_load HTTP/1.1", "Host: x", "Content-Length: 15"]
        if authorization:
            head.append(f"Authorization: {authorization}")
        status, answer = raw_request(fe, "\r\n".join(head), b"1,a,2024-01-01\n")
        assert status == 401 and "Access denied" in answer["Message"], answer
    assert run_sql(fe, "SELECT count(*) FROM db.t") == [(0,)]


def test_one_connection_carries_several_loads(fe: FeProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", fe.http_port, timeout=60)
    token = base64.b64encode(b"root:").decode()
    answers = []
    for label, body, data_format in (("k1", b"1,a,2024-01-01\n", "csv"), ("k2", b"[{", "json"),
                                     ("k3", b"2,b,2024-01-02\n", "csv")):
        connection.request("PUT", "/api/db/t/_stream_load", body=body, headers={
            "Authorization": f"Basic {token}", "label": label, "column_separator": ",", "format": data_format})
        response = connection.getresponse()
        answers.append((response.status, json.loads(response.read())["Status"]))
    connection.close()
    # The refused body was read whole, so the connection went on to the next load.
    assert answers == [(200, "Success"), (400, "Fail"), (200, "Success")]
    assert run_sql(fe, "SELECT id FROM db.t ORDER BY id") == [(1,), (2,)]


def test_names_in_the_url_are_percent_decoded(fe: FeProcess) -> None:
    run_sql(fe, "DROP DATABASE IF EXISTS `my db` FORCE", "CREATE DATABASE `my db`",
            "CREATE TABLE `my db`.`t*x é` (id INT) DISTRIBUTED BY HASH(id)")
    try:
        status, answer = put(fe, "/api/my%20db/t%2Ax%20%C3%A9/_stream_load", b"1\n2\n")
        assert status == 200 and answer["Status"] == "Success" and answer["NumberLoadedRows"] == 2, answer
        assert run_sql(fe, "SELECT id FROM `my db`.`t*x é` ORDER BY id") == [(1,), (2,)]
        status, answer = put(fe, "/api/my%20db/t%FFx/_stream_load", b"1\n")
        assert status == 400 and "not percent-encoded UTF-8" in answer["Message"], answer
    finally:
        run_sql(fe, "DROP DATABASE `my db` FORCE")


def test_rows_that_are_not_utf8_are_filtered_quietly(fe: FeProcess) -> None:
    # One line of another width and invalid UTF-8 (Arrow's skip handler cannot even be called for it),
    # one line of the right width with invalid UTF-8, and two good lines.
    body = b"1,ann,2024-01-01\n2,\xff\xfe\n3,b\xe9e,2024-03-03\n4,bob,2024-04-04\n"
    status, answer = put(fe, "/api/db/t/_stream_load", body, column_separator=",", max_filter_ratio="0.5")
    assert status == 200 and answer["Status"] == "Success", answer
    assert (answer["NumberTotalRows"], answer["NumberLoadedRows"], answer["NumberFilteredRows"]) == (4, 2, 2)
    assert run_sql(fe, "SELECT id, name FROM db.t ORDER BY id") == [(1, "ann"), (4, "bob")]
    refused = put(fe, "/api/db/t/_stream_load", body, column_separator=",")[1]
    assert refused["Status"] == "Fail" and "2 are not valid UTF-8" in refused["Message"], refused
    log = fe.log.read_text()
    assert "Exception ignored" not in log and "UnicodeDecodeError" not in log, log
    assert "are not valid UTF-8" in log
    assert_no_http_traceback(fe)


@pytest.fixture
def small_buffer_fe(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FeProcess]:
    """An FE on a local volume whose loads may hold 1 MiB of rows in memory (what is bounded does
    not depend on the volume)."""
    process = start_fe(tmp_path, {**cluster_conf_values(tmp_path, "local", request), "load_buffer_mb": "1"})
    run_sql(process, "CREATE DATABASE db", TABLE)
    yield process
    process.stop()


def metric(fe: FeProcess, name: str) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", fe.http_port, timeout=60)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")]
    assert values, text
    return float(values[0])


def test_a_body_much_larger_than_the_load_buffer_streams_through_it(small_buffer_fe: FeProcess) -> None:
    # 8 MiB of rows, one in 1000 with a name too long (filtered), through a 1 MiB buffer.
    lines = [b"%d,%s,2024-%02d-01\n" % (i, b"toolongname" if i % 1000 == 0 else b"n%d" % (i % 997), i % 12 + 1)
             for i in range(1, 450_001)]
    body = b"".join(lines)
    assert len(body) > 8 << 20
    status, answer = put(small_buffer_fe, "/api/db/t/_stream_load", body, column_separator=",",
                         max_filter_ratio="0.01")
    assert status == 200 and answer["Status"] == "Success", answer
    assert (answer["NumberTotalRows"], answer["NumberLoadedRows"], answer["NumberFilteredRows"]) == (450_000, 449_550, 450)
    assert run_sql(small_buffer_fe, "SELECT count(*), sum(id), count(DISTINCT name) FROM db.t") == [
        (449_550, sum(i for i in range(1, 450_001) if i % 1000), 997)]
    # What the load held at once stayed within its buffer, not the body's size.
    peak = metric(small_buffer_fe, "cairn_load_memory_peak_bytes")
    assert 0 < peak <= 1 << 20, peak
