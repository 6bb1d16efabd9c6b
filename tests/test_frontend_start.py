"""FE start-up on both backends: a new cluster, and the same cluster again after a restart."""

from cairn.config.fe_config import FeConfig
from cairn.fe.frontend import Frontend


def test_new_cluster_then_restart_resumes_it(fe_config: FeConfig) -> None:
    first = Frontend.open(fe_config)
    assert first.created_cluster
    assert "builtin_storage_volume" in first.catalog.state.storage_volumes
    first.close()
    second = Frontend.open(fe_config)
    assert not second.created_cluster
    assert second.keys.cluster_id == first.keys.cluster_id
    assert second.catalog.state.epoch == first.catalog.state.epoch + 1
    second.close()
