"""Chaos run: `python -m bench.chaos --seconds 300 --seed N`.

Starts moto's S3 server, a `cairn fe` and `cairn cn` processes on 127.0.0.1, and runs a mixed
workload against them (INSERT, INSERT ... SELECT, Stream Load, CREATE/DROP TABLE, manual and
automated cluster snapshots, compaction, vacuum, point-in-time restores) while a second thread
`kill -9`s processes at random moments and every process runs with injected store faults
(CAIRN_STORE_FAULTS). Then it checks that every acknowledged commit is present, that every
FINISHED snapshot deep-verifies and is complete, that vacuum deleted nothing needed, and that a
restore to a random recorded point gives exactly the state recorded then.

The seed fixes the workload, the fault plans and the kill schedule. Prints one summary line; exits 1
on any violation.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pymysql

from cairn.api import load_config
from cairn.snapshot.listing import list_snapshots
from cairn.snapshot.location import parse_location
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import open_store

from bench.chaos_cluster import ACCESS_KEY, CAIRN, REGION, SECRET_KEY, Cluster, Node, report_violations_and_logs
from bench.chaos_model import Batch, Model, Observed, Outcome, check, classify_error, settle

DATABASE = "chaos"
NOT_LEADER = "no longer the leader"
FE_CONF = {
    "automated_cluster_snapshot_interval_seconds": "4", "automated_cluster_snapshot_retention_count": "2",
    "cluster_snapshot_pitr_window_seconds": "86400", "lake_compaction_score_selector_min_score": "3",
    "lake_compaction_interval_seconds": "2", "vacuum_grace_period_seconds": "30", "vacuum_interval_seconds": "7",
    "checkpoint_interval_entries": "50", "heartbeat_interval_second": "1", "heartbeat_timeout_second": "3",
    "heartbeat_retry_times": "1",
}


def fault_plan(seed: int) -> str:
    """The store faults every FE and CN runs with during the workload (CAIRN_STORE_FAULTS)."""
    return (f"seed={seed},error=0.004,timeout=0.002,lost_ack=0.005,partial_list=0.01,permanent=0.001,"
            "latency=0:0.01,timeout_seconds=0.5")


@dataclass
class Point:
    """A recorded point: the snapshot taken there, the time just after it, and what was there."""

    snapshot: str
    incarnation: int
    time_text: str
    observed: Observed
    model: Model


class ChaosRun:
    def __init__(self, root: Path, seed: int, seconds: float, cn_count: int, faults: bool):
        self.rng = random.Random(seed)
        self.kill_rng = random.Random(seed * 7919 + 1)
        self.seed, self.seconds, self.faults = seed, seconds, faults
        self.cluster = Cluster(root, cn_count=cn_count, fe_conf_extra=FE_CONF)
        self.model = Model()
        self.points: list[Point] = []
        self.incarnation = 1
        self.violations: list[str] = []
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # every error message clients saw, for the run's log
        self.next_batch = 1
        self.next_table = 0
        self.quiet = threading.RLock()  # held while checking or restoring: no kill then
        self.stop_killing = threading.Event()
        self.conn: pymysql.connections.Connection | None = None
        self.checking = False  # the final checks run with every fault off
        self.stepped_down_start, self.refusals = -1, 0

    # -- processes -------------------------------------------------------------------------

    @property
    def plan(self) -> str:
        return fault_plan(self.seed) if self.faults and not self.checking else ""

    def start_node(self, node: Node, faults: str, extra_args: tuple[str, ...] = ()) -> None:
        """Start a node; a start that fails (a fault during start-up) is retried, as a supervisor would."""
        for attempt in range(6):
            try:
                node.start(faults if attempt < 3 else "", extra_args)
                return
            except RuntimeError:
                node.kill()
        self.violations.append(f"{node.name} could not be started again")
        raise RuntimeError(f"{node.name} does not start; see {node.workdir / (node.name + '.log')}")

    def kill_loop(self) -> None:
        """Until told to stop: wait a seeded random time, then SIGKILL the FE or a CN and restart it."""
        while not self.stop_killing.wait(self.kill_rng.uniform(2.0, 9.0)):
            nodes = [self.cluster.fe, *self.cluster.cns]
            victim = nodes[0] if self.kill_rng.random() < 0.4 else self.kill_rng.choice(nodes[1:] or nodes)
            with self.quiet:
                if self.stop_killing.is_set():
                    return
                assert victim is not None
                victim.kill()
                self.counts[f"kill {victim.name[:2]}"] += 1
                self.start_node(victim, self.plan)

    # -- statements ------------------------------------------------------------------------

    def connection(self) -> pymysql.connections.Connection:
        if self.conn is None:
            self.conn = self.cluster.connect(timeout=120)
        return self.conn

    def run(self, sql: str, args: object = None) -> tuple[list[tuple], Outcome | None, str]:
        """Run one statement: (rows, None, '') when acknowledged, else ([], outcome, message)."""
        rows, failure, message = self._run(sql, args)
        self.note_leadership(message)
        return rows, failure, message

    def note_leadership(self, message: str) -> None:
        """The cluster has one FE, so no rival can depose it: an FE that says it is no longer the
        leader has stepped down on its own (a violation), and is restarted after a few refusals, as an
        operator would, so that the run goes on."""
        fe = self.cluster.fe
        if NOT_LEADER not in message or fe is None:
            return
        if fe.starts != self.stepped_down_start:  # once per FE process
            self.stepped_down_start, self.refusals = fe.starts, 0
            self.violations.append(f"the only FE stepped down by itself: {message[:200]}")
        self.refusals += 1
        self.counts["refused: not leader"] += 1
        if self.refusals >= 5 and not self.checking:
            with self.quiet:
                fe.kill()
                self.conn = None
                self.start_node(fe, self.plan)

    def _run(self, sql: str, args: object = None) -> tuple[list[tuple], Outcome | None, str]:
        try:
            with self.connection().cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall()), None, ""
        except (pymysql.OperationalError, pymysql.InterfaceError, pymysql.InternalError, ConnectionError,
                OSError) as exc:
            lost = not isinstance(exc, pymysql.InternalError) and _connection_lost(exc)
            self.errors[str(exc)[:200]] += 1
            if lost:
                self.conn = None
            return [], classify_error(str(exc), lost), str(exc)
        except pymysql.MySQLError as exc:
            self.errors[str(exc)[:200]] += 1
            return [], classify_error(str(exc), False), str(exc)

    def read(self, sql: str) -> list[tuple]:
        """A statement that must succeed: retried through faults and restarts; RuntimeError if it
        keeps failing (the run cannot go on without it)."""
        rows = self.must(sql)
        if rows is None:
            raise RuntimeError(f"'{sql}' kept failing")
        return rows

    def must(self, sql: str) -> list[tuple] | None:
        """A statement that must succeed: retried; a violation (and None) if it keeps failing."""
        message = ""
        for _ in range(40):
            rows, failure, message = self.run(sql)
            if failure is None:
                return rows
            time.sleep(0.25)
        self.violations.append(f"'{sql}' kept failing: {message}")
        return None

    def observe(self) -> Observed:
        tables = [t for (t,) in self.read(f"SHOW TABLES FROM {DATABASE}")]
        return {t: dict(self.read(f"SELECT batch, count(*) FROM {DATABASE}.{t} GROUP BY batch")) for t in tables}

    # -- the workload ----------------------------------------------------------------------

    def insert(self, how: str) -> None:
        tables = self.model.live_tables()
        if not tables:
            return self.create_table()
        table, batch_id, rows = self.rng.choice(tables), self.next_batch, self.rng.randint(1, 40)
        self.next_batch += 1
        if how == "insert":
            values = ", ".join(["(%s, %s, %s)"] * rows)
            args = [v for i in range(rows) for v in (batch_id, i, f"r{batch_id}-{i}")]
            _, failure, _ = self.run(f"INSERT INTO {DATABASE}.{table} (batch, id, v) VALUES {values}", args)
        elif how == "insert-select":
            _, failure, _ = self.run(f"INSERT INTO {DATABASE}.{table} SELECT %s, generate_series, 'gen' "
                                     "FROM TABLE(generate_series(1, %s))", (batch_id, rows))
        else:
            failure = self.stream_load(table, batch_id, rows)
        self.model.batches[batch_id] = Batch(table, rows, failure or Outcome.ACKED, how)
        self.counts[f"{how} {(failure or Outcome.ACKED).value}"] += 1

    def stream_load(self, table: str, batch_id: int, rows: int) -> Outcome | None:
        body = "".join(f"{batch_id},{i},s{batch_id}-{i}\n" for i in range(rows)).encode()
        auth = base64.b64encode(b"root:").decode()
        connection = http.client.HTTPConnection("127.0.0.1", self.cluster.fe_http_port, timeout=120)
        try:
            connection.request("PUT", f"/api/{DATABASE}/{table}/_stream_load", body=body, headers={
                "Authorization": f"Basic {auth}", "label": f"chaos_{self.seed}_{batch_id}",
                "column_separator": ",", "Content-Length": str(len(body))})
            answer = json.loads(connection.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError):
            return Outcome.UNKNOWN
        finally:
            connection.close()
        if answer.get("Status") == "Success":
            self.note_leadership("")
            return None
        self.note_leadership(str(answer.get("Message")))
        return classify_error(str(answer.get("Message")), False)

    def create_table(self) -> None:
        table = f"t{self.next_table}"
        self.next_table += 1
        _, failure, _ = self.run(f"CREATE TABLE {DATABASE}.{table} (batch BIGINT, id BIGINT, v VARCHAR(32)) "
                                 f"DISTRIBUTED BY HASH(id) BUCKETS {self.rng.randint(1, 3)}")
        self.model.created[table] = failure or Outcome.ACKED
        self.counts["ddl"] += 1

    def drop_table(self) -> None:
        tables = self.model.live_tables()
        if len(tables) < 3:
            return self.create_table()
        table = self.rng.choice(tables)
        _, failure, _ = self.run(f"DROP TABLE {DATABASE}.{table}")
        self.model.dropped[table] = failure or Outcome.ACKED
        self.counts["ddl"] += 1

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.45:
            self.insert("insert")
        elif roll < 0.6:
            self.insert("insert-select")
        elif roll < 0.75:
            self.insert("stream-load")
        elif roll < 0.82:
            self.create_table()
        elif roll < 0.85:
            self.drop_table()
        elif roll < 0.91:
            retention = self.rng.choice(["10s", "1h"])
            self.run(f"ADMIN CREATE CLUSTER SNAPSHOT load_{self.next_batch} PROPERTIES ('retention' = '{retention}')")
            self.counts["manual snapshot"] += 1
        elif roll < 0.96:
            self.run("ADMIN VACUUM")
            self.counts["vacuum"] += 1
        else:
            self.run(f"SELECT count(*), sum(id) FROM {DATABASE}.{self.rng.choice(self.model.live_tables() or ['t0'])}")
            self.counts["query"] += 1

    # -- checkpoints and restores ----------------------------------------------------------

    def verify_against_model(self) -> Observed:
        observed = self.observe()
        self.violations.extend(check(observed, self.model))
        self.counts["settled unknown"] += settle(observed, self.model)
        return observed

    def checkpoint(self) -> None:
        """With no kill in flight: check what is there, take a snapshot, record the point after it."""
        observed = self.verify_against_model()
        for attempt in range(8):
            name = f"cp_{len(self.points)}_{attempt}"
            self.run(f"ADMIN CREATE CLUSTER SNAPSHOT {name}")
            finished = self.read(f"SELECT count(*) FROM information_schema.cluster_snapshots "
                                 f"WHERE SNAPSHOT_NAME = '{name}'")
            if finished[0][0] == 1:
                break
        else:
            return
        limit = int(time.time()) + 1  # entries up to this second are in the point; later ones are not
        while time.time() <= limit + 0.05:
            time.sleep(0.05)
        self.points.append(Point(name, self.incarnation, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(limit)),
                                 observed, self.model.copy()))
        self.counts["points"] += 1

    def restore(self, base: Point, target: Point) -> None:
        """Restore in place to `target`'s time from `base`'s snapshot; the result must equal `target`."""
        fe = self.cluster.fe
        assert fe is not None
        fe.kill()
        self.conn = None
        path = f"s3://{self.cluster.bucket}/data/{self.cluster.cluster_id()}/meta/image/{base.snapshot}"
        (fe.workdir / "cluster_snapshot.yaml").write_text(json.dumps({
            "cluster_snapshot": {"cluster_snapshot_path": path, "storage_volume_name": "builtin_storage_volume",
                                 "restore_to": {"time": target.time_text}},
            "storage_volumes": [{"name": "builtin_storage_volume", "type": "S3",
                                 "location": f"s3://{self.cluster.bucket}/data", "properties": [
                                     {"key": "aws.s3.region", "value": REGION},
                                     {"key": "aws.s3.endpoint", "value": self.cluster.endpoint},
                                     {"key": "aws.s3.access_key", "value": ACCESS_KEY},
                                     {"key": "aws.s3.secret_key", "value": SECRET_KEY}]}]}))
        self.start_node(fe, "", ("--cluster_snapshot",))  # the restore itself runs without faults
        fe.kill()  # later starts must not restore again
        self.start_node(fe, self.plan)
        self.incarnation += 1
        self.counts["restores"] += 1
        observed = self.observe()
        if observed != target.observed:
            self.violations.append(f"restore to {target.time_text} from {base.snapshot} gave {_summary(observed)}, "
                                   f"recorded then: {_summary(target.observed)}")
        self.model = target.model.copy()

    def maybe_restore(self) -> None:
        candidates = [p for p in self.points if p.incarnation == self.incarnation]
        # The first chance always restores, so that even a short run goes through one.
        if len(candidates) < 2 or (self.counts["restores"] and self.rng.random() > 0.35):
            return
        base = self.rng.choice(candidates[:-1])
        target = self.rng.choice([p for p in candidates if self.points.index(p) > self.points.index(base)])
        self.restore(base, target)

    # -- the run ---------------------------------------------------------------------------

    def main(self) -> int:
        cluster = self.cluster
        cluster.start_storage()
        cluster.create_nodes()
        assert cluster.fe is not None
        self.start_node(cluster.fe, self.plan)
        for node in cluster.cns:
            self.start_node(node, self.plan)
        self.read(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        for node in cluster.cns:
            self.read(f'ALTER SYSTEM ADD COMPUTE NODE "127.0.0.1:{node.port}"')
        self.read("ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON STORAGE VOLUME builtin_storage_volume")
        for _ in range(2):
            self.create_table()
        killer = threading.Thread(target=self.kill_loop, name="killer", daemon=True)
        killer.start()
        deadline = time.monotonic() + self.seconds
        # A slow machine reaches fewer checkpoints in the same time: the run goes on (within a bound)
        # until it has gone through a restore, so that a short run still tests one.
        overtime = deadline + max(120.0, 2 * self.seconds)
        steps_to_checkpoint = self.rng.randint(6, 16)
        while time.monotonic() < deadline or (not self.counts["restores"] and time.monotonic() < overtime):
            if steps_to_checkpoint == 0:
                with self.quiet:
                    self.checkpoint()
                    self.maybe_restore()
                steps_to_checkpoint = self.rng.randint(6, 16)
            else:
                self.step()
                steps_to_checkpoint -= 1
        self.stop_killing.set()
        with self.quiet:
            killer.join(timeout=1)
            self.final_checks()
        return 1 if self.violations else 0

    def final_checks(self) -> None:
        """Faults off, every process restarted: promises, snapshots, vacuum, and one last restore."""
        self.checking = True
        for node in [self.cluster.fe, *self.cluster.cns]:
            assert node is not None
            node.kill()
            self.start_node(node, "")
        self.conn = None
        self.verify_against_model()
        self.verify_snapshots("before vacuum")
        self.must("ADMIN VACUUM")
        self.verify_against_model()
        self.verify_snapshots("after vacuum")
        self.record_outputs()
        candidates = [p for p in self.points if p.incarnation == self.incarnation]
        finished = {name for (name,) in self.read("SELECT SNAPSHOT_NAME FROM information_schema.cluster_snapshots")}
        bases = [p for p in candidates if p.snapshot in finished]
        if bases:
            base = self.rng.choice(bases)
            self.restore(base, self.rng.choice(candidates[candidates.index(base):]))
            self.verify_snapshots("after the last restore")

    def record_outputs(self) -> None:
        """Keep what the cluster shows to the outside (metrics, health, SHOW and DESC output, the
        snapshot CLI) in the working directory, where the tests' secrets scan reads it."""
        outputs = self.cluster.root / "outputs"
        outputs.mkdir(exist_ok=True)
        for path in ("/metrics", "/api/health"):
            try:
                url = f"http://127.0.0.1:{self.cluster.fe_http_port}{path}"
                with urllib.request.urlopen(url, timeout=30) as answer:
                    (outputs / path.strip("/").replace("/", "_")).write_bytes(answer.read())
            except OSError as exc:
                self.violations.append(f"GET {path} failed: {exc}")
        shown = [self.run(sql) for sql in ("SHOW STORAGE VOLUMES", "DESC STORAGE VOLUME builtin_storage_volume",
                                           "SELECT * FROM information_schema.cluster_snapshots")]
        (outputs / "show.txt").write_text("".join(f"{rows}\n{message}\n" for rows, _, message in shown))
        meta = f"s3://{self.cluster.bucket}/data/{self.cluster.cluster_id()}/meta"
        assert self.cluster.fe is not None
        for command in (["snapshot", "list", meta], ["snapshot", "verify", meta, "--deep"]):
            result = subprocess.run([*CAIRN, *command, "--conf", str(self.cluster.fe.workdir / "fe.conf")],
                                    capture_output=True, text=True, timeout=300)
            (outputs / f"cli-{command[1]}.txt").write_text(result.stdout + result.stderr)
            if result.returncode != 0:
                self.violations.append(f"cairn {' '.join(command[:2])} failed: {result.stderr[-300:]}")

    def verify_snapshots(self, when: str) -> None:
        rows = self.read("SELECT SNAPSHOT_NAME FROM information_schema.cluster_snapshots")
        for (name,) in rows:
            answer, failure, message = self.run(f"ADMIN VERIFY CLUSTER SNAPSHOT {name} DEEP")
            if failure is not None and "does not exist" in message and not self.read(
                    f"SELECT 1 FROM information_schema.cluster_snapshots WHERE SNAPSHOT_NAME = '{name}'"):
                continue  # retired (retention) since it was listed
            if failure is not None or answer[0][2] != "OK":
                self.violations.append(f"FINISHED snapshot {name} fails deep verification {when}: "
                                       f"{answer[0] if answer else message}")
            self.counts["snapshots verified"] += 1
        meta = f"s3://{self.cluster.bucket}/data/{self.cluster.cluster_id()}/meta"
        config = load_config(None, **self.cluster.fe_values)
        location = parse_location(meta, config)
        store = open_store(location.volume)
        complete = {e.name for e in list_snapshots(store, ClusterKeys(self.cluster.cluster_id())) if e.complete}
        still_listed = set(self.read("SELECT SNAPSHOT_NAME FROM information_schema.cluster_snapshots"))
        for (name,) in rows:
            if name not in complete and (name,) in still_listed:  # else: retired while this ran
                self.violations.append(f"snapshot {name} is listed as FINISHED but is incomplete {when}")


def _connection_lost(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code in (None, 0, 2003, 2006, 2013, 2014, 2055) or isinstance(exc, (OSError, pymysql.InterfaceError))


def _summary(observed: Observed) -> str:
    return ", ".join(f"{t}: {len(b)} batches/{sum(b.values())} rows" for t, b in sorted(observed.items())) or "empty"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the workload runs")
    parser.add_argument("--seed", type=int, default=1, help="fixes the workload, the faults and the kills")
    parser.add_argument("--cn", type=int, default=2, help="compute nodes")
    parser.add_argument("--no-faults", action="store_true", help="kill processes but inject no store faults")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, confs)")
    parser.add_argument("--workdir", type=Path, help="where logs and confs go (default: a new temporary directory)")
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix=f"cairn-chaos-{args.seed}-"))
    root.mkdir(parents=True, exist_ok=True)
    run = ChaosRun(root, args.seed, args.seconds, args.cn, faults=not args.no_faults)
    started = time.monotonic()
    status = 2
    try:
        status = run.main()
    except Exception as exc:  # noqa: BLE001 - reported in the summary line, with the run's logs kept
        run.violations.append(f"the run could not go on: {type(exc).__name__}: {exc}")
        status = 1
    finally:
        run.stop_killing.set()
        run.cluster.stop()
        (root / "errors.txt").write_text("".join(f"{n:5d}  {m}\n" for m, n in run.errors.most_common()))
    counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
    verdict = "OK" if status == 0 else f"FAILED ({len(run.violations)} violations)"
    print(f"chaos seed={args.seed} seconds={args.seconds:g} elapsed={time.monotonic() - started:.0f}s "
          f"faults={'on' if run.faults else 'off'}: {verdict}; {counts}", flush=True)
    report_violations_and_logs(run.violations, status, root, args.keep, args.workdir is not None)
    return status


if __name__ == "__main__":
    sys.exit(main())
