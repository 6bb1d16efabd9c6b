"""Property: restoring to the snapshot point, or to any journal id inside the point-in-time window,
gives exactly the catalog and table contents the cluster had at that point."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml
from cairn.server.session import Session


def state_of(session: Session) -> dict[str, object]:
    """Every table's columns and sorted rows."""
    out: dict[str, object] = {}
    for db in sorted(session.catalog.state.databases):
        for table in sorted(session.catalog.state.databases[db].tables):
            columns = session.execute(f"DESC {db}.{table}").rows()
            rows = sorted(session.execute(f"SELECT * FROM {db}.{table}").rows(), key=repr)
            out[f"{db}.{table}"] = (columns, rows)
    return out


def random_statement(rng: random.Random, tables: list[str]) -> str:
    choice = rng.random()
    if choice < 0.15 or not tables:
        name = f"t{rng.randrange(10_000)}"
        tables.append(name)
        return (f"CREATE TABLE r.{name} (k INT, v VARCHAR(10), d DATE) PARTITION BY RANGE(d) "
                "(PARTITION p1 VALUES LESS THAN ('2024-01-01'), PARTITION p2 VALUES LESS THAN ('2025-01-01')) "
                f"DISTRIBUTED BY HASH(k) BUCKETS {rng.randint(1, 3)}")
    table = rng.choice(tables)
    if choice < 0.22:
        tables.remove(table)
        return f"DROP TABLE r.{table}"
    if choice < 0.28:
        return f"TRUNCATE TABLE r.{table} PARTITION (p{rng.randint(1, 2)})"
    rows = ", ".join(f"({rng.randrange(100)}, 'v{rng.randrange(9)}', '{rng.choice(['2023', '2024'])}-0{rng.randint(1, 9)}-01')"
                     for _ in range(rng.randint(1, 5)))
    return f"INSERT INTO r.{table} VALUES {rows}"


@pytest.mark.parametrize("seed", [1, 2])
def test_restore_reaches_exactly_the_recorded_state(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
              "cluster_snapshot_pitr_window_seconds": "3600", "vacuum_grace_period_seconds": "0"}
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute("CREATE DATABASE r")
    tables: list[str] = []
    for _ in range(12):
        session.execute(random_statement(rng, tables))
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT point")
    at_snapshot = state_of(session)
    recorded: dict[int, dict[str, object]] = {}
    for _ in range(12):
        session.execute(random_statement(rng, tables))
        recorded[fe.position.entry_id] = state_of(session)
    session.execute("ADMIN VACUUM")
    cluster = fe.keys.cluster_id
    fe.close()
    targets = [None, *rng.sample(sorted(recorded), 3)]
    for number, target in enumerate(targets):
        restore_to = f"  restore_to:\n    journal_id: {target}\n" if target else ""
        yaml_path = tmp_path / f"cs{number}.yaml"
        yaml_path.write_text(f"cluster_snapshot:\n  cluster_snapshot_path: {tmp_path / 'storage'}/{cluster}/meta/"
                             f"image/point\n{restore_to}")
        config = load_config(None, **dict(values, meta_dir=str(tmp_path / f"meta{number}")))
        spec = read_snapshot_yaml(yaml_path)
        restore(plan_restore(config, spec), config, spec)
        restored = Frontend.open(config)
        assert state_of(Session(restored)) == (recorded[target] if target else at_snapshot), target
        restored.close()


def test_auto_increment_ids_survive_a_restart_and_a_restore(tmp_path: Path) -> None:
    """The AUTO_INCREMENT counter is catalog state: journalled, in images, restored with the snapshot."""
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE r; USE r; CREATE TABLE t (id BIGINT NOT NULL AUTO_INCREMENT, v INT) "
                           "PRIMARY KEY(id); INSERT INTO t (v) VALUES (1), (2);")
    fe.close()
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute_script("USE r; INSERT INTO t (v) VALUES (3); ADMIN CREATE CLUSTER SNAPSHOT point;")
    at_snapshot = session.execute("SELECT id FROM t").rows()
    cluster = fe.keys.cluster_id
    fe.close()
    yaml_path = tmp_path / "cs.yaml"
    yaml_path.write_text(f"cluster_snapshot:\n  cluster_snapshot_path: {tmp_path / 'storage'}/{cluster}/meta/"
                         "image/point\n")
    config = load_config(None, **dict(values, meta_dir=str(tmp_path / "meta2")))
    spec = read_snapshot_yaml(yaml_path)
    restore(plan_restore(config, spec), config, spec)
    restored = Frontend.open(config)
    session = Session(restored)
    session.execute_script("USE r; INSERT INTO t (v) VALUES (4);")
    ids = [row[0] for row in session.execute("SELECT id FROM t ORDER BY v").rows()]
    restored.close()
    assert len(at_snapshot) == 3 and len(set(ids)) == 4 and ids[3] > max(ids[:3])
