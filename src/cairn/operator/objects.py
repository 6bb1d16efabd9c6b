"""The Kubernetes objects a StarRocksCluster wants: pure functions of the resource, the next status
and what is observed. Every object carries an owner reference to the resource, so deleting the
cluster deletes them (never the data on object storage, which no object here holds)."""

from __future__ import annotations

import base64
from typing import Any

import yaml

from cairn.operator import names
from cairn.operator.observed import Observed
from cairn.operator.ports import CnPorts, FePorts, cn_ports, conf_values, fe_ports
from cairn.operator.recovery import in_recovery, snapshot_source
from cairn.operator.spec import CnSpec, ComponentSpec, FeSpec, StarRocksCluster
from cairn.operator.status import ClusterStatus
from cairn.restore.snapshot_yaml import ClusterSnapshotYaml

API_VERSION = "starrocks.com/v1"
KIND = "StarRocksCluster"
PROBE_PERIOD_SECONDS = 5
DEFAULT_FE_CONF = "run_mode = shared_data\n"
DEFAULT_CN_CONF = "sys_log_level = INFO\n"
# StarRocks' names for the volume of the FE's metadata and of the CN's cache.
META_SUFFIXES = ("-meta",)
CACHE_SUFFIXES = ("-data", "-cache")

Obj = dict[str, Any]


def owner_reference(cr: StarRocksCluster) -> Obj:
    """The reference that makes the resource own (and garbage-collect) an object."""
    return {"apiVersion": API_VERSION, "kind": KIND, "name": cr.metadata.name, "uid": cr.metadata.uid,
            "controller": True, "blockOwnerDeletion": True}


def selector_labels(cr: StarRocksCluster, component: str) -> dict[str, str]:
    """The labels that select a component's pods (StarRocks' keys; stable across DR generations)."""
    return {names.COMPONENT_LABEL: component, names.OWNER_LABEL: names.statefulset(cr.metadata.name, component)}


def _meta(cr: StarRocksCluster, name: str, component: str) -> Obj:
    labels = {**selector_labels(cr, component), names.MANAGED_BY_LABEL: names.MANAGER}
    return {"name": name, "namespace": cr.metadata.namespace, "labels": labels,
            "ownerReferences": [owner_reference(cr)]}


def fe_conf_text(cr: StarRocksCluster, observed: Observed) -> str | None:
    """fe.conf as the user's ConfigMap holds it (None when it is not there yet)."""
    return _conf_text(cr.spec.fe, "fe.conf", observed)


def cn_conf_text(cr: StarRocksCluster, observed: Observed) -> str | None:
    """cn.conf as the user's ConfigMap holds it."""
    return _conf_text(cr.spec.cn, "cn.conf", observed)


def _conf_text(spec: ComponentSpec | None, default_key: str, observed: Observed) -> str | None:
    if spec is None or not spec.config_map_info.config_map_name:
        return None
    data = observed.config_maps.get(spec.config_map_info.config_map_name) or {}
    return data.get(spec.config_map_info.resolve_key or default_key)


def _conf_source(cr: StarRocksCluster, spec: ComponentSpec, component: str, file: str) -> tuple[str, str]:
    """The ConfigMap and key the component's conf file is mounted from (the user's, or a derived default)."""
    if spec.config_map_info.config_map_name:
        return spec.config_map_info.config_map_name, spec.config_map_info.resolve_key or file
    return names.config_map(cr.metadata.name, component), file


def _probe(path: str, port: int, failure_seconds: int | None, default_seconds: int) -> Obj:
    seconds = failure_seconds if failure_seconds and failure_seconds > 0 else default_seconds
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": PROBE_PERIOD_SECONDS,
            "timeoutSeconds": 2, "failureThreshold": max(1, seconds // PROBE_PERIOD_SECONDS)}


def _tcp_probe(port: int, failure_seconds: int | None, default_seconds: int) -> Obj:
    seconds = failure_seconds if failure_seconds and failure_seconds > 0 else default_seconds
    return {"tcpSocket": {"port": port}, "periodSeconds": PROBE_PERIOD_SECONDS, "timeoutSeconds": 2,
            "failureThreshold": max(1, seconds // PROBE_PERIOD_SECONDS)}


def _secret_env(cr: StarRocksCluster, catalog_key: bool) -> list[Obj]:
    """The cluster credential for every pod; the catalog key for FEs only (a compute node never holds it)."""
    env = []
    for var, ref in ((names.CREDENTIAL_ENV, cr.spec.cairn.credential()),
                     (names.CATALOG_KEY_ENV, cr.spec.cairn.catalog_key() if catalog_key else None)):
        if ref is not None:
            env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
    return env


def _user_mounts(spec: ComponentSpec) -> tuple[list[Obj], list[Obj]]:
    """Volumes and mounts for the user's `configMaps` and `secrets` (mountPath, subPath)."""
    volumes: list[Obj] = []
    mounts: list[Obj] = []
    for kind, refs in (("configMap", spec.config_maps), ("secret", spec.secrets)):
        for ref in refs:
            volume = f"{kind.lower()}-{ref.name}"[:63]
            if all(v["name"] != volume for v in volumes):
                source = {"name": ref.name} if kind == "configMap" else {"secretName": ref.name}
                volumes.append({"name": volume, kind: source})
            mount: Obj = {"name": volume, "mountPath": ref.mount_path or f"/etc/{ref.name}"}
            if ref.sub_path:
                mount["subPath"] = ref.sub_path
            mounts.append(mount)
    return volumes, mounts


def _storage(spec: ComponentSpec, default_name: str, default_path: str) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """Claim templates, volumes and mounts for `storageVolumes`; an emptyDir for the component's own
    directory when none is given (an FE with no local disk resumes from object storage)."""
    claims: list[Obj] = []
    mounts: list[Obj] = []
    for volume in spec.storage_volumes:
        claim: Obj = {"metadata": {"name": volume.name},
                      "spec": {"accessModes": ["ReadWriteOnce"],
                               "resources": {"requests": {"storage": volume.storage_size or "10Gi"}}}}
        if volume.storage_class_name:
            claim["spec"]["storageClassName"] = volume.storage_class_name
        claims.append(claim)
        mounts.append({"name": volume.name, "mountPath": volume.mount_path or default_path})
    volumes: list[Obj] = []
    if not any(m["mountPath"] == default_path for m in mounts):
        volumes.append({"name": default_name, "emptyDir": {}})
        mounts.append({"name": default_name, "mountPath": default_path})
    return claims, volumes, mounts


def data_dir(spec: ComponentSpec, default_path: str, suffixes: tuple[str, ...]) -> str:
    """Where a component's own data goes (the FE's meta_dir, the CN's cache): the storage volume
    mounted at StarRocks' path for it, else one named by StarRocks' convention (`fe-meta`, `*-meta`;
    `cn-data`, `*-data`, `*-cache`), else StarRocks' path (an emptyDir is mounted there)."""
    mounted = [volume.mount_path or default_path for volume in spec.storage_volumes]
    if default_path in mounted:
        return default_path
    named = [path for volume, path in zip(spec.storage_volumes, mounted) if volume.name.endswith(suffixes)]
    return named[0] if named else default_path


def _data_dir_args(option: str, key: str, path: str, conf: str | None) -> list[str]:
    """`option path` unless the user's conf file sets `key` itself (the user's choice wins)."""
    return [] if key in conf_values(conf) else [option, path]


def _resources(spec: ComponentSpec) -> Obj:
    resources = dict(spec.resources)
    if spec.limits:
        resources["limits"] = spec.limits
    if spec.requests:
        resources["requests"] = spec.requests
    return resources


def _pod_spec(spec: ComponentSpec, container: Obj, volumes: list[Obj]) -> Obj:
    pod: Obj = {"containers": [container], "volumes": volumes}
    if spec.node_selector:
        pod["nodeSelector"] = spec.node_selector
    if spec.affinity:
        pod["affinity"] = spec.affinity
    if spec.tolerations:
        pod["tolerations"] = spec.tolerations
    return pod


def fe_statefulset(cr: StarRocksCluster, spec: FeSpec, ports: FePorts, status: ClusterStatus, conf: str | None,
                   replicas: int) -> Obj:
    """`<name>-fe`: fe-0 opens (or resumes) the cluster, the others join through it with `--helper`
    and `--join` (added as followers through the leader, no SQL typed by a person); meta_dir on the
    meta volume unless fe.conf (`conf`) sets it. In disaster recovery: one replica, fe-0 in restore
    mode with cluster_snapshot.yaml mounted and the generation label."""
    name = cr.metadata.name
    conf_map, conf_key = _conf_source(cr, spec, names.FE, "fe.conf")
    user_volumes, user_mounts = _user_mounts(spec)
    claims, storage_volumes, storage_mounts = _storage(spec, "fe-meta", names.FE_META_DIR)
    volumes = [{"name": "fe-conf", "configMap": {"name": conf_map}}, *storage_volumes, *user_volumes]
    mounts = [{"name": "fe-conf", "mountPath": f"{names.FE_CONF_DIR}/fe.conf", "subPath": conf_key},
              *storage_mounts, *user_mounts]
    env: list[Obj] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "FE_SERVICE_NAME", "value": names.search_service(name, names.FE)},
        {"name": "COMPONENT_NAME", "value": names.FE},
        *_secret_env(cr, catalog_key=True), *spec.env]
    labels = {**spec.pod_labels, **selector_labels(cr, names.FE)}
    dr = cr.spec.disaster_recovery
    if dr is not None and in_recovery(cr, status.disaster_recovery):
        replicas = 1
        labels[names.DR_GENERATION_LABEL] = str(dr.generation)
        env += [{"name": names.RESTORE_ENV, "value": "true"},
                {"name": names.RESTORE_GENERATION_ENV, "value": str(dr.generation)}]
        source = snapshot_source(cr)
        if source is not None and source.written:
            volumes.append({"name": "cluster-snapshot", "secret": {"secretName": source.name}})
            mounts.append({"name": "cluster-snapshot", "subPath": source.key,
                           "mountPath": f"{names.FE_CONF_DIR}/{names.CLUSTER_SNAPSHOT_FILE}"})
    helper = f"{names.pod_host(name, names.FE, 0)}:{ports.edit_log_port}"
    container: Obj = {
        "name": names.FE, "image": spec.image or "cairn:latest", "command": ["cairn", "fe"],
        "args": ["--conf", f"{names.FE_CONF_DIR}/fe.conf",
                 "--frontend-address", f"$(POD_NAME).{names.search_service(name, names.FE)}",
                 "--helper", helper, "--join",
                 *_data_dir_args("--meta-dir", "meta_dir", data_dir(spec, names.FE_META_DIR, META_SUFFIXES), conf)],
        "env": env,
        "ports": [{"name": "http-port", "containerPort": ports.http_port},
                  {"name": "rpc-port", "containerPort": ports.rpc_port},
                  {"name": "query-port", "containerPort": ports.query_port},
                  {"name": "edit-log-port", "containerPort": ports.edit_log_port}],
        "readinessProbe": _probe("/api/health", ports.http_port, spec.readiness_probe_failure_seconds, 15),
        "volumeMounts": mounts,
    }
    if not in_recovery(cr, status.disaster_recovery):
        # Alive means listening: a follower behind on replay is not ready, but must not be killed.
        container["livenessProbe"] = _tcp_probe(ports.http_port, spec.liveness_probe_failure_seconds, 15)
        container["startupProbe"] = _tcp_probe(ports.http_port, spec.startup_probe_failure_seconds, 1200)
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    template_meta: Obj = {"labels": labels}
    if spec.annotations:
        template_meta["annotations"] = spec.annotations
    sts: Obj = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": _meta(cr, names.statefulset(name, names.FE), names.FE),
        "spec": {"replicas": replicas, "serviceName": names.search_service(name, names.FE),
                 "podManagementPolicy": "OrderedReady",
                 # The operator replaces FE pods itself: followers first, the leader last (fe_pod_to_replace).
                 "updateStrategy": {"type": "OnDelete"},
                 # A scale-in's FEs were dropped from the cluster: their meta would refuse to start again
                 # on a scale-out, so their claims go. A restore's shrink to fe-0 keeps them (the
                 # incarnation fence makes their old meta harmless).
                 "persistentVolumeClaimRetentionPolicy": {
                     "whenScaled": "Retain" if in_recovery(cr, status.disaster_recovery) else "Delete",
                     "whenDeleted": "Retain"},
                 "selector": {"matchLabels": selector_labels(cr, names.FE)},
                 "template": {"metadata": template_meta, "spec": _pod_spec(spec, container, volumes)}},
    }
    if claims:
        sts["spec"]["volumeClaimTemplates"] = claims
    return sts


def cn_statefulset(cr: StarRocksCluster, spec: CnSpec, ports: CnPorts, fe: FePorts, conf: str | None,
                   replicas: int) -> Obj:
    """`<name>-cn`: compute nodes that register themselves through fe-0's peer service when they start,
    their cache (storage_root_path) on the cache volume unless cn.conf (`conf`) sets it."""
    name = cr.metadata.name
    conf_map, conf_key = _conf_source(cr, spec, names.CN, "cn.conf")
    user_volumes, user_mounts = _user_mounts(spec)
    claims, storage_volumes, storage_mounts = _storage(spec, "cn-cache", names.CN_CACHE_DIR)
    volumes = [{"name": "cn-conf", "configMap": {"name": conf_map}}, *storage_volumes, *user_volumes]
    mounts = [{"name": "cn-conf", "mountPath": f"{names.CN_CONF_DIR}/cn.conf", "subPath": conf_key},
              *storage_mounts, *user_mounts]
    env: list[Obj] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "FE_SERVICE_NAME", "value": names.access_service(name, names.FE)},
        {"name": "COMPONENT_NAME", "value": names.CN},
        *_secret_env(cr, catalog_key=False), *spec.env]
    container: Obj = {
        "name": names.CN, "image": spec.image or "cairn:latest", "command": ["cairn", "cn"],
        "args": ["--conf", f"{names.CN_CONF_DIR}/cn.conf",
                 "--host", f"$(POD_NAME).{names.search_service(name, names.CN)}",
                 "--join", f"{names.pod_host(name, names.FE, 0)}:{fe.edit_log_port}",
                 *_data_dir_args("--storage-root-path", "storage_root_path",
                                 data_dir(spec, names.CN_CACHE_DIR, CACHE_SUFFIXES), conf)],
        "env": env,
        "ports": [{"name": "thrift-port", "containerPort": ports.thrift_port},
                  {"name": "webserver-port", "containerPort": ports.webserver_port},
                  {"name": "heartbeat-port", "containerPort": ports.heartbeat_service_port},
                  {"name": "brpc-port", "containerPort": ports.brpc_port}],
        "readinessProbe": _probe("/api/health", ports.webserver_port, spec.readiness_probe_failure_seconds, 15),
        "volumeMounts": mounts,
    }
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    template_meta: Obj = {"labels": {**spec.pod_labels, **selector_labels(cr, names.CN)}}
    if spec.annotations:
        template_meta["annotations"] = spec.annotations
    sts: Obj = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": _meta(cr, names.statefulset(name, names.CN), names.CN),
        "spec": {"replicas": replicas,
                 "serviceName": names.search_service(name, names.CN), "podManagementPolicy": "Parallel",
                 "updateStrategy": {"type": "RollingUpdate"},
                 "selector": {"matchLabels": selector_labels(cr, names.CN)},
                 "template": {"metadata": template_meta, "spec": _pod_spec(spec, container, volumes)}},
    }
    if claims:
        sts["spec"]["volumeClaimTemplates"] = claims
    return sts


def _service(cr: StarRocksCluster, name: str, component: str, ports: list[tuple[str, int]], headless: bool,
             extra: dict[str, Any]) -> Obj:
    spec: Obj = {"selector": selector_labels(cr, component),
                 "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"} for n, p in ports]}
    if headless:
        spec |= {"clusterIP": "None", "publishNotReadyAddresses": True}
    else:
        spec["type"] = extra.get("type") or "ClusterIP"
    meta = _meta(cr, name, component)
    if extra.get("annotations"):
        meta["annotations"] = dict(extra["annotations"])
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def _config_map(cr: StarRocksCluster, name: str, component: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(cr, name, component), "data": data}


def _secret(cr: StarRocksCluster, name: str, component: str, data: dict[str, str]) -> Obj:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": _meta(cr, name, component),
            "data": encoded}


def snapshot_yaml(cr: StarRocksCluster, fe: FePorts, cn: CnPorts) -> str:
    """cluster_snapshot.yaml written from `snapshotPath`: the other FEs and the CNs by their stable
    pod names, so the restored membership needs nothing re-added."""
    dr = cr.spec.disaster_recovery
    assert dr is not None
    name = cr.metadata.name
    fe_count = cr.spec.fe.replicas if cr.spec.fe and cr.spec.fe.replicas is not None else 3
    cn_count = cr.spec.cn.replicas if cr.spec.cn and cr.spec.cn.replicas is not None else (1 if cr.spec.cn else 0)
    document: Obj = {
        "cluster_snapshot": {"cluster_snapshot_path": dr.snapshot_path, "storage_volume_name": dr.storage_volume_name},
        "frontends": [{"host": names.pod_host(name, names.FE, i), "edit_log_port": fe.edit_log_port,
                       "type": "follower"} for i in range(1, fe_count)],
        "compute_nodes": [{"host": names.pod_host(name, names.CN, i), "heartbeat_service_port": cn.heartbeat_service_port}
                          for i in range(cn_count)],
    }
    if dr.storage_volumes:
        document["storage_volumes"] = [v.model_dump(by_alias=True, exclude_none=True) for v in dr.storage_volumes]
    ClusterSnapshotYaml.model_validate(document)  # the FE reads it with this model; fail here, not there
    return yaml.safe_dump(document, sort_keys=False)


def cn_scale_in(cr: StarRocksCluster, observed: Observed) -> list[str]:
    """The compute nodes (host:heartbeat_service_port) a scale-in removes: each is dropped from the
    cluster before the StatefulSet loses its pod, so no query is sent to a node that is going."""
    spec = cr.spec.cn
    current = observed.statefulset_replicas.get(names.statefulset(cr.metadata.name, names.CN))
    if spec is None or spec.replicas is None or current is None or spec.replicas >= current:
        return []
    port = cn_ports(cn_conf_text(cr, observed)).heartbeat_service_port
    return [f"{names.pod_host(cr.metadata.name, names.CN, i)}:{port}" for i in range(spec.replicas, current)]


def fe_scale_in(cr: StarRocksCluster, observed: Observed) -> list[str]:
    """The FEs (host:edit_log_port) a scale-in removes, the highest ordinal first: each is dropped
    from the membership before the StatefulSet loses its pod, so the quorum counts only FEs that stay."""
    spec = cr.spec.fe
    current = observed.statefulset_replicas.get(names.statefulset(cr.metadata.name, names.FE))
    wanted = spec.replicas if spec is not None and spec.replicas is not None else 3
    if spec is None or current is None or wanted >= current:
        return []
    port = fe_ports(fe_conf_text(cr, observed)).edit_log_port
    return [f"{names.pod_host(cr.metadata.name, names.FE, i)}:{port}" for i in reversed(range(wanted, current))]


def _fe_replicas(cr: StarRocksCluster, spec: FeSpec, observed: Observed) -> int:
    """The spec's replicas, or, while a scale-in still has FEs to drop, one past the highest of them
    (a StatefulSet removes its highest ordinals first)."""
    wanted = spec.replicas if spec.replicas is not None else 3
    pending = [a for a in fe_scale_in(cr, observed) if a not in observed.fe_dropped]
    if not pending:
        return wanted
    ordinals = [int(a.split(".", 1)[0].rsplit("-", 1)[1]) for a in pending]
    return max(wanted, max(ordinals) + 1)


def _cn_replicas(cr: StarRocksCluster, spec: CnSpec, observed: Observed) -> int:
    """The spec's replicas, or the current count while a scale-in still has nodes to drop."""
    wanted = spec.replicas if spec.replicas is not None else 1
    pending = [a for a in cn_scale_in(cr, observed) if a not in observed.cn_dropped]
    current = observed.statefulset_replicas.get(names.statefulset(cr.metadata.name, names.CN), wanted)
    return current if pending else wanted


def fe_pod_to_replace(cr: StarRocksCluster, status: ClusterStatus, observed: Observed) -> str | None:
    """The FE pod to delete now so that it comes back from the current template: one at a time,
    once every FE pod is ready, followers first and the leader last. In disaster recovery, a stale
    fe-0 goes at once (it may be the broken FE the recovery is for)."""
    sts = names.statefulset(cr.metadata.name, names.FE)
    revision = observed.statefulset_update_revision.get(sts)
    pods = observed.pods_of(names.FE)
    stale = [p for p in pods if revision and p.revision and p.revision != revision]
    if not stale:
        return None
    if in_recovery(cr, status.disaster_recovery):
        fe0 = names.pod(cr.metadata.name, names.FE, 0)
        return fe0 if any(p.name == fe0 for p in stale) else None
    if not all(p.ready for p in pods) or len(pods) < observed.statefulset_replicas.get(sts, 0):
        return None
    followers = [p for p in stale if not p.leader]
    return (followers[-1] if followers else stale[-1]).name


def fe_quorum(replicas: int) -> int:
    """How many FEs must stay up for the journal's leader election to keep a majority."""
    return replicas // 2 + 1


def desired_objects(cr: StarRocksCluster, status: ClusterStatus, observed: Observed) -> list[Obj]:
    """Every object the resource wants, given its (next) status. CNs are left out while disaster
    recovery runs (left as they are until `done`); nothing is wanted of a resource being deleted."""
    if cr.metadata.deletion_timestamp:
        return []
    name = cr.metadata.name
    objects: list[Obj] = []
    fe_spec, cn_spec = cr.spec.fe, cr.spec.cn
    fe = fe_ports(fe_conf_text(cr, observed))
    cn = cn_ports(cn_conf_text(cr, observed))
    recovering = in_recovery(cr, status.disaster_recovery)
    if fe_spec is not None:
        if not fe_spec.config_map_info.config_map_name:
            objects.append(_config_map(cr, names.config_map(name, names.FE), names.FE, {"fe.conf": DEFAULT_FE_CONF}))
        dr = cr.spec.disaster_recovery
        source = snapshot_source(cr)
        if dr is not None and dr.enabled and source is not None and source.written:
            objects.append(_secret(cr, source.name, names.FE, {source.key: snapshot_yaml(cr, fe, cn)}))
        blocked = recovering and status.disaster_recovery is not None and status.disaster_recovery.blocked
        if not blocked:
            # A blocked recovery leaves the FEs as they are: starting them normally would open a new, empty cluster.
            objects.append(fe_statefulset(cr, fe_spec, fe, status, fe_conf_text(cr, observed),
                                          _fe_replicas(cr, fe_spec, observed)))
        query = [("query-port", fe.query_port), ("http-port", fe.http_port)]
        every = [*query, ("rpc-port", fe.rpc_port), ("edit-log-port", fe.edit_log_port)]
        objects.append(_service(cr, names.search_service(name, names.FE), names.FE, every, True, {}))
        objects.append(_service(cr, names.access_service(name, names.FE), names.FE, query, False, fe_spec.service))
        replicas = fe_spec.replicas if fe_spec.replicas is not None else 3
        objects.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                        "metadata": _meta(cr, names.pdb(name), names.FE),
                        "spec": {"minAvailable": fe_quorum(replicas),
                                 "selector": {"matchLabels": selector_labels(cr, names.FE)}}})
    if cn_spec is not None:
        if not cn_spec.config_map_info.config_map_name:
            objects.append(_config_map(cr, names.config_map(name, names.CN), names.CN, {"cn.conf": DEFAULT_CN_CONF}))
        cn_ports_list = [("webserver-port", cn.webserver_port), ("heartbeat-port", cn.heartbeat_service_port),
                         ("thrift-port", cn.thrift_port), ("brpc-port", cn.brpc_port)]
        objects.append(_service(cr, names.search_service(name, names.CN), names.CN, cn_ports_list, True, {}))
        if not recovering:
            objects.append(cn_statefulset(cr, cn_spec, cn, fe, cn_conf_text(cr, observed),
                                          _cn_replicas(cr, cn_spec, observed)))
    return objects
