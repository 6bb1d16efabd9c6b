"""Multi-FE chaos run: `python -m bench.ha_chaos --seconds 60 --seed N`.

Starts moto's S3 server, three `cairn fe` processes (one leader, two followers that joined with
--helper) and two `cairn cn` processes on 127.0.0.1. Client threads run a mixed workload against
every FE: INSERT ... WITH LABEL (forwarded when sent to a follower), Stream Load through a follower
(`curl --location-trusted`, which follows the follower's 307 to the leader), CREATE / DROP TABLE and
queries. Meanwhile a fault thread, at seeded random moments:

- `kill -9`s the current leader and starts it again on its directory and ports (it rejoins);
- `kill -STOP`s the leader for longer than the failover time, waits for a follower to take over,
  then `kill -CONT`s it: it must step down and follow without a restart;
- `kill -STOP`s the moto server (the object store stops answering for a few seconds).

After each fault, with the clients held between statements, it checks (see `bench/ha_chaos_check.py`):
every acknowledged batch is present on the leader and on every follower once they caught up, no
batch a client was told failed is there; the journal on the bucket never carries an entry of an
older epoch after a newer `epoch_start`; every acknowledged batch has its entry in the journal, made
before any newer epoch began; and no FE acknowledged, in an old epoch, a statement sent after a newer
epoch began. Unknown outcomes (lost connections, "may or may not have been applied") are reported as
unknown, never as failures.

The seed fixes the clients' choices and the fault schedule (thread timing still varies); the first
round of faults (two leader kills, one leader pause, one store pause) always runs, and faults go on
until `--seconds` have passed. Prints one summary line, writes `ha_chaos.json` to the working
directory, and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pymysql

from bench.chaos_cluster import CAIRN, Cluster, Node, free_port, report_violations_and_logs, write_conf
from bench.chaos_model import Batch, Model, Observed, Outcome, check, classify_error, settle
from bench.ha_chaos_check import Ack, JournalFacts, check_journal, read_journal

DATABASE = "chaos"
# A failover in about two seconds; object storage calls that fail within seconds while the store is
# paused; no vacuum (the whole journal stays readable for the check); frequent checkpoint images
# (a deposed leader reloads from the newest one).
FE_CONF = {
    "bdbje_heartbeat_timeout_second": "2", "object_storage_request_timeout_ms": "2000",
    "vacuum_interval_seconds": "100000", "checkpoint_interval_entries": "20", "checkpoint_interval_seconds": "5",
    "heartbeat_interval_second": "1", "heartbeat_timeout_second": "3", "heartbeat_retry_times": "1",
}
FIRST_ROUND = ["kill", "kill", "stop", "store"]
CLIENTS = 3
STATEMENT_TIMEOUT = 30  # seconds a client waits for an answer before calling the outcome unknown
RECOVERY_TIMEOUT = 60.0


@dataclass
class HaFe:
    """One FE: its process (a chaos Node, started on the same ports and directory every time) and ports."""

    node: Node
    http_port: int
    edit_log_port: int
    started: bool = False
    paused: bool = False

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.edit_log_port}"

    @property
    def alive(self) -> bool:
        return self.node.proc is not None and self.node.proc.poll() is None

    @property
    def serving(self) -> bool:
        return self.alive and not self.paused


class Gate:
    """Lets clients run statements until the checker closes it and every statement in flight ended."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = True
        self._inside = 0

    def enter(self, stop: threading.Event) -> bool:
        with self._cond:
            while not self._open and not stop.is_set():
                self._cond.wait(0.2)
            if stop.is_set():
                return False
            self._inside += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._inside -= 1
            self._cond.notify_all()

    def close(self, timeout: float) -> bool:
        with self._cond:
            self._open = False
            return self._cond.wait_for(lambda: self._inside == 0, timeout)

    def reopen(self) -> None:
        with self._cond:
            self._open = True
            self._cond.notify_all()


@dataclass
class FaultRecord:
    kind: str
    victim: str
    at: float
    seconds: float  # how long the fault lasted (down, paused)
    takeover_seconds: float | None = None  # from the fault to another FE answering as leader


@dataclass
class Summary:
    seed: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    acks: int = 0
    timeline: list[tuple[float, str]] = field(default_factory=list)


def http_status(port: int, path: str, timeout: float = 2.0) -> tuple[int, dict[str, object]] | None:
    """(status, JSON body) of GET `path` on 127.0.0.1:`port`; None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (OSError, ValueError, http.client.HTTPException):  # an FE killed mid-answer cuts the body short
        return None


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


class HaChaosRun:
    def __init__(self, root: Path, seed: int, seconds: float, fe_count: int, cn_count: int) -> None:
        self.root, self.seed, self.seconds = root, seed, seconds
        self.rng = random.Random(seed)
        self.fault_rng = random.Random(seed * 7919 + 1)
        self.cluster = Cluster(root, cn_count=cn_count, fe_conf_extra=FE_CONF)
        self.fes: list[HaFe] = []
        self.fe_count = fe_count
        self.model = Model()
        self.lock = threading.Lock()  # guards the model, the acks, the counters and the id counters
        self.acks: dict[int, Ack] = {}  # batch id -> who acknowledged it, and when
        self.sent: dict[int, float] = {}  # batch id -> when its statement was sent
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.unanswered: dict[str, str] = {}  # FE name -> why its last observation failed
        self.violations: list[str] = []
        self.faults: list[FaultRecord] = []
        self.next_batch = 1
        self.next_table = 0
        self.gate = Gate()
        self.stop = threading.Event()
        self.heartbeat_timeout = float(FE_CONF["bdbje_heartbeat_timeout_second"])
        self.began = time.monotonic()
        self.timeline: list[tuple[float, str]] = []  # (seconds into the run, what happened)

    def note(self, what: str) -> None:
        """A line of the run's timeline (seconds into the run, and the wall-clock time the FE logs use)."""
        now = time.time()
        self.timeline.append((round(time.monotonic() - self.began, 2),
                              f"{time.strftime('%H:%M:%S', time.localtime(now))}.{int(now % 1 * 1000):03d} {what}"))

    # -- the cluster --------------------------------------------------------------------------

    def create_fes(self) -> None:
        for number in range(self.fe_count):
            workdir = self.root / f"fe{number}"
            query, http, edit_log = free_port(), free_port(), free_port()
            conf = write_conf(workdir / "fe.conf", {
                **self.cluster.fe_values, "meta_dir": str(workdir / "meta"), "query_port": str(query),
                "http_port": str(http), "edit_log_port": str(edit_log), "rpc_port": str(free_port())})
            self.fes.append(HaFe(Node(f"fe{number}", [*CAIRN, "fe", "--conf", str(conf)], workdir, query), http,
                                 edit_log))

    def start_fe(self, fe: HaFe, helper: HaFe | None = None) -> None:
        """Start `fe` (with --helper on its first start when it joins); retried as a supervisor would."""
        args = ("--helper", helper.address) if helper is not None and not fe.started else ()
        for _ in range(4):
            try:
                fe.node.start("", args)
                fe.started = True
                return
            except RuntimeError:
                fe.node.kill()
                time.sleep(0.5)
        raise RuntimeError(f"{fe.name} does not start; see {fe.node.workdir / (fe.name + '.log')}")

    def leaders(self) -> list[HaFe]:
        """The serving FEs that answer /api/leader with 200."""
        found = []
        for fe in self.fes:
            if fe.serving:
                answer = http_status(fe.http_port, "/api/leader")
                if answer is not None and answer[0] == 200:
                    found.append(fe)
        return found

    def wait_leader(self, timeout: float = RECOVERY_TIMEOUT, other_than: HaFe | None = None) -> HaFe | None:
        """The one FE that leads, once exactly one serving FE says it does (and it is not `other_than`)."""
        found: list[HaFe] = []

        def one() -> bool:
            found[:] = self.leaders()
            return len(found) == 1 and found[0] is not other_than

        return found[0] if wait_for(one, timeout, 0.1) else None

    def role(self, fe: HaFe) -> str:
        answer = http_status(fe.http_port, "/api/health") if fe.serving else None
        return str(answer[1].get("role", "")) if answer is not None else ""

    def connect(self, fe: HaFe, timeout: float = STATEMENT_TIMEOUT) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=fe.node.port, user="root", autocommit=True,
                               connect_timeout=5, read_timeout=timeout, write_timeout=timeout)

    def admin(self, fe: HaFe, sql: str, attempts: int = 40) -> list[tuple]:
        """A set-up statement that must succeed: retried through elections; RuntimeError if it keeps failing."""
        last = ""
        for _ in range(attempts):
            try:
                connection = self.connect(fe)
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(sql)
                        return list(cursor.fetchall())
                finally:
                    connection.close()
            except pymysql.MySQLError as exc:
                last = str(exc)
                time.sleep(0.25)
        raise RuntimeError(f"'{sql}' kept failing on {fe.name}: {last}")

    def set_up(self) -> None:
        self.cluster.start_storage()
        self.cluster.create_cns()
        self.create_fes()
        first = self.fes[0]
        # Processes start in parallel (each spends seconds importing); a failed start shows in the checks below.
        cns = [threading.Thread(target=node.start) for node in self.cluster.cns]
        for thread in cns:
            thread.start()
        self.start_fe(first)
        self.admin(first, f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        for fe in self.fes[1:]:
            self.admin(first, f'ALTER SYSTEM ADD FOLLOWER "{fe.address}"')
        followers = [threading.Thread(target=self.start_fe, args=(fe, first)) for fe in self.fes[1:]]
        for thread in followers:
            thread.start()
        for thread in cns:
            thread.join()
        for node in self.cluster.cns:
            self.admin(first, f'ALTER SYSTEM ADD COMPUTE NODE "127.0.0.1:{node.port}"')
        for thread in followers:
            thread.join()
        for fe in self.fes:
            if not wait_for(lambda fe=fe: self.role(fe) in ("LEADER", "FOLLOWER")
                            and (http_status(fe.http_port, "/api/health") or (0, {}))[0] == 200, RECOVERY_TIMEOUT):
                raise RuntimeError(f"{fe.name} did not become ready")
        for _ in range(2):
            self.create_table(random.Random(self.seed), first)

    # -- the workload -------------------------------------------------------------------------

    def pick(self, rng: random.Random, followers_only: bool = False) -> HaFe | None:
        serving = [fe for fe in self.fes if fe.serving]
        if followers_only:
            serving = [fe for fe in serving if self.role(fe) == "FOLLOWER"]
        return rng.choice(serving) if serving else None

    def execute(self, fe: HaFe, sql: str, args: object = None) -> tuple[list[tuple] | None, Outcome | None, str]:
        """Run one statement on `fe`: (rows, None, '') when it answered; (None, outcome, message) when
        it failed; (None, None, message) when the client could not even connect (nothing was sent)."""
        try:
            connection = self.connect(fe)
        except pymysql.MySQLError as exc:
            return None, None, str(exc)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall()), None, ""
        except (pymysql.OperationalError, pymysql.InterfaceError, ConnectionError, OSError) as exc:
            lost = _connection_lost(exc)
            with self.lock:
                self.errors[str(exc)[:200]] += 1
            return None, classify_error(str(exc), lost), str(exc)
        except pymysql.MySQLError as exc:
            with self.lock:
                self.errors[str(exc)[:200]] += 1
            return None, classify_error(str(exc), False), str(exc)
        finally:
            try:
                connection.close()
            except pymysql.MySQLError:
                pass

    def new_batch(self, rng: random.Random) -> tuple[str, int, int] | None:
        with self.lock:
            tables = self.model.live_tables()
            if not tables:
                return None
            batch_id = self.next_batch
            self.next_batch += 1
            return rng.choice(tables), batch_id, rng.randint(1, 20)

    def record(self, table: str, batch_id: int, rows: int, how: str, outcome: Outcome, fe: HaFe | None,
               sent: float, message: str = "") -> None:
        with self.lock:
            told = f"{fe.name if fe else '?'} at {time.strftime('%H:%M:%S')}: {message[:200]}" if message else ""
            self.model.batches[batch_id] = Batch(table, rows, outcome, how, told)
            self.sent[batch_id] = sent
            if outcome is Outcome.ACKED and fe is not None:
                self.acks[batch_id] = Ack(batch_id, label(self.seed, how, batch_id), fe.address, sent, time.time())
            self.counts[f"{how} {outcome.value}"] += 1

    def insert(self, rng: random.Random, fe: HaFe) -> None:
        chosen = self.new_batch(rng)
        if chosen is None:
            return
        table, batch_id, rows = chosen
        values = ", ".join(["(%s, %s, %s)"] * rows)
        args = [v for i in range(rows) for v in (batch_id, i, f"r{batch_id}-{i}")]
        sent = time.time()
        answer, failure, message = self.execute(
            fe, f"INSERT INTO {DATABASE}.{table} WITH LABEL {label(self.seed, 'insert', batch_id)} "
                f"(batch, id, v) VALUES {values}", args)
        if answer is None and failure is None:
            with self.lock:
                self.counts["insert not sent (no connection)"] += 1
            return
        self.record(table, batch_id, rows, "insert", failure or Outcome.ACKED, fe, sent, message)

    def stream_load(self, rng: random.Random) -> None:
        follower = self.pick(rng, followers_only=True)
        chosen = self.new_batch(rng)
        if follower is None or chosen is None:
            return
        table, batch_id, rows = chosen
        body = self.root / f"load-{batch_id}.csv"
        body.write_text("".join(f"{batch_id},{i},s{batch_id}-{i}\n" for i in range(rows)))
        sent = time.time()
        done = subprocess.run(
            ["curl", "-sS", "--location-trusted", "-u", "root:", "-H", f"label: {label(self.seed, 'load', batch_id)}",
             "-H", "column_separator: ,", "-T", str(body),
             "--max-time", str(STATEMENT_TIMEOUT), "-w", "\n%{url_effective}",
             f"http://127.0.0.1:{follower.http_port}/api/{DATABASE}/{table}/_stream_load"],
            capture_output=True, text=True, timeout=STATEMENT_TIMEOUT + 10)
        body.unlink()
        output, _, effective = done.stdout.rpartition("\n")
        acknowledging = next((fe for fe in self.fes if effective.startswith(f"http://127.0.0.1:{fe.http_port}/")),
                             None)
        if done.returncode == 7:  # could not connect: nothing was sent
            with self.lock:
                self.counts["stream-load not sent (no connection)"] += 1
            return
        message = ""
        if done.returncode != 0:
            outcome = Outcome.UNKNOWN
            message = done.stderr.strip()
            with self.lock:
                self.errors[f"curl exit {done.returncode}: {done.stderr.strip()[:150]}"] += 1
        else:
            try:
                answer = json.loads(output)
            except ValueError:
                answer = {"Status": "Fail", "Message": f"not JSON: {output[:100]}"}
            if answer.get("Status") == "Success":
                outcome = Outcome.ACKED
                if acknowledging is follower:
                    with self.lock:
                        self.counts["load answered by the follower itself"] += 1
            else:
                message = str(answer.get("Message"))
                outcome = classify_error(message, False)
                with self.lock:
                    self.errors[f"stream load: {str(answer.get('Message'))[:180]}"] += 1
        self.record(table, batch_id, rows, "stream-load", outcome, acknowledging, sent, message)

    def create_table(self, rng: random.Random, fe: HaFe) -> None:
        with self.lock:
            table = f"t{self.next_table}"
            self.next_table += 1
        answer, failure, _ = self.execute(fe, f"CREATE TABLE {DATABASE}.{table} (batch BIGINT, id BIGINT, "
                                              f"v VARCHAR(32)) DISTRIBUTED BY HASH(id) BUCKETS {rng.randint(1, 3)}")
        with self.lock:
            self.model.created[table] = failure or (Outcome.ACKED if answer is not None else Outcome.FAILED)
            self.counts["ddl"] += 1

    def drop_table(self, rng: random.Random, fe: HaFe) -> None:
        with self.lock:
            tables = self.model.live_tables()
            if len(tables) < 4:
                table = ""
            else:
                table = rng.choice(tables)
                self.model.dropped[table] = Outcome.UNKNOWN  # no load picks it any more
        if not table:
            return self.create_table(rng, fe)
        answer, failure, _ = self.execute(fe, f"DROP TABLE {DATABASE}.{table}")
        with self.lock:
            self.model.dropped[table] = failure or (Outcome.ACKED if answer is not None else Outcome.FAILED)
            self.counts["ddl"] += 1

    def query(self, rng: random.Random, fe: HaFe) -> None:
        with self.lock:
            tables = self.model.live_tables()
        if not tables:
            return
        answer, _, _ = self.execute(fe, f"SELECT count(*), sum(id) FROM {DATABASE}.{rng.choice(tables)}")
        role = self.role(fe).lower() or "unknown role"
        with self.lock:
            self.counts[f"query on {role} {'ok' if answer is not None else 'failed'}"] += 1

    def client(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        while self.gate.enter(self.stop):
            try:
                roll = rng.random()
                fe = self.pick(rng)
                if fe is None:
                    time.sleep(0.1)
                elif roll < 0.55:
                    self.insert(rng, fe)
                elif roll < 0.7:
                    self.stream_load(rng)
                elif roll < 0.75:
                    self.create_table(rng, fe)
                elif roll < 0.77:
                    self.drop_table(rng, fe)
                else:
                    self.query(rng, fe)
            except Exception as exc:  # noqa: BLE001 - a client's own bug must end the run visibly
                with self.lock:
                    self.violations.append(f"client {number} failed: {type(exc).__name__}: {exc}")
                self.stop.set()
            finally:
                self.gate.leave()

    # -- faults -------------------------------------------------------------------------------

    def fault_loop(self) -> None:
        started = time.monotonic()
        plan = list(FIRST_ROUND)
        self.fault_rng.shuffle(plan)
        while not self.stop.is_set():
            if not plan:
                if time.monotonic() - started > self.seconds:
                    return
                plan.append(self.fault_rng.choice(["kill", "kill", "stop", "store"]))
            if self.stop.wait(self.fault_rng.uniform(1.0, 4.0)):
                return
            kind = plan.pop(0)
            self.note(f"fault {kind}")
            {"kill": self.kill_leader, "stop": self.pause_leader, "store": self.pause_store}[kind]()
            self.note(f"recovered from {kind}")
            self.verify(f"after {kind} #{sum(1 for f in self.faults if f.kind == kind)}")
            self.note("checked")

    def watch_takeover(self, old: HaFe, began: float, until: Callable[[], bool]) -> float | None:
        """Poll until `until()` holds; return when another FE first answered as leader (seconds after `began`)."""
        takeover = None
        while not until():
            if takeover is None and any(fe is not old for fe in self.leaders()):
                takeover = time.monotonic() - began
            time.sleep(0.1)
        return takeover

    def kill_leader(self) -> None:
        leader = self.wait_leader()
        if leader is None:
            self.violations.append("no FE leads before a kill")
            return
        down = self.fault_rng.uniform(0.5, 6.0)
        began = time.monotonic()
        leader.node.kill()
        # The killed FE starts again after `down` seconds, whether or not another took over by then.
        restart = threading.Timer(down, self.start_fe, args=(leader,))
        restart.start()
        takeover = self.watch_takeover(leader, began, lambda: time.monotonic() - began > RECOVERY_TIMEOUT or (
            not restart.is_alive() and bool(self.leaders())))
        restart.join()
        if takeover is None and self.wait_leader() is not None:
            takeover = time.monotonic() - began  # the killed FE, started again, took the lead back
        self.faults.append(FaultRecord("kill", leader.name, time.time(), down, takeover))
        if not wait_for(lambda: self.role(leader) in ("FOLLOWER", "LEADER"), RECOVERY_TIMEOUT):
            self.violations.append(f"{leader.name}, killed while leading and started again, does not serve "
                                   f"(role '{self.role(leader)}')")

    def pause_leader(self) -> None:
        leader = self.wait_leader()
        if leader is None:
            self.violations.append("no FE leads before a pause")
            return
        assert leader.node.proc is not None
        least = 2 * self.heartbeat_timeout + self.fault_rng.uniform(1.0, 3.0)
        began = time.monotonic()
        leader.paused = True
        os.kill(leader.node.proc.pid, signal.SIGSTOP)
        takeover = self.watch_takeover(leader, began, lambda: time.monotonic() - began >= least and (
            any(fe is not leader for fe in self.leaders()) or time.monotonic() - began > least + RECOVERY_TIMEOUT))
        os.kill(leader.node.proc.pid, signal.SIGCONT)
        leader.paused = False
        self.faults.append(FaultRecord("stop", leader.name, time.time(), time.monotonic() - began, takeover))
        if takeover is None:
            self.violations.append(f"no follower took over while {leader.name} was paused "
                                   f"{time.monotonic() - began:.0f} s")
            return
        # It must learn that it lost, and follow, without a restart.
        if not wait_for(lambda: self.role(leader) == "FOLLOWER", RECOVERY_TIMEOUT):
            answer = http_status(leader.http_port, "/api/health")
            self.violations.append(f"{leader.name}, paused while leading, did not step down and follow: {answer}")

    def pause_store(self) -> None:
        moto = self.cluster.moto
        assert moto is not None
        pause = self.fault_rng.uniform(3.0, 4 * self.heartbeat_timeout + 4.0)  # often past the failover time
        began = time.monotonic()
        os.kill(moto.pid, signal.SIGSTOP)
        self.stop.wait(pause)
        os.kill(moto.pid, signal.SIGCONT)
        self.faults.append(FaultRecord("store", "moto", time.time(), time.monotonic() - began))
        if self.wait_leader() is None:
            self.violations.append(f"no single leader after the store came back: {[f.name for f in self.leaders()]}")

    # -- checks -------------------------------------------------------------------------------

    def observe(self, fe: HaFe) -> Observed | None:
        """What `fe` shows of every table (None when it does not answer: why is kept in `unanswered`)."""
        try:
            connection = self.connect(fe)
        except pymysql.MySQLError as exc:
            self.unanswered[fe.name] = f"cannot connect: {exc}"
            return None
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SHOW TABLES FROM {DATABASE}")
                tables = [t for (t,) in cursor.fetchall()]
                observed: Observed = {}
                for table in tables:
                    cursor.execute(f"SELECT batch, count(*) FROM {DATABASE}.{table} GROUP BY batch")
                    observed[table] = {int(b): int(n) for b, n in cursor.fetchall()}
                return observed
        except pymysql.MySQLError as exc:
            self.unanswered[fe.name] = str(exc)[:300]
            return None
        finally:
            connection.close()

    def verify(self, when: str) -> None:
        """Hold the clients; then every FE must show the same data, which the journal holds and which
        keeps every promise made to the clients; then let the clients go on."""
        if not self.gate.close(STATEMENT_TIMEOUT + 30):
            self.violations.append(f"{when}: statements still in flight after {STATEMENT_TIMEOUT + 30} s")
        try:
            self._verify(when)
        finally:
            self.gate.reopen()

    def _verify(self, when: str) -> None:
        leader = self.wait_leader()
        if leader is None:
            self.violations.append(f"{when}: no single leader ({[f.name for f in self.leaders()]} say they lead)")
            return
        # Outcomes still unknown to the leader settle from the journal: wait until the leader, every
        # follower and the journal agree (they must, with nothing in flight).
        facts: list[JournalFacts] = []
        views: dict[str, Observed | None] = {}

        def agreed() -> bool:
            facts[:] = [read_journal(self.cluster.fe_values, self.fes[0].node.workdir / "meta")]
            committed = facts[0].committed_batches()
            for fe in self.fes:
                views[fe.name] = self.observe(fe) if fe.serving else None
            seen = [v for v in views.values() if v is not None]
            if len(seen) != sum(1 for fe in self.fes if fe.serving) or any(v != seen[0] for v in seen):
                return False
            with self.lock:  # a batch of a dropped table is committed, and gone
                expected = {b for b in committed if b in self.model.batches and self.model.batches[b].table in seen[0]}
            return {b for t in seen[0].values() for b in t} == expected

        if not wait_for(agreed, RECOVERY_TIMEOUT, 0.5):
            summary = {name: _summary(v) if v is not None else f"no answer ({self.unanswered.get(name, 'not serving')})"
                       for name, v in views.items()}
            self.violations.append(f"{when}: FEs and the journal do not agree within {RECOVERY_TIMEOUT:.0f} s: "
                                   f"{summary}; journal batches {len(facts[0].committed_batches()) if facts else '?'}")
        observed = views.get(leader.name)
        if observed is None:
            self.violations.append(f"{when}: the leader {leader.name} does not answer reads")
            return
        with self.lock:
            problems = check(observed, self.model)
            self.violations.extend(f"{when}: {p}" for p in problems)
            self.violations.extend(f"{when}: {p}" for p in check_journal(facts[0], self.model, self.acks))
            self.counts["settled unknown"] += settle(observed, self.model, facts[0].committed_batches())
            self.counts["checks"] += 1

    # -- the run ------------------------------------------------------------------------------

    def main(self) -> int:
        self.set_up()
        self.note("set up")
        clients = [threading.Thread(target=self.client, args=(n,), name=f"client-{n}", daemon=True)
                   for n in range(CLIENTS)]
        for thread in clients:
            thread.start()
        self.fault_loop()
        self.stop.set()
        for thread in clients:
            thread.join(timeout=STATEMENT_TIMEOUT + 30)
        for fe in self.fes:
            if not fe.alive:
                self.start_fe(fe)
        self.verify("at the end")
        return 1 if self.violations else 0

    def shut_down(self) -> None:
        self.stop.set()
        if self.cluster.moto is not None and self.cluster.moto.poll() is None:
            os.kill(self.cluster.moto.pid, signal.SIGCONT)
        for fe in self.fes:
            if fe.alive and fe.node.proc is not None:
                os.kill(fe.node.proc.pid, signal.SIGCONT)
            fe.node.kill()
        self.cluster.stop()


def label(seed: int, how: str, batch_id: int) -> str:
    """The label a batch is loaded with: how the check finds its journal entry."""
    return f"ha_{seed}_{'l' if how in ('load', 'stream-load') else 'i'}{batch_id}"


def _connection_lost(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code in (None, 0, 2003, 2006, 2013, 2014, 2055) or isinstance(exc, (OSError, pymysql.InterfaceError))


def _summary(observed: Observed | None) -> str:
    if observed is None:
        return "no answer"
    return f"{sum(len(b) for b in observed.values())} batches in {len(observed)} tables"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="faults go on until this long has passed (the first round always runs)")
    parser.add_argument("--seed", type=int, default=1, help="fixes the clients' choices and the fault schedule")
    parser.add_argument("--fe", type=int, default=3, help="frontends")
    parser.add_argument("--cn", type=int, default=2, help="compute nodes")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, confs)")
    parser.add_argument("--workdir", type=Path, help="where logs and confs go (default: a new temporary directory)")
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix=f"cairn-ha-chaos-{args.seed}-"))
    root.mkdir(parents=True, exist_ok=True)
    run = HaChaosRun(root, args.seed, args.seconds, args.fe, args.cn)
    started = time.monotonic()
    status = 2
    try:
        status = run.main()
    except Exception as exc:  # noqa: BLE001 - reported in the summary line, with the run's logs kept
        run.violations.append(f"the run could not go on: {type(exc).__name__}: {exc}")
        status = 1
    finally:
        run.shut_down()
        (root / "errors.txt").write_text("".join(f"{n:5d}  {m}\n" for m, n in run.errors.most_common()))
        summary = Summary(args.seed, time.monotonic() - started, dict(run.counts), run.faults, run.violations,
                          len(run.acks), run.timeline)
        (root / "ha_chaos.json").write_text(json.dumps(asdict(summary), indent=1))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
    faults = ", ".join(f"{f.kind} {f.victim} {f.seconds:.1f}s"
                       + (f" takeover {f.takeover_seconds:.1f}s" if f.takeover_seconds is not None else "")
                       for f in run.faults)
    verdict = "OK" if status == 0 else f"FAILED ({len(run.violations)} violations)"
    print(f"ha-chaos seed={args.seed} seconds={args.seconds:g} elapsed={time.monotonic() - started:.0f}s: "
          f"{verdict}; {counts}", flush=True)
    print(f"  faults: {faults}", flush=True)
    report_violations_and_logs(run.violations, status, root, args.keep, args.workdir is not None)
    return status


if __name__ == "__main__":
    sys.exit(main())
