"""Names and labels of what the operator makes, StarRocks' where StarRocks has one."""

from __future__ import annotations

# StarRocks operator labels (pkg/apis/starrocks/v1/labels.go).
COMPONENT_LABEL = "app.kubernetes.io/component"
OWNER_LABEL = "app.starrocks.ownerreference/name"
# Cairn: the DR generation a pod was started for. A pod belongs to a generation by this label only.
DR_GENERATION_LABEL = "cairn.io/disaster-recovery-generation"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "cairn-operator"

FE = "fe"
CN = "cn"

# Where StarRocks' images keep their configuration; Cairn's image uses the same paths.
FE_CONF_DIR = "/opt/starrocks/fe/conf"
CN_CONF_DIR = "/opt/starrocks/cn/conf"
FE_META_DIR = "/opt/starrocks/fe/meta"
CN_CACHE_DIR = "/opt/starrocks/cn/storage"
CLUSTER_SNAPSHOT_FILE = "cluster_snapshot.yaml"

# Environment of the FE in restore mode (StarRocks' names).
RESTORE_ENV = "RESTORE_CLUSTER_SNAPSHOT"
RESTORE_GENERATION_ENV = "RESTORE_CLUSTER_GENERATION"
# Where pods read the cluster credential and the catalog key (cairn.config).
CREDENTIAL_ENV = "CAIRN_CLUSTER_CREDENTIAL"
CATALOG_KEY_ENV = "CAIRN_CATALOG_ENCRYPTION_KEY"


def statefulset(cluster: str, component: str) -> str:
    """`<cluster>-fe` / `<cluster>-cn`."""
    return f"{cluster}-{component}"


def search_service(cluster: str, component: str) -> str:
    """The headless service that names each pod: `<cluster>-fe-search` / `<cluster>-cn-search`."""
    return f"{cluster}-{component}-search"


def access_service(cluster: str, component: str) -> str:
    """The service clients use: `<cluster>-fe-service` / `<cluster>-cn-service`."""
    return f"{cluster}-{component}-service"


def config_map(cluster: str, component: str) -> str:
    """The ConfigMap the operator derives for a component's conf file."""
    return f"{cluster}-{component}-cairn-conf"


def snapshot_secret(cluster: str) -> str:
    """The Secret holding the cluster_snapshot.yaml the operator writes from `snapshotPath` (a Secret,
    not a ConfigMap: its storage volumes may carry access keys)."""
    return f"{cluster}-cluster-snapshot"


def pdb(cluster: str) -> str:
    """The PodDisruptionBudget that keeps a quorum of FEs."""
    return f"{cluster}-fe-pdb"


def pod(cluster: str, component: str, ordinal: int) -> str:
    """`<cluster>-fe-<ordinal>`."""
    return f"{statefulset(cluster, component)}-{ordinal}"


def pod_host(cluster: str, component: str, ordinal: int) -> str:
    """A pod's stable name: `<cluster>-fe-0.<cluster>-fe-search`."""
    return f"{pod(cluster, component, ordinal)}.{search_service(cluster, component)}"
