"""FE start-up: newest checkpoint image + the log after it, resuming from an empty meta_dir, choosing a cluster."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from cairn.api import load_config
from cairn.errors import ClusterChoiceError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.storage.keys import ClusterKeys


def _databases(fe: Frontend) -> set[str]:
    return {row[0] for row in Session(fe).execute("SHOW DATABASES").rows()}


def test_start_up_replays_only_the_tail_after_the_newest_image(fe_conf_values: dict[str, str],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    interval = 10
    config = load_config(None, checkpoint_interval_entries=str(interval), **fe_conf_values)
    first = Frontend.open(config)
    for i in range(47):
        Session(first).execute(f"CREATE DATABASE d{i}")
    last = first.position.entry_id
    newest_image = max(p.entry_id for info in first.meta_store.list(first.keys.image_prefix)
                       if (p := ClusterKeys.parse_image(info.key)) is not None)
    first.close()

    with caplog.at_level(logging.INFO, logger="cairn.fe"):
        second = Frontend.open(config)
    replayed = int(re.search(r"at journal id \d+ \((\d+) entries replayed\)", caplog.text).group(1))
    assert replayed == last - newest_image
    assert replayed < interval
    assert {f"d{i}" for i in range(47)} <= _databases(second)
    Session(second).execute("CREATE DATABASE after_restart")
    assert "after_restart" in _databases(second)
    second.close()


def test_empty_meta_dir_resumes_the_only_cluster(fe_conf_values: dict[str, str], tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    first = Frontend.open(load_config(None, **fe_conf_values))
    Session(first).execute("CREATE DATABASE kept")
    first.close()

    fresh = dict(fe_conf_values, meta_dir=str(tmp_path / "empty-meta"))
    with caplog.at_level(logging.INFO):
        second = Frontend.open(load_config(None, **fresh))
    assert second.keys.cluster_id == first.keys.cluster_id
    assert not second.created_cluster
    assert "kept" in _databases(second)
    assert f"resuming cluster {first.keys.cluster_id}" in caplog.text
    second.close()


def test_several_clusters_need_cluster_id(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    a = Frontend.open(load_config(None, **fe_conf_values))
    Session(a).execute("CREATE DATABASE only_in_a")
    b = Frontend.open(load_config(None, **dict(fe_conf_values, meta_dir=str(tmp_path / "other"),
                                                cluster_id="second-cluster")))
    a.close()
    b.close()

    fresh = dict(fe_conf_values, meta_dir=str(tmp_path / "third"))
    with pytest.raises(ClusterChoiceError) as caught:
        Frontend.open(load_config(None, **fresh))
    message = str(caught.value)
    assert a.keys.cluster_id in message and "second-cluster" in message and "cluster_id" in message

    chosen = Frontend.open(load_config(None, **dict(fresh, cluster_id=a.keys.cluster_id)))
    assert chosen.keys.cluster_id == a.keys.cluster_id and "only_in_a" in _databases(chosen)
    chosen.close()
    # Its meta_dir now remembers the choice: no cluster_id needed on the next start.
    again = Frontend.open(load_config(None, **fresh))
    assert again.keys.cluster_id == a.keys.cluster_id
    again.close()
