"""Fuzzing what users hand to Cairn: Stream Load requests against a real `cairn fe`, cluster_snapshot.yaml
documents against the restore path, and fe.conf documents against the config parser and `cairn fe --conf`.

In every case Cairn answers (never dies, hangs or shows a traceback), refuses with a CairnError that
says what is wrong, and changes nothing durable when it refuses. CI runs few examples; set
CAIRN_FUZZ_EXAMPLES for a longer run.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from cairn.api import load_config
from cairn.config.conf_file import parse_conf_text
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml
from conftest import free_port
from fe_process import CAIRN, FeProcess, run_sql, start_fe

EXAMPLES = int(os.environ.get("CAIRN_FUZZ_EXAMPLES", "0"))
# A long run takes as long as it needs; a CI run keeps the suite's per-test timeout.
pytestmark = [pytest.mark.timeout(0)] if EXAMPLES else []


def fuzz_settings(ci_examples: int) -> settings:
    """`ci_examples` in CI, CAIRN_FUZZ_EXAMPLES when set."""
    return settings(max_examples=EXAMPLES or ci_examples, deadline=None, derandomize=not EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def files_under(root: Path) -> dict[str, int]:
    """Every file below `root` with its size: what a refused input must leave as it was."""
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True)
def no_real_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a fuzzed document names, S3 calls can only reach a closed loopback port."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


# --- Stream Load ---------------------------------------------------------------------------------

TABLE = ("CREATE TABLE db.t (id INT NOT NULL, name VARCHAR(5), day DATE) PARTITION BY RANGE(day) "
         "(PARTITION p1 VALUES LESS THAN ('2025-01-01')) DISTRIBUTED BY HASH(id) BUCKETS 2")
QUIET = {"lake_compaction_score_selector_min_score": "1000000", "vacuum_interval_seconds": "100000",
         "checkpoint_interval_entries": "100000", "checkpoint_interval_seconds": "100000",
         "streaming_load_max_mb": "1"}


@pytest.fixture(scope="module")
def fe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeProcess]:
    """One FE for every Stream Load example, on a local volume, with no background work that would
    change the volume between examples."""
    workdir = tmp_path_factory.mktemp("fuzz-fe")
    process = start_fe(workdir, {"meta_dir": str(workdir / "meta"), "local_storage_path": str(workdir / "storage"),
                                 **QUIET})
    run_sql(process, "CREATE DATABASE db", TABLE)
    yield process
    process.stop()


_header_value = st.one_of(
    st.sampled_from(["", " ", ",", "\\t", "\\x01", "|", "true", "false", "TRUE", "json", "csv", "JSON", "parquet",
                     "0", "1", "0.5", "-1", "1e9", "nan", "inf", "abc", "id,name,day", "day, id, name", "id,id",
                     "`id`, name", "id, name=upper(name)", "nope", "a" * 200, "l-1", "label_ok"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)
_headers = st.dictionaries(
    st.sampled_from(["label", "format", "column_separator", "columns", "max_filter_ratio", "strip_outer_array",
                     "timeout", "where", "partitions", "x-unknown"]),
    _header_value, max_size=5)
_csv_field = st.one_of(st.integers(-3, 2**40).map(str), st.sampled_from(["", "\\N", "ann", "toolong", "2024-01-01",
                                                                        "2030-01-01", "x,y", '"q"', "é"]))
_csv_body = st.lists(st.lists(_csv_field, min_size=0, max_size=4).map(",".join), max_size=8).map(
    lambda lines: "\n".join(lines).encode())
_json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=8),
              st.sampled_from(["2024-01-01", "2030-05-05"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["id", "name", "day", "x"]), inner, max_size=4)),
    max_leaves=12)
_json_body = st.one_of(_json_value.map(lambda v: json.dumps(v).encode()),
                       st.lists(_json_value, max_size=5).map(lambda vs: "\n".join(map(json.dumps, vs)).encode()),
                       st.integers(1, 5000).map(lambda n: b"[" * n))
_body = st.one_of(_csv_body, _json_body, st.binary(max_size=200))
# How the body is framed: honestly, chunked, announcing more than is sent, or not at all.
_framing = st.sampled_from(["length", "chunked", "short", "none"])


def send_load(fe: FeProcess, headers: dict[str, str], body: bytes, framing: str, auth: bool) -> tuple[int, dict]:
    head = ["PUT /api/db/t/_stream_load HTTP/1.1", "Host: x"]
    if auth:
        head.append(f"Authorization: Basic {base64.b64encode(b'root:').decode()}")
    head += [f"{name}: {value}" for name, value in headers.items()]
    if framing == "chunked":
        head.append("Transfer-Encoding: chunked")
        payload = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    elif framing in ("length", "short"):
        head.append(f"Content-Length: {len(body) + (7 if framing == 'short' else 0)}")
        payload = body
    else:
        payload = b""
    with socket.create_connection(("127.0.0.1", fe.http_port), timeout=120) as sock:
        sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + payload)
        sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        text = response.read()
    assert b"Traceback" not in text
    return response.status, json.loads(text)


@fuzz_settings(20)
@given(headers=_headers, body=_body, framing=_framing, auth=st.sampled_from([True, True, True, False]))
def test_stream_load_requests(fe: FeProcess, headers: dict[str, str], body: bytes, framing: str,
                              auth: bool) -> None:
    storage = Path(fe.log).parent / "storage"
    before_files, before_rows = files_under(storage), run_sql(fe, "SELECT count(*), sum(id) FROM db.t")
    status, answer = send_load(fe, headers, body, framing, auth)
    event(f"{status} {answer['Status']}")
    assert fe.proc.poll() is None, "the FE died"
    assert status < 500 and answer["Status"] in ("Success", "Fail", "Label Already Exists"), (status, answer)
    if answer["Status"] != "Success":
        assert answer["Message"], answer
        assert run_sql(fe, "SELECT count(*), sum(id) FROM db.t") == before_rows
        after = files_under(storage)
        if status >= 400:
            assert after == before_files
        else:
            # A load refused after writing (too many filtered rows) leaves only data objects, which no
            # version references and vacuum removes; the journal and the catalog are as they were.
            assert {k: v for k, v in after.items() if "/meta/" in f"/{k}"} == \
                   {k: v for k, v in before_files.items() if "/meta/" in f"/{k}"}
    else:
        assert status == 200 and auth


_request_line = st.one_of(
    st.binary(max_size=120),
    st.tuples(st.sampled_from([b"GET", b"PUT", b"POST", b"HEAD", b"DELETE", b"OPTIONS", b"BREW", b""]),
              st.sampled_from([b"/api/health", b"/api/db/t/_stream_load", b"/metrics", b"*", b"", b"/\x00"]),
              st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9", b"HTTP/2.0", b"HTTP/x", b""]),
              st.lists(st.binary(max_size=40), max_size=3)).map(
        lambda r: b" ".join(r[:3]) + b"".join(b"\r\n" + h for h in r[3])))


@fuzz_settings(25)
@given(request=_request_line)
def test_raw_requests_to_the_http_port(fe: FeProcess, request: bytes) -> None:
    storage = Path(fe.log).parent / "storage"
    before = files_under(storage)
    with socket.create_connection(("127.0.0.1", fe.http_port), timeout=120) as sock:
        sock.sendall(request + b"\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert b"Traceback" not in answer
    assert fe.proc.poll() is None, "the FE died"
    assert files_under(storage) == before


def test_stream_load_fuzzing_left_no_traceback(fe: FeProcess) -> None:
    log = fe.log.read_text()
    # Paths of Cairn's files as a traceback shows them (the loggers' dotted names are not signs), and
    # what Python prints for an error raised where nothing can catch it (Arrow's skip handler).
    for sign in ("Exception occurred during processing of request", "http_server.py", "/stream_load",
                 "request_body.py", "Exception ignored"):
        assert sign not in log, log
    assert run_sql(fe, "SELECT 1") == [(1,)]


# --- cluster_snapshot.yaml -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot_cluster(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A local volume holding a cluster with one complete snapshot `ok` and an incomplete one `cut`."""
    root = tmp_path_factory.mktemp("fuzz-restore")
    fe = Frontend.open(load_config(None, meta_dir=str(root / "meta"), local_storage_path=str(root / "storage")))
    Session(fe).execute_script("CREATE DATABASE d; CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k); "
                               "INSERT INTO d.t VALUES (1), (2); ADMIN CREATE CLUSTER SNAPSHOT ok;")
    fe.meta_store.put_if_absent(fe.keys.snapshot_object("cut", "image"), b"partial")
    fe.close()
    return root, fe.keys.cluster_id


_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=12))


def _yaml_documents(root: Path, cluster: str) -> st.SearchStrategy[str]:
    storage = root / "storage"
    paths = st.one_of(
        st.sampled_from([f"{storage}/{cluster}/meta", f"{storage}/{cluster}/meta/image/ok",
                         f"{storage}/{cluster}/meta/image/cut", f"{storage}/{cluster}/meta/image/none",
                         f"{storage}/{cluster}/meta/image", f"{storage}/nope/meta", f"{storage}/{cluster}/meta/x/y",
                         f"{storage}/../{cluster}/meta", "/meta", "meta", "", f"file://{storage}/{cluster}/meta",
                         f"{storage}", "/etc/passwd"]),
        st.text(max_size=30))
    restore_to = st.fixed_dictionaries({}, optional={
        "journal_id": st.one_of(st.integers(-5, 2**70), _scalar),
        "time": st.one_of(st.sampled_from(["2025-02-18 06:00:00", "2999-01-01 00:00:00", "yesterday", ""]), _scalar)})
    section = st.fixed_dictionaries({}, optional={
        "cluster_snapshot_path": st.one_of(paths, _scalar),
        "storage_volume_name": st.one_of(st.sampled_from(["builtin_storage_volume", "other", ""]), _scalar),
        "restore_to": st.one_of(restore_to, _scalar)})
    volume = st.fixed_dictionaries({}, optional={
        "name": st.one_of(st.sampled_from(["builtin_storage_volume", "other", ""]), _scalar),
        "type": st.one_of(st.sampled_from(["LOCAL", "local", "HDFS", "", "AZBLOB"]), _scalar),
        "location": st.one_of(st.sampled_from([str(storage), str(root / "elsewhere"), "", "relative/dir"]), _scalar),
        "comment": _scalar,
        "properties": st.one_of(st.lists(st.fixed_dictionaries({}, optional={"key": _scalar, "value": _scalar}),
                                         max_size=3), _scalar)})
    node = st.fixed_dictionaries({}, optional={"host": st.one_of(st.just("127.0.0.1"), _scalar),
                                               "edit_log_port": _scalar, "heartbeat_service_port": _scalar,
                                               "type": st.one_of(st.sampled_from(["follower", "observer", "leader"]),
                                                                 _scalar)})
    document = st.fixed_dictionaries({}, optional={
        "cluster_snapshot": st.one_of(section, _scalar), "frontends": st.one_of(st.lists(node, max_size=2), _scalar),
        "compute_nodes": st.one_of(st.lists(node, max_size=2), _scalar),
        "storage_volumes": st.one_of(st.lists(volume, max_size=2), _scalar)})
    extra = st.dictionaries(st.text(max_size=10), _scalar, max_size=2)
    structured = st.tuples(document, extra).map(lambda de: yaml.safe_dump({**de[1], **de[0]}, allow_unicode=True))
    meta = f"{storage}/{cluster}/meta"
    valid = st.sampled_from([
        {"cluster_snapshot": {"cluster_snapshot_path": meta}},
        {"cluster_snapshot": {"cluster_snapshot_path": f"{meta}/image/ok", "storage_volume_name": "builtin_storage_volume"},
         "frontends": [], "compute_nodes": []},
        {"cluster_snapshot": {"cluster_snapshot_path": meta, "storage_volume_name": "builtin_storage_volume"},
         "storage_volumes": [{"name": "builtin_storage_volume", "type": "LOCAL", "location": str(storage)}]},
    ])
    # A valid document with one top-level key replaced, or left as it is.
    mutated = st.tuples(valid, st.sampled_from(["cluster_snapshot", "frontends", "storage_volumes", "x"]),
                        st.one_of(_scalar, section, st.lists(node, max_size=1))).map(
        lambda vkv: {**vkv[0], vkv[1]: vkv[2]})
    cut = st.tuples(structured, st.integers(0, 400)).map(lambda sc: sc[0][:sc[1]])
    return st.one_of(structured, cut, st.text(max_size=200), _scalar.map(yaml.safe_dump),
                     valid.map(yaml.safe_dump), mutated.map(yaml.safe_dump))


@fuzz_settings(60)
@given(data=st.data())
def test_cluster_snapshot_yaml_documents(snapshot_cluster: tuple[Path, str], tmp_path: Path, data: st.DataObject) -> None:
    root, cluster = snapshot_cluster
    text = data.draw(_yaml_documents(root, cluster))
    assume("s3" not in text.lower())
    config = load_config(None, meta_dir=str(tmp_path / "restored-meta"), local_storage_path=str(root / "storage"))
    file = tmp_path / "cluster_snapshot.yaml"
    before = files_under(root / "storage")
    file.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        spec = read_snapshot_yaml(file)
        restore(plan_restore(config, spec), config, spec)
        event("restored")
    except CairnError as exc:
        event(f"refused: {type(exc).__name__}")
        message = str(exc)
        assert message and "Traceback" not in message
        assert files_under(root / "storage") == before, message


# --- fe.conf -------------------------------------------------------------------------------------

_conf_value = st.one_of(
    st.sampled_from(["true", "false", "0", "-1", "1", "1e309", "nan", "inf", "-inf", "", '"quoted"', "'x'", "1G",
                     "99999999999999999999999", "abc", "DEBUG", "warn", "basic_format", "1e12", "shared_nothing", "S3",
                     "${STARROCKS_HOME}/log", "0.0.0.0/0", "65536", "8030"]),
    st.integers(-2**40, 2**40).map(str), st.floats().map(str),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
            max_size=20))
_conf_key = st.sampled_from(sorted(FeConfig.keys() | {"JAVA_OPTS", "LOG_DIR", "unknown_key", "a.b"}))
_conf_line = st.one_of(
    st.tuples(_conf_key, _conf_value).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(["# a comment", "", "=", "key", "  = x", "a.b = c", "k=v=w", "[section]", "\ufeffhttp_port = 1"]),
    st.text(max_size=40))
_conf_text = st.lists(_conf_line, max_size=12).map("\n".join)


@fuzz_settings(300)
@given(text=_conf_text)
def test_fe_conf_documents(text: str) -> None:
    try:
        config = FeConfig.from_mapping(parse_conf_text(text, "fe.conf"), "fe.conf")
    except CairnError as exc:
        assert str(exc).startswith("fe.conf") and "Traceback" not in str(exc), str(exc)
        return
    assert isinstance(config, FeConfig)


# What a fuzzed fe.conf may not change: where the FE keeps its data and that it talks only to loopback.
_SAFE_KEYS = ("meta_dir", "local_storage_path", "query_port", "http_port", "edit_log_port", "frontend_address",
              "enable_load_volume_from_conf", "priority_networks")


@fuzz_settings(2)
@given(text=_conf_text)
def test_fe_start_up_with_fuzzed_conf(text: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fuzz-conf-"))
    query_port, http_port = free_port(), free_port()
    lines = [line for line in text.splitlines() if not line.strip().startswith(_SAFE_KEYS)]
    conf = workdir / "fe.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    with conf.open("a") as file:
        file.write("".join(f"{k} = {v}\n" for k, v in {
            "meta_dir": workdir / "meta", "local_storage_path": workdir / "storage", "query_port": query_port,
            "http_port": http_port, "edit_log_port": free_port(), "frontend_address": "127.0.0.1",
            "enable_load_volume_from_conf": "false"}.items()))
    output = workdir / "fe.log"
    proc = subprocess.Popen([*CAIRN, "fe", "--conf", str(conf)], stdout=output.open("w"), stderr=subprocess.STDOUT,
                            cwd=workdir)
    try:
        serving = _wait_serving_or_exit(proc, http_port)
        if serving:
            os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = output.read_text()
    assert "Traceback" not in log, log
    if not serving:
        assert code == 1 and "error:" in log, log
        assert not (workdir / "storage").exists() or files_under(workdir / "storage") == {}, log


def _wait_serving_or_exit(proc: subprocess.Popen, port: int) -> bool:
    """True once the FE listens on `port` (its HTTP port: it opens last, and a bare connection there is
    harmless); False if it exits first. Bounded: a hang fails the test."""
    for _ in range(1200):
        if proc.poll() is not None:
            return False
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    raise AssertionError("the FE neither started nor exited")

