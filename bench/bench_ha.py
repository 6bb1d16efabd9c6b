"""FE high availability (issue 12): failover time, follower replay lag, read throughput over 1-3 FEs.

Every FE is a real `cairn fe` process; they share one volume on moto's S3 server on loopback. The
first FE leads a new cluster; the others join it with `--helper` after `ALTER SYSTEM ADD FOLLOWER`.

- Failover: with 3 FEs, `kill -9` the leader, and time from the kill to the first single-row INSERT
  acknowledged by a new leader, sent by a client that retries on the surviving FEs (a follower
  forwards it to whoever leads). The killed FE is restarted between runs, so each run starts from 3
  FEs. Reference: `bdbje_heartbeat_timeout_second`, the silence after which a follower tries to lead
  (ratio = failover / timeout; the issue's goal, a new leader committing within 10 s of the old
  one's death with the default 5 s timeout, is a worst ratio <= 2). Every acknowledged INSERT is
  checked to be present at the end.
- Replay lag: one client commits single-row INSERTs on the leader back to back for a while (the
  maximum commit rate), then at half that rate for a fixed period. After each acknowledgement the
  client reads the leader's journal id j (`cairn_journal_id` on its /metrics); a sampler polls a
  follower's `cairn_fe_replayed_journal_id` every POLL_SECONDS. A commit's lag is the time from its
  acknowledgement to the first sample where the follower reports >= j (so it is rounded up to the
  poll and includes the scrape). Reference: the followers' replay poll interval (REPLAY_SECONDS).
- Read throughput: point queries (`SELECT v FROM p WHERE k = %s` on a small table) from 32 client
  threads spread over the first 1, 2 and 3 FEs of the running 3-FE cluster, for a fixed duration
  cut into READ_ROUNDS slices that the three configurations take in turn (so that a burst of other
  work on the machine does not fall on one of them); queries per second and the ratio to 1 FE. The
  CPU time of each process (FEs, moto, this client) is read from /proc, to show what the 2-core
  machine spends it on.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pymysql

from bench.bench_compute import S3_KEYS, _moto
from bench.common import write_result
from cairn.cn.local_nodes import free_port, is_listening
from cairn.fe.leadership import REPLAY_SECONDS

HEARTBEAT_TIMEOUT_SECONDS = 5.0  # fe.conf's default bdbje_heartbeat_timeout_second
POLL_SECONDS = 0.02
READ_THREADS = 32
READ_ROUNDS = 3
POINT_ROWS = 1000
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class _Fe:
    """One FE of the cluster: its directory and edit_log_port (its identity), its process while it runs."""

    workdir: Path
    edit_log_port: int
    proc: subprocess.Popen | None = None
    query_port: int = 0
    http_port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.edit_log_port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class _Cluster:
    """FEs sharing one volume, started as `cairn fe` processes with fe.conf `values`."""

    root: Path
    values: dict[str, str]
    fes: list[_Fe] = field(default_factory=list)

    def start(self, fe: _Fe, helper: _Fe | None = None) -> None:
        fe.query_port, fe.http_port = free_port(), free_port()
        values = {**self.values, "meta_dir": str(fe.workdir / "meta"), "edit_log_port": str(fe.edit_log_port),
                  "query_port": str(fe.query_port), "http_port": str(fe.http_port), "rpc_port": str(free_port())}
        conf = fe.workdir / "fe.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in values.items()))
        args = ["--helper", helper.address] if helper is not None else []
        log = (fe.workdir / "fe.log").open("a")
        fe.proc = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf), *args],
                                   stdout=log, stderr=subprocess.STDOUT, cwd=fe.workdir)
        _until(lambda: is_listening(fe.query_port), 120, f"FE {fe.address} to listen")

    def first(self) -> _Fe:
        fe = self._new()
        self.start(fe)
        return fe

    def add(self, via: _Fe) -> _Fe:
        fe = self._new()
        self.sql(via, f'ALTER SYSTEM ADD FOLLOWER "{fe.address}"')
        self.start(fe, helper=via)
        return fe

    def _new(self) -> _Fe:
        fe = _Fe(self.root / f"fe{len(self.fes)}", free_port())
        fe.workdir.mkdir(parents=True)
        self.fes.append(fe)
        return fe

    def kill(self, fe: _Fe) -> tuple[float, float]:
        """`kill -9` the FE; the monotonic and the wall-clock time of the kill."""
        assert fe.proc is not None
        killed_at, wall = time.monotonic(), time.time()
        os.kill(fe.proc.pid, signal.SIGKILL)
        fe.proc.wait(timeout=30)
        fe.proc = None
        return killed_at, wall

    def stop(self) -> None:
        for fe in self.fes:
            if fe.proc is not None:
                fe.proc.kill()
                fe.proc.wait(timeout=30)
                fe.proc = None

    def connect(self, fe: _Fe, timeout: float = 60) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True,
                               connect_timeout=min(timeout, 10), read_timeout=timeout, write_timeout=timeout)

    def sql(self, fe: _Fe, statement: str) -> list[tuple]:
        connection = self.connect(fe)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def leader(self, timeout: float = 120) -> _Fe:
        """The one running FE whose /api/leader answers 200 (waiting until exactly one does)."""
        found: list[_Fe] = []

        def one() -> bool:
            found[:] = [fe for fe in self.fes if fe.alive and _http_status(fe, "/api/leader") == 200]
            return len(found) == 1

        _until(one, timeout, "one FE to lead")
        return found[0]

    def settled(self, timeout: float = 120) -> None:
        """Wait until every FE runs, one leads, and each sees every member alive and caught up."""
        leader = self.leader(timeout)

        def all_see_all() -> bool:
            target = _metric(leader, "cairn_journal_id")
            for fe in self.fes:
                try:
                    connection = self.connect(fe, timeout=10)
                    with connection.cursor(pymysql.cursors.DictCursor) as cursor:
                        cursor.execute("SHOW FRONTENDS")
                        rows = cursor.fetchall()
                    connection.close()
                except pymysql.MySQLError:
                    return False
                if len(rows) != len(self.fes) or any(row["Alive"] != "true" for row in rows):
                    return False
                if _metric(fe, "cairn_fe_replayed_journal_id") < target:
                    return False
            return True

        _until(all_see_all, timeout, "every FE to see every member alive and caught up")


def _until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _http_status(fe: _Fe, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}{path}", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _metric(fe: _Fe, name: str) -> float:
    """One unlabelled gauge from the FE's /metrics (-1 when the FE does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return -1
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _election_started(fes: list[_Fe], after: float) -> float | None:
    """Wall-clock time of the first "tries to take the lead" line in these FEs' logs after `after`."""
    times = []
    for fe in fes:
        for line in (fe.workdir / "fe.log").read_text(errors="replace").splitlines():
            if "tries to take the lead" in line:
                try:
                    at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                except ValueError:
                    continue
                if at >= after:
                    times.append(at)
    return min(times, default=None)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# -- failover -------------------------------------------------------------------------------------


def _first_acknowledged_insert(cluster: _Cluster, survivors: list[_Fe], key: int, deadline: float) -> tuple[int, int]:
    """Send INSERT of `key`, `key + 1`, ... to the survivors in turn until one is acknowledged; the
    acknowledged key and how many attempts failed. Each attempt uses a new key, so that an attempt
    whose outcome is unknown never hides a lost one."""
    failures = 0
    while time.monotonic() < deadline:
        fe = survivors[failures % len(survivors)]
        try:
            connection = cluster.connect(fe, timeout=30)
            try:
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO ha.f VALUES (%s)", (key,))
                return key, failures
            finally:
                connection.close()
        except pymysql.MySQLError:
            failures += 1
            key += 1
            time.sleep(0.05)
    raise TimeoutError("no FE acknowledged an INSERT within the deadline")


def failover(cluster: _Cluster, runs: int) -> dict:
    cluster.sql(cluster.leader(), "CREATE TABLE ha.f (k BIGINT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    acknowledged: list[int] = []
    results: list[dict] = []
    key = 0
    for run in range(runs):
        cluster.settled()
        leader = cluster.leader()
        cluster.sql(leader, f"INSERT INTO ha.f VALUES ({key})")  # the old leader commits just before dying
        acknowledged.append(key)
        key += 1
        survivors = [fe for fe in cluster.fes if fe is not leader]
        killed_at, killed_wall = cluster.kill(leader)
        done, failures = _first_acknowledged_insert(cluster, survivors, key, killed_at + 120)
        seconds = time.monotonic() - killed_at
        election = _election_started(survivors, killed_wall)
        acknowledged.append(done)
        key = done + 1000  # keys of failed attempts (maybe committed: outcome unknown) are never reused
        new_leader = cluster.leader()
        results.append({"run": run, "failover_seconds": round(seconds, 3), "failed_attempts": failures,
                        "new_leader": new_leader.address,
                        # From the kill to the first follower's attempt to lead (its log's timestamp).
                        "election_started_after_seconds": None if election is None
                        else round(election - killed_wall, 3)})
        print(f"failover run {run}: {seconds:.2f} s ({failures} failed attempts)", file=sys.stderr)
        cluster.start(leader)  # back as a follower: always 3 FEs
    cluster.settled()
    present = {row[0] for row in cluster.sql(cluster.leader(), "SELECT k FROM ha.f")}
    lost = sorted(set(acknowledged) - present)
    times = [r["failover_seconds"] for r in results]
    median, worst = statistics.median(times), max(times)
    return {"runs": results, "heartbeat_timeout_seconds": HEARTBEAT_TIMEOUT_SECONDS,
            "median_seconds": median, "worst_seconds": worst, "best_seconds": min(times),
            "ratio": round(median / HEARTBEAT_TIMEOUT_SECONDS, 2),
            "worst_ratio": round(worst / HEARTBEAT_TIMEOUT_SECONDS, 2), "goal": "<= 2",
            "acknowledged_inserts": len(acknowledged), "lost_acknowledged_inserts": lost}


# -- replay lag -----------------------------------------------------------------------------------


def replay_lag(cluster: _Cluster, max_seconds: float, steady_seconds: float) -> dict:
    cluster.settled()
    leader = cluster.leader()
    follower = next(fe for fe in cluster.fes if fe is not leader)
    connection = cluster.connect(leader)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE ha.l (k BIGINT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    key = 0
    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        cursor.execute("INSERT INTO ha.l VALUES (%s)", (key,))
        key += 1
    max_rate = key / (time.monotonic() - started)
    cluster.settled()

    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            replayed = _metric(follower, "cairn_fe_replayed_journal_id")
            samples.append((time.monotonic(), replayed))
            done.wait(POLL_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    interval = 2 / max_rate
    commits: list[tuple[float, float]] = []  # (acknowledged at, leader's journal id then)
    started = time.monotonic()
    due = started
    while due - started < steady_seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        cursor.execute("INSERT INTO ha.l VALUES (%s)", (key,))
        acknowledged_at = time.monotonic()
        commits.append((acknowledged_at, _metric(leader, "cairn_journal_id")))
        key += 1
        due += interval
    elapsed = time.monotonic() - started
    _until(lambda: samples[-1][1] >= commits[-1][1], 60, "the follower to replay the last commit")
    done.set()
    sampler.join()
    connection.close()

    lags: list[float] = []
    index = 0
    for acknowledged_at, journal_id in commits:
        while samples[index][0] < acknowledged_at or samples[index][1] < journal_id:
            index += 1
        lags.append(samples[index][0] - acknowledged_at)
    # Entries behind: at each sample during the steady run, the newest acknowledged journal id minus
    # what the follower had replayed.
    behind: list[float] = []
    acknowledged = 0
    for at, replayed in samples:
        while acknowledged < len(commits) and commits[acknowledged][0] <= at:
            acknowledged += 1
        if acknowledged and replayed >= 0:
            behind.append(max(0.0, commits[acknowledged - 1][1] - replayed))
    median_ms = statistics.median(lags) * 1e3
    return {"max_commits_per_second": round(max_rate, 1), "max_rate_seconds": max_seconds,
            "steady_commits_per_second": round(len(commits) / elapsed, 1), "steady_seconds": steady_seconds,
            "commits": len(commits), "poll_seconds": POLL_SECONDS, "replay_seconds": REPLAY_SECONDS,
            "lag_ms_median": round(median_ms, 1), "lag_ms_p99": round(_percentile(lags, 0.99) * 1e3, 1),
            "lag_ms_max": round(max(lags) * 1e3, 1),
            "lag_entries_median": statistics.median(behind), "lag_entries_p99": _percentile(behind, 0.99),
            "lag_entries_max": max(behind), "ratio": round(median_ms / (REPLAY_SECONDS * 1e3), 2)}


# -- read throughput ------------------------------------------------------------------------------


def _cpu_now(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process, and of this one as "client"."""
    return {**{name: _cpu_seconds(pid) for name, pid in pids.items()}, "client": _own_cpu_seconds()}


def _reads_over(cluster: _Cluster, targets: list[_Fe], seconds: float, moto_pid: int) -> dict:
    """One slice: READ_THREADS clients on `targets` for `seconds`; queries, errors, elapsed seconds
    and the CPU seconds each process spent meanwhile."""
    counts = [0] * READ_THREADS
    errors = [0] * READ_THREADS
    pids = {fe.address: fe.proc.pid for fe in cluster.fes if fe.proc is not None} | {"moto": moto_pid}
    window: dict[str, Any] = {}

    def begin() -> None:
        window.update(cpu=_cpu_now(pids), started=time.monotonic(), stop=time.monotonic() + seconds)

    # Every client connects first; the clock (and the CPU count) starts when the last one has.
    ready = threading.Barrier(READ_THREADS + 1, action=begin)

    def worker(index: int) -> None:
        connection = cluster.connect(targets[index % len(targets)])
        rng = random.Random(index)
        cursor = connection.cursor()
        ready.wait()
        while time.monotonic() < window["stop"]:
            try:
                cursor.execute("SELECT v FROM ha.p WHERE k = %s", (rng.randint(1, POINT_ROWS),))
                cursor.fetchall()
                counts[index] += 1
            except pymysql.MySQLError:
                errors[index] += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(READ_THREADS)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - window["started"]
    after = _cpu_now(pids)
    return {"queries": sum(counts), "errors": sum(errors), "seconds": elapsed,
            "cpu": {name: after[name] - window["cpu"][name] for name in after}}


def _summary(count: int, slices: list[dict]) -> dict:
    """One configuration's figures over its slices."""
    elapsed = sum(piece["seconds"] for piece in slices)
    queries = sum(piece["queries"] for piece in slices)
    busy = {name: round(sum(piece["cpu"][name] for piece in slices) / elapsed, 2) for name in slices[0]["cpu"]}
    fes = {name: value for name, value in busy.items() if name not in ("moto", "client")}
    fe_cores = sum(fes.values())
    return {"fes": count, "queries": queries, "errors": sum(piece["errors"] for piece in slices),
            "queries_per_second": round(queries / elapsed, 1),
            "slices_queries_per_second": [round(piece["queries"] / piece["seconds"], 1) for piece in slices],
            "cores_busy": {"fes": fes, "moto": busy["moto"], "client": busy["client"],
                           "total": round(sum(busy.values()), 2)},
            # Queries per CPU-second the FEs spent: what a query costs, whatever else the machine ran.
            "queries_per_fe_cpu_second": round(queries / elapsed / fe_cores, 1) if fe_cores else None}


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def read_throughput(cluster: _Cluster, seconds: float, moto_pid: int) -> dict:
    leader = cluster.leader()
    cluster.sql(leader, "CREATE TABLE ha.p (k BIGINT, v VARCHAR(32)) DISTRIBUTED BY HASH(k) BUCKETS 4")
    cluster.sql(leader, f"INSERT INTO ha.p SELECT i, concat('value-', i) FROM TABLE(generate_series(1, {POINT_ROWS})) "
                        "AS x(i)")
    cluster.settled()
    order = [leader] + [fe for fe in cluster.fes if fe is not leader]
    for fe in order:  # warm each FE's caches once
        cluster.sql(fe, "SELECT v FROM ha.p WHERE k = 1")
    # The configurations take turns, slice by slice, so that other work on the machine weighs on
    # each of them alike.
    slices: dict[int, list[dict]] = {1: [], 2: [], 3: []}
    for _ in range(READ_ROUNDS):
        for count, pieces in slices.items():
            pieces.append(_reads_over(cluster, order[:count], seconds / READ_ROUNDS, moto_pid))
    runs = [_summary(count, pieces) for count, pieces in slices.items()]
    for run in runs:
        print(f"reads over {run['fes']} FE(s): {run['queries_per_second']} q/s, cores {run['cores_busy']}",
              file=sys.stderr)
    base = runs[0]["queries_per_second"]
    for run in runs:
        run["ratio"] = round(run["queries_per_second"] / base, 2) if base else None
    return {"threads": READ_THREADS, "rows": POINT_ROWS, "seconds": seconds, "rounds": READ_ROUNDS,
            "cpus": os.cpu_count(), "runs": runs}


# -- the whole benchmark --------------------------------------------------------------------------


def run(failover_runs: int = 10, max_rate_seconds: float = 10.0, steady_seconds: float = 30.0,
        read_seconds: float = 10.0) -> dict:
    endpoint, moto = _moto()
    try:
        with tempfile.TemporaryDirectory(prefix="cairn-bench-ha-") as scratch:
            root = Path(scratch)
            values = {"local_storage_path": str(root / "storage"), "enable_load_volume_from_conf": "true",
                      "aws_s3_path": "bench/data", "aws_s3_endpoint": endpoint, **S3_KEYS,
                      "bdbje_heartbeat_timeout_second": str(HEARTBEAT_TIMEOUT_SECONDS), "sys_log_level": "WARNING",
                      # Nothing else runs behind the benchmark's back.
                      "lake_compaction_interval_seconds": "3600"}
            cluster = _Cluster(root, values)
            try:
                first = cluster.first()
                cluster.add(first)
                cluster.add(first)
                cluster.settled()
                cluster.sql(first, "CREATE DATABASE ha")
                # Other work on the machine skews every figure: record how busy it was.
                figures: dict[str, Any] = {"fes": 3, "load_average_at_start": os.getloadavg()[0]}
                phases: dict[str, float] = {}
                for name, measure in (("failover", lambda: failover(cluster, failover_runs)),
                                      ("replay_lag", lambda: replay_lag(cluster, max_rate_seconds, steady_seconds)),
                                      ("reads", lambda: read_throughput(cluster, read_seconds, moto.pid))):
                    began = time.monotonic()
                    figures[name] = measure()
                    phases[name] = round(time.monotonic() - began, 1)
                figures["phase_wall_seconds"] = phases
                figures["load_average_at_end"] = os.getloadavg()[0]
            finally:
                cluster.stop()
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    write_result("ha", figures)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
